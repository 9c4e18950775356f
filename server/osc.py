"""OSC over UDP and TCP: parsing, dispatch from the address-space table, replies.

* :class:`OscServer` owns the sockets (one UDP socket, one TCP listener), a
  scheduler thread for bundles with future timetags, and a worker thread for
  asynchronous commands (``/render``, ``/library/add``, ``/sync``).
* :meth:`OscServer.feed` takes one raw packet and a :class:`Sender`; it is what the
  socket threads call, and what socket-free tests call directly.
* :class:`Handlers` has one method per address of
  :data:`~morphsynth.server.address_space.TABLE`; each gets already checked values,
  writes into :class:`~morphsynth.server.control.Controls` and returns a reply or None.

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
from pythonosc.osc_message_builder import OscMessageBuilder

from morphsynth.core.errors import MorphsynthError
from morphsynth.server.address_space import TABLE, Address, ArgError, parse_args

log = logging.getLogger("morphsynth.osc")

SLIP_END, SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
MAX_TCP_PACKET = 1 << 20
MAX_UDP_REPLY = 65_507         # the largest payload of one UDP datagram over IPv4
MAX_REASON = 1000              # characters of a /fail reason (it may quote a long argument)
MAX_ADDRESS = 256              # bytes of an address (pattern) that are looked up
MAX_WILDCARDS = 8              # '*' and '?' in one address pattern
MAX_BUNDLE_DEPTH = 32          # bundles nested inside bundles
MAX_BUNDLE_MESSAGES = 64       # messages in one packet, nested bundles included
MAX_SCHEDULED = 4096           # bundles waiting for a future timetag
MAX_SCHEDULED_BYTES = 4 << 20  # and their bytes (4,096 packets of 64 KB would be 256 MB)
MAX_SCHEDULE_AHEAD_S = 3600    # a timetag further ahead is refused, not kept for years
MAX_TCP_CONNECTIONS = 64
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)


def build_message(address: str, *args) -> bytes:
    """One OSC message as bytes; Python ints become ``i``, floats ``f``, str ``s``."""
    builder = OscMessageBuilder(address=address)
    for arg in args:
        if isinstance(arg, bool):
            arg = int(arg)
        builder.add_arg(arg)
    return builder.build().dgram


def slip_encode(packet: bytes) -> bytes:
    body = packet.replace(bytes([SLIP_ESC]), bytes([SLIP_ESC, SLIP_ESC_ESC]))
    body = body.replace(bytes([SLIP_END]), bytes([SLIP_ESC, SLIP_ESC_END]))
    return bytes([SLIP_END]) + body + bytes([SLIP_END])


def slip_decode(frame: bytes) -> bytes:
    out = bytearray()
    it = iter(frame)
    for byte in it:
        if byte == SLIP_ESC:
            nxt = next(it, None)
            if nxt == SLIP_ESC_END:
                out.append(SLIP_END)
            elif nxt == SLIP_ESC_ESC:
                out.append(SLIP_ESC)
            else:
                raise ValueError("bad SLIP escape")
        else:
            out.append(byte)
    return bytes(out)


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

    def __init__(self, server: "OscServer", addr: tuple[str, int]):
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
        frame = slip_encode(packet) if self.slip else struct.pack(">I", len(packet)) + packet
        with self._lock:
            try:
                self.conn.sendall(frame)
            except OSError:
                self.closed = True


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


class JobQueue:
    """One worker thread running asynchronous commands in order."""

    def __init__(self, max_jobs: int = 64):
        self._q: queue.Queue = queue.Queue(maxsize=max_jobs)
        self._thread = threading.Thread(target=self._run, name="osc-jobs", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        try:
            self._q.put_nowait(job)
        except queue.Full:
            raise MorphsynthError(f"the job queue is full ({self._q.maxsize} waiting)") from None

    def __len__(self) -> int:
        return self._q.qsize()

    def _run(self) -> None:
        while True:
            job = self._q.get()
            if job is None:
                return
            try:
                job()
            except Exception:  # a job reports its own errors; this keeps the worker alive
                log.exception("job failed")

    def close(self, timeout: float = 10.0) -> None:
        # Waiting jobs are dropped: a stop must not sit through a queue of renders.
        try:
            while True:
                self._q.get_nowait()
        except queue.Empty:
            pass
        try:
            self._q.put(None, timeout=1.0)
        except queue.Full:
            pass
        self._thread.join(timeout)


class Handlers:
    """One method per address in the table (named by ``Address.handler``)."""

    def __init__(self, controls, jobs: JobQueue, server: "OscServer", info: Callable[[], dict]):
        self.c = controls
        self.jobs = jobs
        self.server = server
        self.info = info

    def note_on(self, s, pitch, velocity, note_id):
        self.c.note_on(pitch, velocity, 0, note_id)

    def note_off(self, s, pitch, note_id):
        self.c.note_off(pitch, 0, note_id)

    def note_bend(self, s, pitch, semitones, note_id):
        self.c.note_bend(pitch, semitones, 0, note_id)

    def bend(self, s, semitones):
        self.c.bend(semitones, 0)

    def sustain(self, s, on):
        self.c.sustain(bool(on), 0)

    def panic(self, s):
        self.c.panic()

    def morph_sources(self, s, names):
        self.c.set_sources(names)

    def morph_weights(self, s, weights):
        self.c.set_weights(weights)

    def morph_xy(self, s, x, y):
        self.c.set_xy(x, y)

    def morph_ramp(self, s, points):
        self.c.set_ramp(points)

    def morph_interp(self, s, mode):
        self.c.set_interp(mode)

    def knob(self, s, index, value):
        self.c.set_knob(index, value)

    def adsr(self, s, attack, decay, sustain, release):
        self.c.set_adsr(attack, decay, sustain, release)

    def gain(self, s, db):
        self.c.set_gain_db(db)

    def render(self, s, path, pitch, velocity, duration):
        def job():
            try:
                self.c.render_to_file(path, pitch, velocity, duration)
            except MorphsynthError as exc:
                s.fail("/render", _one_line(exc))
            except Exception as exc:
                s.fail("/render", f"internal error: {type(exc).__name__}: {_one_line(exc)}")
            else:
                s.send("/done", "/render", path)

        # Check the path now, so a bad one fails at once and not after the queue.
        from morphsynth.server.control import confined_path

        if not path.lower().endswith(".wav"):
            raise MorphsynthError(f"render: '{path}' must end in .wav")
        confined_path(self.c.output_dir, path, "render")
        self.jobs.submit(job)

    def library_list(self, s, text):
        return ("/library/list.reply", *self.c.library_names(text))

    def library_add(self, s, path, name):
        from morphsynth.server.control import confined_path

        confined_path(self.c.input_dir, path, "library/add")

        def job():
            try:
                self.c.add_source(path, name)
            except MorphsynthError as exc:
                s.fail("/library/add", _one_line(exc))
            except Exception as exc:
                s.fail("/library/add", f"internal error: {type(exc).__name__}: {_one_line(exc)}")
            else:
                s.send("/done", "/library/add", name)

        self.jobs.submit(job)

    def status(self, s):
        i = self.info()
        return ("/status.reply", int(i["active_voices"]), int(i["polyphony"]), int(i["hits"]),
                int(i["misses"]), int(i["xruns"]), int(i["queue_length"]) + len(self.jobs),
                int(i["dropped"]) + self.server.dropped + self.server.kernel_dropped, str(i["model"]),
                str(i["device"]),
                float(i["sample_rate"]))

    def notify(self, s, on, port):
        if on:
            target = s if port is None else UdpSender(self.server, (s.host, port))
            self.server.register(s.key, target)
        else:
            self.server.unregister(s.key)
        return ("/done", "/notify")

    def reply_port(self, s, port):
        self.server.reply_ports[s.key] = (s.host, port)
        return ("/done", "/reply/port")

    def sync(self, s, sync_id):
        engine = self.c.engine

        def job():
            # Notes still rendering (cache misses) come first: they end in engine commands.
            self.c.wait_requests(30.0)
            mark = engine.commands_written
            # Engine commands are done once the audio thread has drained them.
            deadline = time.monotonic() + 2.0
            while getattr(engine, "clock_running", False) and engine.commands_done < mark \
                    and time.monotonic() < deadline:
                time.sleep(0.001)
            s.send("/synced", sync_id)

        self.jobs.submit(job)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


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

    # ------------------------------------------------------------------ dispatch

    def _make_handler(self, address: Address):
        method = getattr(self.handlers, address.handler)

        def handle(sender: Sender, path: str, *args):
            try:
                values = parse_args(address, args)
                result = method(sender, *values)
            except (ArgError, MorphsynthError) as exc:
                sender.fail(address.path, _one_line(exc))
                return
            except Exception as exc:
                log.exception("handler %s", address.path)
                sender.fail(address.path, f"internal error: {type(exc).__name__}: {_one_line(exc)}")
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
        bad = _unsupported_tags(message.dgram)
        if bad:
            # python-osc skips unknown type tags with a warning; a shifted argument list is worse.
            self.dropped += 1
            sender.fail(message.address, f"malformed message: unsupported type tag '{bad}'")
            return
        costly = _costly_pattern(message.address)
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
                if _check_bundle(data) > MAX_BUNDLE_MESSAGES:
                    # Each message costs up to ~1 ms: a 64 KB bundle of 3,000 would stall the socket.
                    raise ValueError(f"more than {MAX_BUNDLE_MESSAGES} messages in one bundle")
                self._run_element(OscBundle(data), sender)
            elif OscMessage.dgram_is_message(data):
                self.dispatch_message(OscMessage(data), sender)
            else:
                self.dropped += 1
                sender.fail(_address_of(data), "not an OSC message or bundle")
        except Exception as exc:  # python-osc's parse errors, malformed type tags, bad padding
            self.dropped += 1
            reason = "malformed bundle" if data.startswith(b"#bundle") else "malformed message"
            sender.fail(_address_of(data), f"{reason}: {_one_line(exc)}")

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
        """Send ``address args`` to every registered client."""
        with self._notify_lock:
            targets = list(self._notify.items())
        for key, target in targets:
            if isinstance(target, TcpSender) and target.closed:
                self.unregister(key)
                continue
            target.send(address, *args)

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
                            sender.fail(_address_of(frame), f"malformed SLIP frame: {exc}")
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
        for sock in (self._udp, self._tcp, *list(self._conns)):
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass
        for t in self._threads:
            t.join(2.0)
        self.jobs.close()


def _check_bundle(data: bytes, depth: int = 1) -> int:
    """Raise ValueError unless every element's size fits (python-osc truncates silently).

    Returns the number of messages inside, nested bundles included.
    """
    if depth > MAX_BUNDLE_DEPTH:
        raise ValueError(f"bundles nested deeper than {MAX_BUNDLE_DEPTH}")
    if len(data) < 16:
        raise ValueError("bundle shorter than its header")
    index = 16
    messages = 0
    while index < len(data):
        if index + 4 > len(data):
            raise ValueError("truncated element size")
        size = struct.unpack(">i", data[index:index + 4])[0]
        index += 4
        if size <= 0 or size % 4 or index + size > len(data):
            raise ValueError(f"element of {size} bytes does not fit the bundle")
        element = data[index:index + size]
        if element.startswith(b"#bundle"):
            messages += _check_bundle(element, depth + 1)
        else:
            messages += 1
        index += size
    return messages


KNOWN_TAGS = set("ifsbhdtcrmTFNI[]")


def _unsupported_tags(dgram: bytes) -> str:
    """The type tags python-osc cannot parse, '' if all are known."""
    from pythonosc.parsing import osc_types

    try:
        _, index = osc_types.get_string(dgram, 0)
        tags, _ = osc_types.get_string(dgram, index) if index < len(dgram) else (",", index)
    except osc_types.ParseError:
        return ""
    return "".join(sorted(set(tags[1:]) - KNOWN_TAGS)) if tags.startswith(",") else ""


class _PythonOscWarnings(logging.Filter):
    """Drops python-osc's root-logger warnings, one per odd packet: a flood would flood stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pythonosc" not in record.pathname


def _quiet_python_osc() -> None:
    root = logging.getLogger()
    if not any(isinstance(f, _PythonOscWarnings) for f in root.filters):
        root.addFilter(_PythonOscWarnings())


def _costly_pattern(address: str) -> str:
    """Why ``address`` is too costly to match ('' if it is fine)."""
    if len(address) > MAX_ADDRESS:
        return f"address longer than {MAX_ADDRESS} characters"
    if address.count("*") + address.count("?") > MAX_WILDCARDS:
        return f"address pattern with more than {MAX_WILDCARDS} wildcards"
    return ""


def _address_of(data: bytes) -> str:
    """The address at the start of a (possibly broken) packet, for the /fail reply."""
    if data.startswith(b"#bundle"):
        return "#bundle"
    head = data[:256].split(b"\x00", 1)[0]
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return "?"
    return text if text.startswith("/") and text.isprintable() else "?"
