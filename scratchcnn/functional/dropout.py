"""Inverted dropout: zero each element with probability rate, scale the survivors by 1 / (1 - rate).

Scaling at training time keeps every element's expected value, so inference is the identity.
"""
from ..backend import xp


def dropout_forward(x, rate, rng, uniform=None):
    """x (any shape), rate in [0, 1), rng a numpy Generator -> out (same shape), mask.

    mask holds 0 for dropped elements and 1 / (1 - rate) for kept ones, in x's dtype;
    out = x * mask, exactly as PyTorch scales (its noise is bernoulli(1 - p) / (1 - p)).
    `uniform` (x's shape, in [0, 1)) are draws made ahead, used instead of drawing from rng.
    """
    uniform = rng.random(x.shape) if uniform is None else uniform
    keep = xp.asarray(uniform >= rate)                                        # P(keep) = 1 - rate
    mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - rate))
    return x * mask, mask


def dropout_backward(grad_out, mask):
    """grad_out (same shape as x) -> dx: the gradient flows only through kept elements, scaled alike."""
    return grad_out * mask
