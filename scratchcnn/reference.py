"""The textbook engine: every operation of scratchcnn written the plain way, one screen each.

This is the readable twin of the fast engine, `scratchcnn.functional`. It has none of
the fast engine's devices (blocking, Winograd, space-to-depth, threads, scratch
buffers): a convolution is im2col and one matrix product, a pooling is im2col and a
max or a mean. The fast engine is tested against this module
(tests/reference/test_fast_vs_reference.py), and this module against PyTorch
(tests/reference/test_reference_vs_torch.py).

Every operation is a pair of pure functions, as in llm.c:

    out, cache = NAME_forward(x, ...)       cache: only what the backward pass reads
    grads = NAME_backward(grad_out, cache)  the gradients with respect to each forward input

Images are channels-first, (N, C, H, W). The functions work in the float dtype of their
inputs (float32 or float64) and return that dtype.
"""
import numpy as np


def _pair(value):
    """An int or an (a, b) pair -> (a, b)."""
    if np.ndim(value) == 0:
        return int(value), int(value)
    a, b = value
    return int(a), int(b)


# ---------------------------------------------------------------------------------------------------------------
# im2col: every kh x kw window of a padded batch as one row of a matrix


def im2col(x_padded, kh, kw, sh, sw):
    """x_padded (N, C, Hp, Wp) -> cols (N*OH*OW, C*kh*kw).

    Row (n, oh, ow) holds the window whose top-left corner is x_padded[n, :, oh*sh, ow*sw];
    its columns are ordered (c, i, j), as weight (F, C, kh, kw) flattens, so a convolution
    is cols @ weight.reshape(F, -1).T. Pixels past the last full window are never read.
    """
    n, c, hp, wp = x_padded.shape
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    windows = np.empty((n, c, kh, kw, oh, ow), x_padded.dtype)
    for i in range(kh):      # one strided slice per kernel offset (i, j): element (i, j) of every window
        for j in range(kw):
            windows[:, :, i, j] = x_padded[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]  # (N, C, OH, OW)
    return windows.transpose(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, c * kh * kw)


def col2im(cols, padded_shape, kh, kw, sh, sw):
    """The adjoint of im2col: cols (N*OH*OW, C*kh*kw) -> (N, C, Hp, Wp), overlapping windows summed."""
    n, c, hp, wp = padded_shape
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    windows = cols.reshape(n, oh, ow, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)  # (N, C, kh, kw, OH, OW)
    x_padded = np.zeros(padded_shape, cols.dtype)
    for i in range(kh):
        for j in range(kw):
            x_padded[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += windows[:, :, i, j]
    return x_padded


# ---------------------------------------------------------------------------------------------------------------
# convolution


def conv2d_forward(x, weight, bias, stride=1, padding=0):
    """x (N, C, H, W), weight (F, C, kh, kw), bias (F,) -> out (N, F, OH, OW), cache.

    Cross-correlation, as torch.nn.functional.conv2d; stride and padding are ints or (h, w) pairs;
    OH = (H + 2*ph - kh) // sh + 1, and likewise OW.
    """
    num_filters, _, kh, kw = weight.shape
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    n, _, h, w = x.shape
    x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))             # (N, C, H+2ph, W+2pw)
    cols = im2col(x_padded, kh, kw, sh, sw)                                 # (N*OH*OW, C*kh*kw)
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    w_mat = weight.reshape(num_filters, -1)                                 # (F, C*kh*kw)
    out = cols @ w_mat.T + bias                                             # (N*OH*OW, F)
    out = np.ascontiguousarray(out.reshape(n, oh, ow, num_filters).transpose(0, 3, 1, 2))  # (N, F, OH, OW)
    cache = (cols, weight, x_padded.shape, (sh, sw), (ph, pw))
    return out, cache


def conv2d_backward(grad_out, cache):
    """grad_out (N, F, OH, OW) -> (dx (N, C, H, W), dweight (F, C, kh, kw), dbias (F,))."""
    cols, weight, padded_shape, (sh, sw), (ph, pw) = cache
    num_filters, _, kh, kw = weight.shape
    g = grad_out.transpose(0, 2, 3, 1).reshape(-1, num_filters)            # (N*OH*OW, F), rows as cols's
    dweight = (g.T @ cols).reshape(weight.shape)                            # (F, C, kh, kw)
    dbias = g.sum(axis=0)                                                   # (F,)
    dcols = g @ weight.reshape(num_filters, -1)                             # (N*OH*OW, C*kh*kw)
    dx_padded = col2im(dcols, padded_shape, kh, kw, sh, sw)                 # (N, C, Hp, Wp)
    hp, wp = padded_shape[2:]
    dx = dx_padded[:, :, ph:hp - ph, pw:wp - pw]                            # (N, C, H, W): the padding dropped
    return np.ascontiguousarray(dx), dweight, dbias


# ---------------------------------------------------------------------------------------------------------------
# pooling: each channel's windows are the rows of im2col over one-channel images


def _pool_windows(x, size, stride):
    """x (N, C, H, W) -> windows (N*C*OH*OW, size*size), each row one window in row-major order; OH, OW."""
    n, c, h, w = x.shape
    oh, ow = (h - size) // stride + 1, (w - size) // stride + 1
    return im2col(x.reshape(n * c, 1, h, w), size, size, stride, stride), (oh, ow)


def _pool_unwindows(dwindows, x_shape, size, stride):
    """The adjoint of _pool_windows: (N*C*OH*OW, size*size) -> dx (N, C, H, W)."""
    n, c, h, w = x_shape
    return col2im(dwindows, (n * c, 1, h, w), size, size, stride, stride).reshape(x_shape)


def maxpool2d_forward(x, size, stride):
    """x (N, C, H, W) -> out (N, C, OH, OW), the maximum of each size x size window, cache.

    No padding; OH = (H - size) // stride + 1. A window holding NaN has the maximum NaN.
    """
    n, c = x.shape[:2]
    windows, (oh, ow) = _pool_windows(x, size, stride)                      # (N*C*OH*OW, size*size)
    out = windows.max(axis=1).reshape(n, c, oh, ow)
    # argmax returns the first maximum in the row: ties go to the first in row-major order, as in PyTorch
    winner = windows.argmax(axis=1)                                         # (N*C*OH*OW,)
    return out, (winner, x.shape, size, stride)


def maxpool2d_backward(grad_out, cache):
    """grad_out (N, C, OH, OW) -> dx (N, C, H, W): each window's gradient goes whole to its winner.

    Overlapping windows (stride < size) that share a winner add their gradients there.
    """
    winner, x_shape, size, stride = cache
    dwindows = np.zeros((winner.size, size * size), grad_out.dtype)        # (N*C*OH*OW, size*size)
    dwindows[np.arange(winner.size), winner] = grad_out.reshape(-1)
    return _pool_unwindows(dwindows, x_shape, size, stride)


def avgpool2d_forward(x, size, stride):
    """x (N, C, H, W) -> out (N, C, OH, OW), the mean of each size x size window, cache."""
    n, c = x.shape[:2]
    windows, (oh, ow) = _pool_windows(x, size, stride)                      # (N*C*OH*OW, size*size)
    return windows.mean(axis=1).reshape(n, c, oh, ow), (x.shape, size, stride)


def avgpool2d_backward(grad_out, cache):
    """grad_out (N, C, OH, OW) -> dx (N, C, H, W): each window's gradient spread evenly over its size*size."""
    x_shape, size, stride = cache
    share = grad_out.reshape(-1, 1) / (size * size)                         # (N*C*OH*OW, 1)
    dwindows = np.broadcast_to(share, (share.shape[0], size * size))
    return _pool_unwindows(dwindows, x_shape, size, stride)


def global_avgpool2d_forward(x):
    """x (N, C, H, W) -> out (N, C), each channel's mean over its whole H x W map; cache (x's shape)."""
    return x.mean(axis=(2, 3)), x.shape


def global_avgpool2d_backward(grad_out, cache):
    """grad_out (N, C) -> dx (N, C, H, W): every position gets 1/(H*W) of its channel's gradient."""
    n, c, h, w = cache
    return np.broadcast_to(grad_out[:, :, None, None] / (h * w), (n, c, h, w)).copy()


def flatten_forward(x):
    """x (N, C, H, W) -> out (N, C*H*W) in C order (channel, then row, then column); cache (x's shape)."""
    return x.reshape(len(x), -1), x.shape


def flatten_backward(grad_out, cache):
    """grad_out (N, C*H*W) -> dx (N, C, H, W)."""
    return grad_out.reshape(cache)


# ---------------------------------------------------------------------------------------------------------------
# fully connected


def dense_forward(x, weight, bias):
    """x (N, I), weight (I, O), bias (O,) -> out = x @ weight + bias (N, O), cache."""
    return x @ weight + bias, (x, weight)


def dense_backward(grad_out, cache):
    """grad_out (N, O) -> (dx (N, I), dweight (I, O), dbias (O,))."""
    x, weight = cache
    return grad_out @ weight.T, x.T @ grad_out, grad_out.sum(axis=0)


# ---------------------------------------------------------------------------------------------------------------
# activations: NAME_forward(z) -> (out, cache), NAME_backward(grad_out, cache) -> dz

LEAKY_SLOPE = 0.01  # PyTorch's default negative_slope


def linear_forward(z):
    return z, None


def linear_backward(grad_out, cache):
    return grad_out


def relu_forward(z):
    return np.maximum(z, 0), z


def relu_backward(grad_out, z):
    return grad_out * (z > 0)  # the kink at 0 takes slope 0, as in PyTorch


def leakyrelu_forward(z):
    return np.where(z > 0, z, LEAKY_SLOPE * z), z


def leakyrelu_backward(grad_out, z):
    return np.where(z > 0, grad_out, LEAKY_SLOPE * grad_out)  # slope LEAKY_SLOPE at 0, as in PyTorch


def sigmoid_forward(z):
    """1 / (1 + exp(-z)), written so exp only sees -|z| and never overflows (z = +-1000 gives 1 and 0)."""
    e = np.exp(-np.abs(z))
    s = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    return s, s


def sigmoid_backward(grad_out, s):
    return grad_out * s * (1 - s)


def tanh_forward(z):
    t = np.tanh(z)
    return t, t


def tanh_backward(grad_out, t):
    return grad_out * (1 - t * t)


def softmax_forward(z):
    """Softmax over the last axis; shifting by the row maximum changes nothing but keeps exp from overflowing."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    return p, p


def softmax_backward(grad_out, p):
    """The Jacobian-vector product: dz_i = sum_j g_j dp_j/dz_i = p_i (g_i - sum_j g_j p_j), per row."""
    return p * (grad_out - (grad_out * p).sum(axis=-1, keepdims=True))


ACTIVATIONS = {
    "linear": (linear_forward, linear_backward),
    "relu": (relu_forward, relu_backward),
    "leakyrelu": (leakyrelu_forward, leakyrelu_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
    "softmax": (softmax_forward, softmax_backward),
}


# ---------------------------------------------------------------------------------------------------------------
# losses, next to their gradients with respect to the logits

EPSILON = 1e-7  # probabilities are clipped to [EPSILON, 1 - EPSILON] so no log(0) is taken


def categorical_crossentropy(y_true, probs):
    """y_true (N, K) one-hot (or any distribution), probs (N, K) -> mean over rows of -sum_k y_k log p_k."""
    p = np.clip(probs, EPSILON, 1 - EPSILON)
    return -(y_true * np.log(p)).sum(axis=-1).mean()


def softmax_crossentropy_backward(probs, y_true):
    """probs = softmax(logits) (N, K) -> d categorical_crossentropy / d logits = (probs - y_true) / N.

    The softmax's Jacobian and the loss's -y/p cancel to this when each row of y_true sums to 1.
    """
    return (probs - y_true) / len(probs)


def bce(y_true, probs):
    """Binary cross-entropy, the mean over every element of -(y log p + (1 - y) log(1 - p))."""
    p = np.clip(probs, EPSILON, 1 - EPSILON)
    return -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)).mean()


def sigmoid_bce_backward(probs, y_true):
    """probs = sigmoid(logits) (any shape) -> d bce / d logits = (probs - y_true) / probs.size.

    The sigmoid's derivative p (1 - p) cancels the loss's denominator.
    """
    return (probs - y_true) / probs.size


# ---------------------------------------------------------------------------------------------------------------
# batch normalisation


def _per_channel(v, ndim):
    """(C,) -> (1, C) or (1, C, 1, 1): broadcasts against an input of rank ndim."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def batchnorm_forward(x, weight, bias, eps, running_mean=None, running_var=None):
    """x (N, C) or (N, C, H, W), weight and bias (C,) -> out (x's shape), cache (a dict).

        x_hat = (x - mean) / sqrt(var + eps),   out = weight * x_hat + bias

    Statistics are per channel, over every axis but 1: m = N or N*H*W values each.
    Training form (running_mean is None): this batch's mean and biased (1/m) variance,
    which backward then differentiates through. Inference form: the running statistics
    given, constants. Besides what backward reads, the cache holds "mean", "var" (biased)
    and "count" (m), from which a layer updates its running statistics
    (PyTorch: running_var from the unbiased var * m / (m - 1)).
    """
    axes = (0, *range(2, x.ndim))
    count = x.size // x.shape[1]
    training = running_mean is None
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)                     # (C,), (C,): biased
    else:
        mean, var = running_mean, running_var
    inv_std = 1 / np.sqrt(var + eps)                                        # (C,)
    x_hat = (x - _per_channel(mean, x.ndim)) * _per_channel(inv_std, x.ndim)  # x's shape
    out = _per_channel(weight, x.ndim) * x_hat + _per_channel(bias, x.ndim)
    cache = {"x_hat": x_hat, "inv_std": inv_std, "weight": weight, "training": training,
             "mean": mean, "var": var, "count": count}
    return out, cache


def batchnorm_backward(grad_out, cache):
    """grad_out (x's shape) -> (dx, dweight (C,), dbias (C,)).

    Training form: mean and var depend on every x of the channel, which gives
        dx = weight * inv_std * (g - mean(g) - x_hat * mean(g * x_hat))   (means per channel)
    Inference form: the statistics are constants and dx = weight * inv_std * g.
    """
    x_hat, inv_std, weight = cache["x_hat"], cache["inv_std"], cache["weight"]
    ndim = grad_out.ndim
    axes = (0, *range(2, ndim))
    dbias = grad_out.sum(axis=axes)                                         # (C,)
    dweight = (grad_out * x_hat).sum(axis=axes)                             # (C,)
    scale = _per_channel(weight * inv_std, ndim)
    if not cache["training"]:
        return grad_out * scale, dweight, dbias
    m = cache["count"]
    centred = grad_out - _per_channel(dbias / m, ndim) - x_hat * _per_channel(dweight / m, ndim)
    return centred * scale, dweight, dbias


# ---------------------------------------------------------------------------------------------------------------
# inverted dropout


def dropout_mask(uniform, rate, dtype):
    """uniform: draws in [0, 1) (any shape) -> mask: 1 / (1 - rate) where uniform >= rate, else 0, in dtype.

    Each element is kept with probability 1 - rate and then scaled by 1 / (1 - rate), so its
    expected value stays the same and inference is the identity (PyTorch's convention).
    """
    dtype = np.dtype(dtype)
    return (uniform >= rate).astype(dtype) * dtype.type(1 / (1 - rate))


def dropout_forward(x, mask):
    """x (any shape), mask (x's shape, from dropout_mask) -> out = x * mask, cache (the mask)."""
    return x * mask, mask


def dropout_backward(grad_out, mask):
    """grad_out (x's shape) -> dx: the gradient flows through the kept elements only, scaled alike."""
    return grad_out * mask
