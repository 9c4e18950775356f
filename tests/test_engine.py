"""Voice engine: ADSR, stealing, sustain pedal, loops for long holds, bend, MPE, safety."""

import numpy as np
import pytest

from morphsynth.server.engine import Engine
from morphsynth.server.engine_voices import HELD, RELEASED, STOLEN
from morphsynth.server.envelope import Adsr
from morphsynth.server.renderer import RenderedNote
from test_audio_support import SR, autocorr_hz, fluid_rendered_note, midi_to_hz, peak_hz, sine_note

BLOCK = 256


def constant_note(value=1.0, seconds=4.0):
    n = int(seconds * SR)
    return RenderedNote(np.full(n, value, np.float32), SR, 3 * SR, SR, 2 * SR)


def run(engine, seconds, block=BLOCK):
    out = np.zeros(block, np.float32)
    chunks = []
    for _ in range(int(round(seconds * SR / block))):
        engine.process(out)
        chunks.append(out.copy())
    return np.concatenate(chunks)


def test_adsr_envelope_rises_decays_to_sustain_and_releases_to_silence():
    eng = Engine(SR, adsr=Adsr(attack=0.02, decay=0.05, sustain=0.5, release=0.1), gain_db=0.0)
    eng.note_on(60, constant_note())
    held = run(eng, 0.5, block=64)
    eng.note_off(60)
    rel = run(eng, 0.2, block=64)
    at = lambda sec: held[int(sec * SR)]
    assert at(0.01) == pytest.approx(0.5, abs=0.03)          # halfway up the attack
    assert at(0.02) == pytest.approx(1.0, abs=0.03)          # top of the attack
    assert at(0.045) == pytest.approx(0.75, abs=0.03)        # halfway down the decay
    assert at(0.3) == pytest.approx(0.5, abs=1e-3)           # sustain level
    assert rel[int(0.05 * SR)] == pytest.approx(0.25, abs=0.02)  # halfway through the release
    assert np.all(rel[int(0.11 * SR):] == 0.0)
    assert eng.active_voices() == 0


def test_note_off_releases_voice_after_release_time():
    eng = Engine(SR, adsr=Adsr(0.005, 0.05, 0.8, 0.25))
    eng.note_on(69, sine_note())
    run(eng, 0.2)
    assert eng.active_voices() == 1
    eng.note_off(69)
    run(eng, 0.2)
    assert eng.active_voices() == 1
    tail = run(eng, 0.1)
    assert eng.active_voices() == 0
    assert np.max(np.abs(tail[-BLOCK:])) == 0.0


def test_stealing_at_polyphony_limit_takes_oldest_released_then_oldest_held():
    eng = Engine(SR, polyphony=3, adsr=Adsr(0.001, 0.01, 1.0, 2.0))
    for p in (60, 62, 64):
        eng.note_on(p, sine_note())
        run(eng, 0.01)
    eng.note_off(62)          # released, but its 2 s release keeps it sounding
    eng.note_off(64)
    run(eng, 0.01)
    eng.note_on(65, sine_note())
    run(eng, 0.01)
    sounding = {int(eng.pitch[v]) for v in range(eng.n_slots) if eng.state[v] in (HELD, RELEASED)}
    assert sounding == {60, 64, 65}                        # 62 was the oldest released
    assert eng.active_voices() == 3
    eng.note_on(67, sine_note())
    run(eng, 0.01)
    sounding = {int(eng.pitch[v]) for v in range(eng.n_slots) if eng.state[v] in (HELD, RELEASED)}
    assert sounding == {60, 65, 67}                        # then 64, the remaining released one
    eng.note_on(69, sine_note())
    run(eng, 0.01)
    sounding = {int(eng.pitch[v]) for v in range(eng.n_slots) if eng.state[v] in (HELD, RELEASED)}
    assert sounding == {65, 67, 69}                        # none released: the oldest held, 60


def test_stolen_voice_fades_out_without_a_click():
    eng = Engine(SR, polyphony=1, adsr=Adsr(0.002, 0.01, 1.0, 0.5), gain_db=0.0)
    eng.note_on(69, sine_note(440.0, amp=0.9))
    run(eng, 0.1)
    eng.note_on(57, constant_note(0.0))  # a silent newcomer: what remains is the stolen fade
    out = run(eng, 0.05)
    assert np.count_nonzero(eng.state == STOLEN) == 0      # fade finished
    # The fade is gradual: no step larger than one sine slope at full amplitude.
    max_step = 0.9 * 2 * np.pi * 440 / SR
    assert np.max(np.abs(np.diff(out))) < 1.05 * max_step
    assert np.max(np.abs(out[int(0.01 * SR):])) == 0.0     # gone after the 5 ms fade


def test_sustain_pedal_holds_released_notes_until_pedal_up():
    eng = Engine(SR, adsr=Adsr(0.005, 0.01, 1.0, 0.05))
    eng.set_sustain(True)
    eng.note_on(60, sine_note())
    run(eng, 0.05)
    eng.note_off(60)
    held = run(eng, 0.3)
    assert eng.active_voices() == 1
    assert np.sqrt(np.mean(held[-2400:] ** 2)) > 0.1
    eng.set_sustain(False)
    run(eng, 0.1)
    assert eng.active_voices() == 0


def test_key_held_longer_than_the_render_keeps_sounding_through_the_loop():
    note = fluid_rendered_note(19, 60)   # organ: a steady tone
    eng = Engine(SR, adsr=Adsr(0.005, 0.05, 1.0, 0.2), gain_db=0.0)
    eng.note_on(60, note)
    out = run(eng, 7.0)                  # well past the 4 s render
    assert eng.active_voices() == 1
    rms = lambda a: float(np.sqrt(np.mean(a ** 2)))
    steady = rms(out[int(1.0 * SR):int(2.0 * SR)])
    late = rms(out[int(6.0 * SR):int(7.0 * SR)])
    assert late == pytest.approx(steady, rel=0.25)
    assert abs(autocorr_hz(out[int(6.0 * SR):int(6.5 * SR)]) - midi_to_hz(60)) < 0.02 * midi_to_hz(60)
    # No seam clicks: the largest sample step late on is like the steady part's.
    assert np.max(np.abs(np.diff(out[int(4 * SR):]))) < 2.0 * np.max(np.abs(np.diff(out[SR:2 * SR])))
    eng.note_off(60)
    run(eng, 0.4)
    assert eng.active_voices() == 0


def test_pitch_bend_shifts_the_playing_voice_smoothly():
    eng = Engine(SR, adsr=Adsr(0.001, 0.01, 1.0, 0.1), gain_db=0.0)
    eng.note_on(69, sine_note(440.0))
    before = run(eng, 0.3)
    eng.set_bend(2.0)
    after = run(eng, 0.5)
    assert peak_hz(before[-SR // 8:]) == pytest.approx(440.0, abs=1.0)
    assert peak_hz(after[-SR // 4:]) == pytest.approx(440.0 * 2 ** (2 / 12), abs=1.0)
    # Smoothed, so the waveform has no jump when the bend arrives.
    assert np.max(np.abs(np.diff(after[:2 * BLOCK]))) < 1.2 * 0.5 * 2 * np.pi * 494 / SR


def test_mpe_channel_bend_moves_only_the_voice_on_that_channel():
    eng = Engine(SR, adsr=Adsr(0.001, 0.01, 1.0, 0.1), gain_db=0.0)
    eng.note_on(69, sine_note(440.0), channel=1)
    eng.note_on(76, constant_note(0.0), channel=2)
    eng.set_bend(12.0, channel=1)
    eng.set_bend(-5.0, channel=2)
    out = run(eng, 0.5)
    assert peak_hz(out[-SR // 4:]) == pytest.approx(880.0, abs=2.0)
    v1 = int(np.flatnonzero((eng.channel == 1) & (eng.state == HELD))[0])
    v2 = int(np.flatnonzero((eng.channel == 2) & (eng.state == HELD))[0])
    assert eng.rate[v1] == pytest.approx(2.0, rel=1e-3)
    assert eng.rate[v2] == pytest.approx(2 ** (-5 / 12), rel=1e-3)


def test_output_stays_finite_and_within_unit_range_under_nan_and_huge_input():
    bad = np.full(4 * SR, 1e30, np.float32)
    bad[::7] = np.nan
    bad[::11] = np.inf
    eng = Engine(SR, gain_db=12.0)
    eng.note_on(60, RenderedNote(bad, SR, 3 * SR, SR, 2 * SR))
    for p in range(61, 70):
        eng.note_on(p, constant_note(1.0))
    out = run(eng, 0.2)
    assert np.all(np.isfinite(out))
    assert np.max(np.abs(out)) <= 1.0


def test_many_voices_mix_without_exceeding_the_limit_and_panic_silences_them():
    eng = Engine(SR, polyphony=64, gain_db=0.0)
    for i in range(80):
        eng.note_on(40 + i % 40, sine_note(200.0 + 10 * i))
    out = run(eng, 0.2)
    assert eng.active_voices() == 64
    assert np.max(np.abs(out)) <= 1.0
    eng.panic()
    run(eng, 0.05)
    assert eng.active_voices() == 0


def test_velocity_level_scales_a_voice_by_the_general_midi_velocity_curve():
    from morphsynth.server.levels import velocity_to_level

    assert velocity_to_level(64, 64) == 1.0
    assert velocity_to_level(32, 64) == pytest.approx(0.25)
    assert velocity_to_level(127, 112) == pytest.approx((127 / 112) ** 2)
    assert velocity_to_level(100, 0) == 1.0  # a note that does not say its velocity plays as is
    eng = Engine(SR, adsr=Adsr(0.0, 0.0, 1.0, 0.05), gain_db=0.0)
    eng.note_on(60, constant_note(0.5), level=velocity_to_level(32, 64))
    soft = run(eng, 0.2)
    eng.note_off(60)
    run(eng, 0.2)
    eng.note_on(60, constant_note(0.5))
    full = run(eng, 0.2)
    assert soft[-1] == pytest.approx(0.125, abs=1e-4)
    assert full[-1] == pytest.approx(0.5, abs=1e-4)
    with pytest.raises(Exception, match="level"):
        eng.note_on(60, constant_note(), level=float("nan"))


def three_engines(**kw):
    return [Engine(SR, adsr=Adsr(0.005, 0.05, 0.8, 0.3), gain_db=0.0, swap_ms=20.0, **kw) for _ in range(3)]


def test_retarget_crossfades_a_held_voice_to_the_new_render_from_where_it_plays():
    a, b = sine_note(440.0, amp=0.4), sine_note(660.0, amp=0.3)
    only_a, only_b, moved = three_engines()
    for eng, note in ((only_a, a), (only_b, b), (moved, a)):
        eng.note_on(69, note)
        run(eng, 0.25)
    assert moved.retarget(69, b)
    outs = [run(eng, 0.1) for eng in (only_a, only_b, moved)]
    n = moved.swap_frames
    g = np.minimum(1.0, (np.arange(len(outs[0])) + 1.0) / n)
    # The new render takes over linearly over swap_ms, at the same place in the note...
    assert np.allclose(outs[2], (1 - g) * outs[0] + g * outs[1], atol=1e-6)
    # ...and then plays exactly as if the note had been struck with it.
    assert np.array_equal(outs[2][n:], outs[1][n:])
    assert moved.swap_left[0] == 0 and moved.buffers[0] is b.audio and moved.prev_buffers[0] is None


def test_retarget_moves_only_sounding_voices_of_its_key_and_velocity():
    eng = Engine(SR, adsr=Adsr(0.005, 0.05, 0.8, 0.05))
    soft = RenderedNote(sine_note().audio, SR, 3 * SR, SR, 2 * SR, 69, 25)
    loud = RenderedNote(sine_note(amp=0.3).audio, SR, 3 * SR, SR, 2 * SR, 69, 100)
    other = RenderedNote(sine_note(523.0).audio, SR, 3 * SR, SR, 2 * SR, 72, 100)
    eng.note_on(69, soft)
    eng.note_on(69, loud, note_id=2)
    eng.note_on(72, other)
    eng.note_on(60, sine_note(262.0))
    eng.note_off(60)
    run(eng, 0.2)                                       # 60 has finished its release
    new = RenderedNote(sine_note(440.0, amp=0.1).audio, SR, 3 * SR, SR, 2 * SR, 69, 100)
    eng.retarget(69, new)
    eng.retarget(60, RenderedNote(new.audio, SR, 3 * SR, SR, 2 * SR, 60, 0))
    run(eng, 0.05)
    playing = {int(eng.note_id[v]) if eng.pitch[v] == 69 else int(eng.pitch[v]): eng.buffers[v]
               for v in range(eng.n_slots) if eng.state[v] == HELD}
    assert playing[2] is new.audio                       # the loud 69
    assert playing[-1] is soft.audio and playing[72] is other.audio
    assert eng.active_voices() == 3


def test_a_retarget_during_a_crossfade_waits_for_it_then_follows():
    a, b, c = sine_note(440.0), sine_note(550.0), sine_note(660.0, amp=0.2)
    only_c, _, moved = three_engines()
    for eng, note in ((only_c, c), (moved, a)):
        eng.note_on(69, note)
        run(eng, 0.25)
    moved.retarget(69, b)
    moved.retarget(69, c)                               # read in the same block: c waits for b's fade
    first = [run(eng, BLOCK / SR) for eng in (only_c, moved)]
    assert moved.buffers[0] is b.audio and moved.pend_notes[0] is c
    outs = [np.concatenate([f, run(eng, 0.1)]) for f, eng in zip(first, (only_c, moved))]
    n = moved.swap_frames
    c_from = -(-n // BLOCK) * BLOCK                     # c's fade starts with the block after b's ends
    assert np.array_equal(outs[1][c_from + n:], outs[0][c_from + n:])
    assert not np.array_equal(outs[1][c_from:c_from + n], outs[0][c_from:c_from + n])
    assert np.max(np.abs(np.diff(outs[1]))) < 2 * np.pi * 660 / SR * 0.5   # no jump in the fades


def test_retarget_of_a_looping_voice_and_a_released_one_keeps_them_continuous():
    a, b = sine_note(440.0), sine_note(440.0, amp=0.25)
    eng = Engine(SR, adsr=Adsr(0.005, 0.05, 0.8, 0.5), gain_db=0.0, swap_ms=20.0)
    eng.note_on(69, a)
    held = run(eng, 4.5)                                # past loop_end: looping
    assert eng.looping[0]
    eng.note_off(69)
    releasing = run(eng, 0.01)
    assert eng.state[0] == RELEASED
    eng.retarget(69, b)
    tail = run(eng, 0.3)
    assert eng.buffers[0] is b.audio and eng.looping[0]
    step = np.max(np.abs(np.diff(np.concatenate([held[-BLOCK:], releasing, tail]))))
    assert step < 2 * np.pi * 440 / SR * 0.5 * 1.05     # the sine's own steepest slope


def test_a_late_retarget_for_an_older_morph_leaves_a_voice_of_a_newer_one_alone():
    eng = Engine(SR)
    newer, older = sine_note(440.0), sine_note(440.0, amp=0.1)
    eng.note_on(69, newer, generation=7)
    run(eng, 0.05)
    eng.retarget(69, older, generation=6)               # rendered for the morph before the note's
    run(eng, 0.05)
    assert eng.buffers[0] is newer.audio and eng.swap_left[0] == 0
    eng.retarget(69, older, generation=8)
    run(eng, 0.05)
    assert eng.buffers[0] is older.audio and eng.note_gen[0] == 8


def test_a_retarget_that_reaches_the_end_of_the_note_fades_cleanly_and_the_voice_ends():
    def ending(amp):
        audio = sine_note(440.0, seconds=1.0, amp=amp).audio
        audio[-SR // 10:] *= np.linspace(1.0, 0.0, SR // 10, dtype=np.float32)   # a render's tail dies away
        return RenderedNote(audio, SR, SR // 2, SR // 4, SR // 2)

    a, b = ending(0.5), ending(0.3)
    eng = Engine(SR, adsr=Adsr(0.005, 0.05, 0.8, 2.0), gain_db=0.0, swap_ms=50.0)
    eng.note_on(69, a)
    held = run(eng, 0.1)
    eng.note_off(69)                                    # released before the loop: plays to its end
    before = run(eng, 0.87)
    eng.retarget(69, b)                                 # at 0.97 s: the note ends inside the fade
    tail = run(eng, 0.2)
    out = np.concatenate([held, before, tail])
    assert np.all(np.isfinite(tail)) and eng.active_voices() == 0
    assert np.max(np.abs(np.diff(out))) < 2 * np.pi * 440 / SR * 0.5
    assert np.all(out[SR:] == 0.0)
