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

from morphsynth.errors import MorphsynthError
from morphsynth.server.engine import Engine

NO_DEVICE_HINT = ("run with --audio null to play without a device "
                  "(add --record out.wav to keep what is played)")


class Recorder:
    """WAV writer fed from the audio thread through a lock-free ring."""

    def __init__(self, path: str | Path, sample_rate: int, buffer_s: float = 4.0):
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
        self._ring = np.zeros(max(4096, int(buffer_s * sample_rate)), np.float32)
        self._write = 0   # audio thread only
        self._read = 0    # writer thread only
        self.overflows = 0
        self.frames_written = 0
        self._running = True
        self._thread = threading.Thread(target=self._run, name="wav-writer", daemon=True)
        self._thread.start()

    def push(self, block: np.ndarray) -> None:
        """Audio thread: copy ``block`` ``[frames]`` into the ring (dropped if the writer lags)."""
        n = block.shape[0]
        size = self._ring.shape[0]
        if self._write - self._read + n > size:
            self.overflows += 1
            return
        start = self._write % size
        first = min(n, size - start)
        self._ring[start:start + first] = block[:first]
        if first < n:
            self._ring[:n - first] = block[first:]
        self._write += n

    def _drain(self) -> None:
        size = self._ring.shape[0]
        end = self._write
        while self._read < end:
            start = self._read % size
            count = min(end - self._read, size - start)
            self._file.write(self._ring[start:start + count])
            self._read += count
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
        self.engine.clock_running = True
        self._thread = threading.Thread(target=self._run, name="null-clock", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        period = self.block_size / self.sample_rate
        next_t = time.monotonic()
        while self._running:
            self.engine.process(self._out)
            if self.recorder is not None:
                self.recorder.push(self._out)
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
            if status.output_underflow:
                engine.xruns += 1
            mono = self._mono[:frames]
            engine.process(mono)
            outdata[:] = mono[:, None]
            if recorder is not None:
                recorder.push(mono)

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
            import jack  # noqa: F401
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
        import jack

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
            out = mono[:frames]
            engine.process(out)
            for port in ports:
                port.get_array()[:] = out
            if recorder is not None:
                recorder.push(out)

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
        while self._running:
            if not self._dead.wait(0.2):
                continue
            if self._client is not None:
                self.lost += 1
                self.engine.clock_running = False
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
            log.warning("audio: reconnected to JACK")

    def stop(self) -> None:
        self._running = False
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
