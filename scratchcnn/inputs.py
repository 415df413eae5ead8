"""Turning user input (nested lists or arrays) into float arrays, with clear errors."""
from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .backend import xp


def as_float_array(x: ArrayLike, name: str = "x", dtype: DTypeLike | None = None) -> np.ndarray:
    """Nested lists or arrays -> a floating array.

    dtype=None keeps float32/float64 arrays as they are and turns everything else
    (lists, integers, booleans) into float32. Ragged lists and non-numeric data
    raise ValueError naming `name`.
    """
    if not hasattr(x, "dtype"):
        try:
            x = np.asarray(x)
        except ValueError as error:  # NumPy refuses ragged nesting
            raise ValueError(
                f"Received a ragged nested list for {name}: every sample must have the same shape. ({error})"
            ) from None
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"Received non-numeric data for {name}, expected numbers. Received: dtype={x.dtype}")
    if x.dtype.kind == "c":
        raise ValueError(f"Received complex numbers for {name}, expected real numbers.")
    if dtype is None:
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float32
    return xp.asarray(x, dtype=dtype)


def all_finite(x: np.ndarray) -> bool:
    """Whether the float array x holds no NaN and no inf, in one read of x at BLAS speed.

    Each row's sum (a product with a vector of ones) is NaN or infinite as soon as one
    of its values is, so finite sums prove finite values; a sum can also overflow from
    large finite values, and then the element-wise check decides. Faster than
    np.isfinite(x).all(), which also writes a boolean per value.
    Call it where BLAS runs on one thread (parallel.map_shards's shards): after a
    product on several threads, OpenBLAS keeps its workers spinning for a while,
    on the cores that the shards which follow would use.
    """
    if x.size == 0:
        return True
    if x.ndim < 2 or not x.flags.c_contiguous:
        return bool(xp.all(xp.isfinite(x)))
    rows = x.reshape(len(x), -1)
    with xp.errstate(over="ignore", invalid="ignore"):  # the sums' overflow and inf - inf are answers here
        sums = xp.dot(rows, xp.ones(rows.shape[1], dtype=x.dtype))  # dot: matmul holds the GIL for a vector
    return bool(xp.all(xp.isfinite(sums))) or bool(xp.all(xp.isfinite(x)))


def describe_shape(shape: Iterable[int]) -> str:
    """'(N, 3, 32, 32)' for a batch shape written with a symbolic batch axis."""
    return "(" + ", ".join(["N", *map(str, shape)]) + ")"


def prepare_targets(y: ArrayLike, num_outputs: int, num_samples: int, dtype: DTypeLike, name: str = "y") -> np.ndarray:
    """Labels -> (N, num_outputs) float targets.

    Accepts one-hot rows (N, K), integer class labels (N,) for K > 1 outputs, and
    0-1 targets (N,) or (N, 1) for one output.
    """
    y = as_float_array(y, name=name, dtype=None) if not hasattr(y, "dtype") else cast(np.ndarray, y)
    if y.ndim == 0 or len(y) != num_samples:
        received = "a scalar" if y.ndim == 0 else f"{len(y)} labels"
        raise ValueError(f"Received {received} for {name}, expected one label per sample ({num_samples}).")
    if not np.issubdtype(y.dtype, np.number) and y.dtype != bool:
        raise ValueError(f"Received non-numeric labels for {name}. Received: dtype={y.dtype}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"Received NaN or inf in {name}, expected finite labels.")
    if num_outputs == 1 and y.ndim == 1:
        y = y[:, None]
    elif num_outputs > 1 and (y.ndim == 1 or y.shape[1:] == (1,)):
        y = _one_hot(y.reshape(-1), num_outputs, name)
    if y.shape[1:] != (num_outputs,):
        raise ValueError(
            f"Received labels of shape {tuple(y.shape)} for {name}, expected ({num_samples}, {num_outputs}) "
            f"one-hot rows{' or integer class labels' if num_outputs > 1 else ' or 0-1 targets'} "
            f"to match the output layer's {num_outputs} unit(s)."
        )
    return xp.asarray(y, dtype=dtype)


def _one_hot(labels: np.ndarray, num_classes: int, name: str) -> np.ndarray:
    """Integer class labels (N,) -> one-hot (N, num_classes), refusing non-integers and labels out of range."""
    if np.any(labels != np.round(labels)):
        raise ValueError(f"Received non-integer class labels in {name}, expected integers in [0, {num_classes - 1}].")
    low, high = labels.min(), labels.max()
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"Received class labels from {low:g} to {high:g} in {name}, expected integers in [0, {num_classes - 1}] "
            f"for an output layer of {num_classes} classes."
        )
    one_hot = np.zeros((len(labels), num_classes), dtype=np.float32)
    one_hot[np.arange(len(labels)), labels.astype(np.int64)] = 1
    return one_hot
