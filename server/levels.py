"""Level curves shared by live voices and rendered files."""


def velocity_to_level(velocity: int, rendered_velocity: int) -> float:
    """Gain that takes a note rendered at ``rendered_velocity`` to ``velocity``.

    The library holds notes at a few velocities, so nearby velocities share a render;
    the General MIDI/DLS velocity curve (amplitude ∝ velocity², 40 dB over the range)
    restores the difference, as FluidSynth's default velocity modulator does.
    """
    if rendered_velocity <= 0:
        return 1.0
    return (max(0, min(127, int(velocity))) / float(rendered_velocity)) ** 2
