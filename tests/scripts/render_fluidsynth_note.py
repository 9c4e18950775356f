"""Load FluidSynth and render one short note; the test checks that nothing reached stdout."""

from morphsynth.training.soundfont import FLUID_R3, render_note

assert render_note(FLUID_R3, 0, 60, hold_s=0.1, release_s=0.1).any()
