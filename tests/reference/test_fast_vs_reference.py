"""The fast engine, scratchcnn.functional, held to the textbook one, scratchcnn.reference (no torch here).

Each table row names one of the fast engine's paths (im2col in blocks, kept or recopied
columns, Winograd with its tile sizes, space-to-depth, one-channel shifted copies, the
tiled and general poolings and their two backward passes, ...). A row draws random
shapes (batch 1..5, sizes that leave partial tiles and leftover pixels) from a seeded
numpy Generator until the fast engine takes the row's path, asserts that it did, and
then compares the forward output and every gradient with the reference's: to 1e-9 of
the array's scale in float64, 1e-4 in float32.
"""
import numpy as np
import pytest

from scratchcnn import reference as R
from scratchcnn.functional import activations, batchnorm, blocks, conv, dropout, global_pool, linear, pool, winograd
from scratchcnn.functional.workspace import Workspace

TOLERANCE = {np.float64: 1e-9, np.float32: 1e-4}
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
DRAWS = 300  # shapes tried per row before the row's path counts as not found


def assert_close(fast, ref, dtype, what=""):
    """Same shape, both in dtype, and max |fast - ref| <= tolerance * max |ref|."""
    fast, ref = np.asarray(fast), np.asarray(ref)
    assert fast.shape == ref.shape, f"{what}: shape {fast.shape} != reference {ref.shape}"
    assert fast.dtype == dtype and ref.dtype == dtype, f"{what}: dtypes {fast.dtype}, {ref.dtype}, expected {dtype}"
    error = np.abs(fast - ref).max(initial=0.0) / max(np.abs(ref).max(initial=0.0), 1e-30)
    assert error <= TOLERANCE[dtype], f"{what}: relative error {error:.2e}"


def seed_of(*parts):
    """A stable seed from a row's id and the dtype (Python's hash of strings changes between runs)."""
    return sum(ord(ch) * (i + 1) for i, ch in enumerate("/".join(map(str, parts))))


def spy(monkeypatch, module, name, record):
    """Replace module.name by a wrapper that appends (name, result) to record."""
    function = getattr(module, name)

    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        record.append((name, result))
        return result
    monkeypatch.setattr(module, name, wrapper)


def draw_until(rng, draw, path_of, expected):
    """draw(rng) -> case, until path_of(case) holds every expected (key, value); the case and its path."""
    for _ in range(DRAWS):
        case = draw(rng)
        path = path_of(case)
        if all(path[key] == value for key, value in expected.items()):
            return case, path
    pytest.fail(f"no shape in {DRAWS} draws took the path {expected}; the last took {path}")


# ---------------------------------------------------------------------------------------------------------------
# convolution

CONV = {  # id: (channels, filters, k, stride, padding, sizes, options, expected path)
    "im2col": (3, 4, 3, 1, 1, (5, 15), {}, dict(winograd=None, s2d=False, shifted=False, kept=False)),
    "im2col blocks workspace": (3, 4, 3, 1, 0, (5, 15), dict(block_bytes=1, workspace=True),
                                dict(winograd=None, shifted=False, kept=False, many_blocks=True)),
    "im2col kept": (2, 5, 3, 1, 1, (4, 13), dict(keep=True), dict(winograd=None, kept=True, many_blocks=False)),
    "im2col kept blocks": (2, 3, 3, 1, 2, (4, 13), dict(keep=True, block_bytes=1),
                           dict(winograd=None, kept=True, many_blocks=True)),
    "im2col recopied blocks workspace": (3, 4, 3, 1, 1, (4, 13), dict(keep=True, keep_bytes=0, block_bytes=1,
                                                                      workspace=True),
                                         dict(winograd=None, shifted=False, kept=False, many_blocks=True)),
    "im2col stride 2": (2, 3, 3, 2, 1, (5, 16), dict(keep=True), dict(winograd=None, s2d=False)),
    "im2col stride 3 k5": (3, 2, 5, 3, 2, (5, 16), {}, dict(winograd=None, s2d=False)),
    "im2col no input grad": (3, 4, 3, 1, 1, (4, 12), dict(need_input_grad=False), dict(winograd=None, s2d=False)),
    "s2d": (3, 4, 4, 2, 0, (4, 17), {}, dict(winograd=None, s2d=True)),
    "s2d padded": (2, 3, 2, 2, 1, (3, 14), dict(keep=True), dict(winograd=None, s2d=True)),
    "s2d stride 3 blocks": (1, 3, 6, 3, 2, (6, 20), dict(block_bytes=1, workspace=True),
                            dict(winograd=None, s2d=True, many_blocks=True)),
    "s2d no input grad": (3, 2, 4, 2, 1, (4, 15), dict(need_input_grad=False), dict(winograd=None, s2d=True)),
    "s2d winograd": (2, 5, 8, 2, 1, (10, 30), dict(keep=True), dict(winograd=4, s2d=True)),
    "shifted copies training": (1, 4, 3, 1, 1, (24, 50), dict(keep=True),
                                dict(winograd=None, shifted=True, kept=True)),
    "shifted copies blocks workspace": (1, 3, 5, 1, 2, (24, 50), dict(block_bytes=1, workspace=True),
                                        dict(winograd=None, shifted=True, kept=False, many_blocks=True)),
    "shifted copies no input grad": (1, 2, 3, 1, 0, (24, 50), dict(need_input_grad=False),
                                     dict(winograd=None, shifted=True)),
    "winograd F(4,4) group 2": (8, 6, 4, 1, 1, (6, 26), {}, dict(winograd=4, group=2, direct=False, partial=False)),
    "winograd F(4,4) direct": (8, 5, 4, 1, 0, (6, 26), {}, dict(winograd=4, group=1, direct=True)),
    "winograd F(4,4) partial tile": (8, 4, 4, 1, 0, (15, 26), dict(workspace=True), dict(winograd=4, partial=True)),
    "winograd F(3,5) direct group 2": (8, 6, 5, 1, 2, (3, 22), {}, dict(winograd=3, group=2, direct=True)),
    "winograd F(3,5) kept": (9, 32, 5, 1, 1, (5, 20), dict(keep=True), dict(winograd=3, group=1, kept=True)),
    "winograd F(4,6) recomputed blocks workspace": (8, 7, 6, 1, 0, (8, 24), dict(keep=True, keep_bytes=0,
                                                                               block_bytes=1, workspace=True),
                                                    dict(winograd=4, kept=False, many_blocks=True)),
    "winograd F(3,7) no input grad": (8, 3, 7, 1, 3, (6, 20), dict(need_input_grad=False), dict(winograd=3)),
}


def conv_path(cache):
    """Which way the fast conv2d_forward went, read from its cache."""
    tile, inner, _, _, _, _, block = cache
    path = dict(winograd=tile, s2d=block > 1)
    if tile:
        tiles = inner[0]
        path.update(group=tiles.group, direct=tiles.direct, kept=tiles.kept is not None,
                    many_blocks=len(tiles.blocks) > 1, partial=tiles.tiles * tiles.m != tiles.oh, shifted=False)
    else:
        columns = inner[0]
        path.update(shifted=columns.ones_column, kept=columns.kept is not None, many_blocks=len(columns.blocks) > 1)
    return path


@DTYPES
@pytest.mark.parametrize("row", CONV)
def test_conv2d(monkeypatch, row, dtype):
    channels, filters, k, stride, padding, sizes, options, expected = CONV[row]
    for name, key in (("BLOCK_BYTES", "block_bytes"), ("KEEP_BYTES", "keep_bytes")):
        if key in options:
            monkeypatch.setattr(blocks, name, options[key])
    calls = []
    spy(monkeypatch, winograd, "winograd_forward", calls)
    workspace = Workspace() if options.get("workspace") else None
    keep = options.get("keep", False)

    def draw(rng):
        n, h, w = rng.integers(1, 6), *rng.integers(*sizes, size=2)
        x = rng.normal(size=(n, channels, h, w)).astype(dtype)
        weight = rng.normal(size=(filters, channels, k, k)).astype(dtype)
        return x, weight, rng.normal(size=filters).astype(dtype)

    def path_of(case):
        return conv_path(conv.conv2d_forward(*case, stride, padding, workspace, keep)[1])

    rng = np.random.default_rng(seed_of(row, dtype.__name__))
    (x, weight, bias), path = draw_until(rng, draw, path_of, expected)
    calls.clear()
    out, cache = conv.conv2d_forward(x, weight, bias, stride, padding, workspace, keep)
    assert len(calls) == (1 if expected["winograd"] else 0)     # Winograd ran exactly where the row says
    assert conv_path(cache) == path
    out = out.copy()                                            # the backward pass may reuse the workspace
    ref_out, ref_cache = R.conv2d_forward(x, weight, bias, stride, padding)
    assert_close(out, ref_out, dtype, "out")
    upstream = rng.normal(size=out.shape).astype(dtype)
    need_input_grad = options.get("need_input_grad", True)
    dx, dweight, dbias = conv.conv2d_backward(upstream, cache, need_input_grad)
    ref_dx, ref_dweight, ref_dbias = R.conv2d_backward(upstream, ref_cache)
    assert_close(dweight, ref_dweight, dtype, "dweight")
    assert_close(dbias, ref_dbias, dtype, "dbias")
    if need_input_grad:
        assert_close(dx, ref_dx, dtype, "dx")
    else:
        assert dx is None


# ---------------------------------------------------------------------------------------------------------------
# pooling


def laid_out(x, layout):
    """x (N, C, H, W) with the same values in the memory order `layout` names (the fast pooling's paths depend on it).

    "nchw": contiguous channels-first; "nhwc": channels-last memory (a conv's output in training);
    "rows first": (H, N, W, C) memory (a Winograd conv's output at inference).
    """
    if layout == "nhwc":
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    if layout == "rows first":
        return np.ascontiguousarray(x.transpose(2, 0, 3, 1)).transpose(1, 3, 0, 2)
    return np.ascontiguousarray(x)


VALUES = {
    "normal": lambda rng, shape: rng.normal(size=shape),
    "ties": lambda rng, shape: rng.integers(0, 2, size=shape).astype(float),   # many equal maxima per window
    "zeros": lambda rng, shape: np.zeros(shape),
}

MAXPOOL = {  # id: (size, stride, layout, values, relu, workspace, sizes, expected path)
    "tiled one winner": (2, 2, "nhwc", "normal", False, False, (2, 15), dict(tiled=True, one=True, first=False)),
    "tiled ties first winner": (2, 2, "nhwc", "ties", False, False, (2, 15), dict(tiled=True, one=False, first=True)),
    "tiled zeros": (2, 2, "nhwc", "zeros", False, True, (2, 15), dict(tiled=True, one=False, first=True)),
    "tiled rows first": (2, 2, "rows first", "normal", False, True, (2, 15), dict(tiled=True, one=True)),
    "tiled 3x3 one winner": (3, 3, "nhwc", "normal", False, False, (3, 16), dict(tiled=True, one=True)),
    "tiled 3x3 ties": (3, 3, "rows first", "ties", False, False, (3, 16), dict(tiled=True, one=False, first=True)),
    "tiled relu": (2, 2, "nhwc", "normal", True, False, (2, 15), dict(tiled=True, one=True)),
    "tiled relu ties": (2, 2, "nhwc", "ties", True, True, (2, 15), dict(tiled=True, first=True)),
    "channels first": (2, 2, "nchw", "normal", False, False, (2, 15), dict(tiled=False, leftover=False, one=None,
                                                                            first=True)),
    "channels first ties": (2, 2, "nchw", "ties", False, False, (2, 15), dict(tiled=False, leftover=False,
                                                                              first=True)),
    "leftover pixels": (2, 2, "nhwc", "normal", False, False, (2, 15), dict(tiled=False, leftover=True)),
    "overlapping": (3, 2, "nhwc", "normal", False, False, (3, 15), dict(tiled=False, first=True)),
    "overlapping ties": (3, 2, "nchw", "ties", False, False, (3, 15), dict(tiled=False, first=True)),
    "overlapping stride 1 zeros": (2, 1, "nchw", "zeros", False, False, (2, 12), dict(tiled=False, first=True)),
    "overlapping relu ties": (3, 1, "nhwc", "ties", True, True, (3, 12), dict(tiled=False, first=True)),
    "stride over size": (2, 3, "nchw", "normal", False, False, (2, 16), dict(tiled=False, first=True)),
    "stride over size relu": (2, 3, "nhwc", "normal", True, False, (2, 16), dict(tiled=False, first=True)),
}


def pool_path(record, x, size, stride):
    """The fast maxpool's path from the calls spied on: whether the forward tiled, the one-winner backward's
    outcome (True: it routed, False: it found ties and gave up, None: not tried), and the first-winner's."""
    calls = dict(record[1:])             # record[0] is the forward's _tiled
    one = "_one_winner_backward" in calls
    h, w = x.shape[2:]
    return dict(tiled=record[0][1], one=(calls["_one_winner_backward"] is not None) if one else None,
                first="_first_winner_backward" in calls, leftover=h % size != 0 or w % size != 0)


@DTYPES
@pytest.mark.parametrize("row", MAXPOOL)
def test_maxpool2d(monkeypatch, row, dtype):
    """With relu the fast pooling must equal the reference relu followed by the reference maxpool."""
    size, stride, layout, values, relu, use_workspace, sizes, expected = MAXPOOL[row]
    record = []
    for name in ("_tiled", "_one_winner_backward", "_first_winner_backward"):
        spy(monkeypatch, pool, name, record)
    workspace = Workspace() if use_workspace else None

    def draw(rng):
        n, c, h, w = rng.integers(1, 6), rng.integers(1, 5), *rng.integers(*sizes, size=2)
        x = laid_out(VALUES[values](rng, (n, c, h, w)).astype(dtype), layout)
        return x, rng.normal(size=(n, c, (h - size) // stride + 1, (w - size) // stride + 1)).astype(dtype)

    def path_of(case):
        record.clear()
        x, upstream = case
        _, cache = pool.maxpool2d_forward(x, size, stride, relu, workspace)
        pool.maxpool2d_backward(upstream, cache)
        return pool_path(record, x, size, stride)

    rng = np.random.default_rng(seed_of(row, dtype.__name__))
    (x, upstream), _ = draw_until(rng, draw, path_of, expected)
    out, cache = pool.maxpool2d_forward(x, size, stride, relu, workspace)
    out = out.copy()
    dx = pool.maxpool2d_backward(upstream, cache)
    relu_x, relu_cache = R.relu_forward(x) if relu else R.linear_forward(x)
    ref_out, ref_cache = R.maxpool2d_forward(relu_x, size, stride)
    ref_dx = R.maxpool2d_backward(upstream, ref_cache)
    ref_dx = R.relu_backward(ref_dx, relu_cache) if relu else ref_dx
    assert_close(out, ref_out, dtype, "out")
    assert_close(dx, ref_dx, dtype, "dx")
    if values != "normal":  # ties route exactly: every gradient value is one upstream value or a sum of them
        np.testing.assert_array_equal(dx != 0, ref_dx != 0)


@pytest.mark.parametrize("layout, size, stride", [("nhwc", 2, 2), ("nchw", 3, 2), ("rows first", 2, 2)])
def test_maxpool2d_propagates_nan(layout, size, stride):
    """A window holding NaN has the maximum NaN, in both engines and on the tiled and general paths alike."""
    rng = np.random.default_rng(size)
    x = rng.normal(size=(3, 2, 8, 10))
    x[rng.random(x.shape) < 0.05] = np.nan
    x = laid_out(x, layout)
    out, _ = pool.maxpool2d_forward(x, size, stride)
    ref_out, _ = R.maxpool2d_forward(x, size, stride)
    assert np.isnan(ref_out).any()
    np.testing.assert_array_equal(out, ref_out)   # NaNs compare equal here


AVGPOOL = [(2, 2), (3, 3), (3, 2), (2, 1), (2, 3), (1, 1)]  # size, stride


@DTYPES
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("size, stride", AVGPOOL)
def test_avgpool2d(size, stride, layout, dtype):
    rng = np.random.default_rng(seed_of(size, stride, layout, dtype.__name__))
    n, c, h, w = rng.integers(1, 6), rng.integers(1, 5), *rng.integers(size, 14, size=2)
    x = laid_out(rng.normal(size=(n, c, h, w)).astype(dtype), layout)
    out, cache = pool.avgpool2d_forward(x, size, stride)
    ref_out, ref_cache = R.avgpool2d_forward(x, size, stride)
    assert_close(out, ref_out, dtype, "out")
    upstream = rng.normal(size=out.shape).astype(dtype)
    assert_close(pool.avgpool2d_backward(upstream, cache), R.avgpool2d_backward(upstream, ref_cache), dtype, "dx")


@DTYPES
@pytest.mark.parametrize("seed", range(3))
def test_global_avgpool2d(seed, dtype):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rng.integers(1, 6), rng.integers(1, 5), *rng.integers(1, 12, size=2))).astype(dtype)
    out, cache = global_pool.global_avgpool2d_forward(x)
    ref_out, ref_cache = R.global_avgpool2d_forward(x)
    assert_close(out, ref_out, dtype, "out")
    upstream = rng.normal(size=out.shape).astype(dtype)
    dx = global_pool.global_avgpool2d_backward(upstream, cache)
    assert_close(dx, R.global_avgpool2d_backward(upstream, ref_cache), dtype, "dx")


# ---------------------------------------------------------------------------------------------------------------
# dense and activations


@DTYPES
@pytest.mark.parametrize("need_input_grad", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_dense(seed, need_input_grad, dtype):
    rng = np.random.default_rng(seed)
    n, i, o = rng.integers(1, 6), rng.integers(1, 40), rng.integers(1, 20)
    x, weight, bias = (rng.normal(size=shape).astype(dtype) for shape in ((n, i), (i, o), (o,)))
    out, cache = linear.linear_forward(x, weight, bias)
    ref_out, ref_cache = R.dense_forward(x, weight, bias)
    assert_close(out, ref_out, dtype, "out")
    upstream = rng.normal(size=out.shape).astype(dtype)
    dx, dweight, dbias = linear.linear_backward(upstream, cache, need_input_grad)
    ref_dx, ref_dweight, ref_dbias = R.dense_backward(upstream, ref_cache)
    assert_close(dweight, ref_dweight, dtype, "dweight")
    assert_close(dbias, ref_dbias, dtype, "dbias")
    if need_input_grad:
        assert_close(dx, ref_dx, dtype, "dx")
    else:
        assert dx is None


@DTYPES
@pytest.mark.parametrize("inplace", [False, True], ids=["copy", "inplace"])
@pytest.mark.parametrize("name", list(R.ACTIVATIONS))
def test_activation(name, inplace, dtype):
    """Values include exact zeros (the kinks) and +-1000 (sigmoid's and softmax's overflow)."""
    assert set(activations.ACTIVATIONS) == set(R.ACTIVATIONS)
    rng = np.random.default_rng(seed_of(name, inplace, dtype.__name__))
    z = (rng.normal(size=(rng.integers(1, 6), rng.integers(2, 12))) * 3).astype(dtype)
    z.reshape(-1)[::4] = 0
    z.reshape(-1)[1::7] = rng.choice([-1000, 1000], size=z.reshape(-1)[1::7].shape)
    ref_forward, ref_backward = R.ACTIVATIONS[name]
    ref_out, ref_cache = ref_forward(z)
    forward, backward = activations.ACTIVATIONS[name]
    with np.errstate(over="raise", invalid="raise"):
        out, cache = forward(z.copy(), inplace=inplace)
    assert_close(out, ref_out, dtype, "out")
    upstream = rng.normal(size=z.shape).astype(dtype)
    assert_close(backward(upstream, cache), ref_backward(upstream, ref_cache), dtype, "dz")


# ---------------------------------------------------------------------------------------------------------------
# batch normalisation and dropout

BATCHNORM = {  # id: (rank, layout, training, need_input_grad)
    "2-D training": (2, "nchw", True, True),
    "2-D inference": (2, "nchw", False, True),
    "4-D training": (4, "nchw", True, True),
    "4-D training channels-last": (4, "nhwc", True, True),
    "4-D training no input grad": (4, "nchw", True, False),
    "4-D inference": (4, "nchw", False, True),
    "4-D inference channels-last": (4, "nhwc", False, True),
}


@DTYPES
@pytest.mark.parametrize("row", BATCHNORM)
def test_batchnorm(row, dtype):
    """The fast batch_moments are the reference cache's mean, biased var and count; outputs and gradients agree."""
    rank, layout, training, need_input_grad = BATCHNORM[row]
    rng = np.random.default_rng(seed_of(row, dtype.__name__))
    n, c = rng.integers(2, 6), rng.integers(1, 6)
    shape = (n, c) if rank == 2 else (n, c, *rng.integers(1, 9, size=2))
    x = (rng.normal(size=shape) * 2 + 0.5).astype(dtype)
    x = laid_out(x, layout) if rank == 4 else x
    weight, bias, running_mean = (rng.normal(size=c).astype(dtype) for _ in range(3))
    running_var, eps = (rng.random(c) + 0.5).astype(dtype), 1e-5
    if training:
        ref_out, ref_cache = R.batchnorm_forward(x, weight, bias, eps)
        mean, var, count = batchnorm.batch_moments(x)
        assert count == ref_cache["count"]
        assert_close(mean, ref_cache["mean"], dtype, "mean")
        assert_close(var, ref_cache["var"], dtype, "var")
        out, cache = batchnorm.batchnorm_forward(x, mean, var, weight, bias, eps, True, count)
    else:
        ref_out, ref_cache = R.batchnorm_forward(x, weight, bias, eps, running_mean, running_var)
        out, cache = batchnorm.batchnorm_forward(x, running_mean, running_var, weight, bias, eps, False)
    assert_close(out, ref_out, dtype, "out")
    upstream = rng.normal(size=shape).astype(dtype)
    dx, dweight, dbias = batchnorm.batchnorm_backward(upstream, cache, need_input_grad)
    ref_dx, ref_dweight, ref_dbias = R.batchnorm_backward(upstream, ref_cache)
    assert_close(dweight, ref_dweight, dtype, "dweight")
    assert_close(dbias, ref_dbias, dtype, "dbias")
    if need_input_grad:
        assert_close(dx, ref_dx, dtype, "dx")
    else:
        assert dx is None


@DTYPES
@pytest.mark.parametrize("given_draws", [True, False], ids=["uniform given", "drawn from rng"])
@pytest.mark.parametrize("rate", [0.0, 0.3, 0.9])
def test_dropout(rate, given_draws, dtype):
    """The same uniform draws (given, or the rng's next) give the reference's mask, output and gradient exactly."""
    rng = np.random.default_rng(seed_of(rate, given_draws, dtype.__name__))
    shape = (rng.integers(1, 6), rng.integers(1, 4), *rng.integers(1, 9, size=2))
    x = rng.normal(size=shape).astype(dtype)
    uniform = np.random.default_rng(7).random(shape)
    if given_draws:
        uniform.reshape(-1)[::5] = rate   # draws at the boundary: kept by both
    out, mask = dropout.dropout_forward(x, rate, np.random.default_rng(7), uniform if given_draws else None)
    ref_mask = R.dropout_mask(uniform, rate, dtype)
    ref_out, ref_cache = R.dropout_forward(x, ref_mask)
    np.testing.assert_array_equal(mask, ref_mask)
    assert mask.dtype == dtype and out.dtype == dtype
    np.testing.assert_array_equal(out, ref_out)
    upstream = rng.normal(size=shape).astype(dtype)
    np.testing.assert_array_equal(dropout.dropout_backward(upstream, mask), R.dropout_backward(upstream, ref_cache))
