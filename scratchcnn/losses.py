"""Losses, called loss(y_true, y_pred) as in Keras, each with its derivative d loss / d y_pred.

All are means over the batch. Probabilities are clipped to [EPSILON, 1 - EPSILON]
(Keras's epsilon) so no log(0) is ever taken. Training pairs softmax with
categorical cross-entropy, and sigmoid with BCE, through the fused gradient
(p - y) / N on the pre-activation (see `fused_gradient`): the derivative
functions below stay the true derivatives with respect to the prediction.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .backend import xp

EPSILON = 1e-7


def _clip(p: np.ndarray) -> np.ndarray:
    return xp.minimum(xp.maximum(p, EPSILON), 1 - EPSILON)  # two ufuncs: cheaper than clip per call


def bce_loss(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Binary cross-entropy, mean over every element: -mean(y log p + (1 - y) log(1 - p))."""
    p = _clip(y_pred)
    return float(-xp.mean(y_true * xp.log(p) + (1 - y_true) * xp.log(1 - p)))


def bce_loss_derivative(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """d bce / d p = (p - y) / (p (1 - p)) / size, same shape as y_pred."""
    p = _clip(y_pred)
    return (p - y_true) / (p * (1 - p)) / y_pred.size


def categorical_crossentropy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """-sum_k y_k log p_k, mean over the batch; y_true one-hot (N, K), y_pred probabilities (N, K)."""
    p = _clip(y_pred)
    return float(-(y_true * xp.log(p)).sum() / _batch_size(y_pred))


def categorical_crossentropy_derivative(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """d cce / d p = -y / p / N."""
    return -y_true / _clip(y_pred) / _batch_size(y_pred)


def mse_loss(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean squared error over every element."""
    return float(xp.mean((y_pred - y_true) ** 2))


def mse_loss_derivative(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """d mse / d p = 2 (p - y) / size."""
    return 2 * (y_pred - y_true) / y_pred.size


def mae_loss(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error over every element."""
    return float(xp.mean(xp.abs(y_pred - y_true)))


def mae_loss_derivative(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """d mae / d p = sign(p - y) / size (0 where p == y)."""
    return xp.sign(y_pred - y_true) / y_pred.size


def _batch_size(y_pred: np.ndarray) -> int:
    return y_pred.shape[0] if y_pred.ndim > 1 else 1


# The fused gradients take the batch's size: a training step split across threads (engine/threads.py) computes each
# shard's rows where they run, and every row is divided by the whole batch's size, as in the unsplit step.
def _softmax_cce_gradient(y_true: np.ndarray, p: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    return (p - y_true) / (_batch_size(p) if batch_size is None else batch_size)


def _sigmoid_bce_gradient(y_true: np.ndarray, p: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    return (p - y_true) / (p.size if batch_size is None else batch_size * p[0].size)


# (loss, derivative, output activation) -> gradient of the loss with respect to the pre-activation logits.
_FUSED: dict[tuple[Callable, Callable, str | None], Callable] = {
    (categorical_crossentropy, categorical_crossentropy_derivative, "softmax"): _softmax_cce_gradient,
    (bce_loss, bce_loss_derivative, "sigmoid"): _sigmoid_bce_gradient,
}

LOSSES = {
    "bce_loss": (bce_loss, bce_loss_derivative),
    "binary_crossentropy": (bce_loss, bce_loss_derivative),
    "categorical_crossentropy": (categorical_crossentropy, categorical_crossentropy_derivative),
    "mse": (mse_loss, mse_loss_derivative),
    "mse_loss": (mse_loss, mse_loss_derivative),
    "mean_squared_error": (mse_loss, mse_loss_derivative),
    "mae": (mae_loss, mae_loss_derivative),
    "mae_loss": (mae_loss, mae_loss_derivative),
    "mean_absolute_error": (mae_loss, mae_loss_derivative),
}
CLASSIFICATION = (bce_loss, categorical_crossentropy)  # the losses whose runs report accuracy by default


def fused_gradient(loss_fn: Callable, loss_fn_derivative: Callable, activation: str | None) -> Callable | None:
    """The fused (p - y) / N gradient w.r.t. the logits if (loss, derivative, activation) fuse, else None.

    It is called gradient(y_true, p) or gradient(y_true, p, batch_size): with batch_size, p holds some
    rows of a batch of that many samples (N is the whole batch's, so each row's gradient is the same).
    """
    return _FUSED.get((loss_fn, loss_fn_derivative, activation))


class Loss:
    """A loss as a training step uses it: its value, and the gradient back-propagation starts from.

    `gradient(y_true, out, batch_size)` is d loss / d output, or, when the output layer's
    activation and the loss fuse (`from_logits`), d loss / d the logits: (p - y) / N.
    `out` may be some rows of a batch of `batch_size` samples (a step split across threads):
    every built-in loss is a mean over the samples, so their gradient is the rows' own
    gradient scaled by rows / batch_size. A loss function of the user's may not be a mean,
    so `splits` is False for it and its step runs on one thread.
    """

    def __init__(self, loss_fn: Callable, loss_fn_derivative: Callable, output_activation: str | None = None) -> None:
        self.fn, self.derivative = loss_fn, loss_fn_derivative
        self.classification = loss_fn in CLASSIFICATION
        self.fused = fused_gradient(loss_fn, loss_fn_derivative, output_activation)
        self.from_logits = self.fused is not None
        self.splits = any(loss_fn is fn and loss_fn_derivative is derivative for fn, derivative in LOSSES.values())

    def value(self, y_true: np.ndarray, out: np.ndarray) -> float:
        return float(self.fn(y_true, out))

    def gradient(self, y_true: np.ndarray, out: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        if self.fused is not None:
            return self.fused(y_true, out, batch_size)
        grad = self.derivative(y_true, out)
        if batch_size is None or batch_size == len(out):
            return grad
        return grad * grad.dtype.type(len(out) / batch_size)


def get(name_or_fn: str | Callable) -> tuple[Callable, Callable]:
    """'categorical_crossentropy' -> (loss, derivative); a known loss function -> its pair."""
    for loss, derivative in LOSSES.values():
        if name_or_fn is loss:
            return loss, derivative
    if isinstance(name_or_fn, str) and name_or_fn.lower() in LOSSES:
        return LOSSES[name_or_fn.lower()]
    raise ValueError(f"Received an unknown loss, expected one of {sorted(LOSSES)} or a loss function with its "
                     f"derivative. Received: loss={name_or_fn!r}")


def resolve(loss_fn: str | Callable, loss_fn_derivative: Callable | None = None) -> tuple[Callable, Callable]:
    """(loss, derivative) from a name, a built-in loss function (its derivative looked up with it), or a pair of
    functions of your own."""
    if loss_fn_derivative is None:
        return get(loss_fn)
    if isinstance(loss_fn, str) or isinstance(loss_fn_derivative, str):
        raise ValueError("Received a loss named by string together with a derivative, expected the name alone "
                         f"(its derivative is looked up with it). Received: {loss_fn!r}, {loss_fn_derivative!r}")
    return loss_fn, loss_fn_derivative
