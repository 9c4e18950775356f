"""Short fuzz runs of the OSC parsing and dispatch path (the long ones: benchmarks/bench_reliability.py).

The server is real (small CAE renderer, engine, control state, dispatcher from the
address table); packets go through ``OscServer.feed`` and, for the socket tests,
through real UDP and TCP sockets in both framings. A finding is an exception out of
the server, anything it logs at ERROR, an ``internal error`` /fail, an input that is
slow twice in a row (over 100 ms), or a non-finite audio block.
"""

import json
import random
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fuzz_corpus import (CountingSender, OscFuzzTarget, assert_still_serving, build_fuzz_server, bundle,
                         crafted_osc_corpus, mutate, osc_inputs, osc_raw, pump_until, rss_mb, valid_messages)
from morphsynth.server.osc_packets import MAX_BUNDLE_MESSAGES, build_message, slip_encode
from serve_support import free_port

TESTS = Path(__file__).resolve().parent


def test_crafted_corpus_gets_at_most_one_fail_per_packet_and_the_server_keeps_playing(fuzz_server):
    target = OscFuzzTarget(fuzz_server)
    try:
        for name, packet in crafted_osc_corpus():
            sender = CountingSender()
            fuzz_server.osc.feed(packet, sender)
            fails = [r for r in sender.replies if r[0] == "/fail"]
            if name in ("wildcard address", "bundle 30 deep (allowed)", "bundle with timetag 0"):
                continue   # may match several addresses / answer /status
            assert len(fails) <= 1, (name, sender.replies)
            assert not any("internal error" in str(r) for r in sender.replies), (name, sender.replies)
            target.run(packet)
        assert (target.stats.uncaught, target.stats.internal, target.stats.hangs) == (0, 0, 0), \
            target.stats.examples
    finally:
        target.close()
    assert_still_serving(fuzz_server, panic_first=True)


@pytest.mark.parametrize("name, reason", [
    ("80 wildcards", "wildcards"), ("alternating wildcards", "wildcards"),
    ("64 KB address", "longer than"), ("bundle 1,000 deep", "nested deeper"),
    ("bundle of 3,000 messages", f"more than {MAX_BUNDLE_MESSAGES} messages"),
    ("bundle element size past the end", "does not fit"), ("non-UTF-8 address", "malformed"),
    ("unknown type tag", "unsupported type tag"), ("NaN gain", "not finite"),
])
def test_hostile_packet_is_refused_with_a_reason_naming_the_bound(fuzz_server, name, reason):
    packet = dict(crafted_osc_corpus())[name]
    sender = CountingSender()
    fuzz_server.osc.feed(packet, sender)
    assert len(sender.replies) == 1 and sender.replies[0][0] == "/fail", sender.replies
    assert reason in sender.replies[0][2]


def test_seeded_mutation_fuzz_finds_no_crash_hang_or_internal_error(fuzz_server):
    target = OscFuzzTarget(fuzz_server)
    rss0 = rss_mb()
    try:
        for packet in osc_inputs(seed=20261125, count=30000):
            target.run(packet)
    finally:
        target.close()
    s = target.stats
    print(f"\nfuzz: {s.inputs} inputs, {s.fails} /fail, slowest {s.slowest_s * 1000:.1f} ms, "
          f"RSS {rss0:.0f} -> {rss_mb():.0f} MB")
    assert s.inputs == 30000
    assert (s.uncaught, s.internal, s.hangs, s.multi_fail) == (0, 0, 0, 0), s.examples
    assert target.nonfinite_blocks == 0
    assert s.fails > 0.5 * s.inputs          # the fuzzer mostly makes broken packets, as meant
    assert_still_serving(fuzz_server, panic_first=True)


def test_atheris_coverage_guided_run_finds_nothing(fuzz_parts, tmp_path):
    pytest.importorskip("atheris")
    work = Path(fuzz_parts[0]).parent
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, str(TESTS / "fuzz_corpus.py"), "atheris", "--work", str(work), "--report", str(report),
         "--", "-runs=4000", "-seed=7", "-max_len=4096", "-rss_limit_mb=4096"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = json.loads(report.read_text())
    assert counts["inputs"] >= 3900   # the report is written every 100 inputs
    assert (counts["uncaught"], counts["internal"], counts["hangs"]) == (0, 0, 0), counts["examples"]


def _tcp(port):
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    return c


def _read_length_framed(conn):
    head = b""
    while len(head) < 4:
        head += conn.recv(4 - len(head))
    size = struct.unpack(">I", head)[0]
    body = b""
    while len(body) < size:
        body += conn.recv(size - len(body))
    return body


def test_fuzzed_udp_datagrams_and_tcp_streams_in_both_framings_leave_the_sockets_serving(fuzz_parts, tmp_path):
    tcp_port = free_port(socket.SOCK_STREAM)
    server = build_fuzz_server(*fuzz_parts, tmp_path, udp_port=0, tcp_port=tcp_port)
    server.osc.start()
    rng = random.Random(3)
    seeds = valid_messages() + [p for _, p in crafted_osc_corpus() if len(p) < 4096]
    try:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for packet in osc_inputs(seed=5, count=1500):
            udp.sendto((packet or b"\x00")[:65507], ("127.0.0.1", server.osc.udp_port))  # UDP payload limit
            if rng.random() < 0.02:
                time.sleep(0.001)   # let the server drain: this test is about content, not flooding
        # OSC 1.0 length-prefixed stream: fuzzed packets, correct and lying lengths. A lie
        # desynchronises the stream; the server may then close it (a size over 1 MB): reconnect.
        closed = 0
        for framing in ("length", "slip"):
            c = _tcp(tcp_port)
            for _ in range(300):
                p = mutate(rng.choice(seeds), rng, seeds)
                if framing == "length":
                    size = len(p) if rng.random() < 0.9 else rng.choice((0, 3, len(p) + 1))
                    data = struct.pack(">I", size) + p
                else:   # SLIP: fuzzed frames, stray escapes, empty frames
                    data = slip_encode(p)
                    if rng.random() < 0.1:
                        data = data[:-1] + b"\xdb\x01\xc0"
                    data += b"\xc0\xc0" if rng.random() < 0.1 else b""
                try:
                    c.sendall(data)
                except (ConnectionResetError, BrokenPipeError):
                    closed += 1
                    c.close()
                    c = _tcp(tcp_port)
            c.close()
        print(f"\nTCP fuzz: the server closed {closed} desynchronised connections")
        # A length prefix claiming 16 MB: refused, connection closed, server fine.
        with _tcp(tcp_port) as c:
            c.sendall(struct.pack(">I", 0x00FFFFF0) + b"/x\x00\x00")
            reply = _read_length_framed(c)
            assert reply.startswith(b"/fail")
        # Then a clean client on each framing is answered.
        with _tcp(tcp_port) as c:
            packet = build_message("/status")
            c.sendall(struct.pack(">I", len(packet)) + packet)
            assert _read_length_framed(c).startswith(b"/status.reply")
        with _tcp(tcp_port) as c:
            c.sendall(slip_encode(build_message("/sync", 9)))
            data = b""
            while data.count(b"\xc0") < 2:
                data += c.recv(4096)
            assert b"/synced" in data
        udp.close()
        # A fresh client (the fuzz may have sent a valid /reply/port for the old one).
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as fresh:
            fresh.settimeout(10)
            fresh.sendto(build_message("/status"), ("127.0.0.1", server.osc.udp_port))
            data, _ = fresh.recvfrom(70000)
            assert data.startswith(b"/status.reply")
        assert all(t.is_alive() for t in server.osc._threads if t.name in ("osc-udp", "osc-tcp"))
        assert_still_serving(server, panic_first=True)
    finally:
        server.stop()


def test_bundle_of_notes_within_the_bound_plays_every_note(fuzz_server):
    notes = [build_message("/note/on", 40 + i, 100) for i in range(16)]
    sender = CountingSender()
    fuzz_server.osc.feed(bundle(*notes), sender)
    assert sender.replies == []
    assert pump_until(fuzz_server.engine, lambda: fuzz_server.engine.active_voices() == 16)
    fuzz_server.osc.feed(osc_raw(b"/panic", b""), sender)
    assert pump_until(fuzz_server.engine, lambda: fuzz_server.engine.active_voices() == 0)


def ntp(seconds_from_now: float) -> int:
    t = time.time() + seconds_from_now + 2208988800   # NTP counts from 1900
    return (int(t) << 32) | int((t % 1) * (1 << 32))


def test_scheduled_bundles_are_bounded_in_time_ahead_and_in_bytes(fuzz_server):
    sender = CountingSender()
    fuzz_server.osc.feed(bundle(osc_raw(b"/status", b""), timetag=ntp(2 * 365 * 86400)), sender)
    assert sender.replies[-1][0] == "/fail" and "ahead" in sender.replies[-1][2]
    big = bundle(osc_raw(b"/render", b"b", struct.pack(">i", 60000) + b"\0" * 60000), timetag=ntp(600))
    fails = 0
    for _ in range(200):                     # 12 MB asked for; 4 MB may wait
        s = CountingSender()
        fuzz_server.osc.feed(big, s)
        fails += sum(1 for r in s.replies if r[0] == "/fail" and "already wait" in r[2])
    assert fuzz_server.osc.scheduled <= (4 << 20) // 60000 + 1 and fails >= 200 - fuzz_server.osc.scheduled
