"""Kill the JACK server under a playing server (device 'jack'), start it again, and report.

argv: <model folder> <library file>

Starts a JACK dummy server of its own (run it with no JACK_* variables set), a SynthServer
on it, then kills and restarts the JACK server; prints one JSON line of what it saw:
playing, device_before, lost_seen, device_while_lost, clock_stopped_while_lost, recovered,
device_after, playing_after, note_after.
"""

import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests/: the helper modules

from audio_graph import JackServer  # noqa: E402

jack = JackServer().start()
os.environ.update(jack.env())
from fuzz_corpus import CountingSender  # noqa: E402
from morphsynth.server.app import SynthServer  # noqa: E402
from morphsynth.server.osc_packets import build_message  # noqa: E402
from morphsynth.server.server_config import ServeConfig  # noqa: E402
from serve_support import wait_for  # noqa: E402
from test_audio_support import neural_renderer  # noqa: E402

cfg = ServeConfig()
cfg.audio.device = "jack"
cfg.midi.port = "none"
cfg.osc.port = 0
cfg.osc.tcp_port = 0
server = SynthServer(cfg, neural_renderer(Path(sys.argv[1]), Path(sys.argv[2])))
server.start()
r = {}


def status():
    s = CountingSender()
    server.osc.feed(build_message("/status"), s)
    return s.replies[0][9]


try:
    r["playing"] = wait_for(lambda: server.engine.blocks > 20, 5)
    r["device_before"] = status()
    jack.proc.send_signal(signal.SIGKILL)
    jack.proc.wait(5)
    jack.proc = None
    r["lost_seen"] = wait_for(lambda: server.output.lost == 1, 5)
    r["device_while_lost"] = status()
    blocks = server.engine.blocks
    time.sleep(0.3)
    r["clock_stopped_while_lost"] = server.engine.blocks == blocks
    jack.start()
    r["recovered"] = wait_for(lambda: server.output.recovered == 1, 10)
    r["device_after"] = status()
    r["playing_after"] = wait_for(lambda: server.engine.blocks > blocks + 20, 5)
    server.osc.feed(build_message("/note/on", 60, 100), CountingSender())
    r["note_after"] = wait_for(lambda: server.engine.active_voices() == 1, 30)
finally:
    server.stop()
    jack.stop()
print(json.dumps(r), flush=True)
