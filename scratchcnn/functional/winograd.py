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
the batch in cache-sized blocks of images; the backward pass rebuilds each block's
transformed input rather than keeping it.

Images are channels-last, (N, H, W, C), already padded.
"""
import functools
from fractions import Fraction

import numpy

from ..backend import xp

POINTS = tuple(Fraction(p) for p in ("0", "1", "-1", "2", "-2", "1/2", "-1/2", "1/4"))  # the first a-1 are used
MAX_TILE = 4         # outputs per tile; float32 error grows with it (B's 6x6 layer: F(4,6) 4e-6, F(3,6) 1e-6 relative)
MIN_CHANNELS = 8     # below this the products are too shallow (k*C) to run at BLAS speed
MIN_SAVING = 2.1     # use it when im2col would need at least this many times the multiplications


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


def _float_array(rows):
    return numpy.array([[float(value) for value in row] for row in rows])


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
    """One convolution's geometry and transforms: the input's tiles of rows, the windows along them, the output's."""

    def __init__(self, x, weight_rows, m, workspace):
        n, height, width, channels = x.shape
        k = weight_rows.shape[0]
        self.m, self.k, self.a = m, k, m + k - 1
        self.oh, self.ow = height - k + 1, width - k + 1
        self.tiles = -(-self.oh // m)
        # Row j of tile t is input row t*m + j; the last tiles may reach past the image, where the rows are zeros.
        self.rows_in_image = [len(range(j, height, m)[:self.tiles]) for j in range(self.a)]
        self.x, self.workspace = x, workspace
        self.at, self.g, self.bt = (xp.asarray(t, dtype=x.dtype) for t in transforms(m, k))
        per_image = self.a * self.tiles * self.ow * k * channels * x.itemsize  # one image's columns
        from .conv import image_blocks      # late: conv imports this module
        self.blocks = image_blocks(n, per_image)

    def scratch(self, name, shape, dtype):
        return xp.empty(shape, dtype) if self.workspace is None else self.workspace.get("wino_" + name, shape, dtype)

    def columns(self, start, stop):
        """The block's transformed input as one im2col matrix per point: (a, images*tiles*OW, k*C)."""
        x, m, a, tiles = self.x[start:stop], self.m, self.a, self.tiles
        nb, _, width, channels = x.shape
        gathered = self.scratch("gathered", (a, nb, tiles, width, channels), x.dtype)  # row j of each tile
        for j, reached in enumerate(self.rows_in_image):
            gathered[j, :, :reached] = x[:, j::m][:, :reached]
            gathered[j, :, reached:] = 0
        v = self.scratch("v", gathered.shape, x.dtype)                                  # a, nb, tiles, W, C
        xp.matmul(self.bt, gathered.reshape(a, -1), out=v.reshape(a, -1))
        # A window of k pixels of a row's C channels is one contiguous run of k*C values.
        windows = xp.lib.stride_tricks.as_strided(v, (a, nb, tiles, self.ow, self.k * channels), v.strides)
        cols = self.scratch("cols", windows.shape, x.dtype)
        xp.copyto(cols, windows)
        return cols.reshape(a, nb * tiles * self.ow, self.k * channels)

    def add_input_gradient(self, dproducts, u_columns, dx, start, stop):
        """The adjoint of `columns`: the block's point products' gradient (a, rows, F) added into dx (N, H, W, C).

        u_columns (k, a, F, C): one product per kernel column, so each column's gradient is contiguous for the
        fold onto the tile rows, which is then a run of whole rows.
        """
        k, a, m, tiles, ow = self.k, self.a, self.m, self.tiles, self.ow
        nb, channels = stop - start, u_columns.shape[3]
        dcols = self.scratch("dcols", (k, a, dproducts.shape[1], channels), dproducts.dtype)
        xp.matmul(dproducts[None], u_columns, out=dcols)
        dcols = dcols.reshape(k, a, nb, tiles, ow, channels)
        dv = self.scratch("dv", (a, nb, tiles, self.x.shape[2], channels), dproducts.dtype)
        dv[:, :, :, ow:] = 0
        dv[:, :, :, :ow] = dcols[0]
        for column in range(1, k):
            dv[:, :, :, column:column + ow] += dcols[column]
        dgathered = self.scratch("dgathered", dv.shape, dproducts.dtype)
        xp.matmul(self.bt.T, dv.reshape(a, -1), out=dgathered.reshape(a, -1))
        for j, reached in enumerate(self.rows_in_image):  # row j of every tile, back where it was read
            dx[start:stop, j::m][:, :reached] += dgathered[j, :, :reached]

    def output_tiles(self, g, start, stop):
        """The block's output gradient (N, OH, OW, F) as (m, images*tiles*OW, F), zeros past the last output."""
        m, tiles, f = self.m, self.tiles, g.shape[3]
        g = g[start:stop]
        nb = len(g)
        out = self.scratch("g_tiles", (m, nb, tiles, self.ow, f), g.dtype)
        for i in range(m):
            reached = len(range(i, self.oh, m))  # the tiles whose output row i exists
            out[i, :, :reached] = g[:, i::m]
            out[i, :, reached:] = 0
        return out.reshape(m, nb * tiles * self.ow, f)


def winograd_forward(x, weight_rows, bias, m, workspace=None):
    """x (N, H, W, C) channels-last, padded; weight_rows (k, k, C, F): kernel row, kernel column, channel, filter.

    Returns out (N, OH, OW, F) channels-last and the cache for winograd_backward.
    """
    k, _, channels, num_filters = weight_rows.shape
    tiles = _Tiles(x, weight_rows, m, workspace)
    # u[p, (column, C), F]: each kernel column's polynomial at point p
    u = xp.tensordot(tiles.g, weight_rows, axes=(1, 0)).reshape(tiles.a, k * channels, num_filters)
    n, oh, ow = len(x), tiles.oh, tiles.ow
    out = xp.empty((n, oh, ow, num_filters), x.dtype)
    for start, stop in tiles.blocks:
        nb = stop - start
        products = tiles.scratch("products", (tiles.a, nb * tiles.tiles * ow, num_filters), x.dtype)
        xp.matmul(tiles.columns(start, stop), u, out=products)                    # a, nb*tiles*OW, F
        y = tiles.scratch("y", (m, nb, tiles.tiles, ow, num_filters), x.dtype)    # output row i of each tile
        xp.matmul(tiles.at, products.reshape(tiles.a, -1), out=y.reshape(m, -1))
        y = y.transpose(1, 2, 0, 3, 4).reshape(nb, tiles.tiles * m, ow, num_filters)[:, :oh]
        xp.add(y, bias, out=out[start:stop])
    return out, (tiles, u)


def winograd_backward(g, cache, need_input_grad=True):
    """g (N, OH, OW, F) -> (dx (N, H, W, C) or None, dweight (F, k*k*C) in (row, column, C) order, dbias (F,))."""
    tiles, u = cache
    a, m, k, ow = tiles.a, tiles.m, tiles.k, tiles.ow
    num_filters = g.shape[3]
    depth = u.shape[1]                                   # k*C
    channels = depth // k
    du = xp.empty((a, num_filters, depth), g.dtype)
    if need_input_grad:
        dx = xp.zeros(tiles.x.shape, g.dtype)
        u_columns = xp.ascontiguousarray(u.reshape(a, k, channels, num_filters).transpose(1, 0, 3, 2))  # k, a, F, C
    for start, stop in tiles.blocks:
        nb = stop - start
        rows = nb * tiles.tiles * ow
        dproducts = tiles.scratch("dproducts", (a, rows, num_filters), g.dtype)
        g_tiles = tiles.output_tiles(g, start, stop)                                # m, rows, F
        xp.matmul(tiles.at.T, g_tiles.reshape(m, -1), out=dproducts.reshape(a, -1))
        # the bias's gradient, summed by a BLAS product with ones: ten times NumPy's sum here
        block_dbias = xp.ones(m * rows, g.dtype) @ g_tiles.reshape(m * rows, num_filters)
        dbias = block_dbias if start == 0 else dbias + block_dbias
        cols = tiles.columns(start, stop)
        if start == 0:
            xp.matmul(dproducts.transpose(0, 2, 1), cols, out=du)
        else:
            du += dproducts.transpose(0, 2, 1) @ cols
        if need_input_grad:
            tiles.add_input_gradient(dproducts, u_columns, dx, start, stop)
    # dweight[F, row, column, C] = sum over points p of G[p, row] du[p, F, (column, C)]
    dweight = xp.tensordot(tiles.g, du, axes=(0, 0))     # row, F, (column, C)
    dweight = xp.ascontiguousarray(dweight.transpose(1, 0, 2)).reshape(num_filters, k * depth)
    if not need_input_grad:
        return None, dweight, dbias
    return dx, dweight, dbias
