"""The engine's mixer: every sounding voice mixed into one block, in small stages.

All voices are processed at once as ``[voices, frames]`` views (``[k, n]``: ``k``
sounding voices, ``n`` frames) of flat work buffers allocated here once, written with
``out=``; after the first blocks numpy creates no array in the callback
(tests/test_engine_no_alloc.py counts them). numpy turns every Python or numpy scalar
operand of a ufunc into a new 0-d array, and a reduction that returns a scalar allocates
one: hence the 0-d constants and registers (0-d arrays filled with ``reg[()] = x``) used
in place of literals. Per-voice values are gathered into ``[k]`` views of preallocated
rows with ``np.take(..., mode="clip")`` (the default ``"raise"`` copies its output first;
every index here is in range) and written back with ``array[active] = values``.

The stages, in the order :meth:`Mixer.mix_voices` runs them: bend and playback rate,
read positions, loop wrapping, linear interpolation (:meth:`Mixer.read_linear`, the one
interpolation every path uses), the loop-seam blend, the crossfade to a new render, and
envelope times pressure times level. :meth:`Mixer.mix_block` adds the output stage: gain,
NaN guard, safety limiter, clip and denormal flush.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from morphsynth.server.envelope import DONE, RELEASE, advance
from morphsynth.server.engine_voices import FREE, HELD, VoiceSlots

SWAP_CHUNK = 16            # crossfading voices mixed together as one [c, frames] array
SEAM_CHUNK = 16            # voices at their loop seam blended together as one [c, frames] array
N_VOICE_FLOATS = 16        # the [k] float rows of mix_voices


def _const(value, dtype=np.float64) -> np.ndarray:
    return np.array(value, dtype)


class Mixer:
    """Scratch and stages for mixing ``n_slots`` voices into blocks of up to ``max_block``.

    The voices are read from ``voices`` (the :class:`~morphsynth.server.engine.Engine`,
    whose arrays follow :data:`~morphsynth.server.engine_voices.VOICE_FIELDS`), passed to
    each call: a split engine moves those arrays into shared memory after this is made.
    """

    def __init__(self, n_slots: int, max_block: int, slots: VoiceSlots):
        s, m = int(n_slots), int(max_block)
        self.slots = slots
        self.limiter = 1.0
        self._c_zero, self._c_one, self._c_minus_one = _const(0.0), _const(1.0), _const(-1.0)
        self._c_twelve, self._c_denormal = _const(12.0), _const(1e-30)
        self._c_int_zero, self._c_int_one = _const(0, np.int64), _const(1, np.int64)
        self._c_free, self._c_held, self._c_done = _const(FREE, np.int8), _const(HELD, np.int8), _const(DONE, np.int8)
        self._r_scale = _const(0.0)              # mix_block's gains
        self._r_block = _const(0.0)              # mix_voices' per-block scalars
        self._r_alpha = _const(0.0)              # the bend/pressure smoothing of this block
        self._r_row1 = _const(0.0)               # one voice's loop end / crossfade slope
        self._r_row2 = _const(0.0)               # one voice's loop length
        self._r_peak = _const(0.0)               # max result
        # One block: [n] views.
        self._k = np.arange(m, dtype=np.float64)
        self._kk = np.zeros(m, np.float64)
        self._ramp = np.zeros(m, np.float64)
        self._mix = np.zeros(m, np.float64)
        self._tmp = np.zeros(m, np.float64)
        self._mask = np.zeros(m, np.bool_)
        # Voices at their loop seam, SEAM_CHUNK at a time: [c, n] and [c] views of these.
        self._sm_pos = np.zeros(SEAM_CHUNK * m, np.float64)
        self._sm_g = np.zeros(SEAM_CHUNK * m, np.float64)
        self._sm_back = np.zeros(SEAM_CHUNK * m, np.float64)
        self._sm_seam = np.zeros(SEAM_CHUNK * m, np.float64)
        self._sm_fl = np.zeros(SEAM_CHUNK * m, np.float64)
        self._sm_frac = np.zeros(SEAM_CHUNK * m, np.float64)
        self._sm_pair = np.zeros(2 * SEAM_CHUNK * m, np.int64)
        self._sm_got = np.zeros(2 * SEAM_CHUNK * m, np.float32)
        self._sm_start = np.zeros(SEAM_CHUNK, np.float64)
        self._sm_inv = np.zeros(SEAM_CHUNK, np.float64)
        self._sm_span = np.zeros(SEAM_CHUNK, np.float64)
        self._sm_last = np.zeros(SEAM_CHUNK, np.float64)
        self._sm_len1 = np.zeros(SEAM_CHUNK, np.int64)
        self._sm_past = np.zeros(SEAM_CHUNK, np.bool_)
        self._sm_rows = np.zeros(SEAM_CHUNK, np.int64)
        # Voices crossfading to a new render, SWAP_CHUNK at a time: [c, n] views of these.
        self._sw_got = np.zeros(2 * SWAP_CHUNK * m, np.float32)
        self._sw_pair = np.zeros(2 * SWAP_CHUNK * m, np.int64)
        self._sw_fl = np.zeros(SWAP_CHUNK * m, np.float64)
        self._sw_frac = np.zeros(SWAP_CHUNK * m, np.float64)
        self._sw_prev = np.zeros(SWAP_CHUNK * m, np.float64)
        self._sw_gain = np.zeros(SWAP_CHUNK * m, np.float64)
        self._sw_off = np.zeros(SWAP_CHUNK, np.float64)
        self._sw_last = np.zeros(SWAP_CHUNK, np.float64)
        self._sw_len1 = np.zeros(SWAP_CHUNK, np.int64)
        self._sw_past = np.zeros(SWAP_CHUNK, np.bool_)
        # All voices at once: flat buffers viewed as [k, n] (contiguous for any k, n).
        self._idx2 = np.zeros(s * m, np.float64)
        self._fl2 = np.zeros(s * m, np.float64)
        self._frac2 = np.zeros(s * m, np.float64)
        self._sig2 = np.zeros(s * m, np.float64)
        self._pair2 = np.zeros(2 * s * m, np.int64)
        self._got2 = np.zeros(2 * s * m, np.float32)
        # Per sounding voice, viewed as [k]: its slot, rows picked out of it, gathered fields.
        self._active = np.zeros(s, np.int64)
        self._rows = np.zeros(s, np.int64)
        self._v_ch32 = np.zeros(s, np.int32)
        self._v_ch = np.zeros(s, np.int64)
        self._v_i8 = np.zeros(s, np.int8)
        self._v_le = np.zeros(s, np.int64)
        self._v_xf = np.zeros(s, np.int64)
        self._v_len1 = np.zeros(s, np.int64)
        self._v_sw = np.zeros(s, np.int64)
        self._v_m1 = np.zeros(s, np.bool_)
        self._v_m2 = np.zeros(s, np.bool_)
        self._v_past = np.zeros(s, np.bool_)
        self._v_free = np.zeros(s, np.bool_)
        self._v_f = np.zeros((N_VOICE_FLOATS, s), np.float64)

    # ------------------------------------------------------------------ the block

    def mix_block(self, voices, out: np.ndarray, n: int) -> None:
        """Fill ``out`` ``[n]`` float32 with the mix of every voice, in [-1, 1]."""
        if n == 0:
            return
        mix = self._mix[:n]
        mix.fill(0.0)
        scale = self._r_scale
        ramp = self._ramp[:n]
        np.add(self._k[:n], self._c_one, out=ramp)
        scale[()] = 1.0 / n
        ramp *= scale
        tau = voices.bend_tau_s
        alpha = 1.0 - math.exp(-n / (tau * voices.sample_rate)) if tau > 0 else 1.0
        self.mix_voices(voices, n, alpha, mix, ramp)
        voices.peak = self.output(mix, voices.gain, voices.sample_rate)
        out[:] = mix

    def output(self, mix: np.ndarray, gain: float, sample_rate: int) -> float:
        """The output stage on ``mix`` ``[n]`` in place: gain, NaN and inf to silence, the
        safety limiter, clip to [-1, 1], denormals flushed. Returns the peak before the
        limiter (capped at 1e9)."""
        n = mix.shape[0]
        scale = self._r_scale
        scale[()] = gain
        mix *= scale
        # NaN and inf become silence (as np.nan_to_num would, without its temporaries).
        tmp, bad = self._tmp[:n], self._mask[:n]
        np.isfinite(mix, out=bad)
        np.logical_not(bad, out=bad)
        np.copyto(mix, self._c_zero, where=bad)
        peak = float(np.max(np.abs(mix, out=tmp), out=self._r_peak))
        # Jump down at once to keep the peak at 1, recover over ~50 ms.
        needed = 1.0 / peak if peak > 1.0 else 1.0
        if needed < self.limiter:
            self.limiter = needed
        else:
            self.limiter = min(1.0, self.limiter + (1.0 - self.limiter) * min(1.0, n / (0.05 * sample_rate)))
        if self.limiter < 1.0:
            scale[()] = self.limiter
            mix *= scale
        np.clip(mix, self._c_minus_one, self._c_one, out=mix)
        # Flush what float32 would store as denormals: they cost CPU downstream and are inaudible.
        np.abs(mix, out=tmp)
        np.less(tmp, self._c_denormal, out=bad)
        np.copyto(mix, self._c_zero, where=bad)
        return min(peak, 1e9)

    # ------------------------------------------------------------------ the voices

    def mix_voices(self, voices, n: int, alpha: float, mix: np.ndarray, ramp: np.ndarray) -> None:
        """Add every sounding voice to ``mix`` ``[n]``; ``ramp`` ``[n]`` rises from 1/n to 1
        (the gains move linearly inside the block); ``alpha``: this block's smoothing of
        bend and pressure towards their targets."""
        free = self._v_free
        np.equal(voices.state, self._c_free, out=free)
        np.logical_not(free, out=free)
        active = self.slots.indices(free, self._active)     # sounding slots, ascending   [k]
        k = active.shape[0]
        if k == 0:
            return
        slots = active.tolist()
        kn = k * n
        idx = self._idx2[:kn].reshape(k, n)      # read positions      [k, n]
        sig = self._sig2[:kn].reshape(k, n)      # the voices' signals [k, n]
        p1, last = self._v_f[6, :k], self._v_f[7, :k]
        length1 = self._v_len1[:k]
        self._r_alpha[()] = alpha
        ch = self._channels(voices, active)
        r0, r1 = self.rates(voices, active, ch)
        self.positions(voices, active, n, r0, r1, idx, p1)
        seam_rows = self.wrap_loops(voices, active, slots, idx, p1)
        np.take(voices.length, active, out=length1, mode="clip")
        np.subtract(length1, self._c_int_one, out=length1)
        np.copyto(last, length1)
        self.read_linear([voices.buffers[v] for v in slots], idx, last, length1, sig,
                         self._fl2[:kn].reshape(k, n), self._frac2[:kn].reshape(k, n),
                         self._pair2[:2 * kn].reshape(k, 2 * n), self._got2[:2 * kn].reshape(k, 2 * n),
                         self._v_past[:k])
        for first in range(0, len(seam_rows), SEAM_CHUNK):
            chunk = seam_rows[first:first + SEAM_CHUNK]
            self.blend_seams(voices, [slots[r] for r in chunk], idx, chunk, [sig[r] for r in chunk],
                             [voices.buffers[slots[r]] for r in chunk])
        sw, m1 = self._v_sw[:k], self._v_m1[:k]
        np.take(voices.swap_left, active, out=sw, mode="clip")
        np.greater(sw, self._c_int_zero, out=m1)
        if np.count_nonzero(m1):
            rows = self.slots.indices(m1, self._rows)
            for first in range(0, rows.shape[0], SWAP_CHUNK):
                self.crossfade(voices, rows[first:first + SWAP_CHUNK], slots, idx, sig, seam_rows)
        self.envelopes(voices, active, slots, ch, n, ramp, sig)
        np.sum(sig, axis=0, out=self._tmp[:n])
        mix += self._tmp[:n]
        voices.pos[active] = p1
        self.retire(voices, active, slots, p1, last)

    def _channels(self, voices, active: np.ndarray) -> np.ndarray:
        """The MIDI channel of each sounding voice ``[k]`` int64 (an int32 index array
        would be converted anew by every take())."""
        k = active.shape[0]
        ch, ch32 = self._v_ch[:k], self._v_ch32[:k]
        np.take(voices.channel, active, out=ch32, mode="clip")
        np.copyto(ch, ch32)
        return ch

    def rates(self, voices, active: np.ndarray, ch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Smooth each voice's bend towards its target (its channel's bend and its own, plus
        channel 0's off channel 0) and return the playback rates at the block's start and
        end, ``r0, r1`` ``[k]``; the end rates are stored."""
        k = active.shape[0]
        target, bend, r0, r1, t = self._v_f[0, :k], self._v_f[1, :k], self._v_f[2, :k], self._v_f[3, :k], self._v_f[15, :k]
        m1 = self._v_m1[:k]
        np.take(voices.channel_bend, ch, out=target, mode="clip")
        np.take(voices.note_bend, active, out=t, mode="clip")
        np.add(target, t, out=target)
        np.not_equal(ch, self._c_int_zero, out=m1)
        t.fill(0.0)
        np.copyto(t, voices.channel_bend[0:1], where=m1)
        target += t
        np.take(voices.bend, active, out=bend, mode="clip")
        np.subtract(target, bend, out=t)
        t *= self._r_alpha
        bend += t
        voices.bend[active] = bend
        np.take(voices.rate, active, out=r0, mode="clip")
        np.divide(bend, self._c_twelve, out=r1)
        np.exp2(r1, out=r1)
        np.take(voices.base_rate, active, out=t, mode="clip")
        np.multiply(t, r1, out=r1)
        voices.rate[active] = r1
        return r0, r1

    def positions(self, voices, active: np.ndarray, n: int, r0: np.ndarray, r1: np.ndarray,
                  idx: np.ndarray, p1: np.ndarray) -> None:
        """Read positions ``idx`` ``[k, n]`` with the rate ramping from ``r0`` to ``r1``
        ``[k]`` inside the block, and ``p1`` ``[k]``, where each head is after it."""
        k = active.shape[0]
        dr, p0, t = self._v_f[4, :k], self._v_f[5, :k], self._v_f[15, :k]
        fl = self._fl2[:k * n].reshape(k, n)
        K = self._k[:n]
        kk = self._kk[:n]
        reg = self._r_block
        # idx = p0 + r0*k + (r1 - r0) * k*(k-1)/(2n): the ramped rates summed up to sample k.
        np.subtract(K, self._c_one, out=kk)
        kk *= K
        reg[()] = 1.0 / (2.0 * n)
        kk *= reg
        np.take(voices.pos, active, out=p0, mode="clip")
        np.subtract(r1, r0, out=dr)
        np.multiply(K, r0[:, None], out=idx)
        np.multiply(kk, dr[:, None], out=fl)
        idx += fl
        idx += p0[:, None]
        # p1 = p0 + r0*n + (r1 - r0)*(n - 1)/2.
        reg[()] = n
        np.multiply(r0, reg, out=p1)
        np.add(p0, p1, out=p1)
        reg[()] = (n - 1) / 2.0
        np.multiply(dr, reg, out=t)
        p1 += t

    def wrap_loops(self, voices, active: np.ndarray, slots: list[int], idx: np.ndarray,
                   p1: np.ndarray) -> list[int]:
        """Voices nearing loop_end while held (or already looping) wrap back by whole loops:
        their rows of ``idx`` ``[k, n]`` and ``p1`` ``[k]`` are folded into the loop. Returns
        those rows, whose signal is blended at the loop seam."""
        k, n = idx.shape
        le, xf, st = self._v_le[:k], self._v_xf[:k], self._v_i8[:k]
        m1, m2, t = self._v_m1[:k], self._v_m2[:k], self._v_f[15, :k]
        np.take(voices.loop_end, active, out=le, mode="clip")
        np.take(voices.xfade, active, out=xf, mode="clip")
        np.subtract(le, xf, out=xf)
        np.copyto(t, xf)                 # as float64, so the comparison converts nothing
        np.take(voices.state, active, out=st, mode="clip")
        np.equal(st, self._c_held, out=m1)
        np.take(voices.looping, active, out=m2, mode="clip")
        np.logical_or(m1, m2, out=m1)
        np.greater_equal(idx[:, n - 1], t, out=m2)
        np.logical_and(m1, m2, out=m1)
        rows = self.slots.indices(m1, self._rows).tolist()
        for r in rows:
            p1[r] = self._wrap_row(voices, slots[r], idx[r], float(p1[r]))
        return rows

    def _wrap_row(self, voices, v: int, idx: np.ndarray, p1: float) -> float:
        """Fold one voice's positions ``idx`` ``[n]`` past loop_end back into the loop;
        returns the block's end position ``p1`` folded the same way."""
        ls, le = int(voices.loop_start[v]), int(voices.loop_end[v])
        loop_len = le - ls
        end, span = self._r_row1, self._r_row2
        end[()] = le
        span[()] = loop_len
        mask = self._mask[: idx.shape[0]]
        np.greater_equal(idx, end, out=mask)
        while np.count_nonzero(mask):
            np.subtract(idx, span, out=idx, where=mask)
            np.greater_equal(idx, end, out=mask)
            voices.looping[v] = True
        while p1 >= le:
            p1 -= loop_len
        return p1

    def read_linear(self, buffers: Sequence[np.ndarray], idx: np.ndarray, last: np.ndarray,
                    length1: np.ndarray, out: np.ndarray, fl: np.ndarray, frac: np.ndarray,
                    pair: np.ndarray, got: np.ndarray, past: np.ndarray) -> None:
        """Linear interpolation of each row's buffer at fractional positions, silent past
        its last sample.

        buffers: ``r`` float32 arrays; idx, out: ``[r, n]``; last ``[r]`` float64 and length1
        ``[r]`` int64: each buffer's length minus one; scratch: fl, frac ``[r, n]`` float64,
        pair ``[r, 2n]`` int64 (floor then next index), got ``[r, 2n]`` float32, past ``[r]``
        bool. The difference of neighbours is taken in float32, then widened:
        ``float64(b - a) * frac + a``.
        """
        n = idx.shape[1]
        np.floor(idx, out=fl)
        np.subtract(idx, fl, out=frac)
        np.clip(fl, self._c_zero, last[:, None], out=fl)
        i0 = pair[:, :n]
        i1 = pair[:, n:]
        np.copyto(i0, fl, casting="unsafe")
        np.add(i0, self._c_int_one, out=i1)
        np.minimum(i1, length1[:, None], out=i1)
        for r, buf in enumerate(buffers):
            np.take(buf, pair[r], out=got[r], mode="clip")
        a = got[:, :n]
        b = got[:, n:]
        np.subtract(b, a, out=b)
        np.copyto(out, b)
        out *= frac
        np.copyto(fl, a)
        out += fl
        np.greater_equal(idx[:, n - 1], last, out=past)
        if np.count_nonzero(past):
            np.subtract(last[:, None], idx, out=fl)
            np.clip(fl, self._c_zero, self._c_one, out=fl)
            np.ceil(fl, out=fl)
            out *= fl

    def blend_seams(self, voices, vs: list[int], idx: np.ndarray, rows: list[int], sigs: list[np.ndarray],
                    buffers: list[np.ndarray]) -> None:
        """Crossfade each voice's signal towards the sample one loop earlier as its head
        nears loop_end, so the jump back to loop_start is seamless.

        vs: up to SEAM_CHUNK voice slots; ``idx[rows]``: their read positions ``[c, n]``;
        sigs: their signal rows ``[n]``, blended in place; buffers: what each reads.
        """
        c, n = len(vs), idx.shape[1]
        cn = c * n
        start, inv, span = self._sm_start[:c], self._sm_inv[:c], self._sm_span[:c]
        last, length1, sel = self._sm_last[:c], self._sm_len1[:c], self._sm_rows[:c]
        for j, v in enumerate(vs):
            sel[j] = rows[j]
            le, xf = int(voices.loop_end[v]), int(voices.xfade[v])
            start[j] = le - xf
            inv[j] = 1.0 / xf
            span[j] = le - int(voices.loop_start[v])
            last[j] = buffers[j].shape[0] - 1
            length1[j] = buffers[j].shape[0] - 1
        pos = self._sm_pos[:cn].reshape(c, n)
        np.take(idx, sel, axis=0, out=pos, mode="clip")
        g = self._sm_g[:cn].reshape(c, n)             # the earlier sample's share, 0 → 1 over xfade
        np.subtract(pos, start[:, None], out=g)
        g *= inv[:, None]
        np.clip(g, self._c_zero, self._c_one, out=g)
        back = self._sm_back[:cn].reshape(c, n)       # one loop earlier
        np.subtract(pos, span[:, None], out=back)
        np.maximum(back, self._c_zero, out=back)
        seam = self._sm_seam[:cn].reshape(c, n)
        self.read_linear(buffers, back, last, length1, seam, self._sm_fl[:cn].reshape(c, n),
                         self._sm_frac[:cn].reshape(c, n), self._sm_pair[:2 * cn].reshape(c, 2 * n),
                         self._sm_got[:2 * cn].reshape(c, 2 * n), self._sm_past[:c])
        for j, sig in enumerate(sigs):
            row = seam[j]
            row -= sig
            row *= g[j]
            sig += row

    def crossfade(self, voices, rows: np.ndarray, slots: list[int], idx: np.ndarray, sig: np.ndarray,
                  seam_rows: list[int]) -> None:
        """Crossfade the voices in ``rows`` (``[c]`` rows of the ``[k, n]`` block arrays,
        c <= SWAP_CHUNK) from their previous buffers, read at the same positions ``idx``,
        into ``sig``; the new buffer's share rises linearly over ``swap_frames``."""
        c = rows.shape[0]
        n = idx.shape[1]
        cn = c * n
        prev = self._sw_prev[:cn].reshape(c, n)
        g = self._sw_gain[:cn].reshape(c, n)
        pos = self._sw_fl[:cn].reshape(c, n)
        off, last, length1 = self._sw_off[:c], self._sw_last[:c], self._sw_len1[:c]
        rows_list = rows.tolist()
        buffers = []
        for j, r in enumerate(rows_list):
            v = slots[r]
            buf = voices.prev_buffers[v]
            buffers.append(buf)
            off[j] = voices.swap_frames - int(voices.swap_left[v]) + 1
            last[j] = buf.shape[0] - 1
            length1[j] = buf.shape[0] - 1
        np.take(idx, rows, axis=0, out=pos, mode="clip")
        self.read_linear(buffers, pos, last, length1, prev, g, self._sw_frac[:cn].reshape(c, n),
                         self._sw_pair[:2 * cn].reshape(c, 2 * n), self._sw_got[:2 * cn].reshape(c, 2 * n),
                         self._sw_past[:c])
        at_seam = [j for j, r in enumerate(rows_list) if r in seam_rows]
        if at_seam:     # at the loop seam: blend the old buffer the same way
            self.blend_seams(voices, [slots[rows_list[j]] for j in at_seam], idx, [rows_list[j] for j in at_seam],
                             [prev[j] for j in at_seam], [buffers[j] for j in at_seam])
        # sig = prev + (sig - prev) * g, g rising from the crossfade's first frame.
        np.add(self._k[:n], off[:, None], out=g)
        reg = self._r_row1
        reg[()] = 1.0 / voices.swap_frames
        g *= reg
        np.clip(g, self._c_zero, self._c_one, out=g)
        for j, r in enumerate(rows_list):
            row = sig[r]
            np.subtract(row, prev[j], out=row)
            row *= g[j]
            row += prev[j]
            v = slots[r]
            left = int(voices.swap_left[v])
            if left <= n:
                voices.end_swap(v)
            else:
                voices.swap_left[v] = left - n

    def envelopes(self, voices, active: np.ndarray, slots: list[int], ch: np.ndarray, n: int,
                  ramp: np.ndarray, sig: np.ndarray) -> None:
        """Scale ``sig`` ``[k, n]`` by envelope times pressure times level, each moving
        linearly inside the block from its start to its end value; stores the end values."""
        k = active.shape[0]
        l0, l1, amp0, amp1 = self._v_f[8, :k], self._v_f[9, :k], self._v_f[10, :k], self._v_f[11, :k]
        lev, g0, g1 = self._v_f[12, :k], self._v_f[13, :k], self._v_f[14, :k]
        fl = self._fl2[:k * n].reshape(k, n)
        np.take(voices.env, active, out=l0, mode="clip")
        adsr, rate, stage, step = voices.adsr, voices.sample_rate, voices.stage, voices.release_step
        for r, v in enumerate(slots):
            now = int(stage[v])
            # release_step is only read by the falling stages (one numpy read less per voice).
            l1[r], stage[v] = advance(float(l0[r]), now, n, adsr, rate, float(step[v]) if now >= RELEASE else 0.0)
        voices.env[active] = l1
        np.take(voices.amp, active, out=amp0, mode="clip")
        np.take(voices.channel_pressure, ch, out=amp1, mode="clip")
        np.subtract(amp1, amp0, out=amp1)
        amp1 *= self._r_alpha
        np.add(amp0, amp1, out=amp1)
        voices.amp[active] = amp1
        np.take(voices.level, active, out=lev, mode="clip")
        np.multiply(l0, amp0, out=g0)    # gain at the block's start
        g0 *= lev
        np.multiply(l1, amp1, out=g1)    # its rise to the block's end
        g1 *= lev
        g1 -= g0
        np.multiply(ramp, g1[:, None], out=fl)
        fl += g0[:, None]
        sig *= fl

    def retire(self, voices, active: np.ndarray, slots: list[int], p1: np.ndarray, last: np.ndarray) -> None:
        """Free the voices whose envelope ended or whose head ``p1`` ``[k]`` passed the
        last sample ``last`` ``[k]``."""
        k = active.shape[0]
        st, m1, m2 = self._v_i8[:k], self._v_m1[:k], self._v_m2[:k]
        np.take(voices.stage, active, out=st, mode="clip")
        np.equal(st, self._c_done, out=m1)
        np.greater_equal(p1, last, out=m2)
        np.logical_or(m1, m2, out=m1)
        if np.count_nonzero(m1):
            for r in self.slots.indices(m1, self._rows).tolist():
                v = slots[r]
                voices.state[v] = FREE
                voices.stage[v] = DONE
                voices.env[v] = 0.0
