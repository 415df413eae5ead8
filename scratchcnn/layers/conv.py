"""ConvLayer: 2-D convolution with a fused activation (ReLU by default, as in the report)."""
from .. import initializers
from ..functional import conv2d_backward, conv2d_forward, output_size
from ..inputs import check_int
from .base import ActivatedLayer, Parameter


class ConvLayer(ActivatedLayer):
    """(N, depth, H, W) -> (N, num_filters, OH, OW), OH = (H + 2*padding - filter_size)//stride + 1.

    Parameters `weight` (num_filters, depth, filter_size, filter_size) and `bias`
    (num_filters,), in PyTorch's Conv2d layout.
    """

    sample_ndim = 3

    def __init__(self, filter_size, depth, num_filters, stride=1, padding=0, activation="relu"):
        super().__init__(activation)
        self.filter_size = check_int("filter_size", filter_size)
        self.depth = check_int("depth", depth)
        self.num_filters = check_int("num_filters", num_filters)
        self.stride = check_int("stride", stride)
        self.padding = check_int("padding", padding, minimum=0)
        k = self.filter_size
        self.weight = Parameter(initializers.zeros((self.num_filters, self.depth, k, k)), "weight")
        self.bias = Parameter(initializers.zeros((self.num_filters,)), "bias")
        self.reset_parameters()
        self._cache = None

    def reset_parameters(self, rng=None):
        rng = initializers.as_generator(rng)
        fan_in = self.depth * self.filter_size ** 2
        fan_out = self.num_filters * self.filter_size ** 2
        dtype = self.weight.value.dtype
        self.weight.value = initializers.for_activation(self.activation, self.weight.shape, fan_in, fan_out, rng, dtype)
        self.bias.value = initializers.zeros(self.bias.shape, dtype)

    def output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[0] != self.depth:
            raise self._shape_error(input_shape, f"(depth={self.depth}, H, W): images channels-first, "
                                                 "batched (N, C, H, W) or one sample (C, H, W)")
        height, width = input_shape[1:]
        k, s, p = self.filter_size, self.stride, self.padding
        if min(height, width) + 2 * p < k:
            raise self._shape_error(input_shape, f"H and W of at least {k - 2 * p} for filter_size={k}, padding={p}")
        return (self.num_filters, output_size(height, k, s, p), output_size(width, k, s, p))

    def reads_for_outputs(self, input_shape, rows, cols):
        """Without padding, the first rows x cols outputs read the input's first (rows-1)*stride + filter_size
        rows and the like columns. (With padding the crop would move the bottom and right zeros: not done.)"""
        if self.padding:
            return None
        return ((rows - 1) * self.stride + self.filter_size, (cols - 1) * self.stride + self.filter_size)

    def _linear_forward(self, x, training):
        z, self._cache = conv2d_forward(x, self.weight.value, self.bias.value, self.stride, self.padding,
                                       self.workspace(training), keep_columns=bool(training))
        return z

    def _linear_backward(self, grad_z):
        dx, dweight, dbias = conv2d_backward(grad_z, self._cache, self.need_input_grad)
        self._set_grad(self.weight, dweight)
        self._set_grad(self.bias, dbias)
        return dx

    def get_config(self):
        return {"filter_size": self.filter_size, "depth": self.depth, "num_filters": self.num_filters,
                "stride": self.stride, "padding": self.padding, "activation": self.activation}
