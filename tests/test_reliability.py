"""Stage reliability, short versions (the long runs: benchmarks/bench_reliability.py).

* Error-reply contract: every well-formed but invalid message gets exactly one /fail
  naming its address, and the server then answers /status and plays a note.
* Stuck notes: storms of note-on/off from OSC and MIDI leave no voice after the
  release time, with paired offs and with an all-notes-off at the end.
* The audio callback: nothing it allocates outlives it, it takes no lock and calls
  nothing in threading/queue/logging; NaN/inf/denormals upstream never reach the output.
* Flood: a burst of mixed OSC traffic over real UDP; drops are counted in /status.reply.
"""

import math
import random
import socket
import sys
import threading
import time
import tracemalloc

import numpy as np
import pytest

from fuzz_corpus import CountingSender, assert_still_serving, build_fuzz_server, rss_mb
from morphsynth.core.errors import MorphsynthError
from morphsynth.server.address_space import TABLE
from morphsynth.server.engine import Engine
from morphsynth.server.engine_voices import FREE
from morphsynth.server.envelope import Adsr
from morphsynth.server.midi import MidiMapper
from morphsynth.server.osc_packets import build_message
from morphsynth.server.renderer import RenderedNote
from morphsynth.server.server_config import MidiSettings
from test_audio_support import sine_note

SR = 48000
BLOCK = 256


def pump(engine, blocks):
    out = np.zeros(BLOCK, np.float32)
    for _ in range(blocks):
        engine.process(out)
    return out


def release_blocks(server, margin_s=0.1):
    """Audio blocks that cover the release time (and the click-free fade) plus a margin."""
    seconds = max(server.controls.adsr.release, server.engine.fade_s) + margin_s
    return int(math.ceil(seconds * SR / BLOCK))


# ---------------------------------------------------------------------- error-reply contract

def valid_args(server) -> dict:
    names = server.controls.library_names()
    return {
        "/note/on": [60, 100, 5], "/note/off": [60, 5], "/note/bend": [60, 1.0, 5], "/bend": [1.0],
        "/sustain": [0], "/panic": [], "/morph/sources": names[:2], "/morph/weights": [1.0] * 4,
        "/morph/xy": [0.5, 0.5], "/morph/ramp": [0.0, 1.0, 0.0, 0.0, 0.0], "/morph/interp": ["linear"],
        "/knob": [1, 0.5], "/adsr": [0.01, 0.1, 0.8, 0.3], "/gain": [-6.0],
        "/render": ["ok.wav", 60, 100, 0.5], "/export": ["inst", "sfz", 12, 48, 72], "/library/list": [], "/library/add": ["n.wav", "new"],
        "/status": [], "/notify": [0, 9000], "/reply/port": [9000], "/sync": [1],
        "/note/morph": [60, "x", 0.5, 5], "/morph/follow": [1],
        "/preset/save": ["reliable"], "/preset/load": ["reliable"], "/preset/list": [], "/describe": [],
        "/model/load": ["default", "library.safetensors"], "/library/load": ["library.safetensors"], "/latency": [],
    }


def invalid_variants(address, valid):
    """Well-formed messages that break the table's rules for ``address``: (label, args)."""
    out = []
    args = address.args
    if not (args and args[-1].repeat):
        out.append(("one argument too many", valid + [1]))
    required = [a for a in args if not a.optional]
    if required:
        out.append(("missing argument", valid[:len(required) - 1]))
    for i, a in enumerate(args):
        if i >= len(valid):
            continue

        def swap(value, i=i):
            v = list(valid)
            v[i] = value
            return v
        if a.type in "if":
            out.append((f"{a.name} as a string", swap("x")))
            if a.lo is not None:
                out.append((f"{a.name} below its range", swap(float(a.lo) - max(1.0, abs(float(a.lo))))))
            if a.hi is not None:
                out.append((f"{a.name} above its range", swap(float(a.hi) * 2.0 + 1.0)))
            if a.type == "f":
                out.append((f"{a.name} NaN", swap(float("nan"))))
                out.append((f"{a.name} inf", swap(float("inf"))))
            else:
                out.append((f"{a.name} not an integer", swap(0.5 if a.lo is None or abs(a.lo) > 1e6 else a.lo + 0.5)))
        else:
            out.append((f"{a.name} as a number", swap(5)))
            out.append((f"{a.name} empty", swap("")))
    return out


def test_every_well_formed_invalid_message_gets_exactly_one_fail_naming_its_address(fuzz_server):
    valid = valid_args(fuzz_server)
    assert set(valid) == {a.path for a in TABLE}
    checked = 0
    for address in TABLE:
        for label, args in invalid_variants(address, valid[address.path]):
            sender = CountingSender()
            fuzz_server.osc.feed(build_message(address.path, *args), sender)
            assert len(sender.replies) == 1, (address.path, label, sender.replies)
            assert len(sender.replies[0]) == 3, (address.path, label, sender.replies)
            kind, path, reason = sender.replies[0]
            assert (kind, path) == ("/fail", address.path), (label, sender.replies)
            assert reason and "internal error" not in reason, (address.path, label, reason)
            checked += 1
    assert checked > 100
    assert_still_serving(fuzz_server)


@pytest.mark.parametrize("address, args, reason", [
    ("/no/such/address", [1], "unknown address"),
    ("/morph/sources", ["no-such-source"], "no-such-source"),
    ("/morph/weights", [1.0, 2.0], "weights"),
    ("/morph/weights", [0.0, 0.0, 0.0, 0.0], "zero"),
    ("/morph/interp", ["slerp"], "slerp"),
    ("/morph/ramp", [0.0, 1.0, 1.0], "multiple"),
    ("/render", ["../x.wav", 60, 100], "'..'"),
    ("/library/add", ["absent.wav", "n"], "absent.wav"),
])
def test_semantically_invalid_message_gets_one_fail_and_the_server_plays_on(fuzz_server, address, args, reason):
    from osc_doubles import CollectingSender

    sender = CollectingSender()
    fuzz_server.osc.feed(build_message(address, *args), sender)
    fail = sender.wait_for("/fail", timeout=10)
    assert fail is not None and reason in fail[2], sender.replies
    time.sleep(0.05)   # an asynchronous command could only answer twice after this
    assert len(sender.replies) == 1, sender.replies
    assert_still_serving(fuzz_server)


# ---------------------------------------------------------------------- stuck notes

PITCHES = tuple(range(48, 73, 3))
VELOCITIES = (80, 110)


def warm_cache(server):
    """Render every (pitch, velocity) the storms use, so notes start without a miss."""
    c = server.controls
    for p in PITCHES:
        for v in VELOCITIES:
            c.note_on(p, v, 0, 999)
            c.note_off(p, 0, 999)
    assert c.wait_requests(120.0)
    server.engine.panic()
    pump(server.engine, release_blocks(server))
    for p in PITCHES:
        for v in VELOCITIES:
            assert server.renderer.lookup(p, v) is not None


def note_storm(server, events, seed, pair_offs=True):
    """Random note-on/off, sustain and bend from OSC (channel 0, note ids) and MIDI
    (channels 1-15, velocity-0 note-ons as offs), the engine pumped as the audio thread
    would. With ``pair_offs`` every note-on gets its note-off before the end."""
    import mido

    rng = random.Random(seed)
    mapper = MidiMapper(server.controls, MidiSettings())
    osc = server.osc
    held_osc: dict[int, int] = {}            # note id -> pitch
    held_midi: set[tuple[int, int]] = set()  # (channel, pitch)
    next_id = 0
    sender = CountingSender()
    for i in range(events):
        r = rng.random()
        use_midi = rng.random() < 0.5
        if r < 0.03:
            on = rng.random() < 0.5
            if use_midi:
                mapper.handle(mido.Message("control_change", channel=rng.randrange(1, 16), control=64,
                                           value=127 if on else 0))
            else:
                osc.feed(build_message("/sustain", int(on)), sender)
        elif r < 0.06:
            if use_midi:
                mapper.handle(mido.Message("pitchwheel", channel=rng.randrange(16), pitch=rng.randrange(-8192, 8192)))
            else:
                osc.feed(build_message("/bend", rng.uniform(-2, 2)), sender)
        elif r < 0.5 and (held_osc or held_midi):
            if held_midi and (use_midi or not held_osc):
                ch, p = rng.choice(sorted(held_midi))
                held_midi.discard((ch, p))
                kind = "note_off" if rng.random() < 0.5 else "note_on"
                mapper.handle(mido.Message(kind, channel=ch, note=p, velocity=0))
            else:
                nid = rng.choice(list(held_osc))
                p = held_osc.pop(nid)
                osc.feed(build_message("/note/off", p, nid), sender)
        elif not pair_offs and r < 0.75:
            # Unpaired: offs for keys that are not held, duplicate ons.
            p = rng.choice(PITCHES)
            if use_midi:
                mapper.handle(mido.Message("note_off", channel=rng.randrange(1, 16), note=p))
            else:
                osc.feed(build_message("/note/off", p), sender)
        else:
            p, v = rng.choice(PITCHES), rng.choice(VELOCITIES)
            if use_midi:
                ch = rng.randrange(1, 16)
                if (ch, p) in held_midi and pair_offs:
                    continue
                mapper.handle(mido.Message("note_on", channel=ch, note=p, velocity=v))
                held_midi.add((ch, p))
            else:
                osc.feed(build_message("/note/on", p, v, next_id), sender)
                held_osc[next_id] = p
                next_id += 1
        if i % 8 == 0:
            pump(server.engine, 1)
    if pair_offs:
        for nid, p in held_osc.items():
            osc.feed(build_message("/note/off", p, nid), sender)
        for ch, p in held_midi:
            mapper.handle(mido.Message("note_off", channel=ch, note=p))
        osc.feed(build_message("/sustain", 0), sender)
        for ch in range(1, 16):
            mapper.handle(mido.Message("control_change", channel=ch, control=64, value=0))
    assert not [r for r in sender.replies if r[0] == "/fail"], sender.replies[:3]
    assert server.engine.dropped_commands == 0
    return mapper


def test_paired_note_storm_from_osc_and_midi_leaves_no_voice_after_the_release_time(fuzz_server):
    warm_cache(fuzz_server)
    note_storm(fuzz_server, events=6000, seed=11, pair_offs=True)
    pump(fuzz_server.engine, 2)
    pump(fuzz_server.engine, release_blocks(fuzz_server))
    assert fuzz_server.engine.active_voices() == 0
    assert np.all(fuzz_server.engine.state == FREE)


@pytest.mark.parametrize("ender", ["midi all-notes-off", "osc panic"])
def test_random_storm_then_all_notes_off_leaves_no_voice_after_the_release_time(fuzz_server, ender):
    import mido

    warm_cache(fuzz_server)
    mapper = note_storm(fuzz_server, events=4000, seed=12, pair_offs=False)
    assert fuzz_server.engine.active_voices() > 0
    if ender == "osc panic":
        fuzz_server.osc.feed(build_message("/panic"), CountingSender())
    else:
        for ch in range(16):
            mapper.handle(mido.Message("control_change", channel=ch, control=123, value=0))
    pump(fuzz_server.engine, release_blocks(fuzz_server))
    assert fuzz_server.engine.active_voices() == 0
    assert np.all(fuzz_server.engine.state == FREE)


# ---------------------------------------------------------------------- the audio callback

def busy_engine():
    """64 voices: held and looping, bent, under pressure, some releasing."""
    eng = Engine(SR, polyphony=64, adsr=Adsr(0.01, 0.1, 0.7, 2.0))
    for i in range(64):
        eng.note_on(30 + i, sine_note(100.0 + 13 * i, amp=0.3), channel=i % 16)
    eng.set_bend(0.7)
    eng.set_bend(-1.0, channel=3)
    eng.set_pressure(1.3, channel=5)
    for i in range(0, 64, 4):
        eng.note_off(30 + i, channel=i % 16)
    pump(eng, 900)   # past loop_end (1.5 s at 48 kHz / 256): voices loop
    return eng


def test_audio_callback_allocates_nothing_that_outlives_it_and_its_memory_stays_flat():
    eng = busy_engine()
    out = np.zeros(BLOCK, np.float32)
    engine_file = sys.modules[Engine.__module__].__file__
    keep = [tracemalloc.Filter(True, engine_file)]
    tracemalloc.start()
    try:
        for _ in range(50):
            eng.process(out)
        first = tracemalloc.take_snapshot().filter_traces(keep)
        for _ in range(500):
            eng.process(out)
        last = tracemalloc.take_snapshot().filter_traces(keep)
    finally:
        tracemalloc.stop()
    grew = sum(s.size_diff for s in last.compare_to(first, "lineno"))
    # One object kept per callback would be >= 8 KB after 500 blocks; what moves is
    # numpy's cache of tiny array buffers (tens of bytes either way).
    assert grew < 1024, grew
    assert eng.active_voices() == 48          # the held voices, looping; the released ones ended


def test_audio_callback_takes_no_lock_and_calls_nothing_in_threading_queue_or_logging():
    eng = busy_engine()
    # Commands in the ring too: the callback drains them.
    for i in range(32):
        eng.note_off(30 + i, channel=i % 16)
        eng.note_on(30 + i, sine_note(200.0 + i, amp=0.3), channel=i % 16)
    out = np.zeros(BLOCK, np.float32)
    seen = []
    forbidden_modules = ("threading", "queue", "logging", "_thread")

    def profile(frame, event, arg):
        if event == "call":
            module = frame.f_globals.get("__name__", "")
            if module.split(".")[0] in forbidden_modules:
                seen.append(f"{module}.{frame.f_code.co_name}")
        elif event == "c_call":
            name = getattr(arg, "__qualname__", getattr(arg, "__name__", ""))
            owner = type(getattr(arg, "__self__", None)).__name__
            if "acquire" in name or "lock" in owner.lower() or name in ("sleep", "print", "write"):
                seen.append(f"{owner}.{name}")

    lock = threading.Lock()
    sys.setprofile(profile)
    try:
        with lock:   # proves the profiler sees a lock being taken
            pass
        for _ in range(200):
            eng.process(out)
    finally:
        sys.setprofile(None)
    assert seen[:1] and "lock" in seen[0].lower()          # the probe itself
    assert seen[1:] == [], sorted(set(seen[1:]))


def test_nan_inf_and_denormals_upstream_never_reach_the_output():
    n = 4 * SR
    bad = np.full(n, 1e30, np.float32)
    bad[::7] = np.nan
    bad[::11] = np.inf
    bad[::13] = -np.inf
    tiny = np.full(n, 1e-42, np.float32)        # a float32 denormal
    eng = Engine(SR, gain_db=24.0)
    eng.note_on(60, RenderedNote(bad, SR, 3 * SR, SR, 2 * SR))
    eng.note_on(62, RenderedNote(tiny, SR, 3 * SR, SR, 2 * SR))
    for value in (float("nan"), float("inf"), -float("inf")):
        calls = [lambda: eng.set_bend(value), lambda: eng.set_pressure(value, 2),
                 lambda: eng.set_note_bend(60, value)]
        if value != -float("inf"):   # -inf dB is plain silence
            calls.append(lambda: eng.set_gain_db(value))
        for call in calls:
            with pytest.raises(MorphsynthError, match="not a finite"):
                call()
    outs = np.concatenate([pump(eng, 1).copy() for _ in range(200)])
    assert np.all(np.isfinite(outs)) and np.max(np.abs(outs)) <= 1.0
    nonzero = np.abs(outs[outs != 0])
    assert nonzero.size == 0 or nonzero.min() >= np.finfo(np.float32).tiny
    # Only the denormal note left: its output is exact silence, not denormals.
    eng.note_off(60)
    quiet = Engine(SR, gain_db=0.0)
    quiet.note_on(62, RenderedNote(tiny, SR, 3 * SR, SR, 2 * SR))
    assert np.all(pump(quiet, 20) == 0.0)


# ---------------------------------------------------------------------- flood

def test_udp_flood_of_mixed_messages_is_counted_and_the_server_answers_after(fuzz_parts, tmp_path):
    s = build_fuzz_server(*fuzz_parts, tmp_path)
    s.start()
    try:
        port = s.osc.udp_port
        rss0 = rss_mb()
        rng = random.Random(4)
        names = s.controls.library_names()
        mix = [build_message("/note/on", p, 100) for p in range(48, 73)]
        mix += [build_message("/note/off", p) for p in range(48, 73)]
        mix += [build_message("/morph/xy", x / 10, 0.5) for x in range(11)]
        mix += [build_message("/render", f"flood{i}.wav", 60, 100, 0.1) for i in range(4)]
        mix += [build_message("/morph/sources", *names[:2]), build_message("/bend", 0.5)]
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sent = 0
        start = time.monotonic()
        while sent < 20000:
            # 10,000 messages per second; a slow sender sends in bigger bursts, never fewer.
            while sent < min(20000, int((time.monotonic() - start) * 10000)):
                sock.sendto(rng.choice(mix), ("127.0.0.1", port))
                sent += 1
            time.sleep(0.002)
        sock.close()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as q:
            q.settimeout(10)
            q.sendto(build_message("/panic"), ("127.0.0.1", port))
            time.sleep(0.5)
            q.sendto(build_message("/status"), ("127.0.0.1", port))
            while True:
                data, _ = q.recvfrom(65536)
                if data.startswith(b"/status.reply"):
                    break
        from pythonosc.osc_message import OscMessage

        reply = OscMessage(data).params
        queue_length, dropped = reply[5], reply[6]
        print(f"\nflood: {sent} sent in {time.monotonic() - start:.1f} s, render queue {queue_length}, dropped {dropped} "
              f"(kernel {s.osc.kernel_dropped}), xruns {s.engine.xruns}, RSS {rss0:.0f} -> {rss_mb():.0f} MB")
        assert dropped >= s.osc.kernel_dropped >= 0
        assert queue_length <= 256 + 64        # render queue + job queue bounds
        assert s.osc._threads[0].is_alive()
    finally:
        s.stop()
