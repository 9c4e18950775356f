"""MIDI: mido messages mapped to notes, pedal, bend (RPN 0), CC map, presets, MPE; and a
real rtmidi virtual port over JACK driving the server into a recording."""

import time

import mido
import numpy as np
import pytest
import soundfile as sf

from morphsynth.server.app import SynthServer
from morphsynth.server.control import Controls
from morphsynth.server.engine import Engine
from morphsynth.server.engine_voices import HELD
from morphsynth.server.envelope import Adsr
from morphsynth.server.midi import MidiMapper, pitchwheel_to_semitones
from morphsynth.server.server_config import MidiSettings
from serve_support import null_serve_config
from test_audio_support import SR, autocorr_hz, midi_to_hz


@pytest.fixture
def rig(organ_notes):
    adsr = Adsr(0.005, 0.01, 1.0, 0.05)
    engine = Engine(SR)
    controls = Controls(engine, organ_notes, adsr=adsr)
    settings = MidiSettings(presets={5: ["flute", "brass"]})
    mapper = MidiMapper(controls, settings)
    out = np.zeros(256, np.float32)

    def feed(*messages, blocks=2):
        for m in messages:
            mapper.handle(m)
        for _ in range(blocks):
            engine.process(out)

    return engine, controls, mapper, feed


def held_pitches(engine):
    return sorted(int(engine.pitch[v]) for v in range(engine.n_slots) if engine.state[v] == HELD)


def test_note_on_and_off_with_velocity_zero_as_note_off(rig):
    engine, _, _, feed = rig
    feed(mido.Message("note_on", note=60, velocity=100), mido.Message("note_on", note=64, velocity=100))
    assert held_pitches(engine) == [60, 64]
    feed(mido.Message("note_on", note=60, velocity=0), mido.Message("note_off", note=64))
    assert held_pitches(engine) == []


def test_sustain_pedal_cc64_holds_notes_until_released(rig):
    engine, _, _, feed = rig
    feed(mido.Message("control_change", control=64, value=127), mido.Message("note_on", note=60, velocity=100),
         mido.Message("note_off", note=60))
    assert held_pitches(engine) == [60]
    feed(mido.Message("control_change", control=64, value=0), blocks=20)
    assert engine.active_voices() == 0


def test_pitch_bend_range_defaults_to_two_semitones_and_follows_rpn_0(rig):
    engine, _, _, feed = rig
    feed(mido.Message("pitchwheel", pitch=8191))
    assert engine.channel_bend[0] == pytest.approx(2.0)
    feed(mido.Message("control_change", control=101, value=0), mido.Message("control_change", control=100, value=0),
         mido.Message("control_change", control=6, value=12), mido.Message("pitchwheel", pitch=-8192))
    assert engine.channel_bend[0] == pytest.approx(-12.0)
    assert pitchwheel_to_semitones(4096, 2.0) == pytest.approx(1.0, abs=1e-3)


def test_cc_map_moves_morph_xy_and_a_latent_knob(rig, organ_notes):
    _, controls, _, feed = rig
    feed(mido.Message("control_change", control=1, value=127), mido.Message("control_change", control=2, value=0))
    assert (controls.x, controls.y) == (1.0, 0.0)
    assert organ_notes.morph.weights == pytest.approx((0.0, 1.0, 0.0, 0.0))
    feed(mido.Message("control_change", control=74, value=127))
    assert organ_notes.morph.knobs[0] == pytest.approx(3.0)


def test_program_change_selects_a_preset_and_unknown_programs_are_ignored(rig, organ_notes):
    _, controls, mapper, feed = rig
    feed(mido.Message("program_change", program=5))
    assert organ_notes.morph.sources == ("flute", "brass")
    feed(mido.Message("program_change", program=6))
    assert organ_notes.morph.sources == ("flute", "brass") and mapper.errors == 1


def test_mpe_member_channel_bend_and_pressure_act_only_on_their_note(rig):
    engine, _, _, feed = rig
    feed(mido.Message("note_on", channel=1, note=60, velocity=100),
         mido.Message("note_on", channel=2, note=64, velocity=100),
         mido.Message("pitchwheel", channel=1, pitch=8191),     # +48 semitones: MPE member range
         mido.Message("aftertouch", channel=2, value=127), blocks=40)
    v1 = int(np.flatnonzero((engine.channel == 1) & (engine.state == HELD))[0])
    v2 = int(np.flatnonzero((engine.channel == 2) & (engine.state == HELD))[0])
    assert engine.bend[v1] == pytest.approx(48.0, abs=0.05) and engine.bend[v2] == 0.0
    assert engine.amp[v2] == pytest.approx(1.5, abs=0.01) and engine.amp[v1] == pytest.approx(1.0)
    feed(mido.Message("pitchwheel", channel=0, pitch=8191), blocks=40)   # master channel moves both
    assert engine.bend[v2] == pytest.approx(2.0, abs=0.05)


def midi_server_config(tmp_path, port):
    cfg = null_serve_config(tmp_path, midi_port=port)
    cfg.audio.record = str(tmp_path / "midi.wav")
    cfg.audio.gain_db = 0.0
    cfg.midi.api = "UNIX_JACK"
    cfg.midi.client_name = "morphsynth"
    return cfg


def play_a_note(port):
    time.sleep(0.1)
    port.send(mido.Message("note_on", note=57, velocity=100))
    time.sleep(0.8)
    port.send(mido.Message("note_off", note=57))
    time.sleep(0.5)


def assert_recorded_a_57(tmp_path):
    audio, rate = sf.read(tmp_path / "midi.wav")
    onset = int(np.argmax(np.abs(audio) > 1e-3))
    assert onset > 0
    sounding = audio[onset + SR // 10: onset + SR // 2]
    assert abs(autocorr_hz(sounding) - midi_to_hz(57)) < 0.01 * midi_to_hz(57)
    assert np.max(np.abs(audio[-SR // 10:])) < 1e-4      # released and silent at the end


@pytest.mark.jack
def test_rtmidi_virtual_port_over_jack_plays_the_note_into_the_recording(jack_server, organ_notes, tmp_path):
    # No JACK audio client in this process: opening rtmidi JACK ports beside one can deadlock.
    server = SynthServer(midi_server_config(tmp_path, "virtual"), organ_notes).start()
    try:
        backend = mido.Backend("mido.backends.rtmidi", api="UNIX_JACK", load=True)
        name = next(n for n in backend.get_output_names() if "morphsynth" in n)
        with backend.open_output(name) as port:
            play_a_note(port)
    finally:
        server.stop()
    assert_recorded_a_57(tmp_path)


@pytest.mark.jack
def test_named_existing_midi_port_is_opened_by_name_and_plays(jack_server, organ_notes, tmp_path):
    backend = mido.Backend("mido.backends.rtmidi", api="UNIX_JACK", load=True)
    with backend.open_output("keys-under-test", virtual=True) as port:
        server = SynthServer(midi_server_config(tmp_path, "keys-under-test"), organ_notes).start()
        try:
            assert "keys-under-test" in server.midi.name
            play_a_note(port)
        finally:
            server.stop()
    assert_recorded_a_57(tmp_path)
