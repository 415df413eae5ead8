"""What the distributed tests run on every process of `mpiexec -n N python distributed_worker.py SCENARIO OUT ...`.

Each scenario trains a small conv net (BatchNorm, Dropout, augmentation) and leaves what
the test checks in OUT: rank{r}.npz (the weights), rank{r}.json (history, stop reason,
predictions). `train(...)` also runs in one process, inside pytest, for the reference.
"""
import argparse
import json
import os
import signal
import sys

import numpy as np

import scratchcnn
from scratchcnn.distributed import DistributedError, connect
from scratchcnn import (BatchNorm, ConvLayer, Dense, Dropout, Flatten, Layer, MultiClassDense, Network, PoolingLayer,
                        losses)
from scratchcnn.augmentation import Augmentation
from scratchcnn.callbacks import Callback, CSVLogger, EarlyStopping, ReduceLROnPlateau, TerminateOnNaN

SAMPLES, VALIDATION, SIZE = 142, 30, 16  # training batches of 40, 40 and 32 rows
CCE = losses.get("categorical_crossentropy")


def network(extra=(), first=()):
    """(1, 16, 16) -> 3 classes: Conv-ReLU, BatchNorm, max pooling, Dropout, Dense, softmax (and `extra` layers)."""
    return Network([*first, ConvLayer(3, 1, 8, padding=1), BatchNorm(8), PoolingLayer(), Flatten(), Dropout(0.3),
                    Dense(8 * 8 * 8, 16), *extra, MultiClassDense(16, 3)])


def data(seed=0, samples=SAMPLES):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, samples)
    X = rng.random((samples, 1, SIZE, SIZE), dtype=np.float32)
    X[:, :, :4] += labels[:, None, None, None]  # something to learn
    return X, labels


def train(net, X, y, distributed, epochs=2, callbacks=(), **options):
    """The tests' training run: SGD, batches of 40 rows (the last of each epoch: 32), validation, augmentation."""
    options = {"log_file": None, "verbose": 0, "optimizer": "sgd", "batch_size": 40, **options}
    return net.train(X[:-VALIDATION], y[:-VALIDATION], epochs, 0.02, *CCE, val_X=X[-VALIDATION:], val_y=y[-VALIDATION:],
                     seed=3, augment=Augmentation(crop_padding=1, horizontal_flip=True),
                     callbacks=list(callbacks), distributed=distributed, **options)


def decisions():
    """Callbacks whose decisions must be the same on every process: the lr halves from the third epoch on, and
    training stops after the third of four."""
    return [ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=10.0),
            EarlyStopping(monitor="val_loss", patience=2, min_delta=10.0), TerminateOnNaN()]


class RanOn(Callback):
    """Writes ran-{all | zero-only}-on-{rank} in `folder` when training starts: which processes ran a callback."""

    def __init__(self, folder, rank, rank_zero_only):
        self.folder, self.rank, self.rank_zero_only = folder, rank, rank_zero_only

    def on_train_begin(self, logs=None):
        name = f"ran-{'zero-only' if self.rank_zero_only else 'all'}-on-{self.rank}"
        open(os.path.join(self.folder, name), "w").close()


class KillAt(Callback):
    """SIGKILL this process at (epoch, batch)."""

    def __init__(self, epoch, batch):
        self.epoch, self.batch, self.current = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_batch_end(self, batch, logs=None):
        if (self.current, batch) == (self.epoch, self.batch):
            os.kill(os.getpid(), signal.SIGKILL)


class FailAt(Layer):
    """The identity, except that its forward pass raises on process `rank` at its `step`-th training call."""

    def __init__(self, rank, step):
        self.rank, self.step, self.calls = rank, step, 0

    def forward(self, x, training=False):
        if training:
            self.calls += 1
            if self.calls == self.step and connect(True).rank == self.rank:
                raise ValueError(f"a failure inside a training step on process {self.rank}")
        return x

    def backward(self, grad_output):
        return grad_output

    def output_shape(self, input_shape):
        return tuple(input_shape)


class NaNRows(Layer):
    """The identity, except that rows holding a value over 500 come out NaN (in whichever process has them)."""

    def forward(self, x, training=False):
        out = x.copy()
        out[x.reshape(len(x), -1).max(axis=1) > 500] = np.nan
        return out

    def backward(self, grad_output):
        return grad_output

    def output_shape(self, input_shape):
        return tuple(input_shape)


def save(out, rank, net, history, **extra):
    np.savez(os.path.join(out, f"rank{rank}.npz"), *net.get_weights())
    with open(os.path.join(out, f"rank{rank}.json"), "w") as file:
        json.dump({"history": history.history if history is not None else None, **extra}, file)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario")
    parser.add_argument("out")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--kill", type=int, nargs=3, default=None, help="rank epoch batch")
    args = parser.parse_args()
    world = connect(True)
    rank, out = world.rank, args.out
    scratchcnn.set_num_threads(args.threads)
    X, y = data()
    net = network()
    if args.scenario == "same":  # training, its callbacks and writers, then predict and evaluate on every process
        writers = [RanOn(out, rank, True), RanOn(out, rank, False), CSVLogger(os.path.join(out, "log.csv"))]
        history = train(net, X, y, True, epochs=4, callbacks=decisions() + writers, verbose=2,
                        log_file=os.path.join(out, "train_log.txt"))
        predicted = [net.predict(X[:rows], distributed=True).tolist() for rows in (7, 2)]  # 2 rows: a process has none
        _, loss, accuracy = net.evaluate(X, y, CCE[0], distributed=True)
        bad = X[:9].copy()
        bad[8, 0, 0, 0] = np.nan  # in the last process's rows only
        try:
            net.predict(bad, distributed=True)
            nan_error = None
        except DistributedError as error:
            nan_error = str(error)
        save(out, rank, net, history, predicted=predicted, loss=loss, accuracy=accuracy, stop_reason=net.stop_reason,
             nan_error=nan_error)
    elif args.scenario == "threads":  # batches of 128: 64 rows a process, 32 a thread
        X, y = data(samples=256 + VALIDATION)
        history = train(net, X, y, True, batch_size=128)
        save(out, rank, net, history)
    elif args.scenario == "nan-rows":  # one row whose loss is NaN, on one process: every process rolls back alike
        X[5] = 1000
        net = network(first=[NaNRows()])
        history = train(net, X, y, True)
        save(out, rank, net, history, stop_reason=net.stop_reason)
    elif args.scenario == "nan-data":  # different data: NaN on process 1 only, caught at the edge there
        if rank == 1:
            X[3, 0, 0, 0] = np.nan
        train(net, X, y, True)
    elif args.scenario == "different-seed":
        net.train(X, y, 1, 0.01, *CCE, log_file=None, batch_size=30, seed=rank, verbose=0, distributed=True)
    elif args.scenario == "fail-in-step":
        train(network([FailAt(rank=1, step=3)]), X, y, True)
    elif args.scenario == "unwritable-checkpoint":
        blocker = os.path.join(out, "a-file")
        open(blocker, "w").close()
        train(net, X, y, True, checkpoint=os.path.join(blocker, "model.scratchcnn"))
    elif args.scenario == "resume":  # from the checkpoint when there is one; SIGKILL mid-run with --kill
        checkpoint = os.path.join(out, "checkpoint.model")
        initial = 0
        if os.path.exists(checkpoint):
            net = scratchcnn.load_model(checkpoint)
            initial = net.metadata["epochs_completed"]
        kill = [KillAt(*args.kill[1:])] if args.kill and args.kill[0] == rank else []
        history = train(net, X, y, True, epochs=4, callbacks=kill, checkpoint=checkpoint, initial_epoch=initial,
                        optimizer="adam")
        save(out, rank, net, history, initial_epoch=initial)
    else:
        sys.exit(f"unknown scenario {args.scenario}")


if __name__ == "__main__":
    main()
