"""Importing a user's own one-note samples into the NSynth layout."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from morphsynth.core.errors import MorphsynthError
from morphsynth.main import main
from morphsynth.training import nsynth
from morphsynth.training.dataset_folder import guess_family, import_folder, note_name_to_midi, parse_file_name
from morphsynth.core.pitch import autocorrelation_f0, cents_off
from morphsynth.training.soundfont import FLUID_R3, SoundFontSynth

pytestmark = pytest.mark.skipif(not FLUID_R3.is_file(), reason="FluidR3_GM SoundFont not installed")


@pytest.fixture(scope="module")
def notes44k():
    """Real 44.1 kHz renders: {(program, pitch, velocity): float32 audio} with 0.3 s of lead-in silence."""
    out = {}
    with SoundFontSynth(FLUID_R3, sample_rate=44100) as synth:
        for program, pitch, velocity in ((42, 49, 100), (42, 55, 60), (73, 69, 100), (0, 60, 80)):
            audio = synth.render(program, pitch, velocity, hold_s=2.0, release_s=0.5)
            out[(program, pitch, velocity)] = np.concatenate([np.zeros(13230, np.float32), audio])
    return out


def write(path, audio, rate=44100, fmt=None, stereo=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.stack([audio, audio], axis=1) if stereo else audio
    sf.write(str(path), data, rate, format=fmt)
    return path


def test_note_names_follow_scientific_pitch():
    assert note_name_to_midi("C4") == 60 and note_name_to_midi("A4") == 69
    assert note_name_to_midi("C#3") == 49 == note_name_to_midi("Db3") == note_name_to_midi("cs3")
    assert note_name_to_midi("C-1") == 0 and note_name_to_midi("G9") == 127
    assert note_name_to_midi("H4") is None and note_name_to_midi("cello") is None
    note = parse_file_name(Path("/x/cello_C#3_v100.wav"))
    assert (note.instrument, note.pitch, note.velocity) == ("cello", 49, 100)
    note = parse_file_name(Path("/x/Grand Piano-Bb-1.flac"))
    assert (note.instrument, note.pitch, note.velocity) == ("grand_piano", 10, 100)
    assert guess_family("cello") == "string" and guess_family("bass_clarinet") == "reed"
    assert guess_family("electric_bass") == "bass" and guess_family("thing") is None


def test_file_names_give_pitch_velocity_and_instrument_and_audio_becomes_a_4s_16k_note(tmp_path, notes44k):
    src = tmp_path / "samples"
    write(src / "cello_C#3_v100.wav", notes44k[(42, 49, 100)], stereo=True)
    write(src / "cello_G3_v60.flac", notes44k[(42, 55, 60)], fmt="FLAC")
    write(src / "flute_A4.aiff", notes44k[(73, 69, 100)], fmt="AIFF")
    report = import_folder(src, tmp_path / "out")
    assert report.imported == 3
    exs = {e.note_str: e for e in nsynth.list_examples(tmp_path / "out", "train")}
    assert sorted(exs) == ["flute_acoustic_flute-069-100", "string_acoustic_cello-049-100",
                           "string_acoustic_cello-055-060"]
    cello = exs["string_acoustic_cello-049-100"]
    assert cello.family_str == "string" and cello.instrument == exs["string_acoustic_cello-055-060"].instrument
    assert exs["flute_acoustic_flute-069-100"].instrument != cello.instrument
    for ex in exs.values():
        info = sf.info(str(ex.audio_path))
        assert (info.samplerate, info.channels, info.frames) == (16000, 1, 64000)
        audio = ex.load_audio()
        # Leading silence trimmed: the note starts at once.
        assert np.abs(audio[:160]).max() > 0.01 * np.abs(audio).max()
        assert abs(cents_off(autocorrelation_f0(audio, 16000), ex.pitch)) < 50


def test_manifest_gives_pitch_velocity_and_instrument(tmp_path, notes44k):
    src = tmp_path / "samples"
    write(src / "take1.wav", notes44k[(0, 60, 80)])
    write(src / "sub" / "take2.wav", notes44k[(73, 69, 100)], rate=48000)
    (src / "notes.csv").write_text("file,pitch,velocity,instrument,family\n"
                                   "take1.wav,60,80,My Piano,\n"
                                   "sub/take2.wav,A4,,wooden flute,flute\n")
    import_folder(src, tmp_path / "out", manifest=src / "notes.csv")
    exs = {e.note_str: e for e in nsynth.list_examples(tmp_path / "out")}
    assert sorted(exs) == ["flute_acoustic_wooden_flute-069-100", "keyboard_acoustic_my_piano-060-080"]
    assert abs(cents_off(autocorrelation_f0(exs["keyboard_acoustic_my_piano-060-080"].load_audio(), 16000), 60)) < 50


def test_manifest_row_without_pitch_is_an_error_naming_the_row_and_nothing_is_written(tmp_path, notes44k):
    src = tmp_path / "samples"
    write(src / "a.wav", notes44k[(0, 60, 80)])
    write(src / "b.wav", notes44k[(0, 60, 80)])
    manifest = src / "manifest.csv"
    manifest.write_text("file,pitch\na.wav,60\nb.wav,\n")
    with pytest.raises(MorphsynthError) as info:
        import_folder(src, tmp_path / "out")
    message = str(info.value)
    assert str(manifest) in message and "row 3" in message and "b.wav" in message and "no pitch" in message
    assert not (tmp_path / "out").exists()


def test_unreadable_audio_is_an_error_naming_the_file_and_keeps_the_existing_dataset(tmp_path, notes44k):
    src = tmp_path / "samples"
    write(src / "flute_A4.wav", notes44k[(73, 69, 100)])
    out = tmp_path / "out"
    import_folder(src, out)
    before = (out / "nsynth-train" / "examples.json").read_bytes()
    bad = src / "oboe_C4.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot really")
    with pytest.raises(MorphsynthError, match="oboe_C4.wav: cannot read audio"):
        import_folder(src, out)
    assert (out / "nsynth-train" / "examples.json").read_bytes() == before
    assert not (out / "nsynth-train" / "audio" / "reed_acoustic_oboe-060-100.wav").exists()


def test_file_without_a_note_name_is_an_error_suggesting_a_manifest(tmp_path, notes44k):
    src = tmp_path / "samples"
    write(src / "mystery.wav", notes44k[(73, 69, 100)])
    with pytest.raises(MorphsynthError, match="mystery.wav: no note name.*manifest"):
        import_folder(src, tmp_path / "out")


def test_second_import_adds_instruments_and_keeps_earlier_ones(tmp_path, notes44k):
    first, second = tmp_path / "one", tmp_path / "two"
    write(first / "flute_A4.wav", notes44k[(73, 69, 100)])
    write(second / "cello_C#3.wav", notes44k[(42, 49, 100)])
    out = tmp_path / "out"
    import_folder(first, out)
    import_folder(second, out, split="test")
    exs = nsynth.list_examples(out)
    assert {(e.instrument_str, e.split) for e in exs} == {("flute_acoustic_flute", "train"),
                                                          ("string_acoustic_cello", "test")}
    assert len({e.instrument for e in exs}) == 2


def test_seeded_split_keeps_instruments_disjoint(tmp_path, notes44k):
    src = tmp_path / "samples"
    for i, name in enumerate(["oboe", "cello", "flute", "viola", "tuba"]):
        for note in ("C4", "G4"):
            write(src / f"{name}_{note}.wav", notes44k[(73, 69, 100)][: 30000 + 100 * i])
    import_folder(src, tmp_path / "out", split="seeded", seed=2, valid_fraction=0.2, test_fraction=0.2)
    where = {}
    for e in nsynth.list_examples(tmp_path / "out"):
        where.setdefault(e.instrument_str, set()).add(e.split)
    assert all(len(s) == 1 for s in where.values())
    assert sorted(next(iter(s)) for s in where.values()) == ["test", "train", "train", "train", "valid"]


def test_cli_imports_a_folder(tmp_path, notes44k, capsys):
    src = tmp_path / "samples"
    write(src / "flute_A4_v90.wav", notes44k[(73, 69, 100)])
    assert main(["dataset", "folder", "--in", str(src), "--out", str(tmp_path / "out")]) == 0
    assert "imported 1 notes" in capsys.readouterr().out
    assert [e.velocity for e in nsynth.list_examples(tmp_path / "out")] == [90]
    assert main(["dataset", "folder", "--in", str(tmp_path / "missing"), "--out", str(tmp_path / "o2")]) == 2
    assert "input folder not found" in capsys.readouterr().err


def test_two_files_for_the_same_note_are_an_error_naming_both(tmp_path, notes44k):
    src = tmp_path / "samples"
    write(src / "flute_A4.wav", notes44k[(73, 69, 100)])
    write(src / "flute_A4_v100.flac", notes44k[(73, 69, 100)], fmt="FLAC")
    with pytest.raises(MorphsynthError, match="flute_A4.*same instrument, pitch and velocity as .*flute_A4"):
        import_folder(src, tmp_path / "out")


def test_output_inside_the_input_folder_is_not_imported_again(tmp_path, notes44k):
    src = tmp_path / "samples"
    write(src / "flute_A4.wav", notes44k[(73, 69, 100)])
    import_folder(src, src / "dataset")
    report = import_folder(src, src / "dataset")
    assert report.imported == 1 and len(nsynth.list_examples(src / "dataset")) == 1
