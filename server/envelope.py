"""The voices' ADSR envelope: its settings and how one voice's level moves over a block.

Linear segments, as a sampler's: attack to 1, decay to the sustain level, sustain while
held, then release (a key let go) or fade (a stolen voice) down to silence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from morphsynth.core.errors import MorphsynthError

# Envelope stages (a voice's ``stage``).
ATTACK, DECAY, SUSTAIN, RELEASE, FADE, DONE = 0, 1, 2, 3, 4, 5


@dataclass(frozen=True)
class Adsr:
    """Envelope times in seconds, sustain as a linear level in [0, 1]."""

    attack: float = 0.005
    decay: float = 0.1
    sustain: float = 0.8
    release: float = 0.3

    def validate(self) -> None:
        for name in ("attack", "decay", "release"):
            value = getattr(self, name)
            if not (0.0 <= value <= 60.0) or math.isnan(value):
                raise MorphsynthError(f"adsr {name}: {value} s is outside 0..60 s")
        if not (0.0 <= self.sustain <= 1.0):
            raise MorphsynthError(f"adsr sustain: {self.sustain} is outside 0..1")


def advance(level: float, stage: int, n: int, adsr: Adsr, sample_rate: int, release_step: float) -> tuple[float, int]:
    """The ``(level, stage)`` of a voice ``n`` samples on from ``(level, stage)``.

    ``release_step``: the level a RELEASE or FADE stage loses per sample (set when it
    began, so that the fall is linear from wherever the voice was). Plain floats: the
    audio callback calls this once per voice and block and must create no array.
    """
    left = n
    while left > 0:
        if stage == ATTACK:
            step = 1.0 / max(1.0, adsr.attack * sample_rate)
            need = math.ceil((1.0 - level) / step)
            if need > left:
                level += step * left
                left = 0
            else:
                level, left, stage = 1.0, left - need, DECAY
        elif stage == DECAY:
            span = 1.0 - adsr.sustain
            step = span / max(1.0, adsr.decay * sample_rate)
            if step <= 0.0 or level <= adsr.sustain:
                level, stage = min(level, 1.0) if step <= 0.0 else adsr.sustain, SUSTAIN
                continue
            need = math.ceil((level - adsr.sustain) / step)
            if need > left:
                level -= step * left
                left = 0
            else:
                level, left, stage = adsr.sustain, left - need, SUSTAIN
        elif stage == SUSTAIN:
            # A sustain change while held glides there within the block.
            level = adsr.sustain
            left = 0
        elif stage in (RELEASE, FADE):
            level -= release_step * left
            left = 0
            if level <= 0.0:
                level, stage = 0.0, DONE
        else:
            level, left = 0.0, 0
    return level, stage
