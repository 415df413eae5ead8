"""Optimisers see only a list of Parameters (value + grad), never the layers: PyTorch's split."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable

from .backend import xp
from .checks import check_float

if TYPE_CHECKING:
    from .layers.base import Parameter


def check_learning_rate(lr: float) -> float:
    """A positive, finite learning rate, or ValueError naming it."""
    return check_float("learning_rate", lr, 0.0, low_inclusive=False)


class Optimizer:
    """Base class: holds the parameter list, the learning rate `lr`, and per-parameter state."""

    def __init__(self, parameters: Iterable[Parameter], lr: float) -> None:
        self.parameters = list(parameters)
        if not self.parameters:
            raise ValueError("Received an empty parameter list, expected at least one Parameter to optimise.")
        self.lr = check_float("lr", lr, 0.0, low_inclusive=False)
        self.state: list[dict[str, Any]] = [{} for _ in self.parameters]
        self.iterations = 0

    def zero_grad(self) -> None:
        for param in self.parameters:
            param.grad = xp.zeros_like(param.value)

    def step(self) -> None:
        self.iterations += 1
        for param, state in zip(self.parameters, self.state):
            self._update(param, state)

    def _update(self, param, state):
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """{'config', 'iterations', 'arrays': {'<index>.<name>': array}} for saving."""
        arrays = {f"{i}.{key}": value for i, state in enumerate(self.state) for key, value in state.items()}
        return {"config": self.get_config(), "iterations": self.iterations, "arrays": arrays}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.iterations = int(state_dict["iterations"])
        self.state = [{} for _ in self.parameters]
        for key, value in state_dict["arrays"].items():
            index, name = key.split(".", 1)
            self.state[int(index)][name] = xp.asarray(value)


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, Nesterov and L2 weight decay, as torch.optim.SGD.

        g = grad + weight_decay * w
        b = momentum * b + g            (b = g on the first step)
        g = g + momentum * b  if nesterov  else  b
        w = w - lr * g
    """

    def __init__(self, parameters: Iterable[Parameter], lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        super().__init__(parameters, lr)
        self.momentum = check_float("momentum", momentum, 0.0)
        self.weight_decay = check_float("weight_decay", weight_decay, 0.0)
        if nesterov and self.momentum == 0:
            raise ValueError("Received nesterov=True with momentum=0, expected momentum > 0 for Nesterov momentum.")
        self.nesterov = bool(nesterov)

    def _update(self, param, state):
        g = param.grad
        if self.weight_decay:
            g = g + self.weight_decay * param.value
        if self.momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.copy()
            else:
                state["momentum_buffer"] = self.momentum * state["momentum_buffer"] + g
            buf = state["momentum_buffer"]
            g = g + self.momentum * buf if self.nesterov else buf
        param.value -= (self.lr * g).astype(param.value.dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {"class": "SGD", "lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay}


class Adam(Optimizer):
    """Adam (Kingma & Ba), and AdamW when decoupled_weight_decay=True, as torch.optim.Adam/AdamW.

        g = grad + weight_decay * w          (Adam's L2 form)    or  w = w (1 - lr weight_decay)  (AdamW)
        m = beta1 m + (1 - beta1) g          v = beta2 v + (1 - beta2) g^2
        w = w - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
    """

    def __init__(self, parameters: Iterable[Parameter], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled_weight_decay: bool = False) -> None:
        super().__init__(parameters, lr)
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"Received an invalid value for betas, expected a pair (beta1, beta2). Received: betas={betas!r}")
        self.betas = (check_float("betas[0]", betas[0], 0.0, 1.0), check_float("betas[1]", betas[1], 0.0, 1.0))
        self.eps = check_float("eps", eps, 0.0)
        self.weight_decay = check_float("weight_decay", weight_decay, 0.0)
        self.decoupled_weight_decay = bool(decoupled_weight_decay)

    def _update(self, param, state):
        beta1, beta2 = self.betas
        t = self.iterations
        g = param.grad
        if self.weight_decay and self.decoupled_weight_decay:
            param.value *= param.value.dtype.type(1 - self.lr * self.weight_decay)
        elif self.weight_decay:
            g = g + self.weight_decay * param.value
        if "m" not in state:
            state["m"] = xp.zeros_like(param.value)
            state["v"] = xp.zeros_like(param.value)
        m, v = state["m"], state["v"]
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        denom = xp.sqrt(v) / math.sqrt(1 - beta2 ** t) + self.eps
        param.value -= ((self.lr / (1 - beta1 ** t)) * m / denom).astype(param.value.dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {"class": "Adam", "lr": self.lr, "betas": list(self.betas), "eps": self.eps,
                "weight_decay": self.weight_decay, "decoupled_weight_decay": self.decoupled_weight_decay}


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), as torch.optim.RMSprop, with its options momentum, centered and weight_decay.

        g = grad + weight_decay * w
        s = alpha s + (1 - alpha) g^2                    (s starts at 0)
        d = sqrt(s) + eps   or, centered,   a = alpha a + (1 - alpha) g,  d = sqrt(s - a^2) + eps  (a starts at 0)
        b = momentum b + g / d,  w = w - lr b            if momentum > 0  (b starts at 0)
        w = w - lr g / d                                 otherwise
    """

    def __init__(self, parameters: Iterable[Parameter], lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
        super().__init__(parameters, lr)
        self.alpha = check_float("alpha", alpha, 0.0, 1.0)
        self.eps = check_float("eps", eps, 0.0)
        self.weight_decay = check_float("weight_decay", weight_decay, 0.0)
        self.momentum = check_float("momentum", momentum, 0.0)
        if not isinstance(centered, bool):
            raise ValueError(f"Received an invalid value for centered, expected True or False. Received: centered={centered!r}")
        self.centered = centered

    def _update(self, param, state):
        g = param.grad
        if self.weight_decay:
            g = g + self.weight_decay * param.value
        if "square_avg" not in state:
            state["square_avg"] = xp.zeros_like(param.value)
            if self.centered:
                state["grad_avg"] = xp.zeros_like(param.value)
            if self.momentum:
                state["momentum_buffer"] = xp.zeros_like(param.value)
        square_avg = state["square_avg"]
        square_avg *= self.alpha
        square_avg += (1 - self.alpha) * g * g
        if self.centered:
            grad_avg = state["grad_avg"]
            grad_avg *= self.alpha
            grad_avg += (1 - self.alpha) * g
            # s - a^2 is a variance, >= 0; the clip keeps rounding from making it negative (and the step NaN).
            denom = xp.sqrt(xp.maximum(square_avg - grad_avg * grad_avg, 0)) + self.eps
        else:
            denom = xp.sqrt(square_avg) + self.eps
        if self.momentum:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += g / denom
            step = buf
        else:
            step = g / denom
        param.value -= (self.lr * step).astype(param.value.dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {"class": "RMSprop", "lr": self.lr, "alpha": self.alpha, "eps": self.eps,
                "weight_decay": self.weight_decay, "momentum": self.momentum, "centered": self.centered}


OPTIMIZERS = {"SGD": SGD, "Adam": Adam, "RMSprop": RMSprop}

# The names train(optimizer=...) and the command line accept, lower case.
OPTIMIZER_NAMES: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def from_config(parameters: Iterable[Parameter], config: dict[str, Any]) -> Optimizer:
    """Rebuild an optimiser over `parameters` from get_config()'s dict."""
    config = dict(config)
    name = config.pop("class", None)
    if name not in OPTIMIZERS:
        raise ValueError(f"Received an unknown optimizer class, expected one of {sorted(OPTIMIZERS)}. Received: {name!r}")
    if "betas" in config:
        config["betas"] = tuple(config["betas"])
    return OPTIMIZERS[name](parameters, **config)
