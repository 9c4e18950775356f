"""Sampler instruments from morphs: WAV samples across keys and velocity layers, mapped by SFZ.

:func:`export_instruments` renders each morph (one, or each point of an XY grid) with the
:class:`~morphsynth.server.renderer.Renderer` at a set of keys and velocity layers, writes
every note as a WAV (24-bit or float, at the renderer's rate, through
:func:`morphsynth.core.files.atomic_path`) and maps them for a sampler:

* ``sfz``: one ``.sfz`` per morph, a ``<region>`` per sample (``pitch_keycenter``,
  ``lokey``/``hikey`` tiling MIDI keys 0-127 between the rendered keys, ``lovel``/``hivel``
  tiling 1-127 between the layers, ``loop_continuous`` over the note's loop, an
  ``ampeg_release`` as long as the render's own release); for a grid also one ``_grid.sfz``
  in which CC1 and CC2 (the server's x and y controllers) choose the grid point.
* ``sf2``: the SFZ converted by Polyphone (the SoundFont editor's command line), when it
  is installed.
* ``wav``: the samples and an ``index.json`` of their keys, layers and loop points.

Levels: each sample holds its note at the level of velocity 127 (the renderer's note at
its library velocity, raised by the engine's velocity curve), so a sampler's default
velocity tracking (amplitude ∝ velocity², as in SFZ and SoundFont players) plays every
velocity as loud as the server does. The whole export is then scaled by one gain, so its
loudest sample peaks at -1 dBFS and the relative levels stay.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from morphsynth.core.errors import MorphsynthError
from morphsynth.core.files import atomic_path, atomic_write_text, write_json
from morphsynth.server.levels import velocity_to_level
from morphsynth.server.library import PITCH_MAX, PITCH_MIN
from morphsynth.server.morph import Morph, xy_weights

FORMATS = ("sfz", "sf2", "wav")
SAMPLE_FORMATS = {"24": "PCM_24", "float": "FLOAT"}
INDEX_FORMAT = "morphsynth-sampler-index"
INDEX_VERSION = 1
PEAK_DBFS = -1.0
# The release ends where the render falls this far below the hold's level.
RELEASE_FLOOR_DB = -60.0
RELEASE_FRAME_S = 0.01
MAX_GRID = 9
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
POLYPHONE_HINT = ("install Polyphone (apt-get install polyphone), or export --format sfz and convert "
                  "the .sfz to .sf2 with Polyphone")


# ------------------------------------------------------------------ layouts
def parse_keys(text: str, what: str = "--keys") -> tuple[int, ...]:
    """Keys from ``LO-HI``, ``LO-HI/STEP`` (every STEP-th key from LO, and HI) or single
    keys, joined by commas: ``21-108/3``, ``48,60,72``. Sorted, without repeats."""
    keys: set[int] = set()
    for part in str(text).split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*(?:/\s*(\d+)\s*)?)?", part)
        if not m:
            raise MorphsynthError(f"{what} {text}: expected LO-HI, LO-HI/STEP or keys joined by commas "
                                  f"(e.g. 21-108/3 or 48,60,72)")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        step = int(m.group(3)) if m.group(3) is not None else 1
        for key in (lo, hi):
            if not PITCH_MIN <= key <= PITCH_MAX:
                raise MorphsynthError(f"{what} {text}: {key} is not a MIDI key {PITCH_MIN}-{PITCH_MAX}")
        if hi < lo:
            raise MorphsynthError(f"{what} {text}: {lo}-{hi} runs downwards")
        if step < 1:
            raise MorphsynthError(f"{what} {text}: the step must be at least 1")
        keys.update(key_range(lo, hi, step))
    return tuple(sorted(keys))


def key_range(lo: int, hi: int, step: int) -> tuple[int, ...]:
    """Every ``step``-th key from ``lo``, and ``hi`` (so the top key is never transposed up to)."""
    return tuple(sorted(set(range(lo, hi + 1, step)) | {hi}))


def parse_velocities(text: str, what: str = "--velocities") -> tuple[int, ...]:
    """Velocity layers from ``40,80,120``: sorted, without repeats, each 1-127."""
    values = []
    for part in str(text).split(","):
        part = part.strip()
        if not part.isdigit() or not 1 <= int(part) <= 127:
            raise MorphsynthError(f"{what} {text}: expected velocities 1-127 joined by commas (e.g. 40,80,120)")
        values.append(int(part))
    return tuple(sorted(set(values)))


def zones(centres: Sequence[int], lo: int, hi: int) -> list[tuple[int, int]]:
    """``(low, high)`` of each sorted centre, tiling ``lo..hi`` without gaps or overlaps.

    Each value goes to its nearest centre, ties to the upper one (as the library's velocity
    snapping does; for keys, transposing down is the gentler way); the ends stretch to
    ``lo`` and ``hi``.
    """
    centres = list(centres)
    if not centres or centres != sorted(set(centres)):
        raise MorphsynthError(f"zones: centres must be distinct and sorted, got {centres}")
    lows = [lo] + [(a + b + 1) // 2 for a, b in zip(centres, centres[1:])]
    highs = [low - 1 for low in lows[1:]] + [hi]
    return list(zip(lows, highs))


def grid_positions(n: int) -> list[tuple[float, float]]:
    """The ``n x n`` XY positions of a grid over the unit square, corners included, row by row (y outer)."""
    if not 2 <= n <= MAX_GRID:
        raise MorphsynthError(f"grid: {n} points a side is outside 2..{MAX_GRID}")
    steps = [i / (n - 1) for i in range(n)]
    return [(x, y) for y in steps for x in steps]


def note_name(key: int) -> str:
    """``60`` → ``C4`` (scientific pitch, C4 = MIDI 60)."""
    return f"{NOTE_NAMES[key % 12]}{key // 12 - 1}"


# ------------------------------------------------------------------ what is exported
@dataclass(frozen=True)
class Layer:
    """A velocity layer: velocities ``lovel..hivel`` play the note rendered at library ``velocity``."""

    velocity: int
    lovel: int
    hivel: int


@dataclass(frozen=True)
class Sample:
    """One exported WAV. ``path``: relative to the export folder (``/``-separated);
    loop_end is exclusive (``audio[loop_start:loop_end]`` repeats); release_s: the render's
    release time (:func:`release_time`)."""

    path: str
    key: int
    lokey: int
    hikey: int
    layer: Layer
    n_samples: int
    loop_start: int
    loop_end: int
    release_s: float


@dataclass(frozen=True)
class Voicing:
    """One instrument to export: a file stem, its morph and, for a grid point, its XY position."""

    name: str
    morph: Morph
    position: tuple[float, float] | None = None


def layers_for(velocities: Sequence[int], nearest: Callable[[int], int]) -> list[Layer]:
    """The layers of the requested ``velocities``: requested velocities that the library snaps
    to the same velocity (``nearest``) render the same note, so they merge into one layer."""
    merged: list[Layer] = []
    for velocity, (lo, hi) in zip(velocities, zones(velocities, 1, 127)):
        rendered = nearest(velocity)
        if merged and merged[-1].velocity == rendered:
            merged[-1] = Layer(rendered, merged[-1].lovel, hi)
        else:
            merged.append(Layer(rendered, lo, hi))
    return merged


def single(name: str, morph: Morph) -> list[Voicing]:
    return [Voicing(safe_name(name), morph)]


def grid(name: str, corners: Sequence[str], n: int, knobs: tuple[float, ...] = ()) -> list[Voicing]:
    """One voicing per point of an ``n x n`` grid over the XY square of four ``corners``."""
    if len(corners) != 4:
        raise MorphsynthError(f"grid: needs 4 corner sources, got {len(corners)}")
    stem = safe_name(name)
    return [Voicing(f"{stem}_{position_tag(x, y)}", Morph(tuple(corners), xy_weights(x, y), knobs=knobs), (x, y))
            for x, y in grid_positions(n)]


def position_tag(x: float, y: float) -> str:
    return f"x{x:.2f}_y{y:.2f}"


def safe_name(name: str) -> str:
    """A file stem from ``name``: letters, digits, ``-`` and ``_`` kept, the rest ``_``."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", str(name)).strip("_")
    return stem or "morphsynth"


# ------------------------------------------------------------------ DSP
def release_time(audio: np.ndarray, hold_end: int, sample_rate: int, floor_db: float = RELEASE_FLOOR_DB) -> float:
    """Seconds from ``hold_end`` until the note falls ``floor_db`` below its level at the end of the hold.

    audio: ``[n_samples]``. Levels are RMS over frames of ``RELEASE_FRAME_S``; a release
    that never gets that low lasts to the end of the audio.
    """
    frame = max(1, int(RELEASE_FRAME_S * sample_rate))
    tail = np.asarray(audio[hold_end:], dtype=np.float64)
    before = np.asarray(audio[max(0, hold_end - 5 * frame):hold_end], dtype=np.float64)
    ref = math.sqrt(float(np.mean(before * before))) if before.size else 0.0
    n_frames = tail.size // frame
    if ref <= 0 or n_frames == 0:
        return max(tail.size, 1) / sample_rate
    rms = np.sqrt(np.mean(tail[:n_frames * frame].reshape(n_frames, frame) ** 2, axis=1))  # [n_frames]
    below = np.flatnonzero(rms < ref * 10 ** (floor_db / 20))
    end = (int(below[0]) + 1) * frame if below.size else tail.size
    return max(end, frame) / sample_rate


# ------------------------------------------------------------------ export
def check_format(fmt: str, sample_format: str = "24") -> None:
    """One-line errors for an unknown format, or sf2 without Polyphone, before anything renders."""
    if fmt not in FORMATS:
        raise MorphsynthError(f"format: '{fmt}' is not one of {', '.join(FORMATS)}")
    if sample_format not in SAMPLE_FORMATS:
        raise MorphsynthError(f"sample format: '{sample_format}' is not one of {', '.join(SAMPLE_FORMATS)}")
    if fmt == "sf2" and shutil.which("polyphone") is None:
        raise MorphsynthError(f"format sf2: no SoundFont writer found; {POLYPHONE_HINT}")


def export_instruments(renderer, voicings: Sequence[Voicing], out_dir: str | Path, fmt: str = "sfz",
                       keys: Sequence[int] = key_range(PITCH_MIN, PITCH_MAX, 3),
                       velocities: Sequence[int] | None = None, sample_format: str = "24",
                       progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """Render and write ``voicings`` into ``out_dir``; returns the instrument files written
    (``.sfz``, ``.sf2``, or the ``index.json`` for ``wav``).

    renderer: a :class:`~morphsynth.server.renderer.Renderer`. keys: MIDI keys to render.
    velocities: requested layers (None: the library's own velocities). progress(done,
    total): called with the count of rendered notes, first with 0.
    """
    check_format(fmt, sample_format)
    keys = sorted(set(int(k) for k in keys))
    if not keys or not all(PITCH_MIN <= k <= PITCH_MAX for k in keys):
        raise MorphsynthError(f"keys: need MIDI keys {PITCH_MIN}-{PITCH_MAX}, got {keys}")
    library = renderer.library
    velocities = sorted(set(velocities)) if velocities else library.known_velocities
    layers = layers_for(velocities, library.nearest_velocity)
    voicings = [Voicing(v.name, renderer.check_morph(v.morph), v.position) for v in voicings]
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise MorphsynthError(f"export: '{out_dir}' is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MorphsynthError(f"export: cannot create the folder '{out_dir}' ({exc.strerror or exc})") from None
    # SoundFonts are made from an SFZ and its samples, which are not kept beside the .sf2.
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir)) if fmt == "sf2" else out_dir
    try:
        samples, gain = _render_all(renderer, voicings, staging, keys, layers, sample_format, progress)
        if fmt == "wav":
            index = out_dir / "index.json"
            write_json(index, _index(renderer, voicings, samples, gain, sample_format))
            return [index]
        header = _header(renderer, gain)
        written = []
        for voicing in voicings:
            path = staging / f"{voicing.name}.sfz"
            atomic_write_text(path, sfz_text(voicing, samples[voicing.name], header))
            written.append(path)
        if len(voicings) > 1 and fmt == "sfz":
            path = out_dir / f"{common_stem(voicings)}_grid.sfz"
            atomic_write_text(path, grid_sfz_text(voicings, samples, header))
            written.append(path)
        if fmt == "sf2":
            written = [convert_to_sf2(path, out_dir / f"{path.stem}.sf2") for path in written]
        return written
    finally:
        if staging != out_dir:
            shutil.rmtree(staging, ignore_errors=True)


def common_stem(voicings: Sequence[Voicing]) -> str:
    stem = voicings[0].name
    if voicings[0].position is not None:
        stem = stem[: -len(position_tag(*voicings[0].position)) - 1]
    return stem


def _render_all(renderer, voicings, folder: Path, keys, layers, sample_format, progress):
    """Render every (voicing, key, layer) in batches, write float WAVs, then rescale them all by
    one gain and write them in ``sample_format``. Returns ({name: [Sample]}, gain)."""
    import soundfile as sf

    jobs = [(v, key, layer) for v in voicings for key in keys for layer in layers]
    key_zones = dict(zip(keys, zones(keys, 0, 127)))
    batch = max(1, int(getattr(getattr(renderer, "queue", None), "batch_size", 8)))
    samples: dict[str, list[Sample]] = {v.name: [] for v in voicings}
    peak = 0.0
    if progress:
        progress(0, len(jobs))
    for first in range(0, len(jobs), batch):
        chunk = jobs[first:first + batch]
        notes = renderer.render_batch([(v.morph, key, layer.velocity) for v, key, layer in chunk])
        for (voicing, key, layer), note in zip(chunk, notes):
            # At velocity 127's level: the sampler's velocity curve brings each velocity down.
            audio = note.audio * np.float32(velocity_to_level(127, note.velocity))
            sub = "samples" if voicing.position is None else f"samples/{position_tag(*voicing.position)}"
            rel = f"{sub}/{key:03d}_{note_name(key).replace('#', 's')}_v{layer.velocity:03d}.wav"
            _write_wav(folder / rel, audio, note.sample_rate, "FLOAT")
            peak = max(peak, float(np.max(np.abs(audio))) if audio.size else 0.0)
            lokey, hikey = key_zones[key]
            samples[voicing.name].append(Sample(
                rel, key, lokey, hikey, layer, int(audio.size), int(note.loop_start), int(note.loop_end),
                release_time(audio, note.hold_end, note.sample_rate)))
        if progress:
            progress(min(first + batch, len(jobs)), len(jobs))
    gain = 10 ** (PEAK_DBFS / 20) / peak if peak > 0 else 1.0
    subtype = SAMPLE_FORMATS[sample_format]
    for group in samples.values():
        for s in group:
            audio, rate = sf.read(str(folder / s.path), dtype="float32")
            _write_wav(folder / s.path, audio * np.float32(gain), rate, subtype)
    return samples, gain


def _write_wav(path: Path, audio: np.ndarray, rate: int, subtype: str) -> None:
    import soundfile as sf

    try:
        with atomic_path(path) as tmp:
            sf.write(str(tmp), audio, rate, subtype=subtype, format="WAV")
    except (OSError, RuntimeError) as exc:
        raise MorphsynthError(f"export: cannot write '{path}' ({exc})") from None


def _morph_text(morph: Morph) -> str:
    mix = " + ".join(f"{n}:{w:.3g}" for n, w in zip(morph.sources, morph.normalised()))
    if morph.interp == "slerp":
        mix += " (slerp)"
    if morph.knobs:
        mix += " knobs " + ",".join(f"{k:g}" for k in morph.knobs)
    return mix


def _header(renderer, gain: float) -> list[str]:
    model = renderer.model
    return [f"// model {getattr(model, 'name', '')} ({str(getattr(model, 'model_hash', ''))[:12]}), "
            f"{renderer.out_rate} Hz, phase {renderer.phase}",
            f"// samples at velocity 127's level, then scaled by {20 * math.log10(gain):+.2f} dB "
            f"(loudest peak {PEAK_DBFS:g} dBFS); velocity tracking brings the rest down"]


def _region(s: Sample, extra: str = "") -> str:
    # SFZ loop_end is the last sample of the loop, inclusive.
    return (f"<region> sample={s.path} pitch_keycenter={s.key} lokey={s.lokey} hikey={s.hikey} "
            f"lovel={s.layer.lovel} hivel={s.layer.hivel} loop_start={s.loop_start} loop_end={s.loop_end - 1} "
            f"ampeg_release={s.release_s:.3f}{extra}")


def _global() -> list[str]:
    return ["<global>", "loop_mode=loop_continuous", "amp_veltrack=100"]


def sfz_text(voicing: Voicing, samples: Sequence[Sample], header: Sequence[str]) -> str:
    """The ``.sfz`` of one voicing: a ``<region>`` per sample."""
    lines = [f"// morphsynth instrument {voicing.name}: {_morph_text(voicing.morph)}", *header, "", *_global()]
    lines += [_region(s) for s in samples]
    return "\n".join(lines) + "\n"


def grid_sfz_text(voicings: Sequence[Voicing], samples: dict[str, list[Sample]], header: Sequence[str]) -> str:
    """One ``.sfz`` of a whole grid: CC1 chooses the column (x) and CC2 the row (y), as the
    server's mod wheel and breath controller move its XY morph."""
    xs = sorted({v.position[0] for v in voicings})
    ys = sorted({v.position[1] for v in voicings})
    x_zone = dict(zip(xs, zones([round(x * 127) for x in xs], 0, 127)))
    y_zone = dict(zip(ys, zones([round(y * 127) for y in ys], 0, 127)))
    corners = voicings[0].morph.sources
    lines = [f"// morphsynth XY grid {len(xs)}x{len(ys)} over {', '.join(corners)}: CC1 = x, CC2 = y",
             *header, "", *_global()]
    for v in voicings:
        (lx, hx), (ly, hy) = x_zone[v.position[0]], y_zone[v.position[1]]
        lines.append(f"<group> // {position_tag(*v.position)}: {_morph_text(v.morph)}")
        lines.append(f"locc1={lx} hicc1={hx} locc2={ly} hicc2={hy}")
        lines += [_region(s) for s in samples[v.name]]
    return "\n".join(lines) + "\n"


def _index(renderer, voicings, samples, gain: float, sample_format: str) -> dict:
    return {
        "format": INDEX_FORMAT, "format_version": INDEX_VERSION,
        "sample_rate": renderer.out_rate, "sample_format": sample_format,
        "gain_db": 20 * math.log10(gain),
        "levels": "velocity 127's level; scale by (velocity / 127)^2 for other velocities",
        "loop": "audio[loop_start:loop_end] repeats while the key is held",
        "instruments": [{
            "name": v.name, "sources": list(v.morph.sources), "weights": list(v.morph.normalised()),
            "interp": v.morph.interp, "knobs": list(v.morph.knobs),
            "xy": list(v.position) if v.position is not None else None,
            "samples": [{"file": s.path, "key": s.key, "lokey": s.lokey, "hikey": s.hikey,
                         "velocity": s.layer.velocity, "lovel": s.layer.lovel, "hivel": s.layer.hivel,
                         "n_samples": s.n_samples, "loop_start": s.loop_start, "loop_end": s.loop_end,
                         "release_s": round(s.release_s, 4)} for s in samples[v.name]],
        } for v in voicings],
    }


def convert_to_sf2(sfz: Path, target: Path, timeout_s: float = 600.0) -> Path:
    """``sfz`` (and the samples it names) as the SoundFont ``target``, by Polyphone's command line."""
    with tempfile.TemporaryDirectory(prefix=".sf2-", dir=target.parent) as tmp:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        env.setdefault("XDG_RUNTIME_DIR", tmp)
        try:
            done = subprocess.run(["polyphone", "-1", "-i", str(sfz), "-d", tmp, "-o", target.stem],
                                  capture_output=True, text=True, timeout=timeout_s, env=env)
        except FileNotFoundError:
            raise MorphsynthError(f"format sf2: polyphone is not installed; {POLYPHONE_HINT}") from None
        except subprocess.TimeoutExpired:
            raise MorphsynthError(f"format sf2: polyphone took over {timeout_s:g} s converting {sfz.name}") from None
        made = Path(tmp) / f"{target.stem}.sf2"
        if done.returncode != 0 or not made.is_file():
            said = (done.stderr or done.stdout or "").strip().splitlines()
            raise MorphsynthError(f"format sf2: polyphone could not convert {sfz.name}"
                                  + (f" ({said[-1]})" if said else ""))
        with atomic_path(target) as out:
            os.replace(made, out)
    return target
