"""The audio callback in a process of its own: the shared note pool, the child's lifecycle
(started, killed and restarted, orphaned), and the in-process fallback."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from morphsynth.core.errors import MorphsynthError
from morphsynth.server.app import SynthServer
from morphsynth.server.engine import Engine
from morphsynth.server.engine_voices import FREE
from morphsynth.server.envelope import Adsr
from morphsynth.server.engine_memory import NotePool, SharedArrays
from morphsynth.server.renderer import RenderedNote
from serve_support import null_serve_config, wait_for
from test_audio_support import SR, autocorr_hz, midi_to_hz

ORPHAN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts", "orphaned_audio_process.py")


def sine_note(hz, seconds=1.0, amp=0.5):
    t = np.arange(int(seconds * SR)) / SR
    n = t.size
    return RenderedNote((amp * np.sin(2 * np.pi * hz * t)).astype(np.float32), SR, n * 3 // 4, n // 4, n // 2)


def split_engine(polyphony=2, extra_slots=2, note_samples=SR):
    args = dict(sample_rate=SR, polyphony=polyphony, max_block=1024, adsr=Adsr(0.001, 0.0, 1.0, 0.01))
    eng = Engine(**args)
    eng.share_memory(note_samples, spare_note_slots=extra_slots)
    return eng, args


# ---------------------------------------------------------------------- the note pool

def test_a_note_played_again_keeps_its_pool_slot():
    eng, _ = split_engine()
    note = sine_note(440)
    out = np.zeros(256, np.float32)
    for _ in range(3):
        eng.note_on(60, note)
        eng.process(out)
        eng.note_off(60)
    slots = set(eng.voice_slot[eng.state != FREE].tolist())
    assert len(slots) == 1
    assert np.array_equal(eng._pool.audio[slots.pop(), :note.audio.size], note.audio)


def test_a_pool_slot_is_never_overwritten_while_its_voice_plays():
    eng, _ = split_engine(polyphony=2, extra_slots=1)
    held = sine_note(220)
    eng.note_on(50, held)
    out = np.zeros(256, np.float32)
    eng.process(out)
    (v,) = np.flatnonzero(eng.state != FREE)
    slot = int(eng.voice_slot[v])
    # Far more distinct notes than slots, played and released: the held voice's slot stays.
    for i in range(40):
        eng.note_on(60 + i % 12, sine_note(300 + 10 * i))
        eng.process(out)
        eng.note_off(60 + i % 12)
        for _ in range(4):
            eng.process(out)
    assert eng.state[v] != FREE and eng.voice_slot[v] == slot
    assert np.array_equal(eng._pool.audio[slot, :held.audio.size], held.audio)


def test_a_retargeted_voice_keeps_both_pool_slots_until_its_crossfade_ends():
    eng, _ = split_engine(polyphony=2, extra_slots=1)
    old, new, waiting = sine_note(220), sine_note(230), sine_note(240)
    eng.note_on(50, old)
    out = np.zeros(64, np.float32)
    eng.process(out)
    (v,) = np.flatnonzero(eng.state != FREE)
    old_slot = int(eng.voice_slot[v])
    eng.retarget(50, new)
    eng.retarget(50, waiting)
    eng.process(out)
    new_slot, waiting_slot = int(eng.voice_slot[v]), int(eng.pend_slot[v])
    assert eng.prev_slot[v] == old_slot and len({old_slot, new_slot, waiting_slot}) == 3
    # More distinct notes than free slots come and go within the fade; none lands on the three.
    for i in range(18):
        eng.note_on(60, sine_note(300 + 10 * i))
        eng.process(out)
        eng.note_off(60)
    assert eng.swap_left[v] > 0 and eng.pend_slot[v] == waiting_slot
    for slot, note in ((old_slot, old), (new_slot, new), (waiting_slot, waiting)):
        assert np.array_equal(eng._pool.audio[slot, :note.audio.size], note.audio)
    while eng.pend_slot[v] >= 0 or eng.swap_left[v] > 0:
        eng.process(out)
    assert eng.voice_slot[v] == waiting_slot and eng.prev_slot[v] == -1


def test_with_every_pool_slot_named_by_waiting_commands_a_new_note_is_dropped_and_counted():
    eng, _ = split_engine(polyphony=1, extra_slots=0)
    n = eng._pool.n_slots
    for i in range(n):
        assert eng.note_on(60, sine_note(200 + i))
    assert eng.note_on(61, sine_note(1000)) is False
    assert eng.dropped_commands == 1
    eng.process(np.zeros(256, np.float32))       # the ring is read: slots free up
    assert eng.note_on(61, sine_note(1000))


def test_a_note_longer_than_a_pool_slot_is_refused_in_one_line():
    eng, _ = split_engine(note_samples=SR // 2)
    with pytest.raises(MorphsynthError, match="do not fit"):
        eng.note_on(60, sine_note(440, seconds=1.0))


def test_an_engine_attached_to_the_same_memory_plays_what_the_other_side_queued():
    control, args = split_engine()
    arrays, pool = control._shared
    audio = Engine(**args, shared=(SharedArrays.attach(arrays.layout, arrays.file.fd),
                                   NotePool.attach(pool.file.fd, pool.n_slots, pool.slot_samples)))
    control.note_on(69, sine_note(440))
    out = np.zeros(1024, np.float32)
    played = []
    for _ in range(20):
        audio.process(out)
        played.append(out.copy())
    assert control.active_voices() == 1 and control.commands_done == control.commands_written
    assert abs(autocorr_hz(np.concatenate(played)) - 440) < 5


def test_an_audio_process_started_again_mid_crossfade_plays_the_newest_render_on():
    control, args = split_engine()
    arrays, pool = control._shared
    old, new, newest = sine_note(220), sine_note(230), sine_note(240)
    control.note_on(50, old)
    out = np.zeros(64, np.float32)
    control.process(out)
    control.retarget(50, new)
    control.retarget(50, newest)
    control.process(out)                         # crossfading to new, newest waiting
    (v,) = np.flatnonzero(control.state != FREE)
    assert control.swap_left[v] > 0 and control.pend_slot[v] >= 0
    # The audio process dies here; a new one attaches to the same memory.
    audio = Engine(**args, shared=(SharedArrays.attach(arrays.layout, arrays.file.fd),
                                   NotePool.attach(pool.file.fd, pool.n_slots, pool.slot_samples)))
    for _ in range(100):
        audio.process(out)
    assert control.swap_left[v] == 0 and control.pend_slot[v] == -1 and control.prev_slot[v] == -1
    assert np.array_equal(audio.buffers[v], newest.audio) and np.any(out != 0)


# ---------------------------------------------------------------------- the child process

def serve_config(tmp_path, **audio):
    cfg = null_serve_config(tmp_path)
    cfg.audio.gain_db = 0.0
    cfg.envelope.sustain = 1.0
    for key, value in audio.items():
        setattr(cfg.audio, key, value)
    return cfg


def test_the_audio_callback_runs_in_a_process_of_its_own(organ_notes, tmp_path):
    server = SynthServer(serve_config(tmp_path), organ_notes).start()
    try:
        assert server.output.pid not in (None, os.getpid())
        blocks = server.engine.blocks
        assert wait_for(lambda: server.engine.blocks > blocks + 10)   # counted over there
        server.controls.note_on(57, 100)
        assert wait_for(lambda: server.engine.active_voices() == 1)
        server.controls.note_off(57)
        assert wait_for(lambda: server.engine.active_voices() == 0)
        assert server.engine.callbacks > 0 and server.engine.callback_times().max() > 0
    finally:
        server.stop()
    assert server.output.pid is None and not server.engine.clock_running


def test_a_killed_audio_process_is_started_again_and_the_held_note_plays_on(organ_notes, tmp_path):
    server = SynthServer(serve_config(tmp_path, record=str(tmp_path / "played.wav")), organ_notes).start()
    try:
        server.controls.set_gain_db(-12.0)                # a setting made before the crash
        server.controls.note_on(57, 100)
        assert wait_for(lambda: server.engine.active_voices() == 1)
        time.sleep(0.5)
        first = server.output.pid
        killed_at = server.engine.frames                  # frames played = samples recorded
        os.kill(first, signal.SIGKILL)
        assert wait_for(lambda: server.output.restarts == 1 and server.output.pid not in (None, first))
        blocks = server.engine.blocks
        assert wait_for(lambda: server.engine.blocks > blocks + 60)
        assert server.engine.active_voices() == 1          # the voice survived in shared memory
        resumed_to = server.engine.frames
        server.controls.note_off(57)
        assert wait_for(lambda: server.engine.active_voices() == 0)
    finally:
        server.stop()
    audio, rate = sf.read(tmp_path / "played.wav", dtype="float32")
    before = audio[killed_at - int(0.25 * rate):killed_at - int(0.05 * rate)]
    after = audio[resumed_to - int(0.2 * rate):resumed_to]
    rms_before, rms_after = (float(np.sqrt(np.mean(x ** 2))) for x in (before, after))
    assert rms_before > 0.002
    # Same level after the restart: the -12 dB set before the crash still holds.
    assert abs(20 * np.log10(rms_after / rms_before)) < 2.0
    assert abs(1200 * np.log2(autocorr_hz(after, rate) / midi_to_hz(57))) < 50


def shm_names() -> set[str]:
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    return {n for n in os.listdir(shm) if n.startswith("morphsynth-")} if shm else set()


def test_the_audio_process_ends_when_the_server_process_is_killed_and_leaves_no_shared_file():
    before = shm_names()
    proc = subprocess.Popen([sys.executable, ORPHAN], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        while line and not line.startswith("audio-pid "):  # a library may print first
            line = proc.stdout.readline()
        child = int(line.split()[1])
        assert shm_names() == before            # unlinked at once, handed over as descriptors
        os.kill(child, 0)                                   # alive
        proc.kill()
        proc.wait(10)
        gone = wait_for(lambda: not os.path.exists(f"/proc/{child}") or
                        open(f"/proc/{child}/stat").read().split()[2] == "Z", 5)
        assert gone, "the audio process outlived the server"
        assert shm_names() == before
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_missing_device_in_the_audio_process_is_one_line(organ_notes, tmp_path):
    server = SynthServer(serve_config(tmp_path, device="no-such-device-xyz"), organ_notes)
    with pytest.raises(MorphsynthError) as err:
        server.start()
    assert "no-such-device-xyz" in str(err.value) and "\n" not in str(err.value)
    assert "--audio null" in str(err.value)


def test_without_own_process_the_callback_runs_in_the_server_process(organ_notes, tmp_path):
    server = SynthServer(serve_config(tmp_path, own_process=False), organ_notes).start()
    try:
        assert not hasattr(server.output, "pid")
        server.controls.note_on(57, 100)
        assert wait_for(lambda: server.engine.active_voices() == 1)
    finally:
        server.stop()
