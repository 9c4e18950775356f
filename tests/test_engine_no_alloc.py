"""The audio callback's mixer allocates no numpy array: after warm-up, ``Engine.process``
creates no array data buffer in any situation (64 voices, loops, stealing, sustain,
bends, pressure, every kind of command in the ring, NaN audio, changing block sizes).

A tracemalloc snapshot only lists memory still held when it is taken, so it cannot see a
temporary that ``process`` makes and frees again. The measurement here therefore installs
a counting allocator through numpy's memory-handler API (NEP 49, ``PyDataMem_SetHandler``):
numpy then asks it for every data buffer it makes, and it records each one with the
Python line that caused it. tracemalloc (numpy traces its buffers under
``np.lib.tracemalloc_domain``) checks in addition that nothing is kept and that the
callback's transient Python memory stays small.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
import tracemalloc

import numpy as np
import pytest

from morphsynth.server.engine import Engine
from morphsynth.server.engine_voices import FREE, HELD, RELEASED, STOLEN
from morphsynth.server.envelope import Adsr
from morphsynth.server.renderer import RenderedNote

SR = 48000
ENGINE_MODULES = ("morphsynth.server.engine", "morphsynth.server.engine_mixer", "morphsynth.server.engine_ring",
                  "morphsynth.server.engine_voices", "morphsynth.server.envelope")
MAX_BLOCK = 2048
# Sizes an audio API may hand the callback, changing from one call to the next.
BLOCK_SIZES = (64, 256, 1024, MAX_BLOCK, 100, 1, 333)


# ---------------------------------------------------------------------- allocation counter

_MALLOC = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_CALLOC = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t)
_REALLOC = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_FREE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)


class _DataMemAllocator(ctypes.Structure):
    """numpy's ``PyDataMemAllocator`` (numpy/ndarraytypes.h)."""

    _fields_ = [("ctx", ctypes.c_void_p), ("malloc", _MALLOC), ("calloc", _CALLOC),
                ("realloc", _REALLOC), ("free", _FREE)]


class _DataMemHandler(ctypes.Structure):
    """numpy's ``PyDataMem_Handler``, version 1."""

    _fields_ = [("name", ctypes.c_char * 127), ("version", ctypes.c_uint8),
                ("allocator", _DataMemAllocator)]


def _array_api_slot(name: str) -> int:
    """Index of ``name`` in numpy's C-API table, read from the installed header."""
    header = os.path.join(np.get_include(), "numpy", "__multiarray_api.h")
    if not os.path.isfile(header):
        pytest.skip(f"numpy's C headers are not installed ({header})")
    with open(header) as f:
        m = re.search(r"#define %s\b[^\n]*\\\n(?:[^\n]*\\\n)*?\s*PyArray_API\[(\d+)\]" % name, f.read())
    assert m, f"{name} not found in {header}"
    return int(m.group(1))


class NumpyAllocations:
    """Counts numpy array data allocations made in this thread inside ``with`` blocks.

    ``allocations`` lists ``(bytes, "file:line function")`` per buffer, the line being the
    innermost Python frame that asked numpy for it. Buffers are served by libc, and freed
    there whenever numpy releases them, also after the ``with`` block.
    """

    def __init__(self):
        self.allocations: list[tuple[int, str]] = []
        libc = ctypes.CDLL(None)
        for fn, res, args in (("malloc", ctypes.c_void_p, [ctypes.c_size_t]),
                              ("calloc", ctypes.c_void_p, [ctypes.c_size_t, ctypes.c_size_t]),
                              ("realloc", ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_size_t]),
                              ("free", None, [ctypes.c_void_p])):
            getattr(libc, fn).restype, getattr(libc, fn).argtypes = res, args

        def record(size):
            frame = sys._getframe(2)    # skip record() and the ctypes callback
            code = frame.f_code
            self.allocations.append((int(size), f"{os.path.basename(code.co_filename)}:{frame.f_lineno} {code.co_name}"))

        def malloc(ctx, size):
            record(size)
            return libc.malloc(max(size, 1))

        def calloc(ctx, nelem, elsize):
            record(nelem * elsize)
            return libc.calloc(max(nelem, 1), max(elsize, 1))

        def realloc(ctx, ptr, size):
            record(size)
            return libc.realloc(ptr, max(size, 1))

        def free(ctx, ptr, size):
            libc.free(ptr)

        # Arrays made through the handler keep a reference to its capsule and free through
        # it later, so everything here lives as long as this object (module-wide below).
        self._handler = _DataMemHandler(b"test_engine_no_alloc counter", 1, _DataMemAllocator(
            None, _MALLOC(malloc), _CALLOC(calloc), _REALLOC(realloc), _FREE(free)))
        self._capsule_name = ctypes.create_string_buffer(b"mem_handler")
        new_capsule = ctypes.pythonapi.PyCapsule_New
        new_capsule.restype = ctypes.py_object
        new_capsule.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        self._capsule = new_capsule(ctypes.addressof(self._handler), ctypes.addressof(self._capsule_name), None)
        try:
            from numpy._core import _multiarray_umath as umath
        except ImportError:          # numpy 1.x
            from numpy.core import _multiarray_umath as umath
        get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
        get_pointer.restype = ctypes.c_void_p
        get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
        table = get_pointer(umath._ARRAY_API, None)
        slot = _array_api_slot("PyDataMem_SetHandler")
        address = ctypes.c_void_p.from_address(table + slot * ctypes.sizeof(ctypes.c_void_p)).value
        self._set_handler = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.py_object)(address)
        self._previous = None

    def __enter__(self):
        self._previous = self._set_handler(self._capsule)
        return self

    def __exit__(self, *exc):
        self._set_handler(self._previous)
        self._previous = None


_COUNTER: NumpyAllocations | None = None


@pytest.fixture
def counter():
    global _COUNTER
    if _COUNTER is None:
        _COUNTER = NumpyAllocations()
    _COUNTER.allocations.clear()
    return _COUNTER


# ---------------------------------------------------------------------- the situations

def short_sine_note(hz: float, seconds: float = 0.6, amp: float = 0.2) -> RenderedNote:
    """A short note whose loop (0.1..0.3 s) is reached within a few dozen blocks."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    return RenderedNote((amp * np.sin(2 * np.pi * hz * t)).astype(np.float32), SR,
                        int(0.4 * SR), int(0.1 * SR), int(0.3 * SR))


def nan_note() -> RenderedNote:
    audio = np.full(int(0.6 * SR), 1e30, np.float32)
    audio[::7] = np.nan
    audio[::11] = np.inf
    return RenderedNote(audio, SR, int(0.4 * SR), int(0.1 * SR), int(0.3 * SR))


def play_round(eng: Engine, block, seen: set[str]) -> None:
    """One pass through every situation; ``block(eng, n)`` runs one callback of ``n`` frames
    and commands are pushed between blocks, as the control threads would."""
    notes = [short_sine_note(110.0 + 7.0 * i) for i in range(24)]
    notes.append(nan_note())
    sizes = iter(BLOCK_SIZES * 1000)

    def run(count, size=None):
        for _ in range(count):
            block(eng, size or next(sizes))
            states = eng.state
            if eng.active_voices() == 64:
                seen.add("64 voices")
            if np.count_nonzero(states != FREE) == eng.n_slots:
                seen.add("every slot busy")
            if np.any(states == STOLEN):
                seen.add("stolen voices fading")
            if np.any(eng.looping & (states == HELD)):
                seen.add("held voices looping")
            if np.any(states == RELEASED):
                seen.add("voices releasing")
            if np.any(eng.sustained & (states == HELD)):
                seen.add("sustained by the pedal")
            if np.any((states == HELD) & (np.abs(eng.rate - eng.base_rate) > 1e-6)):
                seen.add("bent")
            if eng.mixer.limiter < 1.0:
                seen.add("limiter")
            if np.any((eng.swap_left > 0) & (states != FREE)):
                seen.add("crossfading to a new render")
            if np.any(eng.pend_slot >= 0) or any(n is not None for n in eng.pend_notes):
                seen.add("a new render waiting for a crossfade")
            if not np.any(states != FREE):
                seen.add("silence")

    eng.set_adsr(Adsr(0.005, 0.05, 0.7, 0.4))
    eng.set_gain_db(-12.0)
    for i in range(64):
        eng.note_on(36 + i % 48, notes[i % len(notes)], channel=i % 16, note_id=i)
    run(len(BLOCK_SIZES))
    # 40 more in one short block: 32 steal into the spare slots, whose voices are still
    # fading when the last 8 come, so these cut the oldest fades short.
    for i in range(64, 104):
        eng.note_on(36 + i % 48, notes[i % len(notes)], channel=i % 16, note_id=i)
    run(1, size=64)
    eng.set_bend(0.5)
    eng.set_bend(-2.0, channel=3)
    eng.set_note_bend(36 + 50 % 48, 1.0, channel=50 % 16, note_id=50)
    eng.set_pressure(1.5, channel=5)
    eng.set_sustain(True, channel=1)
    # Some releases early, before the loop: these play on to the end of their buffers.
    for i in range(40, 104, 5):
        eng.note_off(36 + i % 48, channel=i % 16, note_id=i)
    run(30)                               # held voices reach loop_end and loop
    # The morph moves: sounding voices of some keys crossfade to new renders of them; one
    # key gets two in a row, the second waiting for the first fade.
    for i in range(0, 48, 3):
        eng.retarget(36 + i, notes[(i + 1) % 24])
    run(1, size=64)
    eng.retarget(36, notes[7])
    eng.retarget(39, notes[9], channel=3, note_id=3)   # one voice to a morph of its own (MPE)
    eng.retarget(39, notes[10])                         # which the key's renders leave alone
    run(6)
    eng.set_adsr(Adsr(0.01, 0.1, 0.5, 0.05))
    eng.set_gain_db(6.0)
    eng.set_bend(-0.5)
    eng.note_on(30, notes[24], channel=2)  # NaN/inf audio: the limiter and the NaN guard
    for i in range(8):
        eng.note_on(90 + i, notes[i], channel=i)    # more stealing while looping
    run(30)
    eng.set_sustain(False, channel=1)
    for i in range(104):
        eng.note_off(36 + i % 48, channel=i % 16, note_id=i)
    run(20)
    eng.set_pressure(0.8, channel=5)
    eng.panic()
    run(12)                               # panic fades, then nothing sounds


def make_engine(shared: bool = False) -> Engine:
    """``shared``: the split engine the audio process runs, ring and voices in shared
    memory, notes read from the shared pool."""
    args = dict(sample_rate=SR, polyphony=64, max_block=MAX_BLOCK, adsr=Adsr(0.005, 0.05, 0.7, 0.4))
    eng = Engine(**args)
    if shared:
        eng.share_memory(SR)
    return eng


def measured_round(eng: Engine, counter: NumpyAllocations, rounds: int = 2):
    """Warm up with one round, then play ``rounds`` more with every callback counted.

    Returns (situations seen, numbers of callbacks, largest transient traced memory of a
    callback in bytes, numpy buffers allocated inside process() and still held at the end).
    """
    out = np.zeros(MAX_BLOCK, np.float32)
    play_round(eng, lambda e, n: e.process(out[:n]), set())
    counter.allocations.clear()
    seen: set[str] = set()
    calls = 0
    transient = 0
    # The engine and its parts: everything process() runs.
    engine_files = [sys.modules[m].__file__ for m in ENGINE_MODULES]
    tracemalloc.start(40)
    try:
        def block(e, n):
            nonlocal calls, transient
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            with counter:
                e.process(out[:n])
            transient = max(transient, tracemalloc.get_traced_memory()[1] - before)
            calls += 1

        for _ in range(rounds):
            play_round(eng, block, seen)
        # One filter at a time: a trace passes a list of inclusive filters if it matches any.
        kept = (tracemalloc.take_snapshot()
                .filter_traces([tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)])
                .filter_traces([tracemalloc.Filter(True, f, all_frames=True) for f in engine_files]))
    finally:
        tracemalloc.stop()
    return seen, calls, transient, len(kept.traces)


# ---------------------------------------------------------------------- tests

@pytest.mark.parametrize("shared", [False, True], ids=["in-process", "split"])
def test_process_makes_no_numpy_allocation_with_64_voices_looping_bending_and_stealing(counter, shared):
    eng = make_engine(shared)
    seen, calls, transient, kept = measured_round(eng, counter)
    assert seen == {"64 voices", "every slot busy", "stolen voices fading", "held voices looping",
                    "voices releasing", "sustained by the pedal", "bent", "limiter", "silence",
                    "crossfading to a new render", "a new render waiting for a crossfade"}
    assert calls >= 200
    assert counter.allocations == [], counter.allocations[:20]
    assert kept == 0
    # What the callback still allocates is Python's own: ints, floats, a list of the
    # sounding slots, array views (~8 KB). A ufunc's default iteration buffers, 64 KB per
    # operand, are what this bound keeps out; numpy arrays are the counter's business.
    assert transient < 32 * 1024, transient


def test_allocation_counter_catches_a_temporary_that_process_frees_again(counter):
    """The measurement can fail: a ``np.zeros(256)`` made and dropped inside the callback,
    and a Python float used as a ufunc operand (numpy wraps it in a 0-d array), are both
    reported, though neither is still held when a tracemalloc snapshot is taken."""

    class Wasteful(Engine):
        def _mix_block(self, out, n):
            super()._mix_block(out, n)
            scratch = np.zeros(256)                       # noqa: F841, freed on return
            mix = self.mixer._mix[:n]
            np.multiply(mix, 1.0, out=mix)

    eng = Wasteful(SR, polyphony=64, max_block=MAX_BLOCK)
    seen, calls, transient, kept = measured_round(eng, counter, rounds=1)
    here = os.path.basename(__file__)
    sizes = sorted({size for size, where in counter.allocations if where.startswith(here)})
    assert sizes == [8, 256 * 8]
    assert len(counter.allocations) == 2 * calls
    assert kept == 0                      # invisible to the snapshot alone
    assert transient >= 256 * 8


def _array_ids(eng: Engine) -> dict[str, int]:
    """``id`` of every array attribute of the engine and its parts."""
    parts = {"engine": eng, "mixer": eng.mixer, "slots": eng.slots, "ring": eng.ring}
    return {f"{part}.{name}": id(value) for part, obj in parts.items() for name, value in vars(obj).items()
            if isinstance(value, np.ndarray)}


def test_engine_scratch_is_sized_by_slots_and_max_block_and_made_once():
    eng = make_engine()
    ids = _array_ids(eng)
    assert len(ids) > 80
    out = np.zeros(MAX_BLOCK, np.float32)
    play_round(eng, lambda e, n: e.process(out[:n]), set())
    assert _array_ids(eng) == ids         # no array attribute is replaced while playing
    assert eng.mixer._idx2.shape == (eng.n_slots * MAX_BLOCK,)
    assert eng.mixer._v_f.shape[1] == eng.n_slots
