"""The server over real sockets: python-osc (UDP, TCP SLIP), liblo's oscsend/oscdump
(UDP, TCP length-prefixed), and `morphsynth serve` as a subprocess stopped by SIGTERM."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from pythonosc.tcp_client import SimpleTCPClient
from pythonosc.udp_client import SimpleUDPClient

from morphsynth.server.app import SynthServer
from morphsynth.server.engine_voices import HELD
from morphsynth.server.server_config import ServeConfig
from serve_support import env_without_jack, free_port, null_serve_config, one_line_error, wait_for, wait_for_status_reply
from test_audio_support import SR, neural_renderer

needs_liblo = pytest.mark.skipif(shutil.which("oscsend") is None, reason="liblo-tools is not installed")
PD_CLIENT = Path(__file__).resolve().parent / "scripts" / "pd_reply_client.pd"


@pytest.fixture(scope="module")
def served(tiny_parts, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("served")
    cfg = null_serve_config(tmp)
    cfg.osc.tcp_port = free_port(socket.SOCK_STREAM)
    server = SynthServer(cfg, neural_renderer(*tiny_parts)).start()
    server.tmp = tmp
    yield server
    server.stop()


def udp_client(server):
    return SimpleUDPClient("127.0.0.1", server.osc.udp_port)


def reply(client, timeout=10.0):
    return next(client.get_messages(timeout))


def test_udp_note_on_sounds_a_voice_and_status_replies_to_the_sender(served):
    c = udp_client(served)
    c.send_message("/note/on", [60, 100])
    assert wait_for(lambda: served.engine.active_voices() == 1, 15.0)
    c.send_message("/status", [])
    msg = reply(c)
    assert msg.address == "/status.reply" and msg.params[0] == 1 and msg.params[8] == "null"
    c.send_message("/note/off", [60])
    assert wait_for(lambda: served.engine.active_voices() == 0, 15.0)


def test_udp_bad_message_gets_one_fail_and_the_next_one_is_served(served):
    c = udp_client(served)
    c.send_message("/note/on", [60.5, 100])
    msg = reply(c)
    assert (msg.address, msg.params[0]) == ("/fail", "/note/on") and "60.5" in msg.params[1]
    c.send_message("/sync", [11])
    msg = reply(c)
    assert (msg.address, msg.params) == ("/synced", [11])


def test_reply_port_sends_replies_where_the_client_listens(served):
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener = SimpleUDPClient("127.0.0.1", 9)  # only its socket is used, to receive
    listener._sock.bind(("127.0.0.1", 0))
    port = listener._sock.getsockname()[1]
    from morphsynth.server.osc_packets import build_message

    sender.sendto(build_message("/reply/port", port), ("127.0.0.1", served.osc.udp_port))
    assert reply(listener).params == ["/reply/port"]
    sender.sendto(build_message("/library/list"), ("127.0.0.1", served.osc.udp_port))
    assert reply(listener).address == "/library/list.reply"
    sender.close()


def test_a_library_list_too_long_for_one_udp_datagram_fails_over_udp_and_arrives_over_tcp(tiny_parts, tmp_path):
    import torch

    from morphsynth.server.library import Library

    small = Library.load(tiny_parts[1])
    n = 2000   # about 72 KB of names: over the 65,507 bytes of one UDP datagram
    names = [f"{small.names[i % len(small.names)]}_variation{i:04d}" for i in range(n)]
    big = Library(small.latents[:1].repeat(n, 1), small.pitches[:1].repeat(n), small.velocities[:1].repeat(n),
                  torch.arange(n), names, [small.families[i % len(small.names)] for i in range(n)],
                  small.model_hash, small.model_name)
    big.save(tmp_path / "big.safetensors")
    cfg = ServeConfig()
    cfg.midi.port, cfg.audio.device, cfg.osc.port = "none", "null", 0
    cfg.osc.tcp_port = free_port(socket.SOCK_STREAM)
    cfg.paths.output_dir = str(tmp_path / "out")
    server = SynthServer(cfg, neural_renderer(tiny_parts[0], tmp_path / "big.safetensors")).start()
    try:
        c = udp_client(server)
        c.send_message("/library/list", [])
        msg = reply(c)
        assert msg.address == "/fail" and msg.params[0] == "/library/list" and "UDP datagram" in msg.params[1]
        c.send_message("/library/list", ["variation199"])    # ten names
        msg = reply(c)
        assert msg.address == "/library/list.reply" and msg.params == [x for x in names if "variation199" in x]
        t = SimpleTCPClient("127.0.0.1", server.osc.tcp_port, mode="1.1")
        t.send_message("/library/list", [])
        assert next(t.get_messages(10)).params == names
        t.close()
    finally:
        server.stop()


def test_tcp_slip_framing_from_python_osc_gets_replies_on_the_connection(served):
    c = SimpleTCPClient("127.0.0.1", served.osc.tcp_port, mode="1.1")
    c.send_message("/library/list", [])
    msg = next(c.get_messages(10))
    assert msg.address == "/library/list.reply" and len(msg.params) == 10
    c.send_message("/gain", [99.0])
    msg = next(c.get_messages(10))
    assert msg.address == "/fail" and msg.params[0] == "/gain"
    c.close()


def test_tcp_length_prefixed_framing_gets_replies_on_the_connection(served):
    c = SimpleTCPClient("127.0.0.1", served.osc.tcp_port, mode="1.0")
    c.send_message("/sync", [5])
    msg = next(c.get_messages(10))
    assert (msg.address, msg.params) == ("/synced", [5])
    c.close()


@needs_liblo
def test_oscsend_over_udp_and_tcp_plays_notes_and_renders(served):
    port = served.osc.udp_port
    subprocess.run(["oscsend", "localhost", str(port), "/note/on", "ff", "62", "100"], check=True, timeout=10)
    assert wait_for(lambda: served.engine.active_voices() == 1, 15.0)
    subprocess.run(["oscsend", f"osc.tcp://localhost:{served.osc.tcp_port}", "/note/off", "i", "62"],
                   check=True, timeout=10)
    assert wait_for(lambda: served.engine.active_voices() == 0, 15.0)
    subprocess.run(["oscsend", f"osc.tcp://localhost:{served.osc.tcp_port}", "/render", "siif",
                    "liblo.wav", "64", "90", "0.25"], check=True, timeout=10)
    path = served.tmp / "out" / "liblo.wav"
    assert wait_for(path.exists, 15.0)
    audio, rate = sf.read(path)
    assert rate == SR and audio.shape == (SR // 4,)


@needs_liblo
def test_oscdump_receives_replies_at_a_notify_port(served):
    port = free_port()
    dump = subprocess.Popen(["oscdump", "-L", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        c = udp_client(served)
        c.send_message("/notify", [1, port])
        assert reply(c).params == ["/notify"]          # the answer itself goes to the sender
        c.send_message("/note/on", [70, 100])          # a cache miss: /note/ready is notified
        c.send_message("/note/off", [70])
        c.send_message("/note/on", [71, 100])
        c.send_message("/reply/port", [port])
        c.send_message("/status", [])
        assert wait_for(lambda: served.engine.active_voices() == 1, 15.0)
        c.send_message("/note/off", [71])
        time.sleep(0.5)
    finally:
        dump.terminate()
        out, _ = dump.communicate(timeout=5)
        udp_client(served).send_message("/notify", [0])
    assert "/note/ready ii 71 100" in out      # 70 was released before it was ready
    assert "/note/ready ii 70" not in out
    assert '/done s "/reply/port"' in out and "/status.reply iiiiiiissf" in out


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_serve_subprocess_plays_records_and_exits_cleanly_on_a_stop_signal(tiny_parts, tmp_path, stop):
    model_dir, library = tiny_parts
    port = free_port()
    config = tmp_path / "serve.yaml"
    config.write_text(yaml.safe_dump({"renderer": {"prerender_all": False},
                                      "paths": {"output_dir": str(tmp_path / "out")}}))
    record = tmp_path / "take.wav"
    proc = subprocess.Popen(
        [sys.executable, "-m", "morphsynth", "serve", "--config", str(config), "--audio", "null",
         "--record", str(record), "--midi", "none", "--port", str(port), "--tcp-port", "0",
         "--model", str(model_dir), "--library", str(library)],
        stderr=subprocess.PIPE, text=True, env=env_without_jack())
    try:
        c = SimpleUDPClient("127.0.0.1", port)
        wait_for_status_reply(c, proc, timeout=90)
        c.send_message("/note/on", [60, 100])
        c.send_message("/sync", [1])                    # answered once the missed note sounds
        while (msg := reply(c, 60)).address != "/synced":   # skip answers to the readiness probes
            assert msg.address == "/status.reply"
        assert msg.params == [1]
        time.sleep(1.0)
        c.send_message("/note/off", [60])
        time.sleep(0.5)
    finally:
        proc.send_signal(stop)
        rc = proc.wait(30)
    err = proc.stderr.read()
    assert rc == 0, err
    assert "morphsynth: serving" in err and f"UDP {port}" in err
    audio, rate = sf.read(record)
    assert rate == SR and len(audio) > SR
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) > 0.0, err


def test_serve_without_an_audio_device_says_how_to_continue_in_one_line(tiny_parts, tmp_path):
    model_dir, library = tiny_parts
    proc = subprocess.run(
        [sys.executable, "-m", "morphsynth", "serve", "--audio", "no-such-card", "--midi", "none",
         "--port", str(free_port()), "--tcp-port", "0", "--model", str(model_dir), "--library", str(library)],
        capture_output=True, text=True, env=env_without_jack(JACK_NO_START_SERVER="1"), timeout=120)
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert line.startswith("morphsynth: error: audio:") and "--audio null" in line


def without_jack_server():
    """The environment of a machine where no JACK server runs (under a name nobody uses)."""
    return env_without_jack(JACK_NO_START_SERVER="1", JACK_DEFAULT_SERVER=f"morphsynth-none-{os.getpid()}")


def test_serve_with_no_jack_server_says_so_in_one_line_without_libjack_noise(tiny_parts):
    model_dir, library = tiny_parts
    proc = subprocess.run(
        [sys.executable, "-m", "morphsynth", "serve", "--audio", "jack", "--midi", "none",
         "--port", str(free_port()), "--tcp-port", "0", "--model", str(model_dir), "--library", str(library)],
        capture_output=True, text=True, env=without_jack_server(), timeout=120)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("morphsynth: error: audio: no JACK server"), proc.stderr


def test_serve_without_a_midi_system_plays_on_and_says_midi_is_off_in_its_one_line(tiny_parts, tmp_path):
    model_dir, library = tiny_parts
    (tmp_path / "serve.yaml").write_text("midi:\n  api: UNIX_JACK\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "morphsynth", "serve", "--config", str(tmp_path / "serve.yaml"), "--audio", "null",
         "--port", str(free_port()), "--tcp-port", "0", "--model", str(model_dir), "--library", str(library)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=without_jack_server())
    try:
        first = proc.stderr.readline()
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    assert first.startswith("morphsynth: serving") and "MIDI off (--midi virtual: cannot open" in first, first + rest
    assert proc.returncode == 0 and rest.strip() == "", rest


@pytest.mark.skipif(shutil.which("pd") is None, reason="puredata-core is not installed")
def test_pure_data_floats_play_a_note_and_replies_reach_its_registered_port(served):
    proc = subprocess.run(["pd", "-nogui", "-noaudio", "-nomidi", "-stderr", "-open", str(PD_CLIENT),
                           "-send", f"ports {served.osc.udp_port} {free_port()}", "-send", "note 67 100"],
                          capture_output=True, text=True, timeout=30)
    assert "REPLY: list synced 42" in proc.stderr, proc.stderr
    held = [int(served.engine.pitch[v]) for v in range(served.engine.n_slots) if served.engine.state[v] == HELD]
    assert 67 in held                    # Pd's 67.0 and 100.0 were taken as integers
    udp_client(served).send_message("/note/off", [67])
    assert wait_for(lambda: served.engine.active_voices() == 0, 15.0)


def test_renderer_device_auto_picks_the_cpu_without_a_gpu_and_refuses_a_missing_cuda():
    import torch

    from morphsynth.core.errors import MorphsynthError
    from morphsynth.core.device import pick_device

    if torch.cuda.is_available():
        assert pick_device(None, "renderer.device").type == "cuda"
    else:
        assert pick_device(None, "renderer.device").type in ("cpu", "mps")
        with pytest.raises(MorphsynthError, match="renderer.device cuda: CUDA is not available"):
            pick_device("cuda", "renderer.device")
    assert pick_device("cpu", "renderer.device").type == "cpu"
