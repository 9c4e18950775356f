"""Long loops over notes keep few-MB blocks in mmap: glibc's threshold is pinned (core.malloc)."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "scripts" / "mmap_threshold.py"


def mmapped(mode: str) -> int:
    out = subprocess.run([sys.executable, str(SCRIPT), mode], capture_output=True, text=True, timeout=60, check=True)
    return int(out.stdout.strip())


def test_a_pinned_threshold_keeps_mmap_for_blocks_that_glibcs_default_puts_on_the_heap():
    assert mmapped("default") == 0      # the dynamic threshold that fragmented library builds
    assert mmapped("pin") == 1
