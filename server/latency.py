"""What ``/latency`` reports: the audio block, the device's output latency, render waits.

:class:`LatencyRing` keeps the last durations from a note request (a note-on that missed
the cache) to its render being ready; the render queue's worker fills it, never the audio
callback. The output's block size and the latency its device reports are counters of the
engine (:attr:`Engine.block_size`, :attr:`Engine.output_latency_ns`), set by the output
when it opens, so they reach the server from an audio process of its own through the
shared memory. :func:`jack_playback_latency_s` reads a JACK port's playback latency range,
which JACK-Client does not wrap. :func:`latency_reply` is the ``/latency.reply`` argument
list.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

log = logging.getLogger("morphsynth.audio")

RING_SIZE = 1024          # render waits kept (the p99 of the last 1024 misses)
UNKNOWN_LATENCY_NS = -1   # the device did not say


class LatencyRing:
    """The last ``size`` durations (seconds), thread-safe; for control threads only."""

    def __init__(self, size: int = RING_SIZE):
        self._times = np.zeros(int(size), np.float64)
        self._count = 0
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._times[self._count % self._times.shape[0]] = seconds
            self._count += 1

    def __len__(self) -> int:
        return self._count

    def stats_ms(self) -> tuple[float, float, float, int]:
        """``(last, mean, p99, count)``, milliseconds over the kept durations; zeros (and a
        count of 0) before the first."""
        with self._lock:
            count = self._count
            if count == 0:
                return 0.0, 0.0, 0.0, 0
            kept = self._times[:min(count, self._times.shape[0])] * 1000.0
            last = float(self._times[(count - 1) % self._times.shape[0]] * 1000.0)
            return last, float(kept.mean()), float(np.percentile(kept, 99)), count


def seconds_to_ns(seconds: float | None) -> int:
    """A latency for :attr:`Engine.output_latency_ns`; None (not known) gives -1."""
    if seconds is None or not np.isfinite(seconds) or seconds < 0:
        return UNKNOWN_LATENCY_NS
    return int(round(seconds * 1e9))


_jack_latency = None


def _jack_latency_binding():
    """(ffi, lib) with libjack's latency-range calls, which JACK-Client 0.5 does not wrap."""
    global _jack_latency
    if _jack_latency is None:
        import cffi

        ffi = cffi.FFI()
        ffi.cdef("""
            typedef struct { uint32_t min; uint32_t max; } jack_latency_range_t;
            void jack_port_get_latency_range(void *port, int mode, jack_latency_range_t *range);
            int jack_recompute_total_latencies(void *client);
        """)
        _jack_latency = ffi, ffi.dlopen("libjack.so.0")
    return _jack_latency


JACK_PLAYBACK_LATENCY = 1   # JackPlaybackLatency in jack/types.h


def jack_playback_latency_s(client, ports) -> float | None:
    """Seconds from our output ``ports`` (jack.OwnPort) to the speakers: the largest
    playback latency JACK reports for them once connected; None where libjack cannot tell."""
    import jack

    try:
        ffi, lib = _jack_latency_binding()
        lib.jack_recompute_total_latencies(ffi.cast("void *", int(jack._ffi.cast("uintptr_t", client._ptr))))
        worst = 0
        for port in ports:
            latency = ffi.new("jack_latency_range_t *")
            lib.jack_port_get_latency_range(ffi.cast("void *", int(jack._ffi.cast("uintptr_t", port._ptr))),
                                            JACK_PLAYBACK_LATENCY, latency)
            worst = max(worst, int(latency.max))
    except (ImportError, OSError, AttributeError, TypeError) as exc:
        log.debug("JACK port latency unknown: %s", exc)
        return None
    return worst / float(client.samplerate)


def latency_reply(engine, renderer) -> tuple:
    """``/latency.reply`` arguments: block size (frames; 0 while no output runs), device
    output latency (ms; -1 when the device does not say), render wait last, mean and p99
    (ms) and how many render waits were measured."""
    ns = int(engine.output_latency_ns)
    device_ms = -1.0 if ns < 0 else ns / 1e6
    ring = getattr(getattr(renderer, "queue", None), "request_times", None)
    last, mean, p99, count = ring.stats_ms() if ring is not None else (0.0, 0.0, 0.0, 0)
    return int(engine.block_size), float(device_ms), last, mean, p99, int(count)
