"""Convolution in cache-sized blocks of images gives the same numbers as in one block, whether the backward pass
rebuilds each block's im2col columns or reads them where the forward pass left them, with or without a workspace."""
import numpy as np
import pytest

from scratchcnn.functional import blocks, conv
from scratchcnn.functional.workspace import Workspace

CASES = [  # channels, size, kernel, stride, padding, filters
    (1, 9, 3, 1, 1, 4),    # one channel: the shifted-copies im2col
    (3, 11, 4, 2, 0, 5),   # strided, several channels
    (4, 8, 3, 1, 2, 3),    # padding wider than needed
    (2, 7, 7, 1, 0, 2),    # kernel covering the whole image
]


def run(x, weight, bias, stride, padding, workspace, upstream, keep_columns=False):
    out, cache = conv.conv2d_forward(x, weight, bias, stride, padding, workspace, keep_columns=keep_columns)
    out = out.copy()  # the next call may reuse the workspace
    return (out, *conv.conv2d_backward(upstream, cache))


def case_arrays(channels, size, k, stride, padding, filters, n=7):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, channels, size, size))
    weight, bias = rng.normal(size=(filters, channels, k, k)), rng.normal(size=filters)
    oh = (size + 2 * padding - k) // stride + 1
    return x, weight, bias, rng.normal(size=(n, filters, oh, oh))


@pytest.mark.parametrize("channels, size, k, stride, padding, filters", CASES)
def test_blocks_of_one_image_equal_one_block(monkeypatch, channels, size, k, stride, padding, filters):
    x, weight, bias, upstream = case_arrays(channels, size, k, stride, padding, filters)
    n = len(x)
    monkeypatch.setattr(conv, "SHIFTED_COPIES_MIN_POSITIONS", 1)
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 1 << 40)
    assert len(blocks.image_blocks(n, 100)) == 1
    whole = run(x, weight, bias, stride, padding, None, upstream)
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 1)
    assert len(blocks.image_blocks(n, 100)) == n
    workspace = Workspace()
    # inference (columns rebuilt in the backward pass); training with columns rebuilt; training with them kept
    for keep_columns, keep_bytes in ((False, 1 << 40), (True, 0), (True, 1 << 40)):
        monkeypatch.setattr(blocks, "KEEP_BYTES", keep_bytes)
        for _ in range(2):  # the second pass reuses the workspace's buffers
            blocked = run(x, weight, bias, stride, padding, workspace, upstream, keep_columns=keep_columns)
            for got, expected in zip(blocked, whole):
                np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("keep_columns", [False, True])
def test_one_channel_shifted_copies_equal_the_general_columns(monkeypatch, keep_columns):
    """The shifted copies end with a row of ones that carries the bias forward and sums its gradient backward."""
    x, weight, bias, upstream = case_arrays(1, 12, 5, 1, 1, 6)
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 4 * 12 * 12 * 26 * 8)  # a few images per block
    results = {}
    for min_positions in (1, 1 << 40):  # shifted copies; the general (kh, kw, C) columns
        monkeypatch.setattr(conv, "SHIFTED_COPIES_MIN_POSITIONS", min_positions)
        results[min_positions] = run(x, weight, bias, 1, 1, Workspace(), upstream, keep_columns)
    for got, expected in zip(results[1], results[1 << 40]):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(results[1][3], upstream.sum(axis=(0, 2, 3)), rtol=1e-12)  # dbias


def test_backward_rebuilds_the_columns_unless_asked_to_keep_a_small_matrix(monkeypatch):
    x, weight, bias, upstream = case_arrays(3, 11, 4, 2, 0, 5)
    copies = []
    copy_block = conv._Columns._copy_block
    monkeypatch.setattr(conv._Columns, "_copy_block", lambda self, *a: copies.append(a) or copy_block(self, *a))
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 1)  # a block per image
    for keep_columns, keep_bytes, expected in ((False, 1 << 40, 2), (True, 1 << 40, 1), (True, 0, 2)):
        monkeypatch.setattr(blocks, "KEEP_BYTES", keep_bytes)
        copies.clear()
        run(x, weight, bias, 2, 0, Workspace(), upstream, keep_columns)
        assert len(copies) == expected * len(x), (keep_columns, keep_bytes)


@pytest.mark.parametrize("channels", [4, 1])  # 1: the shifted copies (k*k values and a one per position)
def test_inference_scratch_memory_does_not_grow_with_the_batch(monkeypatch, channels):
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 64 << 10)
    rng = np.random.default_rng(1)
    weight, bias = rng.normal(size=(8, channels, 5, 5)).astype(np.float32), np.zeros(8, np.float32)
    used = {}
    for n in (8, 64):
        workspace = Workspace()
        conv.conv2d_forward(rng.normal(size=(n, channels, 20, 20)).astype(np.float32), weight, bias, 1, 0, workspace)
        used[n] = workspace.nbytes
    per_image = 16 * 16 * (25 * channels + (channels == 1)) * 4  # positions x depth float32 values
    assert 0 < used[8] == used[64] <= max(blocks.BLOCK_BYTES, per_image)


def test_image_blocks_cover_the_batch_in_order():
    assert blocks.image_blocks(10, blocks.BLOCK_BYTES // 3) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert blocks.image_blocks(2, blocks.BLOCK_BYTES * 5) == [(0, 1), (1, 2)]  # at least one image per block


@pytest.mark.parametrize("channels", [1, 3, 5])  # 3: a channel at a time; 5: one transpose
@pytest.mark.parametrize("padding", [0, 2])
def test_channels_last_copies_or_views_with_zero_borders(channels, padding):
    from scratchcnn.functional.windows import channels_last
    x = np.random.default_rng(2).normal(size=(3, channels, 5, 4)).astype(np.float32)
    expected = np.pad(x.transpose(0, 2, 3, 1), ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    got = channels_last(x, padding)
    assert got.flags.c_contiguous and got.dtype == x.dtype
    np.testing.assert_array_equal(got, expected)
    already = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)  # channels-last memory
    assert np.shares_memory(channels_last(already, 0), already)  # no copy needed
    np.testing.assert_array_equal(channels_last(already, padding), expected)


@pytest.mark.parametrize("channels", [1, 3, 6])
def test_space_to_depth_stacks_each_block_of_pixels_as_channels(channels):
    from scratchcnn.functional.windows import depth_to_space, space_to_depth
    x = np.random.default_rng(4).normal(size=(2, channels, 7, 9))
    blocks = space_to_depth(x, 2, 6, 8)                              # the first 6 x 8 pixels
    assert blocks.shape == (2, 3, 4, 4 * channels)
    for i, j, u, v, c in [(0, 0, 0, 0, 0), (2, 3, 1, 1, channels - 1), (1, 2, 0, 1, channels // 2)]:
        assert blocks[1, i, j, (v * 2 + u) * channels + c] == x[1, c, i * 2 + u, j * 2 + v]
    np.testing.assert_array_equal(depth_to_space(blocks, 2, channels), x[:, :, :6, :8].transpose(0, 2, 3, 1))


@pytest.mark.parametrize("channels, size, k, stride, padding", [(6, 12, 4, 2, 1), (3, 11, 6, 3, 0), (2, 9, 2, 2, 2)])
def test_strided_convolution_by_space_to_depth_equals_stride_one_subsampled(channels, size, k, stride, padding):
    """A stride-s convolution (kernel a multiple of s: the space-to-depth path) is the stride-1 one (the plain
    im2col path) read at every s-th position; its gradients are the stride-1 ones with the upstream gradient
    placed at those positions and zeros between."""
    rng = np.random.default_rng(5)
    x, weight, bias = rng.normal(size=(2, channels, size, size)), rng.normal(size=(4, channels, k, k)), rng.normal(size=4)
    out, cache = conv.conv2d_forward(x, weight, bias, stride, padding)
    upstream = rng.normal(size=out.shape)
    dx, dweight, dbias = conv.conv2d_backward(upstream, cache)
    dense_out, dense_cache = conv.conv2d_forward(x, weight, bias, 1, padding)
    oh = out.shape[2]
    np.testing.assert_allclose(out, dense_out[:, :, ::stride, ::stride][:, :, :oh, :oh], rtol=1e-12, atol=1e-12)
    dense_upstream = np.zeros(dense_out.shape)
    dense_upstream[:, :, ::stride, ::stride][:, :, :oh, :oh] = upstream
    expected = conv.conv2d_backward(dense_upstream, dense_cache)
    for got, want in zip((dx, dweight, dbias), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
