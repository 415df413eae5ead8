"""The toy bit data sets: shapes, labelling rules and seeding."""
import numpy as np
import pytest

from scratchcnn.datasets import four_bit_dataset, xor_dataset


def test_xor_defaults_and_parity_rule():
    X, y = xor_dataset()
    assert X.shape == (15, 3) and y.shape == (15, 1)
    assert X.dtype == np.float32 and y.dtype == np.float32
    assert set(np.unique(X).tolist()) <= {0.0, 1.0}
    bits = X.astype(np.int64)
    np.testing.assert_array_equal(y[:, 0], bits[:, 0] ^ bits[:, 1] ^ bits[:, 2])


def test_xor_covers_all_patterns_when_large():
    X, y = xor_dataset(num_samples=500, seed=4)
    assert len(np.unique(X, axis=0)) == 8
    assert set(np.unique(y).tolist()) == {0.0, 1.0}


def test_four_bit_defaults_and_count_rule():
    X, y = four_bit_dataset()
    assert X.shape == (25, 4) and y.shape == (25, 3)
    assert X.dtype == np.float32 and y.dtype == np.float32
    assert (y.sum(axis=1) == 1).all()
    np.testing.assert_array_equal(y.argmax(axis=1), np.minimum(X.sum(axis=1), 2))


def test_four_bit_all_classes_appear_when_large():
    X, y = four_bit_dataset(num_samples=1000, seed=2)
    assert len(np.unique(X, axis=0)) == 16
    assert (y.sum(axis=0) > 0).all()
    assert y[X.sum(axis=1) == 0, 0].all() and y[X.sum(axis=1) == 1, 1].all() and y[X.sum(axis=1) >= 2, 2].all()


@pytest.mark.parametrize("make", [xor_dataset, four_bit_dataset])
def test_same_seed_same_data(make):
    first, second, other = make(40, seed=7), make(40, seed=7), make(40, seed=8)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize("make", [xor_dataset, four_bit_dataset])
@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_num_samples(make, bad):
    with pytest.raises(ValueError, match=f"expected a positive integer. Received: num_samples={bad!r}"):
        make(num_samples=bad)


@pytest.mark.parametrize("bad", [-1, 1.5, "0"])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match=f"invalid value for seed.*Received: seed={bad!r}"):
        xor_dataset(seed=bad)
