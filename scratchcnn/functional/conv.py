"""2-D convolution (cross-correlation, as PyTorch's conv2d): im2col plus one matrix product each way.

Tall kernels over many channels go to winograd.py instead; what follows is the im2col path.

Both passes walk the batch in blocks of images whose im2col columns fit in the
processor's cache (blocks.py). The forward pass writes a block's columns
and at once multiplies them; the backward pass takes the block's share of the
weight gradient and, from the same block, its column gradients, folded back into
the input gradient. Between the passes the columns are kept only while the whole
matrix is small (blocks.KEEP_BYTES, training only); otherwise the backward pass copies
each block again from the input it cached: a second copy into cache costs less
than storing every block to memory and reading it back, and a convolution's
scratch memory then stays one block, whatever the batch size.
"""
from typing import Any

from ..backend import xp
from . import blocks, winograd
from .windows import channels_last, depth_to_space, extract_windows, fold_windows, output_size, space_to_depth
from .workspace import output_array, scratch_array

SHIFTED_COPIES_MIN_POSITIONS = 2048  # below this many output positions, k*k small copies cost more than one


class _Columns:
    """The im2col matrix of a channels-last padded batch, written and read one block of images at a time.

    Rows are output positions (image, oh, ow); columns are (kh, kw, C), so a window
    row of k*C values is one contiguous run in the input and in the matrix.
    `write(start, stop)` (the forward pass) copies a block's columns; `read(start, stop)`
    (the backward pass) returns them again: copied afresh, or, when `keep` was asked
    and the whole matrix is at most blocks.KEEP_BYTES (it then stays in cache between the
    passes), from where `write` left them. With one input channel and many positions,
    the matrix is k*k shifted copies of the images (runs of OW values rather than of
    k): built whole and kept when training, a block at a time otherwise.
    """

    def __init__(self, x_padded, k, stride, workspace, keep=False):
        self.windows = extract_windows(x_padded, k, stride)           # N,OH,OW,k,k,C (view)
        n, oh, ow, _, _, channels = self.windows.shape
        self.k, self.channels, self.positions = k, channels, oh * ow
        self.depth = k * k * channels
        self.images, self.input_shape = x_padded, x_padded.shape
        self.rows = self.windows.reshape(n, oh, ow, k, k * channels)  # still a view: kw and C merge
        self.workspace = workspace
        matrix_bytes = n * self.positions * self.depth * x_padded.itemsize
        self.blocks = blocks.image_blocks(n, matrix_bytes // n)
        self.kept: Any = None
        self.ones_column = False  # whether the matrix ends with a column of ones (the bias's, in both products)
        if channels == 1 and stride == 1 and n * self.positions >= SHIFTED_COPIES_MIN_POSITIONS:
            self.ones_column = True
            if keep:  # built whole, once: more blocks would only mean more small copies
                self.kept = self._shifted_copies(0, n)
                self.blocks = [(0, n)]
                self.write = self.read = self._kept_block
            else:     # inference: one block at a time, so the copies stay in cache for their product
                self.write = self.read = self._shifted_copies
        elif keep and matrix_bytes <= blocks.KEEP_BYTES:
            self.kept = self.scratch("cols", (n * self.positions, self.depth), x_padded.dtype)
            self.write, self.read = self._copy_block, self._kept_block
        else:
            self.write = self.read = self._copy_block

    def scratch(self, name, shape, dtype):
        """An uninitialised array, lent by the workspace if there is one."""
        return scratch_array(self.workspace, name, shape, dtype)

    def _kept_block(self, start, stop):
        return self.kept[start * self.positions:stop * self.positions]

    def _shifted_copies(self, start, stop):
        """One input channel: the block's matrix as k*k shifted copies of its images, then a row of ones
        (a transposed view: block's OH*OW, k*k + 1). The ones carry the bias, so no pass of its own adds it."""
        k, x = self.k, self.images
        oh, ow = self.windows.shape[1:3]
        stack = self.scratch("stack", (k * k + 1, stop - start, oh, ow), x.dtype)
        for i in range(k):
            for j in range(k):
                stack[i * k + j] = x[start:stop, i:i + oh, j:j + ow, 0]
        stack[k * k] = 1
        return stack.reshape(k * k + 1, (stop - start) * self.positions).T

    def _copy_block(self, start, stop):
        """Copy rows start*positions:stop*positions of the matrix: (images*OH*OW, k*k*C)."""
        if self.kept is not None:
            cols = self._kept_block(start, stop)
        else:
            cols = self.scratch("cols", ((stop - start) * self.positions, self.depth), self.rows.dtype)
        rows = self.rows[start:stop]
        xp.copyto(cols.reshape(rows.shape), rows)
        return cols


def conv2d_forward(x, weight, bias, stride=1, padding=0, workspace=None, keep_columns=False):
    """x (N, C, H, W), weight (F, C, k, k), bias (F,) -> out (N, F, OH, OW), cache.

    A stride-1 convolution (after space-to-depth) with a tall kernel over enough channels
    runs by Winograd's minimal filtering down the columns (winograd.tile_size decides;
    winograd.py), the rest by im2col.
    `workspace` (a Workspace) lends the blocks of columns their memory; without one
    they are fresh arrays. The cache holds the padded input, from which the backward
    pass copies the columns again, unless `keep_columns` (training, im2col) and the
    whole matrix is at most blocks.KEEP_BYTES: then it keeps them.
    """
    num_filters, channels, k, _ = weight.shape
    n, _, height, width = x.shape
    # A stride-s convolution whose kernel is a multiple of s is a stride-1 convolution of a (k/s x k/s) kernel
    # over s x s pixel squares stacked as channels (space-to-depth): each window row is s times longer.
    b = stride if stride > 1 and k % stride == 0 else 1
    if b > 1:
        if padding:
            x = xp.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        rows = (output_size(height, k, stride, padding) - 1) * stride + k   # the pixels the windows reach
        cols = (output_size(width, k, stride, padding) - 1) * stride + k
        x_in = space_to_depth(x, b, rows, cols, scratch_array(workspace, "s2d", (n, rows // b, cols // b,
                                                                           b * b * channels), x.dtype))
    else:
        x_in = channels_last(x, padding)  # N,Hp,Wp,C: a window row (k, C) is one contiguous run of k*C values
    # The kernel in x_in's terms: (kernel row, kernel column) of blocks, then (v, u, C) inside a block.
    kb, sb = k // b, stride // b
    w_rows = weight.reshape(num_filters, channels, kb, b, kb, b).transpose(2, 4, 5, 3, 1, 0)
    w_rows = w_rows.reshape(kb, kb, b * b * channels, num_filters)   # k/b, k/b, b*b*C, F
    tile = winograd.tile_size(kb, output_size(x_in.shape[1], kb, sb), x_in.shape[3]) if sb == 1 else None
    if tile:
        out, inner = winograd.winograd_forward(x_in, w_rows, bias, tile, workspace, keep_columns)
    else:
        out, inner = _im2col_forward(x_in, w_rows, bias, sb, workspace, keep_columns)
    out = out.transpose(0, 3, 1, 2)                                    # N,F,OH,OW (a view of channels-last memory)
    return out, (tile, inner, (n, channels, height, width), k, stride, padding, b)


def _im2col_forward(x_in, w_rows, bias, stride, workspace, keep_columns):
    """x_in (N, H, W, C) channels-last, padded; w_rows (k, k, C, F) -> out (N, OH, OW, F), cache."""
    k, _, channels, num_filters = w_rows.shape
    columns = _Columns(x_in, k, stride, workspace, keep_columns)
    n, oh, ow = columns.windows.shape[:3]
    positions = oh * ow
    w_mat = w_rows.reshape(columns.depth, num_filters)                # k*k*C, F
    w_bias = xp.concatenate([w_mat, bias[None].astype(w_mat.dtype)]) if columns.ones_column else w_mat
    out = output_array(columns.workspace, "im2col", (n * positions, num_filters), x_in.dtype)  # N*OH*OW, F
    for start, stop in columns.blocks:
        xp.matmul(columns.write(start, stop), w_bias, out=out[start * positions:stop * positions])
    if not columns.ones_column:
        out += bias
    return out.reshape(n, oh, ow, num_filters), (columns, w_mat)


def conv2d_backward(grad_out, cache, need_input_grad=True):
    """grad_out (N, F, OH, OW) -> (dx (N, C, H, W) or None, dweight (F, C, k, k), dbias (F,))."""
    tile, inner, (n, channels, height, width), k, stride, padding, b = cache
    g = grad_out.transpose(0, 2, 3, 1)                                 # N,OH,OW,F
    if tile:
        dx_in, dweight, dbias = winograd.winograd_backward(g, inner, need_input_grad)
    else:
        dx_in, dweight, dbias = _im2col_backward(g, inner, stride // b, need_input_grad)
    num_filters, kb = dweight.shape[0], k // b                        # kb: the kernel over blocks
    dweight = dweight.reshape(num_filters, kb, kb, b, b, channels).transpose(0, 5, 1, 4, 2, 3)  # (v, u) -> C, k, k
    dweight = xp.ascontiguousarray(dweight).reshape(num_filters, channels, k, k)
    if not need_input_grad:
        return None, dweight, dbias
    p = padding
    if b > 1:  # back to pixels; those no window reached keep a zero gradient
        reached = depth_to_space(dx_in, b, channels)
        dx_padded = xp.zeros((n, height + 2 * p, width + 2 * p, channels), g.dtype)
        dx_padded[:, :reached.shape[1], :reached.shape[2]] = reached
    else:
        dx_padded = dx_in
    dx = dx_padded[:, p:p + height, p:p + width, :].transpose(0, 3, 1, 2)   # N,C,H,W
    return dx, dweight, dbias


def _im2col_backward(g, cache, stride, need_input_grad):
    """g (N, OH, OW, F) -> (dx_in (N, H, W, C) or None, dweight (F, k*k*C) in the columns' order, dbias (F,))."""
    columns, w_mat = cache
    num_filters, k = w_mat.shape[1], columns.k
    n, oh, ow = g.shape[:3]
    positions = oh * ow
    g = g.reshape(n * positions, num_filters)                          # N*OH*OW, F
    dweight = xp.empty((num_filters, columns.depth + int(columns.ones_column)), g.dtype)  # and dbias, by the ones
    dx_in: Any = None
    if need_input_grad:
        # One product per kernel offset (a stacked matmul), so each offset's gradient is contiguous for the fold.
        w_offsets = w_mat.reshape(k * k, columns.channels, num_filters).transpose(0, 2, 1)  # k*k, F, C
        dx_in = xp.zeros(columns.input_shape, g.dtype)                 # N,Hp,Wp,C (or its space-to-depth blocks)
    for start, stop in columns.blocks:
        rows = slice(start * positions, stop * positions)
        # (g^T cols) rather than (cols^T g): the same product, but OpenBLAS runs this orientation faster here.
        if start == 0:
            xp.matmul(g[rows].T, columns.read(start, stop), out=dweight)
        else:
            dweight += g[rows].T @ columns.read(start, stop)
        if need_input_grad:
            dcols = columns.scratch("dcols", (k * k, (stop - start) * positions, columns.channels), g.dtype)
            xp.matmul(g[None, rows], w_offsets, out=dcols)                          # k*k, block's OH*OW, C
            height, width = columns.input_shape[1:3]
            fold_windows(dcols.reshape(k, k, stop - start, oh, ow, columns.channels), height, width, stride,
                         out=dx_in[start:stop])
    if columns.ones_column:
        return dx_in, dweight[:, :-1], xp.ascontiguousarray(dweight[:, -1])
    return dx_in, dweight, xp.dot(xp.ones(len(g), g.dtype), g)  # a BLAS product: ten times NumPy's sum here
