"""A training step's rows, or predict's pieces of the input, spread over the threads (parallel.py).

Training. Each thread takes its rows of the batch and runs the whole step's work on
them, forward pass, its rows' share of the loss and backward pass, on its own replica
of the layers (a twin sharing the parameter values, with its own gradients and caches);
then the parameter gradients are summed over the threads. So the weights move as in an
unsplit step, up to the rounding of that sum. The threads meet once a step: each goes
straight from its forward pass to its backward pass. Dropout's random numbers are drawn
for the whole batch before the split, so its masks do not depend on the number of
threads; BatchNorm's threads sum their statistics through a ShardSum, so they normalise
with the whole batch's mean and variance.

Inference. Samples are independent, so the threads share the input without meeting:
each takes the next piece of it, its share of a batch, until none is left. About
batch_size samples are in flight at a time, as with one batch split across the threads,
but a thread the machine slows down takes fewer pieces instead of holding up the end.
"""
import copy
import threading
from typing import Any

from .. import parallel
from ..functional.workspace import transient_outputs
from ..layers.base import Parameter
from ..layers.regularization import BatchNorm, Dropout
from ..layers.residual import Residual
from .passes import Passes


class ShardSum:
    """An array from every shard of a split batch, summed; every shard gets the same total (summed in shard order).

    With `across` (a distributed run: the sum over the processes of an MPI job), the
    threads' total is then summed across the processes, once, by shard 0 (the calling
    thread, the only one that talks to the other processes).
    """

    def __init__(self, shards, across=None):
        self._parts = [None] * shards
        self._result = None
        self._across = across
        self._barrier = threading.Barrier(shards)

    def for_shard(self, shard):
        def total(array):
            self._parts[shard] = array
            self._barrier.wait()  # every shard's part is in
            if shard == 0:
                result: Any = self._parts[0]
                for part in self._parts[1:]:
                    result = result + part
                self._result = result if self._across is None else self._across(result)
            self._barrier.wait()  # the total is in; no shard writes its next part before every one has read it
            return self._result
        return total

    def abort(self):
        """Wake the shards waiting for the others with a BrokenBarrierError (one of them failed)."""
        self._barrier.abort()


def replica(layer):
    """A twin of a built-in layer for another thread: the same parameter values, its own gradients and caches
    (a Residual's twin holds twins of its layers)."""
    twin = copy.copy(layer)
    for name, value in vars(layer).items():
        if isinstance(value, Parameter):
            setattr(twin, name, Parameter(value.value, value.name))
    if isinstance(layer, Residual):
        twin.body = [replica(inner) for inner in layer.body]
        twin.shortcut = None if layer.shortcut is None else [replica(inner) for inner in layer.shortcut]
    return twin


class TrainingShards:
    """The network's layers once per thread for training: shard 0 runs the layers themselves, the others replicas."""

    def __init__(self, layers, plan, num_threads):
        self.layers = layers
        self.passes = [Passes(layers, plan)] + [Passes([replica(layer) for layer in layers], plan.copy())
                                                 for _ in range(num_threads - 1)]
        # Every shard's (layer, LayerPlan, input shape), those inside Residual blocks included, in one order.
        self.walks = [list(passes.plan.walk(passes.layers)) for passes in self.passes]
        self.noisy = [index for index, (layer, _, _) in enumerate(self.walks[0]) if isinstance(layer, Dropout)]
        self.mixing = [index for index, (layer, _, _) in enumerate(self.walks[0]) if isinstance(layer, BatchNorm)]
        self.across = None  # a distributed run: across(array) sums it over the processes (scratchcnn/distributed)

    def share(self, batch_size):
        """(start, stop): the rows of a batch this process computes, all of them (distributed runs take a part)."""
        return 0, batch_size

    def bounds(self, batch_size, sample_size):
        """[(start, stop)] of the rows each shard takes of a batch: one shard when it is not worth splitting."""
        if len(self.passes) == 1:
            return [(0, batch_size)]
        return parallel.shard_bounds(batch_size, sample_size, len(self.passes))

    def run(self, batch_size, bounds, work):
        """[work(passes, start, stop) for each shard's rows], at once; the layers' parameter gradients become
        the sum over the shards. `bounds` may be any rows of a batch of batch_size rows (a process's share of it,
        in a distributed run: Dropout's noise is drawn for the whole batch and BatchNorm sums `across` the processes,
        even on one thread)."""
        if len(bounds) == 1 and self.across is None:
            return [work(self.passes[0], *bounds[0])]
        shards = self.passes[:len(bounds)]
        self._ready(shards, batch_size, bounds)
        results = self._run(shards, bounds, work)
        for twin in shards[1:]:
            for own, other in zip(_parameters(self.layers), _parameters(twin.layers)):
                own.grad = own.grad + other.grad
        return results

    def _ready(self, shards, batch_size, bounds):
        """Give the replicas the layers' current parameter values (set_weights or astype may have replaced them),
        and each shard its rows of the noise Dropout draws for the whole batch."""
        for twin in shards[1:]:
            for own, other in zip(_parameters(self.layers), _parameters(twin.layers)):
                other.value = own.value
        for index in self.noisy:
            layer, _, input_shape = self.walks[0][index]
            noise = layer.draw_noise((batch_size, *input_shape))
            for walk, (start, stop) in zip(self.walks, bounds):
                walk[index][1].noise = noise[start:stop]

    def _run(self, shards, bounds, work):
        """work on every shard at once, the BatchNorm layers' shards linked by ShardSums."""
        sums = [ShardSum(len(shards), self.across) for _ in self.mixing]
        for shard in range(len(shards)):
            for index, shard_sum in zip(self.mixing, sums):
                self.walks[shard][index][1].total = shard_sum.for_shard(shard)
        failures = []

        def run_shard(shard, start, stop):
            try:
                return work(shards[shard], start, stop)
            except BaseException as error:  # let the other shards stop waiting for this one
                if not isinstance(error, threading.BrokenBarrierError):
                    failures.append(error)
                for shard_sum in sums:
                    shard_sum.abort()
                raise

        try:
            return parallel.map_shards(run_shard, bounds)
        except threading.BrokenBarrierError:
            if failures:
                raise failures[0] from None  # the shard that failed first, not one it left waiting
            raise
        finally:
            for walk in self.walks[:len(shards)]:
                for index in self.mixing:
                    walk[index][1].total = None


def predict_pieces(passes, X, outputs, batch_size, num_threads, check_piece=None):
    """outputs[piece] = passes.forward(X[piece]) for pieces of X, num_threads threads taking the next piece in turn.

    check_piece(x_piece) runs just before a piece (predict's NaN check: the piece is then in the
    cache its first layer reads it from); when it raises, the other threads stop at their next piece.
    """
    step = -(-min(batch_size, len(X)) // num_threads)  # a thread's share of a batch (or of X, when smaller)
    starts = iter(range(0, len(X), step))
    lock = threading.Lock()

    def next_piece():
        with lock:
            start = next(starts, None)
        return None if start is None else slice(start, min(len(X), start + step))

    def run_pieces(shard, start, stop):
        while (piece := next_piece()) is not None:
            if check_piece is not None:
                try:
                    check_piece(X[piece])
                except BaseException:
                    with lock:  # the other threads stop at their next piece
                        for _ in starts:
                            pass
                    raise
            with transient_outputs():  # each layer's output is done with once the next one has run
                outputs[piece] = passes.forward(X[piece], training=False)

    parallel.map_shards(run_pieces, [(0, len(X))] * num_threads)
    return outputs


def _parameters(layers):
    return [param for layer in layers for param in layer.parameters()]
