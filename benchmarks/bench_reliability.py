"""Long reliability runs of the server; prints one table (the short versions run in CI).

    .venv/bin/python benchmarks/bench_reliability.py                 # the full runs
    .venv/bin/python benchmarks/bench_reliability.py --quick         # a minute, to try it

Rows:
* OSC fuzz (seeded mutation): the crafted corpus then mutations, through OscServer.feed.
* OSC fuzz (atheris): coverage-guided libFuzzer run in a subprocess (if atheris installs).
* MIDI bytes: random bytes, running status, sysex through mido's parser into MidiMapper;
  then raw random messages into a real rtmidi virtual port over the JACK dummy server.
* Flood: mixed notes, morphs and renders at 10,000 messages/s over UDP for 60 s, audio
  through the JACK dummy server; drops as counted in /status.reply.
* Stuck notes: 100,000 random note-on/off (OSC and MIDI) then all-notes-off; and an rtmidi
  client over JACK killed mid-storm.
* Audio soak: 64 voices at 256 frames / 48 kHz through the JACK dummy server; xruns and the
  callback's time (p99.9 against the 5.3 ms period), timed in the server's audio process.
* Peer: the same JACK server for as long with only jack_metro, a C client, in the graph:
  the xruns the machine itself makes.

All traffic goes to 127.0.0.1; every run is bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import fuzz_corpus as fc  # noqa: E402

SR = 48000
BLOCK = 256
PERIOD_S = BLOCK / SR


class Row(dict):
    pass


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def print_table(rows):
    cols = ["run", "inputs", "/fail", "crashes", "hangs", "stuck voices", "xruns", "callback p99.9",
            "RSS start -> end MB", "seconds"]
    table = [cols] + [[fmt(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(t[i]) for t in table) for i in range(len(cols))]
    lines = ["| " + " | ".join(t[i].ljust(widths[i]) for i in range(len(cols))) + " |" for t in table]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print("\n".join(lines), flush=True)


# ---------------------------------------------------------------------- OSC fuzz

def run_osc_fuzz(parts, work, count, seconds) -> Row:
    server = fc.build_fuzz_server(*parts, work / "osc_fuzz")
    target = fc.OscFuzzTarget(server)
    rss0 = fc.rss_mb()
    t0 = time.monotonic()
    try:
        for packet in fc.osc_inputs(seed=1, count=count):
            target.run(packet)
            if target.stats.inputs % 10000 == 0 and time.monotonic() - t0 > seconds:
                break
    finally:
        target.close()
    s = target.stats
    serving = still_serving(server)
    cache_mb = server.renderer.stats()["cache_bytes"] / 2**20
    server.stop()
    return Row(run="OSC fuzz, seeded mutation (feed)", inputs=s.inputs, **{"/fail": s.fails},
               crashes=s.uncaught + s.internal + (0 if serving else 1), hangs=s.hangs,
               **{"RSS start -> end MB": f"{rss0:.0f} -> {fc.rss_mb():.0f}"},
               seconds=time.monotonic() - t0, detail={"slowest_ms": s.slowest_s * 1000, "note_cache_mb": cache_mb,
                                                       "nonfinite_blocks": target.nonfinite_blocks,
                                                       "examples": [(k, d.hex()[:80], x) for k, d, x in s.examples]})


def still_serving(server) -> bool:
    from morphsynth.server.osc_packets import build_message

    s = fc.CountingSender()
    server.osc.feed(build_message("/status"), s)
    server.osc.feed(build_message("/panic"), s)
    out = np.zeros(BLOCK, np.float32)
    for _ in range(20):
        server.engine.process(out)
    server.osc.feed(build_message("/note/on", 60, 100), s)
    for _ in range(400):
        server.engine.process(out)
        if server.engine.active_voices() == 1:
            break
        time.sleep(0.005)
    return [r[0] for r in s.replies] == ["/status.reply"] and server.engine.active_voices() == 1


def run_atheris(work, runs, seconds) -> Row:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return Row(run="OSC fuzz, atheris", inputs=None, detail="atheris is not installed")
    report = work / "atheris.json"
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "fuzz_corpus.py"), "atheris", "--work",
                           str(work / "parts"), "--report", str(report), "--", f"-runs={runs}",
                           f"-max_total_time={int(seconds)}", "-max_len=8192", "-rss_limit_mb=4096",
                           "-seed=1"], capture_output=True, text=True, cwd=work)
    counts = json.loads(report.read_text()) if report.is_file() else {}
    cov = [line for line in proc.stderr.splitlines() if line.startswith("#") and "cov:" in line]
    return Row(run="OSC fuzz, atheris (coverage-guided)", inputs=counts.get("inputs"),
               **{"/fail": counts.get("fails")},
               crashes=(counts.get("uncaught", 0) + counts.get("internal", 0) + (proc.returncode != 0)),
               hangs=counts.get("hangs"),
               **{"RSS start -> end MB": f"{counts.get('rss_start_mb', 0):.0f} -> {counts.get('rss_end_mb', 0):.0f}"},
               seconds=time.monotonic() - t0,
               detail={"returncode": proc.returncode, "last_status": cov[-1] if cov else "",
                       "examples": counts.get("examples"), "stderr_tail": proc.stderr[-600:] if proc.returncode else ""})


# ---------------------------------------------------------------------- MIDI

def run_midi_bytes(parts, work, chunks, seconds) -> Row:
    import mido

    from morphsynth.server.midi import MidiMapper
    from morphsynth.server.server_config import MidiSettings

    server = fc.build_fuzz_server(*parts, work / "midi_bytes")
    mapper = MidiMapper(server.controls, MidiSettings())
    target = fc.MidiFuzzTarget(mapper)
    rss0 = fc.rss_mb()
    t0 = time.monotonic()
    out = np.zeros(BLOCK, np.float32)
    try:
        for i, data in enumerate(fc.midi_inputs(seed=3, count=chunks)):
            target.run(data)
            if i % 16 == 0:
                server.engine.process(out)
            if i % 1000 == 0 and time.monotonic() - t0 > seconds:
                break
        for ch in range(16):
            mapper.handle(mido.Message("control_change", channel=ch, control=123, value=0))
        stuck = settle(server)
    finally:
        target.close()
    s = target.stats
    cache_mb = server.renderer.stats()["cache_bytes"] / 2**20
    server.stop()
    return Row(run="MIDI bytes (parser -> mapper)", inputs=s.inputs, crashes=s.uncaught, hangs=s.hangs,
               **{"stuck voices": stuck, "RSS start -> end MB": f"{rss0:.0f} -> {fc.rss_mb():.0f}"},
               seconds=time.monotonic() - t0, detail={"messages": target.messages, "mapper_errors": mapper.errors, "note_cache_mb": cache_mb,
                                                       "slowest_ms": s.slowest_s * 1000,
                                                       "examples": [(k, d.hex()[:80], x) for k, d, x in s.examples]})


def settle(server, seconds=None) -> int:
    """Play past the release time (as the audio thread would); returns the voices left."""
    seconds = seconds or (max(server.controls.adsr.release, server.engine.fade_s) + 0.1)
    if server.engine.clock_running:
        # A started server's audio process plays the blocks: only one side may.
        time.sleep(seconds + 0.05)
        return server.engine.active_voices()
    out = np.zeros(BLOCK, np.float32)
    for _ in range(int(math.ceil(seconds * SR / BLOCK))):
        server.engine.process(out)
    return server.engine.active_voices()


RTMIDI_FUZZ = r"""
import random, sys, time, rtmidi
out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK)
names = out.get_ports()
out.open_port([i for i, n in enumerate(names) if n.endswith(':' + sys.argv[1]) or sys.argv[1] in n][0])
time.sleep(0.2)
rng = random.Random(int(sys.argv[2]))
sent, deadline = 0, time.monotonic() + float(sys.argv[3])
while time.monotonic() < deadline:
    r = rng.random()
    if r < 0.5:
        msg = [rng.choice((0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0)) | rng.randrange(16)] + [rng.randrange(128) for _ in range(rng.choice((1, 2)))]
    elif r < 0.6:
        msg = [0xF0] + [rng.randrange(128) for _ in range(rng.randrange(0, 64))] + [0xF7]
    else:
        msg = [rng.randrange(256) for _ in range(rng.randint(1, 3))]
    try:
        out.send_message(msg)
        sent += 1
    except Exception:
        pass
    if sent % 10 == 0:
        time.sleep(0.002)
for ch in range(16):
    out.send_message([0xB0 | ch, 123, 0])
time.sleep(0.3)
print(sent, flush=True)
"""


def run_midi_jack(parts, work, jack, seconds) -> Row:
    server = serving_server(parts, work / "midi_jack", midi=True)
    t0 = time.monotonic()
    rss0 = fc.rss_mb()
    try:
        proc = subprocess.run([sys.executable, "-c", RTMIDI_FUZZ, server.cfg.midi.client_name, "5", str(seconds)],
                              capture_output=True, text=True, env=os.environ.copy(), timeout=seconds + 60)
        sent = int(proc.stdout.split()[-1]) if proc.stdout.split() else 0
        alive = server.osc._threads[0].is_alive()
        time.sleep(0.6)
        stuck = server.engine.active_voices()
    finally:
        server.stop()
    return Row(run="MIDI random messages (rtmidi over JACK)", inputs=sent, crashes=0 if alive else 1,
               **{"stuck voices": stuck, "RSS start -> end MB": f"{rss0:.0f} -> {fc.rss_mb():.0f}"},
               seconds=time.monotonic() - t0, detail={"received": server.midi.mapper.received if server.midi else None,
                                                       "rc": proc.returncode, "stderr": proc.stderr[-300:]})


# ---------------------------------------------------------------------- servers on JACK

def serving_server(parts, work, midi=False, audio="null", polyphony=64):
    from morphsynth.server.app import SynthServer
    from morphsynth.server.server_config import ServeConfig
    from test_audio_support import neural_renderer

    cfg = ServeConfig()
    cfg.audio.device = audio
    cfg.audio.block_size = BLOCK
    cfg.audio.polyphony = polyphony
    cfg.osc.port = 0
    cfg.osc.tcp_port = 0
    cfg.midi.port = "virtual" if midi else "none"
    cfg.midi.api = "UNIX_JACK"
    cfg.midi.client_name = f"ms-{uuid.uuid4().hex[:6]}"
    cfg.paths.output_dir = str(work / "out")
    cfg.envelope.release = 0.3
    server = SynthServer(cfg, neural_renderer(*parts))
    warm(server)
    return server.start()


WARM_PITCHES = tuple(range(36, 97, 3))


def warm(server, velocities=(100,)):
    c = server.controls
    for p in WARM_PITCHES:
        for v in velocities:
            c.note_on(p, v, 0, 12345)
            c.note_off(p, 0, 12345)
    c.wait_requests(600)
    server.engine.panic()


class Timed:
    """The audio callbacks' durations from now on, as the outputs time them (in whichever
    process the callback runs: the engine keeps them in shared memory)."""

    def __init__(self, engine):
        self.engine = engine
        self.n0 = engine.callbacks
        self.times = np.zeros(0)

    def stop(self) -> "Timed":
        n = self.engine.callbacks - self.n0
        self.times = self.engine.callback_times()[-n:] if n > 0 else np.zeros(0)
        return self

    @property
    def n(self) -> int:
        return int(self.times.shape[0])

    def p999_ms(self) -> float:
        return float(np.percentile(self.times, 99.9) * 1000) if self.n else float("nan")


XRUN_COUNTER = r"""
import sys, jack
client = jack.Client(sys.argv[1], servername=sys.argv[2], no_start_server=True)
count = 0

@client.set_xrun_callback
def _(delay):
    global count
    count += 1

client.activate()
print("ready", flush=True)
for line in sys.stdin:          # each line asks for the count so far
    print(count, flush=True)
client.deactivate()
client.close()
"""


class XrunCounter:
    """JACK's xrun count (every client's overruns), kept by a client in a process of its
    own: in this busy process its Python xrun callback would wait for the GIL, holding up
    the cycle after each xrun and so making more of them."""

    def __init__(self, jack_server):
        self.proc = subprocess.Popen([sys.executable, "-c", XRUN_COUNTER, f"xruns-{uuid.uuid4().hex[:4]}",
                                      jack_server.name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def count(self) -> int:
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


FLOOD_SENDER = r"""
import random, socket, sys, time
blob = open(sys.argv[1], "rb").read()
packets, i = [], 0
while i < len(blob):
    n = int.from_bytes(blob[i:i + 4], "big")
    packets.append(blob[i + 4:i + 4 + n])
    i += 4 + n
port, rate, seconds = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
rng = random.Random(9)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent, t0 = 0, time.monotonic()
while (elapsed := time.monotonic() - t0) < seconds:
    while sent < int(elapsed * rate):
        sock.sendto(rng.choice(packets), ("127.0.0.1", port))
        sent += 1
    time.sleep(0.002)
print(sent, flush=True)
"""


def run_flood(parts, work, jack_server, seconds, rate) -> Row:
    from pythonosc.osc_message import OscMessage

    from morphsynth.server.osc_packets import build_message

    server = serving_server(parts, work / "flood", audio="system")
    timed = Timed(server.engine)
    xr = XrunCounter(jack_server)
    rss0 = fc.rss_mb()
    names = server.controls.library_names()
    mix = [build_message("/note/on", p, 100) for p in WARM_PITCHES] * 3
    mix += [build_message("/note/off", p) for p in WARM_PITCHES] * 3
    mix += [build_message("/morph/xy", x / 20, y / 20) for x in range(21) for y in (0, 10, 20)]
    mix += [build_message("/render", f"flood{i % 8}.wav", 60, 100, 0.2) for i in range(8)]
    mix += [build_message("/bend", 0.25), build_message("/morph/sources", *names[:2]),
            build_message("/morph/sources", *names[:4])]
    port = server.osc.udp_port
    queue_max = 0
    xruns0, engine_xruns0 = xr.count(), server.engine.xruns
    # The sender is a process of its own, as a real client is (it must not share our GIL).
    packets = work / "flood_packets.bin"
    packets.write_bytes(b"".join(len(m).to_bytes(4, "big") + m for m in mix))
    sender = subprocess.Popen([sys.executable, "-c", FLOOD_SENDER, str(packets), str(port), str(rate), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while sender.poll() is None:
        queue_max = max(queue_max, server.renderer.stats()["queue_length"] + len(server.osc.jobs))
        time.sleep(0.05)
    sent = int(sender.stdout.read().split()[-1])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as q:
        # Under the flood the kernel drops datagrams (a /panic too): wait until one is answered.
        q.settimeout(0.5)
        while True:
            q.sendto(build_message("/sync", 1), ("127.0.0.1", port))
            try:
                if q.recvfrom(65536)[0].startswith(b"/synced"):
                    break
            except socket.timeout:
                pass
        q.settimeout(30)
        q.sendto(build_message("/panic"), ("127.0.0.1", port))
        q.sendto(build_message("/status"), ("127.0.0.1", port))
        while True:
            data, _ = q.recvfrom(65536)
            if data.startswith(b"/status.reply"):
                break
    reply = OscMessage(data).params
    time.sleep(0.5)
    stuck = server.engine.active_voices()
    xruns = xr.count() - xruns0
    engine_xruns = server.engine.xruns - engine_xruns0
    timed.stop()
    server.stop()
    xr.close()
    return Row(run=f"Flood {rate:,}/s x {seconds:.0f} s (UDP, JACK audio)", inputs=sent,
               xruns=xruns + engine_xruns, **{"stuck voices": stuck, "callback p99.9": f"{timed.p999_ms():.2f} ms",
                                              "RSS start -> end MB": f"{rss0:.0f} -> {fc.rss_mb():.0f}"},
               crashes=0, seconds=seconds,
               detail={"dropped_in_status_reply": reply[6], "kernel_dropped": server.osc.kernel_dropped,
                       "render_queue_max": queue_max, "render_queue_at_end": reply[5],
                       "jack_xruns": xruns, "portaudio_underflows": engine_xruns})


def run_stuck_notes(parts, work, events) -> Row:
    import test_reliability as tr

    rows = []
    server = fc.build_fuzz_server(*parts, work / "stuck")
    t0 = time.monotonic()
    rss0 = fc.rss_mb()
    try:
        tr.warm_cache(server)
        tr.note_storm(server, events=events // 2, seed=21, pair_offs=True)
        paired = settle(server)
        mapper = tr.note_storm(server, events=events // 2, seed=22, pair_offs=False)
        import mido

        for ch in range(16):
            mapper.handle(mido.Message("control_change", channel=ch, control=123, value=0))
        after_off = settle(server)
    finally:
        server.stop()
    rows.append(Row(run=f"Stuck notes: {events:,} OSC+MIDI events, then all-notes-off", inputs=events,
                    **{"stuck voices": paired + after_off, "RSS start -> end MB": f"{rss0:.0f} -> {fc.rss_mb():.0f}"},
                    crashes=0, seconds=time.monotonic() - t0,
                    detail={"left_after_paired_offs": paired, "left_after_all_notes_off": after_off}))
    return rows[0]


def run_midi_kill(parts, work, storms) -> Row:
    server = serving_server(parts, work / "midi_kill", midi=True)
    t0 = time.monotonic()
    stuck_total = 0
    sent_total = 0
    try:
        for k in range(storms):
            client = subprocess.Popen([sys.executable, str(ROOT / "tests" / "scripts" / "midi_storm_client.py"),
                                       server.cfg.midi.client_name, str(k),
                                       ",".join(map(str, WARM_PITCHES[:12])), "3000"],
                                      stdout=subprocess.PIPE, text=True, env=os.environ.copy())
            word, sent = client.stdout.readline().split()
            sent_total += int(sent)
            time.sleep(0.1)
            client.send_signal(signal.SIGKILL)
            client.wait(10)
            time.sleep(0.2 + 0.3 + 0.2)     # watcher poll + release + margin
            stuck_total += server.engine.active_voices()
        received = server.midi.mapper.received
        disconnects = server.midi.watch.disconnects if server.midi.watch else None
    finally:
        server.stop()
    return Row(run=f"MIDI client killed mid-storm (rtmidi over JACK) x {storms}", inputs=sent_total,
               **{"stuck voices": stuck_total}, crashes=0, seconds=time.monotonic() - t0,
               detail={"received": received, "disconnects_seen": disconnects})


def run_soak(parts, work, jack_server, seconds, device="system") -> Row:
    server = serving_server(parts, work / "soak", audio=device, polyphony=64)
    timed = Timed(server.engine)
    xr = XrunCounter(jack_server)
    rss0 = fc.rss_mb()
    c = server.controls
    t0 = time.monotonic()
    rng = random.Random(4)
    held = []
    for i in range(64):
        p = WARM_PITCHES[i % len(WARM_PITCHES)]
        c.note_on(p, 100, 0, i)
        held.append((p, i))
    time.sleep(0.5)
    voices_min = server.engine.active_voices()
    next_id = 64
    while time.monotonic() - t0 < seconds:
        time.sleep(0.5)
        voices_min = min(voices_min, server.engine.active_voices())
        # Retrigger a few voices now and then: stealing and envelopes stay exercised.
        for _ in range(4):
            p, nid = held.pop(rng.randrange(len(held)))
            c.note_off(p, 0, nid)
            p = rng.choice(WARM_PITCHES)
            c.note_on(p, 100, 0, next_id)
            held.append((p, next_id))
            next_id += 1
    jack_xruns, engine_xruns = xr.count(), server.engine.xruns
    timed.stop()
    xruns = jack_xruns + engine_xruns if device != "jack" else jack_xruns
    for p, nid in held:
        c.note_off(p, 0, nid)
    time.sleep(0.6)
    stuck = server.engine.active_voices()
    server.stop()
    xr.close()
    via = "own JACK client" if device == "jack" else "PortAudio on JACK"
    return Row(run=f"Audio soak: 64 voices, 256 frames @ 48 kHz, {seconds:.0f} s ({via})", inputs=timed.n,
               xruns=xruns, **{"callback p99.9": f"{timed.p999_ms():.2f} ms ({timed.p999_ms() / (PERIOD_S * 1000) * 100:.0f} %)",
                               "stuck voices": stuck, "RSS start -> end MB": f"{rss0:.0f} -> {fc.rss_mb():.0f}"},
               crashes=0, seconds=time.monotonic() - t0,
               detail={"voices_min_during_soak": voices_min, "callbacks": timed.n, "jack_xruns": jack_xruns,
                       "engine_xruns": engine_xruns,
                       "callback_max_ms": float(timed.times.max() * 1000) if timed.n else None})


def run_peer_soak(jack_server, seconds) -> Row:
    """The same JACK dummy server and machine load with only ``jack_metro`` (a C client from
    JACK's example tools) in the graph: the xruns the machine makes without morphsynth."""
    import shutil

    if shutil.which("jack_metro") is None:
        return Row(run="Peer: jack_metro alone (jack_metro is not installed)")
    xr = XrunCounter(jack_server)
    metro = subprocess.Popen(["jack_metro", "-n", f"metro-{uuid.uuid4().hex[:4]}", "-b", "120"],
                             env={**os.environ, **jack_server.env()},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    time.sleep(1.0)
    start = xr.count()
    time.sleep(seconds)
    xruns = xr.count() - start
    metro.terminate()
    metro.wait(10)
    xr.close()
    return Row(run=f"Peer: jack_metro (C client) alone on the same JACK server, {seconds:.0f} s",
               inputs=int(seconds * SR / BLOCK), xruns=xruns, crashes=0 if metro.returncode in (0, -15) else 1,
               seconds=time.monotonic() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small counts and seconds, to try the script")
    ap.add_argument("--fuzz-inputs", type=int, default=10_000_000)
    ap.add_argument("--fuzz-seconds", type=float, default=900, help="stop the seeded fuzz after this long")
    ap.add_argument("--atheris-runs", type=int, default=1_000_000)
    ap.add_argument("--atheris-seconds", type=float, default=300)
    ap.add_argument("--midi-chunks", type=int, default=500_000)
    ap.add_argument("--midi-seconds", type=float, default=180, help="stop the MIDI byte fuzz after this long")
    ap.add_argument("--flood-seconds", type=float, default=60)
    ap.add_argument("--stuck-events", type=int, default=100_000)
    ap.add_argument("--soak-seconds", type=float, default=600)
    ap.add_argument("--soak-device", default="system", help="system (PortAudio on JACK) or jack (own client)")
    ap.add_argument("--only", help="comma-separated: fuzz,atheris,midi,flood,stuck,soak,peer")
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args(argv)
    if args.quick:
        args.fuzz_inputs, args.atheris_runs, args.atheris_seconds = 20000, 5000, 60
        args.midi_chunks, args.stuck_events, args.soak_seconds = 5000, 4000, 10
        args.flood_seconds = min(args.flood_seconds, 5)
    only = set((args.only or "fuzz,atheris,midi,flood,stuck,soak,peer").split(","))

    import torch

    torch.set_num_threads(1)
    from audio_graph import JackServer

    work = Path(tempfile.mkdtemp(prefix="bench_reliability_"))
    parts = fc.build_fuzz_parts(work / "parts")
    rows = []

    def done(row):
        rows.append(row)
        print(f"# {row['run']}: {json.dumps({k: v for k, v in row.items() if k != 'run'}, default=str)}", flush=True)

    if "fuzz" in only:
        done(run_osc_fuzz(parts, work, args.fuzz_inputs, args.fuzz_seconds))
    if "atheris" in only:
        done(run_atheris(work, args.atheris_runs, args.atheris_seconds))
    if "midi" in only:
        done(run_midi_bytes(parts, work, args.midi_chunks, args.midi_seconds))
    if "stuck" in only:
        done(run_stuck_notes(parts, work, args.stuck_events))
    jack_rows = only & {"midi", "flood", "stuck", "soak", "peer"}
    if jack_rows and JackServer.available():
        # The server's audio process opens PortAudio; this process never does.
        jack = JackServer(SR, BLOCK).start()
        os.environ.update(jack.env())
        try:
            if "midi" in only:
                done(run_midi_jack(parts, work, jack, 10 if args.quick else 60))
            if "stuck" in only:
                done(run_midi_kill(parts, work, 3 if args.quick else 20))
            if "flood" in only:
                done(run_flood(parts, work, jack, args.flood_seconds, 10000))
            if "soak" in only:
                done(run_soak(parts, work, jack, args.soak_seconds, args.soak_device))
            if "peer" in only:
                done(run_peer_soak(jack, args.soak_seconds))
        finally:
            jack.stop()
    print()
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
