"""Max pooling's two backward paths (functional/pool.py): one product when every tiled window has a single maximum,
the first-maximum walk over the offsets otherwise; both give the same gradients."""
import numpy as np
import pytest

from scratchcnn.functional import pool


def backward_both_ways(x, size, relu=False):
    """(dx from maxpool2d_backward, dx from the offset walk alone, whether the one-product path answered)."""
    out, cache = pool.maxpool2d_forward(x, size, size, relu=relu)
    upstream = np.random.default_rng(0).normal(size=out.shape)
    x_nhwc, maxima = cache[0], cache[1]
    g = np.ascontiguousarray(upstream.transpose(0, 2, 3, 1)) * ((maxima > 0) if relu else 1)
    walked = pool._first_winner_backward(g, x_nhwc, maxima, size, size).transpose(0, 3, 1, 2)
    one = pool._one_winner_backward(g, x_nhwc, maxima, size)
    return pool.maxpool2d_backward(upstream, cache), walked, one is not None


@pytest.mark.parametrize("size", [2, 3])
def test_distinct_values_take_the_one_product_path(size):
    x = np.random.default_rng(1).normal(size=(2, 3, 2 * size, 4 * size))
    dx, walked, one_product = backward_both_ways(x, size)
    assert one_product
    np.testing.assert_array_equal(dx, walked)


@pytest.mark.parametrize("relu", [False, True])
def test_ties_fall_back_to_the_first_maximum(relu):
    x = np.random.default_rng(2).integers(-1, 2, size=(2, 3, 4, 6)).astype(float)
    dx, walked, one_product = backward_both_ways(x, 2, relu)
    assert not one_product
    np.testing.assert_array_equal(dx, walked)
    assert np.count_nonzero(dx) <= dx.size // 4  # at most one winner per 2 x 2 window


def test_a_nan_window_falls_back_rather_than_mistake_a_tie_for_a_single_maximum():
    """A NaN window matches nothing; a tied window elsewhere would otherwise make the match count look right."""
    x = np.random.default_rng(3).normal(size=(1, 1, 2, 4))
    x[0, 0, 0, 0] = np.nan
    x[0, 0, :, 2:] = 5.0  # the second window: four equal maxima
    out, cache = pool.maxpool2d_forward(x, 2, 2)
    dx = pool.maxpool2d_backward(np.ones(out.shape), cache)
    np.testing.assert_array_equal(dx[0, 0], [[0, 0, 1, 0], [0, 0, 0, 0]])


def test_relu_masks_windows_whose_maximum_is_not_positive():
    x = -np.ones((1, 1, 2, 4))
    x[0, 0, 1, 3] = 2.0  # only the second window has a positive maximum
    out, cache = pool.maxpool2d_forward(x, 2, 2, relu=True)
    np.testing.assert_array_equal(out, [[[[0.0, 2.0]]]])
    dx = pool.maxpool2d_backward(np.full(out.shape, 3.0), cache)
    np.testing.assert_array_equal(dx[0, 0], [[0, 0, 0, 0], [0, 0, 0, 3.0]])


@pytest.mark.parametrize("relu", [False, True])
def test_rows_first_input_takes_the_tiled_passes_and_keeps_its_layout(relu):
    """A Winograd convolution's output is rows first, (OH, N, OW, C) in memory: its image rows are still
    contiguous runs, so the one-call passes take it, their results laid out rows first too, equal to the
    ones of the same values in (N, C, H, W) order, forward and backward, with and without a workspace."""
    from scratchcnn.functional.workspace import Workspace, transient_outputs

    rows_first = np.random.default_rng(4).normal(size=(6, 5, 8, 3)).astype(np.float32)  # H, N, W, C
    x = rows_first.transpose(1, 3, 0, 2)                                                # N, C, H, W view
    assert pool._tiled(x.transpose(0, 2, 3, 1), 2, 2)
    expected, expected_cache = pool.maxpool2d_forward(np.ascontiguousarray(x), 2, 2, relu=relu)
    upstream = np.random.default_rng(5).normal(size=expected.shape).astype(np.float32)
    for workspace in (None, Workspace()):
        with transient_outputs():
            out, cache = pool.maxpool2d_forward(x, 2, 2, relu=relu, workspace=workspace)
            np.testing.assert_array_equal(out, expected)
            assert out.strides[2] > out.strides[0]  # (N, C, OH, OW): rows outside images, as the input's
            np.testing.assert_array_equal(pool.maxpool2d_backward(upstream, cache),
                                          pool.maxpool2d_backward(upstream, expected_cache))
