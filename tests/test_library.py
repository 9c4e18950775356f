"""Latent library: build from an NSynth-layout folder, save/load, model-hash refusal, lookup, add, list."""

import numpy as np
import pytest
import soundfile as sf
import torch

from morphsynth.core.errors import MorphsynthError
from morphsynth.main import main
from morphsynth.core.note_files import fit_note, load_note
from morphsynth.core.spectral import log_spectral_distance, magnitude_level_db
from morphsynth.server.library import Library, note_magnitude, principal_axes
from morphsynth.training.nsynth import list_examples
from morphsynth.training.soundfont import FLUID_R3, render_note
from test_audio_support import small_cae_dir


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("lib_models")
    return small_cae_dir(root / "a", 0, name="small0"), small_cae_dir(root / "b", 1, name="small1")


@pytest.fixture(scope="module")
def built(tiny_dataset, model_dirs, tmp_path_factory):
    out = tmp_path_factory.mktemp("lib") / "lib.safetensors"
    assert main(["library", "build", "--model", str(model_dirs[0]), "--data", str(tiny_dataset),
                 "--out", str(out)]) == 0
    return out


def rms_db(x):
    return 20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def load_model(path):
    from morphsynth.core.synth_model import load_synth_model

    return load_synth_model(path)


def test_build_encodes_every_note_of_every_split(built, tiny_dataset, model_dirs):
    examples = list_examples(tiny_dataset)
    assert examples, f"no notes found in {tiny_dataset}"
    lib = Library.load(built, load_model(model_dirs[0]))
    assert lib.latents.shape == (len(examples), 8)
    assert sorted(lib.names) == sorted({ex.instrument_str for ex in examples})
    rows = {r["name"]: r for r in lib.describe()}
    for ex in examples:
        assert ex.pitch in rows[ex.instrument_str]["pitches"]
        assert rows[ex.instrument_str]["family"] == ex.family_str
    assert lib.model_hash == load_model(model_dirs[0]).model_hash


def test_build_latents_equal_direct_encoding(built, tiny_dataset, model_dirs):
    model = load_model(model_dirs[0])
    lib = Library.load(built, model)
    ex = list_examples(tiny_dataset, "test")[0]
    z = model.encode_audio(torch.from_numpy(ex.load_audio())[None], [ex.pitch], [ex.velocity])[0]
    assert torch.allclose(lib.latent_for(ex.instrument_str, ex.pitch, ex.velocity), z, atol=1e-5)


def test_build_from_one_split_folder_with_pitch_step(tiny_dataset, model_dirs, tmp_path):
    out = tmp_path / "train.safetensors"
    # Pitches 48, 56, 64, 72: a step of 3 from MIDI 21 keeps 48 and 72.
    assert main(["library", "build", "--model", str(model_dirs[0]), "--data", str(tiny_dataset / "nsynth-train"),
                 "--pitch-step", "3", "--out", str(out)]) == 0
    lib = Library.load(out)
    assert set(lib.pitches.tolist()) == {48, 72}
    assert len(lib.names) == len({ex.instrument_str for ex in list_examples(tiny_dataset, "train")})


def test_round_trip_keeps_latents_and_metadata(built, tmp_path):
    lib = Library.load(built)
    again = tmp_path / "again.safetensors"
    lib.save(again)
    other = Library.load(again)
    assert torch.equal(lib.latents, other.latents)
    assert torch.equal(lib.pitches, other.pitches) and torch.equal(lib.velocities, other.velocities)
    assert lib.names == other.names and lib.families == other.families
    assert lib.model_hash == other.model_hash
    assert torch.equal(lib.pca_axes, other.pca_axes) and torch.equal(lib.pca_std, other.pca_std)


def test_loading_with_a_different_model_refuses_naming_both_hashes(built, model_dirs):
    model_b = load_model(model_dirs[1])
    lib_hash = Library.load(built).model_hash
    with pytest.raises(MorphsynthError) as err:
        Library.load(built, model_b)
    msg = str(err.value)
    assert lib_hash[:12] in msg and model_b.model_hash[:12] in msg
    assert "morphsynth library build" in msg and "\n" not in msg


def test_lookup_interpolates_between_bracketing_pitches_and_clamps_outside(built):
    lib = Library.load(built)
    name = lib.names[0]
    z48, z56 = lib.latent_for(name, 48, 100), lib.latent_for(name, 56, 100)
    assert torch.allclose(lib.latent_for(name, 52, 100), 0.5 * (z48 + z56), atol=1e-6)
    assert torch.allclose(lib.latent_for(name, 21, 100), z48)
    assert torch.allclose(lib.latent_for(name, 108, 100), lib.latent_for(name, 72, 100))
    # Only velocity 100 exists: every velocity uses it.
    assert torch.equal(lib.latent_for(name, 52, 10), lib.latent_for(name, 52, 100))
    assert lib.nearest_velocity(3) == 100


def test_mean_lookup_averages_the_instruments_entries(built):
    lib = Library.load(built)
    name = lib.names[1]
    rows = lib.source_index == lib.names.index(name)
    assert torch.allclose(lib.latent_for(name, 60, 100, mode="mean"), lib.latents[rows].mean(dim=0), atol=1e-6)


def test_sources_resolve_by_unique_prefix_and_unknown_names_fail(built):
    lib = Library.load(built)
    full = lib.names[0]
    prefix = next(full[:i] for i in range(1, len(full) + 1)
                  if sum(n.startswith(full[:i]) for n in lib.names) == 1)
    assert lib.resolve(prefix) == full
    # Names end in the GM program number, unique in the tiny dataset: a substring finds it.
    assert lib.resolve("gm" + full[-3:]) == full
    # Text that several names share picks the first of them in library order.
    assert lib.resolve("fluidr3") == next(n for n in lib.names if "fluidr3" in n)
    with pytest.raises(MorphsynthError, match="unknown source 'nope'") as err:
        lib.resolve("nope")
    assert all(family in str(err.value) for family in lib.families)


def test_a_family_name_in_any_case_resolves_to_its_first_instrument(built):
    lib = Library.load(built)
    for family in set(lib.families):
        first = lib.names[lib.families.index(family)]
        assert lib.resolve(family) == first
        assert lib.resolve(family.upper()) == first


def test_knob_axes_are_orthonormal_and_scaled_by_their_spread():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(50, 6, generator=g) * torch.tensor([5.0, 1, 1, 1, 1, 0.1])
    mean, axes, std = principal_axes(z, n_axes=4)
    assert torch.allclose(axes @ axes.T, torch.eye(4), atol=1e-5)
    assert abs(float(axes[0, 0])) > 0.95  # the widest direction comes first
    assert float(std[0]) == pytest.approx(float(z[:, 0].std()), rel=0.1)
    assert std[0] > std[1] >= std[2] >= std[3]


def test_knob_offset_moves_along_the_axis_in_standard_deviations(built):
    lib = Library.load(built)
    off = lib.knob_offset((0.0, 2.0))
    assert torch.allclose(off, 2.0 * lib.pca_std[1] * lib.pca_axes[1], atol=1e-6)
    assert torch.equal(lib.knob_offset((0.0,) * 99), torch.zeros(lib.latent_dim))
    with pytest.raises(MorphsynthError, match="knobs given"):
        lib.knob_offset((0.0,) * 98 + (1.0,))


def test_fit_note_trims_leading_silence_and_pads():
    sr = 16000
    tone = np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32)
    audio = np.concatenate([np.zeros(sr // 2, np.float32), tone])
    out = fit_note(audio, 64000, sr)
    assert out.shape == (64000,)
    first = int(np.flatnonzero(np.abs(out) > 0.01)[0])
    assert first <= int(0.006 * sr)
    assert not np.any(out[sr + 100:])


def test_library_add_detects_pitch_from_a_resampled_file_and_list_shows_it(built, model_dirs, tmp_path, capsys):
    # 44.1 kHz stereo with half a second of silence before the note: resampled, trimmed, pitch detected.
    note = render_note(FLUID_R3, 73, 67, 100, sample_rate=44100, hold_s=2.0, release_s=0.5)
    stereo = np.stack([note, note], axis=1)
    wav = tmp_path / "flute.wav"
    sf.write(wav, np.concatenate([np.zeros((22050, 2), np.float32), stereo]), 44100)
    out = tmp_path / "extended.safetensors"
    assert main(["library", "add", "--library", str(built), "--model", str(model_dirs[0]), "--audio", str(wav),
                 "--name", "myflute", "--out", str(out)]) == 0
    assert "pitch 67, detected" in capsys.readouterr().out
    lib = Library.load(out, load_model(model_dirs[0]))
    assert "myflute" in lib.names
    row = next(r for r in lib.describe() if r["name"] == "myflute")
    assert row == {"name": "myflute", "family": "user", "pitches": [67], "velocities": [100]}
    # The user's note is the source's latent at every key.
    assert torch.equal(lib.latent_for("myflute", 30, 100), lib.latent_for("myflute", 90, 100))
    assert main(["library", "list", "--library", str(out)]) == 0
    listing = capsys.readouterr().out
    assert "myflute" in listing and "user" in listing and f"{len(lib.names)} sources" in listing


@pytest.mark.parametrize("peak_dbfs", [-12.0, -40.0])
def test_library_add_keeps_the_level_of_the_file_when_rendered_at_its_own_key(built, model_dirs, tmp_path,
                                                                               peak_dbfs):
    note = render_note(FLUID_R3, 73, 67, 100, sample_rate=16000)
    note = note * (10 ** (peak_dbfs / 20) / np.abs(note).max())
    wav = tmp_path / "flute.wav"
    sf.write(wav, note, 16000)
    lib_path, out = tmp_path / "with_flute.safetensors", tmp_path / "back.wav"
    assert main(["library", "add", "--library", str(built), "--model", str(model_dirs[0]), "--audio", str(wav),
                 "--name", "loudflute", "--pitch", "67", "--out", str(lib_path)]) == 0
    assert main(["render", "--model", str(model_dirs[0]), "--library", str(lib_path), "--source", "loudflute",
                 "--pitch", "67", "--velocity", "100", "--out", str(out)]) == 0
    back, _ = sf.read(out, dtype="float32")
    assert abs(rms_db(back) - rms_db(note)) <= 2.0
    # The encoder saw the note at the library's reference level, not the file's.
    lib = Library.load(lib_path, load_model(model_dirs[0]))
    assert lib.reference_level_db and lib.gain_for("loudflute", 67, 100) != 0.0


def test_library_add_keeps_the_encode_level_whose_decode_is_closest_to_the_file(tiny_model_dir, tiny_dataset,
                                                                               tmp_path):
    model = load_model(tiny_model_dir)
    out = tmp_path / "lib.safetensors"
    assert main(["library", "build", "--model", str(tiny_model_dir), "--data", str(tiny_dataset), "--out", str(out)]) == 0
    lib = Library.load(out, model)
    note = render_note(FLUID_R3, 73, 67, 100, sample_rate=16000)
    note = note * (10 ** (-2 / 20) / np.abs(note).max())          # far louder than the build's notes
    mag = note_magnitude(model, torch.from_numpy(fit_note(note, model.stft.n_samples(model.n_frames), 16000))[None])
    level = magnitude_level_db(mag)
    velocity = lib.nearest_velocity(100)

    def distance(z):
        with torch.no_grad():
            back = model.decode(z[None], [67], [velocity])
        back = back * 10 ** ((level - magnitude_level_db(back)) / 20)
        return float(log_spectral_distance(mag, back)[0])

    # Encoding at the build's reference level alone, or 6..24 dB either side of it:
    tried = {offset: distance(model.encode(mag * 10 ** ((lib.reference_level(velocity) + offset - level) / 20),
                                           [67], [velocity])[0])
             for offset in (-24.0, -12.0, -6.0, 0.0, 6.0, 12.0)}
    lib.add_note(model, note, "loudflute", 67, 100)
    kept = distance(lib.latent_for("loudflute", 67, velocity))
    assert kept <= min(tried.values()) + 1e-4


def test_dataset_entries_play_back_at_the_level_of_their_notes(built, tiny_dataset, model_dirs, tmp_path):
    model = load_model(model_dirs[0])
    lib = Library.load(built, model)
    assert lib.gain_db.abs().max() > 0.1       # a briefly trained decoder is never exactly at level
    examples = list_examples(tiny_dataset, "test")
    assert examples, f"no test notes in {tiny_dataset}"
    for ex in examples:
        audio = torch.from_numpy(ex.load_audio())[None]
        want = float(magnitude_level_db(note_magnitude(model, audio))[0])
        z, gain = lib.sources_for([ex.instrument_str], ex.pitch, ex.velocity)
        with torch.no_grad():
            mag = model.decode(z, torch.tensor([ex.pitch]), torch.tensor([ex.velocity]))
        assert abs(float(magnitude_level_db(mag)[0]) + float(gain[0]) - want) < 0.5
    ex, out = examples[0], tmp_path / "back.wav"
    assert main(["render", "--model", str(model_dirs[0]), "--library", str(built), "--source", ex.instrument_str,
                 "--pitch", str(ex.pitch), "--velocity", str(ex.velocity), "--out", str(out)]) == 0
    back, _ = sf.read(out, dtype="float32")
    assert abs(rms_db(back) - rms_db(ex.load_audio())) <= 2.0


def test_load_note_resamples_with_soxr_and_detects_the_pitch(tmp_path):
    sr = 48000
    tone = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(sr) / sr)
    sf.write(tmp_path / "t.wav", tone, sr)
    out, pitch = load_note(tmp_path / "t.wav", 16000)
    assert out.shape == (16000,) and out.dtype == np.float32
    assert pitch == 83             # 1000 Hz is 13 cents above B5
    spec = np.abs(np.fft.rfft(out[2000:14000]))
    assert abs(np.argmax(spec) * 16000 / 12000 - 1000) < 3


@pytest.mark.parametrize("argv, message", [
    (["--audio", "MISSING.wav", "--name", "x"], "audio file not found"),
    (["--audio", "SILENT", "--name", "x"], "silent"),
    (["--audio", "NOISE", "--name", "x", "--pitch", "7"], "--pitch 7"),
    (["--audio", "TEXT", "--name", "x"], "not a readable sound file"),
    (["--audio", "NOISE", "--name", "DATASET", "--pitch", "60"], "already a dataset source"),
])
def test_library_add_errors_are_one_line(built, model_dirs, tmp_path, capsys, argv, message):
    sf.write(tmp_path / "silent.wav", np.zeros(16000, np.float32), 16000)
    sf.write(tmp_path / "noise.wav", np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32), 16000)
    (tmp_path / "text.wav").write_text("not audio")
    files = {"MISSING.wav": str(tmp_path / "missing.wav"), "SILENT": str(tmp_path / "silent.wav"),
             "NOISE": str(tmp_path / "noise.wav"), "TEXT": str(tmp_path / "text.wav"),
             "DATASET": Library.load(built).names[0]}
    argv = [files.get(a, a) for a in argv]
    rc = main(["library", "add", "--library", str(built), "--model", str(model_dirs[0]),
               "--out", str(tmp_path / "o.safetensors")] + argv)
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1


@pytest.mark.parametrize("what, message", [("missing", "library not found"), ("garbage", "not a readable library"),
                                           ("wrongmodel", "library was built by model")])
def test_library_load_errors_are_one_line(built, model_dirs, tmp_path, capsys, what, message):
    path = {"missing": tmp_path / "none.safetensors", "garbage": tmp_path / "g.safetensors",
            "wrongmodel": built}[what]
    (tmp_path / "g.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}garbage")
    argv = ["library", "add", "--library", str(path), "--model", str(model_dirs[1]), "--audio", "x.wav", "--name", "n"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_library_build_errors_are_one_line(model_dirs, tmp_path, capsys):
    assert main(["library", "build", "--model", str(model_dirs[0]), "--data", str(tmp_path / "nodata"),
                 "--out", str(tmp_path / "o.safetensors")]) == 2
    assert "dataset folder not found" in capsys.readouterr().err
    assert main(["library", "build", "--model", str(tmp_path / "nomodel"), "--data", str(tmp_path),
                 "--out", str(tmp_path / "o.safetensors")]) == 2
    assert "model folder not found" in capsys.readouterr().err


def test_build_combines_several_data_folders(tiny_dataset, model_dirs, tmp_path):
    out = tmp_path / "two.safetensors"
    assert main(["library", "build", "--model", str(model_dirs[0]), "--data", str(tiny_dataset / "nsynth-valid"),
                 "--data", str(tiny_dataset / "nsynth-test"), "--out", str(out)]) == 0
    expected = list_examples(tiny_dataset, ["valid", "test"])
    assert expected, f"no notes found in {tiny_dataset}'s valid and test splits"
    lib = Library.load(out)
    assert lib.latents.shape[0] == len(expected)
    assert sorted(lib.names) == sorted({ex.instrument_str for ex in expected})


def test_starting_sources_take_one_instrument_from_each_of_the_first_four_families(built):
    lib = Library.load(built)
    start = lib.starting_sources(4)
    assert len(start) == 4 and len(set(start)) == 4
    first_families = list(dict.fromkeys(lib.families))[:4]
    for name, family in zip(start, first_families):
        assert name == lib.names[lib.families.index(family)]   # the first of its family


def test_family_names_in_the_pd_help_examples_pick_instruments_of_the_shipped_library():
    from pathlib import Path

    lib = Library.load(Path(__file__).resolve().parents[1] / "models" / "default" / "library.safetensors")
    assert sum(n.startswith("flute") for n in lib.names) > 1
    picked = [lib.resolve(name) for name in ("keyboard", "flute", "string", "organ")]
    assert picked == [next(n for n in lib.names if n.startswith(f)) for f in ("keyboard", "flute", "string", "organ")]
    assert picked[0] == "keyboard_acoustic_fluidr3gm000"    # GM program 0: the acoustic grand piano
