"""What a Network accepts as data: the user's inputs, labels, losses and metrics checked at the edge.

Every check says what it received and what it expected, and, for the usual mistakes
(images without a channel axis, channels-last images, raw 0-255 pixels), how to fix them.
The training loop and predict then run on arrays they can trust.
"""
import warnings
from typing import Any

import numpy as np

from . import losses, parallel, training
from . import metrics as metrics_module
from .backend import xp
from .inputs import as_float_array, describe_shape, prepare_targets


def require_layers(network):
    if not network.layers:
        raise ValueError("The network has no layers: add some with network.add(layer) first.")


def output_dim(network, input_shape):
    """Number of output units for per-sample inputs of input_shape."""
    output_shape = network.output_shapes(input_shape)[-1][1]
    if len(output_shape) != 1:
        raise ValueError(f"The network's output has per-sample shape {output_shape}, expected a flat (units,) "
                         "output to compare with labels: end it with Flatten/Dense.")
    return output_shape[0]


def check_inputs(network: Any, X: Any, name: str, allow_unbatched: bool = False, check_values: bool = True
                 ) -> np.ndarray:
    """X as a float array of the network's dtype, its shape checked against every layer; with
    check_values, a ValueError if it holds NaN or inf (predict checks its pieces as it runs them)."""
    require_layers(network)
    X = as_float_array(X, name=name, dtype=network.dtype)
    first = network.layers[0]
    rank = sample_ndim(network)
    if rank is None:  # only rank-agnostic layers (Dropout, BatchNorm, ...): any batched input
        rank = X.ndim - 1
    if allow_unbatched and X.ndim == rank and not missing_channel_axis(network, X):
        return check_inputs(network, X[None], name, check_values=check_values)[0]  # one sample: a batch of one
    if X.ndim != rank + 1:
        raise ValueError(
            f"Received {name} of shape {tuple(X.shape)}, expected a batch of rank {rank + 1}: "
            f"{describe_shape(first_layer_shape(network))} for the first layer {first!r}.{shape_hint(network, X, name)}")
    if len(X) == 0:
        raise ValueError(f"Received an empty {name} (0 samples), expected at least one sample.")
    try:
        network.output_shapes(X.shape[1:])
    except ValueError as error:
        raise ValueError(f"Received {name} of shape {tuple(X.shape)}, which does not fit the network: "
                         f"{error}{shape_hint(network, X, name)}") from None
    if check_values and not parallel.all_finite(X):
        raise ValueError(f"Received NaN or inf in {name}, expected finite numbers.")
    return X


def sample_ndim(network):
    """Rank of one input sample: that of the first layer that fixes it (Dropout and BatchNorm take any)."""
    return next((layer.sample_ndim for layer in network.layers if getattr(layer, "sample_ndim", None) is not None), None)


def first_layer_shape(network):
    first = network.layers[0]
    if getattr(first, "depth", None) is not None:
        return ("C=" + str(first.depth), "H", "W")
    if getattr(first, "input_dim", None) is not None:
        return (first.input_dim,)
    return ("features",) if sample_ndim(network) == 1 else ("C", "H", "W")


def missing_channel_axis(network, X):
    """Whether X (N, H, W) looks like one-channel images without their channel axis (not one (C, H, W) sample)."""
    depth = getattr(network.layers[0], "depth", None)
    return X.ndim == 3 and depth == 1 and X.shape[0] != 1


def shape_hint(network, X, name):
    """How to fix two common input mistakes: images without a channel axis, and channels-last images."""
    depth = getattr(network.layers[0], "depth", None)
    if missing_channel_axis(network, X):
        return (f" For one-channel images (N, H, W), add the channel axis: {name}[:, None] has shape "
                f"{(X.shape[0], 1, *X.shape[1:])}.")
    if X.ndim == 4 and depth is not None and X.shape[-1] == depth and X.shape[1] != depth:
        return (f" The images look channels-last (N, H, W, C); scratchcnn takes channels-first (N, C, H, W): "
                f"{name}.transpose(0, 3, 1, 2) has shape {(X.shape[0], X.shape[3], X.shape[1], X.shape[2])}.")
    return ""


def training_data(network, X, y, val_X, val_y, validation_split):
    """(training.Arrays or training.Source, validation (X, y) or None), holding out the last validation_split
    of X when no validation data is given."""
    if not (isinstance(validation_split, (int, float)) and not isinstance(validation_split, bool)
            and 0 <= validation_split < 1):
        raise ValueError(f"Received an invalid value for validation_split, expected a fraction in [0, 1). "
                         f"Received: validation_split={validation_split!r}")
    validation = None
    if val_X is not None:
        validation = (val_X, val_y) if training.is_batch_source(val_X) else \
            check_data(network, val_X, val_y, "val_X", "val_y")
    if training.is_batch_source(X):
        if y is not None:
            raise ValueError("Received a batch source as X together with y, expected the source alone: "
                             "source[i] returns (X_batch, y_batch).")
        if validation_split:
            raise ValueError("validation_split cannot split a batch source; pass validation_data=(X, y) or a "
                             "second source instead.")
        if len(X) == 0:
            raise ValueError("Received a batch source with no batches (len 0), expected at least one.")
        return training.Source(X, lambda xb, yb: check_data(network, xb, yb, "a batch's X", "a batch's y")), \
            validation
    X, y = check_data(network, X, y, "X", "y")
    if validation is None and validation_split:
        cut = len(X) - int(round(len(X) * validation_split))
        if cut < 1 or cut == len(X):
            raise ValueError(f"validation_split={validation_split} leaves {cut} of {len(X)} samples for training; "
                             "expected both parts to be non-empty.")
        X, y, validation = X[:cut], y[:cut], (X[cut:], y[cut:])
    return training.Arrays(X, y), validation


def validation_pair(validation_data):
    if training.is_batch_source(validation_data):
        return validation_data, None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise ValueError("Received an invalid value for validation_data, expected a pair (X, y) or a batch "
                         f"source. Received: a {type(validation_data).__name__}"
                         f"{f' of length {len(validation_data)}' if hasattr(validation_data, '__len__') else ''}")
    return validation_data[0], validation_data[1]


def gather_source(network, source, y):
    """Every batch of a batch source, checked and joined: (X, y) for evaluate."""
    if y is not None:
        raise ValueError("Received a batch source as X together with y, expected the source alone.")
    parts = []
    for index in range(len(source)):
        x_batch, y_batch = training.batch_pair(source[index])
        parts.append(check_data(network, x_batch, y_batch, "a batch's X", "a batch's y"))
    if not parts:
        raise ValueError("Received a batch source with no batches (len 0), expected at least one.")
    return xp.concatenate([x for x, _ in parts]), xp.concatenate([t for _, t in parts])


def check_data(network: Any, X: Any, y: Any, x_name: str, y_name: str) -> tuple[np.ndarray, np.ndarray]:
    if y is None:
        raise ValueError(f"Received {x_name} without {y_name}: labels are needed.")
    unscaled = looks_unscaled(X)
    X = check_inputs(network, X, x_name)
    if unscaled:
        warnings.warn(f"{x_name} looks unscaled ({unscaled}); networks train best on inputs scaled to about "
                      "[0, 1], e.g. X / 255 for 8-bit images.", UserWarning, stacklevel=4)
    return X, prepare_targets(y, output_dim(network, X.shape[1:]), len(X), network.dtype, name=y_name)


def compiled_loss(network, loss_fn):
    """(loss, derivative) of `loss_fn` (a function or a name), or compile()'s when None."""
    if loss_fn is None:
        if getattr(network, "_compiled", None) is None:
            raise ValueError("Received no loss_fn, and compile() named none: pass loss_fn, e.g. "
                             "'categorical_crossentropy'.")
        return network._compiled.loss
    if isinstance(loss_fn, str):
        return losses.get(loss_fn)
    if not callable(loss_fn):
        raise ValueError(f"Received a loss_fn that is not callable, expected e.g. categorical_crossentropy or its "
                         f"name. Received: loss_fn={loss_fn!r}")
    return loss_fn, None


def chosen_metrics(metrics, loss_fn):
    """The Metrics a run reports: those asked for, else accuracy for a classification loss (none for regression)."""
    if metrics is None:
        classification = loss_fn in losses.CLASSIFICATION
        return [metrics_module.get("accuracy")] if classification else []
    if isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics):
        metrics = [metrics]
    chosen = [metrics_module.get(metric) for metric in metrics]
    names = [metric.name for metric in chosen]
    if len(set(names)) != len(names) or "loss" in names:
        raise ValueError(f"Received metrics with repeated names (or one named 'loss'): {names}.")
    return chosen


def record_metadata(network, data, class_names):
    """The input shape, and class names when known, for the model file (the CLI reads them)."""
    network.metadata.setdefault("input_shape", [int(d) for d in data.sample_shape])
    names = class_names if class_names is not None else getattr(getattr(data, "source", None), "class_names", None)
    if names is not None:
        names = [str(name) for name in names]
        outputs = output_dim(network, tuple(data.sample_shape))
        if len(names) != max(outputs, 2):
            raise ValueError(f"Received {len(names)} class names for a network of {outputs} output unit(s), "
                             f"expected {max(outputs, 2)}.")
        network.metadata["class_names"] = names


def check_loss(network, loss_fn, loss_fn_derivative, data):
    y = getattr(data, "y", None)  # a batch source's labels are checked batch by batch
    if not callable(loss_fn) or not callable(loss_fn_derivative):
        raise ValueError(
            f"Received a loss_fn or loss_fn_derivative that is not callable. Received: {loss_fn!r}, {loss_fn_derivative!r}")
    derivatives = {loss: derivative for loss, derivative in losses.LOSSES.values()}
    if loss_fn in derivatives and loss_fn_derivative in derivatives.values() \
            and derivatives[loss_fn] is not loss_fn_derivative:
        raise ValueError(f"Received loss_fn={loss_fn.__name__} with loss_fn_derivative={loss_fn_derivative.__name__}, "
                         f"expected its own derivative {derivatives[loss_fn].__name__}.")
    activation = getattr(network.layers[-1], "activation", None)
    outputs = output_dim(network, tuple(data.sample_shape))
    if loss_fn is losses.bce_loss and activation == "softmax":
        raise ValueError(
            f"Received loss_fn=bce_loss after a {outputs}-way softmax, expected categorical_crossentropy "
            "(or a sigmoid output layer for binary cross-entropy).")
    if loss_fn is losses.categorical_crossentropy and outputs == 1:
        raise ValueError("Received loss_fn=categorical_crossentropy for a single output unit (its loss is always 0), "
                         "expected bce_loss with a sigmoid output, or more output classes.")
    if loss_fn is losses.bce_loss and y is not None and (y.min() < 0 or y.max() > 1):
        raise ValueError("Received labels outside [0, 1] for bce_loss, expected 0-1 targets.")


def looks_unscaled(X):
    """A short description when X looks like raw pixel values (uint8, or values far outside [0, 1]), else ''."""
    dtype = getattr(X, "dtype", None)
    if dtype is not None and dtype == np.uint8:
        return "dtype uint8"
    try:
        array = np.asarray(X, dtype=np.float64) if dtype is None else X
        largest = float(np.max(np.abs(array))) if np.size(array) and np.issubdtype(array.dtype, np.number) else 0.0
    except (TypeError, ValueError):
        return ""  # not numbers: the input checks say so
    return f"values up to {largest:g}" if np.isfinite(largest) and largest > 10 else ""
