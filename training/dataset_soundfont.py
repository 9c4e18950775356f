"""Build an NSynth-layout dataset by rendering General MIDI SoundFonts with FluidSynth.

An instrument is one (SoundFont, program) pair, named
``<family>_<source>_<soundfont slug><program:03d>`` (e.g. ``flute_acoustic_fluidr3gm073``)
and numbered ``<index of its --sf2> * 128 + program``. Its notes are the NSynth note shape
(3 s hold, 1 s release, 16 kHz) at the requested pitches and velocities, rendered at
FluidSynth's own level (see :mod:`morphsynth.training.soundfont`): no per-note
normalisation, so velocity keeps its loudness meaning.

General MIDI program → NSynth family and source (:data:`GM_PROGRAMS` holds the full
per-program table):

============ ======== =================================================================
programs     GM group NSynth family (source)
============ ======== =================================================================
0-7          piano    keyboard (acoustic; electric piano 2, 4, 5 and clavinet 7 electronic)
8-15         chrom.   celesta 8 keyboard; glockenspiel..dulcimer 9-15 mallet (acoustic)
16-23        organ    organ (drawbar/percussive/rock 16-18 electronic, church/reed 19-20
                      acoustic); accordion, harmonica, tango accordion 21-23 reed
24-31        guitar   guitar (nylon/steel acoustic, electric 26-31 electronic)
32-39        bass     bass (acoustic 32; electric 33-37 electronic; synth bass 38-39 synthetic)
40-47        strings  string (acoustic); harp 46 string; timpani 47 mallet
48-55        ensemble string 48-51 (synth strings 50-51 synthetic); choir/voice 52-53 vocal,
                      synth voice 54 vocal (synthetic); orchestra hit 55 brass, excluded
56-63        brass    brass (synth brass 62-63 synthetic)
64-71        reed     reed (acoustic)
72-79        pipe     flute (acoustic)
80-87        lead     synth_lead (synthetic)
88-95        pad      synth_lead (synthetic); choir pad 91 and halo pad 94 vocal, bowed pad
                      92 string
96-103       effects  synth_lead (synthetic), excluded
104-111      ethnic   sitar/banjo/shamisen/koto 104-107 guitar, kalimba 108 mallet,
                      bagpipe 109 and shanai 111 reed, fiddle 110 string
112-119      percuss. tinkle bell 112 and steel drums 114 mallet; agogo, woodblock, taiko,
                      melodic tom, synth drum, reverse cymbal excluded
120-127      sfx      excluded (noises without a pitch)
============ ======== =================================================================

Excluded programs (unpitched or without a steady pitch) are left out unless named
explicitly in ``programs``; sound effects 122-127 are refused even then, since no
NSynth family describes a helicopter.

Splits are instrument-disjoint: instruments of a SoundFont given in ``test_sf2`` all
go to ``test`` (``whole_sf2`` sends a SoundFont to any one split); the others are
shuffled with ``seed`` and ``valid_fraction`` / ``test_fraction`` of them (at least one
each when there are three or more) go to ``valid`` / ``test``. The unit shuffled is a
program of a SoundFont *lineage* (:data:`SOUNDFONT_LINEAGE`): FluidR3 GM, its mono and GS
editions and MuseScore General share most samples, so their flute goes to one split
together and a held-out instrument is never heard through a sibling. An instrument
already present in the output keeps its split (and pulls its lineage with it), so a
re-run with more programs never puts one instrument in two splits.

Coverage options: ``velocities_per_pitch`` renders only that many of the velocity layers
at each pitch, rotating through them along the keyboard (and by instrument), so every
layer is heard across the range at a fraction of the notes; ``bend_cents`` holds the pitch
wheel at a seeded uniform offset in ±that many cents for each note (recorded as
``pitch_bend_cents``), so the pitches between keys are heard too.

Re-running resumes: a note whose WAV is already complete is kept, not re-rendered.
Notes whose render peaks below ``silence_db`` (default -70 dBFS) are skipped and
counted. Measured over all pitched programs, pitches 21-108: a note outside a preset's
range renders as exact silence (FluidR3_GM 398 of 6,300 notes) or, in TimGM6mb, as a
residue below -80 dBFS, while the softest real notes (velocity 25, vibraphone or
calliope high up) peak near -67 dBFS; -60 would drop 32 such FluidR3 notes.

Rendering is deterministic (see the priming note in :mod:`morphsynth.training.soundfont`),
so the same arguments give the same bytes whatever the number of workers.
"""

from __future__ import annotations

import multiprocessing
import random
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from morphsynth.core.errors import MorphsynthError
from morphsynth.training import nsynth

# (GM name, NSynth family, NSynth source, included by default)
GM_PROGRAMS: tuple[tuple[str, str, str, bool], ...] = (
    ("Acoustic Grand Piano", "keyboard", "acoustic", True),
    ("Bright Acoustic Piano", "keyboard", "acoustic", True),
    ("Electric Grand Piano", "keyboard", "electronic", True),
    ("Honky-tonk Piano", "keyboard", "acoustic", True),
    ("Electric Piano 1", "keyboard", "electronic", True),
    ("Electric Piano 2", "keyboard", "electronic", True),
    ("Harpsichord", "keyboard", "acoustic", True),
    ("Clavinet", "keyboard", "electronic", True),
    ("Celesta", "keyboard", "acoustic", True),
    ("Glockenspiel", "mallet", "acoustic", True),
    ("Music Box", "mallet", "acoustic", True),
    ("Vibraphone", "mallet", "acoustic", True),
    ("Marimba", "mallet", "acoustic", True),
    ("Xylophone", "mallet", "acoustic", True),
    ("Tubular Bells", "mallet", "acoustic", True),
    ("Dulcimer", "mallet", "acoustic", True),
    ("Drawbar Organ", "organ", "electronic", True),
    ("Percussive Organ", "organ", "electronic", True),
    ("Rock Organ", "organ", "electronic", True),
    ("Church Organ", "organ", "acoustic", True),
    ("Reed Organ", "organ", "acoustic", True),
    ("Accordion", "reed", "acoustic", True),
    ("Harmonica", "reed", "acoustic", True),
    ("Tango Accordion", "reed", "acoustic", True),
    ("Acoustic Guitar (nylon)", "guitar", "acoustic", True),
    ("Acoustic Guitar (steel)", "guitar", "acoustic", True),
    ("Electric Guitar (jazz)", "guitar", "electronic", True),
    ("Electric Guitar (clean)", "guitar", "electronic", True),
    ("Electric Guitar (muted)", "guitar", "electronic", True),
    ("Overdriven Guitar", "guitar", "electronic", True),
    ("Distortion Guitar", "guitar", "electronic", True),
    ("Guitar Harmonics", "guitar", "electronic", True),
    ("Acoustic Bass", "bass", "acoustic", True),
    ("Electric Bass (finger)", "bass", "electronic", True),
    ("Electric Bass (pick)", "bass", "electronic", True),
    ("Fretless Bass", "bass", "electronic", True),
    ("Slap Bass 1", "bass", "electronic", True),
    ("Slap Bass 2", "bass", "electronic", True),
    ("Synth Bass 1", "bass", "synthetic", True),
    ("Synth Bass 2", "bass", "synthetic", True),
    ("Violin", "string", "acoustic", True),
    ("Viola", "string", "acoustic", True),
    ("Cello", "string", "acoustic", True),
    ("Contrabass", "string", "acoustic", True),
    ("Tremolo Strings", "string", "acoustic", True),
    ("Pizzicato Strings", "string", "acoustic", True),
    ("Orchestral Harp", "string", "acoustic", True),
    ("Timpani", "mallet", "acoustic", True),
    ("String Ensemble 1", "string", "acoustic", True),
    ("String Ensemble 2", "string", "acoustic", True),
    ("Synth Strings 1", "string", "synthetic", True),
    ("Synth Strings 2", "string", "synthetic", True),
    ("Choir Aahs", "vocal", "acoustic", True),
    ("Voice Oohs", "vocal", "acoustic", True),
    ("Synth Voice", "vocal", "synthetic", True),
    ("Orchestra Hit", "brass", "acoustic", False),
    ("Trumpet", "brass", "acoustic", True),
    ("Trombone", "brass", "acoustic", True),
    ("Tuba", "brass", "acoustic", True),
    ("Muted Trumpet", "brass", "acoustic", True),
    ("French Horn", "brass", "acoustic", True),
    ("Brass Section", "brass", "acoustic", True),
    ("Synth Brass 1", "brass", "synthetic", True),
    ("Synth Brass 2", "brass", "synthetic", True),
    ("Soprano Sax", "reed", "acoustic", True),
    ("Alto Sax", "reed", "acoustic", True),
    ("Tenor Sax", "reed", "acoustic", True),
    ("Baritone Sax", "reed", "acoustic", True),
    ("Oboe", "reed", "acoustic", True),
    ("English Horn", "reed", "acoustic", True),
    ("Bassoon", "reed", "acoustic", True),
    ("Clarinet", "reed", "acoustic", True),
    ("Piccolo", "flute", "acoustic", True),
    ("Flute", "flute", "acoustic", True),
    ("Recorder", "flute", "acoustic", True),
    ("Pan Flute", "flute", "acoustic", True),
    ("Blown Bottle", "flute", "acoustic", True),
    ("Shakuhachi", "flute", "acoustic", True),
    ("Whistle", "flute", "acoustic", True),
    ("Ocarina", "flute", "acoustic", True),
    ("Lead 1 (square)", "synth_lead", "synthetic", True),
    ("Lead 2 (sawtooth)", "synth_lead", "synthetic", True),
    ("Lead 3 (calliope)", "synth_lead", "synthetic", True),
    ("Lead 4 (chiff)", "synth_lead", "synthetic", True),
    ("Lead 5 (charang)", "synth_lead", "synthetic", True),
    ("Lead 6 (voice)", "synth_lead", "synthetic", True),
    ("Lead 7 (fifths)", "synth_lead", "synthetic", True),
    ("Lead 8 (bass + lead)", "synth_lead", "synthetic", True),
    ("Pad 1 (new age)", "synth_lead", "synthetic", True),
    ("Pad 2 (warm)", "synth_lead", "synthetic", True),
    ("Pad 3 (polysynth)", "synth_lead", "synthetic", True),
    ("Pad 4 (choir)", "vocal", "synthetic", True),
    ("Pad 5 (bowed)", "string", "synthetic", True),
    ("Pad 6 (metallic)", "synth_lead", "synthetic", True),
    ("Pad 7 (halo)", "vocal", "synthetic", True),
    ("Pad 8 (sweep)", "synth_lead", "synthetic", True),
    ("FX 1 (rain)", "synth_lead", "synthetic", False),
    ("FX 2 (soundtrack)", "synth_lead", "synthetic", False),
    ("FX 3 (crystal)", "synth_lead", "synthetic", False),
    ("FX 4 (atmosphere)", "synth_lead", "synthetic", False),
    ("FX 5 (brightness)", "synth_lead", "synthetic", False),
    ("FX 6 (goblins)", "synth_lead", "synthetic", False),
    ("FX 7 (echoes)", "synth_lead", "synthetic", False),
    ("FX 8 (sci-fi)", "synth_lead", "synthetic", False),
    ("Sitar", "guitar", "acoustic", True),
    ("Banjo", "guitar", "acoustic", True),
    ("Shamisen", "guitar", "acoustic", True),
    ("Koto", "guitar", "acoustic", True),
    ("Kalimba", "mallet", "acoustic", True),
    ("Bagpipe", "reed", "acoustic", True),
    ("Fiddle", "string", "acoustic", True),
    ("Shanai", "reed", "acoustic", True),
    ("Tinkle Bell", "mallet", "acoustic", True),
    ("Agogo", "mallet", "acoustic", False),
    ("Steel Drums", "mallet", "acoustic", True),
    ("Woodblock", "mallet", "acoustic", False),
    ("Taiko Drum", "mallet", "acoustic", False),
    ("Melodic Tom", "mallet", "acoustic", False),
    ("Synth Drum", "mallet", "synthetic", False),
    ("Reverse Cymbal", "mallet", "synthetic", False),
    ("Guitar Fret Noise", "guitar", "electronic", False),
    ("Breath Noise", "flute", "acoustic", False),
    ("Seashore", "", "", False),
    ("Bird Tweet", "", "", False),
    ("Telephone Ring", "", "", False),
    ("Helicopter", "", "", False),
    ("Applause", "", "", False),
    ("Gunshot", "", "", False),
)
assert len(GM_PROGRAMS) == 128

DEFAULT_PROGRAMS = tuple(p for p, row in enumerate(GM_PROGRAMS) if row[3])


def gm_family(program: int) -> tuple[str, str]:
    """``(family, source)`` in NSynth's vocabulary for a General MIDI program."""
    if not 0 <= program <= 127:
        raise MorphsynthError(f"program {program}: expected 0-127")
    _, family, source, _ = GM_PROGRAMS[program]
    if not family:
        raise MorphsynthError(f"program {program} ({GM_PROGRAMS[program][0]}): a sound effect with no NSynth family")
    return family, source


# SoundFonts built from the same samples (slug → lineage); any other SoundFont is its own.
SOUNDFONT_LINEAGE = {
    "fluidr3gm": "fluidr3", "fluidr3monogm": "fluidr3", "fluidr3gs": "fluidr3",
    "musescoregeneral": "fluidr3", "musescoregenerallite": "fluidr3", "musescoregeneralfull": "fluidr3",
}


def soundfont_lineage(slug: str) -> str:
    return SOUNDFONT_LINEAGE.get(slug, slug)


def note_bend_cents(note_str: str, max_cents: float, seed: int) -> float:
    """Seeded per-note pitch bend, uniform in ±``max_cents`` (0 when ``max_cents`` is 0)."""
    if not max_cents:
        return 0.0
    rng = random.Random(zlib.crc32(f"{seed}:{note_str}".encode()))
    return round(rng.uniform(-max_cents, max_cents), 3)


def velocity_layers(velocities: Sequence[int], per_pitch: int | None, pitch_index: int, offset: int) -> list[int]:
    """The velocity layers rendered at the ``pitch_index``-th pitch: all, or ``per_pitch`` of
    them rotating along the keyboard (``offset``, e.g. the instrument number, staggers instruments)."""
    if not per_pitch or per_pitch >= len(velocities):
        return list(velocities)
    start = (pitch_index * per_pitch + offset) % len(velocities)
    return sorted(velocities[(start + j) % len(velocities)] for j in range(per_pitch))


def soundfont_slug(sf2: str | Path) -> str:
    """``FluidR3_GM.sf2`` → ``fluidr3gm``: lowercase letters and digits of the file stem."""
    slug = re.sub(r"[^a-z0-9]", "", Path(sf2).stem.lower())
    return slug or "soundfont"


def parse_int_list(text: str, what: str, lo: int, hi: int) -> list[int]:
    """``"0-7,24,40-45"`` → sorted unique ints within [lo, hi]; errors name ``what``."""
    values: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"(\d+)\s*(?:-\s*(\d+))?", part)
        if not m:
            raise MorphsynthError(f"{what} '{text}': '{part}' is not a number or range A-B")
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) is not None else a
        if a > b:
            raise MorphsynthError(f"{what} '{text}': range '{part}' is empty")
        if a < lo or b > hi:
            raise MorphsynthError(f"{what} '{text}': '{part}' outside {lo}-{hi}")
        values.update(range(a, b + 1))
    if not values:
        raise MorphsynthError(f"{what} '{text}': no values")
    return sorted(values)


def parse_pitch_range(text: str) -> tuple[int, int]:
    """``"21-108"`` → ``(21, 108)``; a single number is a one-pitch range."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+))?\s*", text)
    if not m:
        raise MorphsynthError(f"--pitches '{text}': expected A-B with MIDI numbers, e.g. 21-108")
    a = int(m.group(1))
    b = int(m.group(2)) if m.group(2) is not None else a
    return a, b


@dataclass(frozen=True)
class Instrument:
    sf2: Path
    program: int
    instrument: int
    instrument_str: str
    family: str
    source: str
    split: str


@dataclass
class BuildReport:
    """What a build did. ``skipped``: note_str of near-silent renders; ``off_pitch``: of
    renders whose measured fundamental missed the MIDI pitch (only with ``max_cents``)."""

    rendered: int = 0
    kept: int = 0
    skipped: list[str] = field(default_factory=list)
    off_pitch: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # "<SoundFont file>:<program>" without a preset
    notes_per_split: dict[str, int] = field(default_factory=dict)
    instruments_per_split: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        splits = ", ".join(f"{s} {self.notes_per_split.get(s, 0)} notes/"
                           f"{self.instruments_per_split.get(s, 0)} instruments" for s in nsynth.SPLITS)
        missing = f", {len(self.missing)} programs without a preset" if self.missing else ""
        return (f"rendered {self.rendered}, kept {self.kept} already present, "
                f"skipped {len(self.skipped)} silent, {len(self.off_pitch)} off pitch{missing}; {splits}")


def _existing_instruments(out: Path) -> dict[str, tuple[str, int]]:
    """instrument_str → (split, instrument number) for instruments already in ``out``."""
    found: dict[str, tuple[str, int]] = {}
    for split in nsynth.SPLITS:
        for entry in nsynth.read_examples(nsynth.split_dir(out, split)).values():
            found.setdefault(entry["instrument_str"], (split, entry["instrument"]))
    return found


def assign_splits(names: Sequence[str], seed: int, valid_fraction: float, test_fraction: float) -> dict[str, str]:
    """Seeded instrument-disjoint assignment of ``names`` to train/valid/test."""
    pool = sorted(names)
    random.Random(seed).shuffle(pool)
    n = len(pool)

    def count(fraction: float) -> int:
        k = int(round(n * fraction))
        return max(k, 1) if fraction > 0 and n >= 3 else k

    n_test, n_valid = count(test_fraction), count(valid_fraction)
    if n_test + n_valid > n:
        raise MorphsynthError(f"--valid-fraction {valid_fraction} + --test-fraction {test_fraction}: "
                              f"more than the {n} instruments")
    out = {name: "test" for name in pool[:n_test]}
    out.update({name: "valid" for name in pool[n_test:n_test + n_valid]})
    out.update({name: "train" for name in pool[n_test + n_valid:]})
    return out


def plan_instruments(sf2s: Sequence[Path], programs: Sequence[int], whole: dict[Path, str],
                     seed: int, valid_fraction: float, test_fraction: float,
                     existing: dict[str, tuple[str, int]] | None = None,
                     available: Callable[[Path, int], bool] | None = None) -> list[Instrument]:
    """Every (SoundFont, program) instrument with its name, number, family and split.

    ``available(sf2, program)``: False leaves that instrument out before splitting.

    ``whole``: SoundFonts whose every instrument goes to one split (path → split); they
    need not be in ``sf2s``. ``existing``: instruments already in the output (name → (split, number)); they keep
    both. A new instrument is numbered ``<SoundFont index> * 128 + program`` unless an
    existing instrument holds that number; then it takes the next free one.
    """
    existing = existing or {}
    all_sf2 = list(dict.fromkeys(list(sf2s) + list(whole)))
    slugs = [soundfont_slug(p) for p in all_sf2]
    for i, slug in enumerate(slugs):
        if slugs.index(slug) != i:
            raise MorphsynthError(f"{all_sf2[i]}: same name as {all_sf2[slugs.index(slug)]} "
                                  f"(instrument names come from the file name)")
    rows = []
    for k, sf2 in enumerate(all_sf2):
        for program in programs:
            if available is not None and not available(sf2, program):
                continue
            family, source = gm_family(program)
            name = f"{family}_{source}_{slugs[k]}{program:03d}"
            rows.append((sf2, program, k * 128 + program, name, family, source))
    group_of = {r[3]: f"{soundfont_lineage(slugs[all_sf2.index(r[0])])}:{r[1]:03d}" for r in rows}
    split_of = {name: split for name, (split, _) in existing.items()}
    group_split = {group_of[n]: split_of[n] for n in existing if n in group_of}
    fresh_groups = sorted({group_of[r[3]] for r in rows
                           if r[3] not in existing and r[0] not in whole and group_of[r[3]] not in group_split})
    group_split.update(assign_splits(fresh_groups, seed, valid_fraction, test_fraction))
    split_of.update({r[3]: group_split[group_of[r[3]]] for r in rows
                     if r[3] not in existing and r[0] not in whole})
    taken = {number for _, number in existing.values()}
    next_free = max(taken | {r[2] for r in rows}, default=-1) + 1
    plan = []
    for sf2, program, number, name, family, source in rows:
        if name in existing:
            number = existing[name][1]
        else:
            if sf2 in whole:
                split_of[name] = whole[sf2]
            if number in taken:
                number, next_free = next_free, next_free + 1
            taken.add(number)
        plan.append(Instrument(Path(sf2), program, number, name, family, source, split_of[name]))
    return plan


# --- rendering, in this process or in workers ------------------------------------------------

_SYNTHS: dict[str, object] = {}


def _synth_for(sf2: str):
    from morphsynth.training.soundfont import SoundFontSynth

    synth = _SYNTHS.get(sf2)
    if synth is None:
        synth = _SYNTHS[sf2] = SoundFontSynth(sf2, nsynth.SAMPLE_RATE)
    return synth


def _render_task(task: tuple[str, int, list[tuple[str, int, int, float]], float, float | None]) -> list[tuple[str, str]]:
    """Render one instrument's missing notes to ``audio/<note_str>.wav``.

    task: (sf2, program, [(wav path, pitch, velocity, bend cents)], silence peak, max cents or None).
    Returns ``[(wav path, "rendered" | "silent" | "off_pitch")]``.
    """
    sf2, program, notes, silence_peak, max_cents = task
    synth = _synth_for(sf2)
    out = []
    for path, pitch, velocity, bend in notes:
        audio = synth.render(program, pitch, velocity, nsynth.HOLD_S, nsynth.RELEASE_S, bend_cents=bend)
        if float(np.abs(audio).max(initial=0.0)) < silence_peak:
            out.append((path, "silent"))
            continue
        if max_cents is not None:
            from morphsynth.core.pitch import autocorrelation_f0, cents_off

            if not abs(cents_off(autocorrelation_f0(audio, nsynth.SAMPLE_RATE), pitch + bend / 100)) <= max_cents:
                out.append((path, "off_pitch"))
                continue
        nsynth.write_wav(path, audio)
        out.append((path, "rendered"))
    return out


def build_soundfont_dataset(sf2: Sequence[str | Path], out: str | Path, *,
                            programs: Iterable[int] | None = None,
                            pitches: tuple[int, int] = (nsynth.PITCH_MIN, nsynth.PITCH_MAX),
                            pitch_step: int = 1,
                            velocities: Sequence[int] = nsynth.VELOCITIES,
                            test_sf2: Sequence[str | Path] = (),
                            whole_sf2: dict[str | Path, str] | None = None,
                            valid_fraction: float = 0.1, test_fraction: float = 0.1,
                            seed: int = 0, workers: int = 1, silence_db: float = -70.0,
                            max_cents: float | None = None, velocities_per_pitch: int | None = None,
                            bend_cents: float = 0.0, progress: bool = False) -> BuildReport:
    """Render notes from General MIDI SoundFonts into an NSynth-layout dataset at ``out``.

    ``sf2``: SoundFont files whose instruments are split by ``seed`` and the fractions.
    ``test_sf2``: SoundFonts whose every instrument goes to the test split;
    ``whole_sf2`` generalises it (path → ``train``/``valid``/``test``). A preset a
    SoundFont lacks is left out and listed in ``BuildReport.missing``. ``programs``: GM
    programs (default: all pitched ones, :data:`DEFAULT_PROGRAMS`). ``pitches``:
    inclusive MIDI range, every ``pitch_step``-th semitone from its low end.
    ``max_cents``: also skip notes whose autocorrelation fundamental is further than
    this from the MIDI pitch (off by default: organ drawbars, harps and some leads sound
    an octave away by design, and bells and timpani fool the estimator).
    ``velocities_per_pitch`` and ``bend_cents``: see the module notes. Returns a
    :class:`BuildReport`.
    """
    sf2s = [Path(p) for p in sf2]
    whole = {Path(p): "test" for p in test_sf2}
    for p, split in (whole_sf2 or {}).items():
        if split not in nsynth.SPLITS:
            raise MorphsynthError(f"{p}: split '{split}': expected one of {', '.join(nsynth.SPLITS)}")
        whole[Path(p)] = split
    if not sf2s and not whole:
        raise MorphsynthError("--sf2: give at least one SoundFont")
    for p in sf2s + list(whole):
        if not p.is_file():
            raise MorphsynthError(f"{p}: SoundFont not found")
    lo, hi = pitches
    if lo > hi or pitch_step < 1 or not range(lo, hi + 1, pitch_step):
        raise MorphsynthError(f"--pitches {lo}-{hi} (step {pitch_step}): empty pitch range")
    if lo < 0 or hi > 127:
        raise MorphsynthError(f"--pitches {lo}-{hi}: outside MIDI 0-127")
    velocities = sorted(set(int(v) for v in velocities))
    if not velocities or velocities[0] < 1 or velocities[-1] > 127:
        raise MorphsynthError(f"--velocities {velocities}: expected values in 1-127")
    programs = sorted(set(DEFAULT_PROGRAMS if programs is None else (int(p) for p in programs)))
    if not programs:
        raise MorphsynthError("--programs: no programs")
    for p in (valid_fraction, test_fraction):
        if not 0.0 <= p < 1.0:
            raise MorphsynthError(f"split fraction {p}: expected 0 <= fraction < 1")
    if max_cents is not None and not max_cents > 0:
        raise MorphsynthError(f"--max-cents {max_cents}: expected a positive number")
    if workers < 1:
        raise MorphsynthError(f"--workers {workers}: expected at least 1")
    if velocities_per_pitch is not None and velocities_per_pitch < 1:
        raise MorphsynthError(f"--velocities-per-pitch {velocities_per_pitch}: expected at least 1")
    from morphsynth.training.soundfont import BEND_RANGE_CENTS

    if not 0.0 <= bend_cents <= BEND_RANGE_CENTS:
        raise MorphsynthError(f"--bend-cents {bend_cents}: expected 0-{BEND_RANGE_CENTS:.0f}")

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MorphsynthError(f"{out}: exists and is not a folder")
    # Check every SoundFont loads before anything is written.
    for p in dict.fromkeys(sf2s + list(whole)):
        _synth_for(str(p))

    def available(path: Path, program: int) -> bool:
        return _synth_for(str(path)).has_preset(program)

    with nsynth.build_lock(out):
        report = BuildReport()
        report.missing = [f"{p.name}:{program}" for p in dict.fromkeys(sf2s + list(whole))
                          for program in programs if not available(p, program)]
        instruments = plan_instruments(sf2s, programs, whole, seed, valid_fraction, test_fraction,
                                       _existing_instruments(out), available)
        pitch_list = list(range(lo, hi + 1, pitch_step))

        examples = {}
        for split in nsynth.SPLITS:
            folder = nsynth.split_dir(out, split)
            # An entry whose WAV has gone is dropped (and re-rendered if planned).
            examples[split] = {k: e for k, e in nsynth.read_examples(folder).items()
                               if (folder / nsynth.AUDIO_DIR / f"{k}.wav").is_file()}
        planned: dict[str, tuple[str, dict]] = {}  # wav path -> (split, example)
        tasks = []
        for inst in instruments:
            folder = nsynth.split_dir(out, inst.split)
            todo = []
            for k, pitch in enumerate(pitch_list):
                for velocity in velocity_layers(velocities, velocities_per_pitch, k, inst.instrument):
                    note_str = nsynth.make_note_str(inst.instrument_str, pitch, velocity)
                    bend = note_bend_cents(note_str, bend_cents, seed)
                    ex = nsynth.make_example(inst.instrument, inst.instrument_str, pitch, velocity,
                                             inst.family, inst.source, bend_cents=bend)
                    path = folder / nsynth.AUDIO_DIR / f"{ex['note_str']}.wav"
                    if nsynth.is_complete_note_file(path):
                        examples[inst.split][ex["note_str"]] = ex
                        report.kept += 1
                    else:
                        planned[str(path)] = (inst.split, ex)
                        todo.append((str(path), pitch, velocity, bend))
            if todo:
                tasks.append((str(inst.sf2), inst.program, todo, 10.0 ** (silence_db / 20.0), max_cents))

        def finish(results: list[tuple[str, str]]) -> None:
            for path, status in results:
                split, ex = planned[path]
                if status == "rendered":
                    examples[split][ex["note_str"]] = ex
                    report.rendered += 1
                elif status == "off_pitch":
                    report.off_pitch.append(ex["note_str"])
                else:
                    report.skipped.append(ex["note_str"])

        from tqdm import tqdm

        bar = tqdm(total=sum(len(t[2]) for t in tasks), unit="note", disable=not progress,
                   desc="rendering", dynamic_ncols=True)
        try:
            if workers == 1 or len(tasks) <= 1:
                for task in tasks:
                    results = _render_task(task)
                    finish(results)
                    bar.update(len(results))
            else:
                # spawn, not fork: the parent may hold torch's thread pools, which fork breaks.
                ctx = multiprocessing.get_context("spawn")
                with ctx.Pool(min(workers, len(tasks))) as pool:
                    for results in pool.imap_unordered(_render_task, tasks):
                        finish(results)
                        bar.update(len(results))
        finally:
            bar.close()
            # Whatever finished is recorded, even when interrupted.
            for split, entries in examples.items():
                if entries:
                    nsynth.write_examples(nsynth.split_dir(out, split), entries)
        report.skipped.sort()
        report.off_pitch.sort()
        for split, entries in examples.items():
            report.notes_per_split[split] = len(entries)
            report.instruments_per_split[split] = len({e["instrument_str"] for e in entries.values()})
        return report
