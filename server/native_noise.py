"""What the C audio and MIDI libraries print while they look for a device that is not there.

libjack prints five lines each time a client finds no JACK server (and the server's
audio output tries again every second while JACK is down); alsa-lib prints one when a
machine has no ALSA sequencer. morphsynth already says what failed and how to go on in
one line, so these lines are noise: JACK's go to the log at debug level, and the few
known lines rtmidi's own copies of those libraries print are held back from stderr.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
from contextlib import contextmanager

log = logging.getLogger("morphsynth.jack")

# Lines of alsa-lib and libjack that only say "no device here".
NOISE = re.compile(r"^(ALSA lib .*|Cannot connect to server .*|jack server is not running.*"
                   r"|JackShmReadWritePtr::.*)$")

_jack = None


def jack_module():
    """The ``jack`` module (python-jack), its error and info messages sent to the log."""
    global _jack
    if _jack is None:
        import jack

        jack.set_error_function(lambda message: log.debug("%s", message))
        jack.set_info_function(lambda message: log.debug("%s", message))
        _jack = jack
    return _jack


@contextmanager
def quiet_device_probe():
    """Hold back what is written to file descriptor 2 inside the block, then pass on
    every line but the known "no device" noise (so nothing else written meanwhile is lost).

    Only for start-up probes: other threads' stderr is delayed until the block ends.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):   # no file descriptor 2 (a detached process)
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not NOISE.match(line.rstrip("\n")))
            if kept:
                os.write(2, kept.encode())
