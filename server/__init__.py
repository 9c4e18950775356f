"""Real time: OSC address space, MIDI, voices, audio output, render-to-file, library cache."""
