"""Using every core: a batch split into one shard per thread.

NumPy's BLAS matmuls use several cores, but its element-wise loops and copies
(im2col, pooling, activations) run on one. Splitting a batch into one shard per
thread, with BLAS held to a single thread inside each, keeps every core busy with
all of the work. NumPy releases the GIL inside those loops, so Python threads are
enough. Inference is sharded, and so are the forward and backward passes of a
training step (engine/threads.py: the gradient sum and the update stay on one
thread; layers that mix samples, as BatchNorm does, sum their statistics across shards).

The thread count follows the BLAS library's (so OPENBLAS_NUM_THREADS=1 means one
core for scratchcnn too); `set_num_threads(n)` overrides it.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator, TypeVar

from threadpoolctl import ThreadpoolController

from . import inputs
from .backend import xp
from .checks import check_int

if TYPE_CHECKING:
    import numpy as np

_T = TypeVar("_T")

MIN_SHARD_SAMPLES = 16      # fewer samples per thread than this: the hand-off costs more than it saves
MIN_SHARD_VALUES = 1 << 12  # ... or fewer input values per thread than this (tiny dense nets)

_lock = threading.Lock()
_controller: ThreadpoolController | None = None
_num_threads: int | None = None
_pool: ThreadPoolExecutor | None = None


def _blas() -> ThreadpoolController:
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


def get_num_threads() -> int:
    """Threads scratchcnn spreads inference over: set_num_threads's value, else the BLAS library's thread count."""
    if _num_threads is not None:
        return _num_threads
    counts = [entry["num_threads"] for entry in _blas().info() if entry["user_api"] == "blas"]
    return max(1, min(counts)) if counts else 1


def set_num_threads(num_threads: int | None) -> None:
    """Use `num_threads` threads (1 = everything on the calling thread); None goes back to the default."""
    global _num_threads
    _num_threads = None if num_threads is None else check_int("num_threads", num_threads)


def chosen_num_threads() -> int | None:
    """set_num_threads's value, or None when it was not called (or went back to the default)."""
    return _num_threads


@contextmanager
def limited_threads(num_threads: int) -> Iterator[None]:
    """Within the block, scratchcnn and BLAS use num_threads threads; then the previous settings come back.

    (One process of several on a machine: each keeps to its share of the cores.)
    """
    global _num_threads
    before, _num_threads = _num_threads, check_int("num_threads", num_threads)
    try:
        with _blas().limit(limits=num_threads, user_api="blas"):
            yield
    finally:
        _num_threads = before


def shard_bounds(num_samples: int, sample_values: int, num_threads: int | None = None) -> list[tuple[int, int]]:
    """[(start, stop), ...]: num_samples split into up to num_threads nearly equal contiguous shards.

    One shard when the work is too small to be worth a thread: each shard keeps at least
    MIN_SHARD_SAMPLES samples and MIN_SHARD_VALUES input values (sample_values per sample).
    """
    threads = get_num_threads() if num_threads is None else num_threads
    by_samples = num_samples // MIN_SHARD_SAMPLES
    by_values = (num_samples * sample_values) // MIN_SHARD_VALUES
    count = max(1, min(threads, by_samples, by_values))
    edges = [num_samples * i // count for i in range(count + 1)]
    return list(zip(edges[:-1], edges[1:]))


def map_shards(fn: Callable[[int, int, int], _T], bounds: Sequence[tuple[int, int]]) -> list[_T]:
    """[fn(shard, start, stop) for each shard], the first on this thread and the others on worker threads.

    While shards run concurrently, BLAS is held to one thread so the cores are not oversubscribed.
    """
    if len(bounds) == 1:
        return [fn(0, *bounds[0])]
    pool = _worker_pool(len(bounds) - 1)
    with _blas().limit(limits=1, user_api="blas"):
        futures = [pool.submit(fn, shard, start, stop) for shard, (start, stop) in enumerate(bounds) if shard]
        try:
            first = fn(0, *bounds[0])
        finally:
            wait(futures)  # even if this thread's shard failed: no worker outlives the BLAS limit
        return [first] + [future.result() for future in futures]


def all_finite(x: np.ndarray) -> bool:
    """Whether the float array x (N, ...) holds no NaN and no inf: inputs.all_finite on its rows, split
    across the threads as a batch would be (train checks its whole X before the first step)."""
    bounds = shard_bounds(len(x), x[0].size if len(x) else 0)
    if len(bounds) == 1 or not x.flags.c_contiguous:
        return bool(xp.all(xp.isfinite(x)))  # not inputs.all_finite: BLAS is on every thread here
    return all(map_shards(lambda shard, start, stop: inputs.all_finite(x[start:stop]), bounds))


def _worker_pool(workers: int) -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None or _pool._max_workers < workers:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scratchcnn")
        return _pool
