"""Crashes and divergence: SIGKILL, Ctrl-C and NaN losses never cost more than the epoch in progress.

- SIGKILL mid-epoch: the checkpoint on disk is whole, and resuming from it with the same
  seed ends bit-identical to a run that was never interrupted (Adam's state included);
- Ctrl-C (KeyboardInterrupt) mid-epoch: train returns, keeping the last complete epoch;
- a NaN or inf loss: a RuntimeWarning naming epoch and batch, the last complete epoch
  kept, and no checkpoint ever holding NaN;
- the same seed twice gives bit-identical weights.
"""
import itertools
import os
import runpy
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

import scratchcnn
from scratchcnn import (BatchNorm, Callback, ConvLayer, Dense, Dropout, Flatten, ModelCheckpoint, MultiClassDense,
                        Network, PoolingLayer)
from scratchcnn.losses import categorical_crossentropy, categorical_crossentropy_derivative, mse_loss, mse_loss_derivative

# The training run shared by the killed subprocess and this process: 6 epochs of 12 batches.
TRAINING_SCRIPT = '''
import sys
import time

import numpy as np

from scratchcnn import Callback, ConvLayer, Flatten, MultiClassDense, Network, PoolingLayer
from scratchcnn.losses import categorical_crossentropy, categorical_crossentropy_derivative

EPOCHS, SEED, BATCH_SIZE, LEARNING_RATE = 6, 11, 4, 0.01
KILL_EPOCH, KILL_BATCH = 2, 5  # the third epoch, after two checkpoints


def make_data():
    rng = np.random.default_rng(123)
    y = rng.integers(0, 3, size=48)
    return rng.normal(size=(48, 1, 8, 8)).astype(np.float32) + y[:, None, None, None], y


def make_network():
    return Network([ConvLayer(3, 1, 4), PoolingLayer(2), Flatten(), MultiClassDense(36, 3)])


def train(network, checkpoint=None, initial_epoch=0, callbacks=()):
    X, y = make_data()
    return network.train(X, y, EPOCHS, LEARNING_RATE, categorical_crossentropy, categorical_crossentropy_derivative,
                         log_file=None, batch_size=BATCH_SIZE, optimizer="adam", seed=SEED, verbose=0,
                         checkpoint=checkpoint, initial_epoch=initial_epoch, callbacks=list(callbacks))


class WaitToBeKilled(Callback):
    """Reports each epoch's start; in KILL_EPOCH, after KILL_BATCH, says so and waits for SIGKILL."""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        print(f"epoch {epoch} begins", flush=True)

    def on_batch_end(self, batch, logs=None):
        if self.epoch == KILL_EPOCH and batch == KILL_BATCH:
            print("mid-epoch", flush=True)
            time.sleep(120)


if __name__ == "__main__":
    train(make_network(), checkpoint=sys.argv[1], callbacks=[WaitToBeKilled()])
    print("finished without being killed", flush=True)
'''


def same_arrays(first, second):
    return len(first) == len(second) and all(np.array_equal(a, b) for a, b in zip(first, second))


def optimizer_arrays(network):
    return [value for state in network.optimizer.state for _, value in sorted(state.items())]


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
def test_sigkill_mid_epoch_then_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    """The child reports each epoch's start (after the previous epoch's checkpoint is written), then waits mid-epoch."""
    script = tmp_path / "train_script.py"
    script.write_text(TRAINING_SCRIPT)
    checkpoint = tmp_path / "run.model"
    child = subprocess.Popen([sys.executable, str(script), str(checkpoint)], cwd=tmp_path, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    watchdog = threading.Timer(60, child.kill)  # a child that never reaches mid-epoch must not hang the test
    watchdog.start()
    lines = []
    try:
        for line in child.stdout:
            lines.append(line.strip())
            if lines[-1] == "mid-epoch":
                child.send_signal(signal.SIGKILL)
                break
    finally:
        watchdog.cancel()
        child.kill()
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert lines == ["epoch 0 begins", "epoch 1 begins", "epoch 2 begins", "mid-epoch"]
    assert sorted(os.listdir(tmp_path)) == ["run.model", "train_script.py"]  # no temporary files

    run = runpy.run_path(str(script))  # the same data, network and seed, in this process
    resumed = scratchcnn.load_model(str(checkpoint))
    assert resumed.metadata["epochs_completed"] == 2 and resumed.optimizer.iterations == 2 * 12
    run["train"](resumed, checkpoint=str(checkpoint), initial_epoch=resumed.metadata["epochs_completed"])
    uninterrupted = run["make_network"]()
    run["train"](uninterrupted)

    assert same_arrays(resumed.get_weights(), uninterrupted.get_weights())
    assert same_arrays(optimizer_arrays(resumed), optimizer_arrays(uninterrupted))
    final = scratchcnn.load_model(str(checkpoint))
    assert final.metadata["epochs_completed"] == 6 and same_arrays(final.get_weights(), uninterrupted.get_weights())
    assert sorted(os.listdir(tmp_path)) == ["run.model", "train_script.py"]


# -- Ctrl-C and NaN losses, in process ----------------------------------------------------
EPOCHS, SEED = 5, 3


def small_data():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, size=24)
    return rng.normal(size=(24, 1, 8, 8)).astype(np.float32) + y[:, None, None, None], y


def small_network():
    return Network([ConvLayer(3, 1, 3), PoolingLayer(2), Flatten(), MultiClassDense(27, 3)])


class EpochWeights(Callback):
    """Keeps the weights at the start of training and after every epoch; raises KeyboardInterrupt where asked."""

    def __init__(self, interrupt_at=None):
        self.interrupt_at, self.after = interrupt_at, {}

    def on_train_begin(self, logs=None):
        self.after[-1] = self.network.get_weights()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.interrupt_at:
            raise KeyboardInterrupt

    def on_epoch_end(self, epoch, logs=None):
        self.after[epoch] = self.network.get_weights()


def train_small(network, checkpoint=None, callbacks=(), loss=(categorical_crossentropy, categorical_crossentropy_derivative),
                initial_epoch=0):
    X, y = small_data()
    return network.train(X, y, EPOCHS, 0.01, *loss, log_file=None, batch_size=4, optimizer="adam", seed=SEED,
                         verbose=0, checkpoint=checkpoint, callbacks=list(callbacks), initial_epoch=initial_epoch)


def test_ctrl_c_mid_epoch_returns_the_history_and_keeps_the_last_complete_epoch(tmp_path):
    checkpoint = tmp_path / "ctrl-c.model"
    recorder = EpochWeights(interrupt_at=(2, 3))  # the third epoch, fourth batch
    network = small_network()
    with pytest.warns(RuntimeWarning, match="Interrupted during epoch 3"):
        history = train_small(network, checkpoint=str(checkpoint), callbacks=[recorder])
    assert history.epoch == [0, 1] and len(history.history["loss"]) == 2
    assert "Interrupted" in network.stop_reason and "epoch 3" in network.stop_reason
    assert same_arrays(network.get_weights(), recorder.after[1])
    saved = scratchcnn.load_model(str(checkpoint))  # the last good checkpoint, whole
    assert saved.metadata["epochs_completed"] == 2 and same_arrays(saved.get_weights(), recorder.after[1])
    assert network.optimizer.iterations == saved.optimizer.iterations == 12
    assert same_arrays(optimizer_arrays(network), optimizer_arrays(saved))
    assert sorted(os.listdir(tmp_path)) == ["ctrl-c.model"]

    train_small(network, initial_epoch=2)  # carrying on in process ends where an uninterrupted run does
    uninterrupted = small_network()
    train_small(uninterrupted)
    assert same_arrays(network.get_weights(), uninterrupted.get_weights())


def loss_turning(value, at_call):
    """Categorical cross-entropy that returns `value` on its `at_call`-th call (counting from 0)."""
    calls = itertools.count()

    def loss(y_true, y_pred):
        result = categorical_crossentropy(y_true, y_pred)
        return value if next(calls) == at_call else result
    return loss


@pytest.mark.parametrize("value", [np.nan, np.inf], ids=["nan", "inf"])
def test_a_non_finite_loss_stops_training_and_keeps_the_last_complete_epoch(tmp_path, value):
    checkpoint = tmp_path / "diverged.model"
    recorder = EpochWeights()
    every_epoch = ModelCheckpoint(str(tmp_path / "epoch-{epoch:02d}.model"))
    network = small_network()
    loss = (loss_turning(value, at_call=2 * 6 + 4), categorical_crossentropy_derivative)  # 6 batches an epoch
    with pytest.warns(RuntimeWarning, match=rf"loss became {value} at epoch 3, batch 5") as caught:
        history = train_small(network, checkpoint=str(checkpoint), callbacks=[recorder, every_epoch], loss=loss)
    assert len(caught) == 1 and history.epoch == [0, 1]
    assert "epoch 3, batch 5" in network.stop_reason
    weights = network.get_weights()
    assert all(np.all(np.isfinite(w)) for w in weights) and same_arrays(weights, recorder.after[1])
    saved = scratchcnn.load_model(str(checkpoint))  # loading refuses NaN, so this checkpoint holds none
    assert saved.metadata["epochs_completed"] == 2 and same_arrays(saved.get_weights(), recorder.after[1])
    assert sorted(os.listdir(tmp_path)) == ["diverged.model", "epoch-01.model", "epoch-02.model"]
    for epoch in (1, 2):
        kept = scratchcnn.load_model(str(tmp_path / f"epoch-{epoch:02d}.model"))
        assert same_arrays(kept.get_weights(), recorder.after[epoch - 1])


def regression_data(count):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(count, 4)).astype(np.float32) * 100
    return X, X.sum(axis=1, keepdims=True)


def regressor():
    return Network([Dense(4, 8, activation="linear"), Dense(8, 1, activation="linear")])


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_huge_learning_rate_diverges_mid_epoch_and_is_caught(tmp_path):
    """SGD at lr=1e6 on MSE: the loss overflows within the first epoch; the initial weights come back."""
    X, y = regression_data(32)
    recorder, checkpoint = EpochWeights(), tmp_path / "huge-lr.model"
    network = regressor()
    with pytest.warns(RuntimeWarning, match=r"loss became (nan|inf) at epoch 1, batch \d+"):
        history = network.train(X, y, 3, 1e6, mse_loss, mse_loss_derivative, log_file=None, batch_size=4, seed=0,
                                verbose=0, checkpoint=str(checkpoint), callbacks=[recorder])
    assert history.epoch == [] and "epoch 1" in network.stop_reason
    assert same_arrays(network.get_weights(), recorder.after[-1])
    assert not checkpoint.exists()  # no epoch completed, so nothing was saved


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_weights_that_overflow_on_the_last_step_of_an_epoch_are_never_kept_or_saved(tmp_path):
    """One batch an epoch and lr=1e39: the first step's loss is finite, its update overflows every weight to inf."""
    X, y = regression_data(8)
    recorder, checkpoint = EpochWeights(), tmp_path / "overflow.model"
    network = regressor()
    with pytest.warns(RuntimeWarning, match="epoch 1"):
        network.train(X, y, 3, 1e39, mse_loss, mse_loss_derivative, log_file=None, batch_size=8, seed=0, verbose=0,
                      checkpoint=str(checkpoint), callbacks=[recorder])
    assert all(np.all(np.isfinite(w)) for w in network.get_weights())
    assert same_arrays(network.get_weights(), recorder.after[-1])
    assert not checkpoint.exists() or scratchcnn.load_model(str(checkpoint))


# -- determinism -----------------------------------------------------------------------------
def regularised_network():
    """Dropout and BatchNorm draw on the seed too; shuffling and Adam make the order of steps matter."""
    return Network([ConvLayer(3, 1, 4), BatchNorm(4), PoolingLayer(2), Flatten(), Dropout(0.3), Dense(36, 16),
                    MultiClassDense(16, 3)])


def test_the_same_seed_gives_bit_identical_weights():
    X, y = small_data()

    def trained(seed):
        network = regularised_network()
        network.train(X, y, 3, 0.01, categorical_crossentropy, categorical_crossentropy_derivative, log_file=None,
                      batch_size=4, optimizer="adam", seed=seed, verbose=0)
        return network.get_weights()
    first, second, other = trained(21), trained(21), trained(22)
    assert same_arrays(first, second)
    assert not same_arrays(first, other)
