"""GlobalAveragePooling: each channel's mean over the whole feature map."""
from __future__ import annotations

import numpy as np

from .. import reference
from ..functional.global_pool import global_avgpool2d_backward, global_avgpool2d_forward
from .base import BuiltinLayer, LayerPlan


class GlobalAveragePooling(BuiltinLayer):
    """(N, C, H, W) -> (N, C): the mean over H and W, as Keras's GlobalAveragePooling2D on channels-first data.

    The math: `scratchcnn.reference.global_avgpool2d_forward` / `global_avgpool2d_backward`;
    the fast engine: `scratchcnn.functional.global_pool`.
    """

    sample_ndim = 3

    def __init__(self) -> None:
        self._cache = None

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or min(input_shape) < 1:
            raise self._shape_error(input_shape, "(C, H, W)")
        return input_shape[:1]

    @BuiltinLayer.entry
    def forward(self, x: np.ndarray, training: bool = False, *, plan: LayerPlan) -> np.ndarray:
        engine_forward = reference.global_avgpool2d_forward if plan.reference else global_avgpool2d_forward
        out, self._cache = engine_forward(x)
        return out

    @BuiltinLayer.entry
    def backward(self, grad_output: np.ndarray, *, plan: LayerPlan) -> np.ndarray | None:
        engine_backward = reference.global_avgpool2d_backward if plan.reference else global_avgpool2d_backward
        return engine_backward(grad_output, self._cache)
