"""Faults through a real JACK dummy server: a MIDI client killed mid-storm, a stalled
render while the audio callback plays."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from morphsynth.server.app import SynthServer
from morphsynth.server.server_config import ServeConfig
from serve_support import env_without_jack, null_serve_config, wait_for
from test_audio_support import neural_renderer

pytestmark = pytest.mark.jack

PITCHES = (48, 52, 55, 60, 64, 67)
SCRIPTS = Path(__file__).resolve().parent / "scripts"


def test_midi_client_killed_mid_storm_leaves_no_voice_after_the_release_time(jack_server, fuzz_parts, tmp_path):
    cfg = null_serve_config(tmp_path, midi_port="virtual")
    cfg.midi.api = "UNIX_JACK"
    cfg.midi.client_name = f"ms-{uuid.uuid4().hex[:6]}"
    cfg.envelope.release = 0.2
    renderer = neural_renderer(*fuzz_parts)
    server = SynthServer(cfg, renderer)
    # Render the storm's notes first so every note-on sounds at once.
    for p in PITCHES:
        server.controls.note_on(p, 100, 0, 1)
        server.controls.note_off(p, 0, 1)
    assert server.controls.wait_requests(120)
    server.start()
    try:
        assert server.midi.watch is not None
        client = subprocess.Popen([sys.executable, str(SCRIPTS / "midi_storm_client.py"), cfg.midi.client_name,
                                   "7", ",".join(map(str, PITCHES)), "3000"],
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


def test_stalled_render_never_delays_the_audio_callback(jack_server, fuzz_parts, tmp_path):
    from audio_graph import capture_playback

    slow = {}
    renderer = neural_renderer(*fuzz_parts,
                               model_wrapper=lambda m: slow.setdefault("model", SlowModel(m, seconds=0.0)))
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
    capture = capture_playback(jack_server, name="stall-capture")
    try:
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
    """Run ``tests/scripts/<script>`` (which starts and kills a JACK server of its own) with
    the model folder and library as arguments in a fresh Python with no JACK_* variables,
    and return the JSON dict it prints last."""
    import json

    from audio_graph import JackServer

    if not JackServer.available():
        pytest.skip("jackd is not installed")
    proc = subprocess.run([sys.executable, str(SCRIPTS / script), str(parts[0]), str(parts[1])],
                          capture_output=True, text=True, env=env_without_jack(), timeout=timeout, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_jack_server_killed_and_restarted_is_reported_and_the_server_plays_on(fuzz_parts, tmp_path):
    """Device 'jack': kill the JACK server under a playing server, then start it again.
    (In a process of its own: libjack can crash a process whose other clients it serves.)"""
    r = run_with_own_jack_server("jack_server_restart.py", fuzz_parts, tmp_path, timeout=120)
    assert r == {"playing": True, "device_before": "jack", "lost_seen": True, "device_while_lost": "jack (lost)",
                 "clock_stopped_while_lost": True, "recovered": True, "device_after": "jack",
                 "playing_after": True, "note_after": True}


def test_portaudio_device_lost_is_reported_reopened_when_back_and_sigterm_still_exits(fuzz_parts, tmp_path):
    """The default device path (PortAudio on JACK): the loss is reported, a new audio process
    plays again once the JACK server is back (PortAudio itself cannot reopen its stream), and
    a SIGTERM ends the process while the device is gone (PortAudio blocks for good then)."""
    r = run_with_own_jack_server("portaudio_device_loss.py", fuzz_parts, tmp_path, timeout=200)
    assert r == {"playing": True, "reported": True, "back": True, "voices_after": True, "lost_again": True,
                 "rc": 0, "said_so": True}
