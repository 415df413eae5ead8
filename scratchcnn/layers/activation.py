"""Activation: a standalone activation function as its own layer."""
from .base import ActivatedLayer


class Activation(ActivatedLayer):
    """(N, ...) -> (N, ...): relu, leakyrelu, sigmoid, tanh or linear element-wise; softmax over F of (N, F) only.

    The input is always a batch, so it cannot be a Network's first layer. It is an
    ActivatedLayer whose linear part is the identity, so a final Activation('softmax')
    takes the fused softmax + cross-entropy gradient. The math:
    `scratchcnn.reference.ACTIVATIONS`; the fast engine: `scratchcnn.functional.ACTIVATIONS`.
    """

    owns_preactivation = False  # its "pre-activation" is the input itself, which the layer before may still hold

    def __init__(self, name):
        super().__init__(name)

    def output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.activation == "softmax" and len(input_shape) != 1:
            raise self._shape_error(input_shape, "(F,) in a batch (N, F): softmax runs over the last axis of 2-D input")
        return input_shape

    def _linear_forward(self, x, training, plan):
        return x

    def _linear_backward(self, grad_z, plan):
        return grad_z

    def get_config(self):
        return {"name": self.activation}
