"""Max and average pooling over k x k windows with any stride (overlapping windows included).

Both sweep the k*k kernel offsets: each offset is one strided view of the whole
batch, so no window is ever copied and no Python loop runs over pixels.
"""
import functools

from ..backend import xp
from .windows import output_size
from .workspace import output_array, scratch_array


def _offset_views(x, size, stride):
    """For each kernel offset (i, j), in row-major order, the view x[:, i::stride, j::stride, :] of (N, OH, OW, C)."""
    n, h, w, c = x.shape
    oh, ow = output_size(h, size, stride), output_size(w, size, stride)
    for i in range(size):
        for j in range(size):
            yield (slice(None), slice(i, i + stride * (oh - 1) + 1, stride),
                   slice(j, j + stride * (ow - 1) + 1, stride), slice(None))


def _tiled(x_nhwc, size, stride):
    """Whether the windows tile x exactly (stride = size, no pixel left over) and each image row of x is one
    contiguous run of W*C values, whatever the strides of the images and rows (at inference a Winograd
    convolution's output comes rows first): then each window is a block of a (N, OH, size, OW, size, C)
    view, and a pass over all offsets is one NumPy call."""
    n, h, w, c = x_nhwc.shape
    rows_contiguous = x_nhwc.strides[3] == x_nhwc.itemsize and x_nhwc.strides[2] == c * x_nhwc.itemsize
    return stride == size and h % size == 0 and w % size == 0 and rows_contiguous


def _maximum(views, out):
    """The element-wise maximum of the arrays `views` yields, written into out (NaN propagates)."""
    views = iter(views)
    first = next(views)
    second = next(views, None)
    if second is None:
        out[...] = first
        return out
    xp.maximum(first, second, out=out)
    for view in views:
        xp.maximum(out, view, out=out)
    return out


def _laid_out_like(x_nhwc, get, name, shape):
    """get(name, ...)'s array viewed as `shape` (N, rows, ...), its images and rows in x's memory order.

    A Winograd convolution's output at inference comes rows first (OH, N, OW, C): kept that way, a pass
    over a row of every image is one loop over one run of memory (docs/performance.md).
    """
    if x_nhwc.strides[0] < x_nhwc.strides[1]:
        return get(name, (shape[1], shape[0], *shape[2:]), x_nhwc.dtype).swapaxes(0, 1)
    return get(name, shape, x_nhwc.dtype)


def maxpool2d_forward(x, size, stride, relu=False, workspace=None):
    """x (N, C, H, W) -> out (N, C, OH, OW), the maximum of each window; with relu, max(0, maximum).

    The forward pass only takes maxima (NaN propagates); which element of a window
    won is worked out in the backward pass, from the input and the maxima it caches.
    `relu` applies a previous layer's ReLU after the maxima rather than before (they
    commute; engine/plan.py): a quarter of the values, and raw values seldom tie.
    `workspace` (a Workspace) lends the scratch memory, and inside transient_outputs()
    the output's too (workspace.py).
    """
    scratch, output = functools.partial(scratch_array, workspace), functools.partial(output_array, workspace)
    x_nhwc = x.transpose(0, 2, 3, 1)                               # N,H,W,C (a view)
    n, h, w, c = x_nhwc.shape
    oh, ow = output_size(h, size, stride), output_size(w, size, stride)
    out = _laid_out_like(x_nhwc, output, "pool_max", (n, oh, ow, c))
    if _tiled(x_nhwc, size, stride):
        rows = x_nhwc.reshape(n, oh, size, ow * size * c)          # the window rows: runs of OW*size*C values
        row_maxima = _laid_out_like(x_nhwc, scratch, "pool_rows", (n, oh, ow * size * c))
        columns = _maximum((rows[:, :, i] for i in range(size)), row_maxima).reshape(n, oh, ow, size, c)
        _maximum((columns[:, :, :, j] for j in range(size)), out)   # N,OH,OW,C
    else:
        _maximum((x_nhwc[index] for index in _offset_views(x_nhwc, size, stride)), out)
    result = out
    if relu:
        result = xp.maximum(out, 0, out=_laid_out_like(x_nhwc, output, "pool_relu", out.shape))
    return result.transpose(0, 3, 1, 2), (x_nhwc, out, size, stride, relu)


def maxpool2d_backward(grad_out, cache):
    """Route each output gradient (N, C, OH, OW) to its window's arg-max -> dx (N, C, H, W).

    Ties go to the first maximum in row-major window order, as in PyTorch. With the
    forward's relu, windows whose maximum is not positive get no gradient.
    """
    x_nhwc, out, size, stride, relu = cache
    g = xp.ascontiguousarray(grad_out.transpose(0, 2, 3, 1))       # N,OH,OW,C; one copy if it came channels-first
    if relu:
        g = g * (out > 0)
    if _tiled(x_nhwc, size, stride) and not xp.isnan(out.sum()):
        dx = _one_winner_backward(g, x_nhwc, out, size)
        if dx is not None:
            return dx.transpose(0, 3, 1, 2)
    return _first_winner_backward(g, x_nhwc, out, size, stride).transpose(0, 3, 1, 2)


def _one_winner_backward(g, x_nhwc, out, size):
    """Tiled windows: dx (N, H, W, C) in one product, if every window has exactly one maximum; else None.

    The caller has ruled out NaN maxima (no match at all), so as many matches as windows means one each.
    Each maximum and gradient is first repeated across its window's columns (a quarter of dx's
    values for 2x2), so the comparison and the product run along whole window rows of W*C
    values: broadcast against the windows directly, NumPy's inner loops would be only C values long.
    """
    n, h, w, c = x_nhwc.shape
    oh = out.shape[1]
    rows = x_nhwc.reshape(n, oh, size, w * c)                       # each window row: a run of W*C values
    matches = xp.equal(rows, xp.repeat(out, size, axis=2).reshape(n, oh, 1, w * c))
    if xp.count_nonzero(matches) != out.size:
        return None
    dx = xp.multiply(matches, xp.repeat(g, size, axis=2).reshape(n, oh, 1, w * c), dtype=g.dtype)
    return dx.reshape(n, h, w, c)


def _first_winner_backward(g, x_nhwc, out, size, stride):
    """dx (N, H, W, C): each window's gradient to its first maximum in row-major order, one offset at a time."""
    n, h, w, c = x_nhwc.shape
    oh, ow = out.shape[1:3]
    tiled = stride == size and h == oh * size and w == ow * size    # every input pixel in exactly one window
    dx = (xp.empty if tiled else xp.zeros)(x_nhwc.shape, dtype=g.dtype)
    unclaimed = xp.empty(out.shape, dtype=bool)                    # windows whose arg-max is still to find
    winner = xp.empty(out.shape, dtype=bool)
    # Plain element-wise passes with out= buffers: where/copyto with masks are several times slower.
    for offset, index in enumerate(_offset_views(x_nhwc, size, stride)):
        xp.equal(x_nhwc[index], out, out=winner)
        if offset == 0:
            xp.logical_not(winner, out=unclaimed)
        else:
            winner &= unclaimed
            if offset < size * size - 1:
                unclaimed ^= winner
        if stride < size:  # overlapping windows share input pixels: accumulate
            dx[index] += g * winner
        else:
            xp.multiply(g, winner, out=dx[index])
    return dx


def avgpool2d_forward(x, size, stride):
    """x (N, C, H, W) -> out (N, C, OH, OW), the mean of each window."""
    x_nhwc = x.transpose(0, 2, 3, 1)
    views = _offset_views(x_nhwc, size, stride)
    out = x_nhwc[next(views)].copy()
    for index in views:
        out += x_nhwc[index]
    out /= size * size
    return out.transpose(0, 3, 1, 2), (x.shape, size, stride)


def avgpool2d_backward(grad_out, cache):
    """Spread each output gradient evenly over its k*k window -> dx (N, C, H, W)."""
    (n, c, h, w), size, stride = cache
    g = grad_out.transpose(0, 2, 3, 1) / (size * size)             # N,OH,OW,C
    dx = xp.zeros((n, h, w, c), dtype=grad_out.dtype)
    for index in _offset_views(dx, size, stride):
        dx[index] += g
    return dx.transpose(0, 3, 1, 2)
