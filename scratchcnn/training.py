"""Training: the epoch loop, and the step it repeats -- forward, loss, backward, optimizer.step.

`Network.train` checks its arguments, then calls `fit`. Read this file top to bottom:
`fit` runs the epochs, `run_epoch` the batches, `train_step` one step. How a step's rows
are spread over the threads is the engine's business (engine/threads.py): `train_step`
hands it the work for some rows, and on one thread those rows are the whole batch.
"""
import math
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from . import parallel
from .augmentation import Augmentation
from .callbacks import Callback, History, LogFile, ModelCheckpoint, ProgressBar, check_monitors
from .layers.base import BuiltinLayer
from .layers.regularization import Dropout
from .layers.residual import Residual


@dataclass
class Settings:
    """What a training run was asked for (Network.train checks each value)."""

    epochs: int
    batch_size: int = 1
    shuffle: bool = True
    seed: int = 0
    augment: Optional[Callable] = None  # augment(x_batch, rng) -> x_batch
    initial_epoch: int = 0
    metrics: tuple = ()                  # scratchcnn.metrics.Metric objects, reported beside the loss
    distributed: object = None           # the World of an MPI job whose processes share each batch (distributed/)


class NonFiniteLoss(Exception):
    def __init__(self, loss, batch=None):
        super().__init__(f"loss {loss} at batch {batch}")
        self.loss, self.batch = loss, batch


def fit(network, data, validation, loss, settings, callbacks, shards):
    """Train `network` on `data` (Arrays or Source) for settings.epochs epochs; `callbacks` (History first) see
    every batch and epoch; `validation` (None, or what network.evaluate takes as X and y) is scored each epoch.
    Each epoch's logs hold its figures, the lr, and `elapsed`: the seconds since training began."""
    network.stop_training, network.stop_reason, network.trained = False, None, True
    for callback in callbacks:
        callback.on_train_begin({})
    start = time.perf_counter()
    try:
        for epoch in range(settings.initial_epoch, settings.epochs):
            for callback in callbacks:
                callback.on_epoch_begin(epoch, {})
            # A NaN loss or Ctrl-C puts back the last epoch's weights (in a distributed run, Ctrl-C ends the job).
            with Rollback(network, epoch, interruptible=settings.distributed is None) as rollback:
                logs = run_epoch(network, data, loss, settings, epoch, callbacks, shards)
            if rollback.stopped:
                break
            if validation is not None:
                scores = network.evaluate(*validation, loss.fn, metrics=settings.metrics, return_dict=True,
                                          distributed=settings.distributed)
                logs.update({f"val_{name}": value for name, value in scores.items()})
            logs["lr"] = network.optimizer.lr
            logs["elapsed"] = time.perf_counter() - start  # seconds since training began, validation included
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)
            if network.stop_training:
                network.stop_reason = network.stop_reason or f"A callback stopped training after epoch {epoch + 1}."
                break
    finally:
        for callback in callbacks:
            callback.on_train_end({})
        data.close()
    return callbacks[0]


def run_epoch(network, data, loss, settings, epoch, callbacks, shards):
    """One pass over the data, shuffled by (seed, epoch) so a resumed run draws exactly alike; the epoch's logs."""
    for index, layer in enumerate(network.layers):  # dropout masks drawn from (seed, epoch, layer)
        if isinstance(layer, Dropout):
            layer.rng = np.random.default_rng([settings.seed, epoch, index + 1])
        for inner, dropout in enumerate(inner_dropouts(layer)):  # inside a Residual: (seed, epoch, layer, k)
            dropout.rng = np.random.default_rng([settings.seed, epoch, index + 1, inner + 1])
    totals, seen, logs = dict.fromkeys(["loss", *(metric.name for metric in settings.metrics)], 0.0), 0, {}
    for batch_index, batch in enumerate(data.batches(settings, epoch, shards.share)):
        try:
            batch_loss, batch_totals = train_step(batch, loss, network.optimizer, shards, settings.metrics)
        except NonFiniteLoss as error:
            raise NonFiniteLoss(error.loss, batch_index) from None
        totals["loss"] += batch_loss * batch.size
        for name, value in batch_totals.items():
            totals[name] += value
        seen += batch.size
        logs = {name: value / seen for name, value in totals.items()}
        for callback in callbacks:
            callback.on_batch_end(batch_index, logs)
        if network.stop_training:  # a callback (e.g. TerminateOnNaN) asked to stop after this batch
            break
    data.on_epoch_end()
    return logs


def train_step(batch, loss, optimizer, shards, metrics=()):
    """One optimisation step on `batch`: forward -> loss -> backward, then optimizer.step().
    -> (the batch's loss, {metric name: its sum over the batch's rows})."""
    def forward_loss_backward(passes, start, stop):  # rows start:stop of the batch (on one thread: all of them)
        x, y = batch.inputs(start, stop), batch.targets(start, stop)
        out = passes.forward(x, training=True)                                     # (rows, K)
        passes.backward(loss.gradient(y, out, batch.size), from_logits=loss.from_logits)
        return loss.value(y, out), stop - start, [metric.total(y, out) for metric in metrics]

    parts = shards.run(batch.size, shards.bounds(batch.size, batch.sample_size), forward_loss_backward)
    if len(parts) == 1:
        batch_loss = parts[0][0]
    else:  # each part is a mean over its rows: the batch's loss is their mean weighted by the rows
        batch_loss = math.fsum(part * rows for part, rows, _ in parts) / batch.size
    if not math.isfinite(batch_loss):
        raise NonFiniteLoss(batch_loss)  # no update: the epoch is rolled back
    optimizer.step()
    return batch_loss, {metric.name: sum(part[2][i] for part in parts) for i, metric in enumerate(metrics)}


class Arrays:
    """Training data held in memory: X (N, *input_shape) and targets y (N, K), batched in a shuffled order."""

    def __init__(self, X, y):
        self.X, self.y = X, y
        self.sample_shape = X.shape[1:]

    def batches(self, settings, epoch, share=None):
        """The epoch's Batches; share(batch_size) -> (start, stop), the rows this process computes (distributed)."""
        rng = np.random.default_rng([settings.seed, epoch])
        order = rng.permutation(len(self.X)) if settings.shuffle else np.arange(len(self.X))
        augment_rng = np.random.default_rng([settings.seed, epoch, 0]) if settings.augment is not None else None
        for start in range(0, len(order), settings.batch_size):
            rows = order[start:start + settings.batch_size]
            yield Batch(self.X, self.y, rows, settings.augment, augment_rng, None if share is None else share(len(rows)))

    def steps(self, batch_size):
        return -(-len(self.X) // batch_size)

    def on_epoch_end(self):
        pass

    def close(self):
        pass


class Source:
    """Training data from a batch source (Keras's PyDataset): `len(source)` batches, `source[i] -> (X_batch,
    y_batch)`, each checked by `prepare(X_batch, y_batch) -> (X, y)`; `source.on_epoch_end()`, if it has one,
    runs after every epoch (to reshuffle). The source's own order is kept: it batches and shuffles itself."""

    def __init__(self, source, prepare):
        self.source, self.prepare = source, prepare
        first_x, _ = prepare(*batch_pair(source[0]))
        self.sample_shape = first_x.shape[1:]

    def batches(self, settings, epoch, share=None):
        if callable(getattr(self.source, "set_epoch", None)):  # a resumed run then reads the same order
            self.source.set_epoch(epoch)
        augment_rng = np.random.default_rng([settings.seed, epoch, 0]) if settings.augment is not None else None
        for index in range(len(self.source)):
            X, y = self.prepare(*batch_pair(self.source[index]))
            yield Batch(X, y, np.arange(len(X)), settings.augment, augment_rng, None if share is None else share(len(X)))

    def steps(self, batch_size):
        return len(self.source)

    def on_epoch_end(self):
        if not callable(getattr(self.source, "set_epoch", None)) and callable(getattr(self.source, "on_epoch_end", None)):
            self.source.on_epoch_end()

    def close(self):
        if callable(getattr(self.source, "close", None)):  # e.g. stop a prefetch thread
            self.source.close()


def batch_pair(batch):
    """A batch source's item as (X_batch, y_batch), or a ValueError saying what it returned."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError(f"Received a batch source item of type {type(batch).__name__}, expected a pair "
                         "(X_batch, y_batch).")
    return batch[0], batch[1]


def is_batch_source(data):
    """Whether `data` is a batch source (has __len__ and __getitem__, and is not an array or a list of samples)."""
    return (hasattr(data, "__len__") and hasattr(data, "__getitem__") and not hasattr(data, "shape")
            and not isinstance(data, (list, tuple)))


class Batch:
    """The samples X[rows] and targets y[rows] of one step; augmented as a whole first when the run augments.

    Each thread gathers its own rows of X (`inputs(start, stop)`): a gather is a copy, and
    two threads copy in half the time. `share` (start, stop) is the part of the batch this
    process computes (a distributed run; else all of it): an Augmentation augments only
    those rows, with the whole batch's random draws; another augment function, the whole batch.
    """

    def __init__(self, X, y, rows, augment=None, rng=None, share=None):
        self.X, self.y, self.rows = X, y, rows
        self.size, self.sample_size = len(rows), X[0].size
        first, last = share if share is not None else (0, len(rows))
        self.augmented, self.first = None, 0
        if isinstance(augment, Augmentation):
            self.augmented, self.first = augment(X[rows[first:last]], rng, part=(first, len(rows))), first
        elif augment is not None:
            self.augmented = augment(X[rows], rng)

    def inputs(self, start, stop):
        if self.augmented is not None:
            return self.augmented[start - self.first:stop - self.first]
        return self.X[self.rows[start:stop]]

    def targets(self, start, stop):
        return self.y[self.rows[start:stop]]


class Rollback:
    """`with Rollback(network, epoch)`: if the epoch ends in a NaN or inf loss, NaN or inf weights, or Ctrl-C,
    put back the weights and optimiser state it started with, warn why (network.stop_reason) and set `stopped`.
    Not interruptible (a distributed run), Ctrl-C reaches the caller: the other processes did not stop with this one."""

    def __init__(self, network, epoch, interruptible=True):
        self.network, self.epoch, self.stopped, self.interruptible = network, epoch, False, interruptible

    def __enter__(self):
        self.weights = self.network.get_weights()
        optimizer = self.network.optimizer
        self.optimizer_state = (optimizer.iterations, [{key: value.copy() for key, value in state.items()}
                                                        for state in optimizer.state])
        return self

    def __exit__(self, kind, error, traceback):
        epoch = self.epoch + 1
        if kind is None:
            if all(np.all(np.isfinite(param.value)) for param in self.network.parameters()):
                return False
            reason = (f"The weights became NaN or inf during epoch {epoch}; training stopped and the weights of the "
                      f"last complete epoch ({epoch - 1}) were kept.")  # the last step overflowed them
        elif issubclass(kind, NonFiniteLoss):
            reason = (f"The loss became {error.loss} at epoch {epoch}, batch {error.batch + 1}; training stopped and "
                      f"the weights of the last complete epoch ({epoch - 1}) were kept.")
        elif issubclass(kind, KeyboardInterrupt) and self.interruptible:
            reason = f"Interrupted during epoch {epoch}; the weights of the last complete epoch were kept."
        else:
            return False  # any other error reaches the caller as it is
        self.network.set_weights(self.weights)
        self.network.optimizer.iterations, self.network.optimizer.state = self.optimizer_state
        self.network.stop_reason, self.stopped = reason, True
        warnings.warn(reason, RuntimeWarning, stacklevel=4)
        return True


def make_callbacks(network, callbacks, verbose, log_file, checkpoint, epochs, steps, initial_epoch, has_validation):
    """History first, then the user's callbacks, the checkpoint, the progress display and the log file; a callback
    watching a val_* figure without validation data is warned about now, and then does nothing."""
    hooks = [History(), *(callbacks or [])]
    if checkpoint is not None:
        hooks.append(ModelCheckpoint(checkpoint))
    if verbose:
        hooks.append(ProgressBar(epochs, steps, verbose))
    if log_file is not None:
        hooks.append(LogFile(log_file, epochs, append=initial_epoch > 0))
    for hook in hooks:
        if not isinstance(hook, Callback):
            raise TypeError(f"callbacks must be scratchcnn Callback objects. Received: {type(hook).__name__}")
        hook.set_network(network)
    check_monitors(hooks, has_validation)
    return hooks


def thread_count(network, loss, batch_size):
    """Threads a training step is split over: one on the reference engine, for a user's layer or loss function
    (which may not be safe to run on replicas, or not a mean over samples), and for batches too small to share."""
    if network.engine != "fast" or not loss.splits or not all(isinstance(l, BuiltinLayer) for l in network.layers):
        return 1
    return parallel.get_num_threads() if batch_size >= 2 * parallel.MIN_SHARD_SAMPLES else 1


def inner_dropouts(layer):
    """The Dropout layers inside a Residual block (inside nested blocks too), in order."""
    if not isinstance(layer, Residual):
        return []
    found: list[Dropout] = []
    for sequence in layer.sequences().values():
        for inner in sequence:
            found += [inner] if isinstance(inner, Dropout) else inner_dropouts(inner)
    return found
