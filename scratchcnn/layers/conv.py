"""ConvLayer: 2-D convolution with a fused activation (ReLU by default, as in the report)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import functional, initializers, reference
from ..functional import output_size
from ..checks import check_int
from .base import ActivatedLayer, LayerPlan, Parameter


def _pair(name: str, value: Any, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints -> (rows, columns), or a ValueError in Keras's wording."""
    values = list(value) if isinstance(value, (tuple, list)) else [value, value]
    if len(values) != 2:
        raise ValueError(f"Received an invalid value for {name}, expected an integer or a pair of integers. "
                         f"Received: {name}={value!r}")
    try:
        return check_int(name, values[0], minimum=minimum), check_int(name, values[1], minimum=minimum)
    except ValueError:
        kind = "positive integers" if minimum == 1 else f"integers >= {minimum}"
        raise ValueError(f"Received an invalid value for {name}, expected {kind} (one, or a pair for rows and "
                         f"columns). Received: {name}={value!r}") from None


def _padding(padding: Any, kernel_size: tuple[int, int]) -> tuple[int, int]:
    """(rows, columns) of zeros on each side: 'valid' is none; 'same' keeps H x W at stride 1 (ceil(H / stride)
    in general), which needs an odd kernel, as the padding is the same on both sides."""
    if isinstance(padding, str):
        if padding.lower() == "valid":
            return (0, 0)
        if padding.lower() == "same":
            if any(k % 2 == 0 for k in kernel_size):
                raise ValueError(f"Received padding='same' with filter_size={kernel_size}, expected odd filter sizes "
                                 "(the same padding on both sides), or a number for padding.")
            return (kernel_size[0] - 1) // 2, (kernel_size[1] - 1) // 2
        raise ValueError(f"Received an invalid value for padding, expected 'same', 'valid', an integer or a pair of "
                         f"integers. Received: padding={padding!r}")
    return _pair("padding", padding, minimum=0)


class ConvLayer(ActivatedLayer):
    """(N, depth, H, W) -> (N, num_filters, OH, OW), OH = (H + 2*padding - filter_size)//stride + 1.

    Parameters `weight` (num_filters, depth, kh, kw) and `bias` (num_filters,), in PyTorch's
    Conv2d layout. `filter_size`, `stride` and `padding` take an int or a (rows, columns) pair;
    `padding` also 'same' (odd kernels) or 'valid'. `depth=None` learns the input's channels
    when the network is built (`ConvLayer(3, num_filters=32)`).

    The math: `scratchcnn.reference.conv2d_forward` / `conv2d_backward` (im2col and one
    matrix product). The fast engine: `scratchcnn.functional.conv2d_forward` /
    `conv2d_backward`, which pick im2col in cache-sized blocks, Winograd or space-to-depth;
    it takes square kernels with one stride and padding, and the other shapes run the
    reference convolution on both engines.
    """

    sample_ndim = 3

    def __init__(self, filter_size: int | Sequence[int], depth: int | None = None, num_filters: int | None = None,
                 stride: int | Sequence[int] = 1, padding: int | str | Sequence[int] = 0,
                 activation: str | None = "relu") -> None:
        super().__init__(activation)
        if num_filters is None:
            raise ValueError("Received no num_filters, expected a positive integer: ConvLayer(filter_size, depth, "
                             "num_filters) as in the report, or ConvLayer(filter_size, num_filters=...).")
        self.kernel_size = _pair("filter_size", filter_size)
        self.strides = _pair("stride", stride)
        self.pads = _padding(padding, self.kernel_size)
        self.filter_size, self.stride, self.padding = filter_size, stride, padding  # as given (the config)
        if not isinstance(filter_size, int) and len(set(self.kernel_size)) == 1:
            self.filter_size = self.kernel_size[0]
        self.num_filters = check_int("num_filters", num_filters)
        self.depth: int | None = None
        self._cache: Any = None
        if depth is not None:
            self.build((check_int("depth", depth),))

    @property
    def square(self) -> bool:
        """Whether the fast engine's convolution can take it: a square kernel, one stride, one padding."""
        return len(set(self.kernel_size)) == len(set(self.strides)) == len(set(self.pads)) == 1

    @property
    def built(self) -> bool:  # type: ignore[override]
        return self.depth is not None

    def build(self, input_shape: tuple[int, ...]) -> None:
        """Create the weights for inputs of input_shape[0] channels (only the channels are read)."""
        self.depth = check_int("depth", input_shape[0])
        self.weight = Parameter(initializers.zeros((self.num_filters, self.depth, *self.kernel_size)), "weight")
        self.bias = Parameter(initializers.zeros((self.num_filters,)), "bias")
        self.reset_parameters()

    def reset_parameters(self, rng: np.random.Generator | int | None = None) -> None:
        depth = self.depth
        if depth is None:
            return
        rng = initializers.as_generator(rng)
        area = self.kernel_size[0] * self.kernel_size[1]
        dtype = self.weight.value.dtype
        self.weight.value = initializers.for_activation(self.activation, self.weight.shape, depth * area,
                                                        self.num_filters * area, rng, dtype)
        self.bias.value = initializers.zeros(self.bias.shape, dtype)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[0] != self.depth:
            raise self._shape_error(input_shape, f"(depth={self.depth}, H, W): images channels-first, "
                                                 "batched (N, C, H, W) or one sample (C, H, W)")
        sizes = []
        for length, k, s, p in zip(input_shape[1:], self.kernel_size, self.strides, self.pads):
            if length + 2 * p < k:
                least = [k_ - 2 * p_ for k_, p_ in zip(self.kernel_size, self.pads)]
                least = least[0] if least[0] == least[1] else f"{least[0]} and {least[1]}"
                raise self._shape_error(input_shape, f"H and W of at least {least} for filter_size={self.filter_size}, "
                                                     f"padding={self.padding}")
            sizes.append(output_size(length, k, s, p))
        return (self.num_filters, *sizes)

    def _linear_forward(self, x: np.ndarray, training: bool, plan: LayerPlan) -> np.ndarray:
        weight, bias = self.weight.value, self.bias.value
        if plan.reference or not self.square:
            z, self._cache = reference.conv2d_forward(x, weight, bias, self.strides, self.pads)
        else:
            z, self._cache = functional.conv2d_forward(x, weight, bias, self.strides[0], self.pads[0],
                                                       plan.workspace(training), keep_columns=bool(training))
        return z

    def _linear_backward(self, grad_z: np.ndarray, plan: LayerPlan) -> np.ndarray | None:
        if plan.reference or not self.square:
            dx, dweight, dbias = reference.conv2d_backward(grad_z, self._cache)
        else:
            dx, dweight, dbias = functional.conv2d_backward(grad_z, self._cache, plan.need_input_grad)
        self._set_grad(self.weight, dweight)
        self._set_grad(self.bias, dbias)
        return dx

    def get_config(self) -> dict[str, Any]:
        as_json = lambda value: list(value) if isinstance(value, tuple) else value  # noqa: E731
        return {"filter_size": as_json(self.filter_size), "depth": self.depth, "num_filters": self.num_filters,
                "stride": as_json(self.stride), "padding": as_json(self.padding), "activation": self.activation}
