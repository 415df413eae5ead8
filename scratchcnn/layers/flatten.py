"""Flatten: (N, C, H, W) -> (N, C*H*W) in C order."""
import math

from ..backend import xp
from .base import Layer


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...), row-major (C order), as Keras's Flatten on channels-first data."""

    sample_ndim = 3

    def __init__(self):
        super().__init__()
        self._input_shape = None

    def output_shape(self, input_shape):
        if len(input_shape) == 0:
            raise self._shape_error(input_shape, "a per-sample shape of rank 1 or more")
        return (math.prod(input_shape),)

    def _forward(self, x, training):
        self._input_shape = x.shape
        if x.flags.c_contiguous:
            return x.reshape(x.shape[0], -1)
        # A copy (at inference a pooling's output comes rows first): reshape would copy keeping the GIL for
        # much of it, copyto lets another thread run meanwhile.
        out = xp.empty(x.shape, x.dtype)
        xp.copyto(out, x)
        return out.reshape(x.shape[0], -1)

    def _backward(self, grad_output):
        return grad_output.reshape(self._input_shape)
