"""The latent library: one latent per (instrument, pitch, velocity) note of a model.

A library file is safetensors: tensors ``latents [n, latent_dim]``, ``pitches [n]``,
``velocities [n]``, ``source_index [n]`` (into the names list), and the principal
axes of the latents (``pca_mean [latent_dim]``, ``pca_axes [k, latent_dim]``,
``pca_std [k]``); the header metadata holds the format version, the source names and
families (JSON lists) and the sha256 of the model that encoded them. A library only
makes sense with that model: :meth:`Library.load` refuses any other.

Which latent plays a key. The decoder takes pitch and velocity from conditioning,
so the latent is meant to carry timbre; but a CAE latent still drifts with pitch
(upper and lower registers of one instrument sound different, and the encoder sees
them). The library therefore uses the source's own entries near the key: the nearest
velocity, then the latent interpolated linearly between the two entries whose pitches
bracket the key (the nearest one outside the covered range). Averaging all of an
instrument's entries (``mode="mean"``) is available too. Measured with
``benchmarks/bench_render.py --lookup`` (every other pitch of each instrument held out,
the decode of the looked-up latent compared with the true note):

| rule | LSD dB, mean | median |
|---|---|---|
| nearest (interpolated between the bracketing entries) | 5.33 | 5.08 |
| mean over the instrument's entries | 7.35 | 7.28 |
| oracle: encode the held-out note itself | 5.18 | 4.99 |

(the shipped default model; 30 TimGM6mb instruments it never saw, velocity 112, every
other pitch of 24-96 step 6 held out, 178 notes; a small CAE trained briefly on 12
FluidR3 programs ranked the rules the same way: 7.32 / 7.83 / 7.25 dB.)

The nearest rule is almost as good as encoding the true note; the mean blurs
register-dependent timbre.

Level. A library also records ``gain_db [n]`` per entry and, in its metadata, the median
level of the notes it was built from at each velocity (``reference_level_db``). A user's
note (``add_note``) can come at any level, and the encoder only knows the levels it was
trained on: the note is encoded at levels around the reference level of its velocity,
the latent whose decode comes closest to the file is kept (``encode_at_best_level``), and
the difference between the file's level and the decode's is kept as the entry's
``gain_db``, which rendering applies (interpolated like the latents, mixed by the morph
weights). A note added and played back at its own key and velocity keeps its level
whatever the file's. Dataset entries get the same correction at build time (the difference
between each note's level and its decode's), so library instruments play at the level of
the notes they came from. Level here is the energy of the STFT magnitude
(``core.spectral.magnitude_level_db``), the same measure on both sides.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from morphsynth.core.errors import MorphsynthError
from morphsynth.core.files import atomic_path
from morphsynth.core.note_files import detect_pitch, fit_length, fit_note
from morphsynth.core.pitch import KEY_HIGH, KEY_LOW
from morphsynth.server.levels import velocity_to_level
from morphsynth.core.spectral import log_spectral_distance, magnitude_level_db

LIBRARY_FILE = "library.safetensors"

FORMAT = "morphsynth-library"
VERSION = "1"
LOOKUP_MODES = ("nearest", "mean")
N_AXES = 8
PITCH_MIN, PITCH_MAX = KEY_LOW, KEY_HIGH
USER_FAMILY = "user"
# A leading-silence trim keeps this much before the first loud sample, so the attack survives.


@dataclass
class NoteEntry:
    """One note to encode: audio ``[n_samples]`` at the model rate with its labels."""

    instrument: str
    family: str
    pitch: int
    velocity: int
    audio: np.ndarray
    bend_cents: float = 0.0  # the note sounds this far off its key; the encoder is told, the library keys by ``pitch``


MAX_ENTRY_GAIN_DB = 20.0
ADD_LEVEL_OFFSETS_DB = tuple(range(-36, 13, 6))  # encode levels library add tries, re the reference (3 dB steps gain 0.01 dB)


def encode_at_best_level(model, mag: torch.Tensor, level_db: float, reference_db: float | None,
                         pitch: int, velocity: int) -> tuple[torch.Tensor, float]:
    """The latent ``[latent_dim]`` of a user's note and the level of its decode in dB.

    mag: ``[1, n_bins, n_frames]``, the note as given, at ``level_db``. The encoder has only
    heard notes near the build's ``reference_db`` for this velocity, and the level at which a
    note decodes best differs from note to note (on held-out TimGM6mb notes by −36..+12 dB
    from the reference). So the note is encoded at each of ``ADD_LEVEL_OFFSETS_DB`` around the
    reference (around its own level without one), each decode is brought back to the note's
    level, and the one closest to the note as given (log-spectral distance) is kept. The STFT
    is linear: scaling the magnitude is scaling the audio.
    """
    centre = level_db if reference_db is None else reference_db
    scales = torch.tensor([10.0 ** ((centre + off - level_db) / 20.0) for off in ADD_LEVEL_OFFSETS_DB])
    n = scales.numel()
    mag = mag.float().cpu()
    p, v = torch.full((n,), pitch), torch.full((n,), velocity)
    z = model.encode(mag * scales[:, None, None], p, v)          # encode and decode run without grad
    decoded = model.decode(z, p, v).float().cpu()
    decoded_db = magnitude_level_db(decoded)
    back = decoded * (10.0 ** ((level_db - decoded_db) / 20.0))[:, None, None]
    best = int(log_spectral_distance(mag.expand_as(back), back).argmin())
    return z[best].cpu(), float(decoded_db[best])


def note_magnitude(model, audio: torch.Tensor) -> torch.Tensor:
    """Audio ``[batch, n_samples]`` (already the model's note length) → the model's STFT
    magnitude ``[batch, n_bins, n_frames]``, what ``encode_audio`` would compute."""
    from morphsynth.core.spectral import magnitude

    return magnitude(torch.as_tensor(audio, dtype=torch.float32), model.stft.n_fft, model.stft.hop)


@dataclass
class Library:
    """Latents of named sources, with the principal axes used as knobs.

    latents: ``[n, latent_dim]`` float32; pitches, velocities, source_index: ``[n]`` long.
    names[i] / families[i] describe source i.
    """

    latents: torch.Tensor
    pitches: torch.Tensor
    velocities: torch.Tensor
    source_index: torch.Tensor
    names: list[str]
    families: list[str]
    model_hash: str
    model_name: str = ""
    pca_mean: torch.Tensor | None = None
    pca_axes: torch.Tensor | None = None
    pca_std: torch.Tensor | None = None
    gain_db: torch.Tensor | None = None  # [n] float32: level correction applied on render (see the module doc)
    reference_level_db: dict[int, float] = field(default_factory=dict)  # velocity → median level of the build's notes
    mode: str = "nearest"
    _rows: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _velocities: list[int] = field(default_factory=list, repr=False)
    _folded: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.pca_mean is None:
            self.pca_mean, self.pca_axes, self.pca_std = principal_axes(self.latents)
        if self.gain_db is None:
            self.gain_db = torch.zeros(self.latents.shape[0])
        self._index()

    def _index(self) -> None:
        src = self.source_index.numpy()
        self._rows = {name: np.flatnonzero(src == i) for i, name in enumerate(self.names)}
        self._folded = [name.casefold() for name in self.names]
        # Every note-on snaps its velocity: keep the sorted set at hand.
        self._velocities = sorted({int(v) for v in self.velocities.tolist()})

    # ----------------------------------------------------------------- queries
    @property
    def latent_dim(self) -> int:
        return int(self.latents.shape[1])

    @property
    def knob_names(self) -> list[str]:
        """Names of the latent knobs: ``pc1`` is the axis of largest spread."""
        return [f"pc{i + 1}" for i in range(int(self.pca_axes.shape[0]))]

    @property
    def known_velocities(self) -> list[int]:
        return list(self._velocities)

    def nearest_velocity(self, velocity: int) -> int:
        """The library velocity nearest to ``velocity`` (ties go to the louder one)."""
        return min(self._velocities, key=lambda v: (abs(v - velocity), -v))

    def resolve(self, name: str) -> str:
        """The source called ``name``; else the first source, in library order, whose name
        starts with it (so a family such as ``flute`` gives that family's first instrument);
        else the first whose name contains it. Case is ignored after the exact name."""
        if name in self._rows:
            return name
        if name:
            key = name.casefold()
            for source, folded in zip(self.names, self._folded):
                if folded.startswith(key):
                    return source
            containing = self.names_containing(name)
            if containing:
                return containing[0]
        families = ", ".join(sorted({f for f in self.families if f}))
        raise MorphsynthError(f"unknown source '{name}' (the library's {len(self.names)} sources are in the "
                              f"families {families}; /library/list shows them)")

    def names_containing(self, text: str) -> list[str]:
        """The source names that contain ``text``, case ignored, in library order."""
        key = text.casefold()
        return [name for name, folded in zip(self.names, self._folded) if key in folded]

    def starting_sources(self, n: int = 4) -> list[str]:
        """The sources a server starts with: the first source of each of the first ``n``
        families in library order, so the XY corners hold different kinds of instrument;
        topped up with the next sources when the library has fewer families."""
        chosen, seen = [], set()
        for name, family in zip(self.names, self.families):
            if family not in seen:
                seen.add(family)
                chosen.append(name)
            if len(chosen) == n:
                return chosen
        chosen += [name for name in self.names if name not in chosen][: n - len(chosen)]
        return chosen

    def describe(self) -> list[dict]:
        """One row per source: name, family, pitches, velocities."""
        rows = []
        for i, name in enumerate(self.names):
            idx = self._rows[name]
            rows.append({
                "name": name,
                "family": self.families[i],
                "pitches": sorted({int(p) for p in self.pitches[idx].tolist()}),
                "velocities": sorted({int(v) for v in self.velocities[idx].tolist()}),
            })
        return rows

    def _lookup(self, name: str, pitch: int, velocity: int, mode: str | None) -> tuple[np.ndarray, torch.Tensor]:
        """The entries a key reads and their weights (summing to 1): see the module doc."""
        mode = mode or self.mode
        if mode not in LOOKUP_MODES:
            raise MorphsynthError(f"library: lookup mode must be one of {', '.join(LOOKUP_MODES)}, got {mode!r}")
        rows = self._rows[self.resolve(name)]
        vels = self.velocities[rows]
        # Nearest velocity first: velocity changes timbre far less than register does.
        vdist = (vels - int(velocity)).abs()
        rows = rows[(vdist == vdist.min()).numpy()]
        if mode != "mean":
            pitches = self.pitches[rows].numpy()
            below, above = pitches < pitch, pitches > pitch
            if (pitches == pitch).any():
                rows = rows[pitches == pitch]
            elif not below.any() or not above.any():
                rows = rows[np.abs(pitches - pitch) == np.abs(pitches - pitch).min()]
            else:
                p0, p1 = pitches[below].max(), pitches[above].min()
                a = float(pitch - p0) / float(p1 - p0)
                r0, r1 = rows[pitches == p0], rows[pitches == p1]
                w = torch.cat([torch.full((r0.size,), (1 - a) / r0.size), torch.full((r1.size,), a / r1.size)])
                return np.concatenate([r0, r1]), w
        return rows, torch.full((rows.size,), 1.0 / rows.size)

    def latent_for(self, name: str, pitch: int, velocity: int, mode: str | None = None) -> torch.Tensor:
        """The latent ``[latent_dim]`` of source ``name`` for a key (see the module doc)."""
        rows, w = self._lookup(name, pitch, velocity, mode)
        return (w[:, None] * self.latents[rows]).sum(dim=0)

    def gain_for(self, name: str, pitch: int, velocity: int, mode: str | None = None) -> float:
        """The level correction in dB of source ``name`` for a key, read like its latent."""
        rows, w = self._lookup(name, pitch, velocity, mode)
        return float((w * self.gain_db[rows]).sum())

    def latents_for(self, names, pitch: int, velocity: int) -> torch.Tensor:
        """``[len(names), latent_dim]``: :meth:`latent_for` of each name."""
        return torch.stack([self.latent_for(n, pitch, velocity) for n in names])

    def sources_for(self, names, pitch: int, velocity: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``([len(names), latent_dim], [len(names)] dB)``: :meth:`latent_for` and :meth:`gain_for`
        of each name, from one lookup each."""
        lookups = [self._lookup(n, pitch, velocity, None) for n in names]
        return (torch.stack([(w[:, None] * self.latents[rows]).sum(dim=0) for rows, w in lookups]),
                torch.stack([(w * self.gain_db[rows]).sum() for rows, w in lookups]))

    def reference_level(self, velocity: int) -> float | None:
        """The build's median note level at the recorded velocity nearest ``velocity`` (None if unknown)."""
        if not self.reference_level_db:
            return None
        return self.reference_level_db[min(self.reference_level_db, key=lambda v: (abs(v - velocity), -v))]

    def knob_offset(self, knobs) -> torch.Tensor:
        """Latent offset ``[latent_dim]`` of knob values given in standard deviations."""
        knobs = tuple(knobs)
        k = int(self.pca_axes.shape[0])
        # Controllers send a fixed number of knobs; zeros beyond the library's axes are harmless.
        while len(knobs) > k and knobs[-1] == 0:
            knobs = knobs[:-1]
        if len(knobs) > k:
            raise MorphsynthError(f"morph: {len(knobs)} knobs given, the library has {k} ({', '.join(self.knob_names)})")
        if not knobs:
            return torch.zeros(self.latent_dim)
        v = torch.tensor(knobs, dtype=torch.float32) * self.pca_std[: len(knobs)]
        return v @ self.pca_axes[: len(knobs)]

    # ------------------------------------------------------------- mutation
    def add_note(self, model, audio_16k: np.ndarray, name: str, pitch: int | None = None,
                 velocity: int = 100) -> int:
        """Encode a user's note as source ``name``; returns the pitch used.

        audio_16k: ``[n_samples]`` at the model's rate (any length: leading silence is
        trimmed, then it is padded or cut to the model's note length). The pitch is
        detected when not given. A name that already belongs to a dataset source is
        refused; adding to a user source adds (or replaces) the entry at that pitch.
        """
        check_model(self, model, "library")
        if not name or not isinstance(name, str) or any(c.isspace() for c in name):
            raise MorphsynthError(f"library add: name must be a non-empty word, got {name!r}")
        if name in self._rows and self.families[self.names.index(name)] != USER_FAMILY:
            raise MorphsynthError(f"library add: '{name}' is already a dataset source; choose another name")
        n_samples = model.stft.n_samples(model.n_frames)
        audio = fit_note(audio_16k, n_samples, model.stft.sample_rate)
        if pitch is None:
            pitch = detect_pitch(audio, model.stft.sample_rate)
        pitch = int(pitch)
        if not PITCH_MIN <= pitch <= PITCH_MAX:
            raise MorphsynthError(f"library add: pitch {pitch} outside {PITCH_MIN}-{PITCH_MAX}")
        played = int(velocity)
        velocity = self.nearest_velocity(played)
        mag = note_magnitude(model, np.ascontiguousarray(audio, dtype=np.float32)[None])
        level = float(magnitude_level_db(mag)[0])
        if not math.isfinite(level) or level <= -190.0:
            raise MorphsynthError("library add: the note is silent")
        z, decoded = encode_at_best_level(model, mag, level, self.reference_level(velocity), pitch, velocity)
        # Played back at its own velocity the renderer also applies the velocity curve from the
        # library velocity it was filed under: the gain leaves that out so the file's level comes back.
        curve = 20.0 * math.log10(max(velocity_to_level(played, velocity), 1e-6))
        gain = torch.tensor([level - decoded - curve], dtype=torch.float32)
        if name not in self._rows:
            self.names.append(name)
            self.families.append(USER_FAMILY)
        src = self.names.index(name)
        keep = ~((self.source_index == src) & (self.pitches == pitch) & (self.velocities == velocity))
        self.latents = torch.cat([self.latents[keep], z[None]])
        self.gain_db = torch.cat([self.gain_db[keep], gain])
        self.pitches = torch.cat([self.pitches[keep], torch.tensor([pitch])])
        self.velocities = torch.cat([self.velocities[keep], torch.tensor([velocity])])
        self.source_index = torch.cat([self.source_index[keep], torch.tensor([src])])
        # The principal axes stay as built, so the knobs keep their meaning after an add.
        self._index()
        return pitch

    # ------------------------------------------------------------------- I/O
    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        path = Path(path)
        tensors = {
            "latents": self.latents.float().contiguous(),
            "pitches": self.pitches.long().contiguous(),
            "velocities": self.velocities.long().contiguous(),
            "source_index": self.source_index.long().contiguous(),
            "pca_mean": self.pca_mean.float().contiguous(),
            "pca_axes": self.pca_axes.float().contiguous(),
            "pca_std": self.pca_std.float().contiguous(),
            "gain_db": self.gain_db.float().contiguous(),
        }
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "model_hash": self.model_hash,
            "model_name": self.model_name,
            "names": json.dumps(self.names),
            "families": json.dumps(self.families),
            "reference_level_db": json.dumps({str(k): v for k, v in sorted(self.reference_level_db.items())}),
        }
        try:
            with atomic_path(path) as tmp:
                save_file(tensors, str(tmp), metadata=meta)
        except OSError as exc:
            raise MorphsynthError(f"{path}: cannot write library ({exc.strerror or exc})") from None

    @classmethod
    def load(cls, path: str | Path, model=None) -> "Library":
        """Read a library; with ``model``, refuse one built by a different model."""
        from safetensors import SafetensorError, safe_open

        path = Path(path)
        if not path.is_file():
            raise MorphsynthError(f"{path}: library not found")
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except (SafetensorError, OSError, ValueError) as exc:
            raise MorphsynthError(f"{path}: not a readable library ({str(exc).splitlines()[0]})") from None
        if meta.get("format") != FORMAT:
            raise MorphsynthError(f"{path}: not a morphsynth library (no '{FORMAT}' header)")
        if meta.get("version") != VERSION:
            raise MorphsynthError(f"{path}: library format version {meta.get('version')!r}, this build reads {VERSION}")
        need = ("latents", "pitches", "velocities", "source_index", "pca_mean", "pca_axes", "pca_std")
        missing = [k for k in need if k not in tensors]
        if missing:
            raise MorphsynthError(f"{path}: library lacks tensor '{missing[0]}'")
        try:
            names = json.loads(meta["names"])
            families = json.loads(meta["families"])
            # Libraries written before levels were kept have neither: gains 0, no reference.
            reference = {int(k): float(v) for k, v in json.loads(meta.get("reference_level_db", "{}")).items()}
        except (KeyError, ValueError, TypeError, AttributeError):
            raise MorphsynthError(f"{path}: library metadata lacks valid 'names'/'families'/'reference_level_db'") from None
        n = tensors["latents"].shape[0]
        gain = tensors.get("gain_db", torch.zeros(n)).float()
        if any(tensors[k].shape[0] != n for k in ("pitches", "velocities", "source_index")) or gain.shape != (n,) or \
                len(names) != len(families) or n == 0 or int(tensors["source_index"].max()) >= len(names):
            raise MorphsynthError(f"{path}: library tensors and names disagree in length")
        lib = cls(tensors["latents"].float(), tensors["pitches"].long(), tensors["velocities"].long(),
                  tensors["source_index"].long(), list(names), list(families), meta.get("model_hash", ""),
                  meta.get("model_name", ""), tensors["pca_mean"].float(), tensors["pca_axes"].float(),
                  tensors["pca_std"].float(), gain, reference)
        if model is not None:
            check_model(lib, model, str(path))
        return lib


def check_model(lib: Library, model, where: str) -> None:
    """Refuse to pair ``lib`` with a model other than the one that encoded it."""
    if lib.model_hash != model.model_hash:
        raise MorphsynthError(
            f"{where}: library was built by model {lib.model_hash[:12]}, the loaded model is "
            f"{model.model_hash[:12]}; rebuild the library with this model (morphsynth library build)")
    if lib.latent_dim != model.latent_dim:
        raise MorphsynthError(f"{where}: library latents have {lib.latent_dim} dims, the model {model.latent_dim}")


def principal_axes(latents: torch.Tensor, n_axes: int = N_AXES):
    """Mean ``[D]``, unit axes ``[k, D]`` (largest spread first) and their std ``[k]``.

    latents: ``[n, D]``. ``k = min(n_axes, n - 1, D)`` (at least one axis, with std 0 for
    a single latent).
    """
    z = latents.double()
    mean = z.mean(dim=0)
    n, d = z.shape
    k = max(1, min(n_axes, n - 1, d))
    if n < 2:
        axes = torch.zeros(k, d, dtype=torch.float64)
        axes[0, 0] = 1.0
        return mean.float(), axes.float(), torch.zeros(k)
    _, s, vh = torch.linalg.svd(z - mean, full_matrices=False)
    axes = vh[:k]
    # Fix each axis's sign so the knob direction is reproducible between builds.
    signs = torch.sign(axes[torch.arange(k), axes.abs().argmax(dim=1)])
    axes = axes * signs[:, None]
    std = s[:k] / math.sqrt(n - 1)
    return mean.float(), axes.float(), std.float()


def entry_gain_db(level_db: torch.Tensor, decoded_db: torch.Tensor) -> torch.Tensor:
    """``[n]`` dB that bring each decode ``[n]`` back to its note's level ``[n]``.

    The decoder plays ~4 dB low on average, by an amount that differs from note to note,
    so one global gain cannot restore levels. Clamped at ±MAX_ENTRY_GAIN_DB so that a note
    the decoder all but loses is not boosted into noise.
    """
    gain = (level_db - decoded_db).float()
    gain = torch.where(torch.isfinite(gain), gain, torch.zeros_like(gain))
    return gain.clamp(-MAX_ENTRY_GAIN_DB, MAX_ENTRY_GAIN_DB)


def build_library(model, notes: Iterable[NoteEntry], batch_size: int = 16, progress=None) -> Library:
    """Encode every note (audio at the model rate, ``[n_samples]`` each) into a library.

    Notes of one instrument become one source; family is taken from its first note.
    ``progress`` is called with the number of notes encoded so far.
    """
    names: list[str] = []
    families: list[str] = []
    index: dict[str, int] = {}
    lat, pit, vel, src, lev, gains = [], [], [], [], [], []
    n_samples = model.stft.n_samples(model.n_frames)
    batch: list[NoteEntry] = []
    done = 0

    def flush():
        nonlocal done
        audio = torch.from_numpy(np.stack([fit_length(b.audio, n_samples) for b in batch]))
        p = torch.tensor([b.pitch for b in batch])
        v = torch.tensor([b.velocity for b in batch])
        sounding = torch.tensor([b.pitch + b.bend_cents / 100.0 for b in batch], dtype=torch.float32)
        mag = note_magnitude(model, audio)
        with torch.no_grad():
            z = model.encode(mag, sounding, v).float()
            decoded = magnitude_level_db(model.decode(z, sounding, v).float().cpu())
        level = magnitude_level_db(mag)
        lat.append(z.cpu())
        lev.append(level)
        gains.append(entry_gain_db(level, decoded))
        pit.append(p)
        vel.append(v)
        done += len(batch)
        batch.clear()
        if progress:
            progress(done)

    for note in notes:
        if note.instrument not in index:
            index[note.instrument] = len(names)
            names.append(note.instrument)
            families.append(note.family)
        src.append(index[note.instrument])
        batch.append(note)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    if not names:
        raise MorphsynthError("library build: no notes to encode")
    velocities, levels = torch.cat(vel).long(), torch.cat(lev)
    reference = {int(v): round(float(levels[velocities == v].median()), 3) for v in velocities.unique().tolist()}
    return Library(torch.cat(lat), torch.cat(pit).long(), velocities,
                   torch.tensor(src, dtype=torch.long), names, families, model.model_hash,
                   getattr(model, "name", ""), gain_db=torch.cat(gains), reference_level_db=reference)
