"""The browser control surface: an aiohttp server for the page in ``web_page/`` and its WebSocket.

* :class:`WebSurface` serves ``index.html``, ``app.js`` and ``style.css`` (no other asset, so
  the page works offline) and one WebSocket, ``/ws``, from an event loop on a thread of its
  own; :class:`~morphsynth.server.app.SynthServer` starts and stops it with the OSC servers.
* A page speaks OSC in JSON: ``{"address": "/morph/xy", "args": [0.3, 0.7]}``.
  :func:`json_to_packet` turns that into the OSC message a UDP client would send, and
  :meth:`OscServer.feed <morphsynth.server.osc_server.OscServer.feed>` handles it exactly
  as one (same table, same checks, same handlers, same ``/fail``). Its answers and
  notifications come back as the same JSON through :class:`WebSender`.
* A page that connects is registered for notifications as ``/notify 1`` registers an OSC
  client (the server feeds that message for it), so it gets the whole state at once and
  then every change, whoever made it: OSC, MIDI, a preset or another page.
* Off loopback the OSC allow-list applies: other peers get 403. A WebSocket opened by a page
  of another site (its ``Origin`` differs from ``Host``) or reached under a host name that is
  not an IP address or ``localhost`` (DNS rebinding) is refused too: any web page a user
  has open could otherwise play and save presets through the user's browser.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import json
import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from morphsynth.core.errors import MorphsynthError
from morphsynth.server.osc_packets import build_message
from morphsynth.server.osc_senders import Sender, one_line
from morphsynth.server.server_config import is_loopback

if TYPE_CHECKING:
    from morphsynth.server.osc_server import OscServer

log = logging.getLogger("morphsynth.web")

PAGE_DIR = Path(__file__).with_name("web_page")
PAGE_FILES = {"/": ("index.html", "text/html"), "/app.js": ("app.js", "text/javascript"),
              "/style.css": ("style.css", "text/css")}
MAX_MESSAGE = 65536            # bytes of one JSON message: what one UDP datagram may carry
MAX_WS_FRAME = 1 << 20         # beyond this aiohttp closes the socket; below it, /fail
MAX_CONNECTIONS = 64
MAX_OUTBOX = 2048              # answers waiting for a slow page; beyond, they are counted and dropped
MAX_ARGS = 256


def json_to_packet(text: str) -> bytes:
    """``{"address": "/x", "args": [...]}`` as the OSC message bytes a UDP client would send.

    ``args`` (optional) holds numbers and strings: an integral JSON number becomes ``i``, any
    other ``f``, a string ``s``. Raises :class:`MorphsynthError` whose text is the /fail
    reason and whose ``address`` attribute is the address, when one could be read.
    """
    return _packet(*json_message(text))


def json_message(text: str) -> tuple[str, list]:
    """``(address, args)`` of a page's JSON message, checked as :func:`json_to_packet` says."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_MESSAGE:
        raise _bad(f"message longer than {MAX_MESSAGE} bytes")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _bad(f"not JSON: {one_line(exc)}") from None
    if not isinstance(data, dict):
        raise _bad('expected a JSON object {"address": "/...", "args": [...]}')
    address = data.get("address")
    if not isinstance(address, str) or not address.startswith("/"):
        raise _bad(f"address: expected a string starting with '/', got {json.dumps(address)[:80]}")
    if "\x00" in address:
        raise _bad("address: contains a NUL character", address)
    unknown = sorted(set(data) - {"address", "args"})
    if unknown:
        raise _bad(f"unknown key '{unknown[0]}' (expected address and args)", address)
    args = data.get("args", [])
    if not isinstance(args, list):
        raise _bad("args: expected a list of numbers and strings", address)
    if len(args) > MAX_ARGS:
        raise _bad(f"args: more than {MAX_ARGS}", address)
    for value in args:
        # bool is an int to Python; true in JSON is not a number to OSC.
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _bad(f"args: {json.dumps(value)[:80]} is not a number or a string", address)
        if isinstance(value, str) and "\x00" in value:
            raise _bad("args: a string contains a NUL character", address)
    return address, args


def _packet(address: str, args: list) -> bytes:
    try:
        return build_message(address, *args)
    except Exception as exc:  # python-osc refuses what OSC cannot carry (an int beyond 64 bits)
        raise _bad(f"malformed message: {one_line(exc)}", address) from None


def _bad(reason: str, address: str = "") -> MorphsynthError:
    exc = MorphsynthError(reason)
    exc.address = address
    return exc


def _plain(value):
    """A reply argument as JSON can carry it (numpy scalars, non-finite floats as text)."""
    if isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    item = getattr(value, "item", None)
    return _plain(item()) if item is not None else str(value)


class HeldNotes:
    """The notes one page has struck and not released, from the messages it sent (to release
    them when its socket closes)."""

    MAX = 256

    def __init__(self):
        self._held: set[tuple] = set()

    def track(self, address: str, args: list) -> None:
        # As the table reads them: 60.0 is key 60. Anything else the server refuses anyway.
        numbers = [int(v) for v in args if isinstance(v, (int, float)) and float(v).is_integer()]
        if len(numbers) != len(args):
            return
        if address == "/panic":
            self._held.clear()
        elif address == "/note/on" and len(numbers) >= 2:
            if numbers[1] == 0:   # velocity 0 is a note-off
                self.track("/note/off", [numbers[0], *numbers[2:3]])
            elif len(self._held) < self.MAX:
                self._held.add((numbers[0], *numbers[2:3]))
        elif address == "/note/off" and numbers:
            if len(numbers) >= 2:
                self._held.discard((numbers[0], numbers[1]))
            else:
                self._held = {n for n in self._held if n[0] != numbers[0]}

    def release_all(self) -> list[tuple]:
        """The ``/note/off`` arguments that release every held note; forgets them."""
        held, self._held = sorted(self._held), set()
        return held


class WebSender(Sender):
    """A page's WebSocket; replies and notifications go back on it as JSON.

    :meth:`send` is called from any thread (OSC, jobs, notifications): it only hands the
    text to the event loop, which writes it in order.
    """

    def __init__(self, key: tuple, loop: asyncio.AbstractEventLoop, surface: "WebSurface"):
        self.key = key
        self._loop = loop
        self._surface = surface
        self.outbox: asyncio.Queue = asyncio.Queue(maxsize=MAX_OUTBOX)
        self.notes = HeldNotes()
        self.closed = False

    def send(self, address: str, *args) -> None:
        if self.closed:
            return
        text = json.dumps({"address": address, "args": [_plain(a) for a in args]})
        try:
            self._loop.call_soon_threadsafe(self._put, text)
        except RuntimeError:  # the loop is closed: the server is stopping
            self.closed = True

    def _put(self, text: str) -> None:
        if self.closed:
            return
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            self._surface.dropped += 1


class WebSurface:
    """The page and its WebSocket on ``host:port`` (0: a free port; see :attr:`port`), fed
    into ``osc``. Off loopback only the hosts in ``allow`` are served (required then)."""

    def __init__(self, osc: OscServer, host: str = "127.0.0.1", port: int = 57131, allow=()):
        if not is_loopback(host) and not allow:
            raise MorphsynthError(f"web host {host} is not a loopback address: give --allow-remote "
                                  "with the client addresses that may connect")
        self.osc = osc
        self.host = host
        self.allow = None if is_loopback(host) else frozenset(allow)
        self._port_wanted = port
        self._port = 0
        self.refused = 0
        self.dropped = 0
        self._ids = itertools.count(1)
        self._sockets: set = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        # One thread feeds every page's messages in arrival order, as the UDP socket thread does.
        self._feeder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="web-osc")

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "WebSurface":
        """Bind the port (MorphsynthError naming it if taken) and serve."""
        self._thread = threading.Thread(target=self._run, name="web", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join(5.0)
            self._feeder.shutdown(wait=False)
            raise self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._open())
        except BaseException as exc:
            self._error = exc if isinstance(exc, MorphsynthError) else MorphsynthError(
                "web: aiohttp is not installed (run scripts/setup.sh again, or give --no-web)"
                if isinstance(exc, ImportError) else f"web: cannot start ({type(exc).__name__}: {one_line(exc)})")
            loop.run_until_complete(self._close())
            loop.close()
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._close())
            loop.close()

    async def _open(self) -> None:
        from aiohttp import web

        @web.middleware
        async def guard(request, handler):
            return await self._guard(request, handler)

        app = web.Application(middlewares=[guard], client_max_size=MAX_MESSAGE)
        for path in PAGE_FILES:
            app.router.add_get(path, self._page)
        app.router.add_get("/ws", self._socket)
        app.on_shutdown.append(self._close_sockets)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port_wanted)
        try:
            await site.start()
        except OSError as exc:
            raise MorphsynthError(f"web port {self.host}:{self._port_wanted}: {exc.strerror or exc} "
                                  "(give --web-port, or --no-web)") from None
        self._port = self._runner.addresses[0][1]

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        """Close every page's socket and the port. Safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            try:
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:
                pass
            thread.join(10.0)
        self._feeder.shutdown(wait=False)

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def connections(self) -> int:
        return len(self._sockets)

    def allowed(self, host: str | None) -> bool:
        """Whether ``host`` may connect: any on a loopback bind, else the allow-list."""
        return self.allow is None or host in self.allow

    # ------------------------------------------------------------------ requests

    def _refusal(self, request) -> str | None:
        """Why ``request`` is refused, or None."""
        if not self.allowed(request.remote):
            return f"{request.remote} is not on the allow-list (--allow-remote)"
        name = request.url.raw_host or ""
        if not _ip_or_localhost(name) and name.lower() != self.host.lower():
            # A name could be a rebinding attacker's, pointed at this machine: use the address.
            return f"open the page by the server's address (http://{self.host}:{self.port}/), not '{name}'"
        return None

    async def _guard(self, request, handler):
        from aiohttp import web

        reason = self._refusal(request)
        if reason is not None:
            self.refused += 1
            return web.Response(status=403, text=f"morphsynth: {reason}\n")
        return await handler(request)

    async def _page(self, request):
        from aiohttp import web

        name, kind = PAGE_FILES[request.path]
        return web.FileResponse(PAGE_DIR / name, headers={"Content-Type": f"{kind}; charset=utf-8",
                                                          "Cache-Control": "no-cache"})

    async def _socket(self, request):
        from aiohttp import WSMsgType, web

        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
            self.refused += 1
            return web.Response(status=403, text="morphsynth: a page of another site may not connect\n")
        if len(self._sockets) >= MAX_CONNECTIONS:
            self.refused += 1
            return web.Response(status=503, text=f"morphsynth: {MAX_CONNECTIONS} pages are connected\n")
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_WS_FRAME)
        await ws.prepare(request)
        loop = asyncio.get_running_loop()
        sender = WebSender((request.remote or "?", "web", next(self._ids)), loop, self)
        self._sockets.add(ws)
        writer = asyncio.create_task(self._write(ws, sender))
        try:
            # Registered as /notify 1 registers an OSC client: the state now, then every change.
            await self._feed(loop, build_message("/notify", 1), sender)
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    try:
                        address, args = json_message(msg.data)
                        packet = _packet(address, args)
                    except MorphsynthError as exc:
                        sender.fail(getattr(exc, "address", ""), str(exc))
                        continue
                    sender.notes.track(address, args)
                    await self._feed(loop, packet, sender)
                elif msg.type == WSMsgType.BINARY:
                    sender.fail("", 'send text: {"address": "/...", "args": [...]}')
                else:
                    break
        finally:
            # A phone that locks its screen mid-note must not leave the note sounding.
            for args in sender.notes.release_all():
                await self._feed(loop, build_message("/note/off", *args), sender)
            self.osc.unregister(sender.key)
            self.osc.reply_ports.pop(sender.key, None)
            sender.closed = True
            writer.cancel()
            self._sockets.discard(ws)
        return ws

    async def _feed(self, loop, packet: bytes, sender: WebSender) -> None:
        try:
            await loop.run_in_executor(self._feeder, self.osc.feed, packet, sender)
        except RuntimeError:  # the feeder is shut down: the server is stopping
            pass

    async def _write(self, ws, sender: WebSender) -> None:
        try:
            while True:
                await ws.send_str(await sender.outbox.get())
        except (ConnectionError, RuntimeError):
            pass  # the page went away; its socket's handler ends

    async def _close_sockets(self, app) -> None:
        from aiohttp import WSCloseCode

        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")


def _ip_or_localhost(name: str) -> bool:
    if name.lower() == "localhost":
        return True
    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        return False
