"""inputs.all_finite: the one-pass NaN/inf check that predict runs on each piece of X."""
import numpy as np
import pytest

from scratchcnn.inputs import all_finite


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [(0, 0, 0, 0), (3, 2, 4, 6), (6, 2, 4, 6), (4, 1, 0, 5)])
def test_one_bad_value_anywhere_is_found(dtype, bad, where):
    """First, last and inner positions (the last ones in a BLAS kernel's leftover lanes), each alone."""
    x = np.random.default_rng(0).standard_normal((7, 3, 5, 7)).astype(dtype)
    assert all_finite(x)
    x[where] = bad
    assert not all_finite(x)


def test_inf_and_minus_inf_in_one_row_are_found():
    x = np.ones((4, 100), np.float32)
    x[2, 10], x[2, 90] = np.inf, -np.inf  # their sum is NaN, not inf: still not finite
    assert not all_finite(x)


def test_sums_that_overflow_from_finite_values_are_finite():
    """Row sums of 3e38 overflow float32 to inf; the values themselves are finite, so the exact check says so."""
    x = np.full((3, 64), 3e38, np.float32)
    with np.errstate(over="ignore"):
        assert np.isinf(x.sum(axis=1)).all()
    assert all_finite(x)
    x[1, 63] = np.nan
    assert not all_finite(x)


def test_no_warning_escapes(recwarn):
    """inf - inf and overflowing sums are the check's business, not the caller's: no RuntimeWarning."""
    x = np.full((2, 64), 3e38, np.float32)
    x[0, :2] = np.inf, -np.inf
    assert not all_finite(x)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_views_vectors_and_empty_arrays():
    x = np.random.default_rng(1).random((6, 8, 8), dtype=np.float32)
    x[:, :, 1] = np.nan
    assert all_finite(x[:, :, ::2])          # a strided view that skips the NaN column
    assert not all_finite(x[:, :, 1::2])
    assert all_finite(np.arange(5.0)) and not all_finite(np.array([1.0, np.inf]))
    assert all_finite(np.empty((0, 3), np.float32))
