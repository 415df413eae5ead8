"""Batch normalisation over the batch (and spatial) axes, per channel, forward beside backward.

x is (N, C) or (N, C, H, W); statistics are per channel C, taken over every other
axis (0 for (N, C); 0, 2, 3 for (N, C, H, W)), so m = N or N*H*W values each.
NumPy reduces over any strides, so NCHW views of channels-last memory need no copy.

    x_hat = (x - mean) / sqrt(var + eps)        var: the biased (1/m) variance
    out   = weight * x_hat + bias
"""
from ..backend import xp


def _reduce_axes(x):
    """Every axis except the channel axis 1: (0,) for (N, C), (0, 2, 3) for (N, C, H, W)."""
    return (0, *range(2, x.ndim))


def _per_channel(v, ndim):
    """(C,) -> (1, C) or (1, C, 1, 1), broadcasting against an input of rank ndim."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def batch_moments(x):
    """x (N, C, ...) -> per-channel mean (C,), biased variance (C,) and the count m of values per channel."""
    axes = _reduce_axes(x)
    return x.mean(axis=axes), x.var(axis=axes), x.size // x.shape[1]


def batchnorm_forward(x, mean, var, weight, bias, eps, from_batch):
    """x (N, C, ...), mean/var/weight/bias (C,) -> out (N, C, ...), cache.

    from_batch says whether mean and var are this batch's own statistics (training),
    so that backward also differentiates through them, or fixed running ones (inference).
    """
    inv_std = 1.0 / xp.sqrt(var + eps)                                        # (C,)
    x_hat = (x - _per_channel(mean, x.ndim)) * _per_channel(inv_std, x.ndim)  # (N, C, ...)
    out = x_hat * _per_channel(weight, x.ndim) + _per_channel(bias, x.ndim)
    return out, (x_hat, inv_std, weight, from_batch)


def batchnorm_backward(grad_out, cache, need_input_grad=True):
    """grad_out (N, C, ...) -> (dx (N, C, ...) or None, dweight (C,), dbias (C,)).

    With batch statistics, mean and var depend on every x, which gives the standard
        dx = weight * inv_std * (g - mean(g) - x_hat * mean(g * x_hat))
    (means per channel over the reduced axes); with fixed statistics, dx = weight * inv_std * g.
    """
    x_hat, inv_std, weight, from_batch = cache
    axes, ndim = _reduce_axes(grad_out), grad_out.ndim
    dbias = grad_out.sum(axis=axes)                                           # (C,)
    dweight = (grad_out * x_hat).sum(axis=axes)                               # (C,)
    if not need_input_grad:
        return None, dweight, dbias
    scale = _per_channel(weight * inv_std, ndim)                              # (1, C, 1, 1)
    if not from_batch:
        return grad_out * scale, dweight, dbias
    m = grad_out.size // grad_out.shape[1]
    centred = grad_out - _per_channel(dbias / m, ndim) - x_hat * _per_channel(dweight / m, ndim)
    return centred * scale, dweight, dbias
