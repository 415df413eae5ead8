"""Learning-rate schedules: callables schedule(epoch, lr) -> lr for the LearningRateScheduler callback."""
import math
import numbers

from .inputs import check_int


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

    def __init__(self, initial_lr, step_size, gamma=0.1):
        self.initial_lr = _check_number("initial_lr", initial_lr, 0)
        self.step_size = check_int("step_size", step_size)
        self.gamma = _check_number("gamma", gamma, 0, 1, high_inclusive=True)

    def __call__(self, epoch, lr=None):
        return self.initial_lr * self.gamma ** (epoch // self.step_size)


class ExponentialDecay:
    """lr = initial_lr * gamma ** epoch."""

    def __init__(self, initial_lr, gamma):
        self.initial_lr = _check_number("initial_lr", initial_lr, 0)
        self.gamma = _check_number("gamma", gamma, 0, 1, high_inclusive=True)

    def __call__(self, epoch, lr=None):
        return self.initial_lr * self.gamma ** epoch


class CosineDecay:
    """lr = min_lr + (initial_lr - min_lr) * (1 + cos(pi * epoch / total_epochs)) / 2, flat after total_epochs."""

    def __init__(self, initial_lr, total_epochs, min_lr=0.0):
        self.initial_lr = _check_number("initial_lr", initial_lr, 0)
        self.total_epochs = check_int("total_epochs", total_epochs)
        self.min_lr = _check_number("min_lr", min_lr, 0, self.initial_lr, low_inclusive=True, high_inclusive=True)

    def __call__(self, epoch, lr=None):
        progress = min(epoch, self.total_epochs) / self.total_epochs
        return self.min_lr + (self.initial_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2


class OneCycle:
    """Warm-up then annealing (Smith's one-cycle, as torch.optim.lr_scheduler.OneCycleLR with anneal 'cos').

    With progress p = epoch / total_epochs (epoch may be fractional: LearningRateScheduler
    with steps_per_epoch calls it before every batch), the lr rises on a half cosine from
    max_lr / div_factor to max_lr over the first `warmup` of the run, then falls on a half
    cosine to max_lr / final_div_factor at p = 1, and stays there.
    """

    def __init__(self, max_lr, total_epochs, warmup=0.3, div_factor=25.0, final_div_factor=1e4):
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
