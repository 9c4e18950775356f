"""A private JACK dummy server for tests, and a capture client (:func:`capture_playback`:
one connected to what the server plays).

The dummy driver paces audio in real time without a sound card, so timing and
xrun figures mean something. Every client started by a test reads
``JACK_DEFAULT_SERVER`` and ``JACK_NO_START_SERVER`` from the environment.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid

import numpy as np


class JackServer:
    """``jackd -n NAME -d dummy`` started and stopped by the test session."""

    def __init__(self, rate: int = 48000, period: int = 256):
        self.name = f"ms{uuid.uuid4().hex[:8]}"
        self.rate = rate
        self.period = period
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("jackd") is not None

    def env(self) -> dict[str, str]:
        return {"JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1"}

    def start(self, timeout: float = 10.0) -> "JackServer":
        import jack

        self.proc = subprocess.Popen(
            ["jackd", "-n", self.name, "-d", "dummy", "-r", str(self.rate), "-p", str(self.period)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                probe = jack.Client("probe", servername=self.name, no_start_server=True)
                probe.close()
                return self
            except jack.JackOpenError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"jackd -n {self.name} did not start")
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        # A server killed by a test leaves its clients' semaphores and segments in /dev/shm.
        for leftover in glob.glob(f"/dev/shm/jack*_{self.name}_*"):
            with contextlib.suppress(OSError):
                os.unlink(leftover)

    def __enter__(self) -> "JackServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Capture:
    """A JACK client with one input port that records everything it receives."""

    def __init__(self, server: JackServer, name: str = "capture"):
        import jack

        self.client = jack.Client(name, servername=server.name, no_start_server=True)
        self.port = self.client.inports.register("in")
        self.blocks: list[np.ndarray] = []
        self.xruns = 0
        self._lock = threading.Lock()

        @self.client.set_process_callback
        def process(frames):
            self.blocks.append(self.port.get_array().copy())

        @self.client.set_xrun_callback
        def xrun(delay):
            self.xruns += 1

    def start(self) -> "Capture":
        self.client.activate()
        return self

    def connect_from(self, source_port: str) -> None:
        self.client.connect(source_port, self.port)

    def clear(self) -> None:
        self.blocks.clear()

    def audio(self) -> np.ndarray:
        return np.concatenate(self.blocks) if self.blocks else np.zeros(0, np.float32)

    @property
    def samplerate(self) -> int:
        return self.client.samplerate

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def capture_playback(server: JackServer, name: str = "capture") -> Capture:
    """A started :class:`Capture` connected to what a started SynthServer plays through
    PortAudio (see :func:`portaudio_output_port`); the caller closes it."""
    capture = Capture(server, name=name).start()
    try:
        capture.connect_from(portaudio_output_port(capture.client))
    except BaseException:
        capture.close()
        raise
    return capture


def portaudio_output_port(client, timeout: float = 5.0) -> str:
    """The first output port of the server's PortAudio stream, waiting until it exists.

    The server plays from its audio process, whose PortAudio JACK client is ``PortAudio``
    or, when the test process has one of its own, ``PortAudio-01`` and so on; PortAudio
    numbers each stream's ports on (``out_0``, then ``out_2``...).
    """
    import re

    pattern = re.compile(r"^PortAudio(-\d+)?:out_(\d+)$")
    deadline = time.monotonic() + timeout
    while True:
        ports = [p.name for p in client.get_ports(is_output=True, is_audio=True) if pattern.match(p.name)]
        if ports:
            return min(ports, key=lambda n: int(pattern.match(n).group(2)))
        if time.monotonic() > deadline:
            raise AssertionError(f"no PortAudio output port among {[p.name for p in client.get_ports()]}")
        time.sleep(0.05)
