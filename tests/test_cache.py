"""Render cache (byte bound, LRU) and the background render queue (priorities, stale drops)."""

import threading

import numpy as np

from morphsynth.server.cache import RenderCache, RenderQueue


def block(n_floats: int, fill: float = 0.0) -> np.ndarray:
    return np.full(n_floats, fill, dtype=np.float32)


def test_cache_stays_within_its_byte_bound():
    cache = RenderCache(max_bytes=10_000)
    for i in range(20):
        cache.put(i, block(500))  # 2,000 bytes each
        assert cache.nbytes <= 10_000
    assert len(cache) == 5
    assert cache.nbytes == 10_000
    assert cache.evictions == 15


def test_cache_evicts_least_recently_used_first():
    cache = RenderCache(max_bytes=6_000)
    for key in "abc":
        cache.put(key, block(500))
    assert cache.get("a") is not None  # a becomes most recent: b is now the oldest
    cache.put("d", block(500))
    assert "b" not in cache
    assert all(k in cache for k in "acd")
    assert cache.keys() == ["c", "a", "d"]


def test_cache_refuses_an_item_larger_than_the_bound_and_replaces_same_key():
    cache = RenderCache(max_bytes=4_000)
    cache.put("a", block(500))
    assert cache.put("huge", block(5_000)) is False
    assert "huge" not in cache and "a" in cache
    cache.put("a", block(250))
    assert cache.nbytes == 1_000 and len(cache) == 1


class GatedRenderer:
    """A render function that records what it renders and can be held at a gate."""

    def __init__(self):
        self.order = []
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        self.generation = 1

    def __call__(self, keys, generation):
        self.started.set()
        self.gate.wait(10)
        self.order.append(list(keys))
        return [block(100, float(k)) for k in keys]

    def is_current(self, generation):
        return generation == self.generation


def make_queue(batch_size=4, max_length=64):
    r = GatedRenderer()
    cache = RenderCache(1 << 20)
    return r, cache, RenderQueue(cache, r, r.is_current, batch_size=batch_size, max_length=max_length)


def test_prerender_fills_the_cache_in_priority_order_and_batches():
    r, cache, q = make_queue(batch_size=4)
    try:
        assert q.prerender(list(range(10)), generation=1) == 10
        assert q.wait_idle(10)
        assert [k for batch in r.order for k in batch] == list(range(10))
        assert [len(b) for b in r.order] == [4, 4, 2]
        assert all(k in cache for k in range(10))
        assert float(cache.get(7)[0]) == 7.0
    finally:
        q.close()


def test_new_morph_drops_stale_prerenders():
    r, cache, q = make_queue(batch_size=1)
    try:
        r.gate.clear()
        q.prerender([1, 2, 3, 4, 5], generation=1)
        assert r.started.wait(5)  # key 1 is rendering, 2..5 wait
        r.generation = 2
        q.prerender([10, 11], generation=2)
        r.gate.set()
        assert q.wait_idle(10)
        rendered = [k for batch in r.order for k in batch]
        assert rendered == [1, 10, 11]
        # Key 1 finished after its morph went stale, so it never reached the cache.
        assert 1 not in cache and 10 in cache and 11 in cache
        assert q.dropped_stale >= 5
    finally:
        q.close()


def test_request_jumps_the_queue_and_calls_back_with_the_note():
    r, cache, q = make_queue(batch_size=1)
    got = []
    done = threading.Event()
    try:
        r.gate.clear()
        q.prerender([1, 2, 3, 4], generation=1)
        assert r.started.wait(5)
        q.submit(99, generation=1, on_ready=lambda note: (got.append(float(note[0])), done.set()))
        q.submit(99, generation=1, on_ready=lambda note: got.append(float(note[0])))  # joins the same job
        r.gate.set()
        assert done.wait(10) and q.wait_idle(10)
        rendered = [k for batch in r.order for k in batch]
        assert rendered[:2] == [1, 99]
        assert rendered.count(99) == 1
        assert got == [99.0, 99.0]
    finally:
        q.close()


def test_follows_render_after_requests_before_prerenders_and_call_back_unless_stale():
    r, cache, q = make_queue(batch_size=4)
    got = []
    try:
        r.gate.clear()
        q.prerender([1], generation=1)
        assert r.started.wait(5)                            # key 1 is rendering
        q.submit(50, generation=1, on_ready=lambda note: got.append(("request", float(note[0]))))
        q.prerender([2, 3, 40], generation=1,
                    follow=[(k, lambda note: got.append(("follow", float(note[0])))) for k in (40, 41, 50)])
        r.gate.set()
        assert q.wait_idle(10)
        assert r.order == [[1], [50], [40, 41], [2, 3]]     # 40 renders once, as a follow
        assert sorted(got) == [("follow", 40.0), ("follow", 41.0), ("follow", 50.0), ("request", 50.0)]
        # A follow of a morph that has moved on renders nothing and calls nobody back.
        got.clear()
        r.order.clear()
        r.gate.clear()
        r.started.clear()
        q.prerender([7], generation=1)
        assert r.started.wait(5)
        q.prerender([], generation=1, follow=[(60, lambda note: got.append(note))])
        r.generation = 2
        r.gate.set()
        assert q.wait_idle(10)
        assert r.order == [[7]] and got == [] and 60 not in cache
        # One that was rendering when the morph moved on is handed over (the newest sound
        # there is while the morph keeps moving), but kept out of the cache.
        r.order.clear()
        r.gate.clear()
        r.started.clear()
        q.prerender([], generation=2, follow=[(61, lambda note: got.append(float(note[0])))])
        assert r.started.wait(5)
        r.generation = 3
        r.gate.set()
        assert q.wait_idle(10)
        assert r.order == [[61]] and got == [61.0] and 61 not in cache
    finally:
        q.close()


def test_request_for_a_cached_key_is_answered_without_rendering():
    r, cache, q = make_queue()
    cache.put(5, block(100, 5.0))
    got = threading.Event()
    try:
        q.submit(5, generation=1, on_ready=lambda note: got.set())
        assert got.wait(10)
        assert r.order == []
    finally:
        q.close()


def test_queue_length_is_bounded_and_requests_displace_prerenders():
    r, cache, q = make_queue(batch_size=1, max_length=3)
    try:
        r.gate.clear()
        q.prerender([100], generation=1)
        assert r.started.wait(5)
        assert q.prerender([1, 2, 3, 4, 5], generation=1) == 3
        assert len(q) == 3 and q.dropped_full == 2
        q.submit(50, generation=1, on_ready=lambda note: None)
        assert len(q) == 3  # the last pre-render (3) made room
        r.gate.set()
        assert q.wait_idle(10)
        rendered = [k for batch in r.order for k in batch]
        assert rendered == [100, 50, 1, 2]
    finally:
        q.close()


def test_a_failing_render_is_reported_and_the_worker_keeps_serving():
    errors = []
    cache = RenderCache(1 << 20)
    calls = []

    def render(keys, generation):
        calls.append(keys)
        if keys == ["bad"]:
            raise RuntimeError("decoder exploded")
        return [block(10) for _ in keys]

    q = RenderQueue(cache, render, lambda g: True, batch_size=1, on_error=errors.append)
    try:
        q.prerender(["bad", "good"], generation=1)
        assert q.wait_idle(10)
        assert "good" in cache and "bad" not in cache
        assert len(errors) == 1 and "exploded" in str(errors[0])
    finally:
        q.close()


def test_rapid_morph_changes_keep_the_heap_small_and_render_only_the_latest():
    r, cache, q = make_queue(batch_size=1, max_length=16)
    try:
        r.gate.clear()
        q.prerender([1000], generation=1)
        assert r.started.wait(5)
        for gen in range(2, 202):  # an XY drag: 200 morphs while one render is in flight
            r.generation = gen
            q.prerender([gen * 100 + k for k in range(16)], generation=gen)
        assert len(q._heap) <= 5 * 16
        r.gate.set()
        assert q.wait_idle(10)
        rendered = [k for batch in r.order for k in batch]
        assert rendered == [1000] + [201 * 100 + k for k in range(16)]
    finally:
        q.close()
