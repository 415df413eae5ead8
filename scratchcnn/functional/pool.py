"""Max and average pooling over k x k windows with any stride (overlapping windows included).

Both sweep the k*k kernel offsets: each offset is one strided view of the whole
batch, so no window is ever copied and no Python loop runs over pixels.
"""
from ..backend import xp
from .windows import output_size


def _offset_views(x, size, stride):
    """For each kernel offset (i, j), in row-major order, the view x[:, i::stride, j::stride, :] of (N, OH, OW, C)."""
    n, h, w, c = x.shape
    oh, ow = output_size(h, size, stride), output_size(w, size, stride)
    for i in range(size):
        for j in range(size):
            yield (slice(None), slice(i, i + stride * (oh - 1) + 1, stride),
                   slice(j, j + stride * (ow - 1) + 1, stride), slice(None))


def maxpool2d_forward(x, size, stride):
    """x (N, C, H, W) -> out (N, C, OH, OW), the maximum of each window.

    The forward pass only takes maxima (NaN propagates); which element of a window
    won is worked out in the backward pass, from the input and output it caches.
    """
    x_nhwc = x.transpose(0, 2, 3, 1)                               # N,H,W,C (a view)
    views = _offset_views(x_nhwc, size, stride)
    out = x_nhwc[next(views)].copy()                               # N,OH,OW,C
    for index in views:
        xp.maximum(out, x_nhwc[index], out=out)
    return out.transpose(0, 3, 1, 2), (x_nhwc, out, size, stride)


def maxpool2d_backward(grad_out, cache):
    """Route each output gradient (N, C, OH, OW) to its window's arg-max -> dx (N, C, H, W).

    Ties go to the first maximum in row-major window order, as in PyTorch.
    """
    x_nhwc, out, size, stride = cache
    n, h, w, c = x_nhwc.shape
    oh, ow = out.shape[1:3]
    g = xp.ascontiguousarray(grad_out.transpose(0, 2, 3, 1))       # N,OH,OW,C; one copy if it came channels-first
    tiled = stride == size and h == oh * size and w == ow * size    # every input pixel in exactly one window
    dx = (xp.empty if tiled else xp.zeros)(x_nhwc.shape, dtype=grad_out.dtype)
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
    return dx.transpose(0, 3, 1, 2)


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
