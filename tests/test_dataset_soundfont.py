"""The SoundFont dataset builder, on real FluidSynth renders."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from morphsynth.core.errors import MorphsynthError
from morphsynth.main import main
from morphsynth.training import nsynth
from morphsynth.training.dataset_soundfont import (DEFAULT_PROGRAMS, GM_PROGRAMS, build_soundfont_dataset,
                                                   gm_family, parse_int_list)
from morphsynth.core.pitch import autocorrelation_f0, cents_off
from morphsynth.training.soundfont import FLUID_R3, TIMGM6MB, SoundFontSynth

pytestmark = pytest.mark.skipif(not FLUID_R3.is_file(), reason="FluidR3_GM SoundFont not installed")

NSYNTH_KEYS = {"note", "note_str", "instrument", "instrument_str", "pitch", "velocity", "sample_rate",
               "instrument_family", "instrument_family_str", "instrument_source", "instrument_source_str",
               "qualities", "qualities_str"}


def files_of(root):
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    assert files, f"no files found under {root}"
    return files


def test_examples_json_has_nsynth_fields_types_and_note_files(tiny_dataset):
    total = 0
    for split in nsynth.SPLITS:
        folder = tiny_dataset / f"nsynth-{split}"
        data = json.loads((folder / "examples.json").read_text())
        assert data, f"no entries in {folder / 'examples.json'}"
        for key, ex in data.items():
            total += 1
            assert set(ex) == NSYNTH_KEYS
            for field in ("note", "instrument", "pitch", "velocity", "sample_rate", "instrument_family",
                          "instrument_source"):
                assert type(ex[field]) is int, field
            for field in ("note_str", "instrument_str", "instrument_family_str", "instrument_source_str"):
                assert type(ex[field]) is str, field
            assert key == ex["note_str"] == f"{ex['instrument_str']}-{ex['pitch']:03d}-{ex['velocity']:03d}"
            assert re.fullmatch(r"[a-z_]+_[a-z]+_[a-z0-9]+", ex["instrument_str"])
            assert ex["instrument_str"].startswith(f"{ex['instrument_family_str']}_{ex['instrument_source_str']}_")
            assert nsynth.FAMILIES[ex["instrument_family"]] == ex["instrument_family_str"]
            assert nsynth.SOURCES[ex["instrument_source"]] == ex["instrument_source_str"]
            assert ex["sample_rate"] == 16000 and ex["velocity"] == 100 and 48 <= ex["pitch"] <= 72
            assert len(ex["qualities"]) == 10 and all(q in (0, 1) for q in ex["qualities"])
            assert ex["qualities_str"] == [q for q, on in zip(nsynth.QUALITIES, ex["qualities"]) if on]
            info = sf.info(str(folder / "audio" / f"{key}.wav"))
            assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 64000, "PCM_16")
    assert total == 40


def test_family_vocabulary_is_nsynths():
    assert nsynth.FAMILIES == ("bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed",
                               "string", "synth_lead", "vocal")
    assert nsynth.SOURCES == ("acoustic", "electronic", "synthetic")
    assert len(nsynth.QUALITIES) == 10


def test_splits_share_no_instrument(tiny_dataset):
    seen = {}
    for split in nsynth.SPLITS:
        names = {e["instrument_str"] for e in nsynth.read_examples(tiny_dataset / f"nsynth-{split}").values()}
        assert names, split
        for other, other_names in seen.items():
            assert not names & other_names, (split, other)
        seen[split] = names
    assert sum(len(v) for v in seen.values()) == 10


def test_every_note_sounds_within_50_cents_of_its_midi_pitch(tiny_dataset):
    examples = nsynth.list_examples(tiny_dataset)
    assert examples, f"no notes found in {tiny_dataset}"
    for ex in examples:
        f0 = autocorrelation_f0(ex.load_audio(), 16000)
        assert abs(cents_off(f0, ex.pitch)) < 50, (ex.note_str, f0)


def test_gm_groups_map_onto_nsynth_families_and_unpitched_programs_are_excluded():
    assert gm_family(0) == ("keyboard", "acoustic")
    assert gm_family(33) == ("bass", "electronic")
    assert gm_family(38) == ("bass", "synthetic")
    assert gm_family(73) == ("flute", "acoustic")
    assert gm_family(65) == ("reed", "acoustic")
    assert gm_family(52)[0] == "vocal" and gm_family(81)[0] == "synth_lead"
    for program in (113, 115, 116, 117, 118, 119, *range(96, 104), *range(120, 128)):
        assert program not in DEFAULT_PROGRAMS
    with pytest.raises(MorphsynthError, match="program 125 .*Helicopter"):
        gm_family(125)
    assert len(DEFAULT_PROGRAMS) == sum(1 for row in GM_PROGRAMS if row[3])


def test_velocity_keeps_its_loudness_meaning():
    with SoundFontSynth(FLUID_R3) as synth:
        rms = [float(np.sqrt(np.mean(synth.render(0, 60, v)[:16000] ** 2))) for v in nsynth.VELOCITIES]
    assert all(a < b for a, b in zip(rms, rms[1:])), rms


def test_same_note_renders_to_same_samples_whatever_was_played_before():
    with SoundFontSynth(FLUID_R3) as fresh:
        expected = fresh.render(40, 60, 100)
    with SoundFontSynth(FLUID_R3) as used:
        for program, pitch in ((0, 72), (81, 36), (40, 67)):
            used.render(program, pitch, 127)
        assert np.array_equal(used.render(40, 60, 100), expected)


def test_rerun_keeps_finished_notes_and_renders_only_missing_ones(tmp_path):
    args = dict(programs=[0, 40], pitches=(55, 65), pitch_step=5, velocities=[50, 100], seed=3,
                valid_fraction=0.0, test_fraction=0.0)
    first = build_soundfont_dataset([FLUID_R3], tmp_path, **args)
    assert (first.rendered, first.kept) == (12, 0)
    wavs = sorted(tmp_path.rglob("*.wav"))
    assert wavs, f"no .wav files found under {tmp_path}"
    stamps = {p: p.stat().st_mtime_ns for p in wavs}
    removed = wavs[3]
    original = removed.read_bytes()
    removed.unlink()
    second = build_soundfont_dataset([FLUID_R3], tmp_path, **args)
    assert (second.rendered, second.kept) == (1, 11)
    for p in wavs:
        if p != removed:
            assert p.stat().st_mtime_ns == stamps[p], p
    assert removed.read_bytes() == original
    assert len(nsynth.read_examples(tmp_path / "nsynth-train")) == 12


def test_same_seed_gives_same_bytes_with_one_or_two_workers(tmp_path):
    args = dict(programs=[0, 24, 40, 56, 73], pitches=(60, 64), pitch_step=4, velocities=[100], seed=7)
    build_soundfont_dataset([FLUID_R3], tmp_path / "a", workers=1, **args)
    build_soundfont_dataset([FLUID_R3], tmp_path / "b", workers=2, **args)
    a, b = files_of(tmp_path / "a"), files_of(tmp_path / "b")
    assert len(a) == 1 + 3 + 10 and a == b  # lock, 3 examples.json, 10 notes


def test_seed_decides_the_split():
    from morphsynth.training.dataset_soundfont import assign_splits

    names = [f"inst{i}" for i in range(20)]
    first = assign_splits(names, 1, 0.1, 0.1)
    assert first == assign_splits(list(reversed(names)), 1, 0.1, 0.1)
    assert sorted(first.values()).count("test") == 2 and sorted(first.values()).count("valid") == 2
    assert any(assign_splits(names, seed, 0.1, 0.1) != first for seed in (2, 3, 4))


@pytest.mark.skipif(not TIMGM6MB.is_file(), reason="TimGM6mb SoundFont not installed")
def test_test_sf2_sends_every_instrument_of_that_soundfont_to_test(tmp_path):
    report = build_soundfont_dataset([FLUID_R3], tmp_path, test_sf2=[TIMGM6MB], programs=[0, 40, 73],
                                     pitches=(60, 60), velocities=[100], valid_fraction=0.34, test_fraction=0.0)
    by_split = {s: {e["instrument_str"] for e in nsynth.read_examples(tmp_path / f"nsynth-{s}").values()}
                for s in nsynth.SPLITS}
    assert by_split["test"] == {"keyboard_acoustic_timgm6mb000", "string_acoustic_timgm6mb040",
                                "flute_acoustic_timgm6mb073"}
    assert len(by_split["valid"]) == 1 and len(by_split["train"]) == 2
    assert all("fluidr3gm" in n for n in by_split["train"] | by_split["valid"])
    assert report.instruments_per_split == {"train": 2, "valid": 1, "test": 3}


def test_notes_outside_an_instruments_range_are_skipped_and_counted(tmp_path):
    # FluidR3's viola has no sample that reaches MIDI 99: the render is silent.
    report = build_soundfont_dataset([FLUID_R3], tmp_path, programs=[41], pitches=(60, 99), pitch_step=39,
                                     velocities=[100], valid_fraction=0.0, test_fraction=0.0)
    assert report.rendered == 1 and report.skipped == ["string_acoustic_fluidr3gm041-099-100"]
    assert list(nsynth.read_examples(tmp_path / "nsynth-train")) == ["string_acoustic_fluidr3gm041-060-100"]
    assert not (tmp_path / "nsynth-train" / "audio" / "string_acoustic_fluidr3gm041-099-100.wav").exists()


def test_missing_soundfont_is_a_one_line_error_and_keeps_the_existing_dataset(tmp_path):
    build_soundfont_dataset([FLUID_R3], tmp_path, programs=[0], pitches=(60, 60), velocities=[100])
    before = files_of(tmp_path)
    missing = tmp_path / "nope.sf2"
    with pytest.raises(MorphsynthError) as info:
        build_soundfont_dataset([FLUID_R3, missing], tmp_path, programs=[0, 40], pitches=(60, 62),
                                velocities=[100])
    assert str(missing) in str(info.value) and "\n" not in str(info.value)
    assert files_of(tmp_path) == before


def test_file_that_is_not_a_soundfont_is_refused_by_name(tmp_path):
    bogus = tmp_path / "bogus.sf2"
    bogus.write_bytes(b"RIFF\x00\x00\x00\x00not a soundfont")
    with pytest.raises(MorphsynthError, match=re.escape(str(bogus))):
        build_soundfont_dataset([bogus], tmp_path / "out", programs=[0], pitches=(60, 60))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("pitches, step", [((72, 60), 1), ((60, 60), 0), ((100, 130), 1)])
def test_empty_or_invalid_pitch_range_is_an_error_naming_pitches(tmp_path, pitches, step):
    with pytest.raises(MorphsynthError, match="--pitches"):
        build_soundfont_dataset([FLUID_R3], tmp_path, programs=[0], pitches=pitches, pitch_step=step)
    assert not any(tmp_path.iterdir())


def test_program_lists_parse_ranges_and_reject_junk():
    assert parse_int_list("0-3, 40,73", "--programs", 0, 127) == [0, 1, 2, 3, 40, 73]
    for bad in ("7-3", "a", "120-130", ""):
        with pytest.raises(MorphsynthError, match="--programs"):
            parse_int_list(bad, "--programs", 0, 127)


def test_cli_builds_a_dataset_and_reports_errors_in_one_line(tmp_path, capsys):
    out = tmp_path / "data"
    rc = main(["dataset", "soundfont", "--sf2", str(FLUID_R3), "--out", str(out), "--programs", "0,73",
               "--pitches", "60-67", "--pitch-step", "7", "--velocities", "100", "--quiet",
               "--valid-fraction", "0", "--test-fraction", "0"])
    assert rc == 0
    assert "rendered 4" in capsys.readouterr().out
    assert len(nsynth.list_examples(out)) == 4
    rc = main(["dataset", "soundfont", "--sf2", str(FLUID_R3), "--out", str(out), "--pitches", "70-60"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--pitches 70-60" in err
    rc = main(["dataset", "info", str(out)])
    assert rc == 0 and "nsynth-train: 4 notes, 2 instruments" in capsys.readouterr().out


def test_rerun_with_more_programs_keeps_earlier_instruments_in_their_split_and_number(tmp_path):
    def where():
        return {e.instrument_str: (e.split, e.instrument) for e in nsynth.list_examples(tmp_path)}

    common = dict(pitches=(60, 60), velocities=[100], valid_fraction=0.25, test_fraction=0.25)
    build_soundfont_dataset([FLUID_R3], tmp_path, programs=[0, 24, 40, 73], seed=0, **common)
    before = where()
    build_soundfont_dataset([FLUID_R3], tmp_path, programs=[0, 11, 24, 40, 56, 65, 73, 81], seed=5, **common)
    after = where()
    assert len(after) == 8 and {k: after[k] for k in before} == before
    assert len({number for _, number in after.values()}) == 8


def test_instrument_numbers_stay_unique_when_a_sample_import_came_first(tmp_path):
    from morphsynth.training.dataset_folder import import_folder

    src = tmp_path / "samples"
    src.mkdir()
    with SoundFontSynth(FLUID_R3) as synth:
        nsynth.write_wav(src / "flute_A4.wav", synth.render(73, 69, 100))
    out = tmp_path / "out"
    import_folder(src, out)
    build_soundfont_dataset([FLUID_R3], out, programs=[0, 40], pitches=(60, 60), velocities=[100],
                            valid_fraction=0.0, test_fraction=0.0)
    numbers = {e.instrument_str: e.instrument for e in nsynth.list_examples(out)}
    assert len(numbers) == 3 and len(set(numbers.values())) == 3


def test_max_cents_skips_notes_that_sound_away_from_their_key(tmp_path):
    # FluidR3's drawbar organ mixes 16- and 32-foot stops: its fundamental lies two octaves below the key.
    report = build_soundfont_dataset([FLUID_R3], tmp_path, programs=[0, 16], pitches=(60, 60), velocities=[100],
                                     valid_fraction=0.0, test_fraction=0.0, max_cents=50)
    assert report.rendered == 1 and report.off_pitch == ["organ_electronic_fluidr3gm016-060-100"]
    assert list(nsynth.read_examples(tmp_path / "nsynth-train")) == ["keyboard_acoustic_fluidr3gm000-060-100"]


def test_whole_soundfont_can_go_to_any_one_split_from_the_cli(tmp_path, capsys):
    out = tmp_path / "data"
    rc = main(["dataset", "soundfont", "--sf2", str(FLUID_R3), "--valid-sf2", str(TIMGM6MB), "--out", str(out),
               "--programs", "0,40,73", "--pitches", "60", "--velocities", "100", "--quiet",
               "--valid-fraction", "0", "--test-fraction", "0.34"])
    assert rc == 0, capsys.readouterr().err
    splits = {e.instrument_str: e.split for e in nsynth.list_examples(out)}
    assert {n for n, s in splits.items() if s == "valid"} == {f"{f}_acoustic_timgm6mb{p:03d}" for f, p in
                                                             (("keyboard", 0), ("string", 40), ("flute", 73))}
    assert sorted(s for n, s in splits.items() if "fluidr3gm" in n) == ["test", "train", "train"]
    rc = main(["dataset", "soundfont", "--sf2", str(FLUID_R3), "--valid-sf2", str(TIMGM6MB),
               "--test-sf2", str(TIMGM6MB), "--out", str(out)])
    assert rc == 2 and "both --valid-sf2 and --test-sf2" in capsys.readouterr().err


def test_programs_a_soundfont_lacks_are_left_out_before_splitting():
    from morphsynth.training.dataset_soundfont import plan_instruments

    with SoundFontSynth(FLUID_R3) as synth:
        assert synth.has_preset(40) and not synth.has_preset(40, bank=5)
    plan = plan_instruments([FLUID_R3], [0, 24, 40, 73], {}, 0, 0.25, 0.25,
                            available=lambda sf2, program: program != 24)
    assert sorted(i.program for i in plan) == [0, 40, 73]
    assert sorted(i.split for i in plan) == ["test", "train", "valid"]


def test_entries_whose_audio_was_deleted_are_dropped_on_rebuild(tmp_path):
    common = dict(pitches=(60, 64), pitch_step=4, velocities=[100], valid_fraction=0.0, test_fraction=0.0)
    build_soundfont_dataset([FLUID_R3], tmp_path, programs=[0, 40], **common)
    gone = tmp_path / "nsynth-train" / "audio" / "string_acoustic_fluidr3gm040-064-100.wav"
    gone.unlink()
    report = build_soundfont_dataset([FLUID_R3], tmp_path, programs=[0], **common)
    assert (report.rendered, report.kept) == (0, 2)
    assert sorted(nsynth.read_examples(tmp_path / "nsynth-train")) == [
        "keyboard_acoustic_fluidr3gm000-060-100", "keyboard_acoustic_fluidr3gm000-064-100",
        "string_acoustic_fluidr3gm040-060-100"]


def test_a_second_build_into_the_same_folder_is_refused_while_one_runs(tmp_path):
    with nsynth.build_lock(tmp_path):
        with pytest.raises(MorphsynthError, match="another dataset build is writing here"):
            build_soundfont_dataset([FLUID_R3], tmp_path, programs=[0], pitches=(60, 60), velocities=[100])
    assert not (tmp_path / "nsynth-train").exists()
    build_soundfont_dataset([FLUID_R3], tmp_path, programs=[0], pitches=(60, 60), velocities=[100])
    assert len(nsynth.list_examples(tmp_path)) == 1


def test_loading_fluidsynth_writes_nothing_to_stdout_even_under_ci():
    # pyfluidsynth reports where it found the library on stdout when $CI is set.
    script = Path(__file__).resolve().parent / "scripts" / "render_fluidsynth_note.py"
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env={**os.environ, "CI": "1"}, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""


def test_velocity_layers_rotate_along_the_keyboard_so_every_layer_is_heard_across_the_range():
    from morphsynth.training.dataset_soundfont import velocity_layers

    layers = [40, 70, 96, 124]
    seen = [velocity_layers(layers, 1, k, offset=3) for k in range(8)]
    assert all(len(v) == 1 for v in seen)
    assert [v[0] for v in seen[:4]] == [124, 40, 70, 96]  # offset 3, then one step per key
    assert {v[0] for v in seen[4:]} == set(layers)
    assert velocity_layers(layers, 2, 0, offset=0) == [40, 70]
    assert velocity_layers(layers, None, 5, offset=1) == layers
    assert velocity_layers(layers, 9, 5, offset=1) == layers


def test_bent_notes_sound_at_key_plus_bend_and_the_dataset_says_so(tmp_path):
    def build(root):
        return build_soundfont_dataset([FLUID_R3], root, programs=[73], pitches=(60, 65), velocities=[40, 96],
                                       velocities_per_pitch=1, bend_cents=50.0, valid_fraction=0, test_fraction=0)

    report = build(tmp_path / "a")
    build(tmp_path / "b")
    # The same seed bends each note the same way on a rebuild.
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")
    assert report.rendered == 6  # one velocity layer per key
    ds = nsynth.NSynthDataset(tmp_path / "a", "train", with_audio=True)
    bends = [ex.bend_cents for ex in ds.examples]
    assert all(0 < abs(b) <= 50 for b in bends) and len(set(bends)) == 6
    assert sorted({ex.velocity for ex in ds.examples}) == [40, 96]
    for i, ex in enumerate(ds.examples):
        item = ds[i]
        assert item["pitch"] == pytest.approx(ex.pitch + ex.bend_cents / 100)
        f0 = autocorrelation_f0(item["audio"].numpy(), nsynth.SAMPLE_RATE)
        assert abs(cents_off(f0, item["pitch"])) < 15, ex.note_str


def test_bend_beyond_the_wheel_range_is_refused(tmp_path):
    with pytest.raises(MorphsynthError, match="--bend-cents 250"):
        build_soundfont_dataset([FLUID_R3], tmp_path, programs=[73], pitches=(60, 60), velocities=[96],
                                bend_cents=250.0)


def test_soundfonts_built_from_the_same_samples_put_each_program_in_one_split():
    from pathlib import Path

    from morphsynth.training.dataset_soundfont import plan_instruments

    sf2s = [Path("FluidR3_GM.sf2"), Path("FluidR3Mono_GM.sf3"), Path("MuseScore_General_Lite.sf3"),
            Path("OPL-3_FM_128M.sf2")]
    plan = plan_instruments(sf2s, list(range(40)), {}, seed=0, valid_fraction=0.2, test_fraction=0.2)
    by_program: dict[int, dict[str, str]] = {}
    for inst in plan:
        by_program.setdefault(inst.program, {})[inst.sf2.name] = inst.split
    for program, splits in by_program.items():
        lineage = {splits["FluidR3_GM.sf2"], splits["FluidR3Mono_GM.sf3"], splits["MuseScore_General_Lite.sf3"]}
        assert len(lineage) == 1, program
    # The FM bank shares no samples with them: its programs are split on their own.
    assert any(s["OPL-3_FM_128M.sf2"] != s["FluidR3_GM.sf2"] for s in by_program.values())
    assert {i.split for i in plan} == {"train", "valid", "test"}
