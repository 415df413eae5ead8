"""Learning-rate schedules: callables schedule(epoch, lr) -> lr for the LearningRateScheduler callback."""
from __future__ import annotations

import math
import numbers
from typing import Callable

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


class LinearWarmup:
    """The first warmup_epochs epochs ramp linearly from start_factor * after(0) up to `after`, then follow it:

        lr = after(epoch) * (start_factor + (1 - start_factor) * epoch / warmup_epochs)   for epoch < warmup_epochs
        lr = after(epoch)                                                                 after that

    `after` is a schedule(epoch, lr) or a constant lr. A learning rate scaled up with the batch
    (k times the batch, k times the lr: Goyal et al., 2017) diverges if it starts at full size;
    warming up avoids that.
    """

    def __init__(self, after: Callable[[float, float | None], float], warmup_epochs: int,
                 start_factor: float = 0.1) -> None:
        self.after = after if callable(after) else _Constant(_check_number("after", after, 0))
        self.warmup_epochs = check_int("warmup_epochs", warmup_epochs)
        self.start_factor = _check_number("start_factor", start_factor, 0, 1, high_inclusive=True)

    def __call__(self, epoch, lr=None):
        target = self.after(epoch, lr)
        if epoch >= self.warmup_epochs:
            return target
        return target * (self.start_factor + (1 - self.start_factor) * epoch / self.warmup_epochs)


class _Constant:
    def __init__(self, lr):
        self.lr = lr

    def __call__(self, epoch, lr=None):
        return self.lr


class OneCycle:
    """Warm-up then annealing (Smith's one-cycle, as torch.optim.lr_scheduler.OneCycleLR with anneal 'cos').

    With progress p = epoch / total_epochs (epoch may be fractional: LearningRateScheduler
    with steps_per_epoch calls it before every batch), the lr rises on a half cosine from
    max_lr / div_factor to max_lr over the first `warmup` of the run, then falls on a half
    cosine to max_lr / final_div_factor at p = 1, and stays there.
    """

    def __init__(self, max_lr: float, total_epochs: int, warmup: float = 0.3, div_factor: float = 25.0,
                 final_div_factor: float = 1e4) -> None:
        self.max_lr = _check_number("max_lr", max_lr, 0)
        self.total_epochs = check_int("total_epochs", total_epochs)
        self.warmup = _check_number("warmup", warmup, 0, 1, low_inclusive=True)
        self.div_factor = _check_number("div_factor", div_factor, 1, low_inclusive=True)
        self.final_div_factor = _check_number("final_div_factor", final_div_factor, 1, low_inclusive=True)

    def __call__(self, epoch, lr=None):
        progress = min(max(epoch, 0) / self.total_epochs, 1.0)
        start, end = self.max_lr / self.div_factor, self.max_lr / self.final_div_factor
        if progress < self.warmup:
            return _cosine_between(start, self.max_lr, progress / self.warmup)
        return _cosine_between(self.max_lr, end, (progress - self.warmup) / (1 - self.warmup))


def _cosine_between(first, last, fraction):
    """first at fraction 0, last at fraction 1, along a half cosine."""
    return last + (first - last) * (1 + math.cos(math.pi * fraction)) / 2
