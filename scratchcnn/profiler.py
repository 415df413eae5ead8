"""Per-layer timing of one training step (forward and backward), to see where an epoch's time goes.

    from scratchcnn import profiler, zoo
    rows = profiler.profile(zoo.mnist_convnet(), X[:64], y[:64], loss_fn=losses.categorical_crossentropy)

It times the training passes themselves (engine/passes.py), on one thread, with the
network's training plan (engine/plan.py: a layer computes only the part of its output
the next one reads, though the table shows its whole output's shape; a ReLU before max
pooling runs in the pooling; the first layer skips its input gradient), and a softmax or
sigmoid output with its cross-entropy takes the fused gradient (p - y) / N. The
optimiser step, the loss and the metrics are not timed. The weights are never
changed; parameter gradients and buffers (e.g. running statistics) are restored.
"""
from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import ArrayLike

from . import losses, network_data
from .engine import Passes, Plan
from .inputs import prepare_targets
from .checks import check_int
from .layers.regularization import Dropout

if TYPE_CHECKING:
    from .layers import Layer, Parameter
    from .network import Network

    # per layer: (output shape with the batch axis, forward seconds, backward seconds)
    _StepTimes = list[tuple[tuple[int, ...], float, float]]
    _Snapshot = tuple[list[tuple[Parameter, np.ndarray, np.ndarray]], list[tuple[Layer, dict[str, np.ndarray]]]]


def profile(network: Network, X: ArrayLike, y: ArrayLike | None = None,
            loss_fn: str | Callable[[np.ndarray, np.ndarray], float] | None = None,
            repeats: int = 3, print_fn: Callable[[str], object] | None = print) -> list[dict[str, Any]]:
    """Time each layer of `network` on the batch X (N, *input_shape); print a table and return its rows.

    y and loss_fn (a scratchcnn loss, e.g. `losses.categorical_crossentropy`) give the top
    gradient d loss / d output; without them a seeded random gradient of the output's shape
    is used. Each of `repeats` passes (after one untimed warm-up) times every layer; the
    table reports the median. Returns one dict per layer: index, layer, output_shape
    (with the batch axis), forward_ms, backward_ms, total_ms and share (% of the step).
    """
    repeats = check_int("repeats", repeats)
    X = network_data.check_inputs(network, X, "X")  # validates the shapes against every layer
    top_gradient = _top_gradient(network, X, y, loss_fn)
    saved = _snapshot(network)
    input_shapes = [shape_in for shape_in, _ in network.output_shapes(X.shape[1:])]
    passes = Passes(network.layers, Plan(network.layers, input_shapes, network.engine, training=True))
    try:
        for index, layer in enumerate(network.layers):
            if isinstance(layer, Dropout):
                layer.rng = np.random.default_rng(index)  # dropout draws from a fixed generator
        _time_step(network, passes, X, top_gradient)  # warm-up: first-touch allocations, BLAS thread start
        timings = [_time_step(network, passes, X, top_gradient) for _ in range(repeats)]
    finally:
        _restore(network, saved)
    rows = _rows(network, timings)
    if print_fn is not None:
        print_fn(format_table(rows, len(X), repeats))
    return rows


def _top_gradient(network: Network, X: np.ndarray, y: ArrayLike | None,
                  loss_fn: str | Callable[[np.ndarray, np.ndarray], float] | None) -> tuple[np.ndarray, bool]:
    """-> (gradient at the top, whether it is the fused gradient with respect to the last layer's logits)."""
    output_shape = (len(X), *network.output_shapes(X.shape[1:])[-1][1])
    if (y is None) != (loss_fn is None):
        raise ValueError(f"profile needs both y and loss_fn, or neither (for a random top gradient). "
                         f"Received: y={'None' if y is None else 'labels'}, loss_fn={loss_fn!r}")
    if y is None:
        gradient = np.random.default_rng(0).standard_normal(output_shape) / len(X)  # (N, *output_shape)
        return gradient.astype(network.dtype), False
    loss_fn, derivative = losses.get(cast(Any, loss_fn))  # not None: checked above
    y = prepare_targets(y, output_shape[-1], len(X), network.dtype)  # (N, K)
    out = network.predict(X)
    fused = losses.fused_gradient(loss_fn, derivative, getattr(network.layers[-1], "activation", None))
    if fused is not None:
        return fused(y, out), True
    return derivative(y, out), False


def _time_step(network: Network, passes: Passes, X: np.ndarray, top_gradient: tuple[np.ndarray, bool]) -> _StepTimes:
    """One forward and backward pass -> list of (output shape, forward s, backward s) per layer."""
    gradient, fused = top_gradient
    timings = [[0.0, 0.0] for _ in network.layers]
    passes.forward(X, True, timings)
    passes.backward(gradient, from_logits=fused, timings=timings)
    shapes = [(len(X), *shape_out) for _, shape_out in network.output_shapes(X.shape[1:])]  # as summary shows them
    return [(shape, forward_s, backward_s) for shape, (forward_s, backward_s) in zip(shapes, timings)]


def _rows(network: Network, timings: list[_StepTimes]) -> list[dict[str, Any]]:
    """Median over the repeats of each layer's times, in ms, and its share of the whole step."""
    rows: list[dict[str, Any]] = []
    for index, layer in enumerate(network.layers):
        forward_ms = 1e3 * statistics.median(step[index][1] for step in timings)
        backward_ms = 1e3 * statistics.median(step[index][2] for step in timings)
        rows.append({"index": index, "layer": layer.name, "output_shape": timings[0][index][0],
                     "forward_ms": forward_ms, "backward_ms": backward_ms, "total_ms": forward_ms + backward_ms})
    step_ms = sum(row["total_ms"] for row in rows)
    for row in rows:
        row["share"] = 100.0 * row["total_ms"] / step_ms if step_ms > 0 else 100.0 / len(rows)
    return rows


def format_table(rows: Sequence[Mapping[str, Any]], batch_size: int, repeats: int) -> str:
    """The profile as text: Layer | Output shape | Forward ms | Backward ms | Share %, then the totals."""
    header = ("Layer", "Output shape", "Forward ms", "Backward ms", "Share of step %")
    cells = [(f"{row['index']} {row['layer']}", str(row["output_shape"]), f"{row['forward_ms']:.3f}",
              f"{row['backward_ms']:.3f}", f"{row['share']:.1f}") for row in rows]
    forward, backward = sum(row["forward_ms"] for row in rows), sum(row["backward_ms"] for row in rows)
    total = ("Total", "", f"{forward:.3f}", f"{backward:.3f}", f"{sum(row['share'] for row in rows):.1f}")
    widths = [max(len(line[i]) for line in [header, *cells, total]) + 3 for i in range(len(header))]
    rule = "-" * sum(widths)
    step_ms = forward + backward
    speed = f"{batch_size / step_ms * 1e3:,.0f} images/s" if step_ms > 0 else "too fast to time"
    lines = [f"Profile: batch of {batch_size}, median of {repeats} step(s); {step_ms:.3f} ms per step, {speed} "
             "(layers only: no optimiser step, loss or metrics)",
             rule, _row(header, widths), rule, *(_row(line, widths) for line in cells), rule, _row(total, widths)]
    return "\n".join(lines)


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()


def _snapshot(network: Network) -> _Snapshot:
    """Copies of every parameter's value and grad and every buffer, so the profile leaves no trace."""
    params = [(param, param.value.copy(), param.grad.copy()) for param in network.parameters()]
    buffers = [(layer, {name: value.copy() for name, value in layer.buffers().items()}) for layer in network.layers]
    return params, buffers


def _restore(network: Network, saved: _Snapshot) -> None:
    params, buffers = saved
    for param, value, grad in params:
        param.value, param.grad = value, grad
    for layer, values in buffers:
        for name, value in values.items():
            layer.set_buffer(name, value)
