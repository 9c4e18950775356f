"""Take the audio device away from `morphsynth serve --audio system` and give it back.

argv: <model folder> <library file>

Starts a JACK dummy server of its own (run it with no JACK_* variables set) and the server
as a subprocess playing through PortAudio on it; kills the JACK server, starts it again,
kills it once more, then sends SIGTERM. Prints one JSON line: playing, reported, back,
voices_after, lost_again, rc (the server's exit status, or "hung"), said_so.
"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests/: the helper modules

from pythonosc.udp_client import SimpleUDPClient  # noqa: E402

from audio_graph import JackServer  # noqa: E402
from serve_support import env_without_jack, free_port, wait_for  # noqa: E402

jack = JackServer().start()
env = env_without_jack(**jack.env())
port = free_port()
proc = subprocess.Popen([sys.executable, "-m", "morphsynth", "serve", "--audio", "system", "--midi", "none",
                         "--port", str(port), "--tcp-port", "0", "--model", sys.argv[1], "--library", sys.argv[2]],
                        stderr=subprocess.PIPE, text=True, env=env)
c = SimpleUDPClient("127.0.0.1", port)


def status():
    c.send_message("/status", [])
    try:
        msg = next(c.get_messages(0.5))
    except (StopIteration, TimeoutError, OSError):
        return None
    return msg.params if msg.address == "/status.reply" else None


def device():
    s = status()
    return s[8] if s else ""


def voices():
    s = status()
    return s[0] if s else -1


r = {}
try:
    r["playing"] = wait_for(lambda: proc.poll() is None and device().startswith("system"), 90)
    jack.proc.send_signal(signal.SIGKILL)
    jack.proc.wait(5)
    jack.proc = None
    r["reported"] = wait_for(lambda: device().endswith("(lost)"), 10)
    time.sleep(1.5)                                     # a few tries to reopen fail meanwhile
    jack.start()     # the same name frees the killed server's slot in JACK's registry
    r["back"] = wait_for(lambda: device().startswith("system") and not device().endswith("(lost)"), 30)
    c.send_message("/note/on", [60, 100])
    r["voices_after"] = wait_for(lambda: voices() == 1, 30)
    jack.proc.send_signal(signal.SIGKILL)              # lost again, and left so until SIGTERM
    jack.proc.wait(5)
    jack.proc = None
    r["lost_again"] = wait_for(lambda: device().endswith("(lost)"), 10)
finally:
    proc.send_signal(signal.SIGTERM)
    try:
        r["rc"] = proc.wait(30)
    except subprocess.TimeoutExpired:
        r["rc"] = "hung"
        proc.kill()
    jack.start()
    jack.stop()
err = proc.stderr.read()
r["said_so"] = "was lost" in err and "playing again" in err
print(json.dumps(r), flush=True)
