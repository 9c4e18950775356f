"""Memory shared by the engine's two sides when the audio callback runs in its own process.

The control side (OSC, MIDI, renderer threads) and the audio side (the callback) of one
:class:`~morphsynth.server.engine.Engine` can live in two processes, so the callback never
waits for the interpreter lock that OSC parsing and rendering hold. Everything both sides
read -- the command ring, its indices, the voices' state, the counters ``/status`` reports --
is a numpy array laid out in one :class:`SharedArrays` mapping, and the notes that voices
play are copied once into the fixed slots of a :class:`NotePool` mapping.

Both mappings are files under ``/dev/shm`` (a temporary folder elsewhere), unlinked as
soon as they are made and handed to the audio process as open descriptors: no
shared-memory tracker is involved and nothing is left behind however a process ends.
"""

from __future__ import annotations

import mmap
import os
import tempfile
import weakref
from dataclasses import dataclass

import numpy as np

from morphsynth.core.errors import MorphsynthError

_ALIGN = 64  # a cache line: no two arrays share one


def _shm_dir() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


class SharedFile:
    """A file mapped read-write, known by its open descriptor only.

    ``create`` makes, sizes and at once unlinks it: no name is left behind however the
    processes end, and the memory lives while a process keeps the descriptor or the
    mapping. An audio process gets the descriptor (``subprocess.Popen(pass_fds=...)``) and
    ``attach``-es to it.
    """

    def __init__(self, fd: int, size: int, owner: bool):
        self.fd = fd
        self.size = size
        self.owner = owner
        self.map = mmap.mmap(fd, size)
        # The owner's descriptor closes when it is collected, if not before.
        self._close = weakref.finalize(self, os.close, fd) if owner else None

    @classmethod
    def create(cls, size: int, prefix: str) -> "SharedFile":
        fd, path = tempfile.mkstemp(prefix=prefix, dir=_shm_dir())
        os.unlink(path)
        try:
            os.ftruncate(fd, max(1, size))
        except OSError as exc:
            os.close(fd)
            raise MorphsynthError(f"audio: cannot make {size >> 20} MB of shared memory ({exc})") from None
        return cls(fd, max(1, size), owner=True)

    @classmethod
    def attach(cls, fd: int, size: int) -> "SharedFile":
        return cls(fd, size, owner=False)

    def close(self) -> None:
        """Close the descriptor (the owner's); the mappings stay valid."""
        if self._close is not None:
            self._close()


class SharedArrays:
    """Named arrays at fixed offsets of one shared file.

    ``layout``: ``{name: (shape, dtype)}``, the same on both sides.
    """

    def __init__(self, layout: dict[str, tuple[tuple[int, ...], str]], file: SharedFile):
        self.layout = layout
        self.file = file
        self.arrays: dict[str, np.ndarray] = {}
        for name, (offset, shape, dtype) in self._offsets(layout)[0].items():
            count = int(np.prod(shape)) if shape else 1
            self.arrays[name] = np.frombuffer(file.map, dtype=dtype, count=count, offset=offset).reshape(shape)

    @staticmethod
    def _offsets(layout):
        table, offset = {}, 0
        for name, (shape, dtype) in layout.items():
            offset = -(-offset // _ALIGN) * _ALIGN
            table[name] = (offset, tuple(shape), np.dtype(dtype))
            offset += int(np.prod(shape)) * np.dtype(dtype).itemsize
        return table, offset

    @classmethod
    def create(cls, layout) -> "SharedArrays":
        return cls(layout, SharedFile.create(cls._offsets(layout)[1], "morphsynth-engine-"))

    @classmethod
    def attach(cls, layout, fd: int) -> "SharedArrays":
        return cls(layout, SharedFile.attach(fd, max(1, cls._offsets(layout)[1])))


@dataclass
class PoolNote:
    """What a voice needs of a note, pointing into a pool slot (the audio side's view)."""

    audio: np.ndarray
    loop_start: int = 0
    loop_end: int = 0


class NotePool:
    """Fixed slots of float32 audio that voices play from, shared by both sides.

    The control side copies a note in once (:meth:`place`) and reuses its slot while the
    same note object is played again; a slot is overwritten only when no voice plays it
    and no command that names it waits in the ring. The audio side reads through
    :meth:`view`, which only makes a view (no copy, no data allocation).
    """

    def __init__(self, n_slots: int, slot_samples: int, file: SharedFile):
        self.n_slots = int(n_slots)
        self.slot_samples = int(slot_samples)
        self.file = file
        self.audio = np.frombuffer(file.map, np.float32, count=self.n_slots * self.slot_samples
                                   ).reshape(self.n_slots, self.slot_samples)     # [slots, samples]
        # Control side only.
        self._slot_of: dict[int, int] = {}          # id(note) -> slot
        self._note_in: list[object | None] = [None] * self.n_slots  # keeps each id alive
        self._named_at = np.full(self.n_slots, -1, np.int64)   # ring index of the last command
        self._used_at = np.zeros(self.n_slots, np.int64)       # LRU clock
        self._clock = 0
        self._busy = np.zeros(self.n_slots, np.bool_)
        # Audio side only: one reusable record per slot.
        self._views = [PoolNote(self.audio[i]) for i in range(self.n_slots)]

    @classmethod
    def create(cls, n_slots: int, slot_samples: int) -> "NotePool":
        return cls(n_slots, slot_samples,
                   SharedFile.create(n_slots * slot_samples * 4, "morphsynth-notes-"))

    @classmethod
    def attach(cls, fd: int, n_slots: int, slot_samples: int) -> "NotePool":
        return cls(n_slots, slot_samples, SharedFile.attach(fd, n_slots * slot_samples * 4))

    def place(self, note, write_index: int, read_index: int, voice_state: np.ndarray,
              voice_slots: tuple[np.ndarray, ...]) -> int:
        """Control side, under the producers' lock: the slot holding ``note.audio``, or -1
        when every slot is playing or named by a waiting command. ``voice_slots``: the
        per-voice slot arrays whose slots are in use (played, faded out, pending)."""
        audio = note.audio
        if audio.shape[0] > self.slot_samples:
            raise MorphsynthError(f"note: {audio.shape[0]} samples do not fit the engine's note "
                                  f"slots ({self.slot_samples})")
        self._clock += 1
        slot = self._slot_of.get(id(note), -1)
        if slot < 0 or self._note_in[slot] is not note:
            slot = self._free_slot(read_index, voice_state, voice_slots)
            if slot < 0:
                return -1
            old = self._note_in[slot]
            if old is not None:
                self._slot_of.pop(id(old), None)
            self.audio[slot, :audio.shape[0]] = audio
            self._note_in[slot] = note
            self._slot_of[id(note)] = slot
        self._named_at[slot] = write_index
        self._used_at[slot] = self._clock
        return slot

    def _free_slot(self, read_index: int, voice_state: np.ndarray, voice_slots: tuple[np.ndarray, ...]) -> int:
        busy = self._busy
        busy.fill(False)
        # The audio side sets a voice's slot before it advances the read index, so a
        # command already read has its voice visible here.
        sounding = voice_state != 0
        for voice_slot in voice_slots:
            busy[voice_slot[sounding & (voice_slot >= 0)]] = True
        busy |= self._named_at >= read_index
        free = np.flatnonzero(~busy)
        if free.size == 0:
            return -1
        return int(free[np.argmin(self._used_at[free])])

    def view(self, slot: int, length: int, loop_start: int, loop_end: int) -> PoolNote:
        """Audio side: the slot's note as a :class:`PoolNote` (reused object)."""
        note = self._views[slot]
        note.audio = self.audio[slot, :length]
        note.loop_start = loop_start
        note.loop_end = loop_end
        return note
