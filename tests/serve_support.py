"""Plain helpers for tests that run a server (in this process or as `morphsynth serve`).

* :func:`free_port`: a loopback UDP (or TCP) port nobody listens on.
* :func:`wait_for`: poll a condition until it holds or a timeout passes.
* :func:`env_without_jack`: this environment minus the session's JACK_* variables.
* :func:`one_line_error`: the one stderr line of a process that failed cleanly.
* :func:`wait_for_status_reply`: send /status until a server subprocess answers.
* :func:`pump`: run an engine block by block until a condition holds.
* :func:`null_serve_config`: a server config for tests: null clock, no MIDI port, its folders in a temp folder.

Functions, not fixtures: the programs under ``tests/scripts/`` use them too.
"""

from __future__ import annotations

import os
import socket
import time

import numpy as np


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A loopback port free at the time of asking (``socket.SOCK_STREAM``: a TCP one)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float = 10.0) -> bool:
    """True once ``condition()`` is true, polled every 10 ms; False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def env_without_jack(**extra: str) -> dict[str, str]:
    """``os.environ`` without the JACK_* variables (which name the session's dummy server), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACK_")}
    env.update(extra)
    return env


def one_line_error(proc) -> str:
    """The only non-blank stderr line of a finished process that failed without a traceback."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode not in (0, None), proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def wait_for_status_reply(client, proc, timeout: float = 90.0) -> None:
    """Send /status from ``client`` (a python-osc ``SimpleUDPClient``) until a /status.reply
    comes back; fails if ``proc`` (the server's ``Popen``, stderr piped as text) ends first
    or nothing answers within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, proc.stderr.read()
        client.send_message("/status", [])
        try:
            if next(client.get_messages(0.5)).address == "/status.reply":
                return
        except (StopIteration, TimeoutError, OSError):
            pass
        assert time.monotonic() < deadline, "server did not answer /status"


def pump(engine, until, timeout: float = 30.0, block: int = 256, pause: float = 0.002) -> bool:
    """Run ``engine`` block by block (as the audio thread would) until ``until()``; False
    after ``timeout`` seconds."""
    out = np.zeros(block, np.float32)
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            return False
        engine.process(out)
        time.sleep(pause)
    return True


def null_serve_config(tmp_path, midi_port: str = "none"):
    """A :class:`~morphsynth.server.server_config.ServeConfig` for a server under test: the
    null clock, MIDI port ``midi_port`` (``none``: no port), OSC UDP and TCP on free ports (the
    control page on a free one too), and its render, input and presets folders under
    ``tmp_path`` (``in`` is made), so no test writes beside the user's own presets or renders."""
    from pathlib import Path

    from morphsynth.server.server_config import ServeConfig

    tmp_path = Path(tmp_path)
    cfg = ServeConfig()
    cfg.audio.device = "null"
    cfg.midi.port = midi_port
    cfg.osc.port = 0
    cfg.osc.tcp_port = 0
    cfg.paths.output_dir = str(tmp_path / "out")
    cfg.paths.input_dir = str(tmp_path / "in")
    cfg.paths.presets_dir = str(tmp_path / "presets")
    (tmp_path / "in").mkdir(parents=True, exist_ok=True)
    return cfg
