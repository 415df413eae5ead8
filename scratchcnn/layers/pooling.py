"""PoolingLayer: max or average pooling over size x size windows."""
from ..functional import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward, output_size
from ..inputs import check_int
from .base import Layer

_MODES = {"max": (maxpool2d_forward, maxpool2d_backward), "avg": (avgpool2d_forward, avgpool2d_backward)}


class PoolingLayer(Layer):
    """(N, C, H, W) -> (N, C, OH, OW), OH = (H - size)//stride + 1; stride=None means stride=size."""

    sample_ndim = 3

    def __init__(self, size=2, stride=None, mode="max"):
        super().__init__()
        self.size = check_int("size", size)
        self.stride = self.size if stride is None else check_int("stride", stride)
        if not isinstance(mode, str) or mode not in _MODES:
            raise ValueError(f"Received an invalid value for mode, expected 'max' or 'avg'. Received: mode={mode!r}")
        self.mode = mode
        self._cache = None

    def output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or min(input_shape[1:]) < self.size:
            raise self._shape_error(input_shape, f"(C, H, W) with H and W of at least size={self.size}")
        channels, height, width = input_shape
        return (channels, output_size(height, self.size, self.stride), output_size(width, self.size, self.stride))

    def reads(self, input_shape):
        """The windows' reach: with stride = size, a last row or column that fills no window is never read."""
        _, height, width = input_shape
        return tuple((output_size(length, self.size, self.stride) - 1) * self.stride + self.size
                     for length in (height, width))

    def _forward(self, x, training):
        if self.mode == "max":  # with the previous layer's ReLU, after the maxima (adjacent.py)
            out, self._cache = maxpool2d_forward(x, self.size, self.stride, relu=self._activation_before == "relu",
                                                 workspace=self.workspace(training))
            return out
        out, self._cache = _MODES[self.mode][0](x, self.size, self.stride)
        return out

    def _backward(self, grad_output):
        return _MODES[self.mode][1](grad_output, self._cache)

    def get_config(self):
        return {"size": self.size, "stride": self.stride, "mode": self.mode}
