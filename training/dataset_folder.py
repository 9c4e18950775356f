"""Import a user's own one-note samples into the NSynth layout.

Input: a folder of WAV/FLAC/AIFF files, one note per file. Each file's pitch and
velocity come either from its name or from a CSV manifest:

* File name: underscore/hyphen/space/dot separated words; one word is a note name in
  scientific pitch notation (``C4`` = MIDI 60, ``C#3``, ``Eb5``, ``Bb-1``), one may be
  ``v<velocity>`` (``v100``; default 100), and the remaining words, joined by ``_``,
  name the instrument (the parent folder's name when nothing remains). So
  ``cello_C#3_v100.wav`` is instrument ``cello``, pitch 49, velocity 100.
* Manifest (``--manifest FILE``, or ``manifest.csv`` in the input folder): a header row
  with ``file`` and ``pitch`` and optionally ``velocity``, ``instrument``, ``family``,
  ``source``. ``file`` is relative to the manifest's folder; ``pitch`` is a MIDI number
  or a note name. Files not listed in a manifest are ignored.

Audio is mixed to mono, resampled to 16 kHz with soxr (``HQ``), its leading silence
(below -60 dB of the file's peak) trimmed so the onset sits at 0 like NSynth's notes,
then cut to 4 s with a 50 ms fade-out or zero-padded. The level is kept as recorded
(scaled down only if resampling pushed the peak above full scale) so velocity layers
keep their loudness.

Family and source: the manifest's columns when given; otherwise the NSynth family
whose keyword list (:data:`FAMILY_WORDS`) holds a word of the instrument name, last
word first (``cello`` → string, ``bass_clarinet`` → reed), else ``default_family``;
source defaults to ``default_source``. The instrument_str is ``<family>_<source>_<name>`` like NSynth's.

Splits: by default every instrument goes to one split (``train``), since a user's
handful of instruments is usually a morphing palette, not a benchmark. ``split=
"seeded"`` makes an instrument-disjoint seeded split like the SoundFont builder.
Instruments already in the output keep their split and number.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from morphsynth.core.errors import MorphsynthError
from morphsynth.core.note_files import check_note
from morphsynth.training import nsynth

AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff")
LEADING_SILENCE_DB = -60.0
FADE_S = 0.05

# Words in an instrument name that say which NSynth family it belongs to.
FAMILY_WORDS: dict[str, tuple[str, ...]] = {
    "bass": ("bass", "contrabass", "doublebass", "upright"),
    "brass": ("brass", "trumpet", "trombone", "tuba", "horn", "cornet", "flugelhorn", "euphonium"),
    "flute": ("flute", "piccolo", "recorder", "panflute", "ocarina", "whistle", "shakuhachi", "fife"),
    "guitar": ("guitar", "banjo", "ukulele", "mandolin", "sitar", "lute", "koto"),
    "keyboard": ("piano", "keys", "rhodes", "wurlitzer", "harpsichord", "clavinet", "celesta", "epiano"),
    "mallet": ("marimba", "xylophone", "vibraphone", "vibes", "glockenspiel", "bell", "bells", "kalimba",
               "mallet", "timpani", "steelpan", "celeste"),
    "organ": ("organ",),
    "reed": ("sax", "saxophone", "clarinet", "oboe", "bassoon", "accordion", "harmonica", "reed", "bagpipe"),
    "string": ("violin", "viola", "cello", "strings", "string", "fiddle", "harp", "erhu"),
    "synth_lead": ("synth", "lead", "pad", "saw", "square", "pluck"),
    "vocal": ("vocal", "voice", "choir", "vox", "soprano", "alto", "tenor", "baritone", "singer"),
}

_NOTE_RE = re.compile(r"^([A-Ga-g])(#|s|b|♯|♭)?(-1|[0-9])$")
_VELOCITY_RE = re.compile(r"^[vV](\d{1,3})$")
_SEMITONE = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}


def note_name_to_midi(name: str) -> int | None:
    """``"C4"`` → 60, ``"C#3"``/``"Cs3"`` → 49, ``"Eb5"`` → 75; ``None`` if not a note name."""
    m = _NOTE_RE.match(name.strip())
    if not m:
        return None
    letter, accidental, octave = m.groups()
    shift = {None: 0, "#": 1, "s": 1, "♯": 1, "b": -1, "♭": -1}[accidental]
    midi = (int(octave) + 1) * 12 + _SEMITONE[letter.lower()] + shift
    return midi if 0 <= midi <= 127 else None


def _words(stem: str) -> list[str]:
    """Split a file stem on ``_``, spaces, dots and hyphens, keeping octave ``-1`` (``C-1``) whole."""
    return [w for w in re.split(r"[_\s.]+|-(?!1(?:[_\s.\-]|$))", stem) if w]


def _slug(text: str) -> str:
    words = [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]
    return "_".join(words)


@dataclass(frozen=True)
class SampleNote:
    """One input file and what it is."""

    path: Path
    instrument: str  # the user's name, a slug: lowercase letters, digits and '_'
    pitch: int
    velocity: int
    family: str | None = None
    source: str | None = None
    where: str = ""  # file or manifest row, for error messages


def parse_file_name(path: Path) -> SampleNote:
    """Pitch, velocity and instrument from a name like ``cello_C#3_v100.wav``."""
    words = _words(path.stem)
    pitches = [(w, note_name_to_midi(w)) for w in words]
    found = [(w, p) for w, p in pitches if p is not None]
    if not found:
        raise MorphsynthError(f"{path}: no note name (like C#3) in the file name; use a manifest "
                              f"with columns file,pitch")
    if len(found) > 1:
        raise MorphsynthError(f"{path}: several note names in the file name "
                              f"({', '.join(w for w, _ in found)}); use a manifest")
    velocity = 100
    rest = []
    for w, p in pitches:
        if p is not None:
            continue
        m = _VELOCITY_RE.match(w)
        if m:
            velocity = int(m.group(1))
        else:
            rest.append(w)
    if not 1 <= velocity <= 127:
        raise MorphsynthError(f"{path}: velocity {velocity} outside 1-127")
    name = _slug("_".join(rest)) or _slug(path.parent.name) or "sample"
    return SampleNote(path, name, found[0][1], velocity, where=str(path))


def read_manifest(manifest: Path) -> list[SampleNote]:
    """Rows of a CSV manifest (columns file,pitch[,velocity][,instrument][,family][,source])."""
    try:
        text = manifest.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise MorphsynthError(f"{manifest}: cannot read manifest ({exc})") from None
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip().lower() for c in (reader.fieldnames or [])]
    if "file" not in columns or "pitch" not in columns:
        got = ", ".join(columns) or "none"
        raise MorphsynthError(f"{manifest}: header must name columns 'file' and 'pitch' (got {got})")
    allowed = {"file", "pitch", "velocity", "instrument", "family", "source"}
    unknown = [c for c in columns if c not in allowed]
    if unknown:
        raise MorphsynthError(f"{manifest}: unknown column '{unknown[0]}' (known: {', '.join(sorted(allowed))})")
    notes = []
    for i, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        where = f"{manifest}: row {i}"
        if not any(row.values()):
            continue
        if not row.get("file"):
            raise MorphsynthError(f"{where}: no file")
        path = (manifest.parent / row["file"]).resolve()
        where = f"{where} ({row['file']})"
        pitch_text = row.get("pitch", "")
        if not pitch_text:
            raise MorphsynthError(f"{where}: no pitch")
        pitch = int(pitch_text) if pitch_text.isdigit() else note_name_to_midi(pitch_text)
        if pitch is None or not 0 <= pitch <= 127:
            raise MorphsynthError(f"{where}: pitch '{pitch_text}' is not a MIDI number 0-127 or a note name")
        vel_text = row.get("velocity", "")
        if vel_text and not vel_text.isdigit():
            raise MorphsynthError(f"{where}: velocity '{vel_text}' is not a number")
        velocity = int(vel_text) if vel_text else 100
        if not 1 <= velocity <= 127:
            raise MorphsynthError(f"{where}: velocity {velocity} outside 1-127")
        name = _slug(row.get("instrument", "")) or parse_name_only(path)
        family = row.get("family") or None
        source = row.get("source") or None
        if family is not None and family not in nsynth.FAMILIES:
            raise MorphsynthError(f"{where}: family '{family}' (known: {', '.join(nsynth.FAMILIES)})")
        if source is not None and source not in nsynth.SOURCES:
            raise MorphsynthError(f"{where}: source '{source}' (known: {', '.join(nsynth.SOURCES)})")
        notes.append(SampleNote(path, name, pitch, velocity, family, source, where))
    if not notes:
        raise MorphsynthError(f"{manifest}: no rows")
    return notes


def parse_name_only(path: Path) -> str:
    """The instrument part of a file name, without note-name or velocity words."""
    words = _words(path.stem)
    rest = [w for w in words if note_name_to_midi(w) is None and not _VELOCITY_RE.match(w)]
    return _slug("_".join(rest)) or _slug(path.parent.name) or "sample"


def guess_family(name: str) -> str | None:
    """NSynth family from the instrument name's words, the last word first (the head noun:
    ``bass_clarinet`` is a reed, ``electric_bass`` a bass)."""
    for word in reversed(name.split("_")):
        for family, keys in FAMILY_WORDS.items():
            if word in keys:
                return family
    return None


def prepare_audio(path: Path, n_samples: int = nsynth.N_SAMPLES) -> np.ndarray:
    """A sample file as an NSynth note: ``[n_samples]`` float32 at 16 kHz, onset at 0."""
    import soundfile as sf
    import soxr

    try:
        audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise MorphsynthError(f"{path}: cannot read audio ({exc})".replace("\n", " ")) from None
    if audio.shape[0] == 0:
        raise MorphsynthError(f"{path}: no audio frames")
    mono = audio.mean(axis=1)
    check_note(path, mono, sr)
    if sr != nsynth.SAMPLE_RATE:
        mono = soxr.resample(mono, sr, nsynth.SAMPLE_RATE, quality="HQ").astype(np.float32)
    peak = float(np.abs(mono).max())
    loud = np.nonzero(np.abs(mono) >= peak * 10.0 ** (LEADING_SILENCE_DB / 20.0))[0]
    mono = mono[loud[0]:]
    if mono.shape[0] > n_samples:
        mono = mono[:n_samples].copy()
        fade = int(FADE_S * nsynth.SAMPLE_RATE)
        mono[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    else:
        mono = np.pad(mono, (0, n_samples - mono.shape[0]))
    if peak > 1.0:
        mono = mono / peak
    return mono.astype(np.float32)


@dataclass
class ImportReport:
    imported: int = 0
    notes_per_split: dict[str, int] = field(default_factory=dict)
    instruments: dict[str, str] = field(default_factory=dict)  # instrument_str -> split

    def summary(self) -> str:
        splits = ", ".join(f"{s} {self.notes_per_split.get(s, 0)}" for s in nsynth.SPLITS)
        return f"imported {self.imported} notes from {len(self.instruments)} instruments; notes per split: {splits}"


def collect_notes(folder: Path, manifest: Path | None = None, skip: Path | None = None) -> list[SampleNote]:
    """The notes to import: from the manifest if any, else from the file names.

    ``skip``: a folder (the output, when it sits inside the input) whose files are ignored.
    """
    if not folder.is_dir():
        raise MorphsynthError(f"{folder}: input folder not found")
    if manifest is None and (folder / "manifest.csv").is_file():
        manifest = folder / "manifest.csv"
    if manifest is not None:
        if not manifest.is_file():
            raise MorphsynthError(f"{manifest}: manifest not found")
        notes = read_manifest(manifest)
        for n in notes:
            if not n.path.is_file():
                raise MorphsynthError(f"{n.where}: file not found")
        return notes
    skip = skip.resolve() if skip is not None else None
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
                   and not (skip is not None and p.resolve().is_relative_to(skip)))
    if not files:
        raise MorphsynthError(f"{folder}: no .wav, .flac or .aiff files")
    return [parse_file_name(p) for p in files]


def import_folder(folder: str | Path, out: str | Path, *, manifest: str | Path | None = None,
                  split: str = "train", seed: int = 0, valid_fraction: float = 0.1,
                  test_fraction: float = 0.1, default_family: str = "keyboard",
                  default_source: str = "acoustic") -> ImportReport:
    """Import one-note samples from ``folder`` into the NSynth layout at ``out``.

    ``split``: ``train``/``valid``/``test`` puts every new instrument there; ``seeded``
    splits instruments with ``seed`` and the fractions. Every file is read and checked
    before anything is written.
    """
    from morphsynth.training.dataset_soundfont import assign_splits

    folder, out = Path(folder), Path(out)
    if split not in (*nsynth.SPLITS, "seeded"):
        raise MorphsynthError(f"--split {split}: expected train, valid, test or seeded")
    nsynth.family_index(default_family)
    nsynth.source_index(default_source)
    notes = collect_notes(folder, Path(manifest) if manifest is not None else None, skip=out)

    # Every file is read and checked before the output is touched.
    prepared = []
    seen: dict[str, str] = {}
    for n in notes:
        family = n.family or guess_family(n.instrument) or default_family
        source = n.source or default_source
        inst_str = f"{family}_{source}_{n.instrument}"
        note_str = nsynth.make_note_str(inst_str, n.pitch, n.velocity)
        if note_str in seen:
            raise MorphsynthError(f"{n.where}: same instrument, pitch and velocity as {seen[note_str]}")
        seen[note_str] = n.where
        prepared.append((n, inst_str, family, source, prepare_audio(n.path)))

    with nsynth.build_lock(out):
        # Existing instruments keep their number and split.
        examples = {sp: nsynth.read_examples(nsynth.split_dir(out, sp)) for sp in nsynth.SPLITS}
        known: dict[str, tuple[int, str]] = {}
        for sp, entries in examples.items():
            for e in entries.values():
                known.setdefault(e["instrument_str"], (e["instrument"], sp))
        next_id = max((i for i, _ in known.values()), default=-1) + 1

        new = sorted({p[1] for p in prepared} - set(known))
        if split == "seeded":
            new_split = assign_splits(new, seed, valid_fraction, test_fraction)
        else:
            new_split = {name: split for name in new}
        for name in new:
            known[name] = (next_id, new_split[name])
            next_id += 1

        report = ImportReport()
        touched = set()
        for n, inst_str, family, source, audio in prepared:
            inst_id, inst_split = known[inst_str]
            ex = nsynth.make_example(inst_id, inst_str, n.pitch, n.velocity, family, source)
            folder_out = nsynth.split_dir(out, inst_split)
            nsynth.write_wav(folder_out / nsynth.AUDIO_DIR / f"{ex['note_str']}.wav", audio)
            examples[inst_split][ex["note_str"]] = ex
            touched.add(inst_split)
            report.imported += 1
            report.instruments[inst_str] = inst_split
        for sp in touched:
            nsynth.write_examples(nsynth.split_dir(out, sp), examples[sp])
    report.notes_per_split = {sp: len(e) for sp, e in examples.items()}
    return report
