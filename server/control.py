"""The normalised control state that OSC and MIDI handlers write.

OSC and MIDI map their raw values (MIDI 0..127, Pd floats, OSC strings) to plain
units first; :class:`Controls` holds the result (morph, envelope, gain, knobs,
bend) and turns it into prepared state: a new :class:`~morphsynth.server.morph.Morph`
swapped into the renderer, or a command in the engine's ring. Nothing here renders
or sleeps, except :meth:`Controls.render_to_file` and :meth:`Controls.add_source`,
which the server runs on its worker thread.
"""

from __future__ import annotations

import itertools
import math
import threading
from pathlib import Path
from typing import Callable

from morphsynth.core.errors import MorphsynthError
from morphsynth.core.files import atomic_path
from morphsynth.server.engine import Engine
from morphsynth.server.envelope import Adsr
from morphsynth.server.levels import velocity_to_level

N_KNOBS = 8
MAX_SOURCES = 16


def confined_path(base: str | Path, path: str, what: str) -> Path:
    """``path`` (relative to ``base``, or absolute inside it) resolved; MorphsynthError if it leaves ``base``.

    Rejects ``..`` components, absolute paths outside ``base`` and symlinks that lead out.
    """
    if not path or "\x00" in path:
        raise MorphsynthError(f"{what}: empty or invalid path {path!r}")
    given = Path(path)
    if ".." in given.parts:
        raise MorphsynthError(f"{what}: '{path}' contains '..'")
    root = Path(base).resolve()
    target = (given if given.is_absolute() else root / given).resolve()
    if target == root or root not in target.parents:
        why = "is outside" if given.is_absolute() else "leads outside (symlink)"
        raise MorphsynthError(f"{what}: '{path}' {why} {root}")
    return target


class Controls:
    """Current morph, envelope, gain and notes; writes the renderer's morph and engine commands.

    ``renderer`` follows the Renderer contract (``set_morph``, ``lookup``, ``request``,
    ``render``, ``add_source``, ``stats``, ``library.names``). ``notify(address, *args)``
    sends a notification to registered OSC clients.
    """

    def __init__(self, engine: Engine, renderer, *, sources=(), x: float = 0.5, y: float = 0.5,
                 interp: str = "linear", knobs=(), adsr: Adsr = Adsr(), gain_db: float = -6.0,
                 output_dir: str | Path = "renders", input_dir: str | Path = ".",
                 notify: Callable[..., None] | None = None, follow: bool = True):
        from morphsynth.server.morph import Morph  # noqa: F401  (torch; imported with the renderer)

        self.engine = engine
        self.renderer = renderer
        self.output_dir = Path(output_dir)
        self.input_dir = Path(input_dir)
        self.notify = notify or (lambda *a: None)
        self.follow = follow
        self._lock = threading.RLock()
        self._tokens = itertools.count(1)
        self._generation = 0   # counts morph changes: a voice never moves back to an older one
        self._held: dict[tuple[int, int, int], int] = {}
        self._in_flight = 0   # miss-path renders requested and not yet delivered
        self._delivered = threading.Condition(self._lock)
        names = list(sources) or self.renderer.library.starting_sources(4)
        if not names:
            raise MorphsynthError("library has no sources to play")
        self.sources: tuple[str, ...] = tuple(self._resolve(n) for n in names)
        self.x, self.y = float(x), float(y)
        self.interp = interp
        self.knobs = [0.0] * N_KNOBS
        for i, k in enumerate(knobs):
            if i >= N_KNOBS:
                raise MorphsynthError(f"morph.knobs: at most {N_KNOBS} knobs, got {len(knobs)}")
            self.knobs[i] = float(k)
        self.weights = self._xy_to_weights(self.x, self.y)
        self.ramp: tuple = ()
        self.adsr = adsr
        self.gain_db = float(gain_db)
        self.engine.set_adsr(adsr)
        self.engine.set_gain_db(gain_db)
        self._apply()

    # ------------------------------------------------------------------ morph

    def _resolve(self, name: str) -> str:
        resolve = getattr(self.renderer.library, "resolve", None)
        if resolve is not None:
            return resolve(name)
        if name not in self.renderer.library.names:
            raise MorphsynthError(f"unknown source '{name}'")
        return name

    def _xy_to_weights(self, x: float, y: float) -> tuple[float, ...]:
        from morphsynth.server.morph import xy_weights

        n = len(self.sources)
        if n == 1:
            return (1.0,)
        if n == 2:
            return (1.0 - x, x) if 0.0 < x < 1.0 else ((1.0, 0.0) if x <= 0.0 else (0.0, 1.0))
        corners = xy_weights(x, y)
        if n == 3:
            w = corners[:3]
            return w if sum(w) > 0 else (1 / 3, 1 / 3, 1 / 3)
        return corners + (0.0,) * (n - 4)

    def current_morph(self):
        from morphsynth.server.morph import Morph

        knobs = tuple(self.knobs) if any(self.knobs) else ()
        return Morph(self.sources, tuple(self.weights), self.interp, knobs, self.ramp)

    def _apply(self) -> None:
        morph = self.current_morph().validate()
        with self._lock:
            self._generation += 1
            generation = self._generation
        # Notes still sounding move with the morph: new renders crossfade in where they play.
        sounding = [(p, v) for p, v in self.engine.sounding_keys() if v > 0] if self.follow else []
        self.renderer.set_morph(morph, follow=sounding,
                                on_follow=lambda note: self.engine.retarget(note.pitch, note, generation))

    def _change(self, **fields) -> None:
        """Set fields, apply, and put them back if the morph is refused."""
        with self._lock:
            saved = {k: getattr(self, k) for k in fields}
            for k, v in fields.items():
                setattr(self, k, v)
            try:
                self._apply()
            except MorphsynthError:
                for k, v in saved.items():
                    setattr(self, k, v)
                raise

    def set_sources(self, names) -> None:
        if not 1 <= len(names) <= MAX_SOURCES:
            raise MorphsynthError(f"sources: need 1..{MAX_SOURCES} names, got {len(names)}")
        resolved = tuple(self._resolve(n) for n in names)
        with self._lock:
            old = self.sources
            self.sources = resolved  # _xy_to_weights reads the source count
            weights = self._xy_to_weights(self.x, self.y) if len(resolved) <= 4 else (1.0,) * len(resolved)
            self.sources = old
            interp = self.interp if (self.interp != "slerp" or len(resolved) == 2) else "linear"
            self._change(sources=resolved, weights=weights, ramp=(), interp=interp)

    def set_weights(self, weights) -> None:
        if len(weights) != len(self.sources):
            raise MorphsynthError(f"weights: need {len(self.sources)} (one per source), got {len(weights)}")
        if sum(weights) <= 0:
            raise MorphsynthError("weights: all zero")
        self._change(weights=tuple(float(w) for w in weights))

    def set_xy(self, x: float, y: float) -> None:
        with self._lock:
            self._change(x=float(x), y=float(y), weights=self._xy_to_weights(float(x), float(y)))

    def set_ramp(self, flat) -> None:
        """``flat``: ``t0 w0_1..w0_N t1 w1_1..w1_N ...``; a single 0 clears the ramp."""
        n = len(self.sources)
        if len(flat) == 1 and flat[0] == 0:
            self._change(ramp=())
            return
        if len(flat) % (n + 1) != 0:
            raise MorphsynthError(f"ramp: {len(flat)} values is not a multiple of {n + 1} (time + {n} weights)")
        points = []
        last = -1.0
        for i in range(0, len(flat), n + 1):
            t, w = float(flat[i]), tuple(float(v) for v in flat[i + 1:i + n + 1])
            if t < last:
                raise MorphsynthError(f"ramp: breakpoint {i // (n + 1)} time {t} s is before {last} s")
            if sum(w) <= 0:
                raise MorphsynthError(f"ramp: breakpoint {i // (n + 1)} weights are all zero")
            last = t
            points.append((t, w))
        self._change(ramp=tuple(points))

    def set_interp(self, mode: str) -> None:
        if mode not in ("linear", "slerp"):
            raise MorphsynthError(f"interp: '{mode}' is not linear or slerp")
        if mode == "slerp" and len(self.sources) != 2:
            raise MorphsynthError(f"interp: slerp needs exactly 2 sources, have {len(self.sources)}")
        self._change(interp=mode)

    def set_knob(self, index: int, value: float) -> None:
        if not 0 <= index < N_KNOBS:
            raise MorphsynthError(f"knob: index {index} is outside 0..{N_KNOBS - 1}")
        with self._lock:
            knobs = list(self.knobs)
            knobs[index] = float(value)
            self._change(knobs=knobs)

    # ------------------------------------------------------------------ sound

    def set_adsr(self, attack: float, decay: float, sustain: float, release: float) -> None:
        adsr = Adsr(attack, decay, sustain, release)
        adsr.validate()
        self.adsr = adsr
        self.engine.set_adsr(adsr)

    def set_gain_db(self, db: float) -> None:
        if not (math.isfinite(db) and -120.0 <= db <= 24.0):
            raise MorphsynthError(f"gain: {db} dB is outside -120..24")
        self.gain_db = float(db)
        self.engine.set_gain_db(db)

    # ------------------------------------------------------------------ notes

    def note_on(self, pitch: int, velocity: int, channel: int = 0, note_id: int = -1) -> None:
        if velocity == 0:
            self.note_off(pitch, channel, note_id)
            return
        key = (channel, pitch, note_id)
        token = next(self._tokens)
        with self._lock:
            self._held[key] = token
            generation = self._generation
        note = self.renderer.lookup(pitch, velocity)
        if note is not None:
            self.engine.note_on(pitch, note, channel, note_id, velocity_to_level(velocity, note.velocity),
                                generation)
            return

        def ready(rendered, key=key, token=token):
            try:
                # A key released (or struck again) while rendering must not start late.
                with self._lock:
                    start = self._held.get(key) == token
                if start:
                    self.engine.note_on(pitch, rendered, channel, note_id,
                                        velocity_to_level(velocity, rendered.velocity), generation)
                    self.notify("/note/ready", pitch, velocity)
            finally:
                with self._lock:
                    self._in_flight -= 1
                    self._delivered.notify_all()

        with self._lock:
            self._in_flight += 1
        try:
            self.renderer.request(pitch, velocity, ready)
        except BaseException:
            with self._lock:
                self._in_flight -= 1
            raise

    def wait_requests(self, timeout: float) -> bool:
        """Wait until every miss-path render requested so far has been delivered."""
        with self._lock:
            return self._delivered.wait_for(lambda: self._in_flight <= 0, timeout)

    def note_off(self, pitch: int, channel: int = 0, note_id: int = -1) -> None:
        with self._lock:
            if note_id >= 0:
                self._held.pop((channel, pitch, note_id), None)
            else:
                for key in [k for k in self._held if k[0] == channel and k[1] == pitch]:
                    del self._held[key]
        self.engine.note_off(pitch, channel, note_id)

    def sustain(self, on: bool, channel: int = 0) -> None:
        self.engine.set_sustain(on, channel)

    def bend(self, semitones: float, channel: int = 0) -> None:
        self.engine.set_bend(semitones, channel)

    def note_bend(self, pitch: int, semitones: float, channel: int = 0, note_id: int = -1) -> None:
        self.engine.set_note_bend(pitch, semitones, channel, note_id)

    def pressure(self, amount: float, channel: int = 0) -> None:
        """``amount`` in 0..1 (MPE pressure) scales the channel's voices from 0.5x to 1.5x."""
        self.engine.set_pressure(0.5 + min(max(amount, 0.0), 1.0), channel)

    def panic(self) -> None:
        with self._lock:
            self._held.clear()
        self.engine.panic()

    # ------------------------------------------------------------------ files (worker thread)

    def render_to_file(self, relative: str, pitch: int, velocity: int, duration: float | None = None) -> Path:
        """Render the current morph to a WAV inside the output folder; returns its path."""
        import soundfile as sf

        if not relative.lower().endswith(".wav"):
            raise MorphsynthError(f"render: '{relative}' must end in .wav")
        target = confined_path(self.output_dir, relative, "render")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MorphsynthError(f"render: cannot create the folder of '{relative}' in {self.output_dir} "
                                  f"({exc.strerror or exc})") from None
        # Re-check after creating folders: a symlinked folder could have been swapped in.
        confined_path(self.output_dir, relative, "render")
        audio = self.renderer.render(self.current_morph().validate(), pitch, velocity, duration)
        try:
            with atomic_path(target) as tmp:
                sf.write(str(tmp), audio, self.renderer.out_rate, subtype="FLOAT", format="WAV")
        except (OSError, RuntimeError) as exc:
            raise MorphsynthError(f"render: cannot write '{relative}' in {self.output_dir} ({exc})") from None
        return target

    def add_source(self, relative: str, name: str, pitch: int | None = None) -> int:
        """Encode a note file from the input folder as a new library source (at ``pitch``, or
        the detected one); returns the source count."""
        path = confined_path(self.input_dir, relative, "library/add")
        if not path.is_file():
            raise MorphsynthError(f"library/add: '{relative}' is not a file in {self.input_dir}")
        self.renderer.add_source(str(path), name, pitch)
        count = len(self.renderer.library.names)
        self.notify("/library/changed", count)
        return count

    def library_names(self, containing: str = "") -> list[str]:
        """The library's source names, or those that contain ``containing`` (case ignored)."""
        library = self.renderer.library
        return library.names_containing(containing) if containing else list(library.names)
