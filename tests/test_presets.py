"""Presets, state echo and /describe: saved and recalled performance state (through OSC
and MIDI program change), every state change echoed to registered clients over real UDP
sockets, and the address space described from the table."""

import time

import mido
import pytest
from pythonosc.udp_client import SimpleUDPClient

from fuzz_corpus import build_fuzz_server
from morphsynth.server.address_space import TABLE
from morphsynth.server.engine_voices import HELD
from morphsynth.server.midi import MidiMapper, cc_to_db
from morphsynth.server.osc_packets import build_message
from morphsynth.server.server_config import MidiSettings
from osc_doubles import CollectingSender


def send(server, address, *args, sender=None):
    sender = sender or CollectingSender()
    server.osc.feed(build_message(address, *args), sender)
    return sender


def presets_dir(server):
    return server.controls.presets.folder


def sound_state(server):
    """Everything a preset restores, and the renderer's key for the morph that plays."""
    c = server.controls
    return c.snapshot(), server.renderer.morph.cache_key(), (c.adsr, c.gain_db)


def perform(server, sources, gain_db=-9.0, release=1.2):
    """A performance far from the start state: every part of it moved by OSC."""
    n = len(sources)
    ramp = [0.0, 1] + [0] * (n - 1) + [1.5] + [0] * (n - 1) + [1]
    for message in [("/morph/sources", *sources), ("/morph/xy", 0.2, 0.7), ("/knob", 0, 1.5), ("/knob", 3, -2.0),
                    ("/morph/ramp", *ramp), ("/adsr", 0.02, 0.3, 0.6, release), ("/gain", gain_db)]:
        assert send(server, *message).replies == [], message


def test_save_then_load_restores_the_whole_state_and_render_key_in_one_morph_change(fuzz_server):
    server, c = fuzz_server, fuzz_server.controls
    names = server.renderer.library.names
    perform(server, list(reversed(names[:4])))
    c.cc_map = {1: "y", 11: "gain"}          # a performer's own CC map (no OSC address sets it)
    saved = sound_state(server)
    assert send(server, "/preset/save", "warm_pad").replies == [("/done", "/preset/save", "warm_pad")]
    assert (presets_dir(server) / "warm_pad.yaml").is_file()

    perform(server, [names[1], names[2]], gain_db=-20.0, release=0.1)
    assert send(server, "/morph/interp", "slerp").replies == []
    c.cc_map = {1: "x"}
    assert sound_state(server) != saved
    before = c._generation
    assert send(server, "/preset/load", "warm_pad").replies == [("/done", "/preset/load", "warm_pad")]
    assert sound_state(server) == saved
    assert c.cc_map == {1: "y", 11: "gain"}
    assert c._generation == before + 1       # one morph change, not one per key


def test_preset_list_replies_with_the_saved_names_sorted_and_nothing_else(fuzz_server):
    assert send(fuzz_server, "/preset/list").replies == [("/preset/list.reply",)]   # no folder yet
    for name in ("zeta", "Alpha-1", "5"):
        send(fuzz_server, "/preset/save", name)
    (presets_dir(fuzz_server) / "notes.txt").write_text("not a preset")
    (presets_dir(fuzz_server) / ".hidden.yaml").write_text("gain_db: 0")
    assert send(fuzz_server, "/preset/list").replies == [("/preset/list.reply", "5", "Alpha-1", "zeta")]


@pytest.mark.parametrize("address", ["/preset/save", "/preset/load"])
@pytest.mark.parametrize("name, reason", [
    ("../escape", "no '/' or '..'"), ("a/b", "no '/' or '..'"), ("/tmp/abs", "no '/' or '..'"), ("..", "'..'"),
    (".hidden", "starting with a letter or digit"), ("x" * 65, "at most 64"), ("", "name: empty string"),
])
def test_a_preset_name_that_is_not_a_plain_word_gets_one_fail_and_touches_no_file(fuzz_server, tmp_path,
                                                                                 address, name, reason):
    before = sorted(p for p in tmp_path.rglob("*"))
    s = send(fuzz_server, address, name)
    assert len(s.replies) == 1 and s.replies[0][:2] == ("/fail", address) and reason in s.replies[0][2]
    assert sorted(p for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("text, reason", [
    ("x: 2.0\n", "bad.yaml: x: 2.0 is outside 0..1"),
    ("gain_db: loud\n", "bad.yaml: gain_db: expected float, got str 'loud'"),
    ("colour: red\n", "bad.yaml: unknown key 'colour'"),
    ("sources: [a, b\n", "bad.yaml: not valid YAML"),
    ("- a list\n", "bad.yaml: top level: expected a mapping"),
    ("envelope: {attack: -1}\n", "bad.yaml: envelope.attack: -1.0 s is outside 0..60"),
    ("cc_map: {64: x}\n", "bad.yaml: cc_map: CC64 is reserved"),
    ("cc_map: {20: knob9}\n", "bad.yaml: cc_map.20: 'knob9' is not x, y, gain or knob0..knob7"),
    ("weights: [1, 0]\nsources: [a]\n", "bad.yaml: weights: need 1 (one per source), got 2"),
    ("format_version: 2\n", "bad.yaml: format_version: 2 is not supported"),
    ("!!python/object/apply:os.system ['touch pwned']\n", "bad.yaml: not valid YAML"),
    ("sources: [no_such_source]\n", "preset 'bad': unknown source 'no_such_source'"),
    ("ramp: [[0, 1, 0]]\n", "preset 'bad': morph: ramp point 0 weights: need 4 weight(s)"),
    ("weights: [0.5, 0.5]\n", "preset 'bad': morph: weights: need 4 weight(s)"),
])
def test_a_corrupt_preset_file_fails_naming_the_key_and_the_state_stays(fuzz_server, text, reason):
    perform(fuzz_server, fuzz_server.renderer.library.names[:4])
    before = sound_state(fuzz_server)
    presets_dir(fuzz_server).mkdir(parents=True)
    (presets_dir(fuzz_server) / "bad.yaml").write_text(text)
    s = send(fuzz_server, "/preset/load", "bad")
    assert len(s.replies) == 1 and s.replies[0][:2] == ("/fail", "/preset/load"), s.replies
    assert reason in s.replies[0][2] and "\n" not in s.replies[0][2]
    assert sound_state(fuzz_server) == before
    assert send(fuzz_server, "/preset/load", "missing").replies[0][2].startswith("no preset 'missing' in ")


def test_a_hand_written_preset_changes_only_the_keys_it_names(fuzz_server):
    c = fuzz_server.controls
    perform(fuzz_server, fuzz_server.renderer.library.names[:4])
    before = c.snapshot()
    presets_dir(fuzz_server).mkdir(parents=True)
    (presets_dir(fuzz_server) / "quiet.yaml").write_text("gain_db: -30\nknobs: [0.5]\n")
    assert send(fuzz_server, "/preset/load", "quiet").replies == [("/done", "/preset/load", "quiet")]
    after = c.snapshot()
    assert after.gain_db == -30.0 and after.knobs == [0.5] + [0.0] * 7
    keep = ("sources", "weights", "x", "y", "interp", "ramp", "envelope", "cc_map", "follow")
    assert [getattr(after, k) for k in keep] == [getattr(before, k) for k in keep]
    assert before.ramp and before.gain_db == -9.0


@pytest.mark.parametrize("follow", [True, False], ids=["follow", "keep"])
def test_a_preset_follow_key_decides_whether_a_held_note_moves_to_the_recalled_morph(fuzz_server, follow):
    import numpy as np

    from fuzz_corpus import pump_until

    engine = fuzz_server.engine
    send(fuzz_server, "/note/on", 60, 100)
    assert pump_until(engine, lambda: engine.active_voices() == 1)
    (voice,) = np.flatnonzero(engine.state == HELD)
    before = engine.buffers[voice].copy()
    presets_dir(fuzz_server).mkdir(parents=True)
    (presets_dir(fuzz_server) / "corner.yaml").write_text(f"x: 1.0\ny: 1.0\nfollow: {str(follow).lower()}\n")
    assert send(fuzz_server, "/preset/load", "corner").replies == [("/done", "/preset/load", "corner")]
    assert fuzz_server.controls.follow is follow
    assert fuzz_server.renderer.queue.wait_idle(30)
    pump_until(engine, lambda: engine.swap_left[voice] > 0, blocks=200)
    assert pump_until(engine, lambda: engine.swap_left[voice] == 0)
    assert np.array_equal(engine.buffers[voice], before) is not follow
    assert engine.state[voice] == HELD


def test_program_change_recalls_a_named_preset_a_numbered_one_or_keeps_old_source_lists(fuzz_server):
    c = fuzz_server.controls
    names = fuzz_server.renderer.library.names
    perform(fuzz_server, names[:4])
    send(fuzz_server, "/preset/save", "lead")
    send(fuzz_server, "/preset/save", "7")
    send(fuzz_server, "/gain", -40.0)
    mapper = MidiMapper(c, MidiSettings(presets={3: "lead", 4: [names[2], names[3]]}))
    mapper.handle(mido.Message("program_change", program=3))
    assert c.gain_db == -9.0 and mapper.errors == 0
    mapper.handle(mido.Message("program_change", program=4))       # the old form: sources at the corners
    assert c.sources == (names[2], names[3]) and c.gain_db == -9.0
    mapper.handle(mido.Message("program_change", program=7))       # not listed: the preset named "7"
    assert c.sources == tuple(names[:4]) and mapper.errors == 0
    mapper.handle(mido.Message("program_change", program=9))       # neither: logged, nothing changes
    assert mapper.errors == 1 and c.sources == tuple(names[:4])


def test_a_preset_cc_map_reroutes_midi_controllers(fuzz_server):
    c = fuzz_server.controls
    presets_dir(fuzz_server).mkdir(parents=True)
    (presets_dir(fuzz_server) / "faders.yaml").write_text("cc_map: {20: gain, 21: knob2}\n")
    send(fuzz_server, "/preset/load", "faders")
    mapper = MidiMapper(c, MidiSettings())
    x = c.x
    for control, value in ((1, 127), (20, 64), (21, 127)):
        mapper.handle(mido.Message("control_change", control=control, value=value))
    assert c.x == x                                        # CC1 no longer moves x
    assert c.gain_db == pytest.approx(cc_to_db(64)) and c.knobs[2] == pytest.approx(3.0)


def test_midi_config_refuses_a_program_preset_name_that_is_not_a_plain_word(tmp_path):
    from morphsynth.core.config import ConfigError
    from morphsynth.server.server_config import load_serve_config

    path = tmp_path / "serve.yaml"
    path.write_text("midi:\n  presets: {1: ../etc, 2: [flute]}\n")
    with pytest.raises(ConfigError, match=r"midi\.presets\.1: preset name '\.\./etc'"):
        load_serve_config(path)
    path.write_text("midi:\n  presets: {1: lead, 2: [flute, brass]}\n")
    assert load_serve_config(path).midi.presets == {1: "lead", 2: ["flute", "brass"]}


# ---------------------------------------------------------------------- echo over real sockets


@pytest.fixture
def served(fuzz_parts, tmp_path):
    server = build_fuzz_server(*fuzz_parts, tmp_path).start()
    yield server
    server.stop()


def client(server):
    c = SimpleUDPClient("127.0.0.1", server.osc.udp_port)
    c._sock.bind(("127.0.0.1", 0))
    return c


def receive_until(c, address, timeout=10.0):
    """Messages received by ``c`` up to and including the first to ``address``."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = next(c.get_messages(max(0.05, deadline - time.monotonic())))
        except (StopIteration, TimeoutError, OSError):
            break
        got.append((msg.address, *msg.params))
        if msg.address == address:
            return got
    raise AssertionError(f"no {address} within {timeout} s; got {got}")


def registered(server):
    phone = client(server)
    phone.send_message("/notify", [1])
    got = receive_until(phone, "/gain")          # the whole state comes first; /gain is its last message
    assert got[0] == ("/done", "/notify")
    return phone, got[1:]


def test_a_new_client_registered_for_notify_first_gets_the_whole_state(served):
    _, state = registered(served)
    c = served.controls
    assert [m[0] for m in state] == ["/morph/sources", "/morph/weights", "/morph/xy", "/morph/interp",
                                     "/morph/ramp"] + ["/knob"] * 8 + ["/morph/follow", "/adsr", "/gain"]
    assert state[0] == ("/morph/sources", *c.sources) and state[2] == ("/morph/xy", 0.5, 0.5)
    assert state[4] == ("/morph/ramp", 0.0) and state[-1] == ("/gain", pytest.approx(c.gain_db))


def test_a_change_from_one_client_or_from_midi_echoes_to_another_registered_client(served):
    phone, _ = registered(served)
    max_patch = client(served)
    max_patch.send_message("/morph/xy", [0.25, 0.75])
    got = receive_until(phone, "/morph/xy")
    assert got[-1] == ("/morph/xy", 0.25, 0.75)
    assert ("/morph/weights", *(pytest.approx(w) for w in (0.1875, 0.0625, 0.5625, 0.1875))) in got
    max_patch.send_message("/adsr", [0.01, 0.2, 0.5, 0.9])
    assert receive_until(phone, "/adsr")[-1] == ("/adsr", *map(pytest.approx, (0.01, 0.2, 0.5, 0.9)))

    MidiMapper(served.controls, served.cfg.midi).handle(mido.Message("control_change", control=1, value=127))
    assert receive_until(phone, "/morph/xy")[-1] == ("/morph/xy", 1.0, 0.75)
    MidiMapper(served.controls, served.cfg.midi).handle(mido.Message("control_change", control=74, value=0))
    assert receive_until(phone, "/knob")[-1] == ("/knob", 0, pytest.approx(-3.0))
    max_patch.send_message("/morph/xy", [1.0, 0.75])             # no change: no echo
    max_patch.send_message("/gain", [-3.0])
    assert receive_until(phone, "/gain") == [("/gain", -3.0)]


def test_a_preset_load_echoes_what_changed_and_then_preset_loaded(served):
    names = served.renderer.library.names
    start = served.controls.sources
    max_patch = client(served)
    max_patch.send_message("/preset/save", ["start"])
    assert receive_until(max_patch, "/done")[-1] == ("/done", "/preset/save", "start")
    max_patch.send_message("/morph/sources", [names[1], names[0]])
    max_patch.send_message("/gain", [-20.0])
    phone, _ = registered(served)
    max_patch.send_message("/preset/load", ["start"])
    got = receive_until(phone, "/preset/loaded")
    assert got[0] == ("/morph/sources", *start) and got[1][0] == "/morph/weights"
    assert got[2:] == [("/gain", pytest.approx(served.controls.gain_db)), ("/preset/loaded", "start")]
    assert receive_until(max_patch, "/done")[-1] == ("/done", "/preset/load", "start")


# ---------------------------------------------------------------------- /describe


def test_describe_lists_every_table_row_with_its_type_tags_then_done(fuzz_server):
    s = send(fuzz_server, "/describe")
    rows, done = s.replies[:-1], s.replies[-1]
    assert done == ("/done", "/describe", len(TABLE))
    assert [r[0] for r in rows] == ["/describe.reply"] * len(TABLE)
    assert [r[1] for r in rows] == [a.path for a in TABLE]
    described = {r[1]: r[2:] for r in rows}
    assert described["/note/on"] == ("ii[i]", "i:pitch i:velocity [i:id]", "-")
    assert described["/morph/sources"] == ("s...", "s:name...", "-")
    assert described["/status"][:2] == ("-", "-") and described["/status"][2].startswith("/status.reply ")
    assert described["/preset/load"] == ("s", "s:name", "/done /preset/load name")
    for a in TABLE:
        tags, arguments, reply = described[a.path]
        assert tags.replace("[", "").replace("]", "").replace("...", "") == "".join(x.type for x in a.args) or (
            tags == "-" and not a.args)
        assert len(arguments.split()) == len(a.args) or (arguments == "-" and not a.args)
        assert reply == (a.reply or "-")


def test_describe_over_udp_arrives_whole_in_one_datagram_per_address(served):
    c = client(served)
    c.send_message("/describe", [])
    got = receive_until(c, "/done")
    assert got[-1] == ("/done", "/describe", len(TABLE))
    assert [m[1] for m in got[:-1]] == [a.path for a in TABLE]


@pytest.mark.jack
def test_program_change_on_a_real_rtmidi_port_recalls_a_preset_and_echoes_it(jack_server, fuzz_parts, tmp_path):
    from morphsynth.server.app import SynthServer
    from serve_support import null_serve_config, wait_for
    from test_audio_support import neural_renderer

    cfg = null_serve_config(tmp_path, midi_port="virtual")
    cfg.midi.api, cfg.midi.client_name = "UNIX_JACK", "morphsynth-presets"
    cfg.midi.presets = {2: "lead"}
    # No JACK audio client in this process: opening rtmidi JACK ports beside one can deadlock.
    server = SynthServer(cfg, neural_renderer(*fuzz_parts)).start()
    try:
        c = server.controls
        c.set_xy(0.1, 0.9)
        c.set_gain_db(-15.0)
        c.save_preset("lead")
        c.set_xy(0.5, 0.5)
        c.set_gain_db(0.0)
        phone, _ = registered(server)
        backend = mido.Backend("mido.backends.rtmidi", api="UNIX_JACK", load=True)
        name = next(n for n in backend.get_output_names() if "morphsynth-presets" in n)
        with backend.open_output(name) as port:
            time.sleep(0.1)
            port.send(mido.Message("program_change", program=2))
            got = receive_until(phone, "/preset/loaded")
            port.send(mido.Message("control_change", control=2, value=0))   # CC2 -> y
            assert receive_until(phone, "/morph/xy")[-1] == ("/morph/xy", pytest.approx(0.1), 0.0)
        assert ("/morph/xy", pytest.approx(0.1), pytest.approx(0.9)) in got and ("/gain", -15.0) in got
        assert got[-1] == ("/preset/loaded", "lead")
        assert wait_for(lambda: (c.x, c.y, c.gain_db) == (pytest.approx(0.1), 0.0, -15.0))
    finally:
        server.stop()
