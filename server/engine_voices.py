"""The voices' fields and the choice of a voice slot.

One spec, :data:`VOICE_FIELDS` and :data:`CHANNEL_FIELDS`, from which the engine
allocates its per-voice and per-channel arrays and from which the memory a split engine
shares is laid out: a field added here exists on both sides, with the same dtype and
initial value, without a second list to keep in step.

:class:`VoiceSlots` picks the slot a new voice plays in (a free one, or the one to
steal) with preallocated masks, since the audio callback does it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from morphsynth.server.envelope import DONE

# Voice states.
FREE, HELD, RELEASED, STOLEN = 0, 1, 2, 3
N_CHANNELS = 16


@dataclass(frozen=True)
class Field:
    """One array of the voice table: ``[rows]``, or ``[rows, width]`` when width > 0."""

    name: str
    dtype: str
    fill: float
    doc: str
    width: int = 0

    def shape(self, rows: int) -> tuple[int, ...]:
        return (rows, self.width) if self.width else (rows,)

    def allocate(self, rows: int) -> np.ndarray:
        return np.full(self.shape(rows), self.fill, np.dtype(self.dtype))


VOICE_FIELDS = (
    Field("state", "int8", FREE, "FREE, HELD, RELEASED or STOLEN"),
    Field("stage", "int8", DONE, "envelope stage (envelope.ATTACK .. DONE)"),
    Field("env", "float64", 0.0, "envelope level at the start of the next block"),
    Field("release_step", "float64", 0.0, "level lost per sample while releasing or fading"),
    Field("pos", "float64", 0.0, "read position in the note, samples"),
    Field("base_rate", "float64", 1.0, "note sample rate over the output rate"),
    Field("rate", "float64", 1.0, "playback rate at the end of the last block (bend included)"),
    Field("bend", "float64", 0.0, "smoothed bend, semitones"),
    Field("note_bend", "float64", 0.0, "this voice's own bend target, semitones"),
    Field("amp", "float64", 1.0, "smoothed channel pressure"),
    Field("level", "float64", 1.0, "the note's velocity level"),
    Field("pitch", "int32", -1, "MIDI key"),
    Field("note_id", "int64", -1, "the client's note id, -1 for none"),
    Field("channel", "int32", 0, "MIDI channel"),
    Field("started", "int64", 0, "order of note-on (for stealing the oldest)"),
    Field("released_at", "int64", 0, "order of release (for stealing the oldest released)"),
    Field("sustained", "bool", False, "released while the pedal is down"),
    Field("looping", "bool", False, "has wrapped at loop_end at least once"),
    Field("length", "int64", 0, "samples in the note's buffer"),
    Field("loop_start", "int64", 0, "loop start, samples"),
    Field("loop_end", "int64", 0, "loop end, samples"),
    Field("xfade", "int64", 1, "loop crossfade length, samples"),
    Field("voice_slot", "int32", -1, "the note-pool slot the voice plays (split engine)"),
    Field("note_vel", "int32", 0, "the library velocity of the note played"),
    Field("note_gen", "int64", 0, "the morph generation the note was rendered for"),
    # A voice given a render of a morph of its own (MPE slide or pressure on a morph axis)
    # is moved only by retargets that name it, so a morph change does not undo its offset.
    Field("own_morph", "bool", False, "plays a render of its own morph, not the key's"),
    # A sounding voice retargeted to a new render of its key (the morph moved) plays on
    # from the same position and crossfades from its previous buffer over swap_frames; a
    # retarget that arrives during a crossfade waits as the pending note.
    Field("swap_left", "int64", 0, "frames of the crossfade to a new render still to play"),
    Field("prev_slot", "int32", -1, "pool slot of the buffer faded out"),
    Field("pend_slot", "int32", -1, "pool slot of the pending note"),
    Field("pend_length", "int64", 0, "length of the pending note"),
    Field("pend_loop", "int64", 0, "loop start and end of the pending note", width=2),
)

CHANNEL_FIELDS = (
    Field("channel_bend", "float64", 0.0, "pitch bend, semitones (channel 0's adds to all)"),
    Field("channel_pressure", "float64", 1.0, "pressure as an amplitude"),
    Field("sustain_on", "bool", False, "the sustain pedal is down"),
)


def allocate(fields: Iterable[Field], rows: int) -> dict[str, np.ndarray]:
    """``{name: array}`` of ``fields``, each ``[rows]`` (or ``[rows, width]``) at its fill value."""
    return {f.name: f.allocate(rows) for f in fields}


class VoiceSlots:
    """Choosing a slot for a voice among ``n_slots``, without allocating.

    Every method takes the current ``state [n_slots]`` (the arrays move into shared
    memory when the engine is split, so none is kept here).
    """

    def __init__(self, n_slots: int):
        self.n_slots = int(n_slots)
        self.slots = np.arange(n_slots, dtype=np.int64)
        self._mask = np.zeros(n_slots, np.bool_)
        self._mask2 = np.zeros(n_slots, np.bool_)
        self._key = np.zeros(n_slots, np.int64)
        self._arg = np.array(0, np.int64)           # argmin / argmax result
        self._int_max = np.array(np.iinfo(np.int64).max, np.int64)
        self._free, self._held = np.array(FREE, np.int8), np.array(HELD, np.int8)
        self._released, self._stolen = np.array(RELEASED, np.int8), np.array(STOLEN, np.int8)

    def count_sounding(self, state: np.ndarray) -> int:
        """Voices held or releasing (stolen ones fading do not count)."""
        held, released = self._mask, self._mask2
        np.equal(state, self._held, out=held)
        np.equal(state, self._released, out=released)
        return np.count_nonzero(held) + np.count_nonzero(released)

    def first_free(self, state: np.ndarray) -> int:
        """The lowest FREE slot, or -1 when none is."""
        free = self._mask
        np.equal(state, self._free, out=free)
        v = int(np.argmax(free, out=self._arg))
        return v if free[v] else -1

    def oldest(self, state: np.ndarray, which: np.ndarray, key: np.ndarray) -> int:
        """The slot in state ``which`` (a 0-d int8 array) with the smallest ``key``
        ``[n_slots]``, the lowest such slot on ties; -1 when no slot is in ``which``."""
        other = self._mask
        np.not_equal(state, which, out=other)
        if np.count_nonzero(other) == self.n_slots:
            return -1
        keys = self._key
        np.copyto(keys, key)
        np.copyto(keys, self._int_max, where=other)
        return int(np.argmin(keys, out=self._arg))

    def victim(self, state: np.ndarray, released_at: np.ndarray, started: np.ndarray) -> int:
        """The voice to steal: the oldest released one, else the oldest held one."""
        v = self.oldest(state, self._released, released_at)
        return v if v >= 0 else self.oldest(state, self._held, started)

    def oldest_stolen(self, state: np.ndarray, started: np.ndarray) -> int:
        """The longest-fading stolen voice (when every slot is busy, its fade is cut short)."""
        return self.oldest(state, self._stolen, started)

    def indices(self, mask: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Positions of the True entries of ``mask`` ``[m]`` in ascending order, as a view
        ``[count]`` of ``out`` ``[>= m]``: np.flatnonzero without its new array."""
        m = mask.shape[0]
        pos = out[:m]
        np.copyto(pos, self._int_max)
        np.copyto(pos, self.slots[:m], where=mask)
        pos.sort()
        return pos[:np.count_nonzero(mask)]
