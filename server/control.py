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
from morphsynth.server.presets import Preset, PresetStore
from morphsynth.server.server_config import EnvelopeSettings, MidiSettings
from morphsynth.server.voice_morph import N_KNOBS, MorphState, VoiceMorphs

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
    sends a notification to registered OSC clients: every setter echoes what it changed,
    in the address and arguments that change it (``/morph/xy x y``, ``/gain db``, ...), so
    controllers stay in sync whoever moved what. ``cc_map`` is the live MIDI CC map
    (``midi.cc_map`` at start; presets change it); presets are ``<name>.yaml`` in ``presets_dir``.
    """

    def __init__(self, engine: Engine, renderer, *, sources=(), x: float = 0.5, y: float = 0.5,
                 interp: str = "linear", knobs=(), adsr: Adsr = Adsr(), gain_db: float = -6.0,
                 output_dir: str | Path = "renders", input_dir: str | Path = ".",
                 notify: Callable[..., None] | None = None, follow: bool = True,
                 cc_map: dict[int, str] | None = None, presets_dir: str | Path | None = None,
                 models_dir: str | Path | None = None):
        from morphsynth.server.morph import Morph  # noqa: F401  (torch; imported with the renderer)

        self.engine = engine
        self.renderer = renderer
        self.output_dir = Path(output_dir)
        self.input_dir = Path(input_dir)
        # /model/load and /library/load read only inside this folder (None: they are refused).
        self.models_dir = Path(models_dir) if models_dir is not None else None
        self.notify = notify or (lambda *a: None)
        self.follow = follow
        self.cc_map: dict[int, str] = dict(MidiSettings().cc_map if cc_map is None else cc_map)
        self.presets = PresetStore(presets_dir)
        self._lock = threading.RLock()
        # Each struck note's own morph: kept from its start or following, plus MPE offsets.
        self.voices = VoiceMorphs(engine, renderer, self._live)
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
        from morphsynth.server.morph import pad_weights

        return pad_weights(len(self.sources), x, y)

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
        self.voices.morph_moved()

    def morph_state(self) -> MorphState:
        """The live morph's control state (what a struck note keeps)."""
        with self._lock:
            return MorphState(self.sources, self.x, self.y, tuple(self.weights), self.interp,
                              tuple(self.knobs), self.ramp)

    def _live(self) -> tuple[MorphState, int, bool]:
        with self._lock:
            return self.morph_state(), self._generation, self.follow

    def set_follow(self, on: bool) -> None:
        """True: sounding notes move with the morph ("follow"); False: each keeps the morph
        it plays now ("keep"), as notes struck from then on keep theirs."""
        with self._lock:
            changed = self.follow != bool(on)
            if self.follow and not on:
                self.voices.rebase(self.morph_state())
            self.follow = bool(on)
            if changed:
                self.notify("/morph/follow", int(self.follow))

    def voice_offset(self, channel: int, pitch: int, note_id: int, source: str, axis: str, amount: float) -> int:
        """Move the morph of the held notes of ``pitch`` on ``channel`` (only ``note_id``
        when >= 0) along ``axis`` (x, y: pad units -1..1; knobN: -4..4 standard deviations)
        by ``amount`` from their base, for ``source`` (slide, pressure, osc: their offsets
        add); only these notes are rendered again. Returns how many notes moved."""
        if getattr(self.renderer, "request_note", None) is None:
            raise MorphsynthError("per-note morph: this renderer cannot render a note's own morph")
        return self.voices.set_offset(channel, pitch, note_id, source, axis, amount)

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
            # Under the lock: echoes leave in the order the changes were made.
            for message in self._morph_messages({k for k in saved if saved[k] != getattr(self, k)},
                                                saved.get("knobs")):
                self.notify(*message)

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
        self.notify(*self._adsr_message())

    def set_gain_db(self, db: float) -> None:
        if not (math.isfinite(db) and -120.0 <= db <= 24.0):
            raise MorphsynthError(f"gain: {db} dB is outside -120..24")
        self.gain_db = float(db)
        self.engine.set_gain_db(db)
        self.notify("/gain", self.gain_db)

    # ------------------------------------------------------------------ echo and presets

    def _morph_messages(self, fields: set[str], old_knobs=None) -> list[tuple]:
        """The notifications that show the current value of the morph ``fields``; knobs: only
        those that differ from ``old_knobs`` (all when None)."""
        out: list[tuple] = []
        if "sources" in fields:
            out.append(("/morph/sources", *self.sources))
        if "weights" in fields:
            out.append(("/morph/weights", *(float(w) for w in self.weights)))
        if fields & {"x", "y"}:
            out.append(("/morph/xy", float(self.x), float(self.y)))
        if "interp" in fields:
            out.append(("/morph/interp", self.interp))
        if "ramp" in fields:
            flat = [float(v) for t, w in self.ramp for v in (t, *w)]
            out.append(("/morph/ramp", *(flat or [0.0])))   # a single 0 is how /morph/ramp clears
        if "knobs" in fields:
            out += [("/knob", i, float(v)) for i, v in enumerate(self.knobs)
                    if old_knobs is None or i >= len(old_knobs) or old_knobs[i] != v]
        return out

    def _adsr_message(self) -> tuple:
        a = self.adsr
        return ("/adsr", float(a.attack), float(a.decay), float(a.sustain), float(a.release))

    def state_messages(self) -> list[tuple]:
        """The whole state as the notifications that echo it (what a newly registered client gets)."""
        with self._lock:
            return self._morph_messages({"sources", "weights", "x", "interp", "ramp", "knobs"}) + [
                ("/morph/follow", int(self.follow)), self._adsr_message(), ("/gain", float(self.gain_db))]

    def snapshot(self) -> Preset:
        """The performance state as a preset with every key."""
        with self._lock:
            a = self.adsr
            return Preset(sources=list(self.sources), weights=[float(w) for w in self.weights],
                          x=float(self.x), y=float(self.y), interp=self.interp,
                          ramp=[[float(t), *(float(v) for v in w)] for t, w in self.ramp],
                          knobs=[float(k) for k in self.knobs],
                          envelope=EnvelopeSettings(a.attack, a.decay, a.sustain, a.release),
                          gain_db=float(self.gain_db), cc_map=dict(self.cc_map), follow=self.follow)

    def restore(self, preset: Preset) -> None:
        """Apply ``preset`` in one step: follow, one morph change, then envelope, gain and CC map;
        keys it leaves out keep their value. If any value is refused nothing changes."""
        from morphsynth.server.morph import Morph

        p = preset
        sources = tuple(self._resolve(n) for n in p.sources) if p.sources is not None else None
        adsr = Adsr(p.envelope.attack, p.envelope.decay, p.envelope.sustain, p.envelope.release) \
            if p.envelope is not None else self.adsr
        adsr.validate()
        gain_db = float(p.gain_db) if p.gain_db is not None else self.gain_db
        if not (math.isfinite(gain_db) and -120.0 <= gain_db <= 24.0):
            raise MorphsynthError(f"gain: {gain_db} dB is outside -120..24")
        with self._lock:
            new_sources = sources if sources is not None else self.sources
            x = float(p.x) if p.x is not None else self.x
            y = float(p.y) if p.y is not None else self.y
            if p.weights is not None:
                weights = tuple(float(w) for w in p.weights)
            elif sources is not None or p.x is not None or p.y is not None:
                # As /morph/sources and /morph/xy do: weights from the pad position.
                old = self.sources
                self.sources = new_sources  # _xy_to_weights reads the source count
                weights = self._xy_to_weights(x, y) if len(new_sources) <= 4 else (1.0,) * len(new_sources)
                self.sources = old
            else:
                weights = self.weights
            interp = p.interp if p.interp is not None else (
                self.interp if (self.interp != "slerp" or len(new_sources) == 2) else "linear")
            if p.ramp is not None:
                ramp = tuple((float(row[0]), tuple(float(w) for w in row[1:])) for row in p.ramp)
            else:
                ramp = () if sources is not None else self.ramp
            knobs = list(self.knobs)
            if p.knobs is not None:
                knobs = [float(k) for k in p.knobs] + [0.0] * (N_KNOBS - len(p.knobs))
            # Checked before anything changes: weights and ramp per source, slerp of two.
            Morph(new_sources, weights, interp, tuple(knobs) if any(knobs) else (), ramp).validate()
            if p.follow is not None:
                # Before the morph moves: in "keep", notes sounding now keep the morph they play.
                self.set_follow(bool(p.follow))
            self._change(sources=new_sources, weights=weights, x=x, y=y, interp=interp, ramp=ramp, knobs=knobs)
            if adsr != self.adsr:
                self.adsr = adsr
                self.engine.set_adsr(adsr)
                self.notify(*self._adsr_message())
            if gain_db != self.gain_db:
                self.gain_db = gain_db
                self.engine.set_gain_db(gain_db)
                self.notify("/gain", gain_db)
            if p.cc_map is not None:
                self.cc_map = dict(p.cc_map)

    def save_preset(self, name: str) -> Path:
        """Write the current state as preset ``name``; returns its file."""
        return self.presets.save(name, self.snapshot())

    def load_preset(self, name: str) -> None:
        """Recall preset ``name`` (a one-line MorphsynthError naming the file and key if it is bad;
        the state is then unchanged) and notify ``/preset/loaded name``."""
        preset = self.presets.load(name)
        try:
            self.restore(preset)
        except MorphsynthError as exc:
            raise MorphsynthError(f"preset '{name}': {exc}") from None
        self.notify("/preset/loaded", name)

    def preset_names(self) -> list[str]:
        return self.presets.names()

    def model_loaded(self, name: str) -> None:
        """Tell registered clients that model ``name`` now plays (called by whoever swaps it)."""
        self.notify("/model/loaded", name)

    def library_loaded(self, name: str) -> None:
        """Tell registered clients that library ``name`` now plays (called by whoever swaps it)."""
        self.notify("/library/loaded", name)

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
            self.voices.struck(channel, pitch, note_id, velocity, self.morph_state())
        note = self.renderer.lookup(pitch, velocity)
        if note is not None:
            self.engine.note_on(pitch, note, channel, note_id, velocity_to_level(velocity, note.velocity),
                                generation)
            self.voices.started(channel, pitch, note_id)
            return

        def ready(rendered, key=key, token=token):
            try:
                # A key released (or struck again) while rendering must not start late.
                with self._lock:
                    start = self._held.get(key) == token
                if start:
                    self.engine.note_on(pitch, rendered, channel, note_id,
                                        velocity_to_level(velocity, rendered.velocity), generation)
                    self.voices.started(channel, pitch, note_id)
                    self.notify("/note/ready", pitch, velocity)
                    self._catch_up(pitch, velocity, generation)
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

    def _catch_up(self, pitch: int, velocity: int, generation: int) -> None:
        """A note rendered for a morph that moved on while it rendered: when following, it
        renders again for the live one (no sounding key asked for it when the morph moved)."""
        with self._lock:
            follow, now = self.follow, self._generation
        if follow and now != generation:
            self.renderer.request(pitch, velocity, lambda note: self.engine.retarget(pitch, note, now))

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
        self.voices.released(channel, pitch, note_id)
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
        self.voices.clear()
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

    # ------------------------------------------------------------------ hot swap (worker thread)

    def load_model(self, relative: str, library: str | None = None) -> str:
        """Play the model folder ``relative`` (inside the models folder) from now on, with its
        ``library.safetensors`` or the library file ``library``; returns the model's name.
        On any error the served model and library stay."""
        from morphsynth.server.hotswap import read_model

        self._can_swap("model/load")
        model, lib = read_model(self.models_dir, relative, library, self.renderer.model)
        self._swap(model, lib)
        self.model_loaded(model.name)
        self.library_loaded(library or f"{relative.rstrip('/')}/library.safetensors")
        return model.name

    def load_library(self, relative: str) -> None:
        """Play the library file ``relative`` (inside the models folder, built by the served
        model) from now on; on any error the served library stays."""
        from morphsynth.server.hotswap import read_library

        self._can_swap("library/load")
        self._swap(self.renderer.model, read_library(self.models_dir, relative, self.renderer.model))
        self.library_loaded(relative)

    def _can_swap(self, where: str) -> None:
        if getattr(self.renderer, "swap", None) is None:
            raise MorphsynthError(f"{where}: this server's renderer cannot change its model or library")

    def _swap(self, model, library) -> None:
        """Swap ``model`` and ``library`` into the renderer with the morph that suits them.

        A musician who loads a library that holds the sources being played keeps the
        sound's position in it (sources, weights, ramp, interpolation); one without them
        starts like a fresh server on that library: its starting sources at the XY corners,
        at the current x, y, ramp cleared. Knobs stay where the library has those axes.
        Sounding notes keep the audio they play; notes struck from now on render anew.
        """
        from morphsynth.server.morph import Morph

        with self._lock:
            keep = all(name in library.names for name in self.sources)
            saved = {k: getattr(self, k) for k in ("sources", "weights", "ramp", "interp", "knobs")}
            sources = self.sources if keep else tuple(library.starting_sources(4))
            self.sources = sources  # _xy_to_weights reads the source count
            weights = self.weights if keep else (
                self._xy_to_weights(self.x, self.y) if len(sources) <= 4 else (1.0,) * len(sources))
            self.sources = saved["sources"]
            axes = int(library.pca_axes.shape[0])
            knobs = [v if i < axes else 0.0 for i, v in enumerate(self.knobs)]
            fields = dict(sources=sources, weights=tuple(weights), ramp=self.ramp if keep else (),
                          interp=self.interp if keep or len(sources) == 2 else "linear", knobs=knobs)
            morph = Morph(fields["sources"], fields["weights"], fields["interp"],
                          tuple(knobs) if any(knobs) else (), fields["ramp"]).validate()
            self.renderer.swap(model, library, morph)
            for k, v in fields.items():
                setattr(self, k, v)
            self._generation += 1
            for message in self._morph_messages({k for k in saved if saved[k] != getattr(self, k)},
                                                saved["knobs"]):
                self.notify(*message)
