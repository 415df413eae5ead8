"""ConvLayer: 2-D convolution with a fused activation (ReLU by default, as in the report)."""
from .. import functional, initializers, reference
from ..functional import output_size
from ..inputs import check_int
from .base import ActivatedLayer, Parameter


class ConvLayer(ActivatedLayer):
    """(N, depth, H, W) -> (N, num_filters, OH, OW), OH = (H + 2*padding - filter_size)//stride + 1.

    Parameters `weight` (num_filters, depth, filter_size, filter_size) and `bias`
    (num_filters,), in PyTorch's Conv2d layout.

    The math: `scratchcnn.reference.conv2d_forward` / `conv2d_backward` (im2col and one
    matrix product). The fast engine: `scratchcnn.functional.conv2d_forward` /
    `conv2d_backward`, which pick im2col in cache-sized blocks, Winograd or space-to-depth.
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

    def _linear_forward(self, x, training, plan):
        weight, bias = self.weight.value, self.bias.value
        if plan.reference:
            z, self._cache = reference.conv2d_forward(x, weight, bias, self.stride, self.padding)
        else:
            z, self._cache = functional.conv2d_forward(x, weight, bias, self.stride, self.padding,
                                                       plan.workspace(training), keep_columns=bool(training))
        return z

    def _linear_backward(self, grad_z, plan):
        if plan.reference:
            dx, dweight, dbias = reference.conv2d_backward(grad_z, self._cache)
        else:
            dx, dweight, dbias = functional.conv2d_backward(grad_z, self._cache, plan.need_input_grad)
        self._set_grad(self.weight, dweight)
        self._set_grad(self.bias, dbias)
        return dx

    def get_config(self):
        return {"filter_size": self.filter_size, "depth": self.depth, "num_filters": self.num_filters,
                "stride": self.stride, "padding": self.padding, "activation": self.activation}
