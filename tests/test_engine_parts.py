"""The engine's named parts on their own: the note protocol, the voice-field spec, the
command ring, the envelope and the mixer's one linear interpolation."""

import numpy as np
import pytest

from morphsynth.core.errors import MorphsynthError
from morphsynth.server.engine import Engine, Note, PlayableNote
from morphsynth.server.engine_memory import PoolNote
from morphsynth.server.engine_mixer import Mixer
from morphsynth.server.engine_ring import NOTE_OFF, NOTE_ON, CommandRing
from morphsynth.server.engine_voices import CHANNEL_FIELDS, N_CHANNELS, VOICE_FIELDS, VoiceSlots
from morphsynth.server.envelope import ATTACK, DECAY, DONE, RELEASE, SUSTAIN, Adsr, advance
from morphsynth.server.renderer import RenderedNote


def test_rendered_and_pooled_notes_both_satisfy_the_note_protocol():
    audio = np.zeros(1000, np.float32)
    rendered = RenderedNote(audio, 16000, 800, 100, 600, pitch=60, velocity=100)
    pooled = PoolNote(audio, 100, 600)
    assert isinstance(rendered, Note) and isinstance(rendered, PlayableNote)
    assert isinstance(pooled, Note)
    assert not isinstance(pooled, PlayableNote)     # note_on needs a rate and a hold end
    assert not isinstance(object(), Note)


def test_every_field_of_the_spec_is_allocated_with_its_dtype_and_fill_and_shared():
    eng = Engine(sample_rate=48000, polyphony=8, max_block=256)
    for field, rows in [(f, eng.n_slots) for f in VOICE_FIELDS] + [(f, N_CHANNELS) for f in CHANNEL_FIELDS]:
        array = getattr(eng, field.name)
        assert array.dtype == np.dtype(field.dtype), field.name
        assert array.shape == field.shape(rows), field.name
        assert np.all(array == field.fill), field.name
    layout = eng.shared_layout()
    assert {f.name for f in (*VOICE_FIELDS, *CHANNEL_FIELDS)} <= set(layout)
    assert {"ring_kind", "ring_ints", "ring_floats", "ring_index", "counters"} <= set(layout)
    arrays, _pool = eng.share_memory(1000, spare_note_slots=2)
    in_use = eng._shared_arrays()
    assert set(in_use) == set(layout)
    for name, array in in_use.items():
        assert np.shares_memory(array, arrays.arrays[name]), name
    assert np.shares_memory(eng.state, arrays.arrays["state"]) and np.shares_memory(eng.ring.index, arrays.arrays["ring_index"])


def test_an_engine_attached_to_another_layout_is_refused():
    eng = Engine(sample_rate=48000, polyphony=8, max_block=256)
    arrays, pool = eng.share_memory(1000, spare_note_slots=2)
    with pytest.raises(MorphsynthError, match="shared 'state'"):
        Engine(sample_rate=48000, polyphony=16, max_block=256, shared=(arrays, pool))


def test_the_ring_hands_commands_over_in_order_and_refuses_when_full():
    ring = CommandRing(4)
    for pitch in range(4):
        assert ring.push(NOTE_ON, (60 + pitch, 0, -1), (1.0, 0.5, 0.0, 0.0), obj=f"note {pitch}")
    assert not ring.push(NOTE_OFF, (60, 0, -1))
    assert (ring.written, ring.done) == (4, 0)
    got = []
    while (slot := ring.next_slot()) >= 0:
        got.append((int(ring.kind[slot]), int(ring.ints[slot, 0]), ring.objects[slot]))
        ring.advance()
    assert got == [(NOTE_ON, 60 + i, f"note {i}") for i in range(4)]
    assert ring.push(NOTE_OFF, (61, 0, -1)) and ring.next_slot() == 0
    with pytest.raises(MorphsynthError, match="not a finite value"):
        ring.push(NOTE_ON, floats=(float("nan"), 0.0, 0.0, 0.0))


def test_a_placed_note_travels_by_the_integers_place_returns():
    ring = CommandRing(4)
    assert ring.push(NOTE_ON, (60, 0, -1, 100, 0), obj="note", place=lambda note, w, r: (7, 1000, 10, 900))
    slot = ring.next_slot()
    assert ring.objects[slot] is None and ring.ints[slot].tolist() == [60, 0, -1, 100, 0, 7, 1000, 10, 900]
    assert not ring.push(NOTE_ON, obj="note", place=lambda note, w, r: None)


def test_the_envelope_rises_decays_holds_and_releases_linearly():
    adsr, sr = Adsr(attack=0.01, decay=0.02, sustain=0.5, release=0.1), 1000
    level, stage = advance(0.0, ATTACK, 5, adsr, sr, 0.0)
    assert (level, stage) == (pytest.approx(0.5), ATTACK)
    level, stage = advance(level, stage, 5, adsr, sr, 0.0)
    assert (level, stage) == (pytest.approx(1.0), DECAY)
    level, stage = advance(level, stage, 30, adsr, sr, 0.0)
    assert (level, stage) == (0.5, SUSTAIN)
    level, stage = advance(level, RELEASE, 50, adsr, sr, 0.5 / 100)
    assert (level, stage) == (pytest.approx(0.25), RELEASE)
    assert advance(level, stage, 51, adsr, sr, 0.5 / 100) == (0.0, DONE)


def test_read_linear_interpolates_each_row_from_its_own_buffer_and_is_silent_past_the_end():
    rng = np.random.default_rng(0)
    buffers = [rng.standard_normal(50).astype(np.float32), rng.standard_normal(30).astype(np.float32)]
    n = 64
    idx = np.stack([np.linspace(0.0, 49.5, n), np.linspace(3.25, 40.0, n)])
    last = np.array([49.0, 29.0])
    out = np.zeros((2, n))
    mixer = Mixer(n_slots=4, max_block=n, slots=VoiceSlots(4))
    mixer.read_linear(buffers, idx, last, last.astype(np.int64), out, np.zeros((2, n)), np.zeros((2, n)),
                      np.zeros((2, 2 * n), np.int64), np.zeros((2, 2 * n), np.float32), np.zeros(2, bool))
    for row, buf in enumerate(buffers):
        want = np.interp(idx[row], np.arange(buf.size), buf)
        want[idx[row] > buf.size - 1] = 0.0
        assert np.allclose(out[row], want, atol=1e-6), row
