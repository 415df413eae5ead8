"""Learning-rate schedules: callables schedule(epoch, lr) -> lr for the LearningRateScheduler callback."""
from __future__ import annotations

import math
import numbers

from .checks import check_int


def _check_number(name, value, low, high=math.inf, low_inclusive=False, high_inclusive=False):
    """value as a float if it is a real number in the interval, else ValueError in Keras's wording."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= low if low_inclusive else value > low) and (value <= high if high_inclusive else value < high)
    if not ok:
        interval = f"{'[' if low_inclusive else '('}{low:g}, {high:g}{']' if high_inclusive else ')'}"
        positive = (low, high, low_inclusive) == (0, math.inf, False)
        expected = "a positive number" if positive else f"a number in {interval}"
        raise ValueError(f"Received an invalid value for {name}, expected {expected}. Received: {name}={value!r}")
    return float(value)


class StepDecay:
    """lr = initial_lr * gamma ** (epoch // step_size)."""

    def __init__(self, initial_lr: float, step_size: int, gamma: float = 0.1) -> None:
        self.initial_lr = _check_number("initial_lr", initial_lr, 0)
        self.step_size = check_int("step_size", step_size)
        self.gamma = _check_number("gamma", gamma, 0, 1, high_inclusive=True)

    def __call__(self, epoch: float, lr: float | None = None) -> float:
        return self.initial_lr * self.gamma ** (epoch // self.step_size)


class ExponentialDecay:
    """lr = initial_lr * gamma ** epoch."""

    def __init__(self, initial_lr: float, gamma: float) -> None:
        self.initial_lr = _check_number("initial_lr", initial_lr, 0)
        self.gamma = _check_number("gamma", gamma, 0, 1, high_inclusive=True)

    def __call__(self, epoch: float, lr: float | None = None) -> float:
        return self.initial_lr * self.gamma ** epoch


class CosineDecay:
    """lr = min_lr + (initial_lr - min_lr) * (1 + cos(pi * epoch / total_epochs)) / 2, flat after total_epochs."""

    def __init__(self, initial_lr: float, total_epochs: int, min_lr: float = 0.0) -> None:
        self.initial_lr = _check_number("initial_lr", initial_lr, 0)
        self.total_epochs = check_int("total_epochs", total_epochs)
        self.min_lr = _check_number("min_lr", min_lr, 0, self.initial_lr, low_inclusive=True, high_inclusive=True)

    def __call__(self, epoch: float, lr: float | None = None) -> float:
        progress = min(epoch, self.total_epochs) / self.total_epochs
        return self.min_lr + (self.initial_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2
