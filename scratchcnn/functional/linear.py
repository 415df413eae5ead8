"""Fully connected layer math: out = x @ W + b, weight stored (in_features, out_features)."""
from ..backend import xp


def linear_forward(x, weight, bias):
    """x (N, I), weight (I, O), bias (O,) -> out (N, O), cache."""
    return x @ weight + bias, (x, weight)


def linear_backward(grad_out, cache, need_input_grad=True):
    """grad_out (N, O) -> (dx (N, I) or None, dweight (I, O), dbias (O,))."""
    x, weight = cache
    dx = grad_out @ weight.T if need_input_grad else None
    # dot, not matmul: NumPy's matmul takes a slow path for the thin (N small) outer products of batch-1 SGD.
    return dx, xp.dot(x.T, grad_out), grad_out.sum(axis=0)
