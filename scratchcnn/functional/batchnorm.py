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


def _whole(array):
    """`total` for an unsplit batch: this batch's sum is the whole sum."""
    return array


def batch_moments(x, total=None):
    """x (N, C, ...) -> per-channel mean (C,), biased variance (C,) and the count m of values per channel.

    When x is one shard of a batch split across threads, `total(array)` returns the
    array summed over every shard (engine/threads.py: ShardSum), and the moments are the whole
    batch's: mean first, then the squared deviations from it (two passes, as x.var does).
    """
    total = _whole if total is None else total
    axes = _reduce_axes(x)
    m = int(total(xp.asarray([x.size // x.shape[1]]))[0])
    mean = total(x.sum(axis=axes)) / m
    deviations = x - _per_channel(mean, x.ndim)
    var = total((deviations * deviations).sum(axis=axes)) / m
    return mean.astype(x.dtype), var.astype(x.dtype), m


def batchnorm_forward(x, mean, var, weight, bias, eps, from_batch, count=None):
    """x (N, C, ...), mean/var/weight/bias (C,) -> out (N, C, ...), cache.

    from_batch says whether mean and var are this batch's own statistics (training),
    so that backward also differentiates through them, or fixed running ones (inference).
    count: the values per channel the statistics came from (more than x holds when x is one shard).
    """
    inv_std = 1.0 / xp.sqrt(var + eps)                                        # (C,)
    x_hat = (x - _per_channel(mean, x.ndim)) * _per_channel(inv_std, x.ndim)  # (N, C, ...)
    out = x_hat * _per_channel(weight, x.ndim) + _per_channel(bias, x.ndim)
    count = x.size // x.shape[1] if count is None else count
    return out, (x_hat, inv_std, weight, from_batch, count)


def batchnorm_backward(grad_out, cache, need_input_grad=True, total=None):
    """grad_out (N, C, ...) -> (dx (N, C, ...) or None, dweight (C,), dbias (C,)).

    With batch statistics, mean and var depend on every x, which gives the standard
        dx = weight * inv_std * (g - mean(g) - x_hat * mean(g * x_hat))
    (means per channel over the reduced axes); with fixed statistics, dx = weight * inv_std * g.
    For one shard of a split batch, `total` sums over the shards (see batch_moments): the
    means are the whole batch's, while dweight and dbias stay this shard's part of the sum.
    """
    x_hat, inv_std, weight, from_batch, m = cache
    axes, ndim = _reduce_axes(grad_out), grad_out.ndim
    dbias = grad_out.sum(axis=axes)                                           # (C,)
    dweight = (grad_out * x_hat).sum(axis=axes)                               # (C,)
    if not need_input_grad:
        return None, dweight, dbias
    scale = _per_channel(weight * inv_std, ndim)                              # (1, C, 1, 1)
    if not from_batch:
        return grad_out * scale, dweight, dbias
    sum_g, sum_g_x_hat = (_whole if total is None else total)(xp.stack([dbias, dweight]))
    centred = grad_out - _per_channel(sum_g / m, ndim) - x_hat * _per_channel(sum_g_x_hat / m, ndim)
    return centred * scale, dweight, dbias
