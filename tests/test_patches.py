"""The client patches in patches/: checked against the server's address table, their
graphs read as intended, Pure Data and SuperCollider run headless against a real server
(in this process, on a free UDP port, audio on the null clock, recorded), and the messages
the Max patches send (Max's message order modelled by patch_graph.MaxFlow) played to it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import patch_graph as g
from serve_support import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
PATCHES = ROOT / "patches"
SCRIPTS = Path(__file__).resolve().parent / "scripts"
PD_FILES = sorted((PATCHES / "pd").glob("*.pd"))
MAX_FILES = sorted((PATCHES / "max").glob("*.maxpat"))
SC_FILES = sorted((PATCHES / "supercollider").rglob("*.sc")) + sorted((PATCHES / "supercollider").rglob("*.scd"))
OSC_FILES = sorted((PATCHES / "open-stage-control").glob("*.json"))


# ---------------------------------------------------------------- every address against the table


def found(files: list[Path], pattern: str) -> list[Path]:
    """``files``, asserted not empty: a loop over no patches would pass vacuously."""
    assert files, f"no patches found at {pattern}"
    return files


def patch_files() -> list[list[Path]]:
    """The Pd, Max, SuperCollider and Open Stage Control files, each kind found."""
    return [found(PD_FILES, "patches/pd/*.pd"), found(MAX_FILES, "patches/max/*.maxpat"),
            found(SC_FILES, "patches/supercollider/**/*.sc[d]"),
            found(OSC_FILES, "patches/open-stage-control/*.json")]


def all_uses(pd, max_, sc, osc) -> list[g.Use]:
    """What the readers ``pd``, ``max_``, ``sc`` and ``osc`` find in every patch of their kind."""
    return [u for files, reader in zip(patch_files(), (pd, max_, sc, osc)) for f in files for u in reader(f)]


def all_sends() -> list[g.Use]:
    return all_uses(g.pd_sends, g.max_sends, g.scd_sends, g.osc_session_sends)


def all_listens() -> list[g.Use]:
    return all_uses(g.pd_listens, g.max_listens, g.scd_listens, g.osc_session_listens)


def test_every_patch_sends_only_table_addresses_with_accepted_argument_counts():
    uses = all_sends()
    problems = [p for p in map(g.check_send, uses) if p]
    assert not problems, "\n".join(problems)
    # Each kind of patch is actually read (an empty parse would pass vacuously).
    for files in (PD_FILES, MAX_FILES, SC_FILES, OSC_FILES):
        assert files and any(u.file in {str(f) for f in files} for u in uses)


def test_every_reply_the_patches_wait_for_is_one_the_server_sends():
    uses = all_listens()
    problems = [p for p in map(g.check_listen, uses) if p]
    assert not problems, "\n".join(problems)
    heard = {u.address for u in uses}
    assert {"/done", "/fail", "/status.reply"} <= heard


def test_patches_cover_the_core_addresses_in_every_environment():
    core = {"/note/on", "/morph/xy", "/adsr", "/knob", "/gain", "/status"}
    pd, _, sc, osc = patch_files()
    for files, reader in ((pd, g.pd_sends), (sc, g.scd_sends), (osc, g.osc_session_sends)):
        sent = {u.address for f in files for u in reader(f)}
        assert core <= sent, f"{files[0].parent.name}: missing {sorted(core - sent)}"
    sent = {u.address for u in g.max_sends(PATCHES / "max" / "morphsynth.maxpat")}
    assert core <= sent and "/reply/port" in sent


def test_checker_rejects_a_renamed_address_a_wrong_argument_count_and_an_out_of_range_value():
    # The same reader on a patch with three mistakes: the check is able to fail.
    problems = {}
    for u in g.pd_sends(SCRIPTS / "three_send_mistakes.pd"):
        problems[u.address] = problems.get(u.address) or g.check_send(u)
    assert "not in the server's address table" in problems["/note/start"]
    assert "sends 3 argument(s), the table takes 2 to 2" in problems["/morph/xy"]
    assert "200 100: pitch: 200" in problems["/note/on"] and "outside 21..108" in problems["/note/on"]
    scd = SCRIPTS / "send_and_listen_mistakes.scd"
    assert "the table takes 2 to 3" in g.check_send(g.scd_sends(scd)[0])
    assert len(g.scd_sends(scd)) == 1
    assert "never sends" in g.check_listen(g.scd_listens(scd)[0])


def test_generated_patches_match_their_generator():
    result = subprocess.run([sys.executable, str(PATCHES / "tools" / "build_patches.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- Max: format and wiring


def _path(patch: g.MaxPatch, *steps) -> bool:
    """True if boxes matching ``steps`` (maxclass or text prefix) are connected in this order."""
    def match(box_id, step):
        box = patch.boxes[box_id]
        return box["maxclass"] == step or box.get("text", "").split(" ")[0] == step \
            or box.get("text", "") == step

    frontier = [b for b in patch.boxes if match(b, steps[0])]
    for step in steps[1:]:
        frontier = [d for b in frontier for d, _ in patch.targets(b, None) if match(d, step)]
        if not frontier:
            return False
    return True


@pytest.mark.parametrize("name", ["morphsynth.maxpat", "morphsynth-m4l.maxpat"])
def test_maxpat_is_a_max_patcher_whose_lines_attach_to_existing_inlets_and_outlets(name):
    data = json.loads((PATCHES / "max" / name).read_text())
    patcher = data["patcher"]
    assert patcher["fileversion"] == 1 and patcher["appversion"]["major"] >= 8
    patch = g.read_maxpat(PATCHES / "max" / name)  # raises on a dangling or out-of-range line
    assert len(patch.lines) > 20
    for box in patch.boxes.values():
        assert len(box["patching_rect"]) == 4
        if box["maxclass"] == "live.dial":
            assert box["parameter_enable"] == 1 and box["id"] in patcher["parameters"]


def test_max_patch_wires_keys_pad_and_dials_to_udpsend_and_replies_to_displays():
    patch = g.read_maxpat(PATCHES / "max" / "morphsynth.maxpat")
    assert _path(patch, "kslider", "pack", "prepend /note/on", "udpsend")
    assert _path(patch, "pictslider", "/", "pack", "prepend /morph/xy", "udpsend")
    assert _path(patch, "live.dial", "t", "pack", "prepend /adsr", "udpsend")
    assert _path(patch, "live.dial", "message", "prepend /knob", "udpsend")
    assert _path(patch, "loadbang", "message", "udpsend")
    assert _path(patch, "udpreceive", "route", "prepend", "message")
    assert _path(patch, "umenu", "t", "pack", "prepend /morph/sources", "udpsend")
    # The reply port [udpreceive] listens on is the one registered with /reply/port.
    port = patch.text(patch.by_text("udpreceive")[0]).split()[1]
    assert any(b.get("text") == f"/reply/port {port}" for b in patch.boxes.values())
    pad = patch.boxes[patch.by_class("pictslider")[0]]
    assert (pad["leftvalue"], pad["rightvalue"], pad["bottomvalue"], pad["topvalue"]) == (0, 1000, 0, 1000)
    # The pictslider's x reaches the left (hot) inlet of the pack, y the right one.
    for outlet, inlet in ((0, 0), (1, 1)):
        (div, _), = patch.targets(patch.by_class("pictslider")[0], outlet)
        assert (patch.by_text("pack 0. 0.")[0], inlet) in patch.targets(div, 0)


def test_max_for_live_device_sends_track_notes_and_eight_named_dials():
    patch = g.read_maxpat(PATCHES / "max" / "morphsynth-m4l.maxpat")
    assert _path(patch, "midiin", "midiparse", "prepend /note/on", "udpsend")
    assert _path(patch, "midiin", "midiout")  # the MIDI effect passes notes on down the chain
    assert _path(patch, "live.thisdevice", "message", "udpsend")
    dials = [patch.boxes[b] for b in patch.by_class("live.dial")]
    names = [d["saved_attribute_attributes"]["valueof"]["parameter_longname"] for d in dials]
    assert len(names) == 8 == len(set(names)) and {"Morph X", "Morph Y", "Gain"} <= set(names)
    assert all(d.get("presentation") == 1 for d in dials)
    for text in ("prepend /morph/xy", "prepend /knob", "prepend /adsr", "prepend /gain"):
        assert _path(patch, "live.dial", text, "udpsend") or _path(patch, "live.dial", "pack", text) \
            or _path(patch, "live.dial", "t", "pack", text) or _path(patch, "live.dial", "message", text)


def test_open_stage_control_session_is_a_session_with_an_xy_pad_on_morph_xy():
    widgets = g.read_osc_session(OSC_FILES[0])
    ids = [w["id"] for w in widgets]
    assert len(ids) == len(set(ids))
    pad = next(w for w in widgets if w["type"] == "xy")
    assert pad["address"] == "/morph/xy" and pad["rangeX"] == {"min": 0, "max": 1}


def test_pd_patches_load_in_pure_data_without_errors():
    if shutil.which("pd") is None:
        pytest.skip("Pure Data is not installed (bash scripts/setup.sh installs puredata-core)")
    for f in found(PD_FILES, "patches/pd/*.pd"):
        proc = subprocess.run(["pd", "-nogui", "-noaudio", "-nomidi", "-stderr", "-path", str(f.parent),
                               "-open", str(f), "-send", "pd quit"], capture_output=True, text=True,
                              timeout=30)
        bad = [ln for ln in proc.stderr.splitlines()
               if "error" in ln.lower() or "couldn't create" in ln or "connection failed" in ln]
        assert not bad, f"{f.name}: {bad}"


# ---------------------------------------------------------------- against the running server


@pytest.fixture(scope="module")
def parts(tiny_dataset, tmp_path_factory):
    from test_audio_support import neural_parts

    return neural_parts(tmp_path_factory.mktemp("patches_model"), tiny_dataset)


@pytest.fixture
def served(parts, tmp_path):
    """`morphsynth serve --audio null --midi none` in this process, recording what it plays."""
    from morphsynth.server.app import SynthServer
    from serve_support import null_serve_config
    from test_audio_support import neural_renderer

    cfg = null_serve_config(tmp_path)
    cfg.audio.record = str(tmp_path / "played.wav")
    cfg.osc.port = free_port()
    (tmp_path / "out").mkdir()
    server = SynthServer(cfg, neural_renderer(*parts)).start()
    server.out_dir = tmp_path / "out"
    server.recording = tmp_path / "played.wav"
    yield server
    server.stop()


def rms(path: Path) -> float:
    audio, _ = sf.read(str(path), dtype="float32")
    return float(np.sqrt(np.mean(np.square(audio)))) if audio.size else 0.0


def pd_driver(port: int, names: list[str], path: Path) -> None:
    """A patch that plays morphsynth.pd through its receive names, step by step on replies."""
    sys.path.insert(0, str(PATCHES / "tools"))
    from patch_writers import PdCanvas

    c = PdCanvas()
    c.obj(10, 10, "morphsynth")  # the patch under test, as an abstraction
    lb = c.obj(10, 40, "loadbang")
    wait = c.obj(10, 70, "delay 300")
    # Three slots by name, the fourth by its index in the library's list.
    srcs = " ".join(f"; ms-src{i + 1} symbol {n}" for i, n in enumerate(names[:3])) + "; ms-pick4 3"
    start = c.msg(10, 100, f"; morphsynth-port {port}; ms-notify 1; ms-library-list bang")
    c.chain(lb, wait, start)
    # 1. the library's names arrived: morph, envelope, then hold a note until a voice sounds.
    lib = c.obj(10, 140, "r morphsynth-library")
    play = c.msg(10, 170, f"{srcs}; ms-sources-send bang; ms-xy 0.3 0.7; ms-adsr 0.01 0.1 0.8 0.2; "
                          "ms-gain -6; ms-knob0 0.5; ms-pitch 60; ms-velocity 100; ms-on bang; ms-status bang")
    settle = c.obj(60, 150, "delay 50")  # the patch's own library receivers store the names first
    c.chain(lib, c.obj(10, 150, "t b"), settle, play)
    status = c.obj(10, 210, "r morphsynth-status")
    first = c.obj(10, 240, "list split 1")
    silent = c.obj(10, 270, "sel 0")
    again = c.obj(10, 300, "delay 250")
    ask = c.msg(10, 330, "; ms-status bang")
    c.chain(status, first, silent, again, ask)
    # 2. a voice sounds: release it and render a note to a file.
    render = c.msg(200, 300, "; ms-off bang; ms-render-path symbol pd.wav; ms-render-pitch 64; "
                             "ms-render-duration 1; ms-render bang")
    c.connect(silent, 1, render)
    # 3. /done /render: ask for an unknown source (a /fail), then play a new key the way the
    # MIDI keyboard does; /note/ready (we asked for notifications) says it arrived and rendered.
    done = c.obj(200, 140, "r morphsynth-done")
    which = c.obj(200, 170, "route /render")
    bad = c.msg(200, 200, "; ms-src1 symbol no-such-source; ms-sources-send bang")
    c.chain(done, which, bad)
    fail = c.obj(400, 140, "r morphsynth-fail")
    midi = c.msg(400, 170, "; ms-midinote 62 90")
    c.chain(fail, midi)
    ready = c.obj(600, 140, "r morphsynth-ready")
    key = c.obj(600, 170, "route 62")  # the first note's /note/ready 60 100 comes earlier
    sync = c.msg(600, 200, "; ms-midinote 62 0; ms-sync bang")
    c.chain(ready, key, sync)
    synced = c.obj(400, 210, "r morphsynth-synced")
    later = c.obj(400, 240, "delay 200")
    quit_ = c.msg(400, 270, "; pd quit")
    c.chain(synced, later, quit_)
    # Safety net: never outlive a broken server.
    guard = c.obj(600, 40, "delay 60000")
    c.connect(lb, 0, guard)
    c.connect(guard, 0, quit_)
    path.write_text(c.text())


@pytest.mark.slow
def test_pd_patch_plays_morphs_renders_and_shows_the_servers_replies(served, tmp_path):
    if shutil.which("pd") is None:
        pytest.skip("Pure Data is not installed (bash scripts/setup.sh installs puredata-core)")
    names = list(served.renderer.library.names)
    driver = tmp_path / "drive.pd"
    pd_driver(served.osc.udp_port, names, driver)
    proc = subprocess.run(["pd", "-nogui", "-noaudio", "-nomidi", "-stderr", "-path", str(PATCHES / "pd"),
                           "-open", str(driver)], capture_output=True, text=True, timeout=90)
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("morphsynth: ")]
    text = "\n".join(lines)
    assert f"morphsynth: library list.reply {' '.join(names)}" in lines, text
    status = [ln.split()[2:] for ln in lines if ln.startswith("morphsynth: status.reply")]
    assert status and int(float(status[-1][0])) >= 1, text  # a voice sounded
    assert "morphsynth: done /render pd.wav" in lines, text
    assert any(ln.startswith("morphsynth: fail /morph/sources") and "no-such-source" in ln for ln in lines), text
    assert "morphsynth: note ready 62 90" in lines, text
    assert "morphsynth: synced 0" in lines, text
    # The server took the patch's morph and envelope (Pd sends float32).
    assert served.controls.x == pytest.approx(0.3, abs=1e-6) and served.controls.y == pytest.approx(0.7, abs=1e-6)
    assert list(served.controls.sources) == names[:4]
    adsr = served.controls.adsr
    assert (adsr.attack, adsr.decay, adsr.sustain, adsr.release) == pytest.approx((0.01, 0.1, 0.8, 0.2), abs=1e-6)
    assert served.controls.gain_db == -6 and served.controls.knobs[0] == pytest.approx(0.5)
    assert rms(served.out_dir / "pd.wav") > 1e-4
    assert wait_voices(served, 0)  # the MIDI-style note-off released the last note
    served.stop()
    assert rms(served.recording) > 1e-5  # the held note was played


def wait_voices(served, n: int, timeout: float = 20.0) -> bool:
    return wait_for(lambda: served.engine.active_voices() == n, timeout)


def sclang_env(port: int, out_dir: Path) -> dict:
    return {**os.environ, "MORPHSYNTH_PORT": str(port), "MORPHSYNTH_OUTPUT_DIR": str(out_dir),
            "MORPHSYNTH_EXIT": "1", "QT_QPA_PLATFORM": "offscreen", "QTWEBENGINE_DISABLE_SANDBOX": "1"}


@pytest.mark.slow
def test_supercollider_demo_plays_morphs_and_loads_the_render_into_a_buffer(served, tmp_path):
    if shutil.which("sclang") is None:
        pytest.skip("sclang is not installed (apt-get install --no-install-recommends supercollider-language)")
    from audio_graph import JackServer

    with_scsynth = shutil.which("scsynth") is not None and JackServer.available()
    env = sclang_env(served.osc.udp_port, served.out_dir)
    # scsynth gets a JACK dummy server of its own, away from other tests' audio clients.
    jack = JackServer().start() if with_scsynth else None
    try:
        if jack is not None:
            env.update(jack.env())
            env["MORPHSYNTH_SCSYNTH_PORT"] = str(free_port())
        conf = tmp_path / "sclang_conf.yaml"
        conf.write_text(f"includePaths:\n    - {PATCHES / 'supercollider' / 'MorphSynth'}\nexcludePaths:\n    []\n")
        proc = subprocess.run(["sclang", "-l", str(conf), "-D", str(PATCHES / "supercollider" / "morphsynth-demo.scd")],
                              capture_output=True, text=True, timeout=90, env=env, stdin=subprocess.DEVNULL)
    finally:
        if jack is not None:
            jack.stop()
    out = proc.stdout + proc.stderr
    lines = [ln[len("morphsynth demo: "):] for ln in out.splitlines() if ln.startswith("morphsynth demo: ")]
    text = "\n".join(lines)
    names = list(served.renderer.library.names)
    assert "ERROR" not in out, out[-3000:]
    assert "library: " + " ".join(names) in lines, text
    assert any(ln.startswith("voices while holding a note: ") and int(ln.split()[-1]) >= 1 for ln in lines), text
    frames = sf.info(str(served.out_dir / "sc-demo.wav")).frames
    loaded = [ln for ln in lines if ln.startswith("buffer: " if with_scsynth else "file: ")]
    assert loaded and int(loaded[0].split()[1]) == frames, out[-3000:]
    assert "pattern: 4 events" in lines, text
    assert any(ln.startswith("synced ") for ln in lines), text
    assert list(served.controls.sources) == names[:4]
    adsr = served.controls.adsr
    assert (adsr.attack, adsr.decay, adsr.sustain, adsr.release) == pytest.approx((0.01, 0.2, 0.7, 0.4), abs=1e-6)
    assert served.controls.gain_db == -6 and served.controls.knobs[0] == pytest.approx(0.5)
    # The pattern's last event moved the morph to x = 0.75 (Pseg 0 -> 1 over 0.8 s, every 0.2 s).
    assert served.controls.x == pytest.approx(0.75, abs=1e-3) and served.controls.y == pytest.approx(0.5)
    served.stop()
    assert rms(served.recording) > 1e-5


def test_ableton_cc_table_in_the_docs_matches_the_servers_default_cc_map():
    import re

    import yaml

    defaults = yaml.safe_load((ROOT / "server" / "defaults.yaml").read_text())["midi"]["cc_map"]
    rows = re.findall(r"^\| CC (\d+) \| ([a-z ]+?\d*) \|", (ROOT / "docs" / "patches.md").read_text(), re.M)
    documented = {int(cc): what.replace("morph ", "").replace(" ", "") for cc, what in rows}
    assert documented == {int(k): v for k, v in defaults.items()}


def _dials(patch: g.MaxPatch) -> dict[str, str]:
    return {patch.boxes[d]["saved_attribute_attributes"]["valueof"]["parameter_longname"]: d
            for d in patch.by_class("live.dial")}


@pytest.mark.slow
def test_max_patch_messages_drive_the_server_and_replies_reach_the_registered_port(served):
    """What the Max patches send (their message flow modelled by patch_graph.MaxFlow) works
    against the real server: no /fail, the state changes, replies arrive on the reply port."""
    from morphsynth.server.osc_packets import build_message
    from pythonosc.osc_message import OscMessage

    patch = g.read_maxpat(PATCHES / "max" / "morphsynth.maxpat")
    flow = g.MaxFlow(patch)
    server = ("127.0.0.1", served.osc.udp_port)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    replies = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    replies.bind(("127.0.0.1", 0))
    replies.settimeout(20)
    listen_port = int(patch.text(patch.by_text("udpreceive")[0]).split()[1])

    def send(messages):
        for address, *args in messages:
            if address == "/reply/port":
                assert args == [listen_port]  # the patch registers the port it listens on
                args = [replies.getsockname()[1]]  # ... which the test stands in for
            sender.sendto(build_message(address, *args), server)

    def reply() -> OscMessage:
        return OscMessage(replies.recvfrom(65536)[0])

    try:
        send(flow.press(patch.by_text("loadbang")[0]))
        assert reply().params == ["/reply/port"]
        send(flow.press(next(b for b, v in patch.boxes.items() if v.get("text") == "/library/list")))
        names = [str(n) for n in reply().params]
        assert names == list(served.renderer.library.names)
        for menu, name in zip(patch.by_class("umenu"), names):
            flow.press(menu, name)
        send(flow.press(patch.by_class("button")[0]))
        send(flow.press(patch.by_class("pictslider")[0], 250, 750))
        dials = _dials(patch)
        for name, value in (("Attack", 0.02), ("Decay", 0.2), ("Sustain", 0.6), ("Release", 0.5),
                            ("Knob 1", 1.5), ("Gain", -9.0)):
            send(flow.press(dials[name], value))
        keys = patch.by_class("kslider")[0]
        send(flow.press(keys, 62, 100))
        assert wait_for(lambda: served.engine.active_voices() >= 1, 20.0)
        send(flow.press(keys, 62, 0))  # key up: velocity 0
        render = next(b for b, v in patch.boxes.items() if v.get("text", "").startswith("/render"))
        send(flow.press(render))
        msg = reply()
        assert (msg.address, msg.params) == ("/done", ["/render", "note.wav"])
        assert rms(served.out_dir / "note.wav") > 1e-4
        c = served.controls
        assert list(c.sources) == names[:4] and (c.x, c.y) == pytest.approx((0.25, 0.75))
        assert (c.adsr.attack, c.adsr.decay, c.adsr.sustain, c.adsr.release) == pytest.approx((0.02, 0.2, 0.6, 0.5))
        assert c.knobs[1] == pytest.approx(1.5) and c.gain_db == pytest.approx(-9.0)
        assert wait_for(lambda: served.engine.active_voices() == 0, 20.0)

        # The Max for Live device: track notes through [midiparse], Live's macros through its dials.
        device = g.read_maxpat(PATCHES / "max" / "morphsynth-m4l.maxpat")
        flow = g.MaxFlow(device)
        listen_port = int(device.text(device.by_text("udpreceive")[0]).split()[1])
        send(flow.press(device.by_text("live.thisdevice")[0]))
        assert reply().address == "/done"
        dials = _dials(device)
        for name, value in (("Morph X", 0.1), ("Morph Y", 0.9), ("Knob 0", -2.0), ("Attack", 0.05),
                            ("Release", 1.0), ("Gain", -12.0)):
            send(flow.press(dials[name], value))
        send(flow.press(device.by_text("midiparse")[0], 64, 90))
        assert wait_for(lambda: served.engine.active_voices() >= 1, 20.0)
        send(flow.press(device.by_text("midiparse")[0], 64, 0))
        sender.sendto(build_message("/sync", 3), server)
        msg = reply()
        assert (msg.address, msg.params) == ("/synced", [3])  # no /fail came before it
        assert (c.x, c.y) == pytest.approx((0.1, 0.9)) and c.knobs[0] == pytest.approx(-2.0)
        assert (c.adsr.attack, c.adsr.release) == pytest.approx((0.05, 1.0)) and c.gain_db == -12.0
    finally:
        sender.close()
        replies.close()


@pytest.mark.slow
def test_open_stage_control_widget_messages_drive_the_server(served):
    """What the session's widgets send (address, preArgs, then their value) works on the real
    server; the /adsr faders' script sends all four faders' values."""
    from morphsynth.server.osc_packets import build_message
    from pythonosc.osc_message import OscMessage

    widgets = {w["id"]: w for w in g.read_osc_session(OSC_FILES[0])}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(20)
    server = ("127.0.0.1", served.osc.udp_port)

    def touch(wid, *value):
        w = widgets[wid]
        pre = w.get("preArgs", [])
        args = [*(pre if isinstance(pre, list) else [pre]), *value]
        if w.get("typeTags"):
            args = [int(a) if t == "i" else float(a) if t == "f" else a for a, t in zip(args, w["typeTags"])]
        sock.sendto(build_message(w["address"], *args), server)

    try:
        touch("library_list")
        names = [str(n) for n in OscMessage(sock.recvfrom(65536)[0]).params]
        assert names == list(served.renderer.library.names)
        touch("morph_xy", 0.3, 0.6)
        touch("knob2", -1.0)
        touch("gain", -4.0)
        # The faders' onValue script: send('/adsr', get('attack'), get('decay'), get('sustain'), get('release'))
        assert "get('attack'), get('decay'), get('sustain'), get('release')" in widgets["attack"]["onValue"]
        sock.sendto(build_message("/adsr", *(float(widgets[k]["value"]) for k in
                                             ("attack", "decay", "sustain", "release"))), server)
        touch("keys", 60, 100)
        assert wait_voices(served, 1)
        touch("keys", 60, 0)
        sock.sendto(build_message("/sync", 9), server)
        msg = OscMessage(sock.recvfrom(65536)[0])
        assert (msg.address, msg.params) == ("/synced", [9])  # nothing failed before it
        c = served.controls
        assert (c.x, c.y) == pytest.approx((0.3, 0.6)) and c.knobs[2] == -1.0 and c.gain_db == -4.0
        assert wait_voices(served, 0)
    finally:
        sock.close()
