"""Dropout and BatchNorm: layers that behave differently in training and at inference.

Both take batched input only (`sample_ndim = None`): a 2-D input is (N, F) and a
4-D input is (N, C, H, W), never one unbatched sample. Neither can therefore be
the first layer of a Network, which reads the input rank from its first layer.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .. import reference
from ..backend import xp
from ..functional.batchnorm import batch_moments, batchnorm_backward, batchnorm_forward
from ..functional.dropout import dropout_backward, dropout_forward
from ..checks import check_int, check_seed
from .base import BuiltinLayer, Parameter, LayerPlan


class Dropout(BuiltinLayer):
    """(N, ...) -> (N, ...): in training, zero each element with probability rate and scale the rest by 1/(1 - rate).

    At inference (training=False) it returns its input unchanged. Masks come from
    `self.rng`: a Generator from `seed`, which `Network.train` replaces with one seeded
    from its own seed, the epoch and the layer's index. The math:
    `scratchcnn.reference.dropout_forward` / `dropout_backward`; the fast engine:
    `scratchcnn.functional.dropout`.
    """

    def __init__(self, rate: float, seed: int | None = None) -> None:
        is_number = isinstance(rate, (int, float, np.integer, np.floating)) and not isinstance(rate, bool)
        if not is_number or not 0 <= rate < 1:
            raise ValueError(
                f"Received an invalid value for rate, expected a number in [0, 1). Received: rate={rate!r}")
        self.rate = float(rate)
        self.seed = check_seed(seed)
        self.rng = np.random.default_rng(self.seed)
        self._mask = None

    def draw_noise(self, input_shape: tuple[int, ...]) -> np.ndarray:
        """The uniform draws in [0, 1) that a training forward on a batch of input_shape makes (a batch split
        across threads draws them for the whole batch first, so its masks do not depend on the split)."""
        return self.rng.random(input_shape)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(input_shape)

    @BuiltinLayer.entry
    def forward(self, x: np.ndarray, training: bool = False, *, plan: LayerPlan) -> np.ndarray:
        if not training:
            self._mask = None
            return x
        noise = self.rng.random(x.shape) if plan.noise is None else plan.noise
        plan.noise = None
        if plan.reference:
            out, self._mask = reference.dropout_forward(x, reference.dropout_mask(noise, self.rate, x.dtype))
        else:
            out, self._mask = dropout_forward(x, self.rate, self.rng, noise)
        return out

    @BuiltinLayer.entry
    def backward(self, grad_output: np.ndarray, *, plan: LayerPlan) -> np.ndarray | None:
        if self._mask is None:
            return grad_output
        return (reference.dropout_backward if plan.reference else dropout_backward)(grad_output, self._mask)

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate, "seed": self.seed}


class BatchNorm(BuiltinLayer):
    """(N, F) or (N, C, H, W) -> the same shape, normalised per feature / channel, then scaled and shifted.

    Training normalises with the batch's statistics (over N, or N, H and W) and
    updates the running ones as PyTorch does:
        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var  = (1 - momentum) * running_var  + momentum * var * m / (m - 1)
    (the unbiased variance over the m values per channel); inference uses the running ones.
    Parameters `weight` (gamma, 1) and `bias` (beta, 0); buffers `running_mean` (0) and `running_var` (1).
    A batch split across threads normalises with the whole batch's statistics (the
    threads sum theirs, as PyTorch's SyncBatchNorm does across processes).

    The math: `scratchcnn.reference.batchnorm_forward` / `batchnorm_backward`; the fast
    engine: `scratchcnn.functional.batchnorm` (statistics summed over the threads).
    """

    def __init__(self, num_features: int | None = None, momentum: float = 0.1, eps: float = 1e-5) -> None:
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise ValueError(
                f"Received an invalid value for momentum, expected a number in [0, 1]. Received: momentum={momentum!r}")
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
            raise ValueError(f"Received an invalid value for eps, expected a positive number. Received: eps={eps!r}")
        self.momentum, self.eps = float(momentum), float(eps)
        self.num_features: int | None = None  # BatchNorm() learns it from its input when the network is built
        self._cache: Any = None
        if num_features is not None:
            self.build((check_int("num_features", num_features),))

    @property
    def built(self) -> bool:  # type: ignore[override]
        return self.num_features is not None

    def build(self, input_shape: tuple[int, ...]) -> None:
        """Create the parameters and statistics for input_shape[0] features or channels."""
        features = self.num_features = check_int("num_features", input_shape[0])
        self.weight = Parameter(xp.ones((features,), dtype=np.float32), "weight")
        self.bias = Parameter(xp.zeros((features,), dtype=np.float32), "bias")
        self.reset_parameters()

    def reset_parameters(self, rng: np.random.Generator | int | None = None) -> None:
        features = self.num_features
        if features is None:
            return
        dtype = self.weight.value.dtype
        self.weight.value = xp.ones((features,), dtype=dtype)
        self.bias.value = xp.zeros((features,), dtype=dtype)
        self.running_mean = xp.zeros((features,), dtype=dtype)
        self.running_var = xp.ones((features,), dtype=dtype)

    def buffers(self) -> dict[str, np.ndarray]:
        return {"running_mean": self.running_mean, "running_var": self.running_var} if self.built else {}

    def set_buffer(self, name: str, value: np.ndarray) -> None:
        if name not in ("running_mean", "running_var"):
            super().set_buffer(name, value)
        if tuple(value.shape) != (self.num_features,):
            raise ValueError(f"Received {name} of shape {tuple(value.shape)}, expected ({self.num_features},).")
        setattr(self, name, xp.asarray(value, dtype=self.weight.value.dtype))

    def astype(self, dtype: DTypeLike) -> BatchNorm:
        super().astype(dtype)
        if not self.built:
            return self
        self.running_mean = self.running_mean.astype(dtype)
        self.running_var = self.running_var.astype(dtype)
        return self

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        input_shape = tuple(input_shape)
        if len(input_shape) not in (1, 3) or input_shape[0] != self.num_features:
            raise self._shape_error(input_shape, f"({self.num_features},) or ({self.num_features}, H, W) "
                                                 f"(num_features={self.num_features}) in a batch (N, ...)")
        return input_shape

    @BuiltinLayer.entry
    def forward(self, x: np.ndarray, training: bool = False, *, plan: LayerPlan) -> np.ndarray:
        weight, bias = self.weight.value, self.bias.value
        if not training:
            if plan.reference:
                out, self._cache = reference.batchnorm_forward(x, weight, bias, self.eps, self.running_mean,
                                                               self.running_var)
            else:
                out, self._cache = batchnorm_forward(x, self.running_mean, self.running_var, weight, bias, self.eps,
                                                     False)
            return out
        if plan.reference:
            out, self._cache = reference.batchnorm_forward(x, weight, bias, self.eps)
            mean, var, m = self._cache["mean"], self._cache["var"], self._cache["count"]
        else:
            mean, var, m = batch_moments(x, plan.total)                      # (C,), (C,), values per channel
        if m < 2:
            raise ValueError(f"{self.name} received {m} value per channel in training (input shape {tuple(x.shape)}), "
                             "expected more than 1: train with batches of at least 2 samples.")
        if not plan.reference:
            out, self._cache = batchnorm_forward(x, mean, var, weight, bias, self.eps, True, m)
        keep, dtype = 1.0 - self.momentum, self.running_mean.dtype
        self.running_mean = (keep * self.running_mean + self.momentum * mean).astype(dtype)
        self.running_var = (keep * self.running_var + self.momentum * var * (m / (m - 1))).astype(dtype)
        return out

    @BuiltinLayer.entry
    def backward(self, grad_output: np.ndarray, *, plan: LayerPlan) -> np.ndarray | None:
        if plan.reference:
            dx, dweight, dbias = reference.batchnorm_backward(grad_output, self._cache)
        else:
            dx, dweight, dbias = batchnorm_backward(grad_output, self._cache, plan.need_input_grad, plan.total)
        self._set_grad(self.weight, dweight)
        self._set_grad(self.bias, dbias)
        return dx

    def get_config(self) -> dict[str, Any]:
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps}
