"""2-D convolution (cross-correlation, as PyTorch's conv2d): im2col plus one matrix product each way.

Both passes walk the batch in blocks of images whose im2col columns fit in the
processor's cache (about BLOCK_BYTES): a block's columns are written and at once
multiplied, or a block's column gradients computed and at once folded back, while
they are still in cache. The whole im2col matrix is still kept for the weight gradient.
"""
from ..backend import xp
from .windows import extract_windows, fold_windows, pad_spatial

BLOCK_BYTES = 2 << 20                # im2col columns per block of images: about the size of a core's caches
SHIFTED_COPIES_MIN_POSITIONS = 2048  # below this many output positions, k*k small copies cost more than one


def image_blocks(num_images, bytes_per_image):
    """[(start, stop), ...] over the images, each block's columns about BLOCK_BYTES (at least one image)."""
    step = max(1, BLOCK_BYTES // max(1, bytes_per_image))
    return [(start, min(num_images, start + step)) for start in range(0, num_images, step)]


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
    positions, depth = oh * ow, k * k * channels                       # per image: rows and columns of im2col
    w_mat = weight.transpose(2, 3, 1, 0).reshape(depth, num_filters)   # k*k*C, F
    out = xp.empty((n * positions, num_filters), x.dtype)              # N*OH*OW, F
    blocks = image_blocks(n, positions * depth * x.itemsize)

    def scratch(shape):
        return xp.empty(shape, x.dtype) if workspace is None else workspace.get("cols", shape, x.dtype)

    if channels == 1 and stride == 1 and n * positions >= SHIFTED_COPIES_MIN_POSITIONS:
        # One channel (a first layer): a window row is only k values, but each of the k*k shifted
        # images is a run of OW; stacked, they are the transpose of the same im2col matrix.
        # Its columns are few, so one block: more blocks would only mean more small copies.
        stack = scratch((k * k, n, oh, ow))
        for i in range(k):
            for j in range(k):
                stack[i * k + j] = x_padded[:, i:i + oh, j:j + ow, 0]
        cols = stack.reshape(k * k, n * positions).T                   # N*OH*OW, k*k (a transposed view)
        xp.matmul(cols, w_mat, out=out)
    else:
        rows = windows.reshape(n, oh, ow, k, k * channels)             # still a view: kw and C merge
        cols = scratch((n * positions, depth))                         # N*OH*OW, k*k*C
        for start, stop in blocks:
            block = cols[start * positions:stop * positions]
            xp.copyto(block.reshape(stop - start, oh, ow, k, k * channels), rows[start:stop])
            xp.matmul(block, w_mat, out=out[start * positions:stop * positions])
    out += bias
    out = out.reshape(n, oh, ow, num_filters).transpose(0, 3, 1, 2)    # N,F,OH,OW (a view of channels-last memory)
    cache = (cols, w_mat, x.shape, stride, padding, k, workspace)
    return out, cache


def conv2d_backward(grad_out, cache, need_input_grad=True):
    """grad_out (N, F, OH, OW) -> (dx (N, C, H, W) or None, dweight (F, C, k, k), dbias (F,))."""
    cols, w_mat, (n, channels, height, width), stride, padding, k, workspace = cache
    num_filters = w_mat.shape[1]
    oh, ow = grad_out.shape[2:]
    positions = oh * ow
    g = grad_out.transpose(0, 2, 3, 1).reshape(n * positions, num_filters)   # N*OH*OW, F
    # (g^T cols) rather than (cols^T g): the same product, but OpenBLAS runs this orientation faster here.
    dweight = xp.dot(g.T, cols).reshape(num_filters, k, k, channels).transpose(0, 3, 1, 2)
    dbias = g.sum(axis=0)
    if not need_input_grad:
        return None, xp.ascontiguousarray(dweight), dbias
    # One product per kernel offset (a stacked matmul), so each offset's gradient is contiguous for the fold.
    w_offsets = w_mat.reshape(k * k, channels, num_filters).transpose(0, 2, 1)  # k*k, F, C
    p = padding
    dx_padded = xp.zeros((n, height + 2 * p, width + 2 * p, channels), g.dtype)  # N,Hp,Wp,C
    for start, stop in image_blocks(n, k * k * positions * channels * g.itemsize):
        shape = (k * k, (stop - start) * positions, channels)
        dcols = xp.empty(shape, g.dtype) if workspace is None else workspace.get("dcols", shape, g.dtype)
        xp.matmul(g[None, start * positions:stop * positions], w_offsets, out=dcols)  # k*k, block's OH*OW, C
        fold_windows(dcols.reshape(k, k, stop - start, oh, ow, channels), height + 2 * p, width + 2 * p, stride,
                     out=dx_padded[start:stop])
    dx = dx_padded[:, p:p + height, p:p + width, :].transpose(0, 3, 1, 2)   # N,C,H,W
    return dx, xp.ascontiguousarray(dweight), dbias
