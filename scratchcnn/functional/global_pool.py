"""Global average pooling: each channel's mean over its whole H x W map."""
from ..backend import xp


def global_avgpool2d_forward(x):
    """x (N, C, H, W) -> out (N, C), cache (the input shape)."""
    return x.mean(axis=(2, 3)), x.shape


def global_avgpool2d_backward(grad_out, cache):
    """grad_out (N, C) -> dx (N, C, H, W): every position receives 1/(H*W) of its channel's gradient."""
    n, c, h, w = cache
    return xp.broadcast_to((grad_out / (h * w))[:, :, None, None], (n, c, h, w)).copy()
