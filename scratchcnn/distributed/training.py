"""Data-parallel training on the processes of an MPI job: the same training as one process, its rows split.

Every process runs the same script with the same arguments and data. Each step's batch
of B rows (the global batch) is drawn, shuffled and augmented alike on every process;
process r of P takes rows [B*r//P, B*(r+1)//P) of it and splits them over its threads
(engine/threads.py). Each row's loss gradient is divided by B, so after one sum over
the processes of every parameter gradient (packed in one flat buffer, one all-reduce a
step) each process holds the whole batch's gradient and takes the same optimiser step:
the parameters stay identical, which a checksum confirms after every epoch. BatchNorm
sums its statistics over the threads, then over the processes (SyncBatchNorm); Dropout's
noise is drawn for the whole batch on every process, which takes its rows.

The loss and accuracy in the logs are the whole batch's (their sums ride in the same
all-reduce), so callbacks see the same figures and decide alike everywhere. Those that
write (the log file, progress bar, CSV, checkpoints) run on process 0 only.
"""
import dataclasses
import math
import time

import numpy as np

from .. import parallel, training
from ..callbacks import Callback, CSVLogger, LogFile, ModelCheckpoint, ProgressBar
from .world import DistributedError, checksum

WRITERS = (LogFile, ProgressBar, CSVLogger, ModelCheckpoint)


def fit(world, network, data, validation, loss, settings, callbacks):
    """training.fit on every process of `world`, each on its rows of every batch; returns the History.

    `callbacks` is make_callbacks's list (History first). An error on one process that the
    processes did not meet over ends the job (world.abort), so none is left waiting.
    The History's `gradient_allreduce` says how many steps summed how many bytes in how many seconds.
    """
    if not isinstance(data, training.Arrays):
        raise ValueError("Distributed training takes the data as arrays X and y (every process holds them all), "
                         "not a batch source.")
    X, y = data.X, data.y
    with parallel.limited_threads(world.threads):
        plan = network._plan(X.shape[1:], "train", thread_count(world, network, loss, settings.batch_size))
        shards = DistributedShards(world, plan, len(settings.metrics))
        group = RankCallbacks(world, network, callbacks[1:])
        settings = dataclasses.replace(settings, distributed=world)
        try:
            with world.agree("Checking the batches"):
                check_batches(world, len(X), settings.batch_size)
            world.check_same("Before training", fingerprint(network, X, y, validation, settings))
            history = training.fit(network, data, validation, loss, settings, [callbacks[0], group], shards)
            with world.agree("Ending the training"):
                group.raise_end_error()
            history.gradient_allreduce = {"steps": shards.steps, "seconds": shards.seconds,
                                          "bytes": shards.buffer.nbytes}
            return history
        except DistributedError:
            raise  # raised on every process together: nobody waits
        except BaseException as error:
            world.abort(error)
        finally:
            shards.close()


def thread_count(world, network, loss, batch_size):
    """Threads for this process's rows of a batch (training.thread_count for the smallest process's share)."""
    return training.thread_count(network, loss, batch_size // world.size)


def check_batches(world, samples, batch_size):
    """ValueError unless every batch of the epoch has at least one row for every process."""
    last = samples % batch_size or batch_size
    if min(batch_size, last) < world.size:
        raise ValueError(f"Received batch_size={batch_size} for {samples} samples on {world.size} processes: every "
                         f"batch needs at least one row per process, and the epoch's last batch has {last}. Expected "
                         f"a batch_size (and a remainder {samples} % batch_size, unless 0) of at least {world.size}.")


def fingerprint(network, X, y, validation, settings):
    """What must be the same on every process before training: settings, data, weights, optimiser state."""
    augment = settings.augment
    return {
        "settings (epochs, batch_size, shuffle, seed, initial_epoch)":
            (settings.epochs, settings.batch_size, settings.shuffle, settings.seed, settings.initial_epoch),
        "augment": None if augment is None else getattr(augment, "__qualname__", None) or repr(augment),
        "layers": [repr(layer) for layer in network.layers],
        "training data (X, y)": (X.shape, checksum([X, y])),
        "validation data": None if validation is None else checksum(validation),
        "weights and optimiser state": weights_checksum(network),
    }


def weights_checksum(network):
    """A checksum of every parameter, buffer and optimiser state array, with the optimiser's step count and lr."""
    optimizer = network.optimizer
    states = [state[key] for state in optimizer.state for key in sorted(state)]
    return checksum([*network.get_weights(), *states, np.array([optimizer.iterations, optimizer.lr])])


class DistributedShards:
    """This process's rows of every batch, run on its threads (a TrainingShards), then the gradient sum over all.

    `bounds` and `run` are TrainingShards's, so training.train_step runs unchanged: `run`
    returns one part, the whole batch's (mean loss, rows, [each metric's sum over the rows]).
    """

    def __init__(self, world, shards, num_metrics=0):
        self.world, self.shards = world, shards
        shards.across = world.sum
        self.parameters = [param for layer in shards.layers for param in layer.parameters()]
        ends = np.cumsum([0] + [param.size for param in self.parameters])
        self.slices = [slice(start, stop) for start, stop in zip(ends[:-1], ends[1:])]
        dtype = self.parameters[0].value.dtype if self.parameters else np.float64
        self.buffer = np.empty(int(ends[-1]) + 1 + num_metrics, dtype=dtype)  # every gradient, the loss and metric sums
        self.num_metrics = num_metrics
        self.seconds, self.steps = 0.0, 0  # time spent in the gradient all-reduce

    def share(self, batch_size):
        return self.world.rows(batch_size)

    def bounds(self, batch_size, sample_size):
        start, stop = self.world.rows(batch_size)
        return [(start + first, start + last) for first, last in self.shards.bounds(stop - start, sample_size)]

    def run(self, batch_size, bounds, work):
        parts = self.shards.run(batch_size, bounds, work)
        loss_sum = math.fsum(part_loss * rows for part_loss, rows, _ in parts)
        totals = [sum(part[2][index] for part in parts) for index in range(self.num_metrics)]
        loss_sum, totals = self.sum_gradients(loss_sum, totals)
        return [(loss_sum / batch_size, batch_size, totals)]

    def sum_gradients(self, loss_sum, totals):
        """Every parameter's .grad summed over the processes, with one all-reduce; -> (loss sum, metric sums) of all."""
        buffer, extra = self.buffer, 1 + self.num_metrics
        for param, part in zip(self.parameters, self.slices):
            buffer[part] = param.grad.reshape(-1)
        buffer[-extra:] = [loss_sum, *totals]
        start = time.perf_counter()
        self.world.sum_in_place(buffer)
        self.seconds, self.steps = self.seconds + time.perf_counter() - start, self.steps + 1
        for param, part in zip(self.parameters, self.slices):
            param.grad = buffer[part].reshape(param.shape)  # a view: the next backward pass replaces it
        return float(buffer[-extra]), [float(value) for value in buffer[len(buffer) - self.num_metrics:]]

    def close(self):
        self.shards.across = None  # the plan is kept for later, undistributed, training


def writes(callback):
    """Whether a callback writes files or to the screen, and so runs on process 0 only: the built-in writers,
    and any callback with `rank_zero_only = True`."""
    return bool(getattr(callback, "rank_zero_only", isinstance(callback, WRITERS)))


class RankCallbacks(Callback):
    """The callbacks after History, as one: writers on process 0 only, the processes meeting where they could part.

    They agree on the start of training (a log file that cannot be opened), on the end
    of every epoch (identical weights first, then the callbacks: a checkpoint that cannot
    be written; a stop that any process asks for stops every one), and on the end of
    training. Per batch they do not meet: callbacks that run everywhere see the same
    logs and must decide alike, as the built-in ones do.
    """

    def __init__(self, world, network, callbacks):
        self.world, self.network = world, network
        self.callbacks = [callback for callback in callbacks if world.rank == 0 or not writes(callback)]
        self._end_error = None

    def on_train_begin(self, logs=None):
        with self.world.agree("Starting the callbacks"):
            for callback in self.callbacks:
                callback.on_train_begin(logs)

    def on_epoch_begin(self, epoch, logs=None):
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs)

    def on_batch_end(self, batch, logs=None):
        for callback in self.callbacks:
            callback.on_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self.world.check_same(f"After epoch {epoch + 1}", {"weights": weights_checksum(self.network)})
        with self.world.agree(f"The callbacks at the end of epoch {epoch + 1}") as agreement:
            for callback in self.callbacks:
                callback.on_epoch_end(epoch, logs)
            agreement.value = (bool(self.network.stop_training), self.network.stop_reason)
        if any(stop for stop, _ in agreement.values):
            self.network.stop_training = True
            self.network.stop_reason = next(reason for stop, reason in agreement.values if stop)

    def on_train_end(self, logs=None):
        """Run everywhere, even while an error is on its way up: an error here is kept for raise_end_error."""
        for callback in self.callbacks:
            try:
                callback.on_train_end(logs)
            except Exception as error:
                self._end_error = self._end_error or error

    def raise_end_error(self):
        if self._end_error is not None:
            raise self._end_error
