"""The audio output in a process of its own.

In one process the audio callback waits for the interpreter lock whenever OSC parsing,
MIDI or a render holds it; under an OSC flood that is most of the time, and blocks come
late. :class:`AudioProcess` runs the output (:func:`~morphsynth.server.audio_io.open_output`:
a sounddevice stream, our own JACK client or the null clock) in a
spawned child whose only busy thread is the callback (the WAV file of ``--record`` is
written by the parent, from a shared ring). The child's
:class:`~morphsynth.server.engine.Engine` is attached to the control side's
:mod:`shared memory <morphsynth.server.engine_memory>`: commands, voices and counters are
the same arrays in both processes, notes are played from the shared note pool.

The child ignores Ctrl-C (the parent stops it in order), exits when the parent goes away
(its end of the pipe closes), and is killed if it does not stop in time (PortAudio can
block for good once its JACK server died). If it dies while serving, or its PortAudio
stream loses the device, the parent starts a new one (every second until the device is
back), which picks up the sounding voices from shared memory.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict

from morphsynth.core.errors import MorphsynthError

log = logging.getLogger("morphsynth.audio")

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 3.0
STALL_S = 1.0   # no callback for this long: a PortAudio stream has lost its device


class AudioProcess:
    """Parent-side handle: ``start()``, ``stop()``, ``device_name``, ``stream_lost``.

    ``engine``: the control side's Engine, made with ``shared=``; ``engine_args``: the
    keyword arguments it was made with, so the child builds the same engine. The child is
    ``python -m morphsynth.server.audio_process`` (not multiprocessing, which would import
    the caller's main module again); it reads its settings as one JSON line on stdin,
    answers ``ok <device>`` or ``error <message>`` on stdout, and stops on ``stop`` or
    when stdin closes.
    """

    def __init__(self, engine, engine_args: dict, device: str, sample_rate: int, block_size: int,
                 channels: int = 2, latency: float | None = None, recorder=None, restart: bool = True,
                 on_restart=None):
        if engine._shared is None:
            raise MorphsynthError("audio: an AudioProcess needs an engine made with shared memory")
        self.engine = engine
        arrays, pool = engine._shared
        args = dict(engine_args)
        if args.get("adsr") is not None:
            args["adsr"] = asdict(args["adsr"])
        record = recorder.feed_spec() if recorder is not None else None
        self._spec = json.dumps({
            "engine_args": args, "layout": arrays.layout,
            "arrays_fd": arrays.file.fd, "pool_fd": pool.file.fd, "pool_slots": pool.n_slots,
            "pool_samples": pool.slot_samples, "device": device, "sample_rate": sample_rate,
            "block_size": block_size, "channels": channels, "latency": latency, "record": record,
        })
        self._fds = [arrays.file.fd, pool.file.fd] + ([record[1]] if record is not None else [])
        self._spec_device = device
        self.restart = restart
        # Called after a restart: the envelope and gain are the engine's own settings, set
        # through the ring, so the control side sends its current ones again.
        self.on_restart = on_restart
        self.restarts = 0
        self._base_name = device
        self._proc: subprocess.Popen | None = None
        self._running = False
        self._watch: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def device_name(self) -> str:
        return self._base_name

    @property
    def stream_lost(self) -> bool:
        """The device is gone (the child says so), or the child itself died."""
        proc = self._proc
        return self.engine.device_lost or (self._running and (proc is None or proc.poll() is not None))

    @property
    def lost(self) -> int:
        """Times the device went away (our own JACK client counts them)."""
        return self.engine.device_losses

    @property
    def recovered(self) -> int:
        return self.engine.device_recoveries

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> "AudioProcess":
        self._spawn()
        self._running = True
        if self.restart:
            self._watch = threading.Thread(target=self._watch_child, name="audio-process-watch", daemon=True)
            self._watch.start()
        return self

    def _spawn(self) -> None:
        # A session of its own: Ctrl-C in the terminal reaches only the server, which stops
        # the child in order (and the child also ignores SIGINT).
        proc = subprocess.Popen([sys.executable, "-m", "morphsynth.server.audio_process"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                                close_fds=True, pass_fds=self._fds, start_new_session=True)
        try:
            proc.stdin.write(self._spec + "\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_S)
            line = proc.stdout.readline() if ready else ""
        except (BrokenPipeError, OSError):
            line = ""
        kind, _, text = line.strip().partition(" ")
        if kind != "ok":
            if kind != "error":
                text = (f"audio: the audio process did not start in {START_TIMEOUT_S:g} s" if proc.poll() is None
                        else f"audio: the audio process died while starting (exit code {proc.poll()})")
            _end(proc)
            raise MorphsynthError(text)
        self._base_name = text
        self._proc = proc

    def _watch_child(self) -> None:
        # PortAudio cannot reopen a stream whose host went away (its JACK server killed, a
        # USB interface pulled): its callbacks just stop. A new process initialises
        # PortAudio afresh and can. Our own JACK client reconnects by itself, and the null
        # clock has no device to lose.
        reopen_lost_device = self._spec_device not in ("jack", "null")
        failing = False
        seen, seen_at = self.engine.callbacks, time.monotonic()
        while self._running:
            proc = self._proc
            if proc is not None:
                try:
                    proc.wait(0.25)
                    why = f"ended (exit code {proc.returncode})"
                except subprocess.TimeoutExpired:
                    now, callbacks = time.monotonic(), self.engine.callbacks
                    if callbacks != seen:
                        seen, seen_at = callbacks, now
                    if not (reopen_lost_device and now - seen_at > STALL_S):
                        continue
                    self.engine.device_lost = True
                    why = f"has had no audio callback for {STALL_S:g} s (device lost)"
            else:
                time.sleep(1.0)
            with self._lock:
                if not self._running:
                    return
                self.engine.clock_running = False
                if proc is not None:
                    log.warning("audio: the audio process %s; starting it again", why)
                    _end(proc)
                self._proc = None
                try:
                    self._spawn()
                except MorphsynthError as exc:
                    self.engine.device_lost = True
                    if not failing:
                        log.warning("%s; trying again every second", exc)
                    failing = True
                    continue
                self.engine.device_lost = False
                seen, seen_at = self.engine.callbacks, time.monotonic()
                failing = False
                self.restarts += 1
                if self.on_restart is not None:
                    self.on_restart()
                log.warning("audio: playing again on '%s'", self._base_name)

    def stop(self) -> None:
        # Said once more by `serve` on the way out: the device went away and was left as it was.
        self.abandoned = self.stream_lost
        with self._lock:
            self._running = False
            proc, self._proc = self._proc, None
        if self._watch is not None:
            self._watch.join(2.0)
        if proc is not None:
            _end(proc, "stop\n")
        self.engine.clock_running = False


def check_output_device(device: str) -> None:
    """MorphsynthError unless ``device`` names an output, asked of a short-lived child so
    this process never initialises PortAudio (whose JACK client aborts the interpreter
    at exit once the JACK server is gone)."""
    proc = subprocess.run([sys.executable, "-m", "morphsynth.server.audio_process"],
                          input=json.dumps({"check": device}) + "\n", capture_output=True, text=True,
                          timeout=START_TIMEOUT_S)
    kind, _, text = proc.stdout.strip().partition(" ")
    if kind != "ok":
        raise MorphsynthError(text if kind == "error" else
                              f"audio: cannot check device '{device}' (exit code {proc.returncode})")


def _end(proc: subprocess.Popen, message: str | None = None) -> None:
    """Ask the child to stop (or just close its stdin); kill it if it does not exit in time.
    PortAudio hangs in stop/terminate once its JACK server died, and nothing of value is
    left in the child then (the recording is written by the parent)."""
    try:
        if message:
            proc.stdin.write(message)
        proc.stdin.close()
    except (BrokenPipeError, OSError, ValueError):
        pass
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(STOP_TIMEOUT_S)
    if proc.stdout is not None:
        proc.stdout.close()


def _layout(spec: dict) -> dict:
    return {k: (tuple(shape), dtype) for k, (shape, dtype) in spec.items()}


def child_main() -> int:
    """The audio process: attach, open the output, report, serve until told or orphaned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = sys.stdout
    # Anything else printed (a library's warning) must not be taken for the answer.
    sys.stdout = sys.stderr
    try:
        spec = json.loads(sys.stdin.readline())
        from morphsynth.server.audio_io import RecordFeed, find_output_device, open_output

        if "check" in spec:
            find_output_device(spec["check"])
            out.write("ok\n")
            out.flush()
            return 0
        from morphsynth.server.engine import Engine
        from morphsynth.server.envelope import Adsr
        from morphsynth.server.engine_memory import NotePool, SharedArrays

        arrays = SharedArrays.attach(_layout(spec["layout"]), spec["arrays_fd"])
        pool = NotePool.attach(spec["pool_fd"], spec["pool_slots"], spec["pool_samples"])
        args = dict(spec["engine_args"])
        if args.get("adsr") is not None:
            args["adsr"] = Adsr(**args["adsr"])
        engine = Engine(**args, shared=(arrays, pool))
        recorder = None
        if spec["record"] is not None:
            layout, fd = spec["record"]
            recorder = RecordFeed(0, SharedArrays.attach(_layout(layout), fd))
        output = open_output(engine, spec["device"], spec["sample_rate"], spec["block_size"], spec["channels"],
                             spec["latency"], recorder)
        output.start()
    except BaseException as exc:  # reported to the parent as its one-line error
        text = str(exc) if isinstance(exc, MorphsynthError) else f"audio: {type(exc).__name__}: {exc}"
        out.write("error " + " ".join(text.split()) + "\n")
        out.flush()
        return 2
    # The callback makes short-lived Python objects (views, floats) and never a cycle;
    # a collection of the older generations inside it would take milliseconds.
    gc.freeze()
    gc.disable()
    out.write(f"ok {output.device_name}\n")
    out.flush()
    try:
        # Blocked here until told to stop or the parent is gone: no thread of this process
        # but the callback runs Python while it plays (one that woke now and then would
        # hold the GIL the callback needs, and could be preempted while holding it).
        while sys.stdin.readline().strip() not in ("stop", ""):
            pass
    finally:
        output.stop()
        engine.clock_running = False
    return 0


if __name__ == "__main__":
    code = child_main()
    sys.stdout.flush()
    # Skip interpreter teardown: PortAudio's atexit terminate can block once JACK is gone.
    os._exit(code)
