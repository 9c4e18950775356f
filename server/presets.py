"""Presets: the performance state as named YAML files in one folder.

:class:`Preset` is what a preset holds: the morph (sources, weights, XY position,
interpolation, ramp, latent knobs), the envelope, the gain, the MIDI CC map and whether
sounding notes follow the morph. A key left out of a hand-written file (``None`` here)
keeps the current value when the preset is loaded; a saved preset has every key.
:class:`PresetStore` writes, reads and lists ``<name>.yaml`` in the presets folder;
:func:`check_name` keeps names plain words, so no name reaches outside that folder.
Applying a preset is :meth:`Controls.restore <morphsynth.server.control.Controls.restore>`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from morphsynth.core.config import ConfigError, load_config, to_dict
from morphsynth.core.errors import MorphsynthError
from morphsynth.core.files import atomic_write_text
from morphsynth.server.server_config import EnvelopeSettings, check_cc_map

FORMAT_VERSION = 1
SUFFIX = ".yaml"
MAX_NAME = 64
MAX_FILE_BYTES = 1 << 20       # a preset is a few hundred bytes; anything this big is not one
MAX_SOURCES = 16
N_KNOBS = 8
KNOB_SD = 4.0                  # the range /knob accepts
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

HEADER = ("# morphsynth preset, written by /preset/save. Edit freely: a key left out keeps\n"
          "# the value playing when the preset is loaded.\n")


def check_name(name: str) -> str:
    """``name`` if it is a plain word (letters, digits, ``-``, ``_``, ``.``; no ``/`` or ``..``),
    else MorphsynthError."""
    if not isinstance(name, str) or not name:
        raise MorphsynthError("preset name: empty")
    if "/" in name or "\\" in name or ".." in name or not _NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise MorphsynthError(f"preset name '{name}': use letters, digits, '-', '_' and '.' (no '/' or '..', "
                              f"at most {MAX_NAME} characters, starting with a letter or digit)")
    return name


def default_presets_dir() -> Path:
    """``morphsynth/presets`` in the user's documents folder (``~/Documents`` on Linux and macOS),
    where a musician finds, backs up and shares them, as with Max's and Ableton's user folders."""
    import platformdirs

    return platformdirs.user_documents_path() / "morphsynth" / "presets"


@dataclass
class Preset:
    """A performance state; ``None``: not in the file, the current value stays."""

    format_version: int = FORMAT_VERSION
    sources: list[str] | None = None
    weights: list[float] | None = None            # one per source; left out: from x, y
    x: float | None = None
    y: float | None = None
    interp: Literal["linear", "slerp"] | None = None
    ramp: list[list[float]] | None = None         # breakpoints [time_s, w1 .. wN]; [] = none
    knobs: list[float] | None = None              # standard deviations along the principal axes
    envelope: EnvelopeSettings | None = None
    gain_db: float | None = None
    cc_map: dict[int, str] | None = None          # as midi.cc_map
    follow: bool | None = None

    def validate(self) -> None:
        """ValueError naming the key (the config loader adds the file)."""
        if self.format_version != FORMAT_VERSION:
            raise ValueError(f"format_version: {self.format_version} is not supported (this build reads "
                             f"{FORMAT_VERSION})")
        n = None
        if self.sources is not None:
            n = len(self.sources)
            if not 1 <= n <= MAX_SOURCES:
                raise ValueError(f"sources: need 1..{MAX_SOURCES} names, got {n}")
            if not all(self.sources):
                raise ValueError("sources: empty name")
            if self.interp == "slerp" and n != 2:
                raise ValueError(f"interp: slerp needs exactly 2 sources, the preset has {n}")
        if self.weights is not None:
            _check_weights("weights", self.weights, n)
        for key in ("x", "y"):
            value = getattr(self, key)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{key}: {value} is outside 0..1")
        if self.ramp is not None:
            last = 0.0
            for i, row in enumerate(self.ramp):
                if len(row) < 2:
                    raise ValueError(f"ramp[{i}]: need [time_s, weight, ...], got {row}")
                if not (math.isfinite(row[0]) and row[0] >= last):
                    raise ValueError(f"ramp[{i}]: time {row[0]} s is before {last} s")
                last = row[0]
                _check_weights(f"ramp[{i}] weights", row[1:], n if n is not None else len(self.ramp[0]) - 1)
        if self.knobs is not None:
            if len(self.knobs) > N_KNOBS:
                raise ValueError(f"knobs: at most {N_KNOBS}, got {len(self.knobs)}")
            for i, k in enumerate(self.knobs):
                if not -KNOB_SD <= k <= KNOB_SD:
                    raise ValueError(f"knobs[{i}]: {k} is outside -{KNOB_SD:g}..{KNOB_SD:g}")
        if self.envelope is not None:
            e = self.envelope
            for key in ("attack", "decay", "release"):
                if not 0.0 <= getattr(e, key) <= 60.0:
                    raise ValueError(f"envelope.{key}: {getattr(e, key)} s is outside 0..60")
            if not 0.0 <= e.sustain <= 1.0:
                raise ValueError(f"envelope.sustain: {e.sustain} is outside 0..1")
        if self.gain_db is not None and not -120.0 <= self.gain_db <= 24.0:
            raise ValueError(f"gain_db: {self.gain_db} dB is outside -120..24")
        if self.cc_map is not None:
            check_cc_map(self.cc_map, "cc_map")


def _check_weights(key: str, weights, n: int | None) -> None:
    if n is not None and len(weights) != n:
        raise ValueError(f"{key}: need {n} (one per source), got {len(weights)}")
    if any(not (math.isfinite(w) and w >= 0.0) for w in weights):
        raise ValueError(f"{key}: each weight must be a finite number >= 0, got {list(weights)}")
    if sum(weights) <= 0.0:
        raise ValueError(f"{key}: all zero")


class PresetStore:
    """``<name>.yaml`` files in ``folder`` (None: :func:`default_presets_dir`), made on the first save."""

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder else default_presets_dir()

    def path(self, name: str) -> Path:
        return self.folder / f"{check_name(name)}{SUFFIX}"

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def save(self, name: str, preset: Preset) -> Path:
        target = self.path(name)
        text = HEADER + yaml.safe_dump(to_dict(preset), sort_keys=False, default_flow_style=None)
        try:
            atomic_write_text(target, text)
        except OSError as exc:
            raise MorphsynthError(f"preset '{name}': cannot write {target} ({exc.strerror or exc})") from None
        return target

    def load(self, name: str) -> Preset:
        """The preset, checked; MorphsynthError (one line, naming the file and key) if it is missing or bad."""
        path = self.path(name)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise MorphsynthError(f"no preset '{name}' in {self.folder}") from None
        except OSError as exc:
            raise MorphsynthError(f"preset '{name}': cannot read {path} ({exc.strerror or exc})") from None
        if size > MAX_FILE_BYTES:
            raise MorphsynthError(f"{path}: {size:,} bytes is too large for a preset")
        try:
            return load_config(path, Preset)
        except ConfigError:
            raise
        except (UnicodeDecodeError, ValueError) as exc:
            raise MorphsynthError(f"{path}: not a preset ({' '.join(str(exc).split())})") from None

    def names(self) -> list[str]:
        """Every preset's name, sorted; none while the folder does not exist."""
        try:
            files = list(self.folder.glob(f"*{SUFFIX}"))
        except OSError:
            return []
        return sorted(f.stem for f in files if _NAME.fullmatch(f.stem) and ".." not in f.stem
                      and len(f.stem) <= MAX_NAME and f.is_file())
