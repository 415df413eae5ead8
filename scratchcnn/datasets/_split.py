"""Stratified, seeded train/test/val splitting shared by the dataset loaders."""
from __future__ import annotations

import math
import numbers

from collections.abc import Sequence

import numpy as np


def check_split(split: Sequence[float]) -> tuple[float, ...]:
    """Return ``split`` as three floats, or raise if they are not fractions summing to 1."""
    valid = (
        isinstance(split, (tuple, list))
        and len(split) == 3
        and all(isinstance(f, numbers.Real) and not isinstance(f, bool) for f in split)
        and all(math.isfinite(f) and f >= 0 for f in split)
        and abs(sum(split) - 1.0) <= 1e-6
    )
    if not valid:
        raise ValueError(
            "Received an invalid value for split, expected three non-negative fractions "
            f"(train, test, val) summing to 1. Received: split={split!r}"
        )
    return tuple(float(f) for f in split)


def split_counts(num_items: int, split: Sequence[float]) -> list[int]:
    """Split ``num_items`` into three whole counts proportional to ``split``.

    Uses the largest-remainder rule so the counts always add up to ``num_items``:
    each part gets the floor of its share, and the items left over go to the parts
    with the largest fractional remainders (ties go to train, then test, then val).
    """
    shares = [num_items * fraction for fraction in split]
    # The small tolerance keeps 30 * 0.7 = 20.999999... from rounding down to 20.
    counts = [math.floor(share + 1e-9) for share in shares]
    remainders = [share - count for share, count in zip(shares, counts)]
    for part in sorted(range(3), key=lambda i: -remainders[i])[: num_items - sum(counts)]:
        counts[part] += 1
    return counts


def stratified_split(labels: np.ndarray, split: Sequence[float], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Split item indices into (train, test, val) index arrays, stratified per class.

    Each class is shuffled and cut by ``split_counts``; each part is then shuffled
    so classes are interleaved. ``labels`` holds integer class indices, shape (N,).
    """
    empty = np.empty(0, dtype=np.int64)
    parts = ([empty], [empty], [empty])
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        num_train, num_test, _ = split_counts(len(members), split)
        parts[0].append(members[:num_train])
        parts[1].append(members[num_train:num_train + num_test])
        parts[2].append(members[num_train + num_test:])
    return tuple(rng.permutation(np.concatenate(part)) for part in parts)
