"""Socket-free OSC tests: raw datagrams into the dispatcher, replies collected.

The server parts are real: the Renderer over a small CAE and its library, the
engine, the control state, the OSC dispatcher built from the address-space table.
"""

import os
import struct
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from morphsynth.server.address_space import TABLE, markdown
from morphsynth.server.app import SynthServer
from morphsynth.server.engine_voices import HELD
from morphsynth.server.osc_handlers import Handlers
from morphsynth.server.osc_packets import build_message
from osc_doubles import CollectingSender
from serve_support import null_serve_config, pump
from test_audio_support import SR, neural_renderer

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def rig(tiny_parts, tmp_path):
    rig = make_rig(tiny_parts, tmp_path)
    yield rig
    rig.server.stop()


def make_rig(parts, tmp_path, **morph):
    """The server parts over the small CAE, not started (no sockets, no clock); ``morph``
    sets keys of the config's morph section."""
    cfg = null_serve_config(tmp_path)
    for key, value in morph.items():
        setattr(cfg.morph, key, value)
    renderer = neural_renderer(*parts)
    server = SynthServer(cfg, renderer)
    return SimpleNamespace(server=server, osc=server.osc, engine=server.engine, renderer=renderer, tmp=tmp_path)


def send(rig, address, *args, sender=None):
    sender = sender or CollectingSender()
    rig.osc.feed(build_message(address, *args), sender)
    return sender


def test_docs_and_dispatcher_registrations_agree_with_the_address_table(rig):
    assert (REPO / "docs" / "osc.md").read_text() == markdown()
    for address in TABLE:
        handlers = list(rig.osc.dispatcher.handlers_for_address(address.path))
        assert [h.callback.address for h in handlers] == [address]
    methods = {name for name in vars(Handlers) if not name.startswith("_")}
    assert methods == {a.handler for a in TABLE}


def test_note_on_with_pd_floats_renders_on_a_miss_and_starts_a_voice(rig):
    s = send(rig, "/note/on", 60.0, 100.0)
    assert s.replies == []
    assert pump(rig.engine, lambda: rig.engine.active_voices() == 1)
    assert rig.renderer.stats()["misses"] == 1
    send(rig, "/note/off", 60)
    send(rig, "/note/on", 60, 100)           # now cached: the voice starts at the next block
    rig.engine.process(np.zeros(256, np.float32))
    assert rig.engine.active_voices() >= 1
    assert rig.renderer.stats()["hits"] == 1


def test_note_released_before_its_render_is_ready_never_starts(rig):
    send(rig, "/note/on", 64, 100, 5)
    send(rig, "/note/off", 64, 5)
    assert rig.renderer.queue.wait_idle(10.0)
    pump(rig.engine, lambda: False, timeout=0.1)
    assert rig.engine.active_voices() == 0


@pytest.mark.parametrize("address,args,reason", [
    ("/note/on", (60.5, 100), "pitch: 60.5 is not an integer"),
    ("/note/on", (200, 100), "pitch: 200 is outside 21..108"),
    ("/note/on", ("C4", 100), "pitch: expected a number"),
    ("/note/on", (), "missing pitch"),
    ("/note/on", (60, 100, 1, 2), "4 arguments"),
    ("/note/off", (60, -3), "id: -3 is outside"),
    ("/gain", (float("nan"),), "db: nan is not finite"),
    ("/gain", (40.0,), "db: 40.0 is outside -120..24"),
    ("/morph/xy", (2.0, 0.5), "x: 2.0 is outside 0..1"),
    ("/morph/sources", ("no_such_instrument",), "unknown source 'no_such_instrument'"),
    ("/morph/weights", (1.0, 2.0), "weights: need 4"),
    ("/morph/weights", (0.0, 0.0, 0.0, 0.0), "all zero"),
    ("/morph/ramp", (0.0, 1.0, 1.0), "not a multiple of 5"),
    ("/morph/ramp", (1.0, 1, 0, 0, 0, 0.5, 0, 1, 0, 0), "before 1.0 s"),
    ("/morph/interp", ("cubic",), "'cubic' is not linear or slerp"),
    ("/knob", (9, 1.0), "index: 9 is outside 0..7"),
    ("/adsr", (-1.0, 0.1, 0.5, 0.2), "attack: -1.0 is outside 0..60"),
    ("/sustain", (2,), "on: 2 is outside 0..1"),
    ("/render", ("../escape.wav", 60, 100), "contains '..'"),
    ("/render", ("/tmp/abs.wav", 60, 100), "'/tmp/abs.wav' is outside"),
    ("/render", ("note.mp3", 60, 100), "must end in .wav"),
    ("/library/add", ("../x.wav", "x"), "contains '..'"),
    ("/sync", (), "missing id"),
    ("/no/such/address", (1,), "unknown address"),
])
def test_every_bad_message_gets_exactly_one_fail_naming_the_culprit(rig, address, args, reason):
    s = send(rig, address, *args)
    time.sleep(0.05)   # anything asynchronous would have answered by now
    assert len(s.replies) == 1, s.replies
    fail, where, text = s.replies[0]
    assert (fail, where) == ("/fail", address)
    assert reason in text


@pytest.mark.parametrize("packet", [
    b"garbage",
    b"/note/on\x00\x00\x00\x00,ii\x00\x00\x00\x00",                  # type tags promise two ints
    b"/note/on\x00\x00\x00\x00,ix\x00\x00\x00\x00\x3c\x00\x00\x00\x00",  # unknown type tag
    b"#bundle\x00\x00\x00",                                          # truncated timetag
    b"#bundle\x00" + b"\x00" * 7 + b"\x01" + struct.pack(">i", 64) + b"/x\x00\x00",  # element overruns
    b"",
])
def test_malformed_packets_get_one_fail_and_the_server_goes_on(rig, packet):
    s = CollectingSender()
    rig.osc.feed(packet, s)
    assert len(s.replies) == 1 and s.replies[0][0] == "/fail"
    assert rig.osc.dropped == 1
    assert send(rig, "/status").replies[0][0] == "/status.reply"


def test_status_reply_reports_voices_polyphony_cache_model_device_rate_and_latency(rig):
    (reply,) = send(rig, "/status").replies
    assert reply[0] == "/status.reply"
    active, poly, hits, misses, xruns, queue, dropped, model, device, rate, block, device_ms, *render_ms = reply[1:]
    assert (active, poly, xruns, dropped) == (0, 64, 0, 0)
    assert model == rig.renderer.model.name and device == "none" and rate == SR
    assert block >= 0 and len(render_ms) == 3 and all(ms >= 0.0 for ms in render_ms)


@pytest.mark.parametrize("follow", [True, False], ids=["follows", "follow-off"])
def test_a_held_note_moves_with_the_morph_crossfading_to_its_new_render_where_it_plays(tiny_parts, tmp_path, follow):
    rig = make_rig(tiny_parts, tmp_path, follow=follow)
    engine = rig.engine
    try:
        send(rig, "/note/on", 60, 100)
        assert pump(engine, lambda: engine.active_voices() == 1)
        (v,) = np.flatnonzero(engine.state == HELD)
        before = engine.buffers[v].copy()
        pump(engine, lambda: engine.pos[v] > 0.1 * SR)
        pos = float(engine.pos[v])
        assert send(rig, "/morph/xy", 0.0, 1.0).replies == []
        if follow:
            assert pump(engine, lambda: engine.swap_left[v] > 0)
            assert pump(engine, lambda: engine.swap_left[v] == 0)
            new = rig.renderer.lookup(60, 100)          # the new morph's note, rendered for the held key
            assert new is not None and np.array_equal(engine.buffers[v], new.audio)
            assert not np.array_equal(new.audio, before)
        else:
            assert rig.renderer.queue.wait_idle(30)
            pump(engine, lambda: engine.pos[v] > pos + 0.1 * SR)
            assert np.array_equal(engine.buffers[v], before) and engine.swap_left[v] == 0
        assert engine.state[v] == HELD and engine.pos[v] > pos   # the note played on, not restarted
    finally:
        rig.server.stop()


def test_library_list_replies_with_every_source_name(rig):
    (reply,) = send(rig, "/library/list").replies
    assert reply[0] == "/library/list.reply"
    assert list(reply[1:]) == rig.renderer.library.names and len(reply) == 11


def test_library_list_with_a_filter_replies_with_the_names_that_contain_it(rig):
    names = rig.renderer.library.names
    (reply,) = send(rig, "/library/list", "ACOUSTIC").replies
    assert list(reply[1:]) == [n for n in names if "acoustic" in n] and 1 < len(reply) - 1 < len(names)
    assert send(rig, "/library/list", "no such text").replies == [("/library/list.reply",)]


def test_a_fail_reason_quoting_a_long_argument_is_cut_to_a_thousand_characters(rig):
    (reply,) = send(rig, "/morph/sources", "x" * 5000).replies
    assert reply[:2] == ("/fail", "/morph/sources") and len(reply[2]) == 1000 and reply[2].endswith("...")


def test_morph_xy_and_weights_and_ramp_reach_the_renderer(rig):
    names = rig.renderer.library.names
    assert rig.renderer.morph.sources == tuple(names[:4])
    assert rig.renderer.morph.weights == pytest.approx((0.25,) * 4)
    send(rig, "/morph/xy", 1.0, 0.0)
    assert rig.renderer.morph.weights == pytest.approx((0, 1, 0, 0))
    send(rig, "/morph/sources", names[5], names[6])
    send(rig, "/morph/weights", 3, 1)
    assert rig.renderer.morph.sources == (names[5], names[6])
    assert rig.renderer.morph.weights == (3.0, 1.0)
    s = send(rig, "/morph/ramp", 0.0, 1, 0, 2.0, 0, 1)
    assert s.replies == []
    assert rig.renderer.morph.ramp == ((0.0, (1.0, 0.0)), (2.0, (0.0, 1.0)))
    send(rig, "/morph/interp", "slerp")
    send(rig, "/knob", 0, 1.5)
    assert rig.renderer.morph.interp == "slerp" and rig.renderer.morph.knobs[0] == 1.5


def test_render_writes_a_wav_inside_the_output_folder_and_replies_done(rig):
    s = send(rig, "/render", "takes/a.wav", 60, 100, 0.5)
    assert s.wait_for("/done", 20) == ("/done", "/render", "takes/a.wav")
    audio, rate = sf.read(rig.tmp / "out" / "takes" / "a.wav")
    assert rate == SR and audio.shape == (SR // 2,) and np.all(np.isfinite(audio))
    assert np.max(np.abs(audio)) > 0


def test_render_accepts_an_absolute_path_inside_the_output_folder(rig):
    target = rig.tmp / "out" / "abs.wav"
    s = send(rig, "/render", str(target), 60, 100, 0.1)
    assert s.wait_for("/done", 20) == ("/done", "/render", str(target))
    assert sf.info(target).frames == SR // 10


def test_render_that_cannot_write_answers_fail_asynchronously(rig):
    (rig.tmp / "out").mkdir()
    (rig.tmp / "out" / "taken").write_text("a file where a folder should be")
    s = send(rig, "/render", "taken/x.wav", 60, 100)
    fail = s.wait_for("/fail", 20)
    assert fail[:2] == ("/fail", "/render") and "cannot create the folder of 'taken/x.wav'" in fail[2]
    assert len(s.replies) == 1


def test_render_refuses_a_symlink_that_leads_out_of_the_output_folder(rig, tmp_path):
    (rig.tmp / "out").mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.symlink(outside, rig.tmp / "out" / "link")
    s = send(rig, "/render", "link/x.wav", 60, 100)
    assert len(s.replies) == 1 and "leads outside" in s.replies[0][2]
    assert not (outside / "x.wav").exists()


def test_library_add_encodes_a_note_from_the_input_folder_and_lists_it(rig):
    from morphsynth.training.soundfont import FLUID_R3, render_note

    sf.write(rig.tmp / "in" / "my_note.wav", render_note(FLUID_R3, 73, 60), 16000)
    s = send(rig, "/library/add", "my_note.wav", "my_flute")
    assert s.wait_for("/done", 20) == ("/done", "/library/add", "my_flute")
    assert "my_flute" in send(rig, "/library/list").replies[0]
    s = send(rig, "/library/add", "missing.wav", "x")
    assert s.wait_for("/fail", 5)[1:] == ("/library/add", "library/add: 'missing.wav' is not a file in "
                                          f"{rig.tmp / 'in'}")


def test_library_add_takes_the_pitch_a_note_was_played_at_when_given(rig):
    from morphsynth.training.soundfont import FLUID_R3, render_note

    sf.write(rig.tmp / "in" / "a_note.wav", render_note(FLUID_R3, 73, 60), 16000)
    s = send(rig, "/library/add", "a_note.wav", "flute_at_64", 64)
    assert s.wait_for("/done", 20) == ("/done", "/library/add", "flute_at_64")
    lib = rig.renderer.library
    assert lib.pitches[lib.source_index == lib.names.index("flute_at_64")].tolist() == [64]
    s = send(rig, "/library/add", "a_note.wav", "flute_at_200", 200)
    assert len(s.replies) == 1 and s.replies[0][:2] == ("/fail", "/library/add") and "pitch" in s.replies[0][2]


def test_sync_answers_after_the_render_queued_before_it(rig):
    s = CollectingSender()
    send(rig, "/render", "b.wav", 62, 100, 0.2, sender=s)
    send(rig, "/sync", 7, sender=s)
    assert s.wait_for("/synced", 20) == ("/synced", 7)
    assert [r[0] for r in s.replies] == ["/done", "/synced"]


def bundle(timetag, *messages):
    b = OscBundleBuilder(timetag)
    for address, *args in messages:
        m = OscMessageBuilder(address)
        for a in args:
            m.add_arg(a)
        b.add_content(m.build())
    return b.build().dgram


def test_future_bundle_runs_at_its_timetag_without_blocking_other_messages(rig):
    s = CollectingSender()
    due = time.time() + 0.4
    rig.osc.feed(bundle(due, ("/library/list",), ("/sync", 3)), s)
    rig.osc.feed(build_message("/status"), s)        # answered at once, not after the bundle
    assert [r[0] for r in s.replies] == ["/status.reply"]
    assert s.wait_for("/synced", 5) == ("/synced", 3)
    assert time.time() >= due
    assert [r[0] for r in s.replies] == ["/status.reply", "/library/list.reply", "/synced"]


def test_immediate_bundle_runs_its_messages_in_order(rig):
    s = CollectingSender()
    rig.osc.feed(bundle(0, ("/gain", -12.0), ("/status",), ("/nope",)), s)
    assert [r[0] for r in s.replies] == ["/status.reply", "/fail"]
    assert s.replies[1][1] == "/nope"


def test_sync_waits_for_a_note_still_rendering_after_a_cache_miss(rig):
    s = CollectingSender()
    send(rig, "/note/on", 66, 100, sender=s)
    send(rig, "/sync", 9, sender=s)
    assert s.wait_for("/synced", 20) == ("/synced", 9)
    rig.engine.process(np.zeros(256, np.float32))   # the note-on is already in the ring
    assert rig.engine.active_voices() == 1


def test_velocities_that_share_a_render_still_play_at_their_own_level(rig):
    rendered_at = rig.renderer.library.nearest_velocity(100)
    soft = max(1, rendered_at // 2)
    levels = {}
    for velocity in (rendered_at, soft):
        send(rig, "/note/on", 62, velocity)
        assert pump(rig.engine, lambda: rig.engine.active_voices() == 1)
        voice = int(np.flatnonzero(rig.engine.pitch == 62)[0])
        levels[velocity] = float(rig.engine.level[voice])
        send(rig, "/panic")
        assert pump(rig.engine, lambda: rig.engine.active_voices() == 0)
    note = rig.renderer.lookup(62, soft)
    assert levels[rendered_at] == pytest.approx(1.0)
    assert levels[soft] == pytest.approx((soft / note.velocity) ** 2)
