"""The polyphonic voice engine: rendered notes played as sampler voices.

Control threads (OSC, MIDI, the renderer's worker) call the public methods, which
only write a command into the :class:`~morphsynth.server.engine_ring.CommandRing`;
:meth:`Engine.process`, called by the audio callback, drains the ring and has the
:class:`~morphsynth.server.engine_mixer.Mixer` mix prepared buffers. The callback side
never takes a lock, never logs, never touches the model and creates no numpy array
(tests/test_engine_no_alloc.py counts them). The voices' arrays are built from one
spec (:mod:`morphsynth.server.engine_voices`), as is the memory a split engine shares
with its audio process.

A voice plays a :class:`Note` (float32 mono, the whole 4 s note) from its start.
While the key (or the sustain pedal) is held and the play head reaches
``loop_end``, it jumps back to ``loop_start`` through a crossfade, so a key held
longer than the render keeps sounding; once it has looped it keeps looping through
its release. Note-off starts the ADSR release (:mod:`morphsynth.server.envelope`)
wherever the head is, as a sampler does. Pitch bend is varispeed playback with linear
interpolation; the bend is smoothed per block and the playback rate ramps linearly
inside each block.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import numpy as np

from morphsynth.core.errors import MorphsynthError
from morphsynth.server.engine_mixer import Mixer
from morphsynth.server.engine_ring import (ADSR, BEND, GAIN, NOTE_BEND, NOTE_OFF, NOTE_ON, PANIC, PRESSURE,
                                           RETARGET, SUSTAIN, CommandRing)
from morphsynth.server.engine_voices import (CHANNEL_FIELDS, FREE, HELD, N_CHANNELS, RELEASED, STOLEN,
                                             VOICE_FIELDS, VoiceSlots, allocate)
from morphsynth.server.envelope import ATTACK, FADE, RELEASE, Adsr

# Counters both sides of a split engine read (slots of ``Engine._counters``).
(_XRUNS, _DROPPED, _BLOCKS, _FRAMES, _CLOCK, _LOST, _LOSSES, _RECOVERIES, _TIMED, _BLOCK_SIZE, _LATENCY_NS,
 _N_COUNTERS) = range(12)
CALLBACK_TIMES = 1 << 17   # callback durations kept (about 12 minutes of 256-frame blocks at 48 kHz)


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


@runtime_checkable
class Note(Protocol):
    """What a voice reads: ``audio`` ``[samples]`` float32 and its loop, in samples.

    A rendered note (:class:`~morphsynth.server.renderer.RenderedNote`) is one; so is the
    view of a note-pool slot that a split engine's audio side plays
    (:class:`~morphsynth.server.engine_memory.PoolNote`).
    """

    audio: np.ndarray
    loop_start: int
    loop_end: int


@runtime_checkable
class PlayableNote(Note, Protocol):
    """What :meth:`Engine.note_on` is given: a :class:`Note` that also says its sample rate,
    where the held part ends and (optionally, 0 when not) the library velocity it was
    rendered at."""

    sample_rate: int
    hold_end: int


def _note_velocity(note) -> int:
    """The library velocity a note was rendered at (0 when it does not say)."""
    return int(getattr(note, "velocity", 0) or 0)


def check_playable(note) -> None:
    """Raise MorphsynthError unless ``note`` is a :class:`PlayableNote` the engine can loop."""
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
    NotePool)`` pair from :meth:`share_memory`: the ring, the voices and the counters live
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
    block_size = _counter(_BLOCK_SIZE, doc="Frames per block the audio output runs at (set when it opens; "
                                       "0 before).")
    output_latency_ns = _counter(_LATENCY_NS, doc="Output latency the device reports, in ns (set when the "
                                             "output opens; 0 for the null clock, -1 if unknown).")

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
        for name, array in {**allocate(VOICE_FIELDS, n_slots), **allocate(CHANNEL_FIELDS, N_CHANNELS)}.items():
            setattr(self, name, array)
        # What a voice plays, in this process: its buffer, the one it fades from while
        # crossfading to a new render, and the note waiting for that crossfade to end.
        self.buffers: list[np.ndarray | None] = [None] * n_slots
        self.prev_buffers: list[np.ndarray | None] = [None] * n_slots
        self.pend_notes: list[object | None] = [None] * n_slots
        self._order = 0
        self.adsr = adsr
        self.gain = db_to_amplitude(gain_db)

        self.ring = CommandRing(ring_size)
        self.slots = VoiceSlots(n_slots)
        self.mixer = Mixer(n_slots, self.max_block, self.slots)
        self._pool = None
        self._shared = None
        if shared is not None:
            self._share(*shared)

    # ------------------------------------------------------------------ control side

    def _push(self, kind: int, ints=(0, 0, 0), floats=(0.0, 0.0, 0.0, 0.0), obj=None) -> bool:
        place = self._place if self._pool is not None else None
        if self.ring.push(kind, ints, floats, obj, place):
            return True
        self.dropped_commands += 1
        return False

    def _place(self, note, write_index: int, read_index: int) -> tuple | None:
        """Split engine: copy ``note`` into the pool; the command names it by slot."""
        slot = self._pool.place(note, write_index, read_index, self.state,
                                (self.voice_slot, self.prev_slot, self.pend_slot))
        if slot < 0:
            return None
        return slot, note.audio.shape[0], int(note.loop_start), int(note.loop_end)

    @property
    def commands_written(self) -> int:
        return self.ring.written

    @property
    def commands_done(self) -> int:
        return self.ring.done

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
        return self._push(NOTE_ON, (pitch, channel, note_id, _note_velocity(note), generation),
                          (ratio, level, 0.0, 0.0), note)

    def retarget(self, pitch: int, note, generation: int = 0, channel: int = -1, note_id: int = -1) -> bool:
        """Crossfade every sounding voice of key ``pitch`` that plays a note of the same
        library velocity, rendered for a morph generation not after ``generation``, to
        ``note`` (a new render of that key: same length, same timing), from where each
        voice is; False if the ring was full.

        ``channel`` >= 0 names one voice instead (with ``note_id`` when >= 0): ``note`` is
        a render of that voice's own morph, and from then on only retargets naming it move
        it; a retarget of the key (``channel`` -1) leaves such voices alone."""
        check_playable(note)
        return self._push(RETARGET, (pitch, channel, note_id, _note_velocity(note), generation), obj=note)

    def note_off(self, pitch: int, channel: int = 0, note_id: int = -1) -> bool:
        """Release held voices of ``pitch`` on ``channel`` (only ``note_id`` when >= 0)."""
        return self._push(NOTE_OFF, (pitch, channel, note_id))

    def set_sustain(self, on: bool, channel: int = 0) -> bool:
        return self._push(SUSTAIN, (int(bool(on)), channel, 0))

    def set_bend(self, semitones: float, channel: int = 0) -> bool:
        """Bend every voice on ``channel``; channel 0's bend also adds to all other channels."""
        return self._push(BEND, (0, channel, 0), (float(semitones), 0.0, 0.0, 0.0))

    def set_note_bend(self, pitch: int, semitones: float, channel: int = 0, note_id: int = -1) -> bool:
        """Bend only the held voices of ``pitch`` (and ``note_id`` when >= 0)."""
        return self._push(NOTE_BEND, (pitch, channel, note_id), (float(semitones), 0.0, 0.0, 0.0))

    def set_pressure(self, amplitude: float, channel: int = 0) -> bool:
        """Scale the voices on ``channel`` by ``amplitude`` (MPE pressure); smoothed like bend."""
        return self._push(PRESSURE, (0, channel, 0), (float(amplitude), 0.0, 0.0, 0.0))

    def panic(self) -> bool:
        return self._push(PANIC)

    def set_adsr(self, adsr: Adsr) -> bool:
        adsr.validate()
        return self._push(ADSR, floats=(adsr.attack, adsr.decay, adsr.sustain, adsr.release))

    def set_gain_db(self, db: float) -> bool:
        return self._push(GAIN, floats=(db_to_amplitude(db), 0.0, 0.0, 0.0))

    def _sounding(self) -> np.ndarray:
        """Control side: ``[n_slots]`` bool, the voices held, sustained or releasing."""
        return (self.state == HELD) | (self.state == RELEASED)

    def sounding_keys(self) -> list[tuple[int, int]]:
        """``(pitch, library velocity)`` of the notes sounding now, read from the voices
        without waiting for the audio side."""
        sounding = self._sounding()
        return sorted(set(zip(self.pitch[sounding].tolist(), self.note_vel[sounding].tolist())))

    def sounding_notes(self) -> set[tuple[int, int, int]]:
        """``(channel, pitch, note id)`` of the voices sounding now (control side)."""
        sounding = self._sounding()
        return set(zip(self.channel[sounding].tolist(), self.pitch[sounding].tolist(),
                       self.note_id[sounding].tolist()))

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

    def _shared_arrays(self) -> dict[str, np.ndarray]:
        """Everything both sides of a split engine read, by name: the voices and channels
        (from their field spec), the ring and the meters."""
        fields = {f.name: getattr(self, f.name) for f in (*VOICE_FIELDS, *CHANNEL_FIELDS)}
        return {**fields, **self.ring.arrays(), "counters": self._counters, "levels": self._levels,
                "callback_times": self._callback_times}

    def shared_layout(self) -> dict:
        """``{name: (shape, dtype)}`` of the arrays a split engine shares (the voice and channel
        fields were allocated from their spec, so their arrays carry it)."""
        return {name: (a.shape, a.dtype.str) for name, a in self._shared_arrays().items()}

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
        mapped_all = {}
        for name, local in self._shared_arrays().items():
            mapped = arrays.arrays.get(name)
            if mapped is None or mapped.shape != local.shape or mapped.dtype != local.dtype:
                got = "missing" if mapped is None else f"{mapped.dtype}{mapped.shape}"
                raise MorphsynthError(f"engine: shared '{name}' is {got}, expected {local.dtype}{local.shape}")
            if arrays.file.owner:
                mapped[...] = local
            mapped_all[name] = mapped
        for f in (*VOICE_FIELDS, *CHANNEL_FIELDS):
            setattr(self, f.name, mapped_all[f.name])
        self.ring.bind(mapped_all)
        self._counters, self._levels = mapped_all["counters"], mapped_all["levels"]
        self._callback_times = mapped_all["callback_times"]
        self._pool = pool
        self._shared = (arrays, pool)
        for v in range(self.n_slots):
            # Attaching to voices that already sound (an audio process restarted).
            if self.state[v] != FREE and self.voice_slot[v] >= 0:
                self.buffers[v] = pool.audio[self.voice_slot[v], :self.length[v]]
                if self.swap_left[v] > 0 and not arrays.file.owner:
                    self.end_swap(v)   # the faded-out buffer's length is not kept: finish the fade

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
        self.mixer.mix_block(self, out, n)

    def _drain(self) -> None:
        ring = self.ring
        while True:
            slot = ring.next_slot()
            if slot < 0:
                return
            kind = int(ring.kind[slot])
            ci = ring.ints[slot]
            a, b, c = int(ci[0]), int(ci[1]), int(ci[2])
            f = ring.floats[slot]
            if kind == NOTE_ON:
                if self._pool is None:
                    v = self._start_voice(a, b, c, float(f[0]), ring.objects[slot], float(f[1]))
                else:
                    note = self._pool.view(int(ci[5]), int(ci[6]), int(ci[7]), int(ci[8]))
                    v = self._start_voice(a, b, c, float(f[0]), note, float(f[1]))
                    self.voice_slot[v] = ci[5]
                self.note_vel[v] = ci[3]
                self.note_gen[v] = ci[4]
            elif kind == RETARGET:
                self._retarget(slot)
            elif kind == NOTE_OFF:
                self._release_key(a, b, c)
            elif kind == SUSTAIN:
                self._pedal(bool(a), b)
            elif kind == BEND:
                self.channel_bend[b] = f[0]
            elif kind == NOTE_BEND:
                for v in range(self.n_slots):
                    if (self.state[v] == HELD and self.pitch[v] == a and self.channel[v] == b
                            and (c < 0 or self.note_id[v] == c)):
                        self.note_bend[v] = f[0]
            elif kind == PRESSURE:
                self.channel_pressure[b] = f[0]
            elif kind == PANIC:
                self._panic()
            elif kind == ADSR:
                self.adsr = Adsr(float(f[0]), float(f[1]), float(f[2]), float(f[3]))
            elif kind == GAIN:
                self.gain = float(f[0])
            ring.advance()

    def _start_voice(self, pitch: int, channel: int, note_id: int, ratio: float, note, level: float = 1.0) -> int:
        self._order += 1
        if self.slots.count_sounding(self.state) >= self.polyphony:
            self._steal(self.slots.victim(self.state, self.released_at, self.started))
        v = self.slots.first_free(self.state)
        if v < 0:
            # Every spare slot is still fading: cut the oldest fade short.
            v = self.slots.oldest_stolen(self.state, self.started)
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
        self.own_morph[v] = False
        self.state[v] = HELD
        return v

    def _retarget(self, slot: int) -> None:
        """The RETARGET command in ring ``slot``: start (or queue) the crossfade of the
        matching sounding voices to its note."""
        pooled = self._pool is not None
        ci = self.ring.ints[slot]
        pitch, velocity, generation = int(ci[0]), int(ci[3]), int(ci[4])
        channel, note_id = int(ci[1]), int(ci[2])   # channel >= 0: one voice, to its own morph
        new_slot = int(ci[5]) if pooled else -1
        note = self.ring.objects[slot]
        for v in range(self.n_slots):
            if (self.pitch[v] != pitch or self.note_vel[v] != velocity or self.note_gen[v] > generation
                    or not (self.state[v] == HELD or self.state[v] == RELEASED)):
                continue   # another key, or a voice already playing a newer morph
            if channel >= 0:
                if self.channel[v] != channel or (note_id >= 0 and self.note_id[v] != note_id):
                    continue
                self.own_morph[v] = True
            elif self.own_morph[v]:
                continue   # the key's render would undo this voice's own morph
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

    def end_swap(self, v: int) -> None:
        """Voice ``v``'s crossfade has played: drop the old buffer, start the pending one."""
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
