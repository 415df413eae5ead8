"""Flatten: (N, C, H, W) -> (N, C*H*W) in C order."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import reference
from ..backend import xp
from .base import BuiltinLayer, LayerPlan


class Flatten(BuiltinLayer):
    """(N, d1, d2, ...) -> (N, d1*d2*...), row-major (C order), as Keras's Flatten on channels-first data.

    The math: `scratchcnn.reference.flatten_forward` / `flatten_backward`; the fast engine
    is the same reshape, with a GIL-friendly copy for inputs that are not contiguous.
    """

    sample_ndim = 3

    def __init__(self) -> None:
        self._input_shape: Any = None

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) == 0:
            raise self._shape_error(input_shape, "a per-sample shape of rank 1 or more")
        return (math.prod(input_shape),)

    @BuiltinLayer.entry
    def forward(self, x: np.ndarray, training: bool = False, *, plan: LayerPlan) -> np.ndarray:
        if plan.reference:
            out, self._input_shape = reference.flatten_forward(x)
            return out
        self._input_shape = x.shape
        if x.flags.c_contiguous:
            return x.reshape(x.shape[0], -1)
        # A copy (a pooling's output at inference comes rows first): reshape would copy holding the GIL for much
        # of it; copyto lets another thread run meanwhile.
        out = xp.empty(x.shape, x.dtype)
        xp.copyto(out, x)
        return out.reshape(x.shape[0], -1)

    @BuiltinLayer.entry
    def backward(self, grad_output: np.ndarray, *, plan: LayerPlan) -> np.ndarray | None:
        if plan.reference:
            return reference.flatten_backward(grad_output, self._input_shape)
        return grad_output.reshape(self._input_shape)
