"""Per-voice morphs: keep and follow, MPE slide and pressure on a morph axis, /note/morph.

The engine's retarget of one voice (in process and split), then MIDI through
``MidiMapper.handle`` and a real rtmidi virtual port, and OSC through the dispatcher,
all over the real Renderer of the tiny trained model.
"""

import time
from types import SimpleNamespace

import mido
import numpy as np
import pytest

from morphsynth.core.config import ConfigError, load_config
from morphsynth.server.app import SynthServer
from morphsynth.server.control import Controls
from morphsynth.server.engine import Engine
from morphsynth.server.engine_voices import HELD
from morphsynth.server.envelope import Adsr
from morphsynth.server.midi import MidiMapper
from morphsynth.server.morph import pad_weights
from morphsynth.server.osc_packets import build_message
from morphsynth.server.renderer import RenderedNote
from morphsynth.server.server_config import MidiSettings, ServeConfig
from osc_doubles import CollectingSender
from serve_support import null_serve_config, pump
from test_audio_support import SR, neural_renderer

BLOCK = np.zeros(256, np.float32)


def sine(hz: float, seconds: float = 1.0) -> RenderedNote:
    t = np.arange(int(seconds * SR)) / SR
    return RenderedNote((0.2 * np.sin(2 * np.pi * hz * t)).astype(np.float32), SR, int(0.8 * SR),
                        int(0.2 * SR), int(0.6 * SR), 60, 0)


def settle(engine, renderer, blocks=40):
    """Let every queued render finish and the engine play what they started."""
    assert renderer.queue.wait_idle(60)
    for _ in range(blocks):
        engine.process(BLOCK)


def voice_on(engine, channel):
    held = np.flatnonzero((engine.state == HELD) & (engine.channel == channel))
    assert len(held) == 1, held
    return int(held[0])


# ---------------------------------------------------------------------- engine

@pytest.mark.parametrize("shared", [False, True], ids=["in-process", "split"])
def test_retarget_naming_a_voice_moves_it_alone_and_key_retargets_then_pass_it_by(shared):
    eng = Engine(SR)
    if shared:
        eng.share_memory(SR)
    a, own, key = sine(262.0), sine(330.0), sine(392.0)
    eng.note_on(60, a, channel=1, note_id=10)
    eng.note_on(60, a, channel=2, note_id=20)
    eng.process(BLOCK)
    v1, v2 = voice_on(eng, 1), voice_on(eng, 2)
    assert eng.retarget(60, own, 1, channel=1, note_id=11)      # another note id: nobody
    eng.process(BLOCK)
    assert eng.swap_left[v1] == 0 and not eng.own_morph[v1]
    eng.retarget(60, own, 1, channel=1, note_id=10)
    eng.process(BLOCK)
    assert eng.swap_left[v1] > 0 and eng.own_morph[v1]
    assert eng.swap_left[v2] == 0 and not eng.own_morph[v2]
    pump(eng, lambda: eng.swap_left[v1] == 0)
    eng.retarget(60, key, 2)                                     # the key's render of a new morph
    eng.process(BLOCK)
    assert eng.swap_left[v2] > 0 and eng.swap_left[v1] == 0
    pump(eng, lambda: eng.swap_left[v2] == 0)
    assert np.array_equal(eng.buffers[v1], own.audio) and np.array_equal(eng.buffers[v2], key.audio)
    assert eng.note_gen[v1] == 1 and eng.note_gen[v2] == 2


def test_a_new_note_in_a_voice_that_had_a_morph_of_its_own_follows_its_key_again():
    eng = Engine(SR, polyphony=1)
    eng.note_on(60, sine(262.0), channel=1)
    eng.process(BLOCK)
    eng.retarget(60, sine(330.0), 1, channel=1)
    eng.process(BLOCK)
    assert eng.own_morph.any()
    eng.note_on(60, sine(262.0), channel=3)                      # steals: a voice without own morph
    eng.process(BLOCK)
    v = voice_on(eng, 3)
    assert not eng.own_morph[v]
    eng.retarget(60, sine(392.0), 2)
    eng.process(BLOCK)
    assert eng.swap_left[v] > 0


# ---------------------------------------------------------------------- MIDI

@pytest.fixture
def midi_rig(tiny_parts):
    rigs = []

    def make(follow=True, **settings):
        renderer = neural_renderer(*tiny_parts)
        engine = Engine(SR)
        controls = Controls(engine, renderer, adsr=Adsr(0.005, 0.01, 1.0, 0.05), follow=follow)
        mapper = MidiMapper(controls, MidiSettings(**settings))
        rig = SimpleNamespace(renderer=renderer, engine=engine, controls=controls, mapper=mapper)
        rigs.append(rig)

        def feed(*messages):
            for m in messages:
                mapper.handle(m)

        rig.feed = feed
        return rig

    yield make
    for rig in rigs:
        rig.renderer.close()


def two_mpe_notes(rig):
    """Notes 60 on member channel 2 and 64 on member channel 3 (mido channels 1 and 2), sounding."""
    rig.feed(mido.Message("note_on", channel=1, note=60, velocity=100),
             mido.Message("note_on", channel=2, note=64, velocity=100))
    assert pump(rig.engine, lambda: rig.engine.active_voices() == 2)
    settle(rig.engine, rig.renderer)
    return voice_on(rig.engine, 1), voice_on(rig.engine, 2)


def test_mpe_slide_renders_only_the_slid_note_for_its_own_morph(midi_rig):
    rig = midi_rig(mpe_slide="x")
    engine = rig.engine
    v1, v2 = two_mpe_notes(rig)
    before1, before2 = engine.buffers[v1].copy(), engine.buffers[v2].copy()
    pos = float(engine.pos[v1])
    rig.feed(mido.Message("control_change", channel=1, control=74, value=127))   # slide up: x + 1
    assert pump(engine, lambda: engine.own_morph[v1] and engine.swap_left[v1] == 0)
    settle(engine, rig.renderer)
    assert not np.array_equal(engine.buffers[v1], before1)
    assert np.array_equal(engine.buffers[v2], before2) and not engine.own_morph[v2]
    assert engine.state[v1] == HELD and engine.pos[v1] > pos     # played on from where it was
    note = rig.controls.voices.note(1, 60, rig.mapper._member_notes[1][1])
    morph, _ = note.wanted
    assert morph.weights == pytest.approx(pad_weights(4, 1.0, 0.5))   # x 0.5 + 1, clamped to the edge
    assert rig.renderer.morph.weights == pytest.approx((0.25,) * 4)   # the live morph did not move
    # The slide's render is that morph's note: the same audio a fresh render of it gives.
    expected = rig.renderer.render_batch([(rig.renderer.check_morph(morph), 60, 100)])[0]
    assert np.allclose(engine.buffers[v1], expected.audio, atol=1e-4)


def test_mpe_pressure_on_a_knob_moves_the_note_and_gain_stays_untouched(midi_rig):
    rig = midi_rig(mpe_slide="none", mpe_pressure="knob1")
    engine = rig.engine
    v1, v2 = two_mpe_notes(rig)
    before2 = engine.buffers[v2].copy()
    rig.feed(mido.Message("polytouch", channel=2, note=64, value=127))
    assert pump(engine, lambda: engine.own_morph[v2] and engine.swap_left[v2] == 0)
    settle(engine, rig.renderer)
    assert not np.array_equal(engine.buffers[v2], before2) and not engine.own_morph[v1]
    assert engine.channel_pressure[2] == 1.0 and engine.amp[v2] == pytest.approx(1.0)
    morph, _ = rig.controls.voices.note(2, 64, rig.mapper._member_notes[2][1]).wanted
    assert morph.knobs[1] == pytest.approx(3.0) and not any(rig.renderer.morph.knobs)


def test_mpe_pressure_scales_gain_by_default_and_slide_none_leaves_cc74_to_the_cc_map(midi_rig):
    rig = midi_rig(mpe_slide="none")
    v1, v2 = two_mpe_notes(rig)
    rig.feed(mido.Message("aftertouch", channel=2, value=127),
             mido.Message("control_change", channel=1, control=74, value=127))
    pump(rig.engine, lambda: False, timeout=0.05)
    assert rig.engine.channel_pressure[2] == pytest.approx(1.5)
    assert rig.renderer.morph.knobs[0] == pytest.approx(3.0)            # cc_map 74 -> knob0, every note
    assert rig.controls.voices.renders == 0 and not rig.engine.own_morph.any()


def test_a_stream_of_slides_renders_only_the_newest_once_the_render_in_flight_is_done(midi_rig):
    rig = midi_rig(mpe_slide="knob0")
    v1, _ = two_mpe_notes(rig)
    done = rig.renderer.queue.rendered
    # Hold the worker inside the first slide's render while 40 more slides arrive.
    with rig.renderer._library_lock:
        for value in range(70, 111):
            rig.feed(mido.Message("control_change", channel=1, control=74, value=value))
        assert rig.controls.voices.renders == 1
    settle(rig.engine, rig.renderer)
    assert pump(rig.engine, lambda: rig.engine.swap_left[v1] == 0)
    assert rig.controls.voices.renders == 2 and rig.renderer.queue.rendered - done == 2
    morph, _ = rig.controls.voices.note(1, 60, rig.mapper._member_notes[1][1]).wanted
    assert morph.knobs[0] == pytest.approx((110 - 64) / 63 * 3.0)       # the last slide's offset


def test_a_note_struck_after_its_channel_slid_starts_from_that_slide(midi_rig):
    rig = midi_rig(mpe_slide="y")
    rig.feed(mido.Message("control_change", channel=4, control=74, value=0),     # before the note
             mido.Message("note_on", channel=4, note=62, velocity=100))
    assert pump(rig.engine, lambda: rig.engine.own_morph.any())
    v = voice_on(rig.engine, 4)
    morph, _ = rig.controls.voices.note(4, 62, rig.mapper._member_notes[4][1]).wanted
    assert morph.weights == pytest.approx(pad_weights(4, 0.5, 0.0)) and rig.engine.own_morph[v]


@pytest.mark.parametrize("follow", [True, False], ids=["follow", "keep"])
def test_moving_the_pad_moves_sounding_notes_when_following_and_none_when_keeping(midi_rig, follow):
    rig = midi_rig(follow=follow, mpe_slide="knob0")
    engine = rig.engine
    v1, v2 = two_mpe_notes(rig)
    rig.feed(mido.Message("control_change", channel=1, control=74, value=127))   # note 60: knob0 + 3
    assert pump(engine, lambda: engine.own_morph[v1] and engine.swap_left[v1] == 0)
    settle(engine, rig.renderer)
    slid, plain = engine.buffers[v1].copy(), engine.buffers[v2].copy()
    rig.feed(mido.Message("control_change", channel=0, control=1, value=0))       # the pad: x -> 0
    settle(engine, rig.renderer)
    assert pump(engine, lambda: engine.swap_left[v1] == 0 and engine.swap_left[v2] == 0)
    assert rig.renderer.morph.weights == pytest.approx(pad_weights(4, 0.0, 0.5))
    morph, _ = rig.controls.voices.note(1, 60, rig.mapper._member_notes[1][1]).wanted
    if follow:
        # Both moved: the plain note to the live morph, the slid one to the live morph + its slide.
        assert not np.array_equal(engine.buffers[v2], plain) and not np.array_equal(engine.buffers[v1], slid)
        assert np.array_equal(engine.buffers[v2], rig.renderer.lookup(64, 100).audio)
        assert morph.weights == pytest.approx(pad_weights(4, 0.0, 0.5)) and morph.knobs[0] == pytest.approx(3.0)
    else:
        # Neither changed; a slide now moves from the morph the note was struck with.
        assert np.array_equal(engine.buffers[v2], plain) and np.array_equal(engine.buffers[v1], slid)
        rig.feed(mido.Message("control_change", channel=1, control=74, value=0))
        settle(engine, rig.renderer)
        morph, _ = rig.controls.voices.note(1, 60, rig.mapper._member_notes[1][1]).wanted
        assert morph.weights == pytest.approx((0.25,) * 4) and morph.knobs[0] == pytest.approx(-3.0)
        assert np.array_equal(engine.buffers[v2], plain)
    assert engine.state[v1] == HELD and engine.state[v2] == HELD


@pytest.mark.parametrize("follow", [True, False], ids=["follow", "keep"])
def test_a_note_whose_render_finished_after_the_morph_moved_catches_up_only_when_following(midi_rig, follow):
    rig = midi_rig(follow=follow)
    engine, renderer = rig.engine, rig.renderer
    with renderer._library_lock:              # the note's render waits while the pad moves
        rig.controls.note_on(67, 100)
        rig.controls.set_xy(1.0, 1.0)
    assert pump(engine, lambda: engine.active_voices() == 1)
    settle(engine, renderer)
    (v,) = np.flatnonzero(engine.state == HELD)
    pump(engine, lambda: engine.swap_left[v] == 0)
    live = renderer.lookup(67, 100)           # the note of the pad's new place
    assert (live is not None and np.array_equal(engine.buffers[v], live.audio)) == follow


def test_a_released_note_that_faded_out_is_not_rendered_when_the_morph_moves(midi_rig):
    rig = midi_rig(mpe_slide="x")
    v1, _ = two_mpe_notes(rig)
    rig.feed(mido.Message("control_change", channel=1, control=74, value=127))
    assert pump(rig.engine, lambda: rig.engine.own_morph[v1] and rig.engine.swap_left[v1] == 0)
    settle(rig.engine, rig.renderer)
    rig.feed(mido.Message("note_off", channel=1, note=60))
    assert pump(rig.engine, lambda: rig.engine.active_voices() == 1)   # 50 ms release, then gone
    renders = rig.controls.voices.renders
    rig.controls.set_xy(0.0, 0.0)
    settle(rig.engine, rig.renderer)
    assert rig.controls.voices.renders == renders and len(rig.controls.voices) == 1


def test_a_slide_after_note_off_leaves_the_releasing_note_alone(midi_rig):
    rig = midi_rig(mpe_slide="x")
    v1, _ = two_mpe_notes(rig)
    rig.feed(mido.Message("note_off", channel=1, note=60),
             mido.Message("control_change", channel=1, control=74, value=127))
    pump(rig.engine, lambda: False, timeout=0.05)
    assert rig.controls.voices.renders == 0 and not rig.engine.own_morph[v1]


@pytest.mark.jack
def test_mpe_slide_over_an_rtmidi_virtual_port_moves_only_its_note(jack_server, tiny_parts, tmp_path):
    cfg = null_serve_config(tmp_path, midi_port="virtual")
    cfg.midi.api = "UNIX_JACK"
    cfg.midi.client_name = "morphsynth-mpe"
    cfg.midi.mpe_slide = "x"
    renderer = neural_renderer(*tiny_parts)
    server = SynthServer(cfg, renderer).start()
    engine = server.engine
    try:
        backend = mido.Backend("mido.backends.rtmidi", api="UNIX_JACK", load=True)
        name = next(n for n in backend.get_output_names() if "morphsynth-mpe" in n)
        with backend.open_output(name) as port:
            time.sleep(0.1)
            port.send(mido.Message("note_on", channel=1, note=60, velocity=100))
            port.send(mido.Message("note_on", channel=2, note=64, velocity=100))
            wait = time.monotonic() + 30
            while engine.active_voices() < 2 and time.monotonic() < wait:
                time.sleep(0.01)
            assert renderer.queue.wait_idle(60)
            v1, v2 = voice_on(engine, 1), voice_on(engine, 2)
            slot1, slot2 = int(engine.voice_slot[v1]), int(engine.voice_slot[v2])
            port.send(mido.Message("control_change", channel=1, control=74, value=127))
            wait = time.monotonic() + 30
            while not (engine.own_morph[v1] and engine.swap_left[v1] == 0) and time.monotonic() < wait:
                time.sleep(0.01)
        assert engine.own_morph[v1] and int(engine.voice_slot[v1]) != slot1   # a new note in the pool
        assert not engine.own_morph[v2] and int(engine.voice_slot[v2]) == slot2
        assert engine.state[v1] == HELD and engine.state[v2] == HELD
    finally:
        server.stop()


# ---------------------------------------------------------------------- OSC

@pytest.fixture
def osc_rig(tiny_parts, tmp_path):
    server = SynthServer(null_serve_config(tmp_path), neural_renderer(*tiny_parts))
    yield server
    server.stop()


def send(server, address, *args):
    sender = CollectingSender()
    server.osc.feed(build_message(address, *args), sender)
    return sender.replies


@pytest.mark.parametrize("args,reason", [
    ((60, "z", 0.5), "axis: 'z' is not x, y or knob0..knob7"),
    ((60, "knob8", 0.5), "axis: 'knob8' is not x, y or knob0..knob7"),
    ((60, "x", 2.0), "offset: 2.0 along x is outside -1..1"),
    ((60, "knob0", 5.0), "offset: 5.0 is outside -4..4"),
    ((60, 3, 0.5), "axis: expected a string"),
])
def test_note_morph_with_a_bad_axis_or_offset_fails_in_one_line(osc_rig, args, reason):
    (reply,) = send(osc_rig, "/note/morph", *args)
    assert reply[:2] == ("/fail", "/note/morph") and reason in reply[2] and "\n" not in reply[2]


def test_note_morph_moves_one_note_of_two_by_its_id_and_morph_follow_switches_modes(osc_rig):
    engine, renderer = osc_rig.engine, osc_rig.renderer
    assert send(osc_rig, "/note/on", 60, 100, 1) == [] and send(osc_rig, "/note/on", 60, 100, 2) == []
    assert pump(engine, lambda: engine.active_voices() == 2)
    settle(engine, renderer)
    (a,) = np.flatnonzero(engine.note_id == 1)
    (b,) = np.flatnonzero(engine.note_id == 2)
    before = engine.buffers[b].copy()
    assert send(osc_rig, "/note/morph", 60, "knob2", -2.5, 1) == []
    assert pump(engine, lambda: engine.own_morph[a] and engine.swap_left[a] == 0)
    settle(engine, renderer)
    assert not engine.own_morph[b] and np.array_equal(engine.buffers[b], before)
    assert send(osc_rig, "/note/morph", 61, "x", 0.5) == []        # no such note: nothing moves
    assert send(osc_rig, "/morph/follow", 0) == [] and osc_rig.controls.follow is False
    assert send(osc_rig, "/morph/xy", 1.0, 1.0) == []
    settle(engine, renderer)
    assert np.array_equal(engine.buffers[b], before)               # keep: the pad moved, the note did not
    assert send(osc_rig, "/morph/follow", 1) == [] and osc_rig.controls.follow is True


# ---------------------------------------------------------------------- config

@pytest.mark.parametrize("text, needle", [
    ("midi:\n  mpe_slide: z\n", "midi.mpe_slide: 'z' is not x, y, knob0"),
    ("midi:\n  mpe_slide: gain\n", "midi.mpe_slide: 'gain' is not x, y"),
    ("midi:\n  mpe_pressure: knob9\n", "midi.mpe_pressure: 'knob9' is not gain, x, y, knob0"),
    ("midi:\n  mpe_pressure: 3\n", "midi.mpe_pressure: expected str"),
])
def test_bad_mpe_axis_settings_give_one_line_error_naming_the_key(tmp_path, text, needle):
    path = tmp_path / "serve.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, ServeConfig)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_the_shipped_defaults_slide_on_knob0_and_press_on_gain():
    from morphsynth.server.server_config import load_serve_config

    midi = load_serve_config().midi
    assert (midi.mpe_slide, midi.mpe_pressure) == ("knob0", "gain")
