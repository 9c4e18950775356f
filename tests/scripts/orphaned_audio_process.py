"""A server (null audio in a process of its own, FluidSynth notes) that waits to be killed.

Prints ``audio-pid <pid of its audio process>`` once started, then sleeps for a minute:
the test kills this process and checks that the audio process ends with it.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests/: the helper modules

from morphsynth.server.app import SynthServer  # noqa: E402
from morphsynth.server.server_config import ServeConfig  # noqa: E402
from test_audio_support import SoundFontNotes  # noqa: E402

cfg = ServeConfig()
cfg.audio.device = "null"
cfg.midi.port = "none"
cfg.osc.port = 0
cfg.osc.tcp_port = 0
server = SynthServer(cfg, SoundFontNotes()).start()
print("audio-pid", server.output.pid, flush=True)
time.sleep(60)
