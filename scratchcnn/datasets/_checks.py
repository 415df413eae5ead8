"""Argument checks shared by the dataset loaders; each error says what was received."""
from __future__ import annotations

import numbers


def check_positive_int(value: int, name: str) -> int:
    """Return ``value`` as an int, or raise ValueError if it is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            f"Received an invalid value for {name}, expected a positive integer. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def check_seed(seed: int | None) -> int | None:
    """Return ``seed`` if it can seed ``numpy.random.default_rng`` reproducibly (int >= 0 or None)."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(
            f"Received an invalid value for seed, expected a non-negative integer or None. "
            f"Received: seed={seed!r}"
        )
    return int(seed)
