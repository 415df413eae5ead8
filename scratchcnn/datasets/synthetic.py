"""The original report's toy data sets: tiny, seeded, made of random bits."""
from __future__ import annotations

import numpy as np

from ..checks import check_int, check_seed


def xor_dataset(num_samples: int = 15, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three-bit parity (XOR) as a binary task.

    Returns:
        X (N, 3) float32 rows of random 0/1 bits; y (N, 1) float32, 1 when the row
        holds an odd number of ones (bit0 XOR bit1 XOR bit2), else 0.
    """
    bits = _random_bits(num_samples, 3, seed)  # (N, 3)
    parity = bits.sum(axis=1, keepdims=True) % 2  # (N, 1)
    return bits.astype(np.float32), parity.astype(np.float32)


def four_bit_dataset(num_samples: int = 25, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four random bits, three classes by how many bits are set.

    The report does not state its labelling rule; ours is: class = number of ones,
    capped at 2. So class 0 is ``0000``, class 1 has exactly one bit set, and class 2
    has two or more. With uniform bits the class frequencies are 1/16, 4/16, 11/16.

    Returns:
        X (N, 4) float32 bits; y (N, 3) float32 one-hot class.
    """
    bits = _random_bits(num_samples, 4, seed)  # (N, 4)
    classes = np.minimum(bits.sum(axis=1), 2)  # (N,)
    return bits.astype(np.float32), np.eye(3, dtype=np.float32)[classes]


def _random_bits(num_samples: int, num_bits: int, seed: int | None) -> np.ndarray:
    """Integer array (num_samples, num_bits) of 0/1, drawn from ``default_rng(seed)``."""
    num_samples = check_int("num_samples", num_samples)
    rng = np.random.default_rng(check_seed(seed))
    return rng.integers(0, 2, size=(num_samples, num_bits))
