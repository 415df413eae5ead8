"""2-D convolution (cross-correlation, as PyTorch's conv2d): im2col plus one matrix product each way."""
from ..backend import xp
from .windows import extract_windows, fold_windows, pad_spatial


def conv2d_forward(x, weight, bias, stride=1, padding=0):
    """x (N, C, H, W), weight (F, C, k, k), bias (F,) -> out (N, F, OH, OW), cache."""
    num_filters, channels, k, _ = weight.shape
    x_padded = pad_spatial(x.transpose(0, 2, 3, 1), padding)           # N,Hp,Wp,C
    windows = extract_windows(x_padded, k, stride)                     # N,OH,OW,k,k,C (view)
    n, oh, ow = windows.shape[:3]
    cols = windows.reshape(n * oh * ow, k * k * channels)              # N*OH*OW, k*k*C (copy)
    w_mat = weight.transpose(2, 3, 1, 0).reshape(k * k * channels, num_filters)  # k*k*C, F
    out = cols @ w_mat + bias                                          # N*OH*OW, F
    out = out.reshape(n, oh, ow, num_filters).transpose(0, 3, 1, 2)    # N,F,OH,OW
    cache = (cols, w_mat, x.shape, stride, padding, k)
    return out, cache


def conv2d_backward(grad_out, cache, need_input_grad=True):
    """grad_out (N, F, OH, OW) -> (dx (N, C, H, W) or None, dweight (F, C, k, k), dbias (F,))."""
    cols, w_mat, (n, channels, height, width), stride, padding, k = cache
    num_filters = w_mat.shape[1]
    oh, ow = grad_out.shape[2:]
    g = grad_out.transpose(0, 2, 3, 1).reshape(n * oh * ow, num_filters)   # N*OH*OW, F
    dweight = xp.dot(cols.T, g).reshape(k, k, channels, num_filters).transpose(3, 2, 0, 1)
    dbias = g.sum(axis=0)
    if not need_input_grad:
        return None, xp.ascontiguousarray(dweight), dbias
    # One product per kernel offset (a stacked matmul), so each offset's gradient is contiguous for the fold.
    w_offsets = w_mat.reshape(k * k, channels, num_filters).transpose(0, 2, 1)  # k*k, F, C
    dcols = xp.matmul(g[None], w_offsets).reshape(k, k, n, oh, ow, channels)  # k,k,N,OH,OW,C
    p = padding
    dx_padded = fold_windows(dcols, height + 2 * p, width + 2 * p, stride)  # N,Hp,Wp,C
    dx = dx_padded[:, p:p + height, p:p + width, :].transpose(0, 3, 1, 2)   # N,C,H,W
    return dx, xp.ascontiguousarray(dweight), dbias
