"""PoolingLayer: max or average pooling over size x size windows."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import functional, reference
from ..functional import output_size
from ..checks import check_int
from .base import BuiltinLayer, LayerPlan


class PoolingLayer(BuiltinLayer):
    """(N, C, H, W) -> (N, C, OH, OW), OH = (H - size)//stride + 1; stride=None means stride=size.

    The math: `scratchcnn.reference.maxpool2d_forward` / `avgpool2d_forward` and their
    backward twins. The fast engine: `scratchcnn.functional.maxpool2d_forward` (which can
    apply the previous layer's ReLU after the maxima) / `avgpool2d_forward`.
    """

    sample_ndim = 3

    def __init__(self, size: int = 2, stride: int | None = None, mode: str = "max") -> None:
        self.size = check_int("size", size)
        self.stride = self.size if stride is None else check_int("stride", stride)
        if not isinstance(mode, str) or mode not in ("max", "avg"):
            raise ValueError(f"Received an invalid value for mode, expected 'max' or 'avg'. Received: mode={mode!r}")
        self.mode = mode
        self._cache = None

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or min(input_shape[1:]) < self.size:
            raise self._shape_error(input_shape, f"(C, H, W) with H and W of at least size={self.size}")
        channels, height, width = input_shape
        return (channels, output_size(height, self.size, self.stride), output_size(width, self.size, self.stride))

    @BuiltinLayer.entry
    def forward(self, x: np.ndarray, training: bool = False, *, plan: LayerPlan) -> np.ndarray:
        if plan.reference:
            pool = reference.maxpool2d_forward if self.mode == "max" else reference.avgpool2d_forward
            out, self._cache = pool(x, self.size, self.stride)
        elif self.mode == "max":
            out, self._cache = functional.maxpool2d_forward(x, self.size, self.stride, relu=plan.relu_after_max,
                                                            workspace=plan.workspace(training))
        else:
            out, self._cache = functional.avgpool2d_forward(x, self.size, self.stride)
        return out

    @BuiltinLayer.entry
    def backward(self, grad_output: np.ndarray, *, plan: LayerPlan) -> np.ndarray | None:
        engine = reference if plan.reference else functional
        backward = engine.maxpool2d_backward if self.mode == "max" else engine.avgpool2d_backward
        return backward(grad_output, self._cache)

    def get_config(self) -> dict[str, Any]:
        return {"size": self.size, "stride": self.stride, "mode": self.mode}
