"""The training loop and `morphsynth train` on real rendered notes."""

import json

import pytest
import torch

from morphsynth.core.config import ConfigError, load_config
from morphsynth.core.errors import MorphsynthError
from morphsynth.training.checkpoint import Progress
from morphsynth.core.synth_model import build_network, load_synth_model
from morphsynth.training.train import (NoteSet, TrainState, compute_losses, features, normalisation_stats,
                                       notes_from_dataset, train_step)
from morphsynth.training.train_config import OptimConfig, TrainConfig


@pytest.fixture(scope="module")
def train_notes(tiny_dataset):
    from morphsynth.training.nsynth import NSynthDataset

    return notes_from_dataset(NSynthDataset(tiny_dataset, "train"))


def _loss(core, notes: NoteSet, weights):
    with torch.no_grad():
        x = features(core, notes.logmag)
        x_hat = core.decode(core.encode(x, notes.pitch, notes.velocity), notes.pitch, notes.velocity)
        losses = compute_losses(core, x_hat, x, list(weights))
    return sum(weights[k] * v for k, v in losses.items()).item()


def step_once(core, train_notes, precision: str = "fp32"):
    """One training step on 8 rendered notes: (state, the values it reported, the float32
    loss before, the float32 loss after)."""
    batch = train_notes.subset(list(range(8)))
    weights = {"spec/mse": 1.0, "spec/sc": 0.05}
    optim = OptimConfig(lr=3e-4, warmup_steps=0, precision=precision)
    state = TrainState(core, torch.optim.AdamW(core.parameters(), lr=optim.lr), Progress(), optim, weights,
                       torch.device("cpu"))
    before = _loss(core, batch, weights)
    values = train_step(state, batch.logmag, batch.pitch, batch.velocity)
    return state, values, before, _loss(core, batch, weights)


def assert_one_step_lowers_the_loss(core, train_notes) -> TrainState:
    """One training step: the loss it reports is the loss before, and the loss after is lower."""
    state, values, before, after = step_once(core, train_notes)
    assert values["total"] == pytest.approx(before, rel=1e-4)
    assert after < before
    return state


@pytest.mark.parametrize("kind", ["cae", "shallow_ae"])
def test_one_training_step_on_rendered_notes_reduces_the_loss(train_notes, kind):
    torch.manual_seed(0)
    cfg = {"latent_dim": 8, "width": 4, "max_channels": 16, "cond_dim": 16} if kind == "cae" else {"latent_dim": 8}
    core = build_network(kind, cfg)
    core.set_normalisation(*normalisation_stats(train_notes))
    state = assert_one_step_lowers_the_loss(core, train_notes)
    assert state.progress.step == 1


def test_a_bf16_training_step_reduces_the_float32_loss_and_keeps_float32_weights(train_notes):
    torch.manual_seed(0)
    core = build_network("cae", {"latent_dim": 8, "width": 4, "max_channels": 16, "cond_dim": 16})
    core.set_normalisation(*normalisation_stats(train_notes))
    _, values, before, after = step_once(core, train_notes, precision="bf16")
    # The step saw the bfloat16 forward pass: close to the float32 loss, not equal to it.
    assert values["total"] == pytest.approx(before, rel=0.05) and values["total"] != before
    assert after < before
    assert all(p.dtype == torch.float32 for p in core.parameters())


def test_auto_precision_is_bf16_only_where_the_device_computes_it_natively():
    from morphsynth.training.train import native_bf16, resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    assert resolve_precision("auto", cpu) == ("bf16" if native_bf16(cpu) else "fp32")
    assert native_bf16(cpu) == bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert not native_bf16(torch.device("meta"))


def test_normalised_features_have_zero_mean_per_bin_and_unit_global_std(train_notes):
    mean, std = normalisation_stats(train_notes)
    core = build_network("pca", {"latent_dim": 2})
    core.set_normalisation(mean, std)
    x = features(core, train_notes.logmag).double()
    assert x.mean(dim=(0, 2)).abs().max() < 1e-3
    assert abs(float(x.std()) - 1.0) < 1e-2


def test_train_run_folder_is_a_model_folder_with_checkpoint_curves_and_baselines(tiny_model_dir):
    model = load_synth_model(tiny_model_dir)
    assert model.kind == "cae" and model.latent_dim == 8
    assert model.info["n_train_notes"] > 0 and "valid_lsd_db" in model.info
    for name in ("loss_curves.png", "history.json", "config.yaml", "checkpoint/state.json",
                 "checkpoint/state.safetensors"):
        assert (tiny_model_dir / name).is_file(), name
    assert (tiny_model_dir / "loss_curves.png").read_bytes()[:4] == b"\x89PNG"
    history = json.loads((tiny_model_dir / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert all("train/spec/mse" in h and "valid/lsd_db" in h for h in history)
    for kind in ("pca", "shallow_ae"):
        baseline = load_synth_model(tiny_model_dir / "baselines" / kind)
        assert baseline.kind == kind and baseline.latent_dim == model.latent_dim


def test_train_command_refuses_an_existing_run_without_resume(tiny_model_dir, tiny_dataset):
    from morphsynth.main import main

    rc = main(["train", "--config", "configs/tiny.yaml", "--data", str(tiny_dataset), "--out", str(tiny_model_dir),
               "--device", "cpu", "--no-progress"])
    assert rc == 2


def test_resume_without_checkpoint_is_a_clear_error(tmp_path, train_notes):
    from morphsynth.training.train import train_run

    cfg = load_config("configs/tiny.yaml", TrainConfig)
    with pytest.raises(MorphsynthError, match="no checkpoint to resume"):
        train_run(cfg, train_notes, train_notes, tmp_path, torch.device("cpu"), resume=True, log=lambda m: None)


def test_unknown_loss_name_in_config_is_refused_naming_the_key(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("loss:\n  spec/mel: 1.0\n")
    with pytest.raises(ConfigError, match="loss.spec/mel: unknown loss"):
        load_config(p, TrainConfig)
    p.write_text("model:\n  latent_dim: 0\n")
    with pytest.raises(ConfigError, match="latent_dim: must be >= 1"):
        load_config(p, TrainConfig)
    p.write_text("optim:\n  precision: fp8\n")
    with pytest.raises(ConfigError, match="precision: must be one of fp32, bf16, auto, got 'fp8'"):
        load_config(p, TrainConfig)


def test_unknown_device_is_refused():
    from morphsynth.core.device import pick_device

    with pytest.raises(MorphsynthError, match="--device banana"):
        pick_device("banana")


def test_random_gain_scales_loud_bins_by_the_gain_and_keeps_the_floor():
    from morphsynth.training.train import random_gain

    torch.manual_seed(0)
    mag = torch.zeros(64, 513, 4)
    mag[:, 10] = 0.5  # a loud bin; everything else is silence at the floor
    logmag = torch.log(mag + 1e-4)
    out = random_gain(logmag, 6.0)
    db = 20 * (out[:, 10, 0] - logmag[:, 10, 0]) / torch.log(torch.tensor(10.0))
    assert db.abs().max() <= 6.0 + 1e-3 and db.std() > 1.0  # spread over ±6 dB
    assert torch.allclose(out[:, 0], logmag[:, 0])  # the floor does not move


def test_one_training_step_of_a_correction_cae_on_rendered_notes_reduces_the_loss(train_notes):
    from morphsynth.training.train import fit_correction_baseline

    torch.manual_seed(0)
    core = build_network("cae", {"latent_dim": 8, "width": 4, "max_channels": 16, "cond_dim": 16,
                                 "baseline": "pitch_mean", "pca_dims": 4})
    core.set_normalisation(*normalisation_stats(train_notes))
    explained = fit_correction_baseline(core, train_notes, torch.device("cpu"))
    assert explained.shape == (4,) and 0 < float(explained.sum()) <= 1
    assert_one_step_lowers_the_loss(core, train_notes)


def test_train_run_with_a_baseline_fits_it_on_the_train_split_and_saves_it_in_the_model_folder(train_notes, tmp_path):
    import dataclasses
    from pathlib import Path

    config = load_config(Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml", TrainConfig)
    model_cfg = dataclasses.replace(config.model, baseline="pitch_mean", pca_dims=4)
    config = dataclasses.replace(config, model=model_cfg, baselines=[],
                                 optim=dataclasses.replace(config.optim, max_epochs=1))
    from morphsynth.training.train import train_run

    train_run(config, train_notes, train_notes.subset([0, 1, 2, 3]), tmp_path, torch.device("cpu"),
              log=lambda msg: None, progress_bar=False)
    model = load_synth_model(tmp_path)
    assert model.net.config.baseline == "pitch_mean" and model.latent_dim == 8
    assert model.net.baseline.anchor_mean.float().abs().sum() > 0
    assert 0 < model.info["baseline_pca_explained"] <= 1


def test_correction_baseline_pca_on_a_note_subset_still_fits_the_mean_on_every_note(train_notes):
    from morphsynth.training.train import fit_correction_baseline

    cfg = {"latent_dim": 8, "width": 2, "max_channels": 8, "cond_dim": 8, "baseline": "pitch_mean", "pca_dims": 4}
    full, part = build_network("cae", cfg), build_network("cae", cfg)
    for core in (full, part):
        core.set_normalisation(*normalisation_stats(train_notes))
    fit_correction_baseline(full, train_notes, torch.device("cpu"))
    fit_correction_baseline(part, train_notes, torch.device("cpu"), max_pca_notes=6)
    assert torch.equal(full.baseline.anchor_mean, part.baseline.anchor_mean)
    assert not torch.allclose(full.baseline.components, part.baseline.components)


def test_a_tiny_model_trained_on_four_keys_plays_the_keys_between_them_in_tune(train_notes, tmp_path):
    """Trained on keys 48, 56, 64 and 72 only, it must play 52, 60, 61.5 and 68 within 50 cents."""
    import dataclasses

    from morphsynth.core.phase import reconstruct
    from morphsynth.training.pitch_accuracy import pitch_hits
    from morphsynth.training.train import train_run

    cfg = load_config("configs/tiny.yaml", TrainConfig)
    cfg = dataclasses.replace(
        cfg, baselines=[],
        model=dataclasses.replace(cfg.model, pitch_features="smooth", harmonic_output=True),
        optim=dataclasses.replace(cfg.optim, max_epochs=40, patience=40, augment_warp_semitones=0.5))
    assert sorted(set(train_notes.pitch.tolist())) == [48.0, 56.0, 64.0, 72.0]
    train_run(cfg, train_notes, train_notes, tmp_path, torch.device("cpu"), log=lambda m: None, progress_bar=False)
    model = load_synth_model(tmp_path)
    for source_key, keys in ((56, (52.0, 60.0)), (64, (61.5, 68.0))):
        notes = train_notes.subset((train_notes.pitch == source_key).nonzero()[:, 0])
        mag = (torch.exp(notes.logmag.float()) - 1e-4).clamp_min(0)
        # Only instruments whose own note is on pitch can show whether the model keeps it.
        on_pitch = pitch_hits(reconstruct(mag), notes.pitch.tolist(), 16000)
        assert on_pitch.sum() >= 5
        z = model.encode(mag[on_pitch], notes.pitch[on_pitch], notes.velocity[on_pitch])
        for key in keys:
            audio = reconstruct(model.decode(z, torch.full((len(z),), key), notes.velocity[on_pitch]))
            hits = pitch_hits(audio, [key] * len(z), 16000)
            assert hits.all(), f"key {key} from {source_key}: {int(hits.sum())}/{len(z)} within 50 cents"
