"""Dense (fully connected) layers; MultiClassDense ends a classifier with softmax."""
from .. import functional, initializers, reference
from ..inputs import check_int
from .base import ActivatedLayer, Parameter


class Dense(ActivatedLayer):
    """(N, input_dim) -> (N, output_dim): activation(x @ weight + bias), weight (input_dim, output_dim).

    The math: `scratchcnn.reference.dense_forward` / `dense_backward`. The fast engine:
    `scratchcnn.functional.linear_forward` / `linear_backward`.
    """

    sample_ndim = 1

    def __init__(self, input_dim, output_dim, activation="relu"):
        super().__init__(activation)
        self.input_dim = check_int("input_dim", input_dim)
        self.output_dim = check_int("output_dim", output_dim)
        self.weight = Parameter(initializers.zeros((self.input_dim, self.output_dim)), "weight")
        self.bias = Parameter(initializers.zeros((self.output_dim,)), "bias")
        self.reset_parameters()
        self._cache = None

    def reset_parameters(self, rng=None):
        rng = initializers.as_generator(rng)
        dtype = self.weight.value.dtype
        self.weight.value = initializers.for_activation(
            self.activation, self.weight.shape, self.input_dim, self.output_dim, rng, dtype)
        self.bias.value = initializers.zeros(self.bias.shape, dtype)

    def output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if input_shape != (self.input_dim,):
            raise self._shape_error(input_shape, f"({self.input_dim},) (input_dim={self.input_dim})")
        return (self.output_dim,)

    def _linear_forward(self, x, training, plan):
        engine_forward = reference.dense_forward if plan.reference else functional.linear_forward
        z, self._cache = engine_forward(x, self.weight.value, self.bias.value)
        return z

    def _linear_backward(self, grad_z, plan):
        if plan.reference:
            dx, dweight, dbias = reference.dense_backward(grad_z, self._cache)
        else:
            dx, dweight, dbias = functional.linear_backward(grad_z, self._cache, plan.need_input_grad)
        self._set_grad(self.weight, dweight)
        self._set_grad(self.bias, dbias)
        return dx

    def get_config(self):
        return {"input_dim": self.input_dim, "output_dim": self.output_dim, "activation": self.activation}


class MultiClassDense(Dense):
    """(N, input_dim) -> (N, num_classes) class probabilities: Dense followed by softmax."""

    def __init__(self, input_dim, num_classes):
        super().__init__(input_dim, check_int("num_classes", num_classes), activation="softmax")

    @property
    def num_classes(self):
        return self.output_dim

    def get_config(self):
        return {"input_dim": self.input_dim, "num_classes": self.output_dim}
