"""Stride-1 convolution by Winograd's minimal filtering down the columns, im2col along the rows.

Sliding a kernel column of k weights over m neighbouring outputs takes m*k multiplications
directly. The Toom-Cook algorithm F(m, k) takes a = m + k - 1: it reads the kernel column
and a tile of a input rows as polynomials, evaluates both at a points, multiplies the
values pointwise and interpolates the m outputs back (Lavin and Gray, "Fast Algorithms for
Convolutional Neural Networks", 2015, section 4):

    y = AT [(G g) * (BT d)]     g: k kernel weights, d: a input rows, y: m output rows

Done along the height only, each point's share is a matrix product as deep as a kernel
row: rows (image, tile, output column), columns (kernel column, channel), k*C deep, so a
window is one contiguous run of k*C values as in im2col. The convolution becomes a
products of (rows x k*C) @ (k*C x F) instead of one of (positions x k*k*C) @ (k*k*C x F):
for a 6x6 kernel and 20 output rows, 45 multiply-adds per output column where im2col
has 120. The transforms (BT on the input tiles, AT on the products) are thin products of
their own, and the matrices are exact fractions rounded once. Tiles of rows keep every
copy in runs of whole image rows. In float32 the error grows with the tile: F(4, 6)
forward is about 4e-6 relative where im2col is 5e-7 (MAX_TILE caps it). Both passes walk
the batch in cache-sized blocks of images; the backward pass copies each block's windows
again from the transformed tiles the forward pass kept (training, when the whole batch's
are at most blocks.KEEP_BYTES), else transforms the block again. A layer of few filters
makes a thin product (F columns); there a row covers two neighbouring output columns
(group_size, widen): a window of k+1 columns, 2F products, some weights zero. At
inference, where a row of the transformed tiles is whole windows end to end, the products
read the windows in place, no copy (direct_products).

Images are channels-last, (N, H, W, C), already padded.
"""
import functools
import math
from typing import Any
from fractions import Fraction

import numpy

from ..backend import xp
from . import blocks
from .workspace import output_array, scratch_array

POINTS = tuple(Fraction(p) for p in ("0", "1", "-1", "2", "-2", "1/2", "-1/2", "1/4"))  # the first a-1 are used
MAX_TILE = 4         # outputs per tile; float32 error grows with it (B's 6x6 layer: F(4,6) 4e-6, F(3,6) 1e-6 relative)
MIN_CHANNELS = 8     # below this the products are too shallow (k*C) to run at BLAS speed
MIN_SAVING = 2.1     # use it when im2col would need at least this many times the multiplications
NARROW = 32          # fewer filters than this: a row of the products takes two neighbouring output columns
ONE = POINTS.index(1)  # the point 1: its column of AT is all ones (the bias enters the products there)


def _poly_mul(p, q):
    """Coefficients (lowest first) of the product of two polynomials."""
    out = [Fraction(0)] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        for j, b in enumerate(q):
            out[i + j] += a * b
    return out


@functools.lru_cache(maxsize=None)
def transforms(m, k):
    """(AT (m, a), G (a, k), BT (a, a)) as float64 arrays, exact fractions rounded once.

    The points are POINTS[:a-1] and infinity (where a polynomial's value is its leading
    coefficient). G and AT evaluate the kernel and the outputs' polynomials there; BT is the
    transpose of the interpolation that recovers the product's a coefficients from its values.
    """
    a = m + k - 1
    points = POINTS[:a - 1]
    if len(points) < a - 1:
        raise ValueError(f"F({m}, {k}) needs {a - 1} finite points; POINTS has {len(POINTS)}")
    g_rows = [[p ** j for j in range(k)] for p in points] + [[Fraction(j == k - 1) for j in range(k)]]
    at_cols = [[p ** i for i in range(m)] for p in points] + [[Fraction(i == m - 1) for i in range(m)]]
    interpolate = [[Fraction(0)] * a for _ in range(a)]  # [coefficient][value at point]
    for col, p in enumerate(points):  # Lagrange basis polynomial of point p
        basis, scale = [Fraction(1)], Fraction(1)
        for q in points:
            if q != p:
                basis, scale = _poly_mul(basis, [-q, Fraction(1)]), scale * (p - q)
        for i, coefficient in enumerate(basis):
            interpolate[i][col] = coefficient / scale
    vanishing = [Fraction(1)]  # zero at every finite point: it carries the leading coefficient
    for q in points:
        vanishing = _poly_mul(vanishing, [-q, Fraction(1)])
    for i, coefficient in enumerate(vanishing):
        interpolate[i][a - 1] = coefficient
    return _float_array(at_cols).T, _float_array(g_rows), _float_array(interpolate).T


@functools.lru_cache(maxsize=None)
def _transforms_as(m, k, dtype):
    """transforms(m, k) as arrays of dtype (cast once, not on every call)."""
    return tuple(xp.asarray(t, dtype=dtype) for t in transforms(m, k))


def _view(base, offset, shape, strides):
    """A view (shape, strides, in bytes) into the C-contiguous array base, starting offset bytes in.

    numpy's ndarray constructor: the blocks loop makes several views per block, and
    stride_tricks.as_strided costs about five times as much per call.
    """
    return xp.ndarray(shape, base.dtype, base, offset, strides)


def _float_array(rows):
    return numpy.array([[float(value) for value in row] for row in rows])


def group_size(out_width, num_filters):
    """Output columns per row of the products: 2 for narrow layers (fewer than NARROW filters) where OW allows.

    A product of N filters is only N wide, and BLAS runs narrow products below its best speed;
    a row of two neighbouring output columns (a window of k+1 kernel columns, 2*N wide, some
    of it zeros) runs faster and copies fewer window values (figures: docs/performance.md).
    """
    return 2 if num_filters < NARROW and out_width % 2 == 0 else 1


def widen(u, group, channels):
    """The products' weights for rows of `group` output columns: u (a, k*C, F) -> (a, (group+k-1)*C, group*F).

    Output column q of the group reads window columns q ... q+k-1: u's rows shifted down
    by q*C in the q-th block of F columns, zeros elsewhere. `narrow` is its adjoint.
    """
    a, depth, num_filters = u.shape
    wide = xp.zeros((a, depth + (group - 1) * channels, group * num_filters), u.dtype)
    for q in range(group):
        wide[:, q * channels:q * channels + depth, q * num_filters:(q + 1) * num_filters] = u
    return wide


def narrow(wide, group, channels, depth):
    """The adjoint of `widen` on a gradient laid out as its transpose: (a, group*F, (group+k-1)*C) -> (a, F, k*C)."""
    num_filters = wide.shape[1] // group
    out = wide[:, :num_filters, :depth].copy()
    for q in range(1, group):
        out += wide[:, q * num_filters:(q + 1) * num_filters, q * channels:q * channels + depth]
    return out


def tile_size(k, out_height, channels):
    """Outputs per tile for a k-tall kernel over out_height outputs, or None where im2col is the better deal."""
    if channels < MIN_CHANNELS or k < 2:
        return None
    costs = {m: -(-out_height // m) * (m + k - 1) for m in range(2, MAX_TILE + 1) if m + k - 2 <= len(POINTS)}
    if not costs:
        return None
    m = min(costs, key=lambda m: (costs[m], m))
    return m if out_height * k >= MIN_SAVING * costs[m] else None


class _Tiles:
    """One convolution's geometry and transforms: the input's tiles of rows, the windows along them, the output's.

    The transforms run as one batched product per block: BT times each tile's a rows (a view
    of the image, as the tiles overlap), AT times each tile's a products. Each pass over a
    block is then a handful of NumPy calls, whatever the tile count: with a batch split
    across threads, every call hands the GIL over, and many short calls keep the other
    thread waiting.
    """

    def __init__(self, x, weight_rows, m, workspace, keep=False):
        n, height, width, channels = x.shape
        k, num_filters = weight_rows.shape[0], weight_rows.shape[3]
        self.m, self.k, self.a = m, k, m + k - 1
        self.oh, self.ow = height - k + 1, width - k + 1
        self.group = group_size(self.ow, num_filters)   # output columns per row of the products
        self.window = (self.group + k - 1) * channels   # a row's window: one run of input columns
        self.tiles = -(-self.oh // m)
        self.height = height
        reach = self.tiles * m + k - 1          # the rows the tiles read: past the image when the last is partial
        if reach > height:
            padded = xp.zeros((n, reach, width, channels), x.dtype)
            padded[:, :height] = x
            x = padded
        self.x, self.workspace = xp.ascontiguousarray(x), workspace
        self.at, self.g, self.bt = _transforms_as(m, k, x.dtype.str)
        # Inference reads the windows in place (direct_products) where a row of W pixels is whole windows end
        # to end, and the windows `group` pixels later are again whole windows, and so on: `sets` of them.
        window_pixels = self.group + k - 1
        self.sets = window_pixels // self.group
        self.direct = (not keep and window_pixels % self.group == 0 and width % window_pixels == 0)
        self.slots = width // self.group    # product rows per tile row on the direct path (OW/group of them real)
        per_image = self.a * self.tiles * self.ow // self.group * self.window * x.itemsize  # one image's columns
        self.blocks = blocks.image_blocks(n, per_image)
        # Training keeps the transformed tiles (k times smaller than the columns) for the backward pass, which
        # then only copies the windows again: the columns stay one block in cache, in both passes.
        transformed_shape = (self.a, n, self.tiles, width * channels)
        self.kept = None
        if keep and math.prod(transformed_shape) * x.itemsize <= blocks.KEEP_BYTES:
            self.kept = self.scratch("kept", transformed_shape, x.dtype)

    def scratch(self, name, shape, dtype):
        return scratch_array(self.workspace, "wino_" + name, shape, dtype)

    def read(self, start, stop):
        """The block's columns for the backward pass: from the transformed tiles the forward pass kept, or afresh."""
        if self.kept is None:
            return self.columns(start, stop)
        return self._windows(self.kept, start, stop - start)

    def columns(self, start, stop):
        """The block's transformed input as one im2col matrix per point: (a, images*tiles*OW/group, window)."""
        if self.kept is not None:
            v, first = self.kept, start
        else:
            v, first = self.scratch("v", (self.a, stop - start) + self._tiles_shape(), self.x.dtype), 0
        self._transform(start, stop, v[:, first:first + stop - start])
        return self._windows(v, first, stop - start)

    def _tiles_shape(self):
        """(tiles, W*C): one image's transformed tiles at one point."""
        return (self.tiles, self.x.shape[2] * self.x.shape[3])

    def _transform(self, start, stop, v):
        """BT times each tile's a rows of images start ... stop-1, into v (a, images, tiles, W*C)."""
        x, m, a, tiles = self.x, self.m, self.a, self.tiles
        image_stride, row_stride = x.strides[:2]
        # tile t of an image: its rows t*m ... t*m + a - 1, each a run of W*C values (a view: the tiles overlap)
        tile_rows = _view(x, start * image_stride, (stop - start, tiles, a, x.shape[2] * x.shape[3]),
                          (image_stride, m * row_stride, row_stride, x.itemsize))
        xp.matmul(self.bt, tile_rows, out=v.transpose(1, 2, 0, 3))  # per tile: BT @ its rows

    def direct_products(self, start, stop, wide):
        """Inference: the block's products (a, images*tiles*slots, group*F) straight from its transformed tiles,
        no window columns copied. A tile row of W pixels holds W/(group+k-1) windows end to end, a plain
        (rows x window) matrix over the whole block; the windows `group` pixels later are another, and `sets`
        such matrices hold every window. Each writes its product rows `sets` rows apart, so product row
        `slots*tile row + g` is output group g's; the last windows of some sets run past their tile row, into
        the next or into the buffer's spare window: rows past OW/group, never read (a few more product rows,
        where a copy would write and read back every window's columns)."""
        a, nb = self.a, stop - start
        (_, _, width, channels), itemsize = self.x.shape, self.x.itemsize
        tile_rows = nb * self.tiles
        values = tile_rows * width * channels                            # one point's transformed tiles
        v = self.scratch("v_direct", (a * values + self.window,), self.x.dtype)  # + a window: the last overrun
        self._transform(start, stop, v[:a * values].reshape((a, nb) + self._tiles_shape()))
        group_values = wide.shape[2]                                     # group * F
        products = self.scratch("products", (a, tile_rows * self.slots, group_values), self.x.dtype)
        rows = tile_rows * (width // (self.group + self.k - 1))          # windows per set
        # set s: the windows starting at pixel s*group of each window-wide stretch; one batched product for all
        windows = _view(v, 0, (self.sets, a, rows, self.window),
                        (self.group * channels * itemsize, values * itemsize, self.window * itemsize, itemsize))
        out = _view(products, 0, (self.sets, a, rows, group_values),
                    (group_values * itemsize, products.strides[0], self.sets * group_values * itemsize, itemsize))
        xp.matmul(windows, wide, out=out)
        return products

    def _windows(self, v, first, count):
        """Images first ... first+count-1 of the transformed tiles v (a, images, tiles, W*C) -> their columns
        (a, count*tiles*OW/group, window)."""
        a, _, tiles = v.shape[:3]
        channels, itemsize, group = self.x.shape[3], v.itemsize, self.group
        # A window of group+k-1 pixels of a row's C channels is one contiguous run of `window` values.
        windows = _view(v, first * v.strides[1], (a, count, tiles, self.ow // group, self.window),
                        (*v.strides[:3], group * channels * itemsize, itemsize))
        cols = self.scratch("cols", (a, count * tiles * self.ow // group, self.window), v.dtype)
        xp.copyto(cols.reshape(windows.shape), windows)
        return cols

    def outputs(self, products, out, start, stop, row_values=None):
        """AT times each tile's a products (a, rows, F) -> the block's outputs, written into out (N, OH, OW, F):
        a view of any memory order whose rows of OW*F values are contiguous (see winograd_forward).
        row_values: the products' values per tile row when they hold more than OW*F (direct_products)."""
        m, a, tiles, ow = self.m, self.a, self.tiles, self.ow
        nb, num_filters = stop - start, products.shape[2]
        whole = tiles * m == self.oh
        y = out[start:stop] if whole else self.scratch("y", (nb, tiles * m, ow, num_filters), products.dtype)
        per_row = products.reshape(a, nb, tiles, row_values or ow * num_filters)[..., :ow * num_filters]
        xp.matmul(self.at, per_row.transpose(1, 2, 0, 3),
                  out=y.reshape(nb, tiles, m, ow * num_filters))  # a view: the rows split, each row's values merge
        if not whole:
            out[start:stop] = y[:, :self.oh]

    def products_gradient(self, g, start, stop):
        """The adjoint of `outputs`: the block's output gradient (N, OH, OW, F) -> that of its products (a, rows, F)."""
        m, a, tiles, ow = self.m, self.a, self.tiles, self.ow
        g = g[start:stop]
        nb, num_filters = len(g), g.shape[3]
        if tiles * m != self.oh:  # the last tile's rows past the output carry no gradient
            padded = self.scratch("g_tiles", (nb, tiles * m, ow, num_filters), g.dtype)
            padded[:, :self.oh] = g
            padded[:, self.oh:] = 0
            g = padded
        dproducts = self.scratch("dproducts", (a, nb * tiles, ow * num_filters), g.dtype)
        xp.matmul(self.at.T, g.reshape(nb * tiles, m, ow * num_filters), out=dproducts.transpose(1, 0, 2))
        return dproducts.reshape(a, nb * tiles * ow, num_filters)

    def input_gradient_shape(self):
        """dx for add_input_gradient: the rows the tiles read, rounded up to whole tiles of m rows."""
        n, _, width, channels = self.x.shape
        return (n, (self.tiles + -(-(self.k - 1) // self.m)) * self.m, width, channels)

    def add_input_gradient(self, dproducts, u_columns, dx, start, stop):
        """The adjoint of `columns`: the block's point products' gradient (a, rows, F) added into dx (of
        input_gradient_shape).

        u_columns (k, a, F, C): one product per kernel column, so each column's gradient is contiguous for the
        fold onto the tile rows, which is then a run of whole rows.
        """
        k, a, m, tiles, ow = self.k, self.a, self.m, self.tiles, self.ow
        nb, channels = stop - start, u_columns.shape[3]
        width = self.x.shape[2]
        dcols = self.scratch("dcols", (k, a, dproducts.shape[1], channels), dproducts.dtype)
        xp.matmul(dproducts[None], u_columns, out=dcols)
        dcols = dcols.reshape(k, a, nb, tiles, ow, channels)
        dv = self.scratch("dv", (a, nb, tiles, width, channels), dproducts.dtype)
        dv[:, :, :, ow:] = 0
        dv[:, :, :, :ow] = dcols[0]
        for column in range(1, k):
            dv[:, :, :, column:column + ow] += dcols[column]
        dtiles = self.scratch("dtiles", (nb, tiles, a, width * channels), dproducts.dtype)
        xp.matmul(self.bt.T, dv.reshape(a, nb, tiles, width * channels).transpose(1, 2, 0, 3), out=dtiles)
        # Row j = q*m + r of tile t is input row (t + q)*m + r: a group of up to m rows per q, one add each.
        dx_tiles = dx[start:stop].reshape(nb, -1, m, width * channels)
        for q in range(-(-a // m)):
            rows = min(m, a - q * m)
            dx_tiles[:, q:q + tiles, :rows] += dtiles[:, :, q * m:q * m + rows]


def winograd_forward(x, weight_rows, bias, m, workspace=None, keep_columns=False):
    """x (N, H, W, C) channels-last, padded; weight_rows (k, k, C, F): kernel row, kernel column, channel, filter.

    Returns out (N, OH, OW, F) channels-last and the cache for winograd_backward, which keeps
    the transformed input when `keep_columns` (training) and it is at most blocks.KEEP_BYTES.
    At inference out is a view of rows-first memory, (OH, N, OW, F): the passes that follow
    (a pooling's, a ReLU) then run along a row of every image at once, NumPy merging the
    images' runs of OW*F values into one loop. Training keeps images first, as the backward
    pass reads the gradient image by image.
    """
    k, _, channels, num_filters = weight_rows.shape
    tiles = _Tiles(x, weight_rows, m, workspace, keep_columns)
    # u[p, (column, C), F]: each kernel column's polynomial at point p
    u = (tiles.g @ weight_rows.reshape(k, -1)).reshape(tiles.a, k * channels, num_filters)
    wide = widen(u, tiles.group, channels)                                     # a, window, group*F
    n, oh, ow = len(x), tiles.oh, tiles.ow
    if keep_columns:  # training
        out = xp.empty((n, oh, ow, num_filters), x.dtype)
    else:
        out = output_array(workspace, "winograd", (oh, n, ow, num_filters), x.dtype).transpose(1, 0, 2, 3)
    for start, stop in tiles.blocks:
        nb = stop - start
        if tiles.direct:
            products = tiles.direct_products(start, stop, wide).reshape(tiles.a, -1, num_filters)
            row_values = tiles.slots * tiles.group * num_filters
        else:
            # a row of group output columns' F products is the same memory as group rows of F
            products = tiles.scratch("products", (tiles.a, nb * tiles.tiles * ow, num_filters), x.dtype)
            xp.matmul(tiles.columns(start, stop), wide,
                      out=products.reshape(tiles.a, -1, tiles.group * num_filters))  # a, nb*tiles*OW/group, group*F
            row_values = None
        xp.add(products[ONE], bias, out=products[ONE])  # AT's column for the point 1 is all ones: every output gets it
        tiles.outputs(products, out, start, stop, row_values)
    return out, (tiles, u)


def winograd_backward(g, cache, need_input_grad=True):
    """g (N, OH, OW, F) -> (dx (N, H, W, C) or None, dweight (F, k*k*C) in (row, column, C) order, dbias (F,))."""
    tiles, u = cache
    a, k = tiles.a, tiles.k
    num_filters = g.shape[3]
    depth = u.shape[1]                                   # k*C
    channels = depth // k
    g = xp.ascontiguousarray(g)
    group = tiles.group
    du = xp.empty((a, group * num_filters, tiles.window), g.dtype)                # widened, as the forward products
    if need_input_grad:
        dx = xp.zeros(tiles.input_gradient_shape(), g.dtype)
        u_columns = xp.ascontiguousarray(u.reshape(a, k, channels, num_filters).transpose(1, 0, 3, 2))  # k, a, F, C
    dbias: Any = None
    for start, stop in tiles.blocks:
        dproducts = tiles.products_gradient(g, start, stop)                         # a, rows, F
        # the bias's gradient: the point 1's products gradient sums each tile's output rows; a BLAS product
        # with ones sums it over the rows (far faster than NumPy's sum along that axis)
        block_dbias = xp.dot(xp.ones(dproducts.shape[1], g.dtype), dproducts[ONE])  # dot: matmul keeps the GIL
        dbias = block_dbias if start == 0 else dbias + block_dbias
        cols = tiles.read(start, stop)
        rows = dproducts.reshape(a, -1, group * num_filters).transpose(0, 2, 1)   # a, group*F, rows/group
        if start == 0:
            xp.matmul(rows, cols, out=du)
        else:
            du += rows @ cols
        if need_input_grad:
            tiles.add_input_gradient(dproducts, u_columns, dx, start, stop)
    du = narrow(du, group, channels, depth)                                       # a, F, k*C
    # dweight[F, row, column, C] = sum over points p of G[p, row] du[p, F, (column, C)]
    dweight = (tiles.g.T @ du.reshape(a, -1)).reshape(k, num_filters, depth)     # row, F, (column, C)
    dweight = xp.ascontiguousarray(dweight.transpose(1, 0, 2)).reshape(num_filters, k * depth)
    if not need_input_grad:
        return None, dweight, dbias
    return dx[:, :tiles.height], dweight, dbias
