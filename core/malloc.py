"""glibc's heap in long loops over notes.

glibc serves a large block with ``mmap`` and, each time such a block is freed, raises the
size from which it does so (up to 32 MiB). After the first few frees, a note's magnitude and
the decoder's activations (a few MB each, of slightly different sizes from batch to batch)
come from the heap instead, and a loop that allocates and frees them fragments it: before
this, ``morphsynth library build`` over 55,180 notes grew by about 0.7 MB a note until the
kernel stopped it at 24 GB (640 random notes through a small CAE: +80 MB; pinned, +0.1 MB). Pinning the threshold keeps such blocks in ``mmap``, whose pages go
back to the system when they are freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3      # mallopt parameter (glibc malloc.h)
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value


def pin_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Serve blocks of ``threshold`` bytes and more from ``mmap`` for the rest of the process.

    Returns whether it took effect (False off glibc, where there is nothing to do).
    """
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, int(threshold)) == 1
