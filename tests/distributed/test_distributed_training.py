"""network.train(..., distributed=True) under mpiexec: the same training as one process, one writer, no hangs."""
import json
import os
import time

import numpy as np
import pytest

import distributed_worker as worker
from mpi_helpers import run_worker
from scratchcnn import parallel

pytestmark = pytest.mark.slow  # MPI jobs in subprocesses


def outcome(out, rank):
    """(weights, the rest of what the worker saved) of process `rank`."""
    with np.load(os.path.join(out, f"rank{rank}.npz")) as arrays:
        weights = [arrays[f"arr_{index}"] for index in range(len(arrays.files))]
    with open(os.path.join(out, f"rank{rank}.json")) as file:
        return weights, json.load(file)


def one_process(threads, scenario="same"):
    """The worker's training run in this process, on `threads` threads: (network, history)."""
    before = parallel.chosen_num_threads()
    parallel.set_num_threads(threads)
    try:
        X, y = worker.data()
        net = worker.network()
        if scenario == "nan-rows":
            X[5] = 1000
            net = worker.network(first=[worker.NaNRows()])
        callbacks = worker.decisions() if scenario == "same" else []
        history = worker.train(net, X, y, False, epochs=4 if scenario == "same" else 2, callbacks=callbacks)
        return net, history, X, y
    finally:
        parallel.set_num_threads(before)


def relative_difference(weights, expected):
    """|weights - expected| / |expected|, over every parameter and buffer as one vector.

    (Array by array, the convolution's bias differs up to 3e-4 relatively, as much as one
    process on one thread against two: BatchNorm after it nearly cancels its gradient,
    a small difference of large sums.)
    """
    flat = [np.concatenate([array.ravel() for array in arrays]).astype(np.float64) for arrays in (weights, expected)]
    return np.linalg.norm(flat[0] - flat[1]) / np.linalg.norm(flat[1])


def assert_close_history(history, expected, rtol):
    assert sorted(history) == sorted(expected)
    for key in expected:
        np.testing.assert_allclose(history[key], expected[key], rtol=rtol, err_msg=key)


def test_two_processes_train_exactly_as_one_process_on_two_threads(tmp_path):
    job = run_worker(2, "same", tmp_path)
    assert job.returncode == 0, job.stderr
    net, history, X, y = one_process(threads=2)  # its threads take the rows the two processes take
    for rank in (0, 1):
        weights, saved = outcome(tmp_path, rank)
        assert all(np.array_equal(mine, theirs) for mine, theirs in zip(weights, net.get_weights()))
        assert_close_history(saved["history"], history.history, rtol=1e-6)  # the loss sums ride in float32
        assert saved["history"]["lr"] == [0.02, 0.02, 0.01]  # ReduceLROnPlateau and EarlyStopping decided alike
        assert saved["stop_reason"] == net.stop_reason == "A callback stopped training after epoch 3."
        for predicted, rows in zip(saved["predicted"], (7, 2)):
            np.testing.assert_allclose(predicted, net.predict(X[:rows]), rtol=1e-5, atol=1e-7)
        _, loss, accuracy = net.evaluate(X, y, worker.CCE[0])
        assert saved["loss"] == pytest.approx(loss, rel=1e-6) and saved["accuracy"] == accuracy
        assert "failed on 1 of 2 processes -- process 1: ValueError: Received NaN or inf in X" in saved["nan_error"]


def test_only_process_zero_writes_the_log_csv_and_progress(tmp_path):
    job = run_worker(2, "same", tmp_path)
    assert job.returncode == 0, job.stderr
    assert [line.split(" - ")[0] for line in job.stdout.splitlines()] == ["Epoch 1/4", "Epoch 2/4", "Epoch 3/4"]
    assert sorted(name for name in os.listdir(tmp_path) if name.startswith("ran-")) == [
        "ran-all-on-0", "ran-all-on-1", "ran-zero-only-on-0"]
    with open(tmp_path / "train_log.txt") as file:
        assert len(file.read().splitlines()) == 4  # three epochs and the total time, once
    with open(tmp_path / "log.csv") as file:
        assert len(file.read().splitlines()) == 4


def test_three_processes_with_uneven_rows_train_as_one_process(tmp_path):
    job = run_worker(3, "same", tmp_path)  # 40 rows as 13, 13, 14 and 32 as 10, 11, 11
    assert job.returncode == 0, job.stderr
    net, history, X, _ = one_process(threads=1)
    expected = net.get_weights()
    for rank in range(3):
        weights, saved = outcome(tmp_path, rank)
        assert relative_difference(weights, expected) < 1e-5
        assert_close_history(saved["history"], history.history, rtol=1e-5)
        np.testing.assert_allclose(saved["predicted"][0], net.predict(X[:7]), rtol=1e-4, atol=1e-6)
    assert all(np.array_equal(a, b) for a, b in zip(outcome(tmp_path, 0)[0], outcome(tmp_path, 2)[0]))


def test_processes_split_their_rows_over_their_threads(tmp_path):
    job = run_worker(2, "threads", tmp_path, "--threads", "2")
    assert job.returncode == 0, job.stderr
    before = parallel.chosen_num_threads()
    parallel.set_num_threads(4)  # the same four shards of 32 rows, summed in another order
    try:
        X, y = worker.data(samples=256 + worker.VALIDATION)
        net = worker.network()
        history = worker.train(net, X, y, False, batch_size=128)
    finally:
        parallel.set_num_threads(before)
    weights, saved = outcome(tmp_path, 1)
    assert relative_difference(weights, net.get_weights()) < 1e-6
    assert_close_history(saved["history"], history.history, rtol=1e-6)


def test_a_nan_loss_in_one_process_rows_rolls_every_process_back_alike(tmp_path):
    job = run_worker(2, "nan-rows", tmp_path)
    assert job.returncode == 0, job.stderr
    with pytest.warns(RuntimeWarning, match="The loss became nan"):
        net, _, _, _ = one_process(threads=1, scenario="nan-rows")
    for rank in (0, 1):
        weights, saved = outcome(tmp_path, rank)
        assert saved["stop_reason"] == net.stop_reason and "The loss became nan" in saved["stop_reason"]
        assert all(np.array_equal(mine, theirs) for mine, theirs in zip(weights, net.get_weights()))


@pytest.mark.parametrize("scenario, message", [
    ("nan-data", "Received NaN or inf in X"),                               # raised on process 1 alone
    ("fail-in-step", "a failure inside a training step on process 1"),      # process 0 waits in a collective
    ("unwritable-checkpoint", "process 0: NotADirectoryError"),             # only process 0 writes
    ("different-seed", "differ in settings"),
])
def test_an_error_on_one_process_ends_every_process_within_seconds(tmp_path, scenario, message):
    start = time.perf_counter()
    job = run_worker(2, scenario, tmp_path, timeout=60)
    assert job.returncode != 0
    assert message in job.stderr
    assert time.perf_counter() - start < 30


def test_a_killed_job_resumes_from_its_checkpoint_bit_identically(tmp_path):
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    killed.mkdir(), whole.mkdir()
    job = run_worker(2, "resume", killed, "--kill", "0", "2", "1")  # process 0, the writer, mid-epoch 3
    assert job.returncode != 0 and "signal 9" in job.stderr
    assert os.listdir(killed) == ["checkpoint.model"]  # complete (saved atomically), no partial file beside it
    resumed = run_worker(2, "resume", killed)
    uninterrupted = run_worker(2, "resume", whole)
    assert resumed.returncode == 0 and uninterrupted.returncode == 0, resumed.stderr + uninterrupted.stderr
    for rank in (0, 1):
        weights, saved = outcome(killed, rank)
        expected, reference = outcome(whole, rank)
        assert saved["initial_epoch"] == 2 and reference["initial_epoch"] == 0
        assert all(np.array_equal(mine, theirs) for mine, theirs in zip(weights, expected))
        assert saved["history"]["loss"] == reference["history"]["loss"][2:]
