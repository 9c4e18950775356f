"""The browser control surface (server/web.py, server/web_page/): its WebSocket speaks the OSC
address space as JSON through the same OscServer.feed as a UDP packet, every client's change
reaches every page, the allow-list and same-origin rules hold; and a real headless chromium
drags the XY pad and plays a key.

Set MORPHSYNTH_SCREENSHOT=docs/web-surface.png to write the page's screenshot for the README.
"""

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from types import SimpleNamespace

import aiohttp
import pytest
from pythonosc.udp_client import SimpleUDPClient

from morphsynth.core.errors import MorphsynthError
from morphsynth.server.app import SynthServer
from morphsynth.server.server_config import OscSettings, ServeConfig, WebSettings
from morphsynth.server.web import PAGE_DIR, PAGE_FILES, HeldNotes, WebSurface, json_to_packet
from serve_support import env_without_jack, free_port, null_serve_config, wait_for
from test_audio_support import neural_renderer


@pytest.fixture(scope="module")
def served(tiny_parts, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web")
    cfg = null_serve_config(tmp)
    cfg.web.port = 0
    server = SynthServer(cfg, neural_renderer(*tiny_parts)).start()
    yield server
    server.stop()


def ws_url(server) -> str:
    return f"ws://127.0.0.1:{server.web.port}/ws"


async def until(ws, address, match=lambda args: True, timeout=15.0):
    """Read JSON messages until one for ``address`` whose args satisfy ``match``; returns
    ``(args, every message read)``."""
    seen = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        msg = await asyncio.wait_for(ws.receive_json(), max(0.01, deadline - loop.time()))
        seen.append(msg)
        if msg["address"] == address and match(msg["args"]):
            return msg["args"], seen


async def send(ws, address, *args):
    await ws.send_str(json.dumps({"address": address, "args": list(args)}))


async def connected(session, server):
    """A page's socket, past the state it is sent on connecting (which ends with /gain)."""
    ws = await session.ws_connect(ws_url(server))
    await until(ws, "/gain")
    return ws


# ---------------------------------------------------------------------- the socket

def test_a_page_gets_the_whole_state_on_connecting_and_its_xy_moves_the_servers(served):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(ws_url(served))
            _, seen = await until(ws, "/gain")
            first = {m["address"]: m["args"] for m in seen}
            assert first["/done"] == ["/notify"]
            assert first["/morph/sources"] == list(served.controls.sources)
            assert len(first["/adsr"]) == 4 and "/morph/xy" in first
            await send(ws, "/morph/xy", 0.25, 0.75)
            await until(ws, "/morph/xy", lambda a: a == [0.25, 0.75])
            await ws.close()

    asyncio.run(scenario())
    assert (served.controls.x, served.controls.y) == (0.25, 0.75)


BAD = [
    ("not json", "", "not JSON"),
    ("[1, 2]", "", "JSON object"),
    ('{"address": 5}', "", "address"),
    ('{"address": "/morph/xy", "args": [true, 0.5]}', "/morph/xy", "not a number"),
    ('{"address": "/morph/xy", "args": [0.5, {"y": 1}]}', "/morph/xy", "not a number"),
    ('{"address": "/morph/xy", "args": 0.5}', "/morph/xy", "list"),
    ('{"address": "/morph/xy", "args": [0.5, 0.5], "extra": 1}', "/morph/xy", "extra"),
    ('{"address": "/morph/xy", "args": [2, 0.5]}', "/morph/xy", "outside 0..1"),
    ('{"address": "/morph/xy", "args": [1e999, 0.5]}', "/morph/xy", "not finite"),
    ('{"address": "/note/on", "args": [60.5, 100]}', "/note/on", "60.5"),
    ('{"address": "/note/on", "args": [123456789012345678901234567890, 100]}', "/note/on", "malformed"),
    ('{"address": "/morph/sources", "args": ["no_such_source"]}', "/morph/sources", "no_such_source"),
    ('{"address": "/no/such/address"}', "/no/such/address", "unknown address"),
]


def test_each_bad_message_from_a_page_gets_one_fail_and_the_socket_goes_on(served):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            ws = await connected(session, served)
            for i, (text, address, why) in enumerate(BAD):
                await ws.send_str(text)
                await send(ws, "/sync", i)
                _, seen = await until(ws, "/synced", lambda a, i=i: a == [i])
                fails = [m["args"] for m in seen if m["address"] == "/fail"]
                assert len(fails) == 1 and fails[0][0] == address and why in fails[0][1], (text, seen)
            await ws.send_bytes(b"\x00\x01")
            args, _ = await until(ws, "/fail")
            assert "send text" in args[1]
            await send(ws, "/morph/xy", 0.5, 0.5)
            await until(ws, "/morph/xy", lambda a: a == [0.5, 0.5])
            assert not ws.closed
            await ws.close()

    asyncio.run(scenario())


def test_an_osc_clients_change_and_another_pages_change_reach_the_page_at_once(served):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            page = await connected(session, served)
            other = await connected(session, served)
            osc = SimpleUDPClient("127.0.0.1", served.osc.udp_port)
            osc.send_message("/gain", -3.5)
            osc.send_message("/knob", [2, 1.5])
            await until(page, "/gain", lambda a: a == [-3.5])
            await until(page, "/knob", lambda a: a == [2, 1.5])
            await send(other, "/adsr", 0.01, 0.2, 0.5, 0.4)
            args, _ = await until(page, "/adsr")
            assert args == pytest.approx([0.01, 0.2, 0.5, 0.4], abs=1e-6)
            await page.close()
            await other.close()

    asyncio.run(scenario())
    assert served.controls.gain_db == -3.5 and served.controls.knobs[2] == 1.5


def test_replies_come_back_to_the_page_that_asked(served):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            ws = await connected(session, served)
            await send(ws, "/library/list")
            names, _ = await until(ws, "/library/list.reply")
            await send(ws, "/status")
            status, _ = await until(ws, "/status.reply")
            await ws.close()
            return names, status

    names, status = asyncio.run(scenario())
    assert names == list(served.renderer.library.names)
    assert status[1] == served.engine.polyphony and status[8] == "null"


def test_notes_a_page_holds_are_released_when_its_socket_closes(served):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            ws = await connected(session, served)
            await send(ws, "/note/on", 62, 100)
            await send(ws, "/sync", 1)
            await until(ws, "/synced")
            assert wait_for(lambda: served.engine.active_voices() == 1, 15.0)
            await ws.close()

    asyncio.run(scenario())
    assert wait_for(lambda: served.engine.active_voices() == 0, 15.0)


def test_held_notes_follow_note_on_off_velocity_zero_and_panic():
    held = HeldNotes()
    for address, args in [("/note/on", [60.0, 100]), ("/note/on", [62, 90, 7]), ("/note/on", [64, 90]),
                          ("/note/on", [64, 0]), ("/note/on", [65, 90]), ("/note/off", [65]),
                          ("/note/on", ["x", 90])]:
        held.track(address, args)
    assert held.release_all() == [(60,), (62, 7)]
    assert held.release_all() == []
    held.track("/note/on", [60, 100])
    held.track("/panic", [])
    assert held.release_all() == []


def test_json_becomes_the_osc_message_a_udp_client_sends():
    from morphsynth.server.osc_packets import build_message

    assert json_to_packet('{"address": "/note/on", "args": [60, 100]}') == build_message("/note/on", 60, 100)
    assert json_to_packet('{"address": "/morph/xy", "args": [0.5, 1.0]}') == build_message("/morph/xy", 0.5, 1.0)
    assert json_to_packet('{"address": "/status"}') == build_message("/status")
    with pytest.raises(MorphsynthError, match="longer than"):
        json_to_packet(json.dumps({"address": "/morph/sources", "args": ["x" * 70000]}))


# ---------------------------------------------------------------------- who may connect

def test_the_page_and_its_assets_are_served_and_load_nothing_from_elsewhere(served):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            out = {}
            for path in PAGE_FILES:
                async with session.get(f"http://127.0.0.1:{served.web.port}{path}") as r:
                    out[path] = (r.status, r.content_type, await r.text())
            return out

    pages = asyncio.run(scenario())
    assert {p: v[:2] for p, v in pages.items()} == {
        "/": (200, "text/html"), "/app.js": (200, "text/javascript"), "/style.css": (200, "text/css")}
    for _, _, text in pages.values():
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I)   # no CDN, no web font
        assert "@import" not in text
    assert pages["/"][2] == (PAGE_DIR / "index.html").read_text()


def test_off_loopback_only_listed_hosts_may_open_the_page(served):
    surface = WebSurface(served.osc, host="0.0.0.0", port=0, allow=["127.0.0.2"]).start()

    async def status_from(local):
        connector = aiohttp.TCPConnector(local_addr=(local, 0))
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.get(f"http://127.0.0.1:{surface.port}/") as r:
                return r.status

    try:
        assert asyncio.run(status_from("127.0.0.2")) == 200
        assert asyncio.run(status_from("127.0.0.1")) == 403
        assert surface.refused == 1
    finally:
        surface.stop()
    with pytest.raises(MorphsynthError, match="allow-remote"):
        WebSurface(served.osc, host="0.0.0.0", port=0, allow=())


def test_another_sites_page_and_a_rebound_host_name_are_refused(served):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(ws_url(served), headers={"Origin": "http://evil.example"})
            async with session.get(f"http://127.0.0.1:{served.web.port}/",
                                   headers={"Host": f"evil.example:{served.web.port}"}) as r:
                rebound = r.status
            own = await session.ws_connect(ws_url(served), headers={"Origin": f"http://127.0.0.1:{served.web.port}"})
            await own.close()
            return refused.value.status, rebound

    assert asyncio.run(scenario()) == (403, 403)


def test_a_taken_web_port_fails_naming_it(served):
    with pytest.raises(MorphsynthError, match=f"web port 127.0.0.1:{served.web.port}.*--web-port"):
        WebSurface(served.osc, port=served.web.port).start()


# ---------------------------------------------------------------------- settings and command line

def test_the_web_port_is_the_osc_port_plus_one_unless_given():
    assert WebSettings().bind(OscSettings(), 57130) == ("127.0.0.1", 57131)
    assert WebSettings().bind(OscSettings(port=0), 40000) == ("127.0.0.1", 0)
    assert WebSettings(port=8130).bind(OscSettings(), 57130) == ("127.0.0.1", 8130)
    assert WebSettings(host="127.0.0.2").bind(OscSettings(host="0.0.0.0"), 9000) == ("127.0.0.2", 9001)


def test_serve_options_set_the_web_port_or_turn_the_page_off():
    from morphsynth.cmd_serve import apply_args

    def args(**kw):
        return SimpleNamespace(**{"web_port": None, "no_web": False, **kw})

    assert apply_args(ServeConfig(), args(web_port=8130)).web.port == 8130
    assert apply_args(ServeConfig(), args(no_web=True)).web.enabled is False
    with pytest.raises(MorphsynthError, match="web.port"):
        apply_args(ServeConfig(), args(web_port=70000))
    cfg = ServeConfig()
    cfg.web.host = "0.0.0.0"
    with pytest.raises(MorphsynthError, match="web.host.*--allow-remote"):
        apply_args(cfg, args())


def test_a_server_with_the_page_turned_off_opens_no_web_port(tiny_parts, tmp_path):
    cfg = ServeConfig()
    cfg.midi.port, cfg.audio.device, cfg.osc.port, cfg.osc.tcp_port = "none", "null", 0, 0
    cfg.web.enabled = False
    cfg.paths.output_dir = str(tmp_path / "out")
    server = SynthServer(cfg, neural_renderer(*tiny_parts)).start()
    try:
        assert server.web is None and "control page" not in server.describe()
    finally:
        server.stop()


# ---------------------------------------------------------------------- a real browser

def chromium_driver(width: int, height: int, phone: bool = False):
    """Headless Debian chromium through its chromedriver, its page ``width`` x ``height`` CSS
    pixels (``phone``: a touch screen of that size; a window is never narrower than 500);
    skips where either is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if browser is None or driver_path is None:
        pytest.skip("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    if phone:
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": {
            "width": width, "height": height, "pixelRatio": 2.0, "touch": True}})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    if not phone:
        # The window's size includes what headless chromium keeps for its own frame.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    return driver


def page_ready(driver, server):
    """True once the page is connected and its corner menus show the server's sources."""
    from selenium.webdriver.support.ui import Select

    if driver.find_element("id", "link").text != "connected":
        return False
    shown = [Select(driver.find_element("id", f"corner{i}")).first_selected_option.get_attribute("value")
             for i in range(4)]
    return shown == list(server.controls.sources[:4])


@pytest.mark.slow
def test_chromium_drags_the_xy_pad_picks_corners_saves_and_loads_presets_plays_a_key_and_follows_osc(served):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import Select

    driver = chromium_driver(1200, 900)
    try:
        driver.get(f"http://127.0.0.1:{served.web.port}/")
        assert wait_for(lambda: page_ready(driver, served), 20.0), driver.page_source[:2000]
        served.controls.set_xy(0.5, 0.5)

        # Drag from the pad's centre to x 0.8, y 0.3 (y grows upwards), in steps as a finger moves.
        pad = driver.find_element("id", "pad")
        w, h = pad.size["width"], pad.size["height"]
        chain = ActionChains(driver).move_to_element(pad).click_and_hold()
        for _ in range(6):
            chain.move_by_offset(round(0.3 * w / 6), round(0.2 * h / 6))
        chain.release().perform()
        assert wait_for(lambda: abs(served.controls.x - 0.8) < 0.03 and abs(served.controls.y - 0.3) < 0.03, 10.0), \
            (served.controls.x, served.controls.y)

        # A corner menu chooses that corner's source.
        names = list(served.renderer.library.names)
        new = next(n for n in names if n not in served.controls.sources)
        Select(driver.find_element("id", "corner1")).select_by_value(new)
        assert wait_for(lambda: served.controls.sources[1] == new, 10.0)

        # The preset row saves the state by name and lists it.
        driver.find_element("id", "preset-name").send_keys("corner_mix")
        driver.find_element("id", "preset-save").click()
        assert wait_for(lambda: "corner_mix" in served.controls.preset_names(), 10.0)
        presets = Select(driver.find_element("id", "preset-list"))
        assert wait_for(lambda: [o.get_attribute("value") for o in presets.options] == ["corner_mix"], 10.0)

        # A key held on the page plays a voice; the live status line shows it.
        key = driver.find_element("css selector", '.key[data-pitch="60"]')
        ActionChains(driver).click_and_hold(key).perform()
        assert wait_for(lambda: served.engine.active_voices() == 1, 15.0)
        assert wait_for(lambda: "voices 1/" in driver.find_element("id", "stats").text, 10.0)
        assert "down" in key.get_attribute("class")

        # A change from an OSC client moves the page's controls.
        osc = SimpleUDPClient("127.0.0.1", served.osc.udp_port)
        osc.send_message("/morph/xy", [0.875, 0.125])     # exact in OSC's float32
        osc.send_message("/gain", 3.0)
        assert wait_for(lambda: driver.find_element("id", "pad").get_attribute("data-x") == "0.875", 10.0)
        assert wait_for(lambda: driver.find_element("id", "gain-v").text == "3.0 dB", 10.0)

        # Loading the preset from the page puts the pad back where it was saved.
        presets.select_by_value("corner_mix")
        driver.find_element("id", "preset-load").click()
        assert wait_for(lambda: abs(served.controls.x - 0.8) < 0.03, 10.0)
        assert wait_for(lambda: abs(float(driver.find_element("id", "pad").get_attribute("data-x")) - 0.8) < 0.03, 10.0)

        screenshot = os.environ.get("MORPHSYNTH_SCREENSHOT")
        if screenshot:
            driver.save_screenshot(screenshot)

        ActionChains(driver).release().perform()
        assert wait_for(lambda: served.engine.active_voices() == 0, 15.0)
        assert "down" not in key.get_attribute("class")
    finally:
        driver.quit()


@pytest.mark.slow
def test_on_a_phone_sized_screen_the_page_fits_its_width_and_a_touch_plays(served):
    driver = chromium_driver(390, 844, phone=True)
    try:
        driver.get(f"http://127.0.0.1:{served.web.port}/")
        assert wait_for(lambda: page_ready(driver, served), 20.0)
        assert driver.execute_script("return [window.innerWidth, document.documentElement.scrollWidth]") == [390, 390]
        keys = driver.find_elements("css selector", ".key")
        assert len(keys) == 13
        # A touch pointer (CDP touch events), not a mouse: the page must answer both.
        rect = driver.execute_script(
            "const k = document.querySelector('.key[data-pitch=\"50\"]'); k.scrollIntoView({block: 'center'});"
            "const r = k.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height * 0.8];")
        point = [{"x": rect[0], "y": rect[1]}]
        driver.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": point})
        assert wait_for(lambda: served.engine.active_voices() == 1, 15.0)
        driver.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        assert wait_for(lambda: served.engine.active_voices() == 0, 15.0)
    finally:
        driver.quit()



@pytest.mark.slow
def test_serve_prints_the_page_url_and_stops_cleanly_with_a_page_connected(tiny_parts, tmp_path):
    model_dir, library = tiny_parts
    port = free_port(socket.SOCK_STREAM)
    proc = subprocess.Popen(
        [sys.executable, "-m", "morphsynth", "serve", "--audio", "null", "--midi", "none", "--port", "0",
         "--tcp-port", "0", "--web-port", str(port), "--model", str(model_dir), "--library", str(library)],
        stderr=subprocess.PIPE, text=True, env=env_without_jack(), cwd=tmp_path)

    async def page():
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/") as r:
                assert r.status == 200
            ws = await session.ws_connect(f"ws://127.0.0.1:{port}/ws")
            await until(ws, "/gain")
            proc.send_signal(signal.SIGTERM)
            closed = await ws.receive(timeout=30)
            return closed.type

    try:
        first = proc.stderr.readline()
        assert f"control page http://127.0.0.1:{port}/" in first, first + proc.stderr.read()
        assert asyncio.run(page()) in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        rest = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    assert proc.returncode == 0 and rest.strip() == "", rest
