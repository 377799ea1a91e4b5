"""Data-parallel training under torchrun: a 2-process CPU (gloo) run of the shared trainer and of a whole sweep.

The test launches this file under ``torchrun``; its ``__main__`` block is what each of the two processes runs.
"""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from benchmark.core.paths import REPO_ROOT
from benchmark.training.trainer import Batch, OptimConfig, fit, image_views
from tests.toy_plugins import toy_data

DATA = toy_data()
LABELLED = np.flatnonzero(DATA.is_train & (DATA.labels < 2))[::2]
UNLABELLED = np.setdiff1d(np.flatnonzero(DATA.is_train), LABELLED)
GCD = ["epochs=1", "batch_size=16", "head_hidden_dim=32", "head_out_dim=64", "n_init=2"]
SEEN: list[int] = []  # images per step this process trained on


def _flat_views(uint8: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.cat([uint8, uint8]).flatten(1).float() / 255


def _mean_loss(network, batch: Batch):
    SEEN.append(len(batch.labels))
    return (network(batch.views) - 1.0).pow(2).mean(), {}


def train_linear(work_dir: Path) -> dict:
    """A mean-reduced loss on deterministic views: averaging shard gradients equals the one-process gradient."""
    torch.manual_seed(0)
    model = torch.nn.Linear(8 * 8 * 3, 2)
    fit(model, _mean_loss, image_views(DATA.images, torch.device("cpu"), _flat_views), LABELLED, DATA.labels[LABELLED],
        UNLABELLED,
        OptimConfig(2, 16, 0.005, 0.9, 1e-3, decay_1d=False), work_dir, seed=5, device=torch.device("cpu"),
        desc="linear")
    return model.state_dict()


def test_two_process_gloo_run_matches_one_process_and_records_the_world_size(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("GFACE_DATA_ROOT", None)
    proc = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             __file__, str(tmp_path)], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=300)
    finally:  # on a timeout, stop the workers too, not only torchrun
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stderr[-3000:]
    parallel = torch.load(tmp_path / "linear.pt", weights_only=True)
    single = train_linear(tmp_path / "single")
    assert set(parallel.pop("images_per_step").tolist()) == {8}  # each process trained on half of each batch
    for key in single:
        torch.testing.assert_close(parallel[key], single[key], rtol=1e-5, atol=1e-6)
    record = json.loads(next((tmp_path / "runs").glob("toy-cnn/gcd/*/record.json")).read_text())
    assert record["provenance"]["world_size"] == 2
    train = record["info"]["train"]
    per_epoch = (len(LABELLED) + len(UNLABELLED)) // 16
    assert (train["effective_batch_size"], train["batch_size_per_process"]) == (16, 8)
    assert train["iterations_per_epoch"] == per_epoch and train["epochs_run"] == 1
    assert not (next((tmp_path / "runs").glob("toy-cnn/gcd/*")) / "checkpoint.pt").exists()  # deleted once done


if __name__ == "__main__":
    from benchmark import distributed
    from benchmark.cli import main
    from tests.toy_plugins import register_toys

    register_toys()
    out = Path(sys.argv[1])
    distributed.init_from_env(torch.device("cpu"))
    state = train_linear(out / "linear")
    if distributed.is_main():
        torch.save({**state, "images_per_step": torch.tensor(SEEN)}, out / "linear.pt")
    overrides = [x for item in GCD for x in ("--set", f"gcd.{item}")]
    sys.exit(main(["--methods", "gcd", "--protocols", "toy-cnn", *overrides, "--device", "cpu", "--no-leaderboard",
                   "--runs-dir", str(out / "runs"), "--cache-dir", str(out / "cache")]))
