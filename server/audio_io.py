"""Audio output: a sounddevice stream, or a null clock; and WAV recording.

Both outputs call :meth:`Engine.process` once per block. The null clock is a
thread paced by ``time.monotonic`` so headless machines run the same engine in
real time. :class:`Recorder` takes blocks from the audio thread into a
preallocated ring (single producer, single consumer; no locks on the audio side)
and a writer thread appends them to a WAV file with soundfile.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from morphsynth.core.errors import MorphsynthError
from morphsynth.server.engine import Engine
from morphsynth.server.latency import jack_playback_latency_s, seconds_to_ns
from morphsynth.server.native_noise import jack_module

NO_DEVICE_HINT = ("run with --audio null to play without a device "
                  "(add --record out.wav to keep what is played)")


class RecordFeed:
    """The audio side of a recording: a preallocated ring the callback copies blocks into.

    Single producer (the audio thread), single consumer (:class:`Recorder`'s writer); no
    locks. ``arrays``: None keeps the ring in this process, else a
    :class:`~morphsynth.server.engine_memory.SharedArrays` with :meth:`layout`'s arrays, so
    an audio process can feed a writer in another process.
    """

    def __init__(self, size: int, arrays=None):
        if arrays is None:
            self.ring = np.zeros(size, np.float32)
            self.counters = np.zeros(3, np.int64)
        else:
            self.ring, self.counters = arrays.arrays["ring"], arrays.arrays["counters"]
        self.arrays = arrays

    @staticmethod
    def layout(size: int) -> dict:
        return {"ring": ((size,), "<f4"), "counters": ((3,), "<i8")}   # write, read, overflows

    def push(self, block: np.ndarray) -> None:
        """Audio thread: copy ``block`` ``[frames]`` into the ring (dropped if the writer lags)."""
        n = block.shape[0]
        ring, counters = self.ring, self.counters
        size = ring.shape[0]
        write = int(counters[0])
        if write - int(counters[1]) + n > size:
            counters[2] += 1
            return
        start = write % size
        first = min(n, size - start)
        ring[start:start + first] = block[:first]
        if first < n:
            ring[:n - first] = block[first:]
        # Publishing the index last makes the copied samples visible to the writer.
        counters[0] = write + n


class Recorder:
    """WAV writer fed from the audio thread through a :class:`RecordFeed`.

    ``shared``: the feed lives in shared memory (``feed_spec()`` tells an audio process
    where), so the file is written here while the callback runs elsewhere.
    """

    def __init__(self, path: str | Path, sample_rate: int, buffer_s: float = 4.0, shared: bool = False):
        import soundfile as sf

        self.path = Path(path)
        if self.path.suffix.lower() != ".wav":
            raise MorphsynthError(f"--record: '{path}' must end in .wav")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = sf.SoundFile(str(self.path), "w", samplerate=int(sample_rate), channels=1,
                                      subtype="FLOAT", format="WAV")
        except (OSError, RuntimeError) as exc:
            raise MorphsynthError(f"--record: cannot write '{path}' ({exc})") from None
        self.sample_rate = int(sample_rate)
        size = max(4096, int(buffer_s * sample_rate))
        arrays = None
        if shared:
            from morphsynth.server.engine_memory import SharedArrays

            arrays = SharedArrays.create(RecordFeed.layout(size))
        self.feed = RecordFeed(size, arrays)
        self.push = self.feed.push
        self.frames_written = 0
        self._running = True
        self._thread = threading.Thread(target=self._run, name="wav-writer", daemon=True)
        self._thread.start()

    def feed_spec(self) -> tuple[dict, int]:
        """(layout, descriptor) an audio process attaches its :class:`RecordFeed` to."""
        arrays = self.feed.arrays
        if arrays is None:
            raise MorphsynthError("--record: this recorder's ring is not shared")
        return arrays.layout, arrays.file.fd

    @property
    def overflows(self) -> int:
        return int(self.feed.counters[2])

    def _drain(self) -> None:
        ring, counters = self.feed.ring, self.feed.counters
        size = ring.shape[0]
        end = int(counters[0])
        read = int(counters[1])
        while read < end:
            start = read % size
            count = min(end - read, size - start)
            self._file.write(ring[start:start + count])
            read += count
            counters[1] = read
            self.frames_written += count

    def _run(self) -> None:
        while self._running:
            time.sleep(0.05)
            self._drain()

    def close(self) -> None:
        """Write what is left and close the file, so the WAV header is complete."""
        if not self._running:
            return
        self._running = False
        self._thread.join(2.0)
        self._drain()
        self._file.close()
        if self.feed.arrays is not None:
            self.feed.arrays.file.close()


class NullOutput:
    """No device: a thread calls the engine block by block in real time."""

    def __init__(self, engine: Engine, sample_rate: int, block_size: int, recorder: Recorder | None = None):
        self.engine = engine
        self.sample_rate = sample_rate
        self.block_size = block_size
        self.recorder = recorder
        self.device_name = "null"
        self._out = np.zeros(block_size, np.float32)
        self._running = False
        self._thread: threading.Thread | None = None

    def start(self) -> "NullOutput":
        self._running = True
        self.engine.block_size = self.block_size
        self.engine.output_latency_ns = 0   # nothing between the mix and its consumer but the block
        self.engine.clock_running = True
        self._thread = threading.Thread(target=self._run, name="null-clock", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        period = self.block_size / self.sample_rate
        next_t = time.monotonic()
        while self._running:
            t0 = time.perf_counter()
            self.engine.process(self._out)
            if self.recorder is not None:
                self.recorder.push(self._out)
            self.engine.time_callback(time.perf_counter() - t0)
            next_t += period
            wait = next_t - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            elif wait < -4 * period:
                # Far behind (a stalled machine): count it like a device xrun and resync.
                self.engine.xruns += 1
                next_t = time.monotonic()

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join(2.0)
        self.engine.clock_running = False


def find_output_device(name: str):
    """The sounddevice index for ``name`` (``default`` -> None); MorphsynthError if none fits."""
    import sounddevice as sd

    try:
        devices = sd.query_devices()
    except Exception as exc:
        raise MorphsynthError(f"audio: cannot list devices ({exc}); {NO_DEVICE_HINT}") from None
    outputs = [(i, d) for i, d in enumerate(devices) if d["max_output_channels"] > 0]
    if name in ("", "default"):
        if not outputs:
            raise MorphsynthError(f"audio: no output device found; {NO_DEVICE_HINT}")
        return None
    if name.isdigit() and any(i == int(name) for i, _ in outputs):
        return int(name)
    matches = [i for i, d in outputs if name.lower() in d["name"].lower()]
    if not matches:
        known = ", ".join(f"'{d['name']}'" for _, d in outputs) or "none"
        raise MorphsynthError(f"audio: no output device matches '{name}' (have: {known}); {NO_DEVICE_HINT}")
    return matches[0]


class DeviceOutput:
    """A sounddevice ``OutputStream`` whose callback mixes the engine's voices."""

    def __init__(self, engine: Engine, device: str, sample_rate: int, block_size: int,
                 channels: int = 2, latency: float | None = None, recorder: Recorder | None = None):
        import sounddevice as sd

        self.engine = engine
        self.recorder = recorder
        self.sample_rate = sample_rate
        self.block_size = block_size
        index = find_output_device(device)
        info = sd.query_devices(index, "output") if index is not None else sd.query_devices(kind="output")
        self.device_name = str(info["name"])
        channels = max(1, min(channels, int(info["max_output_channels"])))
        self._mono = np.zeros(engine.max_block, np.float32)

        def callback(outdata, frames, time_info, status):
            t0 = time.perf_counter()
            if status.output_underflow:
                engine.xruns += 1
            mono = self._mono[:frames]
            engine.process(mono)
            outdata[:] = mono[:, None]
            if recorder is not None:
                recorder.push(mono)
            engine.time_callback(time.perf_counter() - t0)

        try:
            self.stream = sd.OutputStream(device=index, samplerate=sample_rate, blocksize=block_size,
                                          channels=channels, dtype="float32", callback=callback,
                                          latency=latency if latency is not None else "low")
        except Exception as exc:
            raise MorphsynthError(f"audio: cannot open '{self.device_name}' ({_one_line(exc)}); "
                                  f"{NO_DEVICE_HINT}") from None

    def start(self) -> "DeviceOutput":
        try:
            self.stream.start()
        except Exception as exc:
            raise MorphsynthError(f"audio: cannot start '{self.device_name}' ({_one_line(exc)}); "
                                  f"{NO_DEVICE_HINT}") from None
        self.engine.block_size = self.stream.blocksize or self.block_size
        self.engine.output_latency_ns = seconds_to_ns(self.stream.latency)
        self.engine.clock_running = True
        self._started = True
        return self

    @property
    def stream_lost(self) -> bool:
        """The stream died under us after it was started (its JACK server went away, say)."""
        return getattr(self, "_started", False) and not self.stream.active

    def stop(self) -> None:
        if self.stream_lost:
            # PortAudio's stop, close and terminate block for good once its JACK server died.
            self.abandoned = True
            self._started = False
            self.engine.clock_running = False
            return
        self._started = False
        try:
            self.stream.stop()
            self.stream.close()
        finally:
            self.engine.clock_running = False


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class JackOutput:
    """Our own JACK client (no PortAudio), which outlives the JACK server going away.

    PortAudio's calls block for good once jackd dies, so the stream can be neither stopped
    nor reopened. Here a shutdown is noticed, reported (``device_name`` ends in
    ``(lost)``, ``lost`` counts it) and a monitor thread reconnects when the server is back.
    """

    def __init__(self, engine: Engine, sample_rate: int, channels: int = 2, recorder: Recorder | None = None,
                 client_name: str = "morphsynth", retry_s: float = 0.5):
        try:
            jack_module()
        except ImportError:
            raise MorphsynthError("audio: device 'jack' needs the JACK-Client package "
                                  f"(pip install JACK-Client); {NO_DEVICE_HINT}") from None
        self.engine = engine
        self.sample_rate = int(sample_rate)
        self.channels = max(1, int(channels))
        self.recorder = recorder
        self.client_name = client_name
        self.retry_s = retry_s
        self.lost = 0
        self.recovered = 0
        self._mono = np.zeros(engine.max_block, np.float32)
        self._client = None
        self._dead = threading.Event()
        self._running = False
        self._monitor: threading.Thread | None = None
        self._connect()

    @property
    def device_name(self) -> str:
        return "jack" if self._client is not None else "jack (lost)"

    def _connect(self) -> None:
        jack = jack_module()
        try:
            client = jack.Client(self.client_name, no_start_server=True)
        except jack.JackError as exc:
            raise MorphsynthError(f"audio: no JACK server to connect to ({_one_line(exc)}); "
                                  f"{NO_DEVICE_HINT}") from None
        if client.samplerate != self.sample_rate:
            rate = client.samplerate
            client.close()
            raise MorphsynthError(f"audio: JACK runs at {rate} Hz but audio.sample_rate is {self.sample_rate}")
        ports = [client.outports.register(f"out_{i}") for i in range(self.channels)]
        engine, mono, recorder, dead = self.engine, self._mono, self.recorder, self._dead

        @client.set_process_callback
        def process(frames):
            t0 = time.perf_counter()
            out = mono[:frames]
            engine.process(out)
            for port in ports:
                port.get_array()[:] = out
            if recorder is not None:
                recorder.push(out)
            engine.time_callback(time.perf_counter() - t0)

        @client.set_xrun_callback
        def xrun(delay):
            engine.xruns += 1

        @client.set_shutdown_callback
        def shutdown(status, reason):
            dead.set()

        client.activate()
        playback = client.get_ports(is_physical=True, is_input=True, is_audio=True)
        for src, dst in zip(ports * len(playback), playback):
            client.connect(src, dst)
        self.engine.block_size = client.blocksize
        self.engine.output_latency_ns = seconds_to_ns(jack_playback_latency_s(client, ports))
        self._dead.clear()
        self._client = client
        self.engine.clock_running = True

    def start(self) -> "JackOutput":
        self._running = True
        self._monitor = threading.Thread(target=self._watch, name="jack-monitor", daemon=True)
        self._monitor.start()
        return self

    def _watch(self) -> None:
        import logging

        log = logging.getLogger("morphsynth.audio")
        # Wakes only when the server goes away (or on stop): a thread that woke now and
        # then would hold the GIL the callback needs, and could be preempted holding it.
        while True:
            self._dead.wait()
            if not self._running:
                return
            if self._client is not None:
                self.lost += 1
                self.engine.clock_running = False
                self.engine.device_lost = True
                self.engine.device_losses = self.lost
                log.warning("audio: the JACK server went away; reconnecting every %.1f s", self.retry_s)
                client, self._client = self._client, None
                try:
                    client.deactivate()
                    client.close()
                except Exception:
                    pass
            try:
                self._connect()
            except MorphsynthError:
                time.sleep(self.retry_s)
                continue
            self.recovered += 1
            self.engine.device_lost = False
            self.engine.device_recoveries = self.recovered
            log.warning("audio: reconnected to JACK")

    def stop(self) -> None:
        self._running = False
        self._dead.set()
        if self._monitor is not None:
            self._monitor.join(2.0)
        client, self._client = self._client, None
        if client is not None:
            try:
                client.deactivate()
                client.close()
            except Exception:
                pass
        self.engine.clock_running = False


def open_output(engine: Engine, device: str, sample_rate: int, block_size: int, channels: int = 2,
                latency: float | None = None, recorder: Recorder | None = None):
    """``device`` ``null`` gives a :class:`NullOutput`, ``jack`` a :class:`JackOutput` (survives
    the JACK server restarting), anything else a :class:`DeviceOutput`."""
    if device == "null":
        return NullOutput(engine, sample_rate, block_size, recorder)
    if device == "jack":
        return JackOutput(engine, sample_rate, channels, recorder)
    return DeviceOutput(engine, device, sample_rate, block_size, channels, latency, recorder)
