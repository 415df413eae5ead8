"""The forward and backward passes through a network's layers, as the plan says each one runs."""
import time

from ..backend import xp
from ..layers.base import BuiltinLayer


class Passes:
    """`forward(x, training)` and `backward(grad_output)` through `layers`, batches (N, ...), following `plan`.

    Built-in layers get their LayerPlan; a user's layer is called through its own
    forward(x, training) and backward(grad_output). With `timings` (a list of
    [forward s, backward s] per layer) each layer's time is added to its entry (the profiler).
    """

    def __init__(self, layers, plan):
        self.layers, self.plan = layers, plan
        self.builtin = [isinstance(layer, BuiltinLayer) for layer in layers]

    def forward(self, x, training, timings=None):
        for index, layer in enumerate(self.layers):
            start = time.perf_counter() if timings is not None else 0.0
            crop = self.plan.crops[index]
            if crop is not None:  # the leading part of the input that the next layer's reads depend on
                x = x[:, :, :crop[0], :crop[1]]
            if self.builtin[index]:
                x = layer.forward(x, training, plan=self.plan.layers[index])
            else:
                x = layer.forward(x, training)
            if timings is not None:
                timings[index][0] += time.perf_counter() - start
        return x

    def backward(self, grad_output, from_logits=False, timings=None):
        """d loss / d output -> d loss / d input; with from_logits, grad_output is d loss / d the last
        layer's pre-activation (the fused softmax/sigmoid + cross-entropy gradient)."""
        for index in reversed(range(len(self.layers))):
            layer = self.layers[index]
            start = time.perf_counter() if timings is not None else 0.0
            layer_plan = self.plan.layers[index]
            if from_logits and index == len(self.layers) - 1:
                grad_output = layer.backward_preactivation(grad_output, layer_plan)
            elif self.builtin[index]:
                grad_output = layer.backward(grad_output, plan=layer_plan)
            else:
                grad_output = layer.backward(grad_output)
            if self.plan.crops[index] is not None and grad_output is not None:
                grad_output = _pad_to(grad_output, self.plan.input_shapes[index])
            if timings is not None:
                timings[index][1] += time.perf_counter() - start
        return grad_output


def _pad_to(grad_input, input_shape):
    """The gradient of a cropped input, zero-padded back to the whole input's (H, W)."""
    full = xp.zeros((len(grad_input), *input_shape), dtype=grad_input.dtype)
    full[:, :, :grad_input.shape[2], :grad_input.shape[3]] = grad_input
    return full
