"""`morphsynth eval`: metrics.json, report.md and figures for the CAE and its baselines."""

import json

import numpy as np
import pytest
import torch

from morphsynth.training.evaluate import (centroid_smoothness, evaluate, load_eval_notes, models_in_run,
                                          spectral_centroid_hz)


def test_eval_command_writes_metrics_for_cae_and_both_baselines_with_figures(tiny_model_dir, tiny_dataset, tmp_path):
    from morphsynth.main import main

    out = tmp_path / "report"
    rc = main(["eval", "--model", str(tiny_model_dir), "--data", str(tiny_dataset / "nsynth-train"), "--out", str(out),
               "--max-notes", "12", "--pitch-notes", "4", "--pairs", "2"])
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["phase"] == "fast"
    for name in ("cae", "pca", "shallow_ae"):
        m = metrics[name]
        assert m["n_notes"] == 12 and m["latent_dim"] == 8
        assert m["lsd_db"] > 0 and m["spectral_convergence"] > 0
        assert 0.0 <= m["pitch_accuracy"] <= 1.0 and 0.0 <= m["interp_pitch_accuracy"] <= 1.0
        assert 1.0 <= m["centroid_max_step_ratio"] <= 4.0
    # The rendered originals are clean pitched notes: the pitch pipeline must find them.
    assert metrics["source_pitch_accuracy"] >= 0.75
    # PCA fitted on these very notes reconstructs them better than chance.
    assert metrics["pca"]["lsd_db"] < 15
    report = (out / "report.md").read_text()
    assert "| cae |" in report and "| pca |" in report and "| shallow_ae |" in report
    for png in ("reconstructions.png", "interpolation_cae.png", "latent_map_cae.png", "latent_map_pca.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG", png
        assert f"]({png})" in report


def test_on_pitch_accuracies_leave_out_notes_whose_originals_miss_their_label(tiny_model_dir, tiny_dataset,
                                                                             tmp_path):
    notes = load_eval_notes(tiny_dataset / "nsynth-train", 16, 0)
    notes.pitch[::2] += 5                                  # half the originals now sound a fourth off
    metrics = evaluate(models_in_run(tiny_model_dir), notes, tmp_path, n_pairs=4,
                       pitch_method="autocorrelation", log=lambda line: None)
    assert metrics["n_pitch_notes"] == 16
    assert 6 <= metrics["n_pitched_notes"] <= 8              # only the relabelled ones (and at most 2 more) out
    assert metrics["source_pitch_accuracy"] == metrics["n_pitched_notes"] / 16
    assert metrics["n_pitched_pairs"] <= metrics["n_pairs"]
    for name in ("cae", "pca", "shallow_ae"):
        m = metrics[name]
        # Judged on fewer notes, but never on a note the full measure does not also judge.
        assert 0.0 <= m["pitch_accuracy_pitched"] <= 1.0
        assert m["pitch_accuracy"] * 16 >= m["pitch_accuracy_pitched"] * metrics["n_pitched_notes"] - 1e-9
    assert "on-pitch originals" in (tmp_path / "report.md").read_text()


def test_centroid_smoothness_is_one_for_even_steps_and_four_for_a_single_jump():
    even = np.array([[100.0, 200.0, 300.0, 400.0, 500.0]])
    jump = np.array([[100.0, 100.0, 100.0, 100.0, 500.0]])
    back = np.array([[100.0, 300.0, 200.0, 400.0, 500.0]])
    assert centroid_smoothness(even) == (1.0, 1.0)
    assert centroid_smoothness(jump) == (4.0, 1.0)
    assert centroid_smoothness(back)[1] == 0.0


def test_spectral_centroid_of_a_single_bin_is_its_frequency():
    mag = torch.zeros(1, 513, 10)
    mag[0, 64] = 1.0  # 64 * 15.625 Hz
    assert float(spectral_centroid_hz(mag)) == pytest.approx(1000.0)


# --- note groups, per-key results, keyboard sweep, mel distance --------------------------------------------------


@pytest.fixture(scope="module")
def grid_dataset(tmp_path_factory):
    """TimGM6mb programs 0 and 24 at velocity 100, all in nsynth-train: keys 48, 56, 64 played straight
    and keys 52, 60 with a held pitch bend (seeded within ±40 cents). Against the grid 48-64:16 each
    instrument has 2 on-grid, 1 off-grid and 2 fractional notes."""
    from morphsynth.training.dataset_soundfont import build_soundfont_dataset
    from morphsynth.training.soundfont import TIMGM6MB

    if not TIMGM6MB.is_file():
        pytest.skip(f"{TIMGM6MB} is missing (bash scripts/setup.sh installs timgm6mb-soundfont)")
    root = tmp_path_factory.mktemp("grid_dataset")
    common = dict(programs=[0, 24], velocities=[100], valid_fraction=0.0, test_fraction=0.0, seed=0)
    build_soundfont_dataset([TIMGM6MB], root, pitches=(48, 64), pitch_step=8, **common)
    build_soundfont_dataset([TIMGM6MB], root, pitches=(52, 60), pitch_step=8, bend_cents=40.0, **common)
    return root / "nsynth-train"


@pytest.fixture(scope="module")
def sweep_dataset(tmp_path_factory):
    """Every key 54-66 of TimGM6mb programs 0 and 24 at velocity 100 (26 notes, one split)."""
    from morphsynth.training.dataset_soundfont import build_soundfont_dataset
    from morphsynth.training.soundfont import TIMGM6MB

    if not TIMGM6MB.is_file():
        pytest.skip(f"{TIMGM6MB} is missing (bash scripts/setup.sh installs timgm6mb-soundfont)")
    root = tmp_path_factory.mktemp("sweep_dataset")
    build_soundfont_dataset([TIMGM6MB], root, programs=[0, 24], pitches=(54, 66), velocities=[100],
                            valid_fraction=0.0, test_fraction=0.0, seed=0)
    return root


def test_eval_notes_keep_the_sounding_pitch_with_key_and_bend(grid_dataset):
    notes = load_eval_notes(grid_dataset)
    assert notes.pitch.dtype == torch.float32 and len(notes) == 10
    assert sorted(set(notes.key.tolist())) == [48, 52, 56, 60, 64]
    bent = notes.bend_cents != 0
    assert set(notes.key[bent].tolist()) == {52, 60} and float(notes.bend_cents.abs().max()) <= 40
    assert torch.allclose(notes.pitch, notes.key.float() + notes.bend_cents / 100)
    assert not torch.equal(notes.pitch[bent], notes.pitch[bent].round())


def test_models_decode_a_bent_note_at_its_fractional_pitch_not_at_its_key(tiny_model_dir):
    cae = models_in_run(tiny_model_dir)["cae"]
    z = torch.zeros(1, cae.latent_dim)
    at_key = cae.decode(z, torch.tensor([60.0]), [100])
    bent = cae.decode(z, torch.tensor([60.4]), [100])
    expected = cae.net.features_to_mag(cae.net.decode(z, torch.tensor([60.4]), torch.tensor([100])))
    assert not torch.allclose(at_key, bent)
    assert torch.allclose(bent, expected)


def test_grid_is_parsed_and_notes_fall_into_on_grid_off_grid_and_fractional():
    from morphsynth.core.errors import MorphsynthError
    from morphsynth.training.evaluate import EvalNotes, note_groups, parse_grid, pitch_note_indices

    assert parse_grid("24-96:6") == list(range(24, 97, 6))
    assert parse_grid("60-60:1") == [60]
    for bad in ("24-96", "96-24:6", "24-130:6", "24-96:0", "a-b:c"):
        with pytest.raises(MorphsynthError, match="--grid"):
            parse_grid(bad)
    keys = torch.tensor([24, 25, 30, 31, 30, 60, 61, 62])
    bend = torch.tensor([0.0, 0.0, 0.0, 0.0, 12.5, 0.0, -3.0, 0.0])
    notes = EvalNotes(mag=torch.zeros(8, 1, 1), pitch=keys + bend / 100, velocity=torch.full((8,), 100),
                      instrument=["a"] * 8, family=["keyboard"] * 8, note_str=[str(i) for i in range(8)],
                      key=keys, bend_cents=bend)
    groups = note_groups(notes, parse_grid("24-96:6"))
    assert groups == ["on_grid", "off_grid", "on_grid", "off_grid", "fractional", "on_grid", "fractional",
                      "off_grid"]
    # Under a cap the pitch notes come from every group in turn, however rare a group is.
    chosen = pitch_note_indices(notes, groups, 3, seed=0)
    assert sorted(groups[i] for i in chosen) == ["fractional", "off_grid", "on_grid"]
    assert pitch_note_indices(notes, groups, None) == [2, 3, 4, 5, 6, 7]   # keys 24 and 25: below CREPE's range


def test_eval_reports_on_grid_off_grid_and_fractional_groups_and_per_key_rows(tiny_model_dir, grid_dataset,
                                                                            tmp_path):
    notes = load_eval_notes(grid_dataset)
    metrics = evaluate(models_in_run(tiny_model_dir), notes, tmp_path, n_pairs=2, pitch_method="autocorrelation",
                       grid="48-64:16", log=lambda line: None)
    assert metrics["grid"] == {"spec": "48-64:16", "keys": [48, 64]}
    expected = {"on_grid": 4, "off_grid": 2, "fractional": 4}
    assert {g: c["n_notes"] for g, c in metrics["groups"].items()} == expected
    assert metrics["source_pitch_accuracy"] >= 0.75    # bent originals are judged against their sounding pitch
    for name in ("cae", "pca", "shallow_ae"):
        m = metrics[name]
        assert {g: gm["n_notes"] for g, gm in m["groups"].items()} == expected
        assert m["mel_distance"] > 0 and m["level_diff_abs_db"] >= abs(m["level_diff_db"])
        for gm in m["groups"].values():
            assert gm["lsd_db"] > 0 and gm["mel_distance"] > 0 and gm["spectral_convergence"] > 0
            assert gm["level_diff_abs_db"] >= abs(gm["level_diff_db"])
            assert gm["n_pitch_notes"] <= gm["n_notes"] and gm["n_pitch_errors"] <= gm["n_pitch_notes"]
        errors = sum(gm["n_pitch_errors"] for gm in m["groups"].values())
        shares = [gm["pitch_error_share"] for gm in m["groups"].values()]
        assert (sum(shares) == pytest.approx(1.0)) if errors else all(s is None for s in shares)
        # The group means are the overall mean, split.
        assert sum(gm["lsd_db"] * gm["n_notes"] for gm in m["groups"].values()) / 10 == pytest.approx(m["lsd_db"])
        rows = m["per_key"]
        assert [r["key"] for r in rows] == [48, 52, 56, 60, 64] and all(r["n_notes"] == 2 for r in rows)
        assert all(r["median_abs_cents"] is None or r["median_abs_cents"] >= 0 for r in rows)
    # PCA ignores pitch: on these two instruments it cannot be right at every key.
    assert metrics["pca"]["pitch_accuracy"] < 1.0
    report = (tmp_path / "report.md").read_text()
    assert "## Note groups" in report and "`48-64:16`" in report
    for label in ("on grid", "off grid", "fractional"):
        assert f"| cae | {label} |" in report
    assert "## Per key" in report and "| 52 | 2 |" in report
    assert (tmp_path / "pitch_error.png").read_bytes()[:4] == b"\x89PNG" and "](pitch_error.png)" in report
    json.loads((tmp_path / "metrics.json").read_text())  # strict JSON: no Infinity/NaN tokens
    assert "Infinity" not in (tmp_path / "metrics.json").read_text()


def test_sweep_decodes_one_note_per_instrument_at_every_key_with_one_row_per_key(tiny_model_dir, grid_dataset,
                                                                              sweep_dataset, tmp_path):
    from morphsynth.main import main

    out = tmp_path / "report"
    rc = main(["eval", "--model", str(tiny_model_dir), "--data", str(grid_dataset), "--out", str(out),
               "--max-notes", "4", "--pairs", "1", "--pitch", "autocorrelation", "--grid", "48-64:16",
               "--sweep-data", str(sweep_dataset), "--sweep-ref-key", "59", "--sweep-instruments", "1"])
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    sweep = metrics["sweep"]
    assert sweep["models"] == ["cae", "pca"]               # the shallow AE is not swept
    assert sweep["n_instruments"] == 1 and sweep["n_notes"] == 13
    (inst,) = sweep["instruments"]
    assert inst["ref_key"] == 59 and inst["keys"] == [54, 66] and inst["velocity"] == 100
    assert sweep["source_pitch_accuracy"] >= 0.75
    for name in ("cae", "pca"):
        rows = sweep[name]["per_key"]
        assert [r["key"] for r in rows] == list(range(54, 67))
        assert all(r["n_notes"] == 1 and r["lsd_db"] > 0 and r["mel_distance"] > 0 for r in rows)
        assert sweep[name]["overall"]["n_notes"] == 13 and sweep[name]["transposed"]["n_notes"] == 12
    # PCA ignores pitch, so it decodes the one encoded latent to the same note at every key: the sweep
    # must see its pitch fail, its f0 staying put while the keys it is judged against climb.
    assert sweep["pca"]["overall"]["pitch_accuracy"] <= 0.3
    assert sweep["pca"]["overall"]["median_abs_cents"] > 100
    report = (out / "report.md").read_text()
    assert "## Keyboard sweep" in report and "| pca | 13 |" in report
    for png in ("sweep_pitch_error.png", "pitch_error.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG", png
        assert f"]({png})" in report
    import csv

    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert len(rows) == 13 * 3 and {r["series"] for r in rows} == {"originals", "cae", "pca"}
    pca_f0_cents = [float(r["cents"]) + 100 * int(r["key"]) for r in rows if r["series"] == "pca" and r["cents"]]
    assert len(pca_f0_cents) == 13 and max(pca_f0_cents) - min(pca_f0_cents) < 0.01


def test_sweep_plan_takes_each_instruments_note_nearest_the_reference_key(sweep_dataset):
    from morphsynth.training.keyboard import plan_sweep
    from morphsynth.training.nsynth import list_examples

    examples = list_examples(sweep_dataset)
    plan = plan_sweep(examples, ref_key=70)
    assert len(plan) == 2 and all(p.ref_key == 66 and p.keys == list(range(54, 67)) for p in plan)
    assert all(examples[p.ref].pitch == 66 and examples[p.ref].instrument_str == p.name for p in plan)
    assert len(plan_sweep(examples, ref_key=60, max_instruments=1)) == 1


def test_mel_filters_match_librosa_without_area_normalisation():
    librosa = pytest.importorskip("librosa")
    from morphsynth.training.metrics import mel_triangles

    for n_fft, n_mels in ((2048, 128), (1024, 96), (512, 64), (256, 32)):
        expected = librosa.filters.mel(sr=16000, n_fft=n_fft, n_mels=n_mels, norm=None)
        np.testing.assert_allclose(mel_triangles(16000, n_fft, n_mels).numpy(), expected, atol=1e-6)


def test_mel_distance_is_zero_for_identical_audio_and_grows_with_a_spectral_change():
    from morphsynth.training.metrics import multires_log_mel_distance

    sr = 16000
    t = torch.arange(2 * sr) / sr
    gen = torch.Generator().manual_seed(0)
    # A 220 Hz note with 20 harmonics over a little noise; est: its harmonics above 1 kHz cut by g dB.
    harmonics = torch.arange(1, 21, dtype=torch.float32)
    amps = 0.3 / harmonics
    noise = 1e-3 * torch.randn(2 * sr, generator=gen)

    def note(cut_db: float) -> torch.Tensor:
        gain = torch.where(220 * harmonics > 1000, torch.tensor(10 ** (-cut_db / 20)), torch.tensor(1.0))
        return (amps * gain)[:, None].mul(torch.sin(2 * np.pi * 220 * harmonics[:, None] * t)).sum(0) + noise

    ref = note(0.0)[None]
    assert float(multires_log_mel_distance(ref, ref.clone(), sr)[0]) == 0.0
    d = [float(multires_log_mel_distance(ref, note(g)[None], sr)[0]) for g in (1.0, 3.0, 10.0, 30.0)]
    assert 0 < d[0] < d[1] < d[2] < d[3]
    # A plain gain of 6 dB costs about 6 dB wherever the note is well above the floor.
    assert float(multires_log_mel_distance(ref, 0.5 * ref, sr)[0]) == pytest.approx(6.02, abs=0.5)
    # Per note in a batch, and symmetric in its arguments.
    both = torch.cat([ref, note(10.0)[None]])
    dist = multires_log_mel_distance(both, torch.cat([ref, ref]), sr)
    assert float(dist[0]) == 0.0 and float(dist[1]) == pytest.approx(d[2], rel=0.1)


def test_level_difference_is_the_energy_ratio_in_db():
    from morphsynth.training.metrics import level_difference_db

    ref = torch.rand(3, 513, 20) + 0.1
    est = ref * torch.tensor([1.0, 2.0, 0.5])[:, None, None]
    np.testing.assert_allclose(level_difference_db(ref, est).numpy(), [0.0, 6.0206, -6.0206], atol=1e-3)


def test_library_add_round_trip_brings_loud_files_back_at_their_own_level(tiny_model_dir, tiny_dataset,
                                                                         sweep_dataset, tmp_path):
    from morphsynth.main import main
    from morphsynth.training.roundtrip import library_roundtrip

    lib = tmp_path / "lib.safetensors"
    assert main(["library", "build", "--model", str(tiny_model_dir), "--data", str(tiny_dataset),
                 "--out", str(lib)]) == 0
    model = models_in_run(tiny_model_dir)["cae"]
    summary = library_roundtrip(model, lib, sweep_dataset, n_notes=3, peak_dbfs=-2.0,
                                pitch_method="autocorrelation")
    assert summary["n_notes"] == 3 and len(summary["rows"]) == 3
    # Two instruments, so the first two notes come from different ones.
    assert summary["rows"][0]["note_str"].split("-")[0] != summary["rows"][1]["note_str"].split("-")[0]
    for row in summary["rows"]:
        assert abs(row["level_diff_db"]) <= 2.0, row
        assert row["lsd_db"] > 0
    assert summary["within_2db"] == 1.0
    assert summary["level_diff_abs_db"] >= abs(summary["level_diff_db"])
    # The eval command reports it from the model folder's library.
    out = tmp_path / "report"
    assert main(["eval", "--model", str(tiny_model_dir), "--data", str(sweep_dataset / "nsynth-train"), "--out", str(out),
                 "--max-notes", "6", "--pitch", "none", "--pairs", "0", "--library", str(lib),
                 "--library-notes", "2"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["library_add"]["n_notes"] == 2
    assert "## Library add and back" in (out / "report.md").read_text()
