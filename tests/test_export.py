"""Sampler export: the SFZ/SF2/WAV instruments `morphsynth export` and OSC /export write.

The instruments come from the tiny trained model and are played by real sampler engines:
sfizz (pysfizz) for the .sfz, FluidSynth for the .sf2 that Polyphone converts.
"""

import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from morphsynth.core.errors import MorphsynthError
from morphsynth.core.pitch import autocorrelation_f0, cents_off
from morphsynth.main import main
from morphsynth.server.export import layers_for, parse_keys, parse_velocities, zones
from morphsynth.server.morph import Morph
from osc_doubles import CollectingSender
from test_audio_support import SR, neural_renderer
from test_osc_dispatch import make_rig, send

REPO = Path(__file__).resolve().parents[1]
KEYS = "48-72/12"          # 48, 60, 72


def sfz_regions(path: Path) -> list[dict]:
    """Every <region> line of an .sfz as {opcode: value} (what this exporter writes: one region a line)."""
    regions = []
    for line in path.read_text().splitlines():
        if line.startswith("<region>"):
            regions.append(dict(re.findall(r"(\w+)=(\S+)", line)))
    return regions


def sfizz_player(sfz: Path):
    """A pysfizz synth with ``sfz`` loaded, its samples held whole in memory.

    sfizz streams all but the start of each sample from disk on a background thread; offline
    (freewheeling) it sometimes renders before the stream is there and plays silence. The
    ``hint_ram_based`` control opcode loads whole samples instead; it changes nothing else.
    """
    import pysfizz  # the test extra: a real SFZ player
    in_ram = sfz.with_name(f"{sfz.stem}_in_ram.sfz")
    in_ram.write_text("<control>\nhint_ram_based=1\n" + sfz.read_text())
    synth = pysfizz.Synth(sample_rate=SR, block_size=512)
    assert synth.load_sfz_file(str(in_ram))
    return synth


def rms(audio, start_s, end_s, rate=SR):
    seg = np.asarray(audio[int(start_s * rate):int(end_s * rate)], dtype=np.float64)
    return float(np.sqrt(np.mean(seg * seg)))


@pytest.fixture(scope="module")
def shipped():
    """``(model_dir, library_path)`` of the shipped model: the tiny test model is too small to
    play in tune, and a pitch check needs one that does (its library has velocities 40, 80, 120)."""
    model_dir = REPO / "models" / "default"
    return model_dir, model_dir / "library.safetensors"


@pytest.fixture(scope="module")
def exported(shipped, tmp_path_factory):
    """The .sfz of the first flute exported at keys 48, 60, 72 and the library's three velocities."""
    model_dir, lib_path = shipped
    out = tmp_path_factory.mktemp("export") / "inst"
    assert main(["export", "--model", str(model_dir), "--library", str(lib_path), "--source", "flute",
                 "--keys", KEYS, "--out", str(out)]) == 0
    return out / "inst.sfz"


# ------------------------------------------------------------------ layouts
def test_keys_parse_ranges_steps_and_lists_and_keep_the_top_key():
    assert parse_keys("48-72/12") == (48, 60, 72)
    assert parse_keys("21-30/4") == (21, 25, 29, 30)
    assert parse_keys("60, 48,60-61") == (48, 60, 61)
    for bad, reason in [("72-48", "runs downwards"), ("10-20", "not a MIDI key"), ("a-b", "expected LO-HI"),
                        ("48-72/0", "at least 1"), ("", "expected LO-HI")]:
        with pytest.raises(MorphsynthError, match=reason):
            parse_keys(bad)


def test_zones_tile_the_range_and_ties_go_to_the_upper_centre():
    assert zones([48, 60, 72], 0, 127) == [(0, 53), (54, 65), (66, 127)]
    assert zones([40, 70], 1, 127) == [(1, 54), (55, 127)]      # 55 is as near 40 as 70: the louder
    assert zones([64], 0, 127) == [(0, 127)]


def test_velocities_the_library_snaps_together_merge_into_one_layer():
    nearest = {40: 60, 50: 60, 80: 100, 110: 100}.get
    layers = layers_for(parse_velocities("40,50,80,110"), nearest)
    assert [(layer.velocity, layer.lovel, layer.hivel) for layer in layers] == [(60, 1, 64), (100, 65, 127)]
    with pytest.raises(MorphsynthError, match="velocities 1-127"):
        parse_velocities("0,80")


# ------------------------------------------------------------------ the .sfz
def test_sfz_regions_tile_keyboard_and_velocities_with_loops_inside_their_samples(exported):
    regions = sfz_regions(exported)
    assert len(regions) == 3 * 3
    for r in regions:
        info = sf.info(str(exported.parent / r["sample"]))
        assert info.samplerate == SR and info.subtype == "PCM_24" and info.channels == 1
        assert 0 < int(r["loop_start"]) < int(r["loop_end"]) < info.frames
        assert 0 < float(r["ampeg_release"]) <= 1.0
    assert "loop_mode=loop_continuous" in exported.read_text()
    for lovel, hivel in {(int(r["lovel"]), int(r["hivel"])) for r in regions}:
        keys = sorted((int(r["lokey"]), int(r["hikey"]), int(r["pitch_keycenter"])) for r in regions
                      if (int(r["lovel"]), int(r["hivel"])) == (lovel, hivel))
        assert [k[2] for k in keys] == [48, 60, 72]
        assert keys[0][0] == 0 and keys[-1][1] == 127
        assert all(a[1] + 1 == b[0] for a, b in zip(keys, keys[1:]))          # no gap, no overlap
        assert all(lo <= centre <= hi for lo, hi, centre in keys)
    layers = sorted({(int(r["lovel"]), int(r["hivel"])) for r in regions})
    assert layers == [(1, 59), (60, 99), (100, 127)]          # between the library's 40, 80, 120


def test_sfizz_plays_rendered_and_between_keys_in_tune_and_holds_them_past_the_sample(exported):
    synth = sfizz_player(exported)
    assert synth.playable_keys == list(range(128))
    sample72, _ = sf.read(str(exported.parent / "samples" / "072_C5_v120.wav"), dtype="float32")
    f0_72 = autocorrelation_f0(sample72, SR, start_s=0.3, dur_s=1.0)
    for key in (60, 66, 72):
        out = synth.render_note(key, 100, 6.0, 7.5)[0]          # held 6 s: longer than the 4 s sample
        f0 = autocorrelation_f0(out, SR, start_s=0.3, dur_s=1.0)
        assert abs(cents_off(f0, key)) < 50, (key, f0)
        assert rms(out, 4.8, 5.8) > 0.3 * rms(out, 0.5, 1.5)      # the loop holds the note
        assert rms(out, 7.2, 7.5) < 0.01 * rms(out, 0.5, 1.5)     # and the release ends it
    # Key 66 transposes the sample of 72 down by exactly six semitones.
    out = synth.render_note(66, 100, 2.0, 2.5)[0]
    assert abs(cents_off(autocorrelation_f0(out, SR, start_s=0.3, dur_s=1.0), 66) - cents_off(f0_72, 72)) < 5


def test_sfizz_plays_each_velocity_layer_as_loud_as_the_server_does(exported, shipped):
    synth = sfizz_player(exported)
    renderer = neural_renderer(*shipped)
    try:
        morph = Morph(("flute",), (1.0,))
        server = {v: rms(renderer.render(morph, 60, v), 0.5, 1.5) for v in (40, 75, 120)}
    finally:
        renderer.close()
    played = {v: rms(synth.render_note(60, v, 2.0, 2.0)[0], 0.5, 1.5) for v in (40, 75, 120)}
    for v in (40, 75):   # one velocity in each layer, against the top one
        assert 20 * np.log10(played[v] / played[120]) == pytest.approx(
            20 * np.log10(server[v] / server[120]), abs=1.0)


# ------------------------------------------------------------------ other formats
def test_sf2_export_plays_in_fluidsynth_in_tune_and_looped(shipped, tmp_path):
    if shutil.which("polyphone") is None:
        pytest.skip("polyphone is not installed (bash scripts/setup.sh --test installs it)")
    from morphsynth.training.soundfont import SoundFontSynth

    model_dir, lib_path = shipped
    out = tmp_path / "sf"
    assert main(["export", "--model", str(model_dir), "--library", str(lib_path), "--source", "flute",
                 "--keys", "60,72", "--velocities", "100", "--format", "sf2", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["sf.sf2"]     # the SFZ and WAVs were only a step
    with SoundFontSynth(out / "sf.sf2", SR) as synth:
        for key in (60, 66):
            note = synth.render(0, key, 100, hold_s=6.0, release_s=1.5)
            assert abs(cents_off(autocorrelation_f0(note, SR, start_s=0.3, dur_s=1.0), key)) < 50
            assert rms(note, 4.8, 5.8) > 0.3 * rms(note, 0.5, 1.5)


def test_sf2_without_polyphone_is_refused_in_one_line_naming_the_way_out(tiny_parts, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    out = tmp_path / "x"
    assert main(["export", "--source", "a", "--format", "sf2", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no SoundFont writer found" in err[0] and "convert the .sfz" in err[0]
    assert not out.exists()


def test_wav_export_writes_the_samples_and_an_index_of_keys_layers_and_loops(shipped, tmp_path):
    model_dir, lib_path = shipped
    out = tmp_path / "w"
    assert main(["export", "--model", str(model_dir), "--library", str(lib_path), "--source", "flute",
                 "--keys", "60", "--velocities", "100", "--format", "wav", "--sample-format", "float",
                 "--rate", "24000", "--out", str(out)]) == 0
    import json

    index = json.loads((out / "index.json").read_text())
    assert not list(out.glob("*.sfz"))
    (inst,) = index["instruments"]
    (s,) = inst["samples"]
    audio, rate = sf.read(str(out / s["file"]), dtype="float32")
    assert rate == 24000 == index["sample_rate"] and sf.info(str(out / s["file"])).subtype == "FLOAT"
    assert (s["key"], s["lokey"], s["hikey"], s["lovel"], s["hivel"]) == (60, 0, 127, 1, 127)
    assert 0 < s["loop_start"] < s["loop_end"] <= audio.size == s["n_samples"]
    assert np.abs(audio).max() == pytest.approx(10 ** (-1 / 20), abs=1e-3)
    f0 = autocorrelation_f0(audio, rate, start_s=0.3, dur_s=1.0)
    assert abs(cents_off(f0, 60)) < 50


def test_grid_export_writes_an_instrument_per_point_and_one_in_which_cc1_and_cc2_choose_the_point(shipped, tmp_path):
    model_dir, lib_path = shipped
    out = tmp_path / "g"
    assert main(["export", "--model", str(model_dir), "--library", str(lib_path),
                 "--corners", "bass", "brass", "flute", "guitar", "--grid", "2", "--keys", "60",
                 "--velocities", "127", "--out", str(out)]) == 0
    points = sorted(p.name for p in out.glob("g_x*.sfz"))
    assert points == ["g_x0.00_y0.00.sfz", "g_x0.00_y1.00.sfz", "g_x1.00_y0.00.sfz", "g_x1.00_y1.00.sfz"]
    assert re.search(r"brass\w*:1 ", (out / "g_x1.00_y0.00.sfz").read_text())
    text = (out / "g_grid.sfz").read_text()
    cells = re.findall(r"locc1=(\d+) hicc1=(\d+) locc2=(\d+) hicc2=(\d+)", text)
    assert sorted(cells) == [("0", "63", "0", "63"), ("0", "63", "64", "127"),
                             ("64", "127", "0", "63"), ("64", "127", "64", "127")]
    synth = sfizz_player(out / "g_grid.sfz")
    tags = ["x0.00_y0.00", "x1.00_y0.00", "x0.00_y1.00", "x1.00_y1.00"]
    samples = {t: sf.read(str(out / "samples" / t / "060_C4_v120.wav"), dtype="float32")[0][:SR] for t in tags}
    for tag, (cc1, cc2) in zip(tags, [(0, 0), (127, 0), (0, 127), (127, 127)]):
        synth._synth.cc(0, 1, cc1)
        synth._synth.cc(0, 2, cc2)
        played = synth.render_note(60, 127, 1.0, 1.0)[0][:SR]
        match = {t: float(played @ a / (np.linalg.norm(played) * np.linalg.norm(a))) for t, a in samples.items()}
        assert max(match, key=match.get) == tag and match[tag] > 0.95, match


# ------------------------------------------------------------------ command-line mistakes
@pytest.mark.parametrize("args,reason", [
    (["--source", "no_such_instrument"], "unknown source 'no_such_instrument'"),
    (["--source", "a", "--keys", "72-48"], "--keys 72-48: 72-48 runs downwards"),
    (["--source", "a", "--keys", "C4"], "--keys C4: expected LO-HI"),
    (["--source", "a", "--velocities", "0,200"], "--velocities 0,200: expected velocities 1-127"),
    (["--source", "a", "--format", "mp3"], "format: 'mp3' is not one of sfz, sf2, wav"),
    (["--source", "a", "--sample-format", "8"], "sample format: '8' is not one of 24, float"),
    (["--source", "a", "--grid", "3"], "--xy/--grid: need the four --corners"),
    (["--corners", "a", "b", "c", "d"], "--corners: needs one of --xy X Y or --grid N"),
    (["--corners", "a", "b", "c", "d", "--grid", "12"], "grid: 12 points a side is outside 2..9"),
])
def test_export_mistakes_fail_in_one_line_and_write_nothing(tiny_parts, tmp_path, capsys, args, reason):
    model_dir, lib_path = tiny_parts
    out = tmp_path / "never"
    assert main(["export", "--model", str(model_dir), "--library", str(lib_path), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("morphsynth: error: ") and reason in err[0], err
    assert not out.exists()


# ------------------------------------------------------------------ OSC /export
@pytest.fixture
def rig(tiny_parts, tmp_path):
    rig = make_rig(tiny_parts, tmp_path)
    yield rig
    rig.server.stop()


def test_osc_export_reports_progress_to_registered_clients_and_answers_done(rig):
    listener = CollectingSender(key=("listener", 1))
    assert ("/done", "/notify") in send(rig, "/notify", 1, sender=listener).replies
    s = send(rig, "/export", "pads/now", "sfz", 12, 48, 72)
    assert s.wait_for("/done", 60) == ("/done", "/export", "pads/now")
    progress = [r[1:] for r in listener.replies if r[0] == "/export/progress"]
    assert progress[0] == (0, 3) and progress[-1] == (3, 3)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    sfz = rig.tmp / "out" / "pads" / "now" / "now.sfz"
    regions = sfz_regions(sfz)
    assert [int(r["pitch_keycenter"]) for r in regions] == [48, 60, 72]
    morph = rig.server.controls.current_morph()
    assert all(f"{name}:" in sfz.read_text() for name, w in zip(morph.sources, morph.weights) if w > 0)
    assert all((sfz.parent / r["sample"]).is_file() for r in regions)


@pytest.mark.parametrize("args,reason", [
    (("../escape",), "contains '..'"),
    (("/tmp/elsewhere",), "'/tmp/elsewhere' is outside"),
    (("inst", "mp3"), "format: 'mp3' is not one of sfz, sf2, wav"),
    (("inst", "sfz", 0), "step: 0 is outside 1..88"),
    (("inst", "sfz", 3, 72, 48), "highest key 48 is below lowest 72"),
    (("taken",), "'taken' is a file, not a folder"),
    ((60,), "folder: expected a string"),
])
def test_osc_export_refuses_bad_folders_and_options_at_once_in_one_fail(rig, args, reason):
    (rig.tmp / "out").mkdir(exist_ok=True)
    (rig.tmp / "out" / "taken").write_text("a file")
    s = send(rig, "/export", *args)
    time.sleep(0.05)   # anything queued would have answered by now
    assert len(s.replies) == 1, s.replies
    fail, where, text = s.replies[0]
    assert (fail, where) == ("/fail", "/export") and reason in text
    assert sorted(p.name for p in (rig.tmp / "out").iterdir()) == ["taken"]
