"""`mpiexec -n N scratchcnn train NAME --distributed`, and distributed training without mpi4py."""
import json
import sys

import numpy as np
import pytest

from mpi_helpers import run_mpi
from scratchcnn import Dense, MultiClassDense, Network, losses

pytestmark = pytest.mark.slow  # MPI jobs in subprocesses


def test_a_distributed_experiment_writes_its_files_once_from_process_zero(tmp_path):
    out = tmp_path / "run"
    job = run_mpi(2, "-m", "scratchcnn", "train", "mnist", "--limit", "128", "--epochs", "1", "--batch-size", "64",
                  "--distributed", "--verbose", "2", "--out", str(out), timeout=120)
    assert job.returncode == 0, job.stderr
    assert job.stdout.count("Epoch 1/1") == 1 and job.stdout.count("Test accuracy") == 1
    results = json.loads((out / "results.json").read_text())
    assert results["epochs"] == 1 and results["test_samples"] == 128
    assert (out / "mnist.model").exists() and len((out / "train_log.txt").read_text().splitlines()) == 2


def test_a_batch_too_small_to_share_is_an_error_on_every_process(tmp_path):
    job = run_mpi(3, "-m", "scratchcnn", "train", "xor", "--epochs", "1", "--distributed", "--out", str(tmp_path),
                  timeout=60)
    assert job.returncode != 0
    assert "every batch needs at least one row per process" in job.stderr


def test_distributed_training_without_mpi4py_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now raises ImportError
    network = Network([Dense(2, 3), MultiClassDense(3, 2)])
    X, y = np.zeros((4, 2), dtype=np.float32), np.array([0, 1, 0, 1])
    with pytest.raises(ImportError, match=r'pip install "scratchcnn\[distributed\]"'):
        network.train(X, y, 1, 0.1, *losses.get("categorical_crossentropy"), log_file=None, distributed=True)
    with pytest.raises(ImportError, match="mpi4py"):
        network.predict(X, distributed=True)
