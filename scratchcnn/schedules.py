"""Learning-rate schedules: callables schedule(epoch, lr) -> lr for the LearningRateScheduler callback."""
import math


class StepDecay:
    """lr = initial_lr * gamma ** (epoch // step_size)."""

    def __init__(self, initial_lr, step_size, gamma=0.1):
        self.initial_lr, self.step_size, self.gamma = initial_lr, step_size, gamma

    def __call__(self, epoch, lr=None):
        return self.initial_lr * self.gamma ** (epoch // self.step_size)


class ExponentialDecay:
    """lr = initial_lr * gamma ** epoch."""

    def __init__(self, initial_lr, gamma):
        self.initial_lr, self.gamma = initial_lr, gamma

    def __call__(self, epoch, lr=None):
        return self.initial_lr * self.gamma ** epoch


class CosineDecay:
    """lr = min_lr + (initial_lr - min_lr) * (1 + cos(pi * epoch / total_epochs)) / 2, flat after total_epochs."""

    def __init__(self, initial_lr, total_epochs, min_lr=0.0):
        self.initial_lr, self.total_epochs, self.min_lr = initial_lr, total_epochs, min_lr

    def __call__(self, epoch, lr=None):
        progress = min(epoch, self.total_epochs) / self.total_epochs
        return self.min_lr + (self.initial_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2
