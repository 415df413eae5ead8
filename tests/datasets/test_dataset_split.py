"""The shared stratified splitter used by load_mnist and load_image_folder."""
import numpy as np
import pytest

from scratchcnn.datasets._split import split_counts, stratified_split


@pytest.mark.parametrize(
    "num_items, split, expected",
    [
        (30, (0.7, 0.2, 0.1), [21, 6, 3]),
        (10, (0.8, 0.1, 0.1), [8, 1, 1]),
        (1000, (0.8, 0.1, 0.1), [800, 100, 100]),
        (7, (0.5, 0.25, 0.25), [3, 2, 2]),  # 3.5, 1.75, 1.75: largest remainders win
        (1, (0.5, 0.5, 0.0), [1, 0, 0]),
        (5, (0.0, 0.0, 1.0), [0, 0, 5]),
        (0, (0.7, 0.2, 0.1), [0, 0, 0]),
    ],
)
def test_split_counts(num_items, split, expected):
    assert split_counts(num_items, split) == expected


def test_split_counts_always_add_up_and_stay_close():
    rng = np.random.default_rng(0)
    for _ in range(300):
        fractions = rng.dirichlet(np.ones(3))
        num_items = int(rng.integers(0, 200))
        counts = split_counts(num_items, fractions)
        assert sum(counts) == num_items
        assert all(abs(c - num_items * f) < 1 for c, f in zip(counts, fractions))


def test_stratified_split_partitions_each_class():
    labels = np.repeat([0, 1, 2], [10, 20, 30])
    parts = stratified_split(labels, (0.8, 0.1, 0.1), np.random.default_rng(0))
    assert sorted(np.concatenate(parts).tolist()) == list(range(60))
    assert [np.bincount(labels[p], minlength=3).tolist() for p in parts] == [[8, 16, 24], [1, 2, 3], [1, 2, 3]]
    assert all(p.dtype == np.int64 for p in parts)


def test_stratified_split_is_seeded():
    labels = np.repeat([0, 1], 50)
    first = stratified_split(labels, (0.5, 0.3, 0.2), np.random.default_rng(5))
    second = stratified_split(labels, (0.5, 0.3, 0.2), np.random.default_rng(5))
    other = stratified_split(labels, (0.5, 0.3, 0.2), np.random.default_rng(6))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
