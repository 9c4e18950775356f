"""The server playing through a real audio graph: the JACK dummy server, sounddevice
output, and a JACK capture client. OSC note-on -> audio at the right pitch; note-off ->
silence after the release; the real renderer's notes sound; recording is valid."""

import time

import numpy as np
import pytest
import soundfile as sf
from pythonosc.udp_client import SimpleUDPClient

from audio_graph import capture_playback
from morphsynth.server.app import SynthServer
from morphsynth.server.server_config import ServeConfig
from test_audio_support import SR, autocorr_hz, midi_to_hz, neural_renderer

pytestmark = pytest.mark.jack


def jack_config(tmp_path, release=0.2):
    cfg = ServeConfig()
    cfg.audio.device = "system"
    cfg.audio.block_size = 256
    cfg.audio.record = str(tmp_path / "played.wav")
    cfg.midi.port = "none"
    cfg.osc.port = 0
    cfg.osc.tcp_port = 0
    cfg.envelope.release = release
    cfg.audio.gain_db = 0.0
    return cfg


def start_with_capture(server, jack):
    server.start()
    return capture_playback(jack, name="serve-capture")


def rms(x):
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def test_osc_note_on_is_captured_at_its_pitch_and_note_off_falls_silent(jack_server, organ_notes, tmp_path):
    notes = organ_notes                         # organ: steady, so pitch is easy to read; 57 cached: a hit
    server = SynthServer(jack_config(tmp_path), notes)
    capture = start_with_capture(server, jack_server)
    try:
        client = SimpleUDPClient("127.0.0.1", server.osc.udp_port)
        time.sleep(0.2)
        capture.clear()
        client.send_message("/note/on", [57, 100])
        time.sleep(0.8)
        held = capture.audio()
        client.send_message("/note/off", [57])
        time.sleep(0.6)                          # release 0.2 s, plus the graph's latency
        capture.clear()
        time.sleep(0.3)
        after = capture.audio()
        rate = capture.samplerate
    finally:
        capture.close()
        server.stop()
    assert rate == SR
    onset = int(np.argmax(np.abs(held) > 1e-3))
    sounding = held[onset + SR // 10: onset + SR // 2]
    assert rms(sounding) > 0.01
    assert abs(autocorr_hz(sounding) - midi_to_hz(57)) < 0.01 * midi_to_hz(57)
    assert len(after) > SR // 5 and np.max(np.abs(after)) < 1e-4
    assert notes.hits == 1 and notes.misses == 0
    # The recording holds what was played, as a valid WAV.
    played, rate = sf.read(tmp_path / "played.wav")
    assert rate == SR and rms(played) > 0.005


def test_a_miss_renders_and_then_sounds_through_the_real_renderer(jack_server, tiny_parts, tmp_path):
    server = SynthServer(jack_config(tmp_path, release=0.1), neural_renderer(*tiny_parts))
    capture = start_with_capture(server, jack_server)
    try:
        client = SimpleUDPClient("127.0.0.1", server.osc.udp_port)
        time.sleep(0.2)
        capture.clear()
        client.send_message("/note/on", [60, 100])
        time.sleep(1.0)
        held = capture.audio()
        client.send_message("/note/off", [60])
        time.sleep(0.5)
        capture.clear()
        time.sleep(0.3)
        after = capture.audio()
        stats = server.renderer.stats()
        rendered = server.renderer.lookup(60, 100).audio
    finally:
        capture.close()
        server.stop()
    assert stats["misses"] == 1
    # What JACK carried is the rendered note (a tiny model plays quietly): same level, within
    # the envelope's sustain (0.8) and the part of the note that fit the capture.
    onset = int(np.argmax(np.abs(held) > 1e-7))
    captured = held[onset:]
    expected = rms(rendered[: len(captured)])
    assert onset > 0 and 0.5 * expected < rms(captured) < 1.5 * expected
    assert np.max(np.abs(held)) <= 1.0
    assert np.max(np.abs(after)) == 0.0


def test_a_held_note_moves_with_the_morph_without_a_gap_in_what_jack_carries(jack_server, tiny_parts, tmp_path):
    cfg = jack_config(tmp_path, release=0.1)
    cfg.audio.gain_db = 12.0
    cfg.envelope.decay, cfg.envelope.sustain = 0.0, 1.0
    renderer = neural_renderer(*tiny_parts)
    server = SynthServer(cfg, renderer)
    capture = start_with_capture(server, jack_server)
    try:
        client = SimpleUDPClient("127.0.0.1", server.osc.udp_port)
        client.send_message("/morph/sources", ["keyboard", "organ"])
        client.send_message("/morph/xy", [0.0, 0.0])
        time.sleep(0.3)
        capture.clear()
        client.send_message("/note/on", [60, 100])
        time.sleep(0.6)
        before = renderer.lookup(60, 100)
        client.send_message("/morph/xy", [1.0, 0.0])     # piano -> organ while the key is held
        time.sleep(0.6)
        held = capture.audio()
        after = renderer.lookup(60, 100)
        engine = server.engine
        (voice,) = np.flatnonzero(engine.state == 1)
        # The audio process plays from the shared note pool: the voice's slot holds the new render.
        swapped = np.array_equal(engine._pool.audio[engine.voice_slot[voice], :after.audio.size], after.audio)
        client.send_message("/note/off", [60])
    finally:
        capture.close()
        server.stop()
    assert before is not None and after is not None and not np.array_equal(before.audio, after.audio)
    assert swapped
    onset = int(np.argmax(np.abs(held) > 1e-6))
    played = held[onset:]
    # The voice played on through the move: no 10 ms of the held note falls silent.
    window = SR // 100
    levels = [rms(played[i:i + window]) for i in range(0, len(played) - window, window)]
    assert min(levels) > 0.05 * max(levels), levels
    # The last 0.2 s is the organ's render at the same place in the note, at its level.
    gain = 10 ** (12 / 20)
    end = len(played)
    expected = rms(after.audio[end - SR // 5:end]) * gain
    assert 0.5 * expected < rms(played[-SR // 5:]) < 1.5 * expected
