"""Test doubles for the OSC server: senders that keep replies instead of sending them.

:class:`CollectingSender` goes into :meth:`OscServer.feed
<morphsynth.server.osc_server.OscServer.feed>` in socket-free tests, and lets a test
wait for a reply that a job on the worker thread sends later.
"""

from __future__ import annotations

import threading
import time

from morphsynth.server.osc_senders import Sender


class CollectingSender(Sender):
    """Keeps replies in a list (socket-free use and tests)."""

    def __init__(self, key=("local", 0)):
        self.key = key
        self.replies: list[tuple] = []
        self._lock = threading.Lock()
        self.event = threading.Condition(self._lock)

    def send(self, address: str, *args) -> None:
        with self._lock:
            self.replies.append((address, *args))
            self.event.notify_all()

    def wait_for(self, address: str, timeout: float = 5.0) -> tuple | None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for reply in self.replies:
                    if reply[0] == address:
                        return reply
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.event.wait(left)
