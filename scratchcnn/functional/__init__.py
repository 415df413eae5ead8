"""Pure array math: every operation's forward next to its backward."""
from .activations import ACTIVATIONS, activation_name, sigmoid, softmax
from .conv import conv2d_backward, conv2d_forward
from .linear import linear_backward, linear_forward
from .pool import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward
from .windows import output_size

__all__ = [
    "ACTIVATIONS", "activation_name", "sigmoid", "softmax",
    "conv2d_forward", "conv2d_backward", "linear_forward", "linear_backward",
    "maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward",
    "output_size",
]
