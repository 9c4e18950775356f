"""Server benchmarks through a real JACK dummy graph.

1. Note-on latency: OSC /note/on (UDP) to the first captured sample, on a cache hit and
   on a cache miss (rendered at once by the real renderer). Method of
   docs headless-audio.md "Measuring note-on latency": the capture client stores, each
   cycle, ``last_frame_time`` and the first sample above a threshold; the sender reads
   ``frame_time`` right before sending; latency = onset frame - send frame.
2. A held note following the morph: /morph/xy (UDP) to the moment the held voice starts
   crossfading to its new render (seen in the voices' shared memory), for a position
   never visited (rendered then) and for one visited before (from the cache).
3. Callback load with 64 voices: time spent in the audio callback per block (timed by the
   output in the audio process, read from shared memory) against the block period, the xruns seen in ``--seconds`` (PortAudio underflows and JACK xruns),
   and the same block mixed by a bare peer (64 preallocated buffers summed with no
   interpolation, envelope or limiter) in the same process, as a floor.

    .venv/bin/python benchmarks/bench_server.py [--model DIR --library FILE] [--seconds 60]

Without --model, a small untrained CAE and its library are built from a few FluidSynth
notes in a temporary folder (latency does not depend on what the model learned).
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from audio_graph import JackServer, portaudio_output_port  # noqa: E402

RATE, PERIOD = 48000, 256
THRESHOLD = 1e-4


def small_model(root: Path) -> tuple[Path, Path]:
    import torch

    from morphsynth.main import main
    from morphsynth.training.dataset_soundfont import build_soundfont_dataset
    from morphsynth.core.model import CaeConfig
    from morphsynth.training.soundfont import FLUID_R3
    from morphsynth.core.synth_model import build_network, save_synth_model

    data = root / "data"
    build_soundfont_dataset([FLUID_R3], data, programs=[0, 19, 40, 73], pitches=(48, 72), pitch_step=12,
                            velocities=[100], seed=0)
    torch.manual_seed(0)
    net = build_network("cae", CaeConfig(latent_dim=8, width=8, max_channels=32, cond_dim=32))
    save_synth_model(net, root / "model", name="bench-small")
    lib = root / "model" / "library.safetensors"
    main(["library", "build", "--model", str(root / "model"), "--data", str(data), "--out", str(lib)])
    return root / "model", lib


class OnsetCapture:
    """A JACK input whose callback notes the frame of the first sample above THRESHOLD."""

    def __init__(self, server: JackServer):
        import jack

        self.client = jack.Client("bench-capture", servername=server.name, no_start_server=True)
        self.port = self.client.inports.register("in")
        self.onsets: list[int] = []
        self.armed = False
        self.xruns = 0

        @self.client.set_process_callback
        def process(frames):
            if self.armed:
                x = self.port.get_array()
                hits = np.flatnonzero(np.abs(x) > THRESHOLD)
                if hits.size:
                    self.onsets.append(self.client.last_frame_time + int(hits[0]))
                    self.armed = False

        @self.client.set_xrun_callback
        def xrun(delay):
            self.xruns += 1

    def start(self) -> None:
        self.client.activate()
        self.client.connect(portaudio_output_port(self.client), self.port)

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def latency_rows(server, capture: OnsetCapture, trials: int) -> dict[str, list[float]]:
    from pythonosc.udp_client import SimpleUDPClient

    client = SimpleUDPClient("127.0.0.1", server.osc.udp_port)
    rng = random.Random(0)
    results: dict[str, list[float]] = {"hit": [], "miss": []}
    hit_pitch = 60
    server.renderer.render_note(server.renderer.morph, hit_pitch, 100)  # cached: every trigger hits
    miss_pitches = iter(range(30, 30 + trials))                         # each key once: every trigger misses
    for kind in ("hit", "miss"):
        for _ in range(trials):
            pitch = hit_pitch if kind == "hit" else next(miss_pitches)
            time.sleep(rng.uniform(0.0, 0.03))
            capture.onsets.clear()
            capture.armed = True
            sent = capture.client.frame_time
            client.send_message("/note/on", [pitch, 100])
            deadline = time.monotonic() + 10
            while capture.armed and time.monotonic() < deadline:
                time.sleep(0.0005)
            if capture.onsets:
                results[kind].append(capture.onsets[0] - sent)
            client.send_message("/note/off", [pitch])
            time.sleep(0.08)   # 20 ms release, then the graph is quiet again
    return results


def follow_rows(server, trials: int) -> dict[str, list[float]]:
    """Seconds from /morph/xy to the held voice's crossfade, new and visited positions."""
    from pythonosc.udp_client import SimpleUDPClient

    client = SimpleUDPClient("127.0.0.1", server.osc.udp_port)
    engine = server.engine
    client.send_message("/note/on", [60, 100])
    deadline = time.monotonic() + 10
    while engine.active_voices() == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    (voice,) = np.flatnonzero(engine.state == 1)
    rng = random.Random(1)
    new = [(rng.random(), rng.random()) for _ in range(trials)]
    results: dict[str, list[float]] = {"new position (rendered)": [], "visited position (cached)": []}
    for kind, points in (("new position (rendered)", new), ("visited position (cached)", new)):
        for x, y in points:
            server.renderer.queue.wait_idle(10)
            time.sleep(0.05)       # the last crossfade is over
            t0 = time.perf_counter()
            client.send_message("/morph/xy", [x, y])
            deadline = time.monotonic() + 10
            while engine.swap_left[voice] == 0 and time.monotonic() < deadline:
                time.sleep(0.0002)
            if engine.swap_left[voice] > 0:
                results[kind].append(time.perf_counter() - t0)
    client.send_message("/note/off", [60])
    time.sleep(0.1)
    return results


def load_run(server, seconds: float, rendering: bool = False) -> dict:
    """64 looping voices for ``seconds``; with ``rendering``, the renderer works meanwhile."""
    engine = server.engine
    callbacks0 = engine.callbacks
    note = server.renderer.render_note(server.renderer.morph, 60, 100)
    xruns0 = engine.xruns
    for i in range(64):
        engine.note_on(36 + i % 48, note)
    stop = threading.Event()
    renders = [0]

    def render_loop():
        # Morph changes make the renderer pre-render while notes play: the same contention.
        from morphsynth.server.morph import Morph

        r = server.renderer
        names = r.library.names
        k = 0
        while not stop.is_set():
            k += 1
            # A new knob value every time (steps coarser than the cache's 1/256): a real render.
            knob = -3.0 + (0.013 * k) % 6.0
            r.render(Morph(tuple(names[:2]), (1.0, 1.0), knobs=(knob,)), 60, 100)
            renders[0] += 1

    worker = threading.Thread(target=render_loop, daemon=True)
    if rendering:
        worker.start()
    time.sleep(seconds)
    stop.set()
    if rendering:
        worker.join()
    n = engine.callbacks - callbacks0
    times = engine.callback_times()[-n:]
    active = engine.active_voices()
    engine.panic()
    period = PERIOD / RATE
    t = np.asarray(times[len(times) // 10:])   # skip the first blocks (voices starting)
    # The peer: the same 64 voices summed straight from their buffers, no DSP at all.
    bufs = [note.audio[i * 97: i * 97 + 44100] for i in range(64)]
    mix = np.zeros(PERIOD, np.float32)
    peer = []
    for k in range(2000):
        t0 = time.perf_counter()
        mix.fill(0.0)
        off = (k * PERIOD) % 40000
        for b in bufs:
            mix += b[off:off + PERIOD]
        peer.append(time.perf_counter() - t0)
    return {"blocks": len(times), "mean_ms": t.mean() * 1e3, "p99_ms": np.percentile(t, 99) * 1e3,
            "max_ms": t.max() * 1e3, "load": t.mean() / period, "xruns": engine.xruns - xruns0,
            "active": active, "peer_ms": float(np.median(peer)) * 1e3, "renders": renders[0]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="model folder (default: a small untrained CAE built now)")
    ap.add_argument("--library", help="library (default: <model>/library.safetensors)")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the 64-voice load run")
    ap.add_argument("--trials", type=int, default=30, help="note-ons per latency row")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from morphsynth.server.app import SynthServer
    from morphsynth.server.library import Library
    from morphsynth.server.renderer import Renderer
    from morphsynth.server.server_config import ServeConfig
    from morphsynth.core.synth_model import load_synth_model

    tmp = tempfile.TemporaryDirectory()
    if args.model:
        model_dir = Path(args.model)
        lib = Path(args.library) if args.library else model_dir / "library.safetensors"
    else:
        model_dir, lib = small_model(Path(tmp.name))
    model = load_synth_model(model_dir)
    renderer = Renderer(model, Library.load(lib, model), out_rate=RATE, prerender_all=False)

    jack_server = JackServer(RATE, PERIOD).start()
    os.environ.update(jack_server.env())   # the server's audio process opens PortAudio there
    cfg = ServeConfig()
    cfg.audio.device = "system"
    cfg.audio.block_size = PERIOD
    cfg.midi.port = "none"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        cfg.osc.tcp_port = s.getsockname()[1]
    cfg.osc.port = 0
    cfg.envelope.attack = 0.0
    cfg.envelope.release = 0.02
    server = SynthServer(cfg, renderer, model_name=model.name).start()
    capture = OnsetCapture(jack_server)
    try:
        capture.start()
        time.sleep(0.3)
        lat = latency_rows(server, capture, args.trials)
        follow = follow_rows(server, args.trials)
        jack0 = capture.xruns
        load = load_run(server, args.seconds)
        load["jack_xruns"] = capture.xruns - jack0
        jack0 = capture.xruns
        busy = load_run(server, args.seconds, rendering=True)
        busy["jack_xruns"] = capture.xruns - jack0
    finally:
        capture.close()
        server.stop()
        jack_server.stop()
        tmp.cleanup()

    block_ms = PERIOD / RATE * 1e3
    print(f"\nmorphsynth server, JACK dummy {RATE} Hz, period {PERIOD} ({block_ms:.2f} ms), model {model.name}, "
          f"torch threads 1")
    print("\nnote-on (OSC UDP) -> first captured sample")
    print(f"| case | n | median blocks | median ms | max ms | ratio to one period |")
    print("|---|---|---|---|---|---|")
    for kind, frames in lat.items():
        if not frames:
            print(f"| {kind} | 0 | - | - | - | - |")
            continue
        f = np.asarray(frames, np.float64)
        med = float(np.median(f))
        print(f"| {kind} | {len(f)} | {med / PERIOD:.2f} | {med / RATE * 1e3:.1f} | {f.max() / RATE * 1e3:.1f} | "
              f"{med / PERIOD:.2f}x |")
    print("\nreference (headless-audio.md, same method, period 256): FluidSynth 3.5-3.7 ms median, "
          "scsynth 2.1-3.6 ms median")
    print("\n/morph/xy -> the held note starts crossfading to its new render")
    print("| case | n | median ms | max ms | median blocks |")
    print("|---|---|---|---|---|")
    for kind, secs in follow.items():
        s = np.asarray(secs) * 1e3 if secs else np.full(1, np.nan)
        print(f"| {kind} | {len(secs)} | {np.median(s):.1f} | {s.max():.1f} | {np.median(s) / block_ms:.1f} |")
    print(f"\ncallback load, {load['active']} voices for {args.seconds:g} s each "
          f"(callback in the audio process: {cfg.audio.own_process})")
    print("| case | blocks | mean ms | p99 ms | max ms | load (mean / period) | xruns (PortAudio) "
          "| xruns (JACK, all clients) | bare-sum peer ms | ratio to peer |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, row in (("voices only", load), (f"while rendering ({busy['renders']} notes)", busy)):
        print(f"| {name} | {row['blocks']} | {row['mean_ms']:.3f} | {row['p99_ms']:.3f} | {row['max_ms']:.3f} | "
              f"{row['load'] * 100:.1f}% | {row['xruns']} | {row['jack_xruns']} | {row['peer_ms']:.3f} | "
              f"{row['mean_ms'] / row['peer_ms']:.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
