"""Hot-swap of the model and the library while the server plays, and the /latency report.

Real parts throughout: the tiny trained model and the fuzz model (two models, two
hashes), their libraries, servers started with the null clock in an audio process of
their own and driven over UDP, or fed datagrams socket-free where only the control
path matters; the CLI as a subprocess; the JACK dummy server for JACK's latency.
"""

import dataclasses
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from pythonosc.udp_client import SimpleUDPClient

from morphsynth.server.app import SynthServer
from morphsynth.server.engine_voices import HELD
from morphsynth.server.latency import LatencyRing
from morphsynth.server.library import LIBRARY_FILE, Library
from morphsynth.server.osc_packets import build_message
from morphsynth.server.server_config import ServeConfig
from osc_doubles import CollectingSender
from serve_support import env_without_jack, free_port, null_serve_config, one_line_error, pump, wait_for, wait_for_status_reply
from test_audio_support import neural_renderer


@pytest.fixture(scope="module")
def models(tiny_parts, fuzz_parts, tmp_path_factory) -> Path:
    """A models folder: ``tiny/`` (the tiny model and its library, what the servers here
    start with), ``other/`` (the fuzz model and its library), ``renamed.safetensors`` (the
    tiny library with every source renamed), ``broken/`` (weights that are not
    safetensors), ``nolib/`` (a model folder without a library), and two ways out: ``escape``
    (a symlink to the fuzz model's folder outside) and ``linkedlib/`` (whose library is a
    symlink to a file outside)."""
    root = tmp_path_factory.mktemp("models")
    for name, (model_dir, library) in {"tiny": tiny_parts, "other": fuzz_parts, "nolib": tiny_parts}.items():
        (root / name).mkdir()
        for file in ("model.json", "model.safetensors"):
            shutil.copy(Path(model_dir) / file, root / name / file)
        if name != "nolib":
            shutil.copy(library, root / name / LIBRARY_FILE)
    shutil.copytree(root / "tiny", root / "broken")
    (root / "broken" / "model.safetensors").write_bytes(b"these are not weights")
    (root / "escape").symlink_to(Path(fuzz_parts[0]).resolve())
    shutil.copytree(root / "nolib", root / "linkedlib")
    (root / "linkedlib" / LIBRARY_FILE).symlink_to(Path(tiny_parts[1]).resolve())
    lib = Library.load(tiny_parts[1])
    dataclasses.replace(lib, names=[f"renamed_{n}" for n in lib.names]).save(root / "renamed.safetensors")
    return root


def config(models: Path, tmp_path: Path, **audio) -> ServeConfig:
    cfg = null_serve_config(tmp_path)
    for key, value in audio.items():
        setattr(cfg.audio, key, value)
    cfg.paths.input_dir = str(tmp_path)
    cfg.paths.models_dir = str(models)
    return cfg


def tiny_renderer(models: Path):
    return neural_renderer(models / "tiny", models / "tiny" / LIBRARY_FILE)


@pytest.fixture
def rig(models, tmp_path):
    """The tiny model's server, not started (no sockets, no clock): datagrams are fed in."""
    server = SynthServer(config(models, tmp_path), tiny_renderer(models))
    yield SimpleNamespace(server=server, engine=server.engine, renderer=server.renderer, controls=server.controls)
    server.stop()


def send(rig, address, *args):
    sender = CollectingSender()
    rig.server.osc.feed(build_message(address, *args), sender)
    return sender


def voice_of(engine, pitch):
    """The held voice of ``pitch``, or None."""
    held = np.flatnonzero((engine.state == HELD) & (engine.pitch == pitch))
    return int(held[0]) if held.size else None


ANY = object()


def replies_until(client, address, first=ANY, timeout=60.0):
    """Messages ``client`` receives up to and including ``address first ...`` (or a /fail of
    ``first``)."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = next(client.get_messages(1.0))
        except (StopIteration, TimeoutError, OSError):
            continue
        got.append((msg.address, *msg.params))
        if msg.address == address and (first is ANY or (msg.params and msg.params[0] == first)):
            return got
        if msg.address == "/fail" and msg.params and msg.params[0] == first:
            return got
    raise AssertionError(f"no {address} {first} in {got}")


def receive_all(client, wanted, timeout=60.0):
    """Messages ``client`` receives until every message of ``wanted`` has come (replies and
    notifications travel apart, so their order is not fixed)."""
    got = []
    deadline = time.monotonic() + timeout
    while not all(message in got for message in wanted):
        assert time.monotonic() < deadline, f"not all of {wanted} in {got}"
        try:
            msg = next(client.get_messages(1.0))
        except (StopIteration, TimeoutError, OSError):
            continue
        got.append((msg.address, *msg.params))
        assert msg.address != "/fail", msg
    return got


# --------------------------------------------------------------------------- swaps

def test_model_load_keeps_a_sounding_note_playing_and_new_notes_render_from_the_new_model(models, tmp_path):
    server = SynthServer(config(models, tmp_path), tiny_renderer(models)).start()
    try:
        c = SimpleUDPClient("127.0.0.1", server.osc.udp_port)
        c.send_message("/notify", [1])
        assert replies_until(c, "/done", "/notify")[-1] == ("/done", "/notify")
        c.send_message("/note/on", [60, 100])
        assert wait_for(lambda: voice_of(server.engine, 60) is not None, 30.0)
        voice = voice_of(server.engine, 60)
        slot = int(server.engine.voice_slot[voice])
        old_hash = server.renderer.model.model_hash
        new_hash = Library.load(models / "other" / LIBRARY_FILE).model_hash
        assert new_hash != old_hash

        name = json.loads((models / "other" / "model.json").read_text())["name"]
        c.send_message("/model/load", ["other"])
        receive_all(c, [("/done", "/model/load", "other"), ("/model/loaded", name),
                        ("/library/loaded", "other/library.safetensors")])
        assert server.renderer.model.model_hash == new_hash
        # The sounding note goes on with the audio it had: same voice, same buffer, no crossfade.
        assert server.engine.state[voice] == HELD and server.engine.pitch[voice] == 60
        assert int(server.engine.voice_slot[voice]) == slot and server.engine.swap_left[voice] == 0
        assert server.engine.clock_running

        c.send_message("/note/on", [64, 100])
        assert wait_for(lambda: voice_of(server.engine, 64) is not None, 30.0)
        keys = server.renderer.cache.keys()
        assert keys and all(key[0][0] == new_hash for key in keys)
        c.send_message("/status", [])
        status = replies_until(c, "/status.reply")[-1]
        assert status[8] == name
        c.send_message("/note/off", [60])
        c.send_message("/note/off", [64])
        assert wait_for(lambda: server.engine.active_voices() == 0, 15.0)
    finally:
        server.stop()


@pytest.mark.parametrize("address,args,reason", [
    ("/model/load", ("missing",), "'missing' is not a model folder in"),
    ("/model/load", ("../tiny",), "contains '..'"),
    ("/model/load", ("/etc",), "is outside"),
    ("/model/load", (7,), "path: expected a string"),
    ("/model/load", ("nolib",), "'nolib' has no library.safetensors"),
    ("/model/load", ("escape",), "'escape' leads outside (symlink)"),
    ("/model/load", ("linkedlib",), "library.safetensors' is outside"),
    ("/model/load", ("broken",), "not a readable safetensors file"),
    ("/model/load", ("tiny", "other/library.safetensors"), "library was built by model"),
    ("/model/load", ("tiny", "no_such.safetensors"), "'no_such.safetensors' is not a file in"),
    ("/library/load", ("other/library.safetensors",), "library was built by model"),
    ("/library/load", ("tiny/model.json",), "not a readable library"),
    ("/library/load", ("tiny",), "'tiny' is not a file in"),
    ("/library/load", (), "missing path"),
])
def test_a_bad_model_or_library_fails_in_one_line_and_the_served_pair_keeps_playing(rig, address, args, reason):
    model, library = rig.renderer.model, rig.renderer.library
    sources = rig.controls.sources
    fail = send(rig, address, *args).wait_for("/fail", 60.0)
    assert fail is not None and fail[1] == address and reason in fail[2], fail
    assert "\n" not in fail[2]
    assert rig.renderer.model is model and rig.renderer.library is library and rig.controls.sources == sources
    send(rig, "/note/on", 60, 100)
    assert pump(rig.engine, lambda: rig.engine.active_voices() == 1)
    assert rig.renderer.queue.errors == 0


def test_library_load_keeps_a_morph_it_has_the_sources_of_and_else_starts_on_its_own(rig, models):
    heard = CollectingSender(("notified", 1))
    rig.server.osc.register(heard.key, heard)
    send(rig, "/morph/xy", 0.2, 0.7)
    sources, weights = rig.controls.sources, rig.controls.weights
    first = rig.renderer.library

    assert send(rig, "/library/load", "tiny/library.safetensors").wait_for("/done", 60.0) == \
        ("/done", "/library/load", "tiny/library.safetensors")
    assert rig.renderer.library is not first
    assert (rig.controls.sources, rig.controls.weights) == (sources, weights)
    assert wait_for(lambda: ("/library/loaded", "tiny/library.safetensors") in heard.replies)

    assert send(rig, "/library/load", "renamed.safetensors").wait_for("/done", 60.0) is not None
    renamed = rig.renderer.library
    assert rig.controls.sources == tuple(renamed.starting_sources(4))
    assert all(name.startswith("renamed_") for name in rig.controls.sources)
    assert (rig.controls.x, rig.controls.y) == (pytest.approx(0.2), pytest.approx(0.7))
    assert wait_for(lambda: ("/library/loaded", "renamed.safetensors") in heard.replies)
    assert ("/morph/sources", *rig.controls.sources) in heard.replies   # echoed before
    send(rig, "/note/on", 60, 100)
    assert pump(rig.engine, lambda: rig.engine.active_voices() == 1)
    assert rig.renderer.queue.errors == 0


def test_a_note_requested_before_a_library_swap_renders_from_the_new_library(rig, models):
    # The render worker takes the request but cannot render until the swap is done: the
    # old morph's sources are gone from the new library, so the note plays the new morph.
    with rig.renderer._parts_lock:
        send(rig, "/note/on", 60, 100)
        rig.controls.load_library("renamed.safetensors")
    assert pump(rig.engine, lambda: rig.engine.active_voices() == 1)
    assert rig.controls.wait_requests(10.0)
    assert rig.renderer.queue.errors == 0


# --------------------------------------------------------------------------- latency

def test_latency_ring_keeps_the_last_durations_and_reports_last_mean_and_p99():
    ring = LatencyRing(size=100)
    assert ring.stats_ms() == (0.0, 0.0, 0.0, 0)
    for i in range(1, 251):                      # only the last 100 (151..250 ms) are kept
        ring.add(i / 1000.0)
    last, mean, p99, count = ring.stats_ms()
    assert count == 250 and last == pytest.approx(250.0)
    assert mean == pytest.approx(200.5)
    assert p99 == pytest.approx(np.percentile(np.arange(151, 251), 99))


def test_latency_reply_has_the_configured_block_size_and_render_waits_after_a_miss(models, tmp_path):
    server = SynthServer(config(models, tmp_path, block_size=128), tiny_renderer(models)).start()
    try:
        c = SimpleUDPClient("127.0.0.1", server.osc.udp_port)
        c.send_message("/latency", [])
        before = replies_until(c, "/latency.reply")[-1]
        assert before == ("/latency.reply", 128, 0.0, 0.0, 0.0, 0.0, 0)
        c.send_message("/note/on", [60, 100])
        assert wait_for(lambda: server.engine.active_voices() == 1, 30.0)
        c.send_message("/latency", [])
        _, block, device_ms, last, mean, p99, renders = replies_until(c, "/latency.reply")[-1]
        assert block == 128 and device_ms >= 0.0
        assert renders == 1 and last > 0.0 and mean > 0.0 and p99 > 0.0
        c.send_message("/status", [])
        status = replies_until(c, "/status.reply")[-1]
        assert status[11:] == (block, device_ms, last, mean, p99)   # after the sample rate
    finally:
        server.stop()


def test_serve_block_size_option_reaches_the_audio_output(tiny_parts, tmp_path):
    model_dir, library = tiny_parts
    port = free_port()
    cfg = tmp_path / "serve.yaml"
    cfg.write_text(yaml.safe_dump({"renderer": {"prerender_all": False},
                                   "paths": {"output_dir": str(tmp_path / "out")}}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "morphsynth", "serve", "--config", str(cfg), "--audio", "null", "--block-size", "64",
         "--midi", "none", "--port", str(port), "--tcp-port", "0", "--model", str(model_dir), "--library",
         str(library)], stderr=subprocess.PIPE, text=True, env=env_without_jack())
    try:
        c = SimpleUDPClient("127.0.0.1", port)
        wait_for_status_reply(c, proc, timeout=90)
        c.send_message("/latency", [])
        assert replies_until(c, "/latency.reply")[-1][1] == 64
        # The line serve prints once it catches SIGTERM: stopped before it, serve would just die.
        while "serving" not in (line := proc.stderr.readline()):
            assert line, "serve ended before it said it was serving"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_serve_refuses_a_block_size_out_of_range_in_one_line(tiny_parts):
    proc = subprocess.run([sys.executable, "-m", "morphsynth", "serve", "--audio", "null", "--midi", "none",
                           "--block-size", "5", "--model", str(tiny_parts[0])],
                          capture_output=True, text=True, timeout=60, env=env_without_jack())
    assert "block_size: 5 is outside 16..4096" in one_line_error(proc)


@pytest.mark.jack
def test_jack_output_reports_its_period_and_the_playback_latency_jack_computes(jack_server):
    from morphsynth.server.audio_io import JackOutput
    from morphsynth.server.engine import Engine

    engine = Engine(jack_server.rate)
    output = JackOutput(engine, jack_server.rate, client_name="latency-probe").start()
    try:
        assert engine.block_size == jack_server.period
        assert engine.output_latency_ns >= jack_server.period / jack_server.rate * 1e9
    finally:
        output.stop()


@pytest.mark.jack
def test_latency_reply_carries_portaudios_stream_latency_from_the_audio_process(jack_server, models, tmp_path):
    # PortAudio's JACK host API in the audio process: the figure crosses the shared memory.
    cfg = config(models, tmp_path, device="system", block_size=jack_server.period)
    server = SynthServer(cfg, tiny_renderer(models)).start()
    try:
        c = SimpleUDPClient("127.0.0.1", server.osc.udp_port)
        c.send_message("/latency", [])
        _, block, device_ms, *_ = replies_until(c, "/latency.reply")[-1]
        assert block == jack_server.period
        # At least one period (less a float32 rounding: OSC's f).
        assert device_ms >= 1000.0 * jack_server.period / jack_server.rate - 1e-3
    finally:
        server.stop()
