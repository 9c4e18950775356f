"""The networks and the model folder: shapes, round trips, refusals."""

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from morphsynth.core.config import load_config
from morphsynth.core.errors import MorphsynthError
from morphsynth.core.model import CaeConfig, ConvAutoencoder, harmonic_channels
from morphsynth.core.synth_model import (KINDS, build_network, load_synth_model, save_synth_model)
from morphsynth.training.train_config import TrainConfig

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
assert CONFIGS, "no configs/*.yaml found: the smoke test below would check nothing"


def shrink(cfg: CaeConfig) -> CaeConfig:
    """The shipped shape at a tiny width, so every config is checked in milliseconds."""
    return dataclasses.replace(cfg, width=2, max_channels=8, cond_dim=8)


def random_notes(n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    mag = torch.rand(n, 513, 251, generator=g) ** 4
    return mag, torch.tensor([40, 70, 55, 90][:n]), torch.tensor([64, 112, 100, 30][:n])


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_shipped_config_builds_and_keeps_shapes_through_encode_decode(path, tmp_path):
    cfg = load_config(path, TrainConfig)
    for kind in ("cae", "pca", "shallow_ae"):
        model_cfg = shrink(cfg.model) if kind == "cae" else {"latent_dim": cfg.model.latent_dim}
        net = build_network(kind, model_cfg)
        save_synth_model(net, tmp_path / kind)
        model = load_synth_model(tmp_path / kind)
        mag, pitch, vel = random_notes()
        z = model.encode(mag, pitch, vel)
        assert z.shape == (2, cfg.model.latent_dim)
        out = model.decode(z, pitch, vel)
        assert out.shape == (2, 513, 251) and out.dtype == torch.float32
        assert (out >= 0).all() and torch.isfinite(out).all()


def test_saved_and_reloaded_model_decodes_identically_and_reports_file_hash(tmp_path):
    import hashlib

    torch.manual_seed(1)
    net = ConvAutoencoder(CaeConfig(latent_dim=8, width=4, max_channels=16, cond_dim=16))
    net.set_normalisation(torch.linspace(-6, -3, 513), 2.0)
    digest = save_synth_model(net, tmp_path / "m", name="m")
    model = load_synth_model(tmp_path / "m")
    assert model.model_hash == digest == hashlib.sha256((tmp_path / "m" / "model.safetensors").read_bytes()).hexdigest()
    assert (model.name, model.kind, model.latent_dim, model.n_frames) == ("m", "cae", 8, 251)
    assert model.stft.sample_rate == 16000 and model.stft.n_fft == 1024 and model.stft.hop == 256
    mag, pitch, vel = random_notes()
    with torch.no_grad():
        expected = net.features_to_mag(net.decode(net.encode(net.mag_to_features(mag), pitch, vel), pitch, vel))
    got = model.decode(model.encode(mag, pitch, vel), pitch, vel)
    assert torch.equal(got, expected)


def test_encode_audio_matches_encoding_the_stft_magnitude():
    from morphsynth.core.spectral import magnitude
    from morphsynth.core.synth_model import as_synth_model

    net = ConvAutoencoder(CaeConfig(latent_dim=4, width=2, max_channels=8, cond_dim=8))
    model = as_synth_model(net, "m")
    audio = torch.sin(torch.arange(64000) * 2 * torch.pi * 220 / 16000)[None] * 0.5
    z1 = model.encode_audio(audio, [57], [100])
    z2 = model.encode(magnitude(audio), [57], [100])
    assert torch.allclose(z1, z2, atol=1e-5)


def test_decoder_output_depends_on_pitch_condition():
    torch.manual_seed(0)
    net = ConvAutoencoder(CaeConfig(latent_dim=4, width=2, max_channels=8, cond_dim=8)).eval()
    z = torch.randn(1, 4)
    with torch.no_grad():
        a = net.decode(z, torch.tensor([48]), torch.tensor([100]))
        b = net.decode(z, torch.tensor([60]), torch.tensor([100]))
    assert not torch.allclose(a, b)


def test_harmonic_channels_peak_on_the_harmonics_of_the_pitch():
    # A4 = 440 Hz: harmonics at 440, 880, 1320 Hz → bins 28.16, 56.3, 84.5 of 15.625 Hz.
    h = harmonic_channels(torch.tensor([69]), 512)[0, 0, :, 0]  # cos(2π f / f0)
    for k in (1, 2, 3):
        near = round(440 * k / 15.625)
        assert h[near] > 0.85
        assert h[near + round(220 / 15.625)] < -0.8  # half-way between harmonics


def test_missing_model_folder_names_the_path(tmp_path):
    with pytest.raises(MorphsynthError, match="model folder not found"):
        load_synth_model(tmp_path / "nope")


def _saved(tmp_path):
    net = build_network("cae", {"latent_dim": 8, "width": 4, "max_channels": 16, "cond_dim": 16})
    save_synth_model(net, tmp_path)
    return tmp_path


def _edit_json(folder, **changes):
    path = folder / "model.json"
    meta = json.loads(path.read_text())
    for key, value in changes.items():
        meta[key] = value
    path.write_text(json.dumps(meta))


def test_truncated_weights_file_is_refused_with_the_file_name(tmp_path):
    folder = _saved(tmp_path)
    w = folder / "model.safetensors"
    w.write_bytes(w.read_bytes()[:1000])
    with pytest.raises(MorphsynthError, match=r"model\.safetensors: not a readable safetensors file"):
        load_synth_model(folder)


def test_future_format_version_is_refused(tmp_path):
    folder = _saved(tmp_path)
    _edit_json(folder, format_version=99)
    with pytest.raises(MorphsynthError, match="format_version 99 is not supported"):
        load_synth_model(folder)


def test_mismatched_latent_size_is_refused_naming_the_tensor(tmp_path):
    folder = _saved(tmp_path)
    meta = json.loads((folder / "model.json").read_text())
    meta["model_config"]["latent_dim"] = 16
    meta["latent_dim"] = 16
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(MorphsynthError, match=r"tensor 'to_latent\.weight' has shape"):
        load_synth_model(folder)


def test_mismatched_stft_is_refused(tmp_path):
    from morphsynth.core.spectral import StftSettings

    folder = _saved(tmp_path)
    _edit_json(folder, stft={"sample_rate": 16000, "n_fft": 2048, "hop": 256})
    with pytest.raises(MorphsynthError, match="n_bins 513 does not match stft n_fft 2048"):
        load_synth_model(folder)
    folder2 = _saved(tmp_path / "b")
    with pytest.raises(MorphsynthError, match="does not match the expected"):
        load_synth_model(folder2, expect_stft=StftSettings(hop=128))


def test_corrupt_json_and_unknown_kind_are_refused(tmp_path):
    folder = _saved(tmp_path)
    _edit_json(folder, kind="vae")
    with pytest.raises(MorphsynthError, match="unknown model kind 'vae'"):
        load_synth_model(folder)
    (folder / "model.json").write_text("{not json")
    with pytest.raises(MorphsynthError, match="model.json: not valid JSON"):
        load_synth_model(folder)


def test_wrong_input_shape_names_the_argument(tmp_path):
    model = load_synth_model(_saved(tmp_path))
    with pytest.raises(MorphsynthError, match=r"mag: expected \[batch, 513, 251\]"):
        model.encode(torch.zeros(1, 512, 251), [60], [100])
    with pytest.raises(MorphsynthError, match=r"z: expected \[batch, 8\]"):
        model.decode(torch.zeros(1, 9), [60], [100])
    with pytest.raises(MorphsynthError, match="pitch: MIDI values must lie in 0..127"):
        model.decode(torch.zeros(1, 8), [200], [100])


def test_pca_fit_reconstructs_its_training_notes_at_full_rank():
    from morphsynth.core.baselines import PcaConfig, PcaModel
    from morphsynth.training.baseline_fit import fit_pca

    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 513, 251, generator=g)
    pca = PcaModel(PcaConfig(latent_dim=4))
    explained = fit_pca(pca, x)
    assert abs(float(explained.sum()) - 1.0) < 1e-4
    with torch.no_grad():
        rec = pca.decode(pca.encode(x, None, None), None, None)
    assert torch.allclose(rec, x, atol=1e-3)


def test_every_kind_is_registered():
    assert set(KINDS) == {"cae", "pca", "shallow_ae"}


# --- CAE decoding a correction on top of a fitted baseline --------------------------------------

CORRECTION = {"latent_dim": 8, "width": 2, "max_channels": 8, "cond_dim": 8, "baseline": "pitch_mean", "pca_dims": 3}


def _fitted_correction_cae(n=12, seed=0):
    """A tiny correction CAE whose baseline is fitted to random features of n notes at 6 pitches × 2 velocities."""
    from morphsynth.training.baseline_fit import fit_pitch_baseline

    torch.manual_seed(seed)
    net = build_network("cae", CORRECTION)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 513, 251, generator=g)
    pitch = torch.tensor([48, 54, 60, 66, 72, 78] * (n // 6))
    velocity = torch.tensor([64] * (n // 2) + [112] * (n // 2))
    fit_pitch_baseline(net.baseline, lambda: [(x[:n // 2], pitch[:n // 2], velocity[:n // 2]),
                                              (x[n // 2:], pitch[n // 2:], velocity[n // 2:])])
    return net.eval(), x, pitch, velocity


def test_warp_to_pitch_moves_harmonic_peaks_to_the_new_pitch():
    from morphsynth.core.model import warp_to_pitch

    x = torch.zeros(1, 513, 3)
    x[0, 28] = 1.0  # A4's fundamental: 440 Hz / 15.625 Hz ≈ bin 28.2
    y = warp_to_pitch(x, torch.tensor([69]), torch.tensor([81]))  # one octave up
    assert int(y[0, :, 0].argmax()) == 56
    assert torch.allclose(warp_to_pitch(x, torch.tensor([60]), torch.tensor([60])), x)


def test_pitch_baseline_fit_reproduces_a_mean_that_is_linear_in_velocity_at_anchor_pitches():
    from morphsynth.training.baseline_fit import fit_pitch_baseline
    from morphsynth.core.model import PitchBaseline

    g = torch.Generator().manual_seed(3)
    at64 = torch.randn(2, 513, 251, generator=g)
    slope = torch.randn(2, 513, 251, generator=g)
    pitch = torch.tensor([48, 48, 48, 60, 60, 60])
    velocity = torch.tensor([32, 64, 112, 40, 80, 127])
    u = (velocity.float() - 64) / 64
    which = torch.tensor([0, 0, 0, 1, 1, 1])
    x = at64[which] + u[:, None, None] * slope[which]
    base = PitchBaseline(251)
    explained = fit_pitch_baseline(base, lambda: [(x, pitch, velocity)])
    assert explained.numel() == 0
    # float16 storage: 1e-3 of a unit is the budget
    assert torch.allclose(base.mean(pitch, velocity), x, atol=1e-2)
    # an anchor that saw no notes copies the nearest fitted one, warped: finite, not left at zero
    assert base.anchor_mean[0].abs().sum() > 0 and torch.isfinite(base.anchor_mean.float()).all()


def test_untrained_correction_cae_reproduces_its_baseline_and_keeps_the_latent_size():
    net, x, pitch, velocity = _fitted_correction_cae()
    with torch.no_grad():
        z = net.encode(x, pitch, velocity)
        out = net.decode(z, pitch, velocity)
        mean = net.baseline.mean(pitch, velocity)
        base_rec = net.baseline.decode(net.baseline.encode(x, mean), mean)
    assert z.shape == (12, 8) and out.shape == (12, 513, 251)
    assert torch.allclose(out, base_rec, atol=1e-5)
    # the PCA coordinates are whitened: unit std over the notes the baseline was fitted on
    assert torch.allclose(z[:, :3].pow(2).mean(0).sqrt(), torch.ones(3), atol=1e-3)
    # PCA on the residual only lowers the error of the mean alone
    assert (base_rec - x).pow(2).mean() < (mean - x).pow(2).mean()


def test_correction_cae_round_trips_through_a_model_folder_with_its_baseline_in_the_weights(tmp_path):
    from safetensors import safe_open

    net, x, pitch, velocity = _fitted_correction_cae()
    net.set_normalisation(torch.linspace(-6, -3, 513), 2.0)
    save_synth_model(net, tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["model_config"]["baseline"] == "pitch_mean" and meta["model_config"]["pca_dims"] == 3
    with safe_open(str(tmp_path / "m" / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert {"baseline.anchor_mean", "baseline.anchor_slope", "baseline.components", "baseline.coeff_std"} <= keys
    model = load_synth_model(tmp_path / "m")
    mag, p, v = random_notes(4)
    with torch.no_grad():
        expected = net.features_to_mag(net.decode(net.encode(net.mag_to_features(mag), p, v), p, v))
    assert torch.equal(model.decode(model.encode(mag, p, v), p, v), expected)


def test_model_json_claiming_a_baseline_the_weights_lack_is_refused(tmp_path):
    folder = _saved(tmp_path)
    meta = json.loads((folder / "model.json").read_text())
    meta["model_config"]["baseline"] = "pitch_mean"
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(MorphsynthError, match=r"tensor 'baseline\.anchor_mean' missing"):
        load_synth_model(folder)


def test_model_json_written_before_the_baseline_keys_existed_loads_as_a_plain_cae(tmp_path):
    folder = _saved(tmp_path)
    meta = json.loads((folder / "model.json").read_text())
    del meta["model_config"]["baseline"], meta["model_config"]["pca_dims"]
    (folder / "model.json").write_text(json.dumps(meta))
    model = load_synth_model(folder)
    assert model.net.baseline is None and model.net.config.baseline is None


def test_checkpoint_records_the_baseline_and_resuming_with_another_is_refused(tmp_path):
    from morphsynth.training.checkpoint import Progress, load_checkpoint, save_checkpoint
    from morphsynth.core.spectral import StftSettings

    net, *_ = _fitted_correction_cae()
    opt = torch.optim.AdamW(net.parameters())
    save_checkpoint(tmp_path, net, opt, Progress(), StftSettings())
    meta = json.loads((tmp_path / "state.json").read_text())
    assert meta["model_config"]["baseline"] == "pitch_mean"
    fresh = build_network("cae", CORRECTION)
    load_checkpoint(tmp_path, fresh, torch.optim.AdamW(fresh.parameters()), StftSettings())
    assert torch.equal(fresh.baseline.components, net.baseline.components)
    plain = build_network("cae", {**CORRECTION, "baseline": None, "pca_dims": None})
    with pytest.raises(MorphsynthError, match=r"model_config\.baseline is 'pitch_mean' in the checkpoint but None"):
        load_checkpoint(tmp_path, plain, torch.optim.AdamW(plain.parameters()), StftSettings())


def test_pca_dims_without_a_baseline_or_as_large_as_the_latent_is_refused():
    with pytest.raises(MorphsynthError, match="pca_dims: needs a baseline"):
        build_network("cae", {"latent_dim": 8, "pca_dims": 4})
    with pytest.raises(MorphsynthError, match="pca_dims: must lie in 1..latent_dim-1"):
        build_network("cae", {"latent_dim": 8, "baseline": "pitch_mean", "pca_dims": 8})
    with pytest.raises(MorphsynthError, match="baseline: must be one of pitch_mean"):
        build_network("cae", {"latent_dim": 8, "baseline": "pca"})


def test_smooth_pitch_features_barely_move_between_neighbouring_keys():
    from morphsynth.core.model import pitch_features, smooth_pitch_features

    keys = torch.arange(21, 109, dtype=torch.float32)
    vel = torch.full_like(keys, 100)
    step = (smooth_pitch_features(keys[1:], vel[1:]) - smooth_pitch_features(keys[:-1], vel[:-1])).abs().max()
    assert step < 0.1
    # The first models' fastest features (a 4-semitone period) swing by most of their range per key.
    legacy = (pitch_features(keys[1:], vel[1:]) - pitch_features(keys[:-1], vel[:-1])).abs().max()
    assert legacy > 0.7


def test_harmonic_template_is_exact_at_a_fractional_pitch():
    from morphsynth.core.model import harmonic_template, midi_to_hz

    pitch = torch.tensor([57.37])
    t = harmonic_template(pitch)[0, 0, :, 0]  # [512] natural log
    f0 = float(midi_to_hz(pitch)[0])
    bin_hz = 15.625
    for h in range(1, 12):
        k = h * f0 / bin_hz
        near = round(k)
        d = abs(near - k)
        assert t[near] == pytest.approx(float(torch.log(torch.sinc(torch.tensor(d)) / (1 - d * d))), abs=1e-4)
        between = round((h + 0.5) * f0 / bin_hz)
        assert t[between] == pytest.approx(torch.log(torch.tensor(0.01)).item(), abs=1e-4)  # the -40 dB floor
    assert t.max() <= 0.0


def test_a_source_filter_cae_round_trips_and_old_configs_stay_as_they_were(tmp_path):
    cfg = CaeConfig(latent_dim=4, width=2, max_channels=8, cond_dim=8, pitch_features="smooth", harmonic_output=True)
    torch.manual_seed(0)
    net = build_network("cae", cfg)
    save_synth_model(net, tmp_path / "m", name="sf")
    model = load_synth_model(tmp_path / "m")
    mag, pitch, vel = random_notes()
    z = model.encode(mag, pitch.float() + 0.3, vel)
    out = model.decode(z, pitch.float() + 0.3, vel)
    assert out.shape == mag.shape and torch.isfinite(out).all()
    assert model.net.config == cfg
    assert CaeConfig().pitch_features is None and CaeConfig().harmonic_output is None


@pytest.mark.parametrize("text, message", [
    ("model:\n  pitch_features: wiggly\n", "pitch_features: must be smooth or absent"),
    ("optim:\n  augment_eq_db: -1\n", "augment_eq_db: must be >= 0"),
    ("optim:\n  augment_warp_semitones: 20\n", "augment_warp_semitones: must lie in 0..12"),
    ("optim:\n  epoch_notes: 0\n", "epoch_notes: must be >= 1"),
    ("max_valid_notes: 1\n", "max_valid_notes: must be >= 2"),
])
def test_bad_values_of_the_generalisation_keys_are_refused_naming_the_key(tmp_path, text, message):
    from morphsynth.core.config import ConfigError

    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(p, TrainConfig)
