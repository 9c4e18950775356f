"""Faults through a real JACK dummy server: a MIDI client killed mid-storm, a stalled
render while the audio callback plays."""

import os
import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

from fuzz_corpus import build_fuzz_parts
from morphsynth.server.app import SynthServer
from morphsynth.server.server_config import ServeConfig

pytestmark = pytest.mark.jack

SR = 48000
PITCHES = (48, 52, 55, 60, 64, 67)


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    return build_fuzz_parts(tmp_path_factory.mktemp("jack_fault_parts"))


def renderer_for(parts, model_wrapper=None):
    from morphsynth.server.library import Library
    from morphsynth.server.renderer import Renderer
    from morphsynth.core.synth_model import load_synth_model

    model = load_synth_model(parts[0])
    library = Library.load(parts[1], model)
    return Renderer(model_wrapper(model) if model_wrapper else model, library, out_rate=SR, prerender_all=False)


def wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


MIDI_CLIENT = r"""
import random, sys, time, mido
be = mido.Backend('mido.backends.rtmidi', api='UNIX_JACK', load=True)
name = [n for n in be.get_output_names() if n.endswith(':' + sys.argv[1])][0]
out = be.open_output(name)
time.sleep(0.2)
rng = random.Random(int(sys.argv[2]))
sent = 0
pitches = [int(p) for p in sys.argv[3].split(',')]
for i in range(int(sys.argv[4])):
    ch, p = rng.randrange(16), rng.choice(pitches)
    if rng.random() < 0.55:
        out.send(mido.Message('note_on', channel=ch, note=p, velocity=100))
    else:
        out.send(mido.Message('note_off', channel=ch, note=p))
    sent += 1
    if rng.random() < 0.02:
        out.send(mido.Message('control_change', channel=ch, control=64, value=rng.choice((0, 127))))
        sent += 1
    if i % 10 == 0:
        time.sleep(0.002)   # rtmidi's JACK ring (16 KB) drops what a period cannot carry
for p in pitches:                      # hold a chord with the pedal down, then get killed
    out.send(mido.Message('control_change', channel=1, control=64, value=127))
    out.send(mido.Message('note_on', channel=1, note=p, velocity=100))
    sent += 2
print('holding', sent, flush=True)
time.sleep(60)
"""


def test_midi_client_killed_mid_storm_leaves_no_voice_after_the_release_time(jack_server, parts, tmp_path):
    cfg = ServeConfig()
    cfg.audio.device = "null"
    cfg.osc.port = 0
    cfg.osc.tcp_port = 0
    cfg.midi.port = "virtual"
    cfg.midi.api = "UNIX_JACK"
    cfg.midi.client_name = f"ms-{uuid.uuid4().hex[:6]}"
    cfg.envelope.release = 0.2
    renderer = renderer_for(parts)
    server = SynthServer(cfg, renderer)
    # Render the storm's notes first so every note-on sounds at once.
    for p in PITCHES:
        server.controls.note_on(p, 100, 0, 1)
        server.controls.note_off(p, 0, 1)
    assert server.controls.wait_requests(120)
    server.start()
    try:
        assert server.midi.watch is not None
        client = subprocess.Popen([sys.executable, "-c", MIDI_CLIENT, cfg.midi.client_name, "7",
                                   ",".join(map(str, PITCHES)), "3000"],
                                  stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        try:
            word, sent = client.stdout.readline().split()
            assert word == "holding"
            assert wait_for(lambda: server.engine.active_voices() >= len(PITCHES), 10)
        finally:
            client.send_signal(signal.SIGKILL)
            client.wait(10)
        # The watcher polls every 0.1 s; then the release (0.2 s) runs out.
        assert wait_for(lambda: server.engine.active_voices() == 0, 5.0), server.engine.active_voices()
        assert server.midi.watch.disconnects == 1
        assert server.midi.mapper.released_on_disconnect >= len(PITCHES)
        # A burst over JACK MIDI can lose a few events on a loaded machine (about 1 % while
        # other work ran, none when idle): what matters is that nothing stays held.
        print(f"\nMIDI storm: {sent} sent, {server.midi.mapper.received} received")
        assert server.midi.mapper.received >= 0.95 * int(sent)
    finally:
        server.stop()


class SlowModel:
    """The real model, whose decode first burns CPU for seconds the way a big network would
    (torch matmuls, which release the GIL like real inference)."""

    def __init__(self, model, seconds=2.0):
        self._model = model
        self.seconds = seconds
        self.stalled = 0

    def __getattr__(self, name):
        return getattr(self._model, name)

    def decode(self, *args, **kwargs):
        import torch

        self.stalled += 1
        x = torch.randn(384, 384)
        t0 = time.monotonic()
        while time.monotonic() - t0 < self.seconds:
            x = torch.tanh(x @ x)
        return self._model.decode(*args, **kwargs)


def test_stalled_render_never_delays_the_audio_callback(jack_server, parts, tmp_path):
    from audio_graph import Capture, portaudio_output_port

    slow = {}
    renderer = renderer_for(parts, lambda m: slow.setdefault("model", SlowModel(m, seconds=0.0)))
    cfg = ServeConfig()
    cfg.audio.device = "system"
    cfg.audio.block_size = 256
    cfg.audio.gain_db = 0.0
    cfg.midi.port = "none"
    cfg.osc.port = 0
    cfg.osc.tcp_port = 0
    cfg.envelope.attack, cfg.envelope.sustain = 0.005, 1.0
    server = SynthServer(cfg, renderer)
    server.controls.note_on(60, 100, 0, 1)      # cached before the model turns slow
    assert server.controls.wait_requests(120)
    slow["model"].seconds = 2.0
    server.start()
    capture = Capture(jack_server, name="stall-capture").start()
    try:
        capture.connect_from(portaudio_output_port(capture.client))
        assert wait_for(lambda: server.engine.active_voices() == 1, 5)
        time.sleep(0.3)
        capture.clear()
        xruns0 = capture.xruns
        server.controls.note_on(72, 100)            # a miss: the worker stalls in decode for 2 s
        assert wait_for(lambda: slow["model"].stalled >= 1, 5)
        time.sleep(1.5)                             # inside the stall
        audio = capture.audio()
    finally:
        capture.close()
        server.stop()
    # The held note kept sounding through the stall: no 10 ms window fell silent.
    windows = audio[: len(audio) // 480 * 480].reshape(-1, 480)
    rms = np.sqrt(np.mean(windows ** 2, axis=1))
    print(f"\nstall: {len(windows)} windows, quietest {rms.min():.4f}, loudest {rms.max():.4f}, "
          f"JACK xruns {capture.xruns - xruns0}, engine xruns {server.engine.xruns}")
    assert len(windows) > 100
    assert rms.min() > 0.1 * np.median(rms), rms.min()


def run_with_own_jack_server(script: str, parts, tmp_path, timeout: float) -> dict:
    """Run ``script`` (which starts and kills a JACK server of its own) in a fresh Python
    with no JACK_* variables, and return the JSON dict it prints last."""
    import json

    from audio_graph import JackServer

    if not JackServer.available():
        pytest.skip("jackd is not installed")
    tests = os.path.dirname(os.path.abspath(__file__))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACK_")}
    proc = subprocess.run([sys.executable, "-c", script, tests, str(parts[0]), str(parts[1])],
                          capture_output=True, text=True, env=env, timeout=timeout, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


JACK_RESTART = r"""
import json, signal, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from audio_graph import JackServer
import os
jack = JackServer().start()
os.environ.update(jack.env())
from fuzz_corpus import CountingSender
from morphsynth.server.app import SynthServer
from morphsynth.server.osc import build_message
from morphsynth.server.server_config import ServeConfig
from test_faults_jack import renderer_for, wait_for

cfg = ServeConfig()
cfg.audio.device = "jack"
cfg.midi.port = "none"
cfg.osc.port = 0
cfg.osc.tcp_port = 0
server = SynthServer(cfg, renderer_for((Path(sys.argv[2]), Path(sys.argv[3]))))
server.start()
r = {}
def status():
    s = CountingSender()
    server.osc.feed(build_message("/status"), s)
    return s.replies[0][9]
try:
    r["playing"] = wait_for(lambda: server.engine.blocks > 20, 5)
    r["device_before"] = status()
    jack.proc.send_signal(signal.SIGKILL)
    jack.proc.wait(5)
    jack.proc = None
    r["lost_seen"] = wait_for(lambda: server.output.lost == 1, 5)
    r["device_while_lost"] = status()
    blocks = server.engine.blocks
    time.sleep(0.3)
    r["clock_stopped_while_lost"] = server.engine.blocks == blocks
    jack.start()
    r["recovered"] = wait_for(lambda: server.output.recovered == 1, 10)
    r["device_after"] = status()
    r["playing_after"] = wait_for(lambda: server.engine.blocks > blocks + 20, 5)
    server.osc.feed(build_message("/note/on", 60, 100), CountingSender())
    r["note_after"] = wait_for(lambda: server.engine.active_voices() == 1, 30)
finally:
    server.stop()
    jack.stop()
print(json.dumps(r), flush=True)
"""


def test_jack_server_killed_and_restarted_is_reported_and_the_server_plays_on(parts, tmp_path):
    """Device 'jack': kill the JACK server under a playing server, then start it again.
    (In a process of its own: libjack can crash a process whose other clients it serves.)"""
    r = run_with_own_jack_server(JACK_RESTART, parts, tmp_path, timeout=120)
    assert r == {"playing": True, "device_before": "jack", "lost_seen": True, "device_while_lost": "jack (lost)",
                 "clock_stopped_while_lost": True, "recovered": True, "device_after": "jack",
                 "playing_after": True, "note_after": True}


PORTAUDIO_LOSS = r"""
import json, os, signal, socket, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from audio_graph import JackServer
from pythonosc.udp_client import SimpleUDPClient
from test_faults_jack import wait_for

jack = JackServer().start()
env = {k: v for k, v in os.environ.items() if not k.startswith("JACK_")}
env.update(jack.env())
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
proc = subprocess.Popen([sys.executable, "-m", "morphsynth", "serve", "--audio", "system", "--midi", "none",
                         "--port", str(port), "--tcp-port", "0", "--model", sys.argv[2], "--library", sys.argv[3]],
                        stderr=subprocess.PIPE, text=True, env=env)
c = SimpleUDPClient("127.0.0.1", port)

def status():
    c.send_message("/status", [])
    try:
        msg = next(c.get_messages(0.5))
    except (StopIteration, TimeoutError, OSError):
        return None
    return msg.params if msg.address == "/status.reply" else None

def device():
    s = status()
    return s[8] if s else ""

def voices():
    s = status()
    return s[0] if s else -1

r = {}
try:
    r["playing"] = wait_for(lambda: proc.poll() is None and device().startswith("system"), 90)
    jack.proc.send_signal(signal.SIGKILL)
    jack.proc.wait(5)
    jack.proc = None
    r["reported"] = wait_for(lambda: device().endswith("(lost)"), 10)
    time.sleep(1.5)                                     # a few tries to reopen fail meanwhile
    jack.start()     # the same name frees the killed server's slot in JACK's registry
    r["back"] = wait_for(lambda: device().startswith("system") and not device().endswith("(lost)"), 30)
    c.send_message("/note/on", [60, 100])
    r["voices_after"] = wait_for(lambda: voices() == 1, 30)
    jack.proc.send_signal(signal.SIGKILL)              # lost again, and left so until SIGTERM
    jack.proc.wait(5)
    jack.proc = None
    r["lost_again"] = wait_for(lambda: device().endswith("(lost)"), 10)
finally:
    proc.send_signal(signal.SIGTERM)
    try:
        r["rc"] = proc.wait(30)
    except subprocess.TimeoutExpired:
        r["rc"] = "hung"
        proc.kill()
    jack.start()
    jack.stop()
err = proc.stderr.read()
r["said_so"] = "was lost" in err and "playing again" in err
print(json.dumps(r), flush=True)
"""


def test_portaudio_device_lost_is_reported_reopened_when_back_and_sigterm_still_exits(parts, tmp_path):
    """The default device path (PortAudio on JACK): the loss is reported, a new audio process
    plays again once the JACK server is back (PortAudio itself cannot reopen its stream), and
    a SIGTERM ends the process while the device is gone (PortAudio blocks for good then)."""
    r = run_with_own_jack_server(PORTAUDIO_LOSS, parts, tmp_path, timeout=200)
    assert r == {"playing": True, "reported": True, "back": True, "voices_after": True, "lost_again": True,
                 "rc": 0, "said_so": True}
