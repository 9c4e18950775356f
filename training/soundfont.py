"""Single notes rendered from General MIDI SoundFonts with FluidSynth.

The NSynth note shape: ``hold_s`` seconds of note-on, then ``release_s`` seconds
after note-off, mono float32 at ``sample_rate``. Reverb and chorus are off so the
notes are dry.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from morphsynth.errors import MorphsynthError

FLUID_R3 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
TIMGM6MB = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
MUSESCORE_LITE = Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3")

# General MIDI program groups of eight, in NSynth's family vocabulary where one fits.
GM_GROUPS = [
    "piano", "chromatic_percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
    "reed", "pipe", "synth_lead", "synth_pad", "synth_effects", "ethnic", "percussive", "sound_effects",
]


def gm_group(program: int) -> str:
    """General MIDI group name of ``program`` (0-127)."""
    return GM_GROUPS[program // 8]


class SoundFontSynth:
    """One FluidSynth instance with one SoundFont loaded, rendering notes offline.

    Not thread-safe; make one per worker process.
    """

    def __init__(self, sf2: str | Path, sample_rate: int = 16000, gain: float = 0.5):
        import fluidsynth

        path = Path(sf2)
        if not path.is_file():
            raise MorphsynthError(f"{path}: SoundFont not found")
        self.path = path
        self.sample_rate = int(sample_rate)
        self._synth = fluidsynth.Synth(samplerate=float(sample_rate), gain=gain)
        for key, value in (("synth.reverb.active", 0), ("synth.chorus.active", 0)):
            self._synth.setting(key, value)
        self._sfid = self._synth.sfload(str(path))
        if self._sfid == -1:
            raise MorphsynthError(f"{path}: not a readable SoundFont")

    def render(self, program: int, pitch: int, velocity: int,
               hold_s: float = 3.0, release_s: float = 1.0, bank: int = 0) -> np.ndarray:
        """Render one note; returns ``[n_samples]`` float32 in [-1, 1]."""
        s = self._synth
        s.system_reset()
        s.program_select(0, self._sfid, bank, program)
        n_hold = int(round(hold_s * self.sample_rate))
        n_release = int(round(release_s * self.sample_rate))
        s.noteon(0, int(pitch), int(velocity))
        hold = s.get_samples(n_hold)
        s.noteoff(0, int(pitch))
        release = s.get_samples(n_release)
        # Silence the tail so the next note on this synth starts clean.
        s.all_sounds_off(0) if hasattr(s, "all_sounds_off") else s.cc(0, 120, 0)
        s.get_samples(256)
        stereo = np.concatenate([hold, release]).astype(np.float32).reshape(-1, 2)
        return (stereo.mean(axis=1) / 32768.0).astype(np.float32)

    def close(self) -> None:
        if self._synth is not None:
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
