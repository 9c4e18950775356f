"""The NSynth dataset layout: schema, vocabularies, examples.json and the readers.

A dataset root holds up to three split folders whose instruments are disjoint::

    ROOT/nsynth-train/examples.json     {note_str: example, ...}
    ROOT/nsynth-train/audio/<note_str>.wav
    ROOT/nsynth-valid/...
    ROOT/nsynth-test/...

Each note is 4 s of 16 kHz mono (3 s hold, 1 s release), 16-bit PCM WAV as in the
published NSynth, so the real NSynth download (json + wav) reads the same way.
``note_str`` is ``<instrument_str>-<pitch:03d>-<velocity:03d>``; an example has exactly
the fields of :data:`EXAMPLE_FIELDS`. NSynth's qualities were rated by people; notes
built here carry none (``qualities`` all 0, ``qualities_str`` empty), while those of
the real NSynth are read as they are.

Two readers: :func:`list_examples` / :func:`load_examples` give metadata and audio
as plain Python and numpy (library building, evaluation); :class:`NSynthDataset` is
the torch Dataset for training, with magnitude features cached on disk.

Files are written atomically (temporary file, then rename), so an interrupted
build never leaves a half-written WAV or examples.json behind, and builders hold
``ROOT/.build.lock`` so two builds into one folder cannot drop each other's notes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from morphsynth.core.errors import MorphsynthError
from morphsynth.core.files import atomic_write_bytes

SAMPLE_RATE = 16000
HOLD_S = 3.0
RELEASE_S = 1.0
NOTE_SECONDS = 4
N_SAMPLES = SAMPLE_RATE * NOTE_SECONDS
PITCH_MIN, PITCH_MAX = 21, 108
VELOCITIES = (25, 50, 75, 100, 127)

FAMILIES = ("bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string",
            "synth_lead", "vocal")
SOURCES = ("acoustic", "electronic", "synthetic")
QUALITIES = ("bright", "dark", "distortion", "fast_decay", "long_release", "multiphonic",
             "nonlinear_env", "percussive", "reverb", "tempo-synced")
SPLITS = ("train", "valid", "test")

EXAMPLE_FIELDS = {
    "note": int, "note_str": str, "instrument": int, "instrument_str": str, "pitch": int,
    "velocity": int, "sample_rate": int, "instrument_family": int, "instrument_family_str": str,
    "instrument_source": int, "instrument_source_str": str, "qualities": list, "qualities_str": list,
}
EXAMPLES_JSON = "examples.json"
AUDIO_DIR = "audio"


def split_dir(root: str | Path, split: str) -> Path:
    """``ROOT/nsynth-<split>``."""
    if split not in SPLITS:
        raise MorphsynthError(f"split '{split}': expected one of {', '.join(SPLITS)}")
    return Path(root) / f"nsynth-{split}"


def make_note_str(instrument_str: str, pitch: int, velocity: int) -> str:
    return f"{instrument_str}-{int(pitch):03d}-{int(velocity):03d}"


def note_id(instrument: int, pitch: int, velocity: int) -> int:
    """A unique, reproducible ``note`` number for (instrument, pitch, velocity)."""
    return int(instrument) * 128 * 128 + int(pitch) * 128 + int(velocity)


def family_index(family: str | int) -> int:
    if isinstance(family, int) and not isinstance(family, bool):
        if 0 <= family < len(FAMILIES):
            return family
    elif family in FAMILIES:
        return FAMILIES.index(family)
    raise MorphsynthError(f"family '{family}': expected one of {', '.join(FAMILIES)}")


def source_index(source: str | int) -> int:
    if isinstance(source, int) and not isinstance(source, bool):
        if 0 <= source < len(SOURCES):
            return source
    elif source in SOURCES:
        return SOURCES.index(source)
    raise MorphsynthError(f"source '{source}': expected one of {', '.join(SOURCES)}")


def make_example(instrument: int, instrument_str: str, pitch: int, velocity: int,
                 family: str | int, source: str | int, qualities: Iterable[str] = (),
                 bend_cents: float = 0.0) -> dict:
    """One examples.json entry with NSynth's fields and types.

    ``bend_cents`` (not an NSynth field, written only when non-zero): the note was played
    that far off its MIDI key (a held pitch wheel), so it sounds at ``pitch + cents / 100``.
    """
    if "-" in instrument_str or "/" in instrument_str or not instrument_str:
        raise MorphsynthError(f"instrument name '{instrument_str}': must be non-empty, without '-' or '/'")
    fam, src = family_index(family), source_index(source)
    qualities = set(qualities)
    unknown = qualities - set(QUALITIES)
    if unknown:
        raise MorphsynthError(f"quality '{sorted(unknown)[0]}': expected one of {', '.join(QUALITIES)}")
    return {
        "note": note_id(instrument, pitch, velocity),
        "note_str": make_note_str(instrument_str, pitch, velocity),
        "instrument": int(instrument),
        "instrument_str": instrument_str,
        "pitch": int(pitch),
        "velocity": int(velocity),
        "sample_rate": SAMPLE_RATE,
        "instrument_family": fam,
        "instrument_family_str": FAMILIES[fam],
        "instrument_source": src,
        "instrument_source_str": SOURCES[src],
        "qualities": [int(q in qualities) for q in QUALITIES],
        "qualities_str": [q for q in QUALITIES if q in qualities],
        **({"pitch_bend_cents": round(float(bend_cents), 3)} if bend_cents else {}),
    }


def check_example(entry: object, where: str) -> dict:
    """Raise a one-line :class:`MorphsynthError` unless ``entry`` follows the schema."""
    if not isinstance(entry, dict):
        raise MorphsynthError(f"{where}: expected an object, got {type(entry).__name__}")
    for key, tp in EXAMPLE_FIELDS.items():
        if key not in entry:
            raise MorphsynthError(f"{where}: missing key '{key}'")
        value = entry[key]
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise MorphsynthError(f"{where}: key '{key}': expected {tp.__name__}, got {type(value).__name__}")
    if not 0 <= entry["pitch"] <= 127 or not 0 <= entry["velocity"] <= 127:
        raise MorphsynthError(f"{where}: pitch/velocity outside 0-127")
    bend = entry.get("pitch_bend_cents", 0.0)
    if isinstance(bend, bool) or not isinstance(bend, (int, float)) or not -200 <= bend <= 200:
        raise MorphsynthError(f"{where}: key 'pitch_bend_cents': expected a number within ±200")
    if not 0 <= entry["instrument_family"] < len(FAMILIES) or not 0 <= entry["instrument_source"] < len(SOURCES):
        raise MorphsynthError(f"{where}: instrument_family/instrument_source out of range")
    return entry


# --- atomic files ---------------------------------------------------------------------


BUILD_LOCK = ".build.lock"


@contextlib.contextmanager
def build_lock(root: str | Path) -> Iterator[None]:
    """Hold ``root/.build.lock`` while building, so two builds never interleave their
    examples.json rewrites (the later one would drop the other's notes)."""
    import fcntl

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / BUILD_LOCK, "a") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MorphsynthError(f"{root}: another dataset build is writing here") from None
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def wav_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """``audio`` ``[n_samples]`` float in [-1, 1] as 16-bit PCM WAV bytes (NSynth's format)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0), sample_rate,
             format="WAV", subtype="PCM_16")
    return buf.getvalue()


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    atomic_write_bytes(path, wav_bytes(audio, sample_rate))


def is_complete_note_file(path: str | Path, n_samples: int = N_SAMPLES) -> bool:
    """True if ``path`` is a readable mono WAV of ``n_samples`` at 16 kHz (a finished note)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:
        return False
    return info.samplerate == SAMPLE_RATE and info.channels == 1 and info.frames == n_samples


def read_examples(split_folder: str | Path) -> dict[str, dict]:
    """examples.json of one split folder (``{}`` when it does not exist yet), checked."""
    path = Path(split_folder) / EXAMPLES_JSON
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MorphsynthError(f"{path}: not readable JSON ({exc})".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise MorphsynthError(f"{path}: expected an object keyed by note_str")
    for key, entry in data.items():
        check_example(entry, f"{path}: {key}")
        if entry["note_str"] != key:
            raise MorphsynthError(f"{path}: {key}: note_str is '{entry['note_str']}'")
    return data


def write_examples(split_folder: str | Path, examples: dict[str, dict]) -> None:
    """Rewrite ``split_folder/examples.json`` atomically, keys sorted (reproducible bytes)."""
    # One example per line: diffable, and far smaller than an indented dump.
    lines = [f"{json.dumps(key)}: {json.dumps(examples[key], sort_keys=True)}" for key in sorted(examples)]
    text = "{\n" + ",\n".join(lines) + "\n}\n" if lines else "{}\n"
    atomic_write_bytes(Path(split_folder) / EXAMPLES_JSON, text.encode("utf-8"))


# --- reading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One note: its examples.json entry plus where its audio lives."""

    split_folder: Path
    note_str: str
    note: int
    instrument: int
    instrument_str: str
    pitch: int
    velocity: int
    sample_rate: int
    family: int
    source: int
    qualities: tuple[int, ...]
    bend_cents: float = 0.0

    @property
    def sounding_pitch(self) -> float:
        """The pitch the note sounds at, in fractional MIDI: key plus pitch bend."""
        return float(self.pitch + self.bend_cents / 100.0)

    @property
    def family_str(self) -> str:
        return FAMILIES[self.family]

    @property
    def source_str(self) -> str:
        return SOURCES[self.source]

    @property
    def split(self) -> str:
        name = self.split_folder.name
        return name[len("nsynth-"):] if name.startswith("nsynth-") else name

    @property
    def audio_path(self) -> Path:
        return self.split_folder / AUDIO_DIR / f"{self.note_str}.wav"

    def load_audio(self, n_samples: int = N_SAMPLES) -> np.ndarray:
        """``[n_samples]`` float32 mono, trimmed or zero-padded."""
        return load_audio(self.audio_path, n_samples, self.sample_rate)

    @classmethod
    def from_entry(cls, split_folder: Path, entry: dict) -> "Example":
        return cls(split_folder=split_folder, note_str=entry["note_str"], note=entry["note"],
                   instrument=entry["instrument"], instrument_str=entry["instrument_str"],
                   pitch=entry["pitch"], velocity=entry["velocity"], sample_rate=entry["sample_rate"],
                   family=entry["instrument_family"], source=entry["instrument_source"],
                   qualities=tuple(entry["qualities"]),
                   bend_cents=float(entry.get("pitch_bend_cents", 0.0)))


def load_audio(path: str | Path, n_samples: int = N_SAMPLES, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A note file as ``[n_samples]`` float32 mono (channels averaged), trimmed or zero-padded."""
    return decode_audio(str(path), path, n_samples, sample_rate)


def decode_audio(source: str | bytes, path: str | Path, n_samples: int = N_SAMPLES,
                 sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """:func:`load_audio` from a file name or the file's bytes (``path`` names it in errors)."""
    import soundfile as sf

    try:
        audio, sr = sf.read(io.BytesIO(source) if isinstance(source, bytes) else source,
                            dtype="float32", always_2d=True)
    except OSError as exc:
        raise MorphsynthError(f"{path}: cannot read audio ({exc.strerror or exc})") from None
    except Exception as exc:
        raise MorphsynthError(f"{path}: cannot read audio ({exc})".replace("\n", " ")) from None
    if sr != sample_rate:
        raise MorphsynthError(f"{path}: sample rate {sr} Hz, expected {sample_rate} Hz")
    mono = audio.mean(axis=1)
    if mono.shape[0] >= n_samples:
        return np.ascontiguousarray(mono[:n_samples])
    return np.pad(mono, (0, n_samples - mono.shape[0]))


@dataclass(frozen=True)
class NoteFilter:
    """Which notes to keep. ``None`` keeps everything for that field.

    ``families``/``sources`` take names or indices; ``instruments`` takes
    instrument_str names; the pitch range is inclusive.
    """

    sources: Sequence[str | int] | None = None
    families: Sequence[str | int] | None = None
    pitch_min: int | None = None
    pitch_max: int | None = None
    velocities: Sequence[int] | None = None
    instruments: Sequence[str] | None = None

    def __post_init__(self):
        if self.pitch_min is not None and self.pitch_max is not None and self.pitch_min > self.pitch_max:
            raise MorphsynthError(f"pitch range {self.pitch_min}-{self.pitch_max}: empty")

    def matches(self, ex: Example) -> bool:
        if self.sources is not None and ex.source not in {source_index(s) for s in self.sources}:
            return False
        if self.families is not None and ex.family not in {family_index(f) for f in self.families}:
            return False
        if self.pitch_min is not None and ex.pitch < self.pitch_min:
            return False
        if self.pitch_max is not None and ex.pitch > self.pitch_max:
            return False
        if self.velocities is not None and ex.velocity not in set(self.velocities):
            return False
        if self.instruments is not None and ex.instrument_str not in set(self.instruments):
            return False
        return True


def split_folders(root: str | Path, split: str | Sequence[str] | None = None) -> list[Path]:
    """The split folders under ``root``.

    ``root`` may be a dataset root (holding ``nsynth-*``) or one split folder (holding
    examples.json). ``split`` picks ``train``/``valid``/``test`` (one or several);
    ``None`` takes every split present.
    """
    root = Path(root)
    if (root / EXAMPLES_JSON).is_file():
        if split is not None:
            raise MorphsynthError(f"{root}: is a single split folder; do not also ask for split {split!r}")
        return [root]
    if not root.is_dir():
        raise MorphsynthError(f"{root}: dataset folder not found")
    if split is None:
        found = [split_dir(root, s) for s in SPLITS if (split_dir(root, s) / EXAMPLES_JSON).is_file()]
        if not found:
            raise MorphsynthError(f"{root}: no nsynth-train/valid/test folder with {EXAMPLES_JSON}")
        return found
    names = [split] if isinstance(split, str) else list(split)
    folders = []
    for name in names:
        folder = split_dir(root, name)
        if not (folder / EXAMPLES_JSON).is_file():
            raise MorphsynthError(f"{folder}: no {EXAMPLES_JSON} (split '{name}' not built)")
        folders.append(folder)
    return folders


def list_examples(root: str | Path, split: str | Sequence[str] | None = None,
                  note_filter: NoteFilter | None = None) -> list[Example]:
    """The notes of a dataset as :class:`Example`, sorted by split then note_str."""
    out = []
    for folder in split_folders(root, split):
        entries = read_examples(folder)
        for key in sorted(entries):
            ex = Example.from_entry(folder, entries[key])
            if note_filter is None or note_filter.matches(ex):
                out.append(ex)
    return out


def load_examples(root: str | Path, split: str | Sequence[str] | None = None,
                  note_filter: NoteFilter | None = None,
                  n_samples: int = N_SAMPLES) -> tuple[list[Example], np.ndarray]:
    """Metadata and audio: ``(examples, audio [n_examples, n_samples] float32)``."""
    examples = list_examples(root, split, note_filter)
    audio = np.zeros((len(examples), n_samples), dtype=np.float32)
    for i, ex in enumerate(examples):
        audio[i] = ex.load_audio(n_samples)
    return examples, audio


# --- torch Dataset with an on-disk feature cache ---------------------------------------------


def file_digest(path: str | Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _stat_key(path: Path) -> tuple[str, str]:
    st = path.stat()
    return str(st.st_size), str(st.st_mtime_ns)


class NSynthDataset:
    """Torch Dataset of magnitude spectrograms for the notes of one or more splits.

    Item: ``{"mag": float32 [n_bins, n_frames] (513 x 251 with the defaults), "pitch": float
    (the sounding pitch, key plus bend), "velocity", "instrument", "family", "source": int,
    "instrument_str", "note_str", "split": str}``, plus ``"audio"`` ``[n_samples]`` when ``with_audio``.

    Features are cached as one safetensors file per note under
    ``cache_dir/mag-sr<rate>-fft<n_fft>-hop<hop>-n<n_samples>/`` (default
    ``cache_dir``: ``<split folder>/.features``). A cached file records the WAV's size,
    mtime and content digest: a matching size and mtime is trusted without reading the
    WAV; otherwise the digest decides, so a rewritten note is recomputed and a merely
    touched or copied one is not. ``cache_hits``/``cache_misses`` count this process's
    lookups (DataLoader workers keep their own).

    A float32 note costs 515 KB of cache (four times its WAV); ``cache_dtype="float16"``
    halves that at a relative error below 1e-3 (0.01 dB), under its own cache folder
    (``...-f16``). Items are float32 either way, and rounded the same way in the first
    epoch as in later ones.
    """

    def __init__(self, root: str | Path, split: str | Sequence[str] | None = "train",
                 note_filter: NoteFilter | None = None, stft=None, cache_dir: str | Path | None = None,
                 use_cache: bool = True, n_samples: int = N_SAMPLES, with_audio: bool = False,
                 cache_dtype: str = "float32"):
        from morphsynth.core.spectral import StftSettings

        self.stft = stft if stft is not None else StftSettings()
        if self.stft.sample_rate != SAMPLE_RATE:
            raise MorphsynthError(f"STFT sample rate {self.stft.sample_rate}: dataset notes are {SAMPLE_RATE} Hz")
        self.examples = list_examples(root, split, note_filter)
        self.n_samples = n_samples
        self.use_cache = use_cache
        self.with_audio = with_audio
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        if cache_dtype not in ("float32", "float16"):
            raise MorphsynthError(f"cache_dtype '{cache_dtype}': expected float32 or float16")
        self.cache_dtype = cache_dtype
        self.cache_hits = 0
        self.cache_misses = 0

    @property
    def feature_key(self) -> str:
        s = self.stft
        suffix = "-f16" if self.cache_dtype == "float16" else ""
        return f"mag-sr{s.sample_rate}-fft{s.n_fft}-hop{s.hop}-n{self.n_samples}{suffix}"

    def cache_path(self, ex: Example) -> Path:
        base = self.cache_dir / ex.split if self.cache_dir is not None else ex.split_folder / ".features"
        return base / self.feature_key / f"{ex.note_str}.safetensors"

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict:
        import torch

        ex = self.examples[index]
        audio = None
        if self.use_cache:
            mag = self._cached(ex)
            if mag is None:
                # Stat before reading and hash the very bytes decoded, so a file changing
                # meanwhile can never leave features of one content under another's key.
                try:
                    size, mtime = _stat_key(ex.audio_path)
                    data = ex.audio_path.read_bytes()
                except OSError as exc:
                    raise MorphsynthError(f"{ex.audio_path}: cannot read audio ({exc.strerror or exc})") from None
                audio = decode_audio(data, ex.audio_path, self.n_samples, ex.sample_rate)
                mag = self._compute(audio)
                digest = hashlib.blake2b(data, digest_size=16).hexdigest()
                self._store(ex, mag, {"size": size, "mtime_ns": mtime, "digest": digest})
        else:
            audio = ex.load_audio(self.n_samples)
            mag = self._compute(audio)
        item = {
            "mag": mag, "pitch": ex.sounding_pitch, "velocity": ex.velocity, "instrument": ex.instrument,
            "family": ex.family, "source": ex.source, "instrument_str": ex.instrument_str,
            "note_str": ex.note_str, "split": ex.split,
        }
        if self.with_audio:
            item["audio"] = torch.from_numpy(audio if audio is not None else ex.load_audio(self.n_samples))
        return item

    def _compute(self, audio: np.ndarray):
        """audio ``[n_samples]`` → magnitude ``[n_bins, n_frames]`` float32."""
        import torch

        from morphsynth.core.spectral import magnitude

        with torch.no_grad():
            mag = magnitude(torch.from_numpy(audio), self.stft.n_fft, self.stft.hop).float().contiguous()
        if self.use_cache and self.cache_dtype == "float16":
            mag = mag.half().float()
        return mag

    def _cached(self, ex: Example):
        from safetensors import safe_open

        path = self.cache_path(ex)
        if not path.is_file():
            self.cache_misses += 1
            return None
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                size, mtime = _stat_key(ex.audio_path)  # a vanished WAV is a miss, reported on reading
                valid = meta.get("size") == size and meta.get("mtime_ns") == mtime
                if not valid and meta.get("size") == size:
                    valid = meta.get("digest") == file_digest(ex.audio_path)
                if valid:
                    mag = f.get_tensor("mag").float()
                    self.cache_hits += 1
                    return mag
        except (OSError, ValueError, RuntimeError):
            # A damaged cache file is recomputed and replaced, never fatal.
            pass
        self.cache_misses += 1
        return None

    def _store(self, ex: Example, mag, meta: dict[str, str]) -> None:
        from safetensors.torch import save

        meta = {**meta, "feature": self.feature_key}
        try:
            stored = mag.half() if self.cache_dtype == "float16" else mag
            atomic_write_bytes(self.cache_path(ex), save({"mag": stored.contiguous()}, metadata=meta))
        except OSError:
            # A read-only dataset still trains; it just recomputes every epoch.
            pass


def describe(root: str | Path) -> str:
    """A few lines summarising a dataset: notes, instruments and families per split."""
    lines = []
    for folder in split_folders(root):
        exs = list_examples(folder)
        insts = sorted({e.instrument_str for e in exs})
        fams: dict[str, int] = {}
        for e in exs:
            fams[e.family_str] = fams.get(e.family_str, 0) + 1
        fam_text = ", ".join(f"{k} {v}" for k, v in sorted(fams.items()))
        pitches = f"{min(e.pitch for e in exs)}-{max(e.pitch for e in exs)}" if exs else "-"
        lines.append(f"{folder.name}: {len(exs)} notes, {len(insts)} instruments, pitches {pitches}; {fam_text}")
    return "\n".join(lines)
