"""The OSC socket server: UDP and TCP sockets, the dispatcher, scheduled bundles, notifications.

* :class:`OscServer` owns the sockets (one UDP socket, one TCP listener), a
  scheduler thread for bundles with future timetags, and the
  :class:`~morphsynth.server.osc_handlers.JobQueue` worker for asynchronous commands.
* Notifications to the clients registered with ``/notify 1`` leave from a thread of their
  own (:meth:`OscServer.notify` only queues them), so a slow client never holds up the OSC,
  MIDI or render thread whose state change they echo.
* :meth:`OscServer.feed` takes one raw packet and a
  :class:`~morphsynth.server.osc_senders.Sender`; it is what the socket threads call,
  and what socket-free tests call directly.
* Its python-osc dispatcher maps every address of
  :data:`~morphsynth.server.address_space.TABLE` to its method on
  :class:`~morphsynth.server.osc_handlers.Handlers`, after :func:`parse_args
  <morphsynth.server.address_space.parse_args>` checks the arguments against the table.

Every packet that cannot be used gets exactly one ``/fail address reason`` to its
sender; no packet can stop the server.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import socket
import struct
import threading
import time
from typing import Callable

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage

from morphsynth.core.errors import MorphsynthError
from morphsynth.server.address_space import TABLE, Address, ArgError, parse_args
from morphsynth.server.osc_handlers import Handlers, JobQueue
from morphsynth.server.osc_packets import (MAX_ADDRESS, MAX_BUNDLE_MESSAGES, MAX_TCP_PACKET, SLIP_END,
                                           address_of, check_bundle, costly_pattern, slip_decode,
                                           unsupported_tags)
from morphsynth.server.osc_senders import ReplyTooLarge, Sender, TcpSender, UdpSender, one_line

log = logging.getLogger("morphsynth.osc")

MAX_SCHEDULED = 4096           # bundles waiting for a future timetag
MAX_SCHEDULED_BYTES = 4 << 20  # and their bytes (4,096 packets of 64 KB would be 256 MB)
MAX_SCHEDULE_AHEAD_S = 3600    # a timetag further ahead is refused, not kept for years
MAX_TCP_CONNECTIONS = 64
MAX_NOTIFY_QUEUE = 4096        # notifications waiting to be sent; beyond, they are counted and dropped
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)


class OscServer:
    """UDP and TCP OSC servers over one dispatcher built from the address-space table.

    ``port`` / ``tcp_port`` 0 picks a free port (see :attr:`udp_port`, :attr:`tcp_port`);
    ``tcp_port=None`` runs no TCP server.
    """

    def __init__(self, controls, info: Callable[[], dict], host: str = "127.0.0.1",
                 port: int = 57130, tcp_port: int | None = 57130, max_datagram: int = 65536,
                 allow=()):
        from morphsynth.server.server_config import is_loopback

        if not is_loopback(host) and not allow:
            raise MorphsynthError(f"OSC host {host} is not a loopback address: give --allow-remote "
                                  "with the client addresses that may send")
        self.host = host
        # Off loopback only listed clients are heard (127.0.0.1 too must be listed); no reply to others.
        self.allow = None if is_loopback(host) else frozenset(allow)
        self.refused = 0
        self.kernel_dropped = 0       # datagrams lost on a full socket buffer (Linux only)
        self._count_kernel_drops = False
        self._port = port
        self._tcp_port_wanted = tcp_port
        self.max_datagram = max_datagram
        self.dropped = 0
        self.reply_ports: dict[tuple, tuple[str, int]] = {}
        self._notify: dict[tuple, Sender] = {}
        self._notify_lock = threading.Lock()
        self._outbox: queue.Queue = queue.Queue(maxsize=MAX_NOTIFY_QUEUE)
        self.notify_dropped = 0
        self.jobs = JobQueue()
        self.handlers = Handlers(controls, self.jobs, self, info)
        self.dispatcher = Dispatcher(strict_timing=False)
        _quiet_python_osc()
        for address in TABLE:
            self.dispatcher.map(address.path, self._make_handler(address), needs_reply_address=True)
        self.dispatcher.set_default_handler(self._unknown, needs_reply_address=True)
        self._heap: list = []
        self._scheduled_bytes = 0
        self._seq = itertools.count()
        self._sched_cv = threading.Condition()
        self._running = True
        self._threads: list[threading.Thread] = []
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._start_thread(self._schedule_loop, "osc-scheduler")
        self._start_thread(self._notify_loop, "osc-notify")

    # ------------------------------------------------------------------ dispatch

    def _make_handler(self, address: Address):
        method = getattr(self.handlers, address.handler)

        def handle(sender: Sender, path: str, *args):
            try:
                values = parse_args(address, args)
                result = method(sender, *values)
            except (ArgError, MorphsynthError) as exc:
                sender.fail(address.path, one_line(exc))
                return
            except Exception as exc:
                log.exception("handler %s", address.path)
                sender.fail(address.path, f"internal error: {type(exc).__name__}: {one_line(exc)}")
                return
            if result is not None:
                try:
                    sender.send(*result)
                except ReplyTooLarge as exc:
                    sender.fail(address.path, str(exc))

        handle.address = address
        return handle

    def _unknown(self, sender: Sender, path: str, *args):
        sender.fail(path, "unknown address")

    def dispatch_message(self, message: OscMessage, sender: Sender) -> None:
        bad = unsupported_tags(message.dgram)
        if bad:
            # python-osc skips unknown type tags with a warning; a shifted argument list is worse.
            self.dropped += 1
            sender.fail(message.address, f"malformed message: unsupported type tag '{bad}'")
            return
        costly = costly_pattern(message.address)
        if costly:
            # python-osc turns each '*' into a backtracking regex: 80 of them take seconds.
            self.dropped += 1
            sender.fail(message.address[:MAX_ADDRESS], costly)
            return
        handlers = list(self.dispatcher.handlers_for_address(message.address))
        if not handlers:
            sender.fail(message.address, "unknown address")
            return
        for handler in handlers:
            handler.invoke(sender, message)

    def feed(self, data: bytes, sender: Sender) -> None:
        """Handle one raw OSC packet (message or bundle) from ``sender``."""
        try:
            if OscBundle.dgram_is_bundle(data):
                if check_bundle(data) > MAX_BUNDLE_MESSAGES:
                    # Each message costs up to ~1 ms: a 64 KB bundle of 3,000 would stall the socket.
                    raise ValueError(f"more than {MAX_BUNDLE_MESSAGES} messages in one bundle")
                self._run_element(OscBundle(data), sender)
            elif OscMessage.dgram_is_message(data):
                self.dispatch_message(OscMessage(data), sender)
            else:
                self.dropped += 1
                sender.fail(address_of(data), "not an OSC message or bundle")
        except Exception as exc:  # python-osc's parse errors, malformed type tags, bad padding
            self.dropped += 1
            reason = "malformed bundle" if data.startswith(b"#bundle") else "malformed message"
            sender.fail(address_of(data), f"{reason}: {one_line(exc)}")

    def _run_element(self, element, sender: Sender) -> None:
        if isinstance(element, OscMessage):
            self.dispatch_message(element, sender)
            return
        when = element.timestamp
        if when and when > time.time() + 0.0005:
            if when > time.time() + MAX_SCHEDULE_AHEAD_S:
                self.dropped += 1
                sender.fail("#bundle", f"timetag more than {MAX_SCHEDULE_AHEAD_S} s ahead")
                return
            size = len(element.dgram)
            with self._sched_cv:
                if len(self._heap) >= MAX_SCHEDULED or self._scheduled_bytes + size > MAX_SCHEDULED_BYTES:
                    self.dropped += 1
                    sender.fail("#bundle", f"{len(self._heap)} bundles ({self._scheduled_bytes} bytes) "
                                           "already wait for their time")
                    return
                self._scheduled_bytes += size
                heapq.heappush(self._heap, (when, next(self._seq), element, sender))
                self._sched_cv.notify()
            return
        for item in element:
            self._run_element(item, sender)

    def _schedule_loop(self) -> None:
        while True:
            with self._sched_cv:
                while self._running and (not self._heap or self._heap[0][0] > time.time()):
                    timeout = self._heap[0][0] - time.time() if self._heap else None
                    self._sched_cv.wait(timeout)
                if not self._running:
                    return
                _, _, bundle, sender = heapq.heappop(self._heap)
                self._scheduled_bytes -= len(bundle.dgram)
            try:
                for item in bundle:
                    self._run_element(item, sender)
            except Exception:
                log.exception("scheduled bundle")

    @property
    def scheduled(self) -> int:
        return len(self._heap)

    # ------------------------------------------------------------------ notifications

    def register(self, key: tuple, target: Sender) -> None:
        with self._notify_lock:
            self._notify[key] = target

    def unregister(self, key: tuple) -> None:
        with self._notify_lock:
            self._notify.pop(key, None)

    def notify(self, address: str, *args) -> None:
        """Queue ``address args`` for every client registered now (one that registers later gets
        the state it registers in, not changes made before)."""
        with self._notify_lock:
            targets = list(self._notify.items())
        if targets:
            self._post((targets, address, args))

    def notify_one(self, key: tuple, address: str, *args) -> None:
        """Queue ``address args`` for the client registered as ``key`` only (behind what is queued)."""
        with self._notify_lock:
            target = self._notify.get(key)
        if target is not None:
            self._post(([(key, target)], address, args))

    def _post(self, item) -> None:
        try:
            self._outbox.put_nowait(item)
        except queue.Full:
            self.notify_dropped += 1

    def _notify_loop(self) -> None:
        while True:
            try:
                item = self._outbox.get(timeout=0.2)
            except queue.Empty:
                if not self._running:
                    return
                continue
            if item is None:
                return
            targets, address, args = item
            for key, target in targets:
                if isinstance(target, TcpSender) and target.closed:
                    self.unregister(key)
                    continue
                try:
                    target.send(address, *args)
                except Exception:  # one client's failure must not stop the others' notifications
                    log.exception("notification %s", address)

    # ------------------------------------------------------------------ sockets

    def _start_thread(self, fn, name: str, *args) -> None:
        t = threading.Thread(target=fn, args=args, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def start(self) -> "OscServer":
        """Bind the sockets (MorphsynthError naming the port if taken) and serve."""
        try:
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            udp.bind((self.host, self._port))
        except OSError as exc:
            raise MorphsynthError(f"OSC UDP port {self.host}:{self._port}: {exc.strerror or exc}") from None
        udp.settimeout(0.2)
        try:
            # The kernel then reports datagrams it dropped on a full receive buffer (Linux).
            udp.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
            self._count_kernel_drops = hasattr(udp, "recvmsg")
        except OSError:
            self._count_kernel_drops = False
        self._udp = udp
        self._start_thread(self._udp_loop, "osc-udp")
        if self._tcp_port_wanted is not None:
            try:
                tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((self.host, self._tcp_port_wanted))
                tcp.listen(16)
            except OSError as exc:
                udp.close()
                raise MorphsynthError(
                    f"OSC TCP port {self.host}:{self._tcp_port_wanted}: {exc.strerror or exc}") from None
            tcp.settimeout(0.2)
            self._tcp = tcp
            self._start_thread(self._tcp_accept_loop, "osc-tcp")
        return self

    def allowed(self, host: str) -> bool:
        """Whether packets from ``host`` are served: all on a loopback bind, else the allow-list."""
        return self.allow is None or host in self.allow

    @property
    def udp_port(self) -> int:
        return self._udp.getsockname()[1] if self._udp else 0

    @property
    def tcp_port(self) -> int:
        return self._tcp.getsockname()[1] if self._tcp else 0

    def send_udp(self, target: tuple[str, int], packet: bytes) -> None:
        if self._udp is None:
            return
        try:
            self._udp.sendto(packet, target)
        except OSError:
            pass  # an unreachable client must not take the server down

    def _udp_loop(self) -> None:
        sock = self._udp
        while self._running:
            try:
                if self._count_kernel_drops:
                    data, ancillary, _, addr = sock.recvmsg(self.max_datagram, 64)
                    for level, kind, value in ancillary:
                        if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(value) >= 4:
                            self.kernel_dropped = struct.unpack("=I", value[:4])[0]
                else:
                    data, addr = sock.recvfrom(self.max_datagram)
            except socket.timeout:
                continue
            except OSError:
                if not self._running:
                    return
                continue
            if not self.allowed(addr[0]):
                self.refused += 1
                continue
            self.feed(data, UdpSender(self, addr))

    def _tcp_accept_loop(self) -> None:
        while self._running:
            try:
                conn, addr = self._tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if len(self._conns) >= MAX_TCP_CONNECTIONS or not self.allowed(addr[0]):
                self.refused += 1
                conn.close()
                continue
            conn.settimeout(0.5)
            self._conns.add(conn)
            self._start_thread(self._tcp_conn, "osc-tcp-conn", conn, addr)

    def _tcp_conn(self, conn: socket.socket, addr) -> None:
        sender = TcpSender(conn, addr)
        buf = bytearray()
        framing = None
        try:
            while self._running:
                try:
                    chunk = conn.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    return
                buf += chunk
                if framing is None:
                    # OSC 1.0 starts with a 4-byte length (first byte 0 below 16 MB); SLIP does not.
                    framing = "length" if buf[0] == 0 else "slip"
                    sender.slip = framing == "slip"
                if framing == "length":
                    while len(buf) >= 4:
                        size = struct.unpack(">I", bytes(buf[:4]))[0]
                        if size > MAX_TCP_PACKET:
                            self.dropped += 1
                            sender.fail("", f"TCP packet of {size} bytes is too large")
                            return
                        if len(buf) < 4 + size:
                            break
                        packet = bytes(buf[4:4 + size])
                        del buf[:4 + size]
                        if size:
                            self.feed(packet, sender)
                else:
                    while True:
                        end = buf.find(bytes([SLIP_END]))
                        if end < 0:
                            if len(buf) > MAX_TCP_PACKET:
                                self.dropped += 1
                                sender.fail("", "SLIP frame too large")
                                return
                            break
                        frame = bytes(buf[:end])
                        del buf[:end + 1]
                        if not frame:
                            continue
                        try:
                            packet = slip_decode(frame)
                        except ValueError as exc:
                            self.dropped += 1
                            sender.fail(address_of(frame), f"malformed SLIP frame: {exc}")
                            continue
                        self.feed(packet, sender)
        except OSError:
            return
        finally:
            sender.closed = True
            self._conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def stop(self) -> None:
        """Close the sockets and stop the threads (the job queue finishes its current job)."""
        self._running = False
        with self._sched_cv:
            self._sched_cv.notify_all()
        self._post(None)
        for sock in (self._udp, self._tcp, *list(self._conns)):
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass
        for t in self._threads:
            t.join(2.0)
        self.jobs.close()


class _PythonOscWarnings(logging.Filter):
    """Drops python-osc's root-logger warnings, one per odd packet: a flood would flood stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pythonosc" not in record.pathname


def _quiet_python_osc() -> None:
    root = logging.getLogger()
    if not any(isinstance(f, _PythonOscWarnings) for f in root.filters):
        root.addFilter(_PythonOscWarnings())
