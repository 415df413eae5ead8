"""A training step split across threads: each thread runs the forward and backward passes on its rows.

The step itself is unchanged: the outputs of the shards are joined, the loss and its
gradient are computed on the whole batch on one thread, each shard back-propagates
its rows, and the parameter gradients of the shards are summed. So the weights move
as in an unsplit step, up to the rounding of that sum. Dropout's random numbers are
drawn for the whole batch before the split, so its masks do not depend on the number
of threads; BatchNorm's shards sum their statistics through a ShardSum, so they
normalise with the whole batch's mean and variance.
"""
import threading

from . import parallel
from .backend import xp
from .adjacent import neighbours, pad_gradient, prepare


def run_forward(layers, x, training):
    """Each layer on the previous one's output, prepared for its neighbours (adjacent.py: cropping, ReLU after pooling)."""
    for before, layer, after in neighbours(layers):
        x = layer._forward(prepare(before, layer, after, x), training)
    return x


def run_backward(layers, grad_output, from_logits=False):
    """Back-propagate through layers; with from_logits, grad_output is with respect to the last pre-activation."""
    if from_logits:
        grad_output = pad_gradient(layers[-1], layers[-1].backward_preactivation(grad_output))
        layers = layers[:-1]
    for layer in reversed(layers):
        grad_output = pad_gradient(layer, layer._backward(grad_output))
    return grad_output


class ShardSum:
    """An array from every shard of a split batch, summed; every shard gets the same total (summed in shard order)."""

    def __init__(self, shards):
        self._parts = [None] * shards
        self._barrier = threading.Barrier(shards)

    def for_shard(self, shard):
        def total(array):
            self._parts[shard] = array
            self._barrier.wait()  # every shard's part is in
            result = self._parts[0]
            for part in self._parts[1:]:
                result = result + part
            self._barrier.wait()  # every shard has read the parts before any of them writes its next one
            return result
        return total

    def abort(self):
        """Wake the shards waiting for the others with a BrokenBarrierError (one of them failed)."""
        self._barrier.abort()


class ShardedLayers:
    """The network's layers once per thread: shard 0 runs the layers themselves, the others replicas of them."""

    def __init__(self, layers, input_shapes, num_threads):
        """input_shapes: the per-sample input shape of every layer (for drawing dropout's numbers ahead)."""
        self.layers = layers
        self.input_shapes = input_shapes
        self.shards = [layers] + [[layer.replica() for layer in layers] for _ in range(num_threads - 1)]

    def bounds(self, batch_size, sample_size):
        """[(start, stop)] of the rows each shard takes of a batch of batch_size samples of sample_size values:
        one shard when it is not worth splitting."""
        if len(self.shards) == 1:
            return [(0, batch_size)]
        return parallel.shard_bounds(batch_size, sample_size, len(self.shards))

    def forward(self, x, bounds):
        """Training forward of the batch x, rows bounds[k] on shard k; returns the joined outputs."""
        if len(bounds) == 1:
            return run_forward(self.layers, x, True)
        shards = self._ready(len(x), bounds)
        outputs = self._run(shards, bounds, lambda layers, start, stop: run_forward(layers, x[start:stop], True))
        return xp.concatenate(outputs)

    def backward(self, grad_output, bounds, from_logits=False):
        """Each shard back-propagates its rows; the layers' parameter gradients become the sum over the shards."""
        if len(bounds) == 1:
            run_backward(self.layers, grad_output, from_logits)
            return
        shards = self.shards[:len(bounds)]
        self._run(shards, bounds, lambda layers, start, stop: run_backward(layers, grad_output[start:stop], from_logits))
        self._sum_gradients(shards)

    def step(self, batch_size, bounds, work):
        """A whole training step in one meeting of the threads: work(layers, start, stop) on every shard at once
        (its forward pass, its rows' share of the loss and its backward pass), for a loss whose gradient is
        row by row; returns each shard's result, and the parameter gradients are the sum over the shards.

        forward() then backward() meet twice a step, the loss's gradient taken on one thread in between;
        here each core goes straight from its forward pass to its backward pass, and takes its rows of the
        batch itself (net D at batch 64: each meeting cost ~0.2 ms to wake the other core, ~0.2 ms of
        one core waiting at its end, and the first NumPy call after it ran several times slower).
        """
        if len(bounds) == 1:
            return [work(self.layers, *bounds[0])]
        shards = self._ready(batch_size, bounds)
        results = self._run(shards, bounds, work)
        self._sum_gradients(shards)
        return results

    def _ready(self, batch_size, bounds):
        """The shards that will take `bounds`, given the layers' current parameter values and their rows of the
        noise that layers such as Dropout draw for the whole batch (so the masks do not depend on the split)."""
        shards = self.shards[:len(bounds)]
        for replica in shards[1:]:  # the values are shared; set_weights or astype may have replaced them
            for own, twin in zip(_parameters(self.layers), _parameters(replica)):
                twin.value = own.value
        for index, layer in enumerate(self.layers):
            if layer.uses_rng:
                noise = layer.draw_noise((batch_size, *self.input_shapes[index]))
                for shard, (start, stop) in zip(shards, bounds):
                    shard[index].noise = noise[start:stop]
        return shards

    def _sum_gradients(self, shards):
        for replica in shards[1:]:
            for own, twin in zip(_parameters(self.layers), _parameters(replica)):
                own.grad = own.grad + twin.grad

    def _run(self, shards, bounds, work):
        """work(layers, start, stop) on every shard at once, with the layers that mix samples linked by ShardSums."""
        mixing = [index for index, layer in enumerate(self.layers) if layer.mixes_samples]
        sums = [ShardSum(len(shards)) for _ in mixing]
        for shard, layers in enumerate(shards):
            for index, shard_sum in zip(mixing, sums):
                layers[index].shard_total = shard_sum.for_shard(shard)
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
            for layers in shards:
                for index in mixing:
                    layers[index].shard_total = None


def _parameters(layers):
    return [param for layer in layers for param in layer.parameters()]
