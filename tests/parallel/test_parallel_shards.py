"""parallel.py: how a batch is split into shards, and how shards run on threads."""
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import scratchcnn
from scratchcnn import parallel


@pytest.fixture(autouse=True)
def default_threads():
    yield
    parallel.set_num_threads(None)


def covers(bounds, n):
    """The shards are contiguous, in order, and cover 0..n exactly once."""
    return bounds[0][0] == 0 and bounds[-1][1] == n and all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))


def test_a_large_batch_is_split_into_one_nearly_equal_shard_per_thread():
    bounds = parallel.shard_bounds(256, 784, num_threads=2)
    assert bounds == [(0, 128), (128, 256)]
    bounds = parallel.shard_bounds(100, 784, num_threads=3)
    assert covers(bounds, 100) and [stop - start for start, stop in bounds] == [33, 33, 34]


def test_small_work_stays_in_one_shard():
    assert parallel.shard_bounds(1, 784, num_threads=2) == [(0, 1)]
    assert parallel.shard_bounds(2 * parallel.MIN_SHARD_SAMPLES - 1, 784, num_threads=2) == [(0, 31)]
    assert parallel.shard_bounds(64, 4, num_threads=2) == [(0, 64)]  # 256 input values: too little work
    assert parallel.shard_bounds(1000, 3, num_threads=2) == [(0, 1000)]  # XOR rows: still too little
    assert parallel.shard_bounds(256, 784, num_threads=1) == [(0, 256)]
    # as many shards as the minimums allow, no more
    assert len(parallel.shard_bounds(48, 784, num_threads=8)) == 3
    assert len(parallel.shard_bounds(160, 100, num_threads=8)) == 3  # 16000 values: at least 4096 per shard


def test_set_num_threads_overrides_the_blas_default_and_none_restores_it():
    blas = [entry["num_threads"] for entry in threadpool_info() if entry["user_api"] == "blas"]
    assert parallel.get_num_threads() == max(1, min(blas))
    scratchcnn.set_num_threads(3)
    assert scratchcnn.get_num_threads() == 3
    assert len(parallel.shard_bounds(256, 784)) == 3
    scratchcnn.set_num_threads(None)
    assert parallel.get_num_threads() == max(1, min(blas))


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_set_num_threads_rejects_anything_but_a_positive_integer(bad):
    with pytest.raises(ValueError, match="num_threads"):
        parallel.set_num_threads(bad)


def test_map_shards_runs_the_shards_concurrently_in_order_with_blas_held_to_one():
    seen = {}
    all_running = threading.Barrier(3, timeout=10)  # passes only if the three shards run at the same time

    def work(shard, start, stop):
        all_running.wait()
        blas = [entry["num_threads"] for entry in threadpool_info() if entry["user_api"] == "blas"]
        seen[shard] = (threading.get_ident(), blas)
        return shard, start, stop

    bounds = [(0, 10), (10, 20), (20, 30)]
    assert parallel.map_shards(work, bounds) == [(0, 0, 10), (1, 10, 20), (2, 20, 30)]
    assert seen[0][0] == threading.get_ident()             # the first shard runs on the calling thread
    assert len({ident for ident, _ in seen.values()}) == 3  # each shard on its own thread
    assert all(blas == [1] * len(blas) for _, blas in seen.values())


def test_map_shards_with_one_shard_runs_inline():
    assert parallel.map_shards(lambda shard, start, stop: (threading.get_ident(), start, stop), [(0, 5)]) == [
        (threading.get_ident(), 0, 5)]


def test_an_error_in_any_shard_reaches_the_caller_after_every_shard_finished():
    finished = []

    def work(shard, start, stop):
        if shard == 1:
            raise ArithmeticError(f"shard {shard} failed")
        finished.append(shard)
        return shard

    with pytest.raises(ArithmeticError, match="shard 1 failed"):
        parallel.map_shards(work, [(0, 1), (1, 2), (2, 3)])
    assert sorted(finished) == [0, 2]

    def first_fails(shard, start, stop):
        if shard == 0:
            raise KeyError("first")
        finished.append(("late", shard))
        return shard

    with pytest.raises(KeyError):
        parallel.map_shards(first_fails, [(0, 1), (1, 2)])
    assert ("late", 1) in finished  # the worker's shard was waited for before the error surfaced


def test_blas_thread_count_is_restored_after_map_shards():
    before = [entry["num_threads"] for entry in threadpool_info() if entry["user_api"] == "blas"]
    parallel.map_shards(lambda shard, start, stop: np.ones((64, 64)) @ np.ones((64, 64)), [(0, 1), (1, 2)])
    after = [entry["num_threads"] for entry in threadpool_info() if entry["user_api"] == "blas"]
    assert after == before


def test_all_finite_splits_the_rows_across_the_threads_and_finds_any_bad_value(monkeypatch):
    calls = []
    original = parallel.map_shards
    monkeypatch.setattr(parallel, "map_shards", lambda fn, bounds: calls.append(bounds) or original(fn, bounds))
    parallel.set_num_threads(2)
    x = np.random.default_rng(0).random((64, 3, 20, 20), dtype=np.float32)
    assert parallel.all_finite(x)
    assert calls == [[(0, 32), (32, 64)]]
    for where, bad in [((0, 0, 0, 0), np.nan), ((31, 2, 19, 19), np.inf), ((32, 0, 0, 0), -np.inf),
                       ((63, 1, 7, 3), np.nan)]:
        y = x.copy()
        y[where] = bad
        assert not parallel.all_finite(y), where
    huge = np.full((64, 1200), 3e38, np.float32)  # row sums overflow; the values are finite
    assert parallel.all_finite(huge)


def test_all_finite_checks_small_and_strided_arrays_on_this_thread(monkeypatch):
    monkeypatch.setattr(parallel, "map_shards", lambda fn, bounds: pytest.fail("no split expected"))
    parallel.set_num_threads(2)
    small = np.ones((3, 4), np.float32)
    assert parallel.all_finite(small)
    small[2, 3] = np.nan
    assert not parallel.all_finite(small)
    strided = np.ones((64, 3, 20, 40), np.float32)[..., ::2]
    assert parallel.all_finite(strided)
    strided[40, 1, 2, 3] = np.inf
    assert not parallel.all_finite(strided)
