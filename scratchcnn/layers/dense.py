"""Dense (fully connected) layers; MultiClassDense ends a classifier with softmax."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import functional, initializers, reference
from ..checks import check_int
from .base import ActivatedLayer, LayerPlan, Parameter


class Dense(ActivatedLayer):
    """(N, input_dim) -> (N, output_dim): activation(x @ weight + bias), weight (input_dim, output_dim).

    `Dense(input_dim, output_dim)` as in the report, or `Dense(units)` / `Dense(output_dim=units)`, which
    learns its input size when the network is built, as Keras's Dense does.

    The math: `scratchcnn.reference.dense_forward` / `dense_backward`. The fast engine:
    `scratchcnn.functional.linear_forward` / `linear_backward`.
    """

    sample_ndim = 1

    def __init__(self, input_dim: int | None = None, output_dim: int | None = None,
                 activation: str | None = "relu") -> None:
        super().__init__(activation)
        if output_dim is None:  # Dense(units): Keras's one-argument form
            input_dim, output_dim = None, input_dim
        if output_dim is None:
            raise ValueError("Received no output size, expected Dense(units), Dense(output_dim=units) or "
                             "Dense(input_dim, output_dim).")
        self.output_dim = check_int("output_dim", output_dim)
        self.input_dim: int | None = None
        self._cache: Any = None
        if input_dim is not None:
            self.build((check_int("input_dim", input_dim),))

    @property
    def built(self) -> bool:  # type: ignore[override]
        return self.input_dim is not None

    def build(self, input_shape: tuple[int, ...]) -> None:
        """Create the weights for inputs of input_shape = (input_dim,)."""
        if len(input_shape) != 1:
            raise self._shape_error(input_shape, "(features,): put Flatten() before a Dense layer")
        inputs = self.input_dim = check_int("input_dim", input_shape[0])
        self.weight = Parameter(initializers.zeros((inputs, self.output_dim)), "weight")
        self.bias = Parameter(initializers.zeros((self.output_dim,)), "bias")
        self.reset_parameters()

    def reset_parameters(self, rng: np.random.Generator | int | None = None) -> None:
        inputs = self.input_dim
        if inputs is None:
            return
        rng = initializers.as_generator(rng)
        dtype = self.weight.value.dtype
        self.weight.value = initializers.for_activation(self.activation, self.weight.shape, inputs, self.output_dim,
                                                        rng, dtype)
        self.bias.value = initializers.zeros(self.bias.shape, dtype)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        input_shape = tuple(input_shape)
        if input_shape != (self.input_dim,):
            raise self._shape_error(input_shape, f"({self.input_dim},) (input_dim={self.input_dim})")
        return (self.output_dim,)

    def _linear_forward(self, x: np.ndarray, training: bool, plan: LayerPlan) -> np.ndarray:
        engine_forward = reference.dense_forward if plan.reference else functional.linear_forward
        z, self._cache = engine_forward(x, self.weight.value, self.bias.value)
        return z

    def _linear_backward(self, grad_z: np.ndarray, plan: LayerPlan) -> np.ndarray | None:
        if plan.reference:
            dx, dweight, dbias = reference.dense_backward(grad_z, self._cache)
        else:
            dx, dweight, dbias = functional.linear_backward(grad_z, self._cache, plan.need_input_grad)
        self._set_grad(self.weight, dweight)
        self._set_grad(self.bias, dbias)
        return dx

    def get_config(self) -> dict[str, Any]:
        return {"input_dim": self.input_dim, "output_dim": self.output_dim, "activation": self.activation}


class MultiClassDense(Dense):
    """(N, input_dim) -> (N, num_classes) class probabilities: Dense followed by softmax.

    `MultiClassDense(input_dim, num_classes)` as in the report, or `MultiClassDense(num_classes)`.
    """

    def __init__(self, input_dim: int | None = None, num_classes: int | None = None) -> None:
        if num_classes is None:
            input_dim, num_classes = None, input_dim
        if num_classes is None:
            raise ValueError("Received no num_classes, expected MultiClassDense(num_classes) or "
                             "MultiClassDense(input_dim, num_classes).")
        super().__init__(input_dim, check_int("num_classes", num_classes), activation="softmax")

    @property
    def num_classes(self) -> int:
        return self.output_dim

    def get_config(self) -> dict[str, Any]:
        return {"input_dim": self.input_dim, "num_classes": self.output_dim}
