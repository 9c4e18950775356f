"""The command ring: how control threads tell the audio callback what to do.

A preallocated single-consumer ring of fixed-size commands. Producers (OSC, MIDI, the
renderer's worker) serialise among themselves with a lock the consumer never takes;
the consumer (the audio callback) reads without locking, because a command becomes
visible only when the write index moves past it, and that index is written last. Every
field, the indices included, is a numpy array, so that a split engine can put the ring
in shared memory and the consumer can run in another process.
"""

from __future__ import annotations

import math
import threading
from typing import Callable

import numpy as np

from morphsynth.core.errors import MorphsynthError

# Command kinds.
NOTE_ON, NOTE_OFF, SUSTAIN, BEND, NOTE_BEND, PRESSURE, PANIC, ADSR, GAIN, RETARGET = range(10)
# Integer arguments: pitch, channel, note id, note velocity, morph generation; for a
# pooled note also its pool slot, length, loop start and loop end.
N_INTS = 9
N_FLOATS = 4
WRITE, READ = 0, 1


class CommandRing:
    """``size`` command slots: ``kind [size]`` int32, ``ints [size, 9]`` int64, ``floats
    [size, 4]`` float64, ``index [2]`` int64 (write, read: counts, not slots) and, in one
    process only, an object per slot (the note a command plays)."""

    def __init__(self, size: int):
        self.size = int(size)
        self.kind = np.zeros(self.size, np.int32)
        self.ints = np.zeros((self.size, N_INTS), np.int64)
        self.floats = np.zeros((self.size, N_FLOATS), np.float64)
        self.index = np.zeros(2, np.int64)
        self.objects: list[object] = [None] * self.size
        self._produce = threading.Lock()

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields a split engine shares, by name."""
        return {"ring_kind": self.kind, "ring_ints": self.ints, "ring_floats": self.floats,
                "ring_index": self.index}

    def bind(self, arrays: dict[str, np.ndarray]) -> None:
        """Use the shared ``arrays`` (named as in :meth:`arrays`) from now on."""
        self.kind, self.ints = arrays["ring_kind"], arrays["ring_ints"]
        self.floats, self.index = arrays["ring_floats"], arrays["ring_index"]

    @property
    def written(self) -> int:
        return int(self.index[WRITE])

    @property
    def done(self) -> int:
        return int(self.index[READ])

    # ------------------------------------------------------------------ producers

    def push(self, kind: int, ints=(0, 0, 0), floats=(0.0, 0.0, 0.0, 0.0), obj=None,
             place: Callable[[object, int, int], tuple | None] | None = None) -> bool:
        """Queue one command; False when the ring is full (or ``place`` refused).

        place: for a split engine, ``place(obj, write_index, read_index)`` copies the
        command's note where the other process can read it and returns the integer
        arguments that name it (appended to ``ints``), or None when there is no room; it
        runs under the producers' lock, so the indices it sees stay valid.
        """
        for x in floats:
            # NaN/inf would reach read positions and gains in the audio thread: refuse it here.
            if not math.isfinite(x):
                raise MorphsynthError(f"engine: {x} is not a finite value")
        with self._produce:
            w = int(self.index[WRITE])
            read = int(self.index[READ])
            if w - read >= self.size:
                return False
            if place is not None and obj is not None:
                named = place(obj, w, read)
                if named is None:
                    return False
                ints = (*ints, *named)
                obj = None
            slot = w % self.size
            self.kind[slot] = kind
            self.ints[slot, :len(ints)] = ints
            self.floats[slot] = floats
            self.objects[slot] = obj
            # Publishing the index last makes the filled slot visible to the consumer.
            self.index[WRITE] = w + 1
            return True

    # ------------------------------------------------------------------ the consumer

    def next_slot(self) -> int:
        """The slot of the oldest unread command, or -1 when none waits."""
        read = int(self.index[READ])
        if read >= int(self.index[WRITE]):
            return -1
        return read % self.size

    def advance(self) -> None:
        """Mark the command of :meth:`next_slot` as done."""
        self.index[READ] = int(self.index[READ]) + 1
