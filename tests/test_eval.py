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
