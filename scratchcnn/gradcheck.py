"""check_gradients: compare a network's back-propagated gradients with central differences, layer by layer."""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from . import losses
from .inputs import prepare_targets

if TYPE_CHECKING:
    from .network import Network


def check_gradients(network: Network, X: ArrayLike, y: ArrayLike,
                    loss_fn: str | Callable[[np.ndarray, np.ndarray], float],
                    loss_fn_derivative: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None, eps: float = 1e-6,
                    max_checks: int = 20, seed: int = 0, print_fn: Callable[[str], object] | None = print
                    ) -> list[dict[str, Any]]:
    """Print and return, per layer parameter, the largest relative error between analytic and numerical gradients.

    The network is evaluated in float64 in training mode (dropout masks drawn from
    a fixed generator on every pass, running statistics reset before every pass)
    and restored afterwards. At most `max_checks` entries of each parameter are
    perturbed, chosen with `seed`. Errors near 1e-7 or below mean the gradients
    agree; 1e-2 or above means a bug (or a kink, such as ReLU exactly at 0).
    The layers' dropout generators are put back too, so checking leaves no trace.
    """
    if loss_fn_derivative is None:
        loss_fn, loss_fn_derivative = losses.get(loss_fn)
    original_dtype, original = network.dtype, network.get_weights()
    noisy = _noisy_layers(network)
    original_rngs = [layer.rng for layer in noisy]
    network.astype(np.float64)
    X = np.asarray(X, dtype=np.float64)
    y = prepare_targets(y, network.output_shapes(X.shape[1:])[-1][1][0], len(X), np.float64)
    base = network.get_weights()  # float64 parameters and buffers, layer by layer
    loss = partial(_loss, network, X, y, loss_fn, seed)  # type: ignore[arg-type]  # a name with a derivative fails
    rng = np.random.default_rng(seed)
    rows = []
    try:
        out = _forward(network, base, X, seed)
        network.backward(loss_fn_derivative(y, out))
        slot = 0
        for index, layer in enumerate(network.layers):
            for param in layer.parameters():
                analytic = param.grad.reshape(-1).copy()
                positions = rng.choice(param.size, size=min(max_checks, param.size), replace=False)
                numeric = np.array([_central_difference(loss, base, slot, p, eps) for p in positions])
                rows.append({"layer": index, "name": layer.name, "parameter": param.name,
                             "shape": tuple(param.shape), "checked": len(positions),
                             "max_relative_error": _relative_error(analytic[positions], numeric)})
                slot += 1
            slot += len(layer.buffers())
    finally:
        network.astype(original_dtype)
        network.set_weights(original)
        for layer, layer_rng in zip(noisy, original_rngs):
            layer.rng = layer_rng
    if print_fn is not None:
        print_fn(_table(rows))
    return rows


def _noisy_layers(network: Network) -> list[Any]:
    """The layers that draw random numbers (Dropout), those inside Residual blocks included."""
    from .training import inner_dropouts

    return [layer for layer in network.layers if hasattr(layer, "rng")] + \
        [inner for layer in network.layers for inner in inner_dropouts(layer)]


def _forward(network: Network, weights: list[np.ndarray], X: np.ndarray, seed: int) -> np.ndarray:
    network.set_weights(weights)
    for layer in _noisy_layers(network):
        layer.rng = np.random.default_rng(seed)  # the same dropout masks on every pass
    return network.forward(X, training=True)


def _loss(network: Network, X: np.ndarray, y: np.ndarray, loss_fn: Callable[[np.ndarray, np.ndarray], float],
          seed: int, weights: list[np.ndarray]) -> float:
    return loss_fn(y, _forward(network, weights, X, seed))


def _central_difference(loss: Callable[[list[np.ndarray]], float], base: list[np.ndarray], slot: int, position: int,
                        eps: float) -> float:
    """(loss(w + eps e_i) - loss(w - eps e_i)) / (2 eps) for entry `position` of weight array `slot`."""
    values = []
    for sign in (1, -1):
        shifted = list(base)
        shifted[slot] = base[slot].copy()
        shifted[slot].reshape(-1)[position] += sign * eps
        values.append(loss(shifted))
    return (values[0] - values[1]) / (2 * eps)


def _relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    scale = np.maximum(np.abs(analytic) + np.abs(numeric), 1e-12)
    return float(np.max(np.abs(analytic - numeric) / scale))


def _table(rows: list[dict[str, Any]]) -> str:
    header = f"{'Layer':<24}{'parameter':<11}{'shape':<20}{'checked':>8}{'max rel. error':>16}"
    lines = [header, "-" * len(header)]
    for row in rows:
        name = f"{row['layer']}: {row['name']}"
        lines.append(f"{name:<24}{row['parameter']:<11}{str(row['shape']):<20}{row['checked']:>8}"
                     f"{row['max_relative_error']:>16.2e}")
    return "\n".join(lines)
