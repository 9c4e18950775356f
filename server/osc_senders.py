"""Where an OSC packet came from, and how the server answers it.

A :class:`Sender` goes with every packet into :meth:`OscServer.feed
<morphsynth.server.osc_server.OscServer.feed>` and carries its replies back:
:class:`UdpSender` from the server's UDP socket, :class:`TcpSender` on the connection
in the framing that connection uses. :meth:`Sender.fail` is the one way a ``/fail``
leaves, with the reason bounded; :func:`one_line` turns an exception into that reason.
"""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING

from morphsynth.core.errors import MorphsynthError
from morphsynth.server.osc_packets import build_message, length_frame, slip_encode

if TYPE_CHECKING:
    from morphsynth.server.osc_server import OscServer

MAX_UDP_REPLY = 65_507         # the largest payload of one UDP datagram over IPv4
MAX_REASON = 1000              # characters of a /fail reason (it may quote a long argument)


class Sender:
    """Where a packet came from, and how to answer it."""

    key: tuple = ("local", 0)

    def send(self, address: str, *args) -> None:
        raise NotImplementedError

    def fail(self, address: str, reason: str) -> None:
        if len(reason) > MAX_REASON:
            reason = reason[:MAX_REASON - 3] + "..."
        self.send("/fail", address, reason)

    @property
    def host(self) -> str:
        return str(self.key[0])


class ReplyTooLarge(MorphsynthError):
    """A reply that one UDP datagram cannot carry; the text is the /fail reason."""


class UdpSender(Sender):
    """A UDP peer; replies leave from the server's socket, to the port it registered if any."""

    def __init__(self, server: OscServer, addr: tuple[str, int]):
        self.server = server
        self.key = addr

    def send(self, address: str, *args) -> None:
        packet = build_message(address, *args)
        if len(packet) > MAX_UDP_REPLY:
            # sendto would fail with EMSGSIZE and the client would hear nothing.
            raise ReplyTooLarge(f"the reply {address} is {len(packet):,} bytes, more than one UDP datagram "
                                f"carries ({MAX_UDP_REPLY:,}): ask for less, or over TCP")
        target = self.server.reply_ports.get(self.key, self.key)
        self.server.send_udp(target, packet)


class TcpSender(Sender):
    """A TCP connection; replies go back on it in the framing it uses."""

    def __init__(self, conn: socket.socket, addr: tuple[str, int]):
        self.conn = conn
        self.key = addr
        self.slip = False
        self._lock = threading.Lock()
        self.closed = False

    def send(self, address: str, *args) -> None:
        packet = build_message(address, *args)
        frame = slip_encode(packet) if self.slip else length_frame(packet)
        with self._lock:
            try:
                self.conn.sendall(frame)
            except OSError:
                self.closed = True


def one_line(exc: BaseException) -> str:
    """``exc`` as a /fail reason: its text on one line, or its type's name if it has none."""
    return " ".join(str(exc).split()) or type(exc).__name__
