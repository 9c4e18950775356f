"""Print whether a 1 MiB malloc is served by mmap after an 8 MiB block was freed.

    python mmap_threshold.py pin|default

With glibc's default the free raises the mmap threshold to 8 MiB, so the 1 MiB block comes
from the heap (prints 0); with the threshold pinned (``core.malloc``) it is mmapped (prints 1).
"""

import ctypes
import ctypes.util
import sys

from morphsynth.core.malloc import pin_mmap_threshold

if sys.argv[1] == "pin":
    assert pin_mmap_threshold()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                       "fsmblks", "uordblks", "fordblks", "keepcost")]


libc.mallinfo2.restype = MallInfo2
libc.free(libc.malloc(8 << 20))
before = libc.mallinfo2().hblks
block = libc.malloc(1 << 20)
print(libc.mallinfo2().hblks - before)
libc.free(block)
