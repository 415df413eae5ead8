"""The argument checks every module shares: integers, numbers and seeds, each refused in Keras's wording.

    Received an invalid value for batch_size, expected a positive integer. Received: batch_size=0
"""
from __future__ import annotations

import math
import numbers
from typing import Any


def check_int(name: str, value: Any, minimum: int = 1) -> int:
    """value as an int if it is an integer >= minimum (not a bool), else a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"Received an invalid value for {name}, expected {kind}. Received: {name}={value!r}")
    return int(value)


def check_float(name: str, value: Any, low: float, high: float = math.inf, low_inclusive: bool = True) -> float:
    """value as a float if it is a finite real number in [low, high) (or (low, high)), else a ValueError."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= low if low_inclusive else value > low) and value < high
    if not ok:
        bound = f"{'>=' if low_inclusive else '>'} {low}" + (f" and < {high}" if high != math.inf else "")
        raise ValueError(f"Received an invalid value for {name}, expected a number {bound}. Received: {name}={value!r}")
    return float(value)


def check_seed(seed: Any, allow_none: bool = True) -> int | None:
    """A seed numpy.random.default_rng reproduces runs from: a non-negative integer (or None, fresh entropy)."""
    if seed is None and allow_none:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        expected = "None or a non-negative integer" if allow_none else "a non-negative integer"
        raise ValueError(f"Received an invalid value for seed, expected {expected}. Received: seed={seed!r}")
    return int(seed)
