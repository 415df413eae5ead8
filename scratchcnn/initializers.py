"""Weight initialisers drawn from a numpy.random.Generator, so a seed fixes every weight."""
from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from .backend import xp


def he_normal(shape: int | tuple[int, ...], fan_in: int, rng: np.random.Generator, dtype: DTypeLike = np.float32
              ) -> np.ndarray:
    """Normal(0, sqrt(2 / fan_in)): keeps activation variance steady through ReLU layers (He et al. 2015)."""
    std = np.sqrt(2.0 / fan_in)
    return xp.asarray(rng.normal(0.0, std, size=shape).astype(dtype))


def glorot_uniform(shape: int | tuple[int, ...], fan_in: int, fan_out: int, rng: np.random.Generator,
                   dtype: DTypeLike = np.float32) -> np.ndarray:
    """Uniform(-l, l), l = sqrt(6 / (fan_in + fan_out)): for sigmoid, tanh, softmax and linear (Glorot & Bengio 2010)."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return xp.asarray(rng.uniform(-limit, limit, size=shape).astype(dtype))


def zeros(shape: int | tuple[int, ...], dtype: DTypeLike = np.float32) -> np.ndarray:
    return xp.zeros(shape, dtype=dtype)


def for_activation(activation: str | None, shape: int | tuple[int, ...], fan_in: int, fan_out: int,
                   rng: np.random.Generator, dtype: DTypeLike = np.float32) -> np.ndarray:
    """He for the ReLU family, Glorot for everything else."""
    if activation in ("relu", "leakyrelu"):
        return he_normal(shape, fan_in, rng, dtype)
    return glorot_uniform(shape, fan_in, fan_out, rng, dtype)


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A Generator from None (fresh entropy), an int seed, or a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0):
        return np.random.default_rng(rng)
    raise ValueError(
        f"Received an invalid value for seed, expected None, a non-negative integer or a numpy.random.Generator. "
        f"Received: seed={rng!r}"
    )
