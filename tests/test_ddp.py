"""DistributedDataParallel: two CPU processes (gloo) launched by torchrun through the CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_two_gloo_processes_train_and_keep_identical_replicas(tiny_dataset, tmp_path):
    cfg = tmp_path / "ddp.yaml"
    cfg.write_text((REPO / "configs" / "tiny.yaml").read_text().replace("baselines: [pca, shallow_ae]", "baselines: []")
                   .replace("max_epochs: 2", "max_epochs: 1"))
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "morphsynth", "train", "--config", str(cfg), "--data", str(tiny_dataset), "--out", str(out),
           "--device", "cpu", "--no-progress"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["world_size"] == 2
    checks = summary["replica_checksums"]
    assert len(checks) == 2 and checks[0] == checks[1]
    # 32 train notes, batch 8, two ranks: each rank takes 16 notes = 2 steps per epoch.
    assert summary["steps"] == 2
    # Only rank 0 logs: each epoch line appears once.
    assert proc.stdout.count("cae epoch 1:") == 1
    assert (out / "model.json").is_file() and (out / "checkpoint" / "state.json").is_file()
