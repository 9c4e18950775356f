"""Per-voice morphs: one note's morph apart from the live one.

A sounding note either keeps the morph it was struck with ("keep", ``morph.follow:
false``) or moves with the live morph ("follow"). On top of that, MPE slide and pressure
(:mod:`morphsynth.server.midi`) and ``/note/morph`` push one note's morph along an axis
(the XY pad's x or y, or a latent knob) while the other notes stay where they are.

:class:`VoiceMorphs` holds, per struck note, the morph state it was struck with, its
offsets by source (``slide``, ``pressure``, ``osc``; offsets on one axis add up) and its
re-render: the note is rendered for its base (its own start morph when keeping, the live
morph when following) moved by its offsets, and crossfaded in for that voice alone
(:meth:`Engine.retarget <morphsynth.server.engine.Engine.retarget>` naming its channel
and note id). Offsets come far faster than notes render (a slide sends up to about a
hundred messages a second), so each note has at most one render in flight, and when it
is done only the newest wanted morph is rendered next; the ones in between are skipped.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from typing import Callable

from morphsynth.core.errors import MorphsynthError

log = logging.getLogger("morphsynth.voices")

N_KNOBS = 8
AXES = ("x", "y") + tuple(f"knob{i}" for i in range(N_KNOBS))
PAD_REACH = 1.0    # the largest x or y offset (the whole pad)
KNOB_REACH = 4.0   # the largest knob offset, standard deviations (as /knob)


def check_axis(axis: str, what: str = "axis") -> str:
    """``axis`` when it is one of :data:`AXES`, else a one-line error naming ``what``."""
    if axis not in AXES:
        raise MorphsynthError(f"{what}: '{axis}' is not x, y or knob0..knob{N_KNOBS - 1}")
    return axis


def axis_reach(axis: str) -> float:
    """The largest offset along ``axis``: pad units for x and y, standard deviations for knobs."""
    return PAD_REACH if axis in ("x", "y") else KNOB_REACH


def check_offset(axis: str, amount: float) -> float:
    check_axis(axis)
    reach = axis_reach(axis)
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount) \
            or abs(amount) > reach:
        raise MorphsynthError(f"offset: {amount!r} along {axis} is outside -{reach:g}..{reach:g}")
    return float(amount)


@dataclass(frozen=True)
class MorphState:
    """The control state a morph is made of: ``sources``, the pad position ``x``, ``y``,
    ``weights`` (one per source), ``interp``, ``knobs`` (all :data:`N_KNOBS`, standard
    deviations) and ``ramp``."""

    sources: tuple[str, ...]
    x: float
    y: float
    weights: tuple[float, ...]
    interp: str
    knobs: tuple[float, ...]
    ramp: tuple = ()

    def morph(self, offsets: dict[str, float] | None = None):
        """The :class:`~morphsynth.server.morph.Morph` of this state moved by ``offsets``
        (axis -> amount). An x or y offset moves the pad position (clamped to 0..1) and
        takes the weights from there; with a ramp, whose breakpoints set the weights,
        only knob offsets change the sound."""
        from morphsynth.server.morph import Morph, pad_weights

        offsets = offsets or {}
        weights = self.weights
        if "x" in offsets or "y" in offsets:
            x = min(max(self.x + offsets.get("x", 0.0), 0.0), 1.0)
            y = min(max(self.y + offsets.get("y", 0.0), 0.0), 1.0)
            weights = pad_weights(len(self.sources), x, y)
        knobs = [k + offsets.get(f"knob{i}", 0.0) for i, k in enumerate(self.knobs)]
        # No knob moved: the same morph (and cache key) as the live one's.
        return Morph(self.sources, tuple(weights), self.interp, tuple(knobs) if any(knobs) else (), self.ramp)


@dataclass(eq=False)
class VoiceNote:
    """One struck note: its key, the state it was struck with and its offsets."""

    channel: int
    pitch: int
    note_id: int
    velocity: int
    base: MorphState
    offsets: dict[str, tuple[str, float]] = field(default_factory=dict)   # source -> (axis, amount)
    held: bool = True
    started: bool = False      # its voice has been started in the engine
    own: bool = False          # it has been given (or waits for) a render of its own morph
    wanted: tuple = ()         # (Morph, generation) to render next
    busy: bool = False         # a render is in flight
    dirty: bool = False        # wanted changed while busy

    @property
    def key(self) -> tuple[int, int, int]:
        return self.channel, self.pitch, self.note_id

    def axis_offsets(self) -> dict[str, float]:
        """Axis -> the sum of the sources' offsets along it (zero sums left out)."""
        out: dict[str, float] = {}
        for axis, amount in self.offsets.values():
            out[axis] = out.get(axis, 0.0) + amount
        return {axis: amount for axis, amount in out.items() if amount != 0.0}


class VoiceMorphs:
    """The struck notes' own morphs and their re-renders.

    ``engine``: an :class:`~morphsynth.server.engine.Engine` (``retarget``,
    ``sounding_notes``). ``renderer``: has ``request_note(morph, pitch, velocity,
    on_ready)``. ``live()`` returns ``(MorphState, generation, follow)`` of the live
    morph now. Methods are called from control threads; renders finish on the
    renderer's worker.
    """

    def __init__(self, engine, renderer, live: Callable[[], tuple[MorphState, int, bool]]):
        self.engine = engine
        self.renderer = renderer
        self.live = live
        self._notes: dict[tuple[int, int, int], VoiceNote] = {}
        self._lock = threading.Lock()
        self.renders = 0   # own-morph renders asked of the renderer

    def __len__(self) -> int:
        with self._lock:
            return len(self._notes)

    def note(self, channel: int, pitch: int, note_id: int = -1) -> VoiceNote | None:
        with self._lock:
            return self._notes.get((channel, pitch, note_id))

    # ------------------------------------------------------------------ notes

    def struck(self, channel: int, pitch: int, note_id: int, velocity: int, state: MorphState) -> None:
        """A note-on with the morph ``state`` it renders; its voice starts later (:meth:`started`)."""
        self._prune()
        with self._lock:
            self._notes[(channel, pitch, note_id)] = VoiceNote(channel, pitch, note_id, velocity, state)

    def started(self, channel: int, pitch: int, note_id: int) -> None:
        """The note's voice is in the engine: offsets it got meanwhile take effect."""
        with self._lock:
            note = self._notes.get((channel, pitch, note_id))
            if note is None:
                return
            note.started = True
        self._update([note])

    def released(self, channel: int, pitch: int, note_id: int = -1) -> None:
        """Note-off (of every note of ``pitch`` on ``channel`` when ``note_id`` < 0): its
        offsets stay as they are while it releases."""
        with self._lock:
            for note in self._matching(channel, pitch, note_id):
                note.held = False

    def clear(self) -> None:
        with self._lock:
            self._notes.clear()

    def _prune(self) -> None:
        """Forget released notes that have faded out: they need nothing more."""
        with self._lock:
            released = any(not n.held for n in self._notes.values())
        if not released:
            return
        sounding = self.engine.sounding_notes()
        with self._lock:
            for key in [k for k, n in self._notes.items() if not n.held and k not in sounding]:
                del self._notes[key]

    def _matching(self, channel: int, pitch: int, note_id: int) -> list[VoiceNote]:
        return [n for n in self._notes.values() if n.channel == channel and n.pitch == pitch
                and (note_id < 0 or n.note_id == note_id)]

    # ------------------------------------------------------------------ morphs

    def set_offset(self, channel: int, pitch: int, note_id: int, source: str, axis: str, amount: float) -> int:
        """Move the held notes of ``pitch`` on ``channel`` (only ``note_id`` when >= 0) by
        ``amount`` along ``axis``, as ``source`` says (it replaces that source's earlier
        offset); returns how many notes it moved."""
        amount = check_offset(axis, amount)
        with self._lock:
            notes = [n for n in self._matching(channel, pitch, note_id) if n.held]
            for note in notes:
                if amount == 0.0:
                    note.offsets.pop(source, None)
                else:
                    note.offsets[source] = (axis, amount)
        self._update(notes)
        return len(notes)

    def morph_moved(self) -> None:
        """The live morph changed: when following, the notes with morphs of their own are
        rendered again from it (the others follow through the key's renders)."""
        _, _, follow = self.live()
        if not follow:
            return
        self._prune()
        with self._lock:
            notes = [n for n in self._notes.values() if n.own]
        self._update(notes)

    def rebase(self, state: MorphState) -> None:
        """Make ``state`` every note's start morph (following stops: they keep what they play)."""
        with self._lock:
            for note in self._notes.values():
                note.base = state

    def _update(self, notes: list[VoiceNote]) -> None:
        state, generation, follow = self.live()
        submit = []
        with self._lock:
            for note in notes:
                offsets = note.axis_offsets()
                if not note.started or not (offsets or note.own):
                    continue
                note.own = True
                note.wanted = ((state if follow else note.base).morph(offsets), generation)
                if note.busy:
                    note.dirty = True
                else:
                    note.busy = True
                    submit.append(note)
        for note in submit:
            self._submit(note)

    def _submit(self, note: VoiceNote) -> None:
        morph, generation = note.wanted
        self.renders += 1
        try:
            self.renderer.request_note(morph, note.pitch, note.velocity,
                                       lambda rendered: self._done(note, rendered, generation))
        except MorphsynthError:
            with self._lock:
                note.busy = note.dirty = False
            raise

    def _done(self, note: VoiceNote, rendered, generation: int) -> None:
        """On the renderer's worker (or at once from the cache): crossfade the voice to
        ``rendered``, then render the newest wanted morph if it moved meanwhile."""
        try:
            self.engine.retarget(note.pitch, rendered, generation, note.channel, note.note_id)
        except MorphsynthError as exc:
            log.warning("note %d: %s", note.pitch, exc)
        with self._lock:
            again = note.dirty and self._notes.get(note.key) is note
            note.dirty = False
            note.busy = again
        if again:
            try:
                self._submit(note)
            except MorphsynthError as exc:
                log.warning("note %d: its own morph cannot render: %s", note.pitch, exc)
