"""Activation: a standalone activation function as its own layer."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import ActivatedLayer, LayerPlan


class Activation(ActivatedLayer):
    """(N, ...) -> (N, ...): relu, leakyrelu, sigmoid, tanh or linear element-wise; softmax over F of (N, F) only.

    The input is always a batch, so it cannot be a Network's first layer. It is an
    ActivatedLayer whose linear part is the identity, so a final Activation('softmax')
    takes the fused softmax + cross-entropy gradient. The math:
    `scratchcnn.reference.ACTIVATIONS`; the fast engine: `scratchcnn.functional.ACTIVATIONS`.
    """

    owns_preactivation = False  # its "pre-activation" is the input itself, which the layer before may still hold

    def __init__(self, name: str | None) -> None:
        super().__init__(name)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        input_shape = tuple(input_shape)
        if self.activation == "softmax" and len(input_shape) != 1:
            raise self._shape_error(input_shape, "(F,) in a batch (N, F): softmax runs over the last axis of 2-D input")
        return input_shape

    def _linear_forward(self, x: np.ndarray, training: bool, plan: LayerPlan) -> np.ndarray:
        return x

    def _linear_backward(self, grad_z: np.ndarray, plan: LayerPlan) -> np.ndarray | None:
        return grad_z

    def get_config(self) -> dict[str, Any]:
        return {"name": self.activation}
