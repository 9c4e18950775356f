"""Rendered-note cache (LRU, bounded in bytes) and the background render queue.

:class:`RenderCache` holds finished notes by key; :class:`RenderQueue` is a priority
queue served by one worker thread. Miss requests (a note-on that found nothing) go
first; then new renders of the notes still sounding when the morph moved (each handed to
its callback); then pre-renders in the order they were queued (most recently played key
first). Follows and pre-renders are dropped when they belong to an outdated morph.
Callers never wait: :meth:`RenderQueue.submit` and :meth:`RenderQueue.prerender` only queue.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

from morphsynth.server.latency import LatencyRing

REQUEST, FOLLOW, PRERENDER = 0, 1, 2


def nbytes_of(value: Any) -> int:
    """Bytes a cached value holds: its ``nbytes``, or its ``audio.nbytes``."""
    n = getattr(value, "nbytes", None)
    if n is None:
        n = getattr(getattr(value, "audio", None), "nbytes", 0)
    return int(n)


class RenderCache:
    """A thread-safe LRU map whose values' bytes stay within ``max_bytes``."""

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.evictions = 0

    def get(self, key: Hashable):
        """The value for ``key`` (marked most recently used), or None."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def put(self, key: Hashable, value: Any) -> bool:
        """Store ``value``, evicting least recently used items; False if it alone is too big."""
        size = nbytes_of(value)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size > self.max_bytes:
                return False
            while self._items and self._bytes + size > self.max_bytes:
                _, (_, evicted) = self._items.popitem(last=False)
                self._bytes -= evicted
                self.evictions += 1
            self._items[key] = (value, size)
            self._bytes += size
            return True

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list:
        """Keys from least to most recently used."""
        with self._lock:
            return list(self._items)


@dataclass(order=True)
class _Job:
    priority: tuple
    key: Hashable = field(compare=False)
    kind: int = field(compare=False)
    generation: int = field(compare=False)
    callbacks: list = field(compare=False, default_factory=list)
    dead: bool = field(compare=False, default=False)
    keep: bool = field(compare=False, default=True)   # put the value in the cache
    queued_at: float = field(compare=False, default=0.0)   # time.monotonic() of a request


class RenderQueue:
    """One worker thread serving render jobs by priority.

    render_batch(keys, generation) -> list of values (same order) renders several keys
    for the morph of ``generation``; it may return None for a key it skipped. Values
    land in ``cache`` under their key. is_current(generation) tells whether a
    pre-render is still wanted. At most ``max_length`` jobs wait; beyond that new
    pre-renders are dropped, and a request displaces the last pre-render.
    ``request_times``: how long each request waited until its value was ready (seconds).
    """

    def __init__(self, cache: RenderCache, render_batch: Callable, is_current: Callable[[int], bool],
                 batch_size: int = 8, max_length: int = 256, on_error: Callable | None = None):
        self.cache = cache
        self._render_batch = render_batch
        self._is_current = is_current
        self.batch_size = max(1, int(batch_size))
        self.max_length = max(1, int(max_length))
        self._on_error = on_error
        self._heap: list[_Job] = []
        self._live: dict[tuple[int, Hashable], _Job] = {}
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._busy = False
        self.dropped_stale = 0
        self.dropped_full = 0
        self.rendered = 0
        self.errors = 0
        self.request_times = LatencyRing()
        self._thread = threading.Thread(target=self._run, name="morphsynth-render", daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- producers
    def submit(self, key: Hashable, generation: int, on_ready: Callable[[Any], None], keep: bool = True) -> None:
        """Render ``key`` ahead of every pre-render, then call ``on_ready(value)`` on the worker.

        keep False leaves the value out of the cache (one voice's own morph, which moves on:
        it would only push the current morph's notes out)."""
        with self._cond:
            job = self._live.get((REQUEST, key))
            if job is not None and not job.dead:
                job.callbacks.append(on_ready)
                job.keep = job.keep or keep
                return
            pre = self._live.pop((PRERENDER, key), None)
            if pre is not None:
                pre.dead = True
            if self._length() >= self.max_length and not self._drop_last_prerender():
                self.dropped_full += 1
                return
            job = _Job((REQUEST, next(self._seq)), key, REQUEST, generation, [on_ready], keep=keep,
                       queued_at=time.monotonic())
            self._push(job)

    def prerender(self, keys, generation: int, follow=()) -> int:
        """Replace queued pre-renders and follows with ``keys`` (in priority order), after
        ``follow``: ``(key, on_ready)`` pairs rendered ahead of the pre-renders, each then
        calling ``on_ready(value)`` on the worker. Returns how many jobs were queued."""
        with self._cond:
            for k, job in list(self._live.items()):
                if job.kind in (FOLLOW, PRERENDER):
                    job.dead = True
                    del self._live[k]
                    self.dropped_stale += 1
            if len(self._heap) > 4 * self.max_length:
                # Rapid morph changes leave dead jobs behind; rebuild rather than let them pile up.
                self._heap = [j for j in self._heap if not j.dead]
                heapq.heapify(self._heap)
            queued = 0
            for key, on_ready in follow:
                request = self._live.get((REQUEST, key))
                if request is not None:
                    request.callbacks.append(on_ready)   # rendered first anyway
                    continue
                if self._length() >= self.max_length and not self._drop_last_prerender():
                    self.dropped_full += 1
                    continue
                self._push(_Job((FOLLOW, next(self._seq)), key, FOLLOW, generation, [on_ready]))
                queued += 1
            for key in keys:
                if any((kind, key) in self._live for kind in (REQUEST, FOLLOW, PRERENDER)) or key in self.cache:
                    continue
                if self._length() >= self.max_length:
                    self.dropped_full += 1
                    continue
                self._push(_Job((PRERENDER, next(self._seq)), key, PRERENDER, generation))
                queued += 1
            return queued

    def _push(self, job: _Job) -> None:
        heapq.heappush(self._heap, job)
        self._live[(job.kind, job.key)] = job
        self._cond.notify()

    def _length(self) -> int:
        return len(self._live)

    def _drop_last_prerender(self) -> bool:
        pres = [j for j in self._live.values() if j.kind == PRERENDER]
        if not pres:
            return False
        last = max(pres)
        last.dead = True
        del self._live[(PRERENDER, last.key)]
        self.dropped_full += 1
        return True

    def __len__(self) -> int:
        with self._cond:
            return self._length()

    def idle(self) -> bool:
        """True when nothing is queued or rendering."""
        with self._cond:
            return not self._live and not self._busy

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until :meth:`idle` (for tools and tests, never the audio path)."""
        with self._cond:
            return self._cond.wait_for(lambda: (not self._live and not self._busy) or self._closed, timeout)

    def close(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)

    # ------------------------------------------------------------------ worker
    def _take(self) -> list[_Job] | None:
        """Next batch: one request alone (latency first), or up to batch_size pre-renders."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                while self._heap and self._heap[0].dead:
                    heapq.heappop(self._heap)
                if self._heap:
                    break
                self._cond.wait()
            first = heapq.heappop(self._heap)
            self._live.pop((first.kind, first.key), None)
            jobs = [first]
            if first.kind != REQUEST:
                while len(jobs) < self.batch_size and self._heap:
                    nxt = self._heap[0]
                    if nxt.dead:
                        heapq.heappop(self._heap)
                        continue
                    if nxt.kind != first.kind or nxt.generation != first.generation:
                        break
                    heapq.heappop(self._heap)
                    self._live.pop((nxt.kind, nxt.key), None)
                    jobs.append(nxt)
            self._busy = True
            return jobs

    def _run(self) -> None:
        while True:
            jobs = self._take()
            if jobs is None:
                return
            try:
                self._serve(jobs)
            except Exception as exc:  # a failed render must not kill the worker
                self.errors += 1
                if self._on_error is not None:
                    self._on_error(exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _serve(self, jobs: list[_Job]) -> None:
        if jobs[0].kind != REQUEST:
            if not self._is_current(jobs[0].generation):
                self.dropped_stale += len(jobs)
                return
            values = {j.key: self.cache.get(j.key) for j in jobs}
            todo = [j for j in jobs if values[j.key] is None]
            if todo:
                rendered = self._render_batch([j.key for j in todo], jobs[0].generation)
                # A morph change during the render makes these notes stale: keep them out of
                # the cache. Follows are still handed over: while the morph moves faster than
                # notes render, each is the newest sound there is.
                if not self._is_current(jobs[0].generation):
                    self.dropped_stale += len(todo)
                    if jobs[0].kind == PRERENDER:
                        return
                    for job, value in zip(todo, rendered):
                        values[job.key] = value
                else:
                    for job, value in zip(todo, rendered):
                        if value is not None:
                            self.cache.put(job.key, value)
                            self.rendered += 1
                            values[job.key] = value
            for job in jobs:
                if values[job.key] is not None:
                    for callback in job.callbacks:
                        callback(values[job.key])
            return
        job = jobs[0]
        value = self.cache.get(job.key)
        if value is None:
            value = self._render_batch([job.key], job.generation)[0]
            if value is None:
                return
            if job.keep:
                self.cache.put(job.key, value)
            self.rendered += 1
        self.request_times.add(time.monotonic() - job.queued_at)
        for callback in job.callbacks:
            callback(value)
