"""The layer contract every scratchcnn layer follows, and the Parameter it owns."""
import copy

import numpy as np

from ..backend import xp
from ..functional import ACTIVATIONS, activation_name
from ..functional.workspace import Workspace
from ..inputs import as_float_array


class Parameter:
    """A trainable array `.value` and the gradient `.grad` that backward last set for it."""

    def __init__(self, value, name=""):
        self.value = value
        self.grad = xp.zeros_like(value)
        self.name = name

    @property
    def shape(self):
        return self.value.shape

    @property
    def size(self):
        return int(self.value.size)

    def __repr__(self):
        return f"Parameter({self.name}, shape={tuple(self.shape)}, dtype={self.value.dtype})"


class Layer:
    """Base layer: forward(x, training), backward(grad_output), parameters(), output_shape(), get_config().

    Subclasses implement `_forward(x, training)` and `_backward(grad_output)` on batches;
    this class handles one unbatched sample (rank `sample_ndim`) by adding and
    removing the batch axis, so every layer accepts both, as in the report.
    """

    sample_ndim = None  # rank of one sample without the batch axis, e.g. 3 for (C, H, W)
    uses_rng = False    # True for layers whose training pass draws random numbers (the Network then seeds them)
    # True for layers whose training pass mixes the samples of a batch (BatchNorm's statistics). When a batch
    # is split across threads (sharded.py), their `shard_total(array)` sums an array over the shards.
    mixes_samples = False
    shard_total = None

    def __init__(self):
        self._unbatched = False
        self._workspaces = None
        self.need_input_grad = True  # the first layer of a network may skip its input gradient
        self._solo()

    def _solo(self):
        """Forget what a network's pass prepared the layer for (adjacent.py): on its own it does all its work."""
        self._input_crop = None          # the full input's (H, W) when the network gave the layer a part of it
        self._defer_activation = False   # whether the layer left its activation to the next one
        self._activation_before = None   # the previous layer's activation, left to this one

    # -- the contract -------------------------------------------------------
    def forward(self, x, training=False):
        """x (N, *sample_shape) or one sample (*sample_shape) -> the layer's output, batched alike."""
        x = as_float_array(x, name=f"the input of {self.name}")
        unbatched = x.ndim == self.sample_ndim
        if unbatched:
            x = x[None]
        self.output_shape(x.shape[1:])  # validates; raises ValueError naming the shapes
        self._solo()
        out = self._forward(x, training)
        self._unbatched = unbatched
        return out[0] if unbatched else out

    def backward(self, grad_output):
        """d loss / d output -> d loss / d input; sets `.grad` on each parameter."""
        grad_output = as_float_array(grad_output, name=f"the output gradient of {self.name}")
        if self._unbatched:
            grad_output = grad_output[None]
        grad_input = self._backward(grad_output)
        return grad_input[0] if (self._unbatched and grad_input is not None) else grad_input

    def parameters(self):
        """The layer's Parameters, in a fixed order (weight before bias)."""
        return [value for value in vars(self).values() if isinstance(value, Parameter)]

    def output_shape(self, input_shape):
        """Per-sample output shape for a per-sample input shape; ValueError if the input does not fit."""
        raise NotImplementedError

    def get_config(self):
        """The constructor's arguments, JSON-serialisable: `type(layer)(**layer.get_config())` rebuilds it."""
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def reset_parameters(self, rng=None):
        """Draw fresh initial weights from `rng` (a numpy Generator); layers without weights do nothing."""

    def reads(self, input_shape):
        """The leading (rows, columns) of a per-sample input (C, H, W) its output depends on; None: all of it."""
        return None

    def reads_for_outputs(self, input_shape, rows, cols):
        """The leading (rows, columns) of a per-sample input (C, H, W) that the first rows x cols outputs
        depend on, or None when the layer cannot compute only those (adjacent.py)."""
        return None

    def buffers(self):
        """Non-trainable state saved with the model (e.g. BatchNorm's running statistics): {name: array}."""
        return {}

    def set_buffer(self, name, value):
        """Restore one buffer by name (used when loading a model)."""
        raise KeyError(f"{self.name} has no buffer {name!r}")

    def set_rng(self, rng):
        """Give the layer the generator its training-time randomness (e.g. dropout masks) draws from."""

    def draw_noise(self, input_shape):
        """Layers with uses_rng: draw ahead (from their generator) the random numbers a training forward on a
        batch of input_shape would draw; the Network slices them for the threads of a split batch."""
        raise NotImplementedError(f"{self.name} draws random numbers but does not implement draw_noise")

    def workspace(self, training):
        """The layer's scratch buffers (functional/workspace.py), reused from call to call: one for training
        passes, one for inference, so a predict() between a training forward and its backward leaves what
        the forward kept for that backward alone. Made on first use; a replica has its own."""
        if self._workspaces is None:
            self._workspaces = {True: Workspace(), False: Workspace()}
        return self._workspaces[bool(training)]

    def free_scratch(self, above=0):
        """Let go of the scratch memory kept for the next inference call (e.g. im2col buffers), if it holds
        more than `above` bytes."""
        if self._workspaces is not None and self._workspaces[False].nbytes > above:
            self._workspaces[False].clear()

    def replica(self):
        """A twin for another thread: it shares the parameter values, and has its own gradients, caches and
        scratch buffers (a worker thread may run two shards' forward passes one after the other, and the
        second must not overwrite what the first one kept)."""
        twin = copy.copy(self)
        twin._workspaces = None
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                setattr(twin, name, Parameter(value.value, value.name))
        return twin

    def astype(self, dtype):
        """Cast every parameter (value and grad) to dtype, e.g. float64 for gradient checks; returns self."""
        for param in self.parameters():
            param.value = param.value.astype(dtype)
            param.grad = param.grad.astype(dtype)
        return self

    # -- helpers ------------------------------------------------------------
    @property
    def name(self):
        return type(self).__name__

    @property
    def dtype(self):
        params = self.parameters()
        return params[0].value.dtype if params else np.dtype(np.float32)

    def _set_grad(self, param, grad):
        param.grad = grad.astype(param.value.dtype, copy=False)

    def _shape_error(self, input_shape, expected):
        return ValueError(
            f"{self.name} received an input of per-sample shape {tuple(input_shape)}, expected {expected}."
        )

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{self.name}({args})"


class ActivatedLayer(Layer):
    """A layer computing activation(linear(x)); the activation's backward runs before the linear one.

    Subclasses implement `_linear_forward(x, training)` and `_linear_backward(grad_z)`.
    `backward_preactivation(grad_z)` skips the activation, for the fused
    softmax/sigmoid + cross-entropy gradient (p - y) / N.
    """

    owns_preactivation = True  # _linear_forward returns a fresh array, so the activation may overwrite it

    def __init__(self, activation):
        super().__init__()
        self.activation = activation_name(activation)
        self._activation_cache = None

    def _forward(self, x, training):
        z = self._linear_forward(x, training)
        if self._defer_activation:  # the next layer applies it (adjacent.py)
            return z
        out, self._activation_cache = ACTIVATIONS[self.activation][0](z, inplace=self.owns_preactivation)
        return out

    def _backward(self, grad_output):
        if self._defer_activation:
            return self._linear_backward(grad_output)
        grad_z = ACTIVATIONS[self.activation][1](grad_output, self._activation_cache)
        return self._linear_backward(grad_z)

    def backward_preactivation(self, grad_z):
        """Gradient with respect to the pre-activation z (batched) -> gradient with respect to the input."""
        return self._linear_backward(grad_z)
