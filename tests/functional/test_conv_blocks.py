"""Convolution in cache-sized blocks of images gives the same numbers as in one block, with or without a workspace."""
import numpy as np
import pytest

from scratchcnn.functional import conv
from scratchcnn.functional.workspace import Workspace

CASES = [  # channels, size, kernel, stride, padding, filters
    (1, 9, 3, 1, 1, 4),    # one channel: the shifted-copies im2col
    (3, 11, 4, 2, 0, 5),   # strided, several channels
    (4, 8, 3, 1, 2, 3),    # padding wider than needed
    (2, 7, 7, 1, 0, 2),    # kernel covering the whole image
]


def run(x, weight, bias, stride, padding, workspace, upstream):
    out, cache = conv.conv2d_forward(x, weight, bias, stride, padding, workspace)
    out = out.copy()  # the next call may reuse the workspace
    return (out, *conv.conv2d_backward(upstream, cache))


@pytest.mark.parametrize("channels, size, k, stride, padding, filters", CASES)
def test_blocks_of_one_image_equal_one_block(monkeypatch, channels, size, k, stride, padding, filters):
    rng = np.random.default_rng(0)
    n = 7
    x = rng.normal(size=(n, channels, size, size))
    weight, bias = rng.normal(size=(filters, channels, k, k)), rng.normal(size=filters)
    oh = (size + 2 * padding - k) // stride + 1
    upstream = rng.normal(size=(n, filters, oh, oh))
    monkeypatch.setattr(conv, "SHIFTED_COPIES_MIN_POSITIONS", 1)
    monkeypatch.setattr(conv, "BLOCK_BYTES", 1 << 40)
    assert len(conv.image_blocks(n, 100)) == 1
    whole = run(x, weight, bias, stride, padding, None, upstream)
    monkeypatch.setattr(conv, "BLOCK_BYTES", 1)
    assert len(conv.image_blocks(n, 100)) == n
    workspace = Workspace()
    for _ in range(2):  # the second pass reuses the workspace's buffers
        blocked = run(x, weight, bias, stride, padding, workspace, upstream)
        for got, expected in zip(blocked, whole):
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_image_blocks_cover_the_batch_in_order():
    blocks = conv.image_blocks(10, conv.BLOCK_BYTES // 3)
    assert blocks == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert conv.image_blocks(2, conv.BLOCK_BYTES * 5) == [(0, 1), (1, 2)]  # at least one image per block
