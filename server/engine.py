"""The polyphonic voice engine: rendered notes played as sampler voices.

Control threads (OSC, MIDI, the renderer's worker) call the public methods, which
only write a command into a preallocated single-producer/single-consumer ring;
:meth:`Engine.process`, called by the audio callback, drains the ring and mixes
prepared buffers. The callback side never takes a lock, never logs and never
touches the model. All voices are mixed at once as ``[voices, frames]`` views of
flat work buffers allocated in ``__init__``, written with ``out=``; after the first
blocks numpy creates no array in the callback (tests/test_engine_no_alloc.py counts
them). Producers serialise among themselves with a lock the consumer never takes.

A voice plays a rendered note (float32 mono, the whole 4 s note) from its start.
While the key (or the sustain pedal) is held and the play head reaches
``loop_end``, it jumps back to ``loop_start`` through a crossfade, so a key held
longer than the render keeps sounding; once it has looped it keeps looping through
its release. Note-off starts the ADSR release wherever the head is, as a sampler
does. Pitch bend is varispeed playback with linear interpolation; the bend is
smoothed per block and the playback rate ramps linearly inside each block.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from morphsynth.core.errors import MorphsynthError

# Voice states.
FREE, HELD, RELEASED, STOLEN = 0, 1, 2, 3
# Envelope stages.
ATTACK, DECAY, SUSTAIN, RELEASE, FADE, DONE = 0, 1, 2, 3, 4, 5
# Ring commands.
_NOTE_ON, _NOTE_OFF, _SUSTAIN, _BEND, _NOTE_BEND, _PRESSURE, _PANIC, _ADSR, _GAIN, _RETARGET = range(10)

N_CHANNELS = 16
# Counters both sides of a split engine read (slots of ``Engine._counters``).
_WRITE, _READ, _XRUNS, _DROPPED, _BLOCKS, _FRAMES, _CLOCK, _LOST, _LOSSES, _RECOVERIES, _TIMED, _N_COUNTERS = range(12)
SWAP_CHUNK = 16            # crossfading voices mixed together as one [c, frames] array
CALLBACK_TIMES = 1 << 17   # callback durations kept (about 12 minutes of 256-frame blocks at 48 kHz)
# Per-voice and per-channel arrays that live in shared memory when the engine is split.
SHARED_ARRAYS = ("state", "stage", "env", "release_step", "pos", "base_rate", "rate", "bend", "note_bend",
                 "amp", "level", "pitch", "note_id", "channel", "started", "released_at", "sustained",
                 "looping", "length", "loop_start", "loop_end", "xfade", "voice_slot", "note_vel", "note_gen", "swap_left",
                 "prev_slot", "pend_slot", "pend_length", "pend_loop", "channel_bend",
                 "channel_pressure", "sustain_on", "_cmd_kind", "_cmd_int", "_cmd_float", "_counters",
                 "_levels", "_callback_times")


def _counter(index: int, kind=int, doc: str = "") -> property:
    def get(self):
        return kind(self._counters[index])

    def put(self, value) -> None:
        self._counters[index] = value

    return property(get, put, doc=doc)


def db_to_amplitude(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def semitones_to_ratio(semitones: float) -> float:
    return float(2.0 ** (semitones / 12.0))


@dataclass(frozen=True)
class Adsr:
    """Envelope times in seconds, sustain as a linear level in [0, 1]."""

    attack: float = 0.005
    decay: float = 0.1
    sustain: float = 0.8
    release: float = 0.3

    def validate(self) -> None:
        for name in ("attack", "decay", "release"):
            value = getattr(self, name)
            if not (0.0 <= value <= 60.0) or math.isnan(value):
                raise MorphsynthError(f"adsr {name}: {value} s is outside 0..60 s")
        if not (0.0 <= self.sustain <= 1.0):
            raise MorphsynthError(f"adsr sustain: {self.sustain} is outside 0..1")


def _note_velocity(note) -> int:
    """The library velocity a note was rendered at (0 when it does not say)."""
    return int(getattr(note, "velocity", 0) or 0)


def check_playable(note) -> None:
    """Raise MorphsynthError unless ``note`` looks like a RenderedNote the engine can loop."""
    audio = getattr(note, "audio", None)
    if not isinstance(audio, np.ndarray) or audio.ndim != 1 or audio.dtype != np.float32:
        raise MorphsynthError("rendered note: audio must be a 1-D float32 array")
    n = audio.shape[0]
    if n < 4:
        raise MorphsynthError("rendered note: audio is shorter than 4 samples")
    if not (0 <= note.loop_start < note.loop_end <= n and 0 < note.hold_end <= n):
        raise MorphsynthError(
            f"rendered note: loop {note.loop_start}..{note.loop_end} / hold_end {note.hold_end}"
            f" do not fit {n} samples")
    if int(note.sample_rate) <= 0:
        raise MorphsynthError(f"rendered note: sample_rate {note.sample_rate} is not positive")


class Engine:
    """Voices, envelopes and the mixer.

    ``process(out)`` fills ``out`` ``[frames]`` (mono float32, ``frames <= max_block``)
    and is the only method the audio thread calls.

    ``shared``: None keeps everything in this process. Otherwise a ``(SharedArrays,
    NotePool)`` pair from :meth:`shared_layout`: the ring, the voices and the counters live
    there, notes are copied into the pool, and another process can run ``process`` on an
    Engine attached to the same pair (:mod:`morphsynth.server.audio_process`).
    """

    xruns = _counter(_XRUNS, doc="Device under/overruns (and null-clock stalls).")
    dropped_commands = _counter(_DROPPED, doc="Commands refused: ring full, or every note slot busy.")
    blocks = _counter(_BLOCKS)
    frames = _counter(_FRAMES)
    clock_running = _counter(_CLOCK, bool, doc="Set by the audio output while it calls process().")
    device_lost = _counter(_LOST, bool, doc="Set by the audio output while its device is gone.")
    callbacks = _counter(_TIMED, doc="Audio callbacks timed so far (see callback_times).")
    device_losses = _counter(_LOSSES, doc="Times the audio output lost its device.")
    device_recoveries = _counter(_RECOVERIES, doc="Times the audio output got its device back.")
    _write = _counter(_WRITE)  # advanced by producers only, after the slot is filled
    _read = _counter(_READ)    # advanced by the audio side only

    def __init__(self, sample_rate: int = 48000, polyphony: int = 64, max_block: int = 4096,
                 adsr: Adsr = Adsr(), gain_db: float = -6.0, fade_ms: float = 5.0,
                 loop_xfade_ms: float = 40.0, bend_smooth_ms: float = 10.0, ring_size: int = 4096,
                 swap_ms: float = 30.0, shared=None):
        if polyphony < 1:
            raise MorphsynthError(f"polyphony: {polyphony} must be at least 1")
        self.sample_rate = int(sample_rate)
        self.polyphony = int(polyphony)
        self.max_block = int(max_block)
        self.fade_s = fade_ms / 1000.0
        self.loop_xfade = max(1, int(loop_xfade_ms * sample_rate / 1000.0))
        self.bend_tau_s = bend_smooth_ms / 1000.0
        self.swap_frames = max(1, int(swap_ms * sample_rate / 1000.0))
        self._counters = np.zeros(_N_COUNTERS, np.int64)
        self._levels = np.zeros(1, np.float64)   # the last block's peak
        self._callback_times = np.zeros(CALLBACK_TIMES, np.float64)   # seconds, a ring

        # Stolen voices fade out in spare slots while the new voice starts in its own.
        n_slots = self.polyphony + max(8, self.polyphony // 2)
        self.n_slots = n_slots
        self.state = np.zeros(n_slots, np.int8)
        self.stage = np.full(n_slots, DONE, np.int8)
        self.env = np.zeros(n_slots, np.float64)
        self.release_step = np.zeros(n_slots, np.float64)
        self.pos = np.zeros(n_slots, np.float64)
        self.base_rate = np.ones(n_slots, np.float64)
        self.rate = np.ones(n_slots, np.float64)
        self.bend = np.zeros(n_slots, np.float64)
        self.note_bend = np.zeros(n_slots, np.float64)
        self.amp = np.ones(n_slots, np.float64)
        self.level = np.ones(n_slots, np.float64)
        self.pitch = np.full(n_slots, -1, np.int32)
        self.note_id = np.full(n_slots, -1, np.int64)
        self.channel = np.zeros(n_slots, np.int32)
        self.started = np.zeros(n_slots, np.int64)
        self.released_at = np.zeros(n_slots, np.int64)
        self.sustained = np.zeros(n_slots, np.bool_)
        self.looping = np.zeros(n_slots, np.bool_)
        self.length = np.zeros(n_slots, np.int64)
        self.loop_start = np.zeros(n_slots, np.int64)
        self.loop_end = np.zeros(n_slots, np.int64)
        self.xfade = np.ones(n_slots, np.int64)
        self.voice_slot = np.full(n_slots, -1, np.int32)   # the note-pool slot each voice plays
        self.buffers: list[np.ndarray | None] = [None] * n_slots
        # A sounding voice retargeted to a new render of its key (the morph moved) plays on
        # from the same position and crossfades from its previous buffer over swap_frames;
        # a retarget that arrives during a crossfade waits as the pending note.
        self.note_vel = np.zeros(n_slots, np.int32)       # the library velocity of the note played
        self.note_gen = np.zeros(n_slots, np.int64)       # the morph generation it was rendered for
        self.swap_left = np.zeros(n_slots, np.int64)      # frames of the crossfade still to play
        self.prev_slot = np.full(n_slots, -1, np.int32)   # pool slot of the buffer faded out
        self.pend_slot = np.full(n_slots, -1, np.int32)   # pool slot of the pending note
        self.pend_length = np.zeros(n_slots, np.int64)
        self.pend_loop = np.zeros((n_slots, 2), np.int64)
        self.prev_buffers: list[np.ndarray | None] = [None] * n_slots
        self.pend_notes: list[object | None] = [None] * n_slots
        self._order = 0

        self.channel_bend = np.zeros(N_CHANNELS, np.float64)
        self.channel_pressure = np.ones(N_CHANNELS, np.float64)
        self.sustain_on = np.zeros(N_CHANNELS, np.bool_)
        self.adsr = adsr
        self.gain = db_to_amplitude(gain_db)
        self._limiter = 1.0

        m = self.max_block
        self._k = np.arange(m, dtype=np.float64)
        self._ramp = np.zeros(m, np.float64)
        self._idx = np.zeros(m, np.float64)
        self._floor = np.zeros(m, np.float64)
        self._frac = np.zeros(m, np.float64)
        self._i0 = np.zeros(m, np.int64)
        self._i1 = np.zeros(m, np.int64)
        self._a = np.zeros(m, np.float64)
        self._b = np.zeros(m, np.float64)
        self._g = np.zeros(m, np.float64)
        self._tmp = np.zeros(m, np.float64)
        self._mask = np.zeros(m, np.bool_)
        self._t32 = np.zeros(m, np.float32)
        self._kk = np.zeros(m, np.float64)
        # Voices crossfading to a new render, SWAP_CHUNK at a time: [c, n] views of these.
        self._sw_got = np.zeros(2 * SWAP_CHUNK * m, np.float32)
        self._sw_prev = np.zeros(SWAP_CHUNK * m, np.float64)
        self._sw_tmp = np.zeros(SWAP_CHUNK * m, np.float64)
        self._sw_off = np.zeros(SWAP_CHUNK, np.float64)
        # All voices at once: flat buffers viewed as [k, n] (contiguous for any k, n).
        self._idx2 = np.zeros(n_slots * m, np.float64)
        self._fl2 = np.zeros(n_slots * m, np.float64)
        self._frac2 = np.zeros(n_slots * m, np.float64)
        self._sig2 = np.zeros(n_slots * m, np.float64)
        self._pair2 = np.zeros(2 * n_slots * m, np.int64)
        self._got2 = np.zeros(2 * n_slots * m, np.float32)
        self._mix = np.zeros(m, np.float64)

        self._ring_size = int(ring_size)
        self._cmd_kind = np.zeros(self._ring_size, np.int32)
        # pitch, channel, note id, note velocity, morph generation; for a pooled note also
        # slot, length, loop start, loop end
        self._cmd_int = np.zeros((self._ring_size, 9), np.int64)
        self._cmd_float = np.zeros((self._ring_size, 4), np.float64)
        self._cmd_obj: list[object] = [None] * self._ring_size
        self._produce = threading.Lock()
        self._pool = None
        self._shared = None
        if shared is not None:
            self._share(*shared)
        self._init_scratch()

    def _init_scratch(self) -> None:
        """Everything ``process`` writes besides the voice state, sized by ``n_slots`` and
        ``max_block``, so that the audio thread creates no numpy array.

        numpy turns every Python or numpy scalar operand of a ufunc into a new 0-d array,
        and a reduction that returns a scalar allocates one: hence the 0-d constants and
        registers (0-d arrays filled with ``reg[()] = x``) used in place of literals.
        """
        s = self.n_slots

        def const(value, dtype=np.float64):
            return np.array(value, dtype)

        self._c_zero, self._c_one, self._c_minus_one = const(0.0), const(1.0), const(-1.0)
        self._c_twelve, self._c_denormal = const(12.0), const(1e-30)
        self._c_int_zero, self._c_int_one = const(0, np.int64), const(1, np.int64)
        self._c_int_max = const(np.iinfo(np.int64).max, np.int64)
        self._c_free, self._c_held = const(FREE, np.int8), const(HELD, np.int8)
        self._c_released, self._c_stolen = const(RELEASED, np.int8), const(STOLEN, np.int8)
        self._c_done = const(DONE, np.int8)
        self._r_scale = const(0.0)              # _mix_block's gains
        self._r_block = const(0.0)              # _mix_voices' per-block scalars
        self._r_alpha = const(0.0)              # the bend/pressure smoothing of this block
        self._r_row1, self._r_row2 = const(0.0), const(0.0)   # one voice's loop and length
        self._r_row_int = const(0, np.int64)
        self._r_arg = const(0, np.int64)        # argmin / argmax result
        self._r_peak = const(0.0)               # max result
        # Per slot: slot numbers, masks and keys for choosing a slot.
        self._slots = np.arange(s, dtype=np.int64)
        self._slot_mask = np.zeros(s, np.bool_)
        self._slot_mask2 = np.zeros(s, np.bool_)
        self._slot_key = np.zeros(s, np.int64)
        # Per sounding voice, viewed as [k]: its slot, rows picked out of it, gathered fields.
        self._active = np.zeros(s, np.int64)
        self._rows = np.zeros(s, np.int64)
        self._v_ch32 = np.zeros(s, np.int32)
        self._v_ch = np.zeros(s, np.int64)
        self._v_i8 = np.zeros(s, np.int8)
        self._v_le = np.zeros(s, np.int64)
        self._v_xf = np.zeros(s, np.int64)
        self._v_len1 = np.zeros(s, np.int64)
        self._v_sw = np.zeros(s, np.int64)
        self._v_m1 = np.zeros(s, np.bool_)
        self._v_m2 = np.zeros(s, np.bool_)
        self._v_f = np.zeros((16, s), np.float64)   # the [k] float rows of _mix_voices

    # ------------------------------------------------------------------ control side

    def _push(self, kind: int, ints=(0, 0, 0), floats=(0.0, 0.0, 0.0, 0.0), obj=None) -> bool:
        for x in floats:
            # NaN/inf would reach read positions and gains in the audio thread: refuse it here.
            if not math.isfinite(x):
                raise MorphsynthError(f"engine: {x} is not a finite value")
        with self._produce:
            w = self._write
            read = self._read
            if w - read >= self._ring_size:
                self.dropped_commands += 1
                return False
            if self._pool is not None and obj is not None:
                # Split engine: the note goes by pool slot, not by object.
                pooled = self._pool.place(obj, w, read, self.state,
                                          (self.voice_slot, self.prev_slot, self.pend_slot))
                if pooled < 0:
                    self.dropped_commands += 1
                    return False
                ints = (*ints, pooled, obj.audio.shape[0], int(obj.loop_start), int(obj.loop_end))
                obj = None
            slot = w % self._ring_size
            self._cmd_kind[slot] = kind
            self._cmd_int[slot, :len(ints)] = ints
            self._cmd_float[slot] = floats
            self._cmd_obj[slot] = obj
            # Publishing the index last makes the filled slot visible to the consumer.
            self._write = w + 1
            return True

    @property
    def commands_written(self) -> int:
        return self._write

    @property
    def commands_done(self) -> int:
        return self._read

    def note_on(self, pitch: int, note, channel: int = 0, note_id: int = -1, level: float = 1.0,
                generation: int = 0) -> bool:
        """Start a voice playing ``note`` (a RenderedNote) scaled by ``level`` (linear,
        e.g. :func:`velocity_to_level`); ``generation``: the morph's, for :meth:`retarget`.
        False if the ring was full."""
        check_playable(note)
        ratio = float(note.sample_rate) / self.sample_rate
        level = float(level)
        if not (math.isfinite(level) and 0.0 <= level <= 16.0):
            raise MorphsynthError(f"note level: {level} is outside 0..16")
        return self._push(_NOTE_ON, (pitch, channel, note_id, _note_velocity(note), generation),
                          (ratio, level, 0.0, 0.0), note)

    def retarget(self, pitch: int, note, generation: int = 0) -> bool:
        """Crossfade every sounding voice of key ``pitch`` that plays a note of the same
        library velocity, rendered for a morph generation not after ``generation``, to
        ``note`` (a new render of that key: same length, same timing), from where each
        voice is; False if the ring was full."""
        check_playable(note)
        return self._push(_RETARGET, (pitch, 0, 0, _note_velocity(note), generation), obj=note)

    def note_off(self, pitch: int, channel: int = 0, note_id: int = -1) -> bool:
        """Release held voices of ``pitch`` on ``channel`` (only ``note_id`` when >= 0)."""
        return self._push(_NOTE_OFF, (pitch, channel, note_id))

    def set_sustain(self, on: bool, channel: int = 0) -> bool:
        return self._push(_SUSTAIN, (int(bool(on)), channel, 0))

    def set_bend(self, semitones: float, channel: int = 0) -> bool:
        """Bend every voice on ``channel``; channel 0's bend also adds to all other channels."""
        return self._push(_BEND, (0, channel, 0), (float(semitones), 0.0, 0.0, 0.0))

    def set_note_bend(self, pitch: int, semitones: float, channel: int = 0, note_id: int = -1) -> bool:
        """Bend only the held voices of ``pitch`` (and ``note_id`` when >= 0)."""
        return self._push(_NOTE_BEND, (pitch, channel, note_id), (float(semitones), 0.0, 0.0, 0.0))

    def set_pressure(self, amplitude: float, channel: int = 0) -> bool:
        """Scale the voices on ``channel`` by ``amplitude`` (MPE pressure); smoothed like bend."""
        return self._push(_PRESSURE, (0, channel, 0), (float(amplitude), 0.0, 0.0, 0.0))

    def panic(self) -> bool:
        return self._push(_PANIC)

    def set_adsr(self, adsr: Adsr) -> bool:
        adsr.validate()
        return self._push(_ADSR, floats=(adsr.attack, adsr.decay, adsr.sustain, adsr.release))

    def set_gain_db(self, db: float) -> bool:
        return self._push(_GAIN, floats=(db_to_amplitude(db), 0.0, 0.0, 0.0))

    def _sounding(self) -> np.ndarray:
        """Control side: ``[n_slots]`` bool, the voices held, sustained or releasing."""
        return (self.state == HELD) | (self.state == RELEASED)

    def sounding_keys(self) -> list[tuple[int, int]]:
        """``(pitch, library velocity)`` of the notes sounding now, read from the voices
        without waiting for the audio side."""
        sounding = self._sounding()
        return sorted(set(zip(self.pitch[sounding].tolist(), self.note_vel[sounding].tolist())))

    def active_voices(self) -> int:
        return int(np.count_nonzero(self._sounding()))

    @property
    def peak(self) -> float:
        """The last block's peak before the limiter (linear)."""
        return float(self._levels[0])

    @peak.setter
    def peak(self, value: float) -> None:
        self._levels[0] = value

    def time_callback(self, seconds: float) -> None:
        """Audio side: keep one audio callback's duration (the outputs time each call)."""
        i = int(self._counters[_TIMED])
        self._callback_times[i % CALLBACK_TIMES] = seconds
        self._counters[_TIMED] = i + 1

    def callback_times(self) -> np.ndarray:
        """The durations of the last (up to ``CALLBACK_TIMES``) audio callbacks, seconds ``[n]``."""
        n = int(self._counters[_TIMED])
        if n <= CALLBACK_TIMES:
            return self._callback_times[:n].copy()
        i = n % CALLBACK_TIMES
        return np.concatenate([self._callback_times[i:], self._callback_times[:i]])

    # ------------------------------------------------------------------ split engine

    def shared_layout(self) -> dict:
        """``{name: (shape, dtype)}`` of the arrays a split engine shares."""
        return {name: (getattr(self, name).shape, getattr(self, name).dtype.str) for name in SHARED_ARRAYS}

    def share_memory(self, note_samples: int, spare_note_slots: int = 64) -> tuple:
        """Move this engine's shared state into a new mapping, with a note pool of
        ``n_slots + spare_note_slots`` slots of ``note_samples``: every voice slot can play
        a note of its own, and notes placed for commands not yet read need slots too.
        Returns the ``(SharedArrays, NotePool)`` pair an audio process attaches to."""
        from morphsynth.server.engine_memory import NotePool, SharedArrays

        self._share(SharedArrays.create(self.shared_layout()),
                    NotePool.create(self.n_slots + spare_note_slots, int(note_samples)))
        return self._shared

    def _share(self, arrays, pool) -> None:
        """Move the shared state into ``arrays`` (SharedArrays) and play notes from ``pool``
        (NotePool). The side that made the mapping copies its initial values in; a side that
        attaches takes what is there (commands may already wait in the ring)."""
        for name in SHARED_ARRAYS:
            local, mapped = getattr(self, name), arrays.arrays[name]
            if mapped.shape != local.shape or mapped.dtype != local.dtype:
                raise MorphsynthError(f"engine: shared '{name}' is {mapped.dtype}{mapped.shape}, "
                                      f"expected {local.dtype}{local.shape}")
            if arrays.file.owner:
                mapped[...] = local
            setattr(self, name, mapped)
        self._pool = pool
        self._shared = (arrays, pool)
        for v in range(self.n_slots):
            # Attaching to voices that already sound (an audio process restarted).
            if self.state[v] != FREE and self.voice_slot[v] >= 0:
                self.buffers[v] = pool.audio[self.voice_slot[v], :self.length[v]]
                if self.swap_left[v] > 0 and not arrays.file.owner:
                    self._end_swap(v)   # the faded-out buffer's length is not kept: finish the fade

    # ------------------------------------------------------------------ audio side

    def process(self, out: np.ndarray) -> None:
        """Fill ``out`` ``[frames]`` float32 with the next block of the mix, in [-1, 1]."""
        n = out.shape[0]
        if n > self.max_block:
            raise ValueError(f"block of {n} frames is larger than max_block {self.max_block}")
        self._drain()
        # NaN/inf in a voice buffer must not spam warnings from the audio thread.
        with np.errstate(all="ignore"):
            # A ufunc over broadcast or strided [k, n] operands mallocs iteration buffers of
            # bufsize elements per operand (8192 by default: ~200 KB a call) unless the inner
            # rows are at least that long; none of these operations needs buffering (no
            # casts). Leaving errstate restores the caller's bufsize.
            np.setbufsize(16)
            self._mix_block(out, n)
        self.blocks += 1
        self.frames += n

    def _mix_block(self, out: np.ndarray, n: int) -> None:
        if n == 0:
            return
        mix = self._mix[:n]
        mix.fill(0.0)
        scale = self._r_scale
        ramp = self._ramp[:n]
        np.add(self._k[:n], self._c_one, out=ramp)
        scale[()] = 1.0 / n
        ramp *= scale
        alpha = 1.0 - math.exp(-n / (self.bend_tau_s * self.sample_rate)) if self.bend_tau_s > 0 else 1.0
        self._mix_voices(n, alpha, mix, ramp)
        scale[()] = self.gain
        mix *= scale
        # NaN and inf become silence (as np.nan_to_num would, without its temporaries).
        tmp, bad = self._tmp[:n], self._mask[:n]
        np.isfinite(mix, out=bad)
        np.logical_not(bad, out=bad)
        np.copyto(mix, self._c_zero, where=bad)
        peak = float(np.max(np.abs(mix, out=tmp), out=self._r_peak))
        # Safety limiter: jump down at once to keep the peak at 1, recover over ~50 ms.
        needed = 1.0 / peak if peak > 1.0 else 1.0
        if needed < self._limiter:
            self._limiter = needed
        else:
            self._limiter = min(1.0, self._limiter + (1.0 - self._limiter) * min(1.0, n / (0.05 * self.sample_rate)))
        if self._limiter < 1.0:
            scale[()] = self._limiter
            mix *= scale
        np.clip(mix, self._c_minus_one, self._c_one, out=mix)
        # Flush what float32 would store as denormals: they cost CPU downstream and are inaudible.
        np.abs(mix, out=tmp)
        np.less(tmp, self._c_denormal, out=bad)
        np.copyto(mix, self._c_zero, where=bad)
        self.peak = min(peak, 1e9)
        out[:] = mix

    def _drain(self) -> None:
        while self._read < self._write:
            slot = self._read % self._ring_size
            kind = int(self._cmd_kind[slot])
            ci = self._cmd_int[slot]
            a, b, c = int(ci[0]), int(ci[1]), int(ci[2])
            f = self._cmd_float[slot]
            if kind == _NOTE_ON:
                if self._pool is None:
                    v = self._start_voice(a, b, c, float(f[0]), self._cmd_obj[slot], float(f[1]))
                else:
                    note = self._pool.view(int(ci[5]), int(ci[6]), int(ci[7]), int(ci[8]))
                    v = self._start_voice(a, b, c, float(f[0]), note, float(f[1]))
                    self.voice_slot[v] = ci[5]
                self.note_vel[v] = ci[3]
                self.note_gen[v] = ci[4]
            elif kind == _RETARGET:
                self._retarget(slot)
            elif kind == _NOTE_OFF:
                self._release_key(a, b, c)
            elif kind == _SUSTAIN:
                self._pedal(bool(a), b)
            elif kind == _BEND:
                self.channel_bend[b] = f[0]
            elif kind == _NOTE_BEND:
                for v in range(self.n_slots):
                    if (self.state[v] == HELD and self.pitch[v] == a and self.channel[v] == b
                            and (c < 0 or self.note_id[v] == c)):
                        self.note_bend[v] = f[0]
            elif kind == _PRESSURE:
                self.channel_pressure[b] = f[0]
            elif kind == _PANIC:
                self._panic()
            elif kind == _ADSR:
                self.adsr = Adsr(float(f[0]), float(f[1]), float(f[2]), float(f[3]))
            elif kind == _GAIN:
                self.gain = float(f[0])
            self._read += 1

    def _start_voice(self, pitch: int, channel: int, note_id: int, ratio: float, note, level: float = 1.0) -> int:
        self._order += 1
        if self._count_sounding() >= self.polyphony:
            self._steal(self._victim())
        v = self._first_free()
        if v < 0:
            # Every spare slot is still fading: cut the oldest fade short.
            v = self._oldest(self._c_stolen, self.started)
        self._load_note(v, note)
        self.pos[v] = 0.0
        self.base_rate[v] = ratio
        self.bend[v] = self._target_bend(v, channel, 0.0)
        self.rate[v] = ratio * semitones_to_ratio(self.bend[v])
        self.note_bend[v] = 0.0
        self.amp[v] = self.channel_pressure[channel]
        self.level[v] = level
        self.pitch[v] = pitch
        self.channel[v] = channel
        self.note_id[v] = note_id
        self.started[v] = self._order
        self.sustained[v] = False
        self.looping[v] = False
        self.env[v] = 0.0
        self.stage[v] = ATTACK
        self.swap_left[v] = 0
        self.prev_slot[v] = -1
        self.pend_slot[v] = -1
        self.prev_buffers[v] = None
        self.pend_notes[v] = None
        self.state[v] = HELD
        return v

    def _retarget(self, slot: int) -> None:
        """The _RETARGET command in ring ``slot``: start (or queue) the crossfade of the
        matching sounding voices to its note."""
        pooled = self._pool is not None
        ci = self._cmd_int[slot]
        pitch, velocity, generation = int(ci[0]), int(ci[3]), int(ci[4])
        new_slot = int(ci[5]) if pooled else -1
        note = self._cmd_obj[slot]
        for v in range(self.n_slots):
            if (self.pitch[v] != pitch or self.note_vel[v] != velocity or self.note_gen[v] > generation
                    or not (self.state[v] == HELD or self.state[v] == RELEASED)):
                continue   # another key, or a voice already playing a newer morph
            self.note_gen[v] = generation
            if pooled:
                if new_slot == self.voice_slot[v] and self.swap_left[v] == 0:
                    continue
                self.pend_slot[v] = new_slot
                self.pend_length[v] = ci[6]
                self.pend_loop[v, 0] = ci[7]
                self.pend_loop[v, 1] = ci[8]
            else:
                if note.audio is self.buffers[v] and self.swap_left[v] == 0:
                    continue
                self.pend_notes[v] = note
            if self.swap_left[v] == 0:
                self._begin_swap(v)

    def _begin_swap(self, v: int) -> None:
        """Make voice ``v``'s pending note the one it plays, fading from the current one."""
        if self._pool is not None:
            new_slot = int(self.pend_slot[v])
            note = self._pool.view(new_slot, int(self.pend_length[v]), int(self.pend_loop[v, 0]),
                                   int(self.pend_loop[v, 1]))
            self.prev_slot[v] = self.voice_slot[v]
            self.voice_slot[v] = new_slot
            self.pend_slot[v] = -1
        else:
            note = self.pend_notes[v]
            self.pend_notes[v] = None
        self.prev_buffers[v] = self.buffers[v]
        self._load_note(v, note)
        self.swap_left[v] = self.swap_frames

    def _end_swap(self, v: int) -> None:
        self.swap_left[v] = 0
        self.prev_slot[v] = -1
        self.prev_buffers[v] = None
        if self.pend_slot[v] >= 0 or self.pend_notes[v] is not None:
            self._begin_swap(v)

    def _load_note(self, v: int, note) -> None:
        """Make voice ``v`` read ``note``: its buffer, length and loop."""
        audio = note.audio
        self.buffers[v] = audio
        self.length[v] = audio.shape[0]
        self.loop_start[v] = int(note.loop_start)
        self.loop_end[v] = int(note.loop_end)
        loop_len = int(note.loop_end) - int(note.loop_start)
        self.xfade[v] = max(1, min(self.loop_xfade, loop_len // 2, int(note.loop_start)))

    def _count_sounding(self) -> int:
        held, released = self._slot_mask, self._slot_mask2
        np.equal(self.state, self._c_held, out=held)
        np.equal(self.state, self._c_released, out=released)
        return np.count_nonzero(held) + np.count_nonzero(released)

    def _first_free(self) -> int:
        """The lowest FREE slot, or -1 when none is."""
        free = self._slot_mask
        np.equal(self.state, self._c_free, out=free)
        v = int(np.argmax(free, out=self._r_arg))
        return v if free[v] else -1

    def _oldest(self, state: np.ndarray, key: np.ndarray) -> int:
        """The slot in ``state`` (a 0-d int8 constant) with the smallest ``key`` ``[n_slots]``,
        the lowest such slot on ties; -1 when no slot is in ``state``."""
        other = self._slot_mask
        np.not_equal(self.state, state, out=other)
        if np.count_nonzero(other) == self.n_slots:
            return -1
        keys = self._slot_key
        np.copyto(keys, key)
        np.copyto(keys, self._c_int_max, where=other)
        return int(np.argmin(keys, out=self._r_arg))

    def _indices(self, mask: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Positions of the True entries of ``mask`` ``[m]`` in ascending order, as a view
        ``[count]`` of ``out`` ``[>= m]``: np.flatnonzero without its new array."""
        m = mask.shape[0]
        pos = out[:m]
        np.copyto(pos, self._c_int_max)
        np.copyto(pos, self._slots[:m], where=mask)
        pos.sort()
        return pos[:np.count_nonzero(mask)]

    def _victim(self) -> int:
        """Oldest released voice, else the oldest held one."""
        v = self._oldest(self._c_released, self.released_at)
        return v if v >= 0 else self._oldest(self._c_held, self.started)

    def _steal(self, v: int) -> None:
        self.state[v] = STOLEN
        self.stage[v] = FADE
        self.release_step[v] = 1.0 / max(1.0, self.fade_s * self.sample_rate)

    def _release(self, v: int) -> None:
        self._order += 1
        self.state[v] = RELEASED
        self.released_at[v] = self._order
        self.sustained[v] = False
        self.stage[v] = RELEASE
        # Linear fall from the current level; never faster than the click-free fade.
        seconds = max(self.adsr.release, self.fade_s)
        self.release_step[v] = max(self.env[v], 1e-6) / (seconds * self.sample_rate)

    def _release_key(self, pitch: int, channel: int, note_id: int) -> None:
        for v in range(self.n_slots):
            if (self.state[v] == HELD and not self.sustained[v] and self.pitch[v] == pitch
                    and self.channel[v] == channel and (note_id < 0 or self.note_id[v] == note_id)):
                if self.sustain_on[channel]:
                    self.sustained[v] = True
                else:
                    self._release(v)

    def _pedal(self, on: bool, channel: int) -> None:
        self.sustain_on[channel] = on
        if on:
            return
        for v in range(self.n_slots):
            if self.state[v] == HELD and self.sustained[v] and self.channel[v] == channel:
                self._release(v)

    def _panic(self) -> None:
        for v in range(self.n_slots):
            if self.state[v] in (HELD, RELEASED):
                self._steal(v)
        # fill(), not [:] = x: assigning a scalar to a slice converts it to an array first.
        self.sustain_on.fill(False)
        self.channel_bend.fill(0.0)
        self.channel_pressure.fill(1.0)

    def _target_bend(self, v: int, channel: int, note_bend: float) -> float:
        bend = self.channel_bend[channel] + note_bend
        if channel != 0:
            bend += self.channel_bend[0]
        return float(bend)

    def _advance_envelope(self, v: int, n: int) -> float:
        """Level after ``n`` samples; moves the stage on. Linear segments."""
        level = float(self.env[v])
        stage = int(self.stage[v])
        sr = self.sample_rate
        adsr = self.adsr
        left = n
        while left > 0:
            if stage == ATTACK:
                step = 1.0 / max(1.0, adsr.attack * sr)
                need = math.ceil((1.0 - level) / step)
                if need > left:
                    level += step * left
                    left = 0
                else:
                    level, left, stage = 1.0, left - need, DECAY
            elif stage == DECAY:
                span = 1.0 - adsr.sustain
                step = span / max(1.0, adsr.decay * sr)
                if step <= 0.0 or level <= adsr.sustain:
                    level, stage = min(level, 1.0) if step <= 0.0 else adsr.sustain, SUSTAIN
                    continue
                need = math.ceil((level - adsr.sustain) / step)
                if need > left:
                    level -= step * left
                    left = 0
                else:
                    level, left, stage = adsr.sustain, left - need, SUSTAIN
            elif stage == SUSTAIN:
                # A sustain change while held glides there within the block.
                level = adsr.sustain
                left = 0
            elif stage in (RELEASE, FADE):
                step = float(self.release_step[v])
                level -= step * left
                left = 0
                if level <= 0.0:
                    level, stage = 0.0, DONE
            else:
                level, left = 0.0, 0
        self.stage[v] = stage
        return level

    def _mix_voices(self, n: int, alpha: float, mix: np.ndarray, ramp: np.ndarray) -> None:
        """Mix every sounding voice into ``mix`` ``[n]``, all voices at once as ``[k, n]`` arrays.

        Per-voice values are gathered into ``[k]`` views of preallocated rows with
        ``np.take(..., mode="clip")`` (the default ``"raise"`` copies its output first; every
        index here is in range) and written back with ``array[active] = values``.
        """
        free = self._slot_mask
        np.equal(self.state, self._c_free, out=free)
        np.logical_not(free, out=free)
        active = self._indices(free, self._active)     # sounding slots, ascending   [k]
        k = active.shape[0]
        if k == 0:
            return
        slots = active.tolist()
        kn = k * n
        idx = self._idx2[:kn].reshape(k, n)      # read positions      [k, n]
        fl = self._fl2[:kn].reshape(k, n)        # floor / scratch     [k, n]
        frac = self._frac2[:kn].reshape(k, n)    # fractional parts    [k, n]
        sig = self._sig2[:kn].reshape(k, n)      # the voices' signals [k, n]
        pair = self._pair2[:2 * kn].reshape(k, 2 * n)     # i0 then i1 per voice
        got = self._got2[:2 * kn].reshape(k, 2 * n)       # samples at i0 then i1
        (target, bend, r0, r1, dr, p0, p1, last,
         l0, l1, amp0, amp1, lev, g0, g1, t) = self._v_f[:, :k]   # per voice, each [k]
        ch, ch32 = self._v_ch[:k], self._v_ch32[:k]
        st, le, xf, length1 = self._v_i8[:k], self._v_le[:k], self._v_xf[:k], self._v_len1[:k]
        m1, m2 = self._v_m1[:k], self._v_m2[:k]
        reg, alpha_ = self._r_block, self._r_alpha
        alpha_[()] = alpha
        K = self._k[:n]
        kk = self._kk[:n]
        # idx = p0 + r0*k + (r1 - r0) * k*(k-1)/(2n): the ramped rates summed up to sample k.
        np.subtract(K, self._c_one, out=kk)
        kk *= K
        reg[()] = 1.0 / (2.0 * n)
        kk *= reg

        # Bend target: the channel's bend and the voice's own, plus channel 0's off channel 0.
        np.take(self.channel, active, out=ch32, mode="clip")
        np.copyto(ch, ch32)              # an int32 index array would be converted anew by take()
        np.take(self.channel_bend, ch, out=target, mode="clip")
        np.take(self.note_bend, active, out=t, mode="clip")
        np.add(target, t, out=target)
        np.not_equal(ch, self._c_int_zero, out=m1)
        t.fill(0.0)
        np.copyto(t, self.channel_bend[0:1], where=m1)
        target += t
        np.take(self.bend, active, out=bend, mode="clip")
        np.subtract(target, bend, out=t)
        t *= alpha_
        bend += t
        self.bend[active] = bend
        np.take(self.rate, active, out=r0, mode="clip")
        np.divide(bend, self._c_twelve, out=r1)
        np.exp2(r1, out=r1)
        np.take(self.base_rate, active, out=t, mode="clip")
        np.multiply(t, r1, out=r1)
        np.take(self.pos, active, out=p0, mode="clip")
        np.subtract(r1, r0, out=dr)
        np.multiply(K, r0[:, None], out=idx)
        np.multiply(kk, dr[:, None], out=fl)
        idx += fl
        idx += p0[:, None]
        # p1 = p0 + r0*n + (r1 - r0)*(n - 1)/2: where the head is after the block.
        reg[()] = n
        np.multiply(r0, reg, out=p1)
        np.add(p0, p1, out=p1)
        reg[()] = (n - 1) / 2.0
        np.multiply(dr, reg, out=t)
        p1 += t
        self.rate[active] = r1

        # Voices nearing loop_end while held (or already looping) wrap back by whole loops.
        np.take(self.loop_end, active, out=le, mode="clip")
        np.take(self.xfade, active, out=xf, mode="clip")
        np.subtract(le, xf, out=xf)
        np.copyto(t, xf)                 # as float64, so the comparison converts nothing
        np.take(self.state, active, out=st, mode="clip")
        np.equal(st, self._c_held, out=m1)
        np.take(self.looping, active, out=m2, mode="clip")
        np.logical_or(m1, m2, out=m1)
        np.greater_equal(idx[:, n - 1], t, out=m2)
        np.logical_and(m1, m2, out=m1)
        blend_rows = self._indices(m1, self._rows).tolist()
        for r in blend_rows:
            p1[r] = self._wrap_row(slots[r], idx[r], float(p1[r]))

        np.take(self.length, active, out=length1, mode="clip")
        np.subtract(length1, self._c_int_one, out=length1)
        np.copyto(last, length1)
        np.floor(idx, out=fl)
        np.subtract(idx, fl, out=frac)
        np.clip(fl, self._c_zero, last[:, None], out=fl)
        i0 = pair[:, :n]
        i1 = pair[:, n:]
        np.copyto(i0, fl, casting="unsafe")
        np.add(i0, self._c_int_one, out=i1)
        np.minimum(i1, length1[:, None], out=i1)
        buffers = self.buffers
        for r, v in enumerate(slots):
            np.take(buffers[v], pair[r], out=got[r], mode="clip")
        # The difference is taken in float32, then widened: float64(b - a) * frac + a.
        a = got[:, :n]
        b = got[:, n:]
        np.subtract(b, a, out=b)
        np.copyto(sig, b)
        sig *= frac
        np.copyto(fl, a)
        sig += fl
        np.greater_equal(idx[:, n - 1], last, out=m2)
        if np.count_nonzero(m2):
            # Past the last sample a voice is silent.
            np.subtract(last[:, None], idx, out=fl)
            np.clip(fl, self._c_zero, self._c_one, out=fl)
            np.ceil(fl, out=fl)
            sig *= fl
        for r in blend_rows:
            self._blend_row(slots[r], idx[r], sig[r], n)
        sw = self._v_sw[:k]
        np.take(self.swap_left, active, out=sw, mode="clip")
        np.greater(sw, self._c_int_zero, out=m1)
        if np.count_nonzero(m1):
            rows = self._indices(m1, self._rows)
            for first in range(0, rows.shape[0], SWAP_CHUNK):
                self._swap_rows(rows[first:first + SWAP_CHUNK], slots, idx, frac, sig, pair, n, blend_rows)

        # Envelope times pressure, linear within the block from the start to the end level.
        np.take(self.env, active, out=l0, mode="clip")
        for r, v in enumerate(slots):
            l1[r] = self._advance_envelope(v, n)
        self.env[active] = l1
        np.take(self.amp, active, out=amp0, mode="clip")
        np.take(self.channel_pressure, ch, out=amp1, mode="clip")
        np.subtract(amp1, amp0, out=amp1)
        amp1 *= alpha_
        np.add(amp0, amp1, out=amp1)
        self.amp[active] = amp1
        np.take(self.level, active, out=lev, mode="clip")
        np.multiply(l0, amp0, out=g0)    # gain at the block's start
        g0 *= lev
        np.multiply(l1, amp1, out=g1)    # its rise to the block's end
        g1 *= lev
        g1 -= g0
        np.multiply(ramp, g1[:, None], out=fl)
        fl += g0[:, None]
        sig *= fl
        np.sum(sig, axis=0, out=self._tmp[:n])
        mix += self._tmp[:n]

        self.pos[active] = p1
        np.take(self.stage, active, out=st, mode="clip")
        np.equal(st, self._c_done, out=m1)
        np.greater_equal(p1, last, out=m2)
        np.logical_or(m1, m2, out=m1)
        if np.count_nonzero(m1):
            for r in self._indices(m1, self._rows).tolist():
                v = slots[r]
                self.state[v] = FREE
                self.stage[v] = DONE
                self.env[v] = 0.0

    def _wrap_row(self, v: int, idx: np.ndarray, p1: float) -> float:
        """Fold one voice's positions ``idx`` ``[n]`` past loop_end back into the loop;
        returns the block's end position ``p1`` folded the same way."""
        ls, le = int(self.loop_start[v]), int(self.loop_end[v])
        loop_len = le - ls
        end, span = self._r_row1, self._r_row2
        end[()] = le
        span[()] = loop_len
        mask = self._mask[: idx.shape[0]]
        np.greater_equal(idx, end, out=mask)
        while np.count_nonzero(mask):
            np.subtract(idx, span, out=idx, where=mask)
            np.greater_equal(idx, end, out=mask)
            self.looping[v] = True
        while p1 >= le:
            p1 -= loop_len
        return p1

    def _swap_rows(self, rows: np.ndarray, slots: list[int], idx: np.ndarray, frac: np.ndarray,
                   sig: np.ndarray, pair: np.ndarray, n: int, blend_rows: list[int]) -> None:
        """Crossfade the voices in ``rows`` (``[c]`` rows of the ``[k, n]`` block arrays,
        c <= SWAP_CHUNK) from their previous buffers, read at the same positions ``idx``
        (``pair``: floor/next sample indices, ``frac``: fractions), into ``sig``."""
        c = rows.shape[0]
        cn = c * n
        got = self._sw_got[:2 * cn].reshape(c, 2 * n)
        prev = self._sw_prev[:cn].reshape(c, n)
        tmp = self._sw_tmp[:cn].reshape(c, n)
        off = self._sw_off[:c]
        rows_list = rows.tolist()
        exact = []
        for j, r in enumerate(rows_list):
            v = slots[r]
            buf = self.prev_buffers[v]
            np.take(buf, pair[r], out=got[j], mode="clip")
            off[j] = self.swap_frames - int(self.swap_left[v]) + 1
            if buf.shape[0] != self.length[v] or idx[r, n - 1] >= buf.shape[0] - 1:
                exact.append(j)     # another length, or past its end: read this one alone
        # Linear interpolation as in the main path: float64(b - a) * frac + a.
        a, b = got[:, :n], got[:, n:]
        np.subtract(b, a, out=b)
        np.copyto(prev, b)
        np.take(frac, rows, axis=0, out=tmp, mode="clip")
        prev *= tmp
        np.copyto(tmp, a)
        prev += tmp
        for j in exact:
            r = rows_list[j]
            buf = self.prev_buffers[slots[r]]
            self._read_interp(buf, idx[r], buf.shape[0], self._floor[:n], self._frac[:n], self._i0[:n],
                              self._i1[:n], prev[j], self._tmp[:n], self._t32[:n])
        for j, r in enumerate(rows_list):
            if r in blend_rows:     # at the loop seam: blend the old buffer the same way
                self._blend_row(slots[r], idx[r], prev[j], n, self.prev_buffers[slots[r]])
        # The new buffer's share rises linearly over swap_frames: sig = prev + (sig - prev) * g.
        g = tmp
        np.add(self._k[:n], off[:, None], out=g)
        reg = self._r_row1
        reg[()] = 1.0 / self.swap_frames
        g *= reg
        np.clip(g, self._c_zero, self._c_one, out=g)
        for j, r in enumerate(rows_list):
            row = sig[r]
            np.subtract(row, prev[j], out=row)
            row *= g[j]
            row += prev[j]
            v = slots[r]
            left = int(self.swap_left[v])
            if left <= n:
                self._end_swap(v)
            else:
                self.swap_left[v] = left - n

    def _blend_row(self, v: int, idx: np.ndarray, sig: np.ndarray, n: int, buf: np.ndarray | None = None) -> None:
        """Crossfade ``sig`` ``[n]`` towards the sample one loop earlier as the head ``idx``
        ``[n]`` nears loop_end (reading ``buf``, by default the voice's buffer)."""
        le = int(self.loop_end[v])
        loop_len = le - int(self.loop_start[v])
        xf = int(self.xfade[v])
        reg = self._r_row1
        g, b, tmp = self._g[:n], self._b[:n], self._tmp[:n]
        reg[()] = le - xf
        np.subtract(idx, reg, out=g)
        reg[()] = 1.0 / xf
        g *= reg
        np.clip(g, self._c_zero, self._c_one, out=g)
        back = self._a[:n]
        reg[()] = loop_len
        np.subtract(idx, reg, out=back)
        np.maximum(back, self._c_zero, out=back)
        buf = self.buffers[v] if buf is None else buf
        self._read_interp(buf, back, buf.shape[0], self._floor[:n], self._frac[:n],
                          self._i0[:n], self._i1[:n], b, tmp, self._t32[:n])
        b -= sig
        b *= g
        sig += b

    def _read_interp(self, buf, idx, length, fl, frac, i0, i1, out, tmp, t32) -> None:
        """Linear interpolation of ``buf`` ``[length]`` float32 at fractional positions ``idx``
        ``[n]`` into ``out`` ``[n]``; zero past the end. ``fl``, ``frac``, ``tmp`` (float64),
        ``i0``, ``i1`` (int64) and ``t32`` (float32) are ``[n]`` scratch."""
        last, last_int = self._r_row2, self._r_row_int
        last[()] = length - 1
        last_int[()] = length - 1
        np.floor(idx, out=fl)
        np.subtract(idx, fl, out=frac)
        np.clip(fl, self._c_zero, last, out=tmp)
        np.copyto(i0, tmp, casting="unsafe")
        np.add(i0, self._c_int_one, out=i1)
        np.minimum(i1, last_int, out=i1)
        np.take(buf, i0, out=t32, mode="clip")
        np.copyto(out, t32)
        np.take(buf, i1, out=t32, mode="clip")
        np.copyto(tmp, t32)
        tmp -= out
        tmp *= frac
        out += tmp
        # Past the last sample the voice is silent.
        if idx[idx.shape[0] - 1] >= length - 1:
            np.subtract(last, idx, out=tmp)
            np.clip(tmp, self._c_zero, self._c_one, out=tmp)
            np.ceil(tmp, out=tmp)
            out *= tmp
