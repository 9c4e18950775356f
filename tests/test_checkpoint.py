"""Resumable training state: round trip, refusals, resume."""

import json

import pytest
import torch

from morphsynth.core.config import load_config
from morphsynth.core.errors import MorphsynthError
from morphsynth.training.checkpoint import Progress, load_checkpoint, save_checkpoint
from morphsynth.core.spectral import StftSettings
from morphsynth.core.synth_model import build_network
from morphsynth.training.train_config import TrainConfig

CFG = {"latent_dim": 8, "width": 4, "max_channels": 16, "cond_dim": 16}


def _trained_state():
    torch.manual_seed(0)
    net = build_network("cae", CFG)
    net.set_normalisation(torch.linspace(-7, -4, 513), 2.5)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    x = torch.randn(2, 513, 251)
    pitch, vel = torch.tensor([50, 60]), torch.tensor([100, 64])
    for _ in range(2):
        y, _ = net(x, pitch, vel)
        loss = (y - x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net, opt, (x, pitch, vel)


def test_checkpoint_saved_and_reloaded_decodes_identically_and_restores_optimizer(tmp_path):
    net, opt, (x, pitch, vel) = _trained_state()
    progress = Progress(step=2, epoch=1, best_valid=3.5, best_epoch=1, history=[{"epoch": 1, "valid/lsd_db": 3.5}])
    save_checkpoint(tmp_path, net, opt, progress, StftSettings())
    torch.manual_seed(123)
    fresh = build_network("cae", CFG)
    fresh_opt = torch.optim.AdamW(fresh.parameters(), lr=1e-3)
    restored = load_checkpoint(tmp_path, fresh, fresh_opt, StftSettings())
    assert restored == progress
    assert torch.equal(fresh.norm_mean, net.norm_mean) and float(fresh.norm_std) == float(net.norm_std)
    with torch.no_grad():
        assert torch.equal(fresh.decode(fresh.encode(x, pitch, vel), pitch, vel),
                           net.decode(net.encode(x, pitch, vel), pitch, vel))
    a, b = opt.state_dict(), fresh_opt.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for idx, st in a["state"].items():
        for k, v in st.items():
            assert torch.equal(torch.as_tensor(v), torch.as_tensor(b["state"][idx][k])), (idx, k)
    # The next optimiser step is the same in both.
    for n, o in ((net, opt), (fresh, fresh_opt)):
        y, _ = n(x, pitch, vel)
        o.zero_grad()
        (y - x).pow(2).mean().backward()
        o.step()
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), fresh.parameters()))


def test_corrupt_checkpoint_tensors_are_refused_with_a_clear_message(tmp_path):
    net, opt, _ = _trained_state()
    save_checkpoint(tmp_path, net, opt, Progress(), StftSettings())
    path = tmp_path / "state.safetensors"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(MorphsynthError, match="state.safetensors: contents do not match the sha256"):
        load_checkpoint(tmp_path, net, opt, StftSettings())


def test_damaged_checkpoint_json_is_refused(tmp_path):
    net, opt, _ = _trained_state()
    save_checkpoint(tmp_path, net, opt, Progress(), StftSettings())
    (tmp_path / "state.json").write_text('{"format": "morphsynth-checkpoint", ')
    with pytest.raises(MorphsynthError, match="state.json: not valid JSON"):
        load_checkpoint(tmp_path, net, opt, StftSettings())


def test_checkpoint_of_another_model_config_is_refused_naming_the_field(tmp_path):
    net, opt, _ = _trained_state()
    save_checkpoint(tmp_path, net, opt, Progress(), StftSettings())
    other = build_network("cae", dict(CFG, latent_dim=16))
    with pytest.raises(MorphsynthError, match=r"model_config.latent_dim is 8 in the checkpoint but 16 in the config"):
        load_checkpoint(tmp_path, other, torch.optim.AdamW(other.parameters()), StftSettings())
    with pytest.raises(MorphsynthError, match="stft"):
        load_checkpoint(tmp_path, net, opt, StftSettings(hop=128))
    meta = json.loads((tmp_path / "state.json").read_text())
    meta["format_version"] = 7
    (tmp_path / "state.json").write_text(json.dumps(meta))
    with pytest.raises(MorphsynthError, match="format_version 7 is not supported"):
        load_checkpoint(tmp_path, net, opt, StftSettings())


def test_resume_continues_from_the_saved_step_and_keeps_history(tiny_dataset, tmp_path):
    import dataclasses

    from morphsynth.training.nsynth import NSynthDataset
    from morphsynth.training.train import notes_from_dataset, train_run

    train = notes_from_dataset(NSynthDataset(tiny_dataset, "train"), max_notes=16)
    valid = notes_from_dataset(NSynthDataset(tiny_dataset, "valid"))
    cfg = load_config("configs/tiny.yaml", TrainConfig)
    one = dataclasses.replace(cfg, baselines=[], optim=dataclasses.replace(cfg.optim, max_epochs=1))
    quiet = dict(log=lambda m: None, progress_bar=False)
    first = train_run(one, train, valid, tmp_path, torch.device("cpu"), **quiet)
    assert first["epochs"] == 1 and first["steps"] == 2
    two = dataclasses.replace(one, optim=dataclasses.replace(one.optim, max_epochs=2))
    second = train_run(two, train, valid, tmp_path, torch.device("cpu"), resume=True, **quiet)
    assert second["epochs"] == 2 and second["steps"] == 4
    history = json.loads((tmp_path / "history.json").read_text())
    assert [(h["epoch"], h["step"]) for h in history] == [(1, 2), (2, 4)]
    bad = dataclasses.replace(two, model=dataclasses.replace(two.model, width=8))
    with pytest.raises(MorphsynthError, match="model_config.width"):
        train_run(bad, train, valid, tmp_path, torch.device("cpu"), resume=True, **quiet)
