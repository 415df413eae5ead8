"""GlobalAveragePooling: each channel's mean over the whole feature map."""
from ..functional.global_pool import global_avgpool2d_backward, global_avgpool2d_forward
from .base import Layer


class GlobalAveragePooling(Layer):
    """(N, C, H, W) -> (N, C): the mean over H and W, as Keras's GlobalAveragePooling2D on channels-first data."""

    sample_ndim = 3

    def __init__(self):
        super().__init__()
        self._cache = None

    def output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or min(input_shape) < 1:
            raise self._shape_error(input_shape, "(C, H, W)")
        return input_shape[:1]

    def _forward(self, x, training):
        out, self._cache = global_avgpool2d_forward(x)
        return out

    def _backward(self, grad_output):
        return global_avgpool2d_backward(grad_output, self._cache)
