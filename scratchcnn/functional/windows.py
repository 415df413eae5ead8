"""Sliding windows over images and their adjoint, shared by convolution and pooling.

Inside the functional layer images are channels-last, (N, H, W, C): a window of
(kh, kw, C) is then a run of contiguous channel vectors, which makes im2col's copy
cheap. The public layers stay channels-first and transpose at their edge.
"""
from ..backend import xp


def output_size(size, kernel_size, stride, padding=0):
    """Spatial output length of a window sweep: (size + 2*padding - kernel_size) // stride + 1."""
    return (size + 2 * padding - kernel_size) // stride + 1


FEW_CHANNELS = 4  # up to this many channels, a channel-at-a-time copy makes channels-last faster than one transpose


def copy_to_channels_last(out, x):
    """Copy x (N, C, H, W), any strides, into out (N, H, W, C).

    With few channels the copy goes a channel at a time: each is one long strided
    run, where a whole transpose would move only C values per inner loop.
    """
    if x.shape[1] <= FEW_CHANNELS:
        for channel in range(x.shape[1]):
            out[..., channel] = x[:, channel]
    else:
        out[...] = x.transpose(0, 2, 3, 1)


def channels_last(x, padding=0):
    """(N, C, H, W) -> contiguous channels-last (N, H + 2*padding, W + 2*padding, C) with zero borders.

    A view when x is already channels-last memory and needs no padding (a previous
    layer's output usually is); otherwise one copy.
    """
    n, c, h, w = x.shape
    x_nhwc = x.transpose(0, 2, 3, 1)
    if padding == 0 and x_nhwc.flags.c_contiguous:
        return x_nhwc
    p = padding
    out = (xp.zeros if p else xp.empty)((n, h + 2 * p, w + 2 * p, c), dtype=x.dtype)
    copy_to_channels_last(out[:, p:p + h, p:p + w, :], x)
    return out


def space_to_depth(x, block, rows, cols, out=None):
    """The first rows x cols pixels (multiples of `block`) of x (N, C, H, W) -> channels-last (N, rows/b, cols/b, b*b*C),
    written into `out` (contiguous, of that shape) if given.

    Each block x block square of pixels becomes one pixel of b*b*C channels, ordered
    (column in the block, row in the block, channel): out[n, i, j, (v, u, c)] = x[n, c, i*b + u, j*b + v].
    In that order the pixels of one input row, j*b + v, land b*C values apart, so each row of
    blocks is a channels-last copy of the input rows i*b + u (one per u) over all the columns:
    half as many runs, each twice as long, as the (u, v, c) order, which reads every other pixel.
    """
    n, c = x.shape[:2]
    b = block
    if out is None:
        out = xp.empty((n, rows // b, cols // b, b * b * c), dtype=x.dtype)
    out = out.reshape(n, rows // b, cols // b, b, b, c)                  # (v, u, c) inside a block
    by_column = out.reshape(n, rows // b, cols, b, c)                    # (j, v) merged: the input's columns
    for u in range(b):
        copy_to_channels_last(by_column[:, :, :, u, :], x[:, :, u:rows:b, :cols])
    return out.reshape(n, rows // b, cols // b, b * b * c)


def depth_to_space(y, block, channels):
    """Inverse of space_to_depth: (N, R, S, b*b*C) -> channels-last (N, R*b, S*b, C)."""
    n, r, s, _ = y.shape
    b = block
    return y.reshape(n, r, s, b, b, channels).transpose(0, 1, 4, 2, 3, 5).reshape(n, r * b, s * b, channels)


def extract_windows(x, kernel_size, stride):
    """A read-only view (N, OH, OW, k, k, C) of every k x k window of x (N, H, W, C)."""
    n, h, w, c = x.shape
    k = kernel_size
    oh, ow = output_size(h, k, stride), output_size(w, k, stride)
    sn, sh, sw, sc = x.strides
    return xp.lib.stride_tricks.as_strided(
        x, shape=(n, oh, ow, k, k, c), strides=(sn, sh * stride, sw * stride, sh, sw, sc), writeable=False
    )


def fold_windows(offset_values, height, width, stride, out=None):
    """Adjoint of extract_windows: sum per-offset values (k, k, N, OH, OW, C) back into (N, H, W, C).

    Offset-major input makes each of the k*k strided adds read one contiguous
    block, and overlapping windows accumulate correctly; no Python loop runs over
    samples or pixels. With `out` (N, H, W, C) the sums are added to it in place.
    """
    k, _, n, oh, ow, c = offset_values.shape
    if out is None:
        out = xp.zeros((n, height, width, c), dtype=offset_values.dtype)
    for i in range(k):
        rows = slice(i, i + stride * (oh - 1) + 1, stride)
        for j in range(k):
            cols = slice(j, j + stride * (ow - 1) + 1, stride)
            out[:, rows, cols, :] += offset_values[i, j]
    return out
