"""Winograd's minimal filtering (functional/winograd.py): the transforms are exact, the convolution and its
gradients equal im2col's for every tile size, partial last tile, block size, stride and product-row group, and the
dispatch takes it only where it saves multiplications."""
import numpy as np
import pytest

from scratchcnn.functional import blocks, conv, winograd
from scratchcnn.functional.workspace import Workspace


@pytest.mark.parametrize("m, k", [(m, k) for k in range(2, 8) for m in range(2, winograd.MAX_TILE + 1)
                                  if m + k - 2 <= len(winograd.POINTS)])
def test_transforms_compute_m_outputs_of_a_k_tap_correlation(m, k):
    at, g, bt = winograd.transforms(m, k)
    assert at.shape == (m, m + k - 1) and g.shape == (m + k - 1, k) and bt.shape == (m + k - 1, m + k - 1)
    rng = np.random.default_rng(k * 10 + m)
    for _ in range(5):
        d, taps = rng.normal(size=m + k - 1), rng.normal(size=k)
        expected = [d[i:i + k] @ taps for i in range(m)]
        np.testing.assert_allclose(at @ ((g @ taps) * (bt @ d)), expected, rtol=1e-11, atol=1e-11)


def run(x, weight, bias, stride, padding, upstream, workspace=None, need_input_grad=True):
    out, cache = conv.conv2d_forward(x, weight, bias, stride, padding, workspace, keep_columns=True)
    return cache[0], [out.copy(), *conv.conv2d_backward(upstream, cache, need_input_grad)]


def compare_with_im2col(monkeypatch, x, weight, bias, stride, padding, tile, **kwargs):
    """Run the convolution forced onto the Winograd path with tiles of `tile` rows, then on im2col."""
    rng = np.random.default_rng(1)
    k = weight.shape[2]
    oh = (x.shape[2] + 2 * padding - k) // stride + 1
    ow = (x.shape[3] + 2 * padding - k) // stride + 1
    upstream = rng.normal(size=(len(x), len(weight), oh, ow))
    monkeypatch.setattr(winograd, "tile_size", lambda *args: tile)
    used, got = run(x, weight, bias, stride, padding, upstream, **kwargs)
    assert used == tile
    monkeypatch.setattr(winograd, "tile_size", lambda *args: None)
    used, expected = run(x, weight, bias, stride, padding, upstream, **kwargs)
    assert used is None
    for name, ours, theirs in zip(("out", "dx", "dweight", "dbias"), got, expected):
        if theirs is None:
            assert ours is None
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("group", [1, 2, 3])
@pytest.mark.parametrize("tile", [2, 3, 4])
@pytest.mark.parametrize("channels, height, width, k, stride, padding", [
    (3, 13, 9, 4, 1, 0),    # 10 output rows: a partial last tile for m = 3 and 4
    (2, 12, 12, 5, 1, 2),   # padding; 12 output rows fill whole tiles of 2, 3 and 4
    (3, 20, 11, 6, 2, 1),   # stride 2: the 3x3 kernel over 2x2 squares (space-to-depth) that D's layer runs as
    (4, 6, 7, 3, 1, 0),     # fewer output rows (4) than some tiles reach: rows past the image are zeros
])
def test_winograd_equals_im2col(monkeypatch, group, tile, channels, height, width, k, stride, padding):
    """group: output columns per product row, where it divides OW (6, 12 and 6 here; 5 for the last shape)."""
    monkeypatch.setattr(winograd, "group_size", lambda out_width, filters: group if out_width % group == 0 else 1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, channels, height, width))
    weight, bias = rng.normal(size=(5, channels, k, k)), rng.normal(size=5)
    compare_with_im2col(monkeypatch, x, weight, bias, stride, padding, tile)


@pytest.mark.parametrize("keep_bytes", [0, 1 << 40])  # the backward pass transforms afresh / reads the kept tiles
@pytest.mark.parametrize("block_bytes", [1, 1 << 40])  # a block per image; the whole batch in one block
def test_winograd_blocks_workspace_and_weight_only_gradient(monkeypatch, block_bytes, keep_bytes):
    monkeypatch.setattr(blocks, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(blocks, "KEEP_BYTES", keep_bytes)
    monkeypatch.setattr(winograd, "tile_size", lambda *args: 4)
    _, cache = conv.conv2d_forward(np.ones((2, 3, 11, 10)), np.ones((2, 3, 5, 5)), np.zeros(2), 1, 1, keep_columns=True)
    assert (cache[1][0].kept is not None) == bool(keep_bytes)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 3, 11, 10))
    weight, bias = rng.normal(size=(2, 3, 5, 5)), rng.normal(size=2)
    workspace = Workspace()
    for _ in range(2):  # the second pass reuses the workspace's buffers, poisoned: no result may read stale scratch
        compare_with_im2col(monkeypatch, x, weight, bias, 1, 1, 4, workspace=workspace)  # 9 rows: 3 tiles
        for buffer in workspace.buffers():
            buffer.fill(np.nan)
    compare_with_im2col(monkeypatch, x, weight, bias, 1, 1, 4, need_input_grad=False)


@pytest.mark.parametrize("group, channels, k", [(2, 3, 5), (3, 2, 4), (1, 4, 3)])
def test_narrow_is_the_adjoint_of_widen(group, channels, k):
    """<widen(u), y> = <u, narrow(y)> (narrow takes its gradient transposed, as the backward pass has it),
    and widen puts each output column's copy of u where that column's window sits."""
    rng = np.random.default_rng(5)
    a, filters = 4, 3
    u = rng.normal(size=(a, k * channels, filters))
    wide = winograd.widen(u, group, channels)
    assert wide.shape == (a, (group + k - 1) * channels, group * filters)
    for q in range(group):
        block = wide[:, :, q * filters:(q + 1) * filters]
        np.testing.assert_array_equal(block[:, q * channels:(q + k) * channels], u)
        assert not block[:, :q * channels].any() and not block[:, (q + k) * channels:].any()
    y = rng.normal(size=wide.shape)
    narrowed = winograd.narrow(y.transpose(0, 2, 1).copy(), group, channels, k * channels)
    assert narrowed.shape == (a, filters, k * channels)
    np.testing.assert_allclose(np.sum(wide * y), np.sum(u * narrowed.transpose(0, 2, 1)), rtol=1e-12)


@pytest.mark.parametrize("out_width, filters, expected", [(20, 16, 2), (21, 16, 1), (20, 32, 1), (20, 8, 2)])
def test_group_size_pairs_output_columns_only_for_narrow_layers(out_width, filters, expected):
    assert winograd.group_size(out_width, filters) == expected


def test_float32_error_stays_small():
    """F(4, 6) in float32, B's 6x6 16->32 layer: about 4e-6 relative (im2col: 5e-7); a broken transform is ~1."""
    rng = np.random.default_rng(3)
    x, weight, bias = rng.random((4, 16, 25, 25)), rng.normal(size=(32, 16, 6, 6)) * 0.1, rng.normal(size=32)
    exact, _ = conv.conv2d_forward(x, weight, bias)
    single, cache = conv.conv2d_forward(*(a.astype(np.float32) for a in (x, weight, bias)))
    assert cache[0] == 4 and single.dtype == np.float32
    assert np.abs(single - exact).max() / np.abs(exact).max() < 2e-5


@pytest.mark.parametrize("k, out_rows, channels, expected", [
    (6, 20, 16, 4),     # net B's 6x6 16->32 layer: 45 multiplications per output column instead of 120
    (5, 21, 12, 4),     # net D's 10x10 stride-2 layer, as a 5x5 one over 12 stacked channels: 48 instead of 105
    (5, 32, 16, 4),
    (3, 14, 32, None),  # net C's 3x3 layers: 24 instead of 42 does not pay for the transforms
    (8, 3, 32, None),   # net B's 8x8 layer: 3 output rows
    (6, 20, 1, None),   # one channel: the shifted-copies im2col
    (10, 40, 16, None), # a tile would need more points than POINTS holds
])
def test_tile_size_takes_winograd_only_where_it_pays(k, out_rows, channels, expected):
    assert winograd.tile_size(k, out_rows, channels) == expected


def test_the_report_nets_tall_layers_run_by_winograd():
    rng = np.random.default_rng(4)
    # D's layer on the 49 x 49 pixels its network passes it (adjacent.py: 20 x 20 outputs for the pooling)
    for shape, weight_shape, stride, group in [((2, 16, 25, 25), (32, 16, 6, 6), 1, 1),
                                               ((2, 3, 50, 50), (16, 3, 10, 10), 2, 1),
                                               ((2, 3, 49, 49), (16, 3, 10, 10), 2, 2)]:
        _, cache = conv.conv2d_forward(rng.random(shape), rng.normal(size=weight_shape), np.zeros(weight_shape[0]),
                                       stride)
        assert cache[0] == 4 and cache[1][0].group == group


@pytest.mark.parametrize("block_bytes", [1, 1 << 40])  # a block per image; the whole batch in one block
@pytest.mark.parametrize("group, tile, channels, height, width, k, stride, direct", [
    (2, 4, 3, 13, 12, 5, 1, True),    # windows of 6 pixels, 2 of them per row, 3 sets; a partial last tile
    (1, 3, 2, 9, 8, 4, 1, True),      # group 1: windows of 4 pixels, 4 sets
    (3, 2, 2, 8, 12, 4, 1, True),     # group 3: windows of 6 pixels, 2 sets
    (2, 4, 3, 48, 48, 10, 2, True),   # net D's layer: 10x10 stride 2 as 5x5 over 2x2 squares, 24 wide
    (2, 4, 3, 13, 10, 5, 1, False),   # 10 pixels are not whole windows of 6: the window columns are copied
])
def test_inference_reads_the_windows_in_place_and_equals_im2col(monkeypatch, block_bytes, group, tile, channels,
                                                                 height, width, k, stride, direct):
    """direct_products: the products straight from the transformed tiles, the rows past OW/group (windows that
    run into the next tile row or the spare window) never reach an output, even when the scratch holds NaN."""
    monkeypatch.setattr(blocks, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(winograd, "group_size", lambda out_width, filters: group if out_width % group == 0 else 1)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, channels, height, width))
    weight, bias = rng.normal(size=(4, channels, k, k)), rng.normal(size=4)
    monkeypatch.setattr(winograd, "tile_size", lambda *args: None)
    expected, _ = conv.conv2d_forward(x, weight, bias, stride, 0)
    monkeypatch.setattr(winograd, "tile_size", lambda *args: tile)
    workspace = Workspace()
    for _ in range(2):  # the second call reuses the scratch, poisoned
        out, cache = conv.conv2d_forward(x, weight, bias, stride, 0, workspace, keep_columns=False)
        assert cache[0] == tile and cache[1][0].direct == direct
        np.testing.assert_allclose(out, expected, rtol=1e-11, atol=1e-11)
        for buffer in workspace.buffers():
            buffer.fill(np.nan)
