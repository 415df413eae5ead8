"""2-D convolution (cross-correlation, as PyTorch's conv2d): im2col plus one matrix product each way."""
from ..backend import xp
from .windows import extract_windows, fold_windows, pad_spatial

SHIFTED_COPIES_MIN_POSITIONS = 2048  # below this many output positions, k*k small copies cost more than one


def conv2d_forward(x, weight, bias, stride=1, padding=0, workspace=None):
    """x (N, C, H, W), weight (F, C, k, k), bias (F,) -> out (N, F, OH, OW), cache.

    `workspace` (a Workspace) lends the im2col matrix its memory; without one it is a
    fresh array. The cache holds that matrix until the backward pass.
    """
    num_filters, channels, k, _ = weight.shape
    # Channels-last and contiguous, so a window row (k, C) is one contiguous run of k*C values.
    x_padded = pad_spatial(x.transpose(0, 2, 3, 1), padding)           # N,Hp,Wp,C
    if not x_padded.flags.c_contiguous:
        x_padded = xp.ascontiguousarray(x_padded)
    windows = extract_windows(x_padded, k, stride)                     # N,OH,OW,k,k,C (view)
    n, oh, ow = windows.shape[:3]
    if channels == 1 and stride == 1 and n * oh * ow >= SHIFTED_COPIES_MIN_POSITIONS:
        # One channel (a first layer): a window row is only k values, but each of the k*k shifted
        # images is a run of OW; stacked, they are the transpose of the same im2col matrix.
        shape = (k * k, n, oh, ow)
        stack = xp.empty(shape, x.dtype) if workspace is None else workspace.get("cols", shape, x.dtype)
        for i in range(k):
            for j in range(k):
                stack[i * k + j] = x_padded[:, i:i + oh, j:j + ow, 0]
        cols = stack.reshape(k * k, n * oh * ow).T                     # N*OH*OW, k*k (a transposed view)
    else:
        rows = windows.reshape(n, oh, ow, k, k * channels)             # still a view: kw and C merge
        shape = (n * oh * ow, k * k * channels)
        cols = xp.empty(shape, x.dtype) if workspace is None else workspace.get("cols", shape, x.dtype)
        xp.copyto(cols.reshape(rows.shape), rows)                      # N*OH*OW, k*k*C (the one copy)
    w_mat = weight.transpose(2, 3, 1, 0).reshape(k * k * channels, num_filters)  # k*k*C, F
    out = cols @ w_mat
    out += bias                                                        # N*OH*OW, F
    out = out.reshape(n, oh, ow, num_filters).transpose(0, 3, 1, 2)    # N,F,OH,OW (a view of channels-last memory)
    cache = (cols, w_mat, x.shape, stride, padding, k, workspace)
    return out, cache


def conv2d_backward(grad_out, cache, need_input_grad=True):
    """grad_out (N, F, OH, OW) -> (dx (N, C, H, W) or None, dweight (F, C, k, k), dbias (F,))."""
    cols, w_mat, (n, channels, height, width), stride, padding, k, workspace = cache
    num_filters = w_mat.shape[1]
    oh, ow = grad_out.shape[2:]
    g = grad_out.transpose(0, 2, 3, 1).reshape(n * oh * ow, num_filters)   # N*OH*OW, F
    dweight = xp.dot(cols.T, g).reshape(k, k, channels, num_filters).transpose(3, 2, 0, 1)
    dbias = g.sum(axis=0)
    if not need_input_grad:
        return None, xp.ascontiguousarray(dweight), dbias
    # One product per kernel offset (a stacked matmul), so each offset's gradient is contiguous for the fold.
    w_offsets = w_mat.reshape(k * k, channels, num_filters).transpose(0, 2, 1)  # k*k, F, C
    shape = (k * k, n * oh * ow, channels)
    dcols = xp.empty(shape, g.dtype) if workspace is None else workspace.get("dcols", shape, g.dtype)
    xp.matmul(g[None], w_offsets, out=dcols)                                # k*k, N*OH*OW, C
    p = padding
    dx_padded = fold_windows(dcols.reshape(k, k, n, oh, ow, channels), height + 2 * p, width + 2 * p, stride)
    dx = dx_padded[:, p:p + height, p:p + width, :].transpose(0, 3, 1, 2)   # N,C,H,W
    return dx, xp.ascontiguousarray(dweight), dbias
