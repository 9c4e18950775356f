"""Fuzz inputs for the server's OSC and MIDI paths, and the harness that runs them.

* :func:`crafted_osc_corpus`: named packets that broke other OSC servers or test a
  bound: truncated packets, wrong or missing type tags, non-UTF-8 addresses and
  strings, oversized bundle element sizes, 1,000-deep nested bundles, 64 KB packets,
  NaN/inf/denormal floats, huge blobs, costly address patterns.
* :func:`mutate` / :func:`osc_inputs`: a seeded mutation fuzzer over that corpus
  (bit flips, interesting int32s, type-tag swaps, splices, truncation).
* :func:`midi_inputs`: random MIDI byte streams with running status, sysex, realtime
  bytes interleaved and stray data bytes.
* :class:`OscFuzzTarget` / :class:`MidiFuzzTarget`: feed one input through the real
  dispatch path (``OscServer.feed`` / ``mido.Parser`` -> ``MidiMapper.handle``) and count
  replies, internal errors (anything logged at ERROR by the server, or raised out of
  it), and inputs slower than the hang limit.
* :func:`build_fuzz_server`: a real, unstarted :class:`SynthServer` (small CAE, its
  library from a few FluidSynth notes, null audio, no MIDI port); :func:`pump_until` plays
  its engine as the audio thread would, :func:`assert_still_serving` checks it answers and plays.

Run as a script for coverage-guided fuzzing with atheris (libFuzzer):
``.venv/bin/python tests/fuzz_corpus.py atheris --work /tmp/fz -- -runs=100000``.
"""

from __future__ import annotations

import logging
import os
import math
import random
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HANG_S = 0.100

# ---------------------------------------------------------------------- OSC encoding


def osc_string(text: bytes) -> bytes:
    """An OSC string: the bytes, a NUL, padded to a multiple of 4."""
    return text + b"\x00" * (4 - len(text) % 4)


def osc_blob(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data + b"\x00" * (-len(data) % 4)


def osc_raw(address: bytes, tags: bytes, payload: bytes = b"") -> bytes:
    """A message from raw parts, so broken addresses and tags can be built."""
    return osc_string(address) + osc_string(b"," + tags) + payload


def f32(x: float) -> bytes:
    return struct.pack(">f", x)


def i32(x: int) -> bytes:
    return struct.pack(">i", x)


def bundle(*elements: bytes, timetag: int = 1) -> bytes:
    out = b"#bundle\x00" + struct.pack(">Q", timetag)
    for e in elements:
        out += struct.pack(">i", len(e)) + e
    return out


def nested_bundle(depth: int, inner: bytes) -> bytes:
    packet = inner
    for _ in range(depth):
        packet = bundle(packet)
    return packet


def valid_messages() -> list[bytes]:
    """One well-formed message per address of the table (plus a few variants)."""
    from morphsynth.server.osc_packets import build_message

    return [
        build_message("/note/on", 60, 100), build_message("/note/on", 60.0, 100.0),
        build_message("/note/on", 64, 90, 7), build_message("/note/off", 60),
        build_message("/note/off", 64, 7), build_message("/note/bend", 64, 1.5, 7),
        build_message("/bend", -2.0), build_message("/sustain", 1), build_message("/sustain", 0),
        build_message("/panic"), build_message("/morph/sources", "a", "b"),
        build_message("/morph/weights", 1.0, 2.0), build_message("/morph/xy", 0.25, 0.75),
        build_message("/morph/ramp", 0.0, 1.0, 0.0, 1.0, 0.0, 1.0),
        build_message("/morph/interp", "linear"), build_message("/knob", 2, 1.5),
        build_message("/adsr", 0.01, 0.1, 0.7, 0.2), build_message("/gain", -6.0),
        build_message("/render", "fuzz.wav", 60, 100, 0.1), build_message("/library/list"),
        build_message("/library/add", "missing.wav", "x"), build_message("/status"),
        build_message("/notify", 0), build_message("/sync", 3),
        build_message("/preset/save", "fuzz"), build_message("/preset/load", "fuzz"),
        build_message("/preset/list"), build_message("/describe"),
        build_message("/model/load", "missing"), build_message("/library/load", "missing.safetensors"),
        build_message("/latency"),
    ]


def crafted_osc_corpus() -> list[tuple[str, bytes]]:
    """Named hand-made packets; each must get at most one /fail and leave the server serving."""
    nan, inf = float("nan"), float("inf")
    denormal = 1e-45
    note = osc_raw(b"/note/on", b"ii", i32(60) + i32(100))
    c: list[tuple[str, bytes]] = [
        ("empty", b""),
        ("one byte", b"/"),
        ("address without NUL", b"/note/on"),
        ("address only, no type tags", osc_string(b"/note/on")),
        ("type tags without comma", osc_string(b"/note/on") + osc_string(b"ii") + i32(60) + i32(100)),
        ("truncated after type tags", osc_raw(b"/note/on", b"ii")),
        ("truncated int", osc_raw(b"/note/on", b"ii", i32(60) + b"\x00\x00")),
        ("truncated in the address", note[:5]),
        ("truncated in the tags", note[:10]),
        ("more tags than data", osc_raw(b"/note/on", b"iiiiiiii", i32(60))),
        ("more data than tags", osc_raw(b"/note/on", b"i", i32(60) + i32(100) + i32(3))),
        ("unknown type tag", osc_raw(b"/note/on", b"ix", i32(60) + i32(100))),
        ("NUL type tag", osc_raw(b"/note/on", b"i\x00i", i32(60) + i32(100))),
        ("wrong types: strings for ints", osc_raw(b"/note/on", b"ss", osc_string(b"C4") + osc_string(b"ff"))),
        ("blob for an int", osc_raw(b"/note/on", b"bi", osc_blob(b"\x01\x02") + i32(100))),
        ("unbalanced array", osc_raw(b"/morph/weights", b"[ff", f32(1) + f32(2))),
        ("nested arrays", osc_raw(b"/morph/weights", b"[[[ff]]]", f32(1) + f32(2))),
        ("non-UTF-8 address", osc_raw(b"/note/\xff\xfe", b"ii", i32(60) + i32(100))),
        ("non-UTF-8 string argument", osc_raw(b"/morph/sources", b"ss", osc_string(b"\xc3\x28") + osc_string(b"a"))),
        ("control characters in address", osc_raw(b"/note/\x01\x1b[2J", b"")),
        ("address not starting with slash", osc_raw(b"note/on", b"ii", i32(60) + i32(100))),
        ("NaN pitch", osc_raw(b"/note/on", b"fi", f32(nan) + i32(100))),
        ("inf bend", osc_raw(b"/bend", b"f", f32(inf))),
        ("-inf gain", osc_raw(b"/gain", b"f", f32(-inf))),
        ("NaN gain", osc_raw(b"/gain", b"f", f32(nan))),
        ("denormal gain", osc_raw(b"/gain", b"f", f32(denormal))),
        ("denormal xy", osc_raw(b"/morph/xy", b"ff", f32(denormal) + f32(denormal))),
        ("NaN weights", osc_raw(b"/morph/weights", b"ff", f32(nan) + f32(1))),
        ("inf adsr", osc_raw(b"/adsr", b"ffff", f32(inf) + f32(0) + f32(1) + f32(inf))),
        ("NaN double", osc_raw(b"/bend", b"d", struct.pack(">d", nan))),
        ("huge int64", osc_raw(b"/note/on", b"hh", struct.pack(">q", 2**63 - 1) + struct.pack(">q", -2**63))),
        ("int32 extremes", osc_raw(b"/note/on", b"ii", i32(-2**31) + i32(2**31 - 1))),
        ("blob size claims 2 GB", osc_raw(b"/note/on", b"b", i32(2**31 - 1) + b"\x00" * 8)),
        ("negative blob size", osc_raw(b"/note/on", b"b", i32(-8) + b"\x00" * 8)),
        ("huge blob (60 KB)", osc_raw(b"/render", b"b", osc_blob(b"\xaa" * 60000))),
        ("64 KB string argument", osc_raw(b"/morph/sources", b"s", osc_string(b"x" * 65000))),
        ("64 KB address", osc_raw(b"/" + b"a" * 65000, b"")),
        ("1,000 arguments", osc_raw(b"/morph/weights", b"f" * 1000, f32(1.0) * 1000)),
        ("80 wildcards", osc_raw(b"/" + b"*" * 80 + b"x", b"")),
        ("alternating wildcards", osc_raw(b"/m" + b"?*" * 60 + b"x", b"")),
        ("huge alternation", osc_raw(b"/{" + b",".join(b"n%d" % i for i in range(3000)) + b"}", b"")),
        ("unclosed bracket", osc_raw(b"/note/[on", b"ii", i32(60) + i32(100))),
        ("wildcard address", osc_raw(b"/note/*", b"i", i32(60))),
        ("render path traversal", osc_raw(b"/render", b"siif", osc_string(b"../../etc/x.wav") + i32(60) + i32(100) + f32(0.1))),
        ("render absolute path", osc_raw(b"/render", b"siif", osc_string(b"/tmp/x.wav") + i32(60) + i32(100) + f32(0.1))),
        ("render NUL in path", osc_raw(b"/render", b"sii", osc_string(b"a\x00b.wav") + i32(60) + i32(100))),
        ("library/add traversal", osc_raw(b"/library/add", b"ss", osc_string(b"../../../etc/passwd") + osc_string(b"p"))),
        ("render duration 1e9 s", osc_raw(b"/render", b"siif", osc_string(b"long.wav") + i32(60) + i32(100) + f32(1e9))),
        ("reply port 0", osc_raw(b"/reply/port", b"i", i32(0))),
        ("notify to port 70000", osc_raw(b"/notify", b"ii", i32(1) + i32(70000))),
        ("bundle header only", b"#bundle\x00"),
        ("bundle with truncated timetag", b"#bundle\x00\x00\x00"),
        ("bundle element size past the end", b"#bundle\x00" + struct.pack(">Q", 1) + i32(1 << 30) + note),
        ("bundle element size negative", b"#bundle\x00" + struct.pack(">Q", 1) + i32(-4) + note),
        ("bundle element size zero", b"#bundle\x00" + struct.pack(">Q", 1) + i32(0) + note),
        ("bundle element size odd", b"#bundle\x00" + struct.pack(">Q", 1) + i32(3) + note),
        ("bundle of garbage element", bundle(b"\xff" * 12)),
        ("bundle 1,000 deep", nested_bundle(1000, note)),
        ("bundle 40 deep", nested_bundle(40, note)),
        ("bundle 30 deep (allowed)", nested_bundle(30, osc_raw(b"/status", b""))),
        ("bundle of 3,000 messages", bundle(*([osc_raw(b"/bend", b"f", f32(0.0))] * 3000))),
        ("bundle with far-future timetag", bundle(osc_raw(b"/status", b""), timetag=(2**32 - 1) << 32)),
        ("bundle with timetag 0", bundle(osc_raw(b"/status", b""), timetag=0)),
        ("'#bundle' as a message address", osc_raw(b"#bundle", b"i", i32(1))),
        ("64 KB of zeros", b"\x00" * 65536),
        ("64 KB of 0xff", b"\xff" * 65536),
    ]
    return c


INTERESTING_I32 = (0, 1, -1, 3, 4, 16, 127, 128, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
                   2**31 - 1, -2**31, 65536, 65535, 1 << 20)
TAG_CHARS = b"ifsbhdtcrmTFNI[]xS\x00,"


def mutate(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    """One to four random mutations of ``data`` (bytes in, bytes out)."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(10)
        n = len(buf)
        if op == 0 and n:
            i = rng.randrange(n)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            buf[rng.randrange(n)] = rng.randrange(256)
        elif op == 2 and n >= 4:
            i = rng.randrange(0, n - 3) & ~3
            buf[i:i + 4] = struct.pack(">i", rng.choice(INTERESTING_I32) if rng.random() < 0.8
                                       else rng.randint(-2**31, 2**31 - 1))
        elif op == 3 and n:
            del buf[rng.randrange(n):]
        elif op == 4:
            i = rng.randrange(n + 1)
            buf[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 5 and n:
            i = rng.randrange(n)
            del buf[i:i + rng.randint(1, 16)]
        elif op == 6:
            comma = buf.find(b",")
            if comma >= 0 and comma + 1 < n:
                buf[comma + 1 + rng.randrange(min(8, n - comma - 1))] = rng.choice(TAG_CHARS)
        elif op == 7:
            other = rng.choice(seeds)
            cut = rng.randrange(len(buf) + 1)
            buf = buf[:cut] + other[rng.randrange(len(other) + 1):]
        elif op == 8 and n:
            i = rng.randrange(n)
            j = min(n, i + rng.randint(1, 32))
            buf[i:i] = buf[i:j] * rng.randint(1, 8)
        elif op == 9:
            buf = bytearray(bundle(bytes(buf), timetag=rng.choice((0, 1, 2**32))))
        if len(buf) > 65536:
            del buf[65536:]
    return bytes(buf)


def osc_inputs(seed: int, count: int):
    """``count`` fuzz packets: the crafted corpus first, then seeded mutations of it."""
    rng = random.Random(seed)
    seeds = valid_messages() + [p for _, p in crafted_osc_corpus() if len(p) < 4096]
    produced = 0
    for _, packet in crafted_osc_corpus():
        if produced >= count:
            return
        yield packet
        produced += 1
    while produced < count:
        r = rng.random()
        if r < 0.05:
            yield bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
        else:
            yield mutate(rng.choice(seeds), rng, seeds)
        produced += 1


# ---------------------------------------------------------------------- MIDI bytes

def midi_inputs(seed: int, count: int, chunk: int = 64):
    """``count`` byte chunks of MIDI-ish noise: status bytes with running status, sysex
    (closed, unclosed, interrupted), realtime bytes inside messages, stray data bytes."""
    rng = random.Random(seed)
    for _ in range(count):
        out = bytearray()
        while len(out) < chunk:
            r = rng.random()
            if r < 0.3:
                status = rng.choice((0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0)) | rng.randrange(16)
                out.append(status)
                for _ in range(rng.randint(1, 6)):          # running status: several data pairs
                    out += bytes(rng.randrange(128) for _ in range(2))
            elif r < 0.4:
                out.append(0xF0)
                out += bytes(rng.randrange(128) for _ in range(rng.randint(0, 40)))
                if rng.random() < 0.7:
                    out.append(0xF7)
            elif r < 0.5:
                out.append(rng.choice((0xF8, 0xFA, 0xFB, 0xFC, 0xFE, 0xFF, 0xF1, 0xF2, 0xF3, 0xF6,
                                       0xF4, 0xF5, 0xF9, 0xFD, 0xF7)))
            elif r < 0.6:
                out += bytes((0xB0 | rng.randrange(16), rng.choice((64, 120, 123, 100, 101, 6, 38, 1, 2, 74)),
                              rng.randrange(128)))
            else:
                out.append(rng.randrange(256))
        yield bytes(out[:chunk])


# ---------------------------------------------------------------------- harness

class ErrorCounter(logging.Handler):
    """Counts records at ERROR or above from the server's loggers (handler crashes)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.count = 0
        self.last = ""

    def emit(self, record):
        self.count += 1
        self.last = record.getMessage() + (f" ({record.exc_info[1]!r})" if record.exc_info else "")


@dataclass
class FuzzStats:
    inputs: int = 0
    fails: int = 0
    replies: int = 0
    uncaught: int = 0
    internal: int = 0
    hangs: int = 0
    multi_fail: int = 0
    slowest_s: float = 0.0
    examples: list = field(default_factory=list)

    def note(self, kind: str, data: bytes, detail: str = "") -> None:
        if len(self.examples) < 10:
            self.examples.append((kind, data[:200], detail))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class CountingSender:
    """A Sender that counts replies (the real reply path minus the socket)."""

    def __init__(self):
        from morphsynth.server.osc_senders import Sender

        self.key = ("127.0.0.1", 9)
        self.replies: list[tuple] = []
        self._fail = Sender.fail

    def send(self, address, *args):
        self.replies.append((address, *args))

    def fail(self, address, reason):
        self.send("/fail", address, reason)

    @property
    def host(self):
        return "127.0.0.1"


class OscFuzzTarget:
    """Feeds packets to a real OscServer's dispatch path and keeps score."""

    def __init__(self, server, hang_s: float = HANG_S, pump_every: int = 64):
        self.server = server
        self.osc = server.osc
        self.engine = server.engine
        self.stats = FuzzStats()
        self.hang_s = hang_s
        self.pump_every = pump_every
        self._out = np.zeros(256, np.float32)
        self.errors = ErrorCounter()
        logging.getLogger("morphsynth").addHandler(self.errors)
        self.nonfinite_blocks = 0

    def close(self) -> None:
        logging.getLogger("morphsynth").removeHandler(self.errors)

    def run(self, data: bytes) -> None:
        s = self.stats
        sender = CountingSender()
        before = self.errors.count
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            self.osc.feed(data, sender)
        except BaseException as exc:  # the one thing feed must never do
            s.uncaught += 1
            s.note("uncaught", data, repr(exc))
        dt, cpu = time.perf_counter() - t0, time.thread_time() - c0
        s.inputs += 1
        if dt > self.hang_s:
            # The cores are shared: a hang is slow twice, and either burns the CPU time
            # itself (a loop, a regex) or waits ten times the limit (a block).
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                self.osc.feed(data, CountingSender())
            except BaseException:
                pass
            again, cpu_again = time.perf_counter() - t0, time.thread_time() - c0
            if again > self.hang_s and (max(cpu, cpu_again) > self.hang_s or min(dt, again) > 10 * self.hang_s):
                s.hangs += 1
                s.note("hang", data, f"{dt * 1000:.0f} ms then {again * 1000:.0f} ms "
                                     f"({max(cpu, cpu_again) * 1000:.0f} ms CPU)")
            dt = min(dt, again)
        s.slowest_s = max(s.slowest_s, dt)
        if self.errors.count != before:
            s.internal += 1
            s.note("internal", data, self.errors.last)
        fails = sum(1 for r in sender.replies if r[0] == "/fail")
        internal_fail = [r for r in sender.replies if r[0] == "/fail" and "internal error" in str(r[-1])]
        if internal_fail:
            s.internal += 1
            s.note("internal /fail", data, str(internal_fail[0]))
        s.fails += fails
        s.replies += len(sender.replies)
        if fails > 1 and not data.startswith(b"#bundle") and not _has_wildcards(data):
            s.multi_fail += 1
            s.note("several /fail", data, str(sender.replies[:3]))
        if s.inputs % self.pump_every == 0:
            self.pump()

    def pump(self, blocks: int = 2) -> None:
        """Play a couple of audio blocks, as the audio thread would, and check them."""
        for _ in range(blocks):
            self.engine.process(self._out)
            if not (np.all(np.isfinite(self._out)) and np.max(np.abs(self._out)) <= 1.0):
                self.nonfinite_blocks += 1


def _has_wildcards(data: bytes) -> bool:
    head = data.split(b"\x00", 1)[0]
    return any(c in head for c in b"*?[{")


class MidiFuzzTarget:
    """Raw MIDI bytes through mido's parser into the real MidiMapper."""

    def __init__(self, mapper):
        import mido

        self.mapper = mapper
        self.parser = mido.Parser()
        self.stats = FuzzStats()
        self.messages = 0
        self.errors = ErrorCounter()
        logging.getLogger("morphsynth").addHandler(self.errors)

    def close(self) -> None:
        logging.getLogger("morphsynth").removeHandler(self.errors)

    def run(self, data: bytes) -> None:
        s = self.stats
        t0 = time.perf_counter()
        try:
            self.parser.feed(data)
            for msg in self.parser:
                self.messages += 1
                self.mapper.handle(msg)
        except BaseException as exc:
            s.uncaught += 1
            s.note("uncaught", data, repr(exc))
        dt = time.perf_counter() - t0
        s.inputs += 1
        if dt > HANG_S:
            # Shared cores: count it only if the same bytes are slow again (a fresh parser).
            import mido

            t0 = time.perf_counter()
            again = mido.Parser()
            try:
                again.feed(data)
                for msg in again:
                    self.mapper.handle(msg)
            except BaseException:
                pass
            retry = time.perf_counter() - t0
            if retry > HANG_S:
                s.hangs += 1
                s.note("hang", data, f"{dt * 1000:.0f} ms then {retry * 1000:.0f} ms")
            dt = min(dt, retry)
        s.slowest_s = max(s.slowest_s, dt)


# ---------------------------------------------------------------------- a real server to fuzz

def build_fuzz_parts(work: Path) -> tuple[Path, Path]:
    """A small CAE model folder and its library (from 8 FluidSynth notes) under ``work``."""
    from morphsynth.training.dataset_soundfont import build_soundfont_dataset
    from morphsynth.training.soundfont import FLUID_R3
    from test_audio_support import neural_parts

    work = Path(work)
    dataset = work / "dataset"
    if not (dataset / "nsynth-train").is_dir():
        build_soundfont_dataset([FLUID_R3], dataset, programs=[0, 19, 40, 73], pitches=(48, 72),
                                pitch_step=24, velocities=[100], seed=0)
    return neural_parts(work, dataset)


def build_fuzz_server(model_dir: Path, library: Path, out_dir: Path, udp_port: int = 0,
                      tcp_port: int = 0):
    """A real SynthServer (not started: no sockets, no clock), null audio, no MIDI port.

    ``server.osc.start()`` opens its sockets on ``udp_port`` / ``tcp_port`` (0: UDP on a
    free port, no TCP).
    """
    from morphsynth.server.app import SynthServer
    from serve_support import null_serve_config
    from test_audio_support import neural_renderer

    cfg = null_serve_config(out_dir)
    cfg.osc.port = udp_port
    cfg.osc.tcp_port = tcp_port
    return SynthServer(cfg, neural_renderer(model_dir, library))


def pump_until(engine, until, blocks: int = 4000) -> bool:
    """Play 256-frame blocks, as the audio thread would, until ``until()`` (True) or
    ``blocks`` blocks have passed (then ``until()``'s last answer)."""
    out = np.zeros(256, np.float32)
    for _ in range(blocks):
        if until():
            return True
        engine.process(out)
        time.sleep(0.001)
    return until()


def assert_still_serving(server, panic_first: bool = False) -> None:
    """/status answers (and nothing else does) and a note starts, then stops, through the
    server's dispatch path; ``panic_first``: a /panic first silences what was left playing."""
    from morphsynth.server.osc_packets import build_message

    engine = server.engine
    s = CountingSender()
    server.osc.feed(build_message("/status"), s)
    assert [r[0] for r in s.replies] == ["/status.reply"]
    if panic_first:
        server.osc.feed(build_message("/panic"), s)
        assert pump_until(engine, lambda: engine.active_voices() == 0)
    server.osc.feed(build_message("/note/on", 60, 100), s)
    assert pump_until(engine, lambda: engine.active_voices() == 1)
    server.osc.feed(build_message("/note/off", 60), s)
    assert pump_until(engine, lambda: engine.active_voices() == 0)
    assert [r[0] for r in s.replies] == ["/status.reply"]


def _atheris_main(argv: list[str]) -> None:
    """Coverage-guided fuzzing of the OSC dispatch path with atheris (libFuzzer)."""
    import argparse

    import atheris

    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--report", help="write the counts here as JSON at exit")
    args, libfuzzer_args = ap.parse_known_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    logging.getLogger("morphsynth").propagate = False
    model_dir, library = build_fuzz_parts(Path(args.work))
    with atheris.instrument_imports(include=["pythonosc", "morphsynth.server.osc_packets",
                                             "morphsynth.server.osc_senders",
                                             "morphsynth.server.osc_handlers",
                                             "morphsynth.server.osc_server",
                                             "morphsynth.server.address_space"]):
        import pythonosc.osc_bundle  # noqa: F401
        import pythonosc.osc_message  # noqa: F401
        import pythonosc.parsing.osc_types  # noqa: F401

        import morphsynth.server.address_space  # noqa: F401
        import morphsynth.server.osc_handlers  # noqa: F401
        import morphsynth.server.osc_packets  # noqa: F401
        import morphsynth.server.osc_senders  # noqa: F401
        import morphsynth.server.osc_server  # noqa: F401
    server = build_fuzz_server(model_dir, library, Path(args.work))
    target = OscFuzzTarget(server)
    rss0 = rss_mb()
    corpus_dir = Path(args.work) / "corpus"
    corpus_dir.mkdir(parents=True, exist_ok=True)
    for i, (_, packet) in enumerate(crafted_osc_corpus()):
        (corpus_dir / f"crafted-{i:03d}").write_bytes(packet)
    for i, packet in enumerate(valid_messages()):
        (corpus_dir / f"valid-{i:03d}").write_bytes(packet)

    def report():
        import json

        if args.report:
            s = target.stats
            Path(args.report).write_text(json.dumps({
                "inputs": s.inputs, "fails": s.fails, "uncaught": s.uncaught, "internal": s.internal,
                "hangs": s.hangs, "multi_fail": s.multi_fail, "slowest_ms": s.slowest_s * 1000,
                "rss_start_mb": rss0, "rss_end_mb": rss_mb(), "nonfinite_blocks": target.nonfinite_blocks,
                "examples": [(k, d.hex(), x) for k, d, x in s.examples]}))

    runs = next((int(a.split("=", 1)[1]) for a in libfuzzer_args if a.startswith("-runs=")), 0)

    def one(data: bytes) -> None:
        target.run(data)
        # libFuzzer ends with _exit (no atexit): keep the report current as we go.
        if target.stats.inputs % 100 == 0:
            report()
        if target.stats.uncaught or target.stats.hangs:
            report()
            raise RuntimeError(f"fuzz finding: {target.stats.examples[-1]}")
        if runs and target.stats.inputs >= runs:
            # libFuzzer's own exit tears the C heap down while the renderer's threads still
            # run; stop them and leave first.
            report()
            target.close()
            server.stop()
            os._exit(0)

    atheris.Setup([sys.argv[0], *libfuzzer_args, str(corpus_dir)], one)
    atheris.Fuzz()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "atheris":
        _atheris_main(sys.argv[2:])
    else:
        for name, packet in crafted_osc_corpus():
            print(f"{len(packet):6d}  {name}")
