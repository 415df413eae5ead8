"""The layer contract, the Parameter a layer owns, and what the built-in layers share.

A layer of your own subclasses `Layer`, creates `Parameter`s in its constructor and
overrides four methods, all on batches (N, ...):

    forward(x, training=False) -> output      backward(grad_output) -> grad_input
    output_shape(input_shape) -> shape        get_config() -> dict of constructor arguments

`backward` sets each parameter's `.grad`; whatever it needs from the forward pass the
layer keeps on itself. docs/architecture.md shows a complete example.

The built-in layers (`BuiltinLayer`) also run inside a network's execution plan
(scratchcnn/engine/plan.py): the network passes each one its `LayerPlan`, which says
which engine computes it (`scratchcnn.reference`, the textbook, or
`scratchcnn.functional`, the fast one) and what the fast engine arranged for it.
Called directly, without a plan, they check their input, take one unbatched sample as
in the report, and run on the fast engine on their own.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .. import reference
from ..backend import xp
from ..functional import ACTIVATIONS, activation_name
from ..inputs import as_float_array


class Parameter:
    """A trainable array `.value` and the gradient `.grad` that backward last set for it."""

    def __init__(self, value: np.ndarray, name: str = "") -> None:
        self.value = value
        self.grad = xp.zeros_like(value)
        self.name = name

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    @property
    def size(self) -> int:
        return int(self.value.size)

    def __repr__(self):
        return f"Parameter({self.name}, shape={tuple(self.shape)}, dtype={self.value.dtype})"


class Layer:
    """Base layer: override forward(x, training), backward(grad_output), output_shape(input_shape), get_config().

    forward and backward take and return batches (N, ...). Parameters are the
    `Parameter` attributes of the layer, found in the order they were set.
    """

    built = True  # a layer that learns its input size (Dense(units), ...) is False until build() has run

    def build(self, input_shape: tuple[int, ...]) -> None:
        """Create the weights for per-sample inputs of input_shape; a Network calls it when `built` is False."""

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x (N, ...) -> output (N, ...). `training` is True inside `Network.train`."""
        raise NotImplementedError(f"{self.name} must implement forward(x, training=False)")

    def backward(self, grad_output: np.ndarray) -> np.ndarray | None:
        """d loss / d output (N, ...) -> d loss / d input (N, ...); sets `.grad` on each parameter."""
        raise NotImplementedError(f"{self.name} must implement backward(grad_output)")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample output shape for a per-sample input shape; ValueError if the input does not fit."""
        raise NotImplementedError(f"{self.name} must implement output_shape(input_shape)")

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, JSON-serialisable: `type(layer)(**layer.get_config())` rebuilds it."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def parameters(self) -> list[Parameter]:
        """The layer's Parameters, in a fixed order (weight before bias)."""
        return [value for value in vars(self).values() if isinstance(value, Parameter)]

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """[(name, Parameter)], names unique within the layer (the model file's keys): `parameters()` by their names."""
        return [(param.name, param) for param in self.parameters()]

    def reset_parameters(self, rng: np.random.Generator | int | None = None) -> None:
        """Draw fresh initial weights from `rng` (a numpy Generator); layers without weights do nothing."""

    def buffers(self) -> dict[str, np.ndarray]:
        """Non-trainable state saved with the model (e.g. BatchNorm's running statistics): {name: array}."""
        return {}

    def set_buffer(self, name: str, value: np.ndarray) -> None:
        """Restore one buffer by name (used when loading a model)."""
        raise KeyError(f"{self.name} has no buffer {name!r}")

    def astype(self, dtype: DTypeLike) -> Layer:
        """Cast every parameter (value and grad) to dtype, e.g. float64 for gradient checks; returns self."""
        for param in self.parameters():
            param.value = param.value.astype(dtype)
            param.grad = param.grad.astype(dtype)
        return self

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def dtype(self) -> np.dtype:
        params = self.parameters()
        return params[0].value.dtype if params else np.dtype(np.float32)

    def _set_grad(self, param, grad):
        param.grad = grad.astype(param.value.dtype, copy=False)

    def _shape_error(self, input_shape, expected):
        return ValueError(f"{self.name} received an input of per-sample shape {tuple(input_shape)}, expected {expected}.")

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{self.name}({args})"


class LayerPlan:
    """How one layer runs in a network pass; the default is a layer called on its own, on the fast engine.

    scratchcnn/engine/plan.py makes one per layer of a network (and per thread), once per
    input shape: `reference` picks the engine; on the fast one, `defer_activation` leaves the
    layer's ReLU to the max pooling after it, `relu_after_max` makes that pooling apply it,
    `need_input_grad` lets the first layer skip its input gradient, and `workspaces` lend
    scratch memory. `noise` (dropout's draws made ahead) and `total` (BatchNorm's sum over
    the threads of a split batch) are set by the thread split for the batch at hand. `inner`
    holds the plans of a layer's own sequences of layers (a Residual's body and shortcut).
    """

    __slots__ = ("reference", "defer_activation", "relu_after_max", "need_input_grad", "workspaces", "noise", "total",
                 "inner")

    def __init__(self, reference: bool = False, defer_activation: bool = False, relu_after_max: bool = False,
                 need_input_grad: bool = True, workspaces: dict | None = None) -> None:
        self.reference = reference
        self.defer_activation = defer_activation
        self.relu_after_max = relu_after_max
        self.need_input_grad = need_input_grad
        self.workspaces = workspaces  # {True: Workspace, False: Workspace} or None (fresh arrays)
        self.noise = None
        self.total = None
        self.inner: Any = None  # {name: engine Plan} for a layer made of sequences of layers

    def workspace(self, training: bool) -> Any:
        return None if self.workspaces is None else self.workspaces[bool(training)]


def _called_directly(method):
    """Built-in forward/backward without a plan (a call from user code): check the array, accept one sample."""
    @functools.wraps(method)
    def run(self, array, *args, plan=None, **kwargs):
        if plan is not None:  # from a network's engine: the network checked its input at the edge
            return method(self, array, *args, plan=plan, **kwargs)
        is_forward = method.__name__ == "forward"
        array = as_float_array(array, name=f"the {'input' if is_forward else 'output gradient'} of {self.name}")
        if is_forward:
            self._one_sample = array.ndim == self.sample_ndim
        batch = array[None] if self._one_sample else array
        if is_forward:
            self.output_shape(batch.shape[1:])  # a ValueError naming both shapes
        out = method(self, batch, *args, plan=LayerPlan(), **kwargs)
        return out[0] if (self._one_sample and out is not None) else out
    return run


class BuiltinLayer(Layer):
    """A layer with both engines: its forward/backward call `scratchcnn.reference` or `scratchcnn.functional`.

    Subclasses write `forward(self, x, training=False, *, plan)` and `backward(self, grad_output, *, plan)`
    decorated with `BuiltinLayer.entry`, which fills in `plan` for direct calls.
    """

    sample_ndim: int | None = None  # rank of one sample without the batch axis, e.g. 3 for (C, H, W); None: a batch
    _one_sample = False
    entry = staticmethod(_called_directly)


class ActivatedLayer(BuiltinLayer):
    """A layer computing activation(linear(x)); the activation's backward runs before the linear one.

    Subclasses implement `_linear_forward(x, training, plan)` and `_linear_backward(grad_z, plan)`.
    `backward_preactivation(grad_z)` skips the activation, for the fused softmax/sigmoid +
    cross-entropy gradient (p - y) / N.
    """

    owns_preactivation = True  # _linear_forward returns a fresh array, so the activation may overwrite it

    def __init__(self, activation: str | None) -> None:
        self.activation = activation_name(activation)
        self._activation_cache = None

    @_called_directly
    def forward(self, x: np.ndarray, training: bool = False, *, plan: LayerPlan) -> np.ndarray:
        z = self._linear_forward(x, training, plan)
        if plan.defer_activation:  # the max pooling after this layer applies the ReLU (engine/plan.py)
            return z
        if plan.reference:
            out, self._activation_cache = reference.ACTIVATIONS[self.activation][0](z)
        else:
            out, self._activation_cache = ACTIVATIONS[self.activation][0](z, inplace=self.owns_preactivation)
        return out

    @_called_directly
    def backward(self, grad_output: np.ndarray, *, plan: LayerPlan) -> np.ndarray | None:
        if plan.defer_activation:
            return self._linear_backward(grad_output, plan)
        activations = reference.ACTIVATIONS if plan.reference else ACTIVATIONS
        grad_z = activations[self.activation][1](grad_output, self._activation_cache)
        return self._linear_backward(grad_z, plan)

    def _linear_forward(self, x: np.ndarray, training: bool, plan: LayerPlan) -> np.ndarray:
        raise NotImplementedError

    def _linear_backward(self, grad_z: np.ndarray, plan: LayerPlan) -> np.ndarray | None:
        raise NotImplementedError

    def backward_preactivation(self, grad_z: np.ndarray, plan: LayerPlan | None = None) -> np.ndarray | None:
        """Gradient with respect to the pre-activation z (batched) -> gradient with respect to the input."""
        return self._linear_backward(grad_z, LayerPlan() if plan is None else plan)
