"""Print how much a library build's peak memory grows over its notes (MB), in a fresh process.

    python build_memory.py MODEL_DIR N_NOTES pin|default

Random notes at many fractional pitches, as a bent dataset gives; ``pin`` pins glibc's mmap
threshold first (``core.malloc``), as ``morphsynth library build`` does.
"""

import resource
import sys

import numpy as np
import torch

from morphsynth.core.malloc import pin_mmap_threshold
from morphsynth.core.synth_model import load_synth_model
from morphsynth.server.library import NoteEntry, build_library

model_dir, n_notes, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if mode == "pin":
    assert pin_mmap_threshold()
torch.set_num_threads(1)
model = load_synth_model(model_dir)
n_samples = model.stft.n_samples(model.n_frames)
rng = np.random.default_rng(0)
peaks = {}


def notes():
    for i in range(n_notes):
        yield NoteEntry(f"inst{i % 8}", "synth", 40 + i % 40, 100,
                        (0.1 * rng.standard_normal(n_samples)).astype(np.float32), float(rng.uniform(-50, 50)))


def progress(done):
    peaks[done] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


build_library(model, notes(), batch_size=16, progress=progress)
done = sorted(peaks)
print(f"{peaks[done[-1]] - peaks[done[len(done) // 4]]:.1f}")
