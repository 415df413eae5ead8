"""Max and average pooling over k x k windows with any stride (overlapping windows included)."""
from ..backend import xp
from .windows import extract_windows, fold_windows


def _windows(x, size, stride):
    """x (N, C, H, W) -> copied windows (N, OH, OW, k*k, C), channels-last."""
    windows = extract_windows(x.transpose(0, 2, 3, 1), size, stride)   # N,OH,OW,k,k,C (view)
    n, oh, ow, _, _, c = windows.shape
    return windows.reshape(n, oh, ow, size * size, c)


def maxpool2d_forward(x, size, stride):
    """x (N, C, H, W) -> out (N, C, OH, OW), cache holding the arg-max of each window.

    The arg-max is the first maximum in row-major window order, as PyTorch breaks ties.
    """
    windows = _windows(x, size, stride)                      # N,OH,OW,k*k,C
    argmax = windows.argmax(axis=3)[:, :, :, None, :]        # N,OH,OW,1,C
    out = xp.take_along_axis(windows, argmax, axis=3)[:, :, :, 0, :]
    cache = (argmax, x.shape, size, stride)
    return out.transpose(0, 3, 1, 2), cache


def maxpool2d_backward(grad_out, cache):
    """Route each output gradient (N, C, OH, OW) to its window's arg-max -> dx (N, C, H, W)."""
    argmax, (n, c, height, width), size, stride = cache
    oh, ow = grad_out.shape[2:]
    grad_windows = xp.zeros((n, oh, ow, size * size, c), dtype=grad_out.dtype)
    xp.put_along_axis(grad_windows, argmax, grad_out.transpose(0, 2, 3, 1)[:, :, :, None, :], axis=3)
    grad_windows = grad_windows.reshape(n, oh, ow, size, size, c)
    return fold_windows(grad_windows, height, width, stride).transpose(0, 3, 1, 2)


def avgpool2d_forward(x, size, stride):
    """x (N, C, H, W) -> out (N, C, OH, OW), the mean of each window."""
    out = _windows(x, size, stride).mean(axis=3)             # N,OH,OW,C
    return out.transpose(0, 3, 1, 2), (x.shape, size, stride)


def avgpool2d_backward(grad_out, cache):
    """Spread each output gradient evenly over its k*k window -> dx (N, C, H, W)."""
    (n, c, height, width), size, stride = cache
    g = grad_out.transpose(0, 2, 3, 1) / (size * size)                       # N,OH,OW,C
    oh, ow = g.shape[1:3]
    grad_windows = xp.broadcast_to(g[:, :, :, None, None, :], (n, oh, ow, size, size, c))
    return fold_windows(grad_windows, height, width, stride).transpose(0, 3, 1, 2)
