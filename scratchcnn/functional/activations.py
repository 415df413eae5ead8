"""Element-wise activations and softmax, each forward beside its backward.

Every forward returns (out, cache); every backward takes (grad_out, cache) and
returns the gradient with respect to the forward's input. A forward called with
inplace=True may write its result over z (the caller no longer needs z); those
that need z for their backward ignore the permission.
"""
from ..backend import xp

LEAKY_SLOPE = 0.01  # PyTorch's default negative_slope


def linear_forward(z, inplace=False):
    return z, None


def linear_backward(grad_out, cache):
    return grad_out


def relu_forward(z, inplace=False):
    a = xp.maximum(z, 0, out=z if inplace else None)
    return a, a


def relu_backward(grad_out, a):
    return grad_out * (a > 0)


def leakyrelu_forward(z, inplace=False):
    return xp.where(z > 0, z, z * LEAKY_SLOPE), z


def leakyrelu_backward(grad_out, z):
    return grad_out * xp.where(z > 0, 1.0, LEAKY_SLOPE).astype(grad_out.dtype)


def sigmoid(z):
    """1 / (1 + exp(-z)) without overflow: exp only ever sees -|z|."""
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_forward(z, inplace=False):
    s = sigmoid(z)
    return s, s


def sigmoid_backward(grad_out, s):
    return grad_out * s * (1 - s)


def tanh_forward(z, inplace=False):
    t = xp.tanh(z, out=z if inplace else None)
    return t, t


def tanh_backward(grad_out, t):
    return grad_out * (1 - t * t)


def softmax(z):
    """Softmax over the last axis, shifted by the row maximum so exp never overflows."""
    e = xp.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_forward(z, inplace=False):
    p = softmax(z)
    return p, p


def softmax_backward(grad_out, p):
    # Jacobian-vector product of softmax: p * (g - <g, p>) per row.
    return p * (grad_out - (grad_out * p).sum(axis=-1, keepdims=True))


ACTIVATIONS = {
    "linear": (linear_forward, linear_backward),
    "relu": (relu_forward, relu_backward),
    "leakyrelu": (leakyrelu_forward, leakyrelu_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
    "softmax": (softmax_forward, softmax_backward),
}


# Other spellings accepted for the canonical names above (Keras's 'leaky_relu'); matched case-insensitively.
ALIASES = {"leaky_relu": "leakyrelu"}


def activation_name(name):
    """Canonical activation name, case-insensitively, with Keras's spellings: None means 'linear',
    'leaky_relu' (or 'LeakyReLU') is 'leakyrelu'; unknown names raise ValueError."""
    name = "linear" if name is None else name
    canonical = ALIASES.get(name.lower(), name.lower()) if isinstance(name, str) else None
    if canonical not in ACTIVATIONS:
        raise ValueError(
            f"Received an invalid value for activation, expected one of {sorted(ACTIVATIONS)} "
            f"(or {sorted(ALIASES)}) or None. Received: activation={name!r}"
        )
    return canonical
