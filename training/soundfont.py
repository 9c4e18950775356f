"""Single notes rendered from General MIDI SoundFonts with FluidSynth.

The NSynth note shape: ``hold_s`` seconds of note-on, then ``release_s`` seconds
after note-off, mono float32 at ``sample_rate``. Reverb and chorus are off so the
notes are dry.

Level: FluidSynth's own level at a fixed ``gain`` (0.5) is kept, never normalised
per note, so a velocity-25 note stays quieter than a velocity-127 one. At gain 0.5
the loudest General MIDI preset of FluidR3_GM, TimGM6mb and MuseScore General Lite
peaks near 0.36 at velocity 127 (measured over all 128 programs at middle C), so
nothing clips.

Determinism: the samples are read as float32 (``fluid_synth_write_float``), which
skips the dither FluidSynth adds to its 16-bit output. FluidSynth ramps a reused
voice's gain from the value the voice had in its previous note over the first
64-sample block, so a note's first block depends on what was played before it.
:meth:`SoundFontSynth.render` therefore plays each note for one block, silences it,
and plays it again: the voices it then takes carry this note's own gains, and the
result is the same bytes whatever the synth rendered earlier.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from pathlib import Path

import numpy as np

from morphsynth.core.errors import MorphsynthError

FLUID_R3 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
TIMGM6MB = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
MUSESCORE_LITE = Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3")

# General MIDI program groups of eight, in NSynth's family vocabulary where one fits.
GM_GROUPS = [
    "piano", "chromatic_percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
    "reed", "pipe", "synth_lead", "synth_pad", "synth_effects", "ethnic", "percussive", "sound_effects",
]

# FluidSynth renders in blocks of this many samples.
_BLOCK = 64
_CC_ALL_SOUND_OFF = 120
# FluidSynth's default pitch-wheel sensitivity (General MIDI): ±2 semitones.
BEND_RANGE_CENTS = 200.0


def bend_value(cents: float) -> int:
    """Pitch-wheel offset from centre (-8192..8191) that bends by ``cents`` at GM's ±200-cent range."""
    if not -BEND_RANGE_CENTS <= cents <= BEND_RANGE_CENTS:
        raise MorphsynthError(f"pitch bend {cents} cents: outside ±{BEND_RANGE_CENTS:.0f}")
    return max(-8192, min(8191, int(round(cents / BEND_RANGE_CENTS * 8192))))


def bend_cents(value: int) -> float:
    """The bend in cents that wheel offset ``value`` plays (inverse of :func:`bend_value`)."""
    return value * BEND_RANGE_CENTS / 8192


def gm_group(program: int) -> str:
    """General MIDI group name of ``program`` (0-127)."""
    return GM_GROUPS[program // 8]


def _fluidsynth():
    """The pyfluidsynth module; its import-time library report goes to stderr, not stdout."""
    # pyfluidsynth prints where it found libfluidsynth when $CI is set, which would
    # corrupt anything this process writes to stdout (OSC replies piped on, WAV to "-").
    with contextlib.redirect_stdout(sys.stderr):
        import fluidsynth
    return fluidsynth


def _write_float_fn():
    fn = _fluidsynth()._fl.fluid_synth_write_float
    fn.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                   ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


class SoundFontSynth:
    """One FluidSynth instance with one SoundFont loaded, rendering notes offline.

    Not thread-safe; make one per worker process.
    """

    def __init__(self, sf2: str | Path, sample_rate: int = 16000, gain: float = 0.5):
        fluidsynth = _fluidsynth()
        path = Path(sf2)
        if not path.is_file():
            raise MorphsynthError(f"{path}: SoundFont not found")
        self.path = path
        self._check_header(path)
        self.sample_rate = int(sample_rate)
        # Reverb and chorus must be off before the synth is created: later changes are ignored.
        self._synth = fluidsynth.Synth(samplerate=float(sample_rate), gain=gain,
                                       **{"synth.reverb.active": 0, "synth.chorus.active": 0})
        self._write = _write_float_fn()
        self._sfid = self._synth.sfload(str(path))
        if self._sfid == -1:
            self.close()
            raise MorphsynthError(f"{path}: not a readable SoundFont")

    @staticmethod
    def _check_header(path: Path) -> None:
        """Refuse a file that is no SoundFont before FluidSynth logs its own multi-line complaints."""
        try:
            with open(path, "rb") as f:
                head = f.read(12)
        except OSError as exc:
            raise MorphsynthError(f"{path}: cannot read SoundFont ({exc.strerror or exc})") from None
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] not in (b"sfbk", b"DLS "):
            raise MorphsynthError(f"{path}: not a SoundFont (no RIFF sfbk header)")

    def has_preset(self, program: int, bank: int = 0) -> bool:
        return self._synth.sfpreset_name(self._sfid, bank, program) is not None

    def preset_name(self, program: int, bank: int = 0) -> str | None:
        return self._synth.sfpreset_name(self._sfid, bank, program)

    def _samples(self, n: int) -> np.ndarray:
        """The next ``n`` frames as ``[n, 2]`` float32."""
        buf = np.zeros((n, 2), dtype=np.float32)
        rc = self._write(self._synth.synth, n, buf.ctypes.data, 0, 2, buf.ctypes.data, 1, 2)
        if rc != 0:
            raise RuntimeError("fluid_synth_write_float failed")
        return buf

    def _start(self, program: int, pitch: int, velocity: int, bank: int, bend: int) -> None:
        s = self._synth
        s.system_reset()
        if s.program_select(0, self._sfid, bank, program) != 0:
            raise MorphsynthError(f"{self.path}: no preset for bank {bank} program {program}")
        if bend:
            s.pitch_bend(0, bend)  # pyfluidsynth adds the 8192 centre
        s.noteon(0, int(pitch), int(velocity))

    def _silence(self) -> None:
        self._synth.cc(0, _CC_ALL_SOUND_OFF, 0)
        self._samples(4 * _BLOCK)

    def render(self, program: int, pitch: int, velocity: int,
               hold_s: float = 3.0, release_s: float = 1.0, bank: int = 0, bend_cents: float = 0.0) -> np.ndarray:
        """Render one note; returns ``[n_samples]`` float32 in [-1, 1].

        ``bend_cents``: the pitch wheel held there for the whole note (GM's default bend
        range, ±200 cents; quantised to the wheel's 14 bits, see :func:`bend_value`).
        """
        if not (0 <= program <= 127 and 0 <= pitch <= 127 and 1 <= velocity <= 127):
            raise MorphsynthError(f"program {program}, pitch {pitch}, velocity {velocity}: out of MIDI range")
        bend = bend_value(bend_cents)
        n_hold = int(round(hold_s * self.sample_rate))
        n_release = int(round(release_s * self.sample_rate))
        # Priming block: leaves this note's gains in the voices the real note will reuse.
        self._start(program, pitch, velocity, bank, bend)
        self._samples(_BLOCK)
        self._silence()
        self._start(program, pitch, velocity, bank, bend)
        hold = self._samples(n_hold)
        self._synth.noteoff(0, int(pitch))
        release = self._samples(n_release)
        self._silence()
        stereo = np.concatenate([hold, release])  # [n_samples, 2]
        return stereo.mean(axis=1).astype(np.float32)

    def close(self) -> None:
        if getattr(self, "_synth", None) is not None:
            self._synth.delete()
            self._synth = None

    def __enter__(self) -> "SoundFontSynth":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def render_note(sf2: str | Path, program: int, pitch: int, velocity: int = 100,
                sample_rate: int = 16000, hold_s: float = 3.0, release_s: float = 1.0) -> np.ndarray:
    """Render one note from a SoundFont; ``[hold+release samples]`` float32."""
    with SoundFontSynth(sf2, sample_rate) as synth:
        return synth.render(program, pitch, velocity, hold_s, release_s)
