"""Figures for training curves, confusion matrices, filters, feature maps, image samples, saliency maps and Grad-CAM.

matplotlib is an optional extra (``pip install scratchcnn[plot]``) imported inside each function.
Figures are built with ``matplotlib.figure.Figure`` on an Agg canvas, so no pyplot global state is
touched and no display is needed. Every function returns the ``Figure``; with ``path=...`` it also
writes a PNG there atomically (a temporary file in the same folder, then ``os.replace``).
"""
from __future__ import annotations

import math
import os
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike

from scratchcnn.checks import check_int
from scratchcnn.explain import grad_cam_map, saliency_map
from scratchcnn.metrics import confusion_matrix, to_class_indices

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from scratchcnn.callbacks import History
    from scratchcnn.layers import ConvLayer
    from scratchcnn.network import Network

_HISTORY_PANELS = (("loss", "Loss"), ("accuracy", "Accuracy"))


# ---------------------------------------------------------------- figure and file helpers

def _new_figure(width: float, height: float) -> Figure:
    """An empty ``Figure`` of ``width`` x ``height`` inches attached to a non-interactive Agg canvas."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "scratchcnn.plotting needs matplotlib, which is not installed. "
            "Install it with: pip install scratchcnn[plot]"
        ) from error
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def _save_png(figure: Figure, path: str | os.PathLike[str] | None) -> None:
    """Write ``figure`` as a PNG at ``path`` so that readers never see a half-written file."""
    if path is None:
        return
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    # os.open with mode 0o666 honours the umask, so the final file gets ordinary permissions.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            figure.savefig(file, format="png", dpi=100)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _grid(figure: Figure, count: int, ncols: int) -> np.ndarray:
    """``count`` axes laid out ``ncols`` per row, ticks hidden; spare cells of the last row are removed."""
    nrows = math.ceil(count / ncols)
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[count:]:
        ax.remove()
    return axes[:count]


def _min_max_scale(array: np.ndarray) -> np.ndarray:
    """Scale to ``[0, 1]``; a constant array becomes all zeros."""
    low, high = float(array.min()), float(array.max())
    return (array - low) / (high - low) if high > low else np.zeros_like(array, dtype=float)


# ---------------------------------------------------------------- training history

def _history_dict(history: History | Mapping[str, Sequence[float]]
                  ) -> tuple[Mapping[str, Sequence[float]], Sequence[int] | None]:
    """The ``{name: values}`` dict and the epoch list (or None) of a History object or a plain dict."""
    if isinstance(history, dict):
        return history, None
    values = getattr(history, "history", None)
    if not isinstance(values, dict):
        raise ValueError(
            "Received an invalid history, expected a dict of lists or an object with a `.history` dict. "
            f"Received: history of type {type(history).__name__}"
        )
    return values, getattr(history, "epoch", None)


def _epoch_axis(epochs: Sequence[int] | None, length: int) -> np.ndarray:
    """1-based epoch numbers for a series of ``length`` values.

    ``epochs`` holds 0-based indices (as Keras's ``History.epoch`` does, e.g. after resuming at
    epoch 5: ``[5, 6, ...]``); it is used when it matches the series length.
    """
    if epochs is not None and len(epochs) == length:
        return np.asarray(epochs) + 1
    return np.arange(1, length + 1)


def plot_history(history: History | Mapping[str, Sequence[float]], path: str | os.PathLike[str] | None = None
                 ) -> Figure:
    """Loss and accuracy per epoch, train and validation, in side-by-side panels.

    Args:
        history: a dict of per-epoch lists with keys among ``loss``, ``accuracy``, ``val_loss``,
            ``val_accuracy`` (others, such as ``lr``, are ignored), or an object with such a
            ``.history`` dict and an ``.epoch`` list.
        path: optional PNG file to write.

    Returns:
        matplotlib ``Figure`` with one panel per metric present (loss and/or accuracy).
    """
    values, epochs = _history_dict(history)
    panels = [(key, title) for key, title in _HISTORY_PANELS if key in values or f"val_{key}" in values]
    if not panels:
        raise ValueError(
            "Received a history without any plottable metric, expected at least one of "
            f"'loss', 'val_loss', 'accuracy', 'val_accuracy'. Received: keys={sorted(values)}"
        )
    figure = _new_figure(5.5 * len(panels), 4.0)
    for ax, (key, title) in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels):
        for name, label, style in ((key, "train", "-o"), (f"val_{key}", "validation", "--s")):
            if name in values:
                series = _history_series(values[name], name)
                ax.plot(_epoch_axis(epochs, len(series)), series, style, markersize=3, label=label)
        ax.set_title(title)
        ax.set_xlabel("Epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)  # no ticks at epoch 1.25
        ax.set_ylabel(title)
        ax.grid(True, alpha=0.3)
        ax.legend()
    figure.tight_layout()
    _save_png(figure, path)
    return figure


def _history_series(values: Sequence[float], name: str) -> np.ndarray:
    """One history entry as a float ``(epochs,)`` array."""
    try:
        series = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        series = None
    if series is None or series.ndim != 1 or series.size == 0:
        raise ValueError(
            f"Received an invalid history entry {name!r}, expected a non-empty list of numbers, one per epoch. "
            f"Received: {values!r}"
        )
    return series


# ---------------------------------------------------------------- confusion matrix

def plot_confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, class_names: Sequence[object] | None = None,
                          normalize: bool = False, path: str | os.PathLike[str] | None = None) -> Figure:
    """Heat map of the confusion matrix (rows true, columns predicted) with each cell annotated.

    Args:
        y_true, y_pred: any form ``metrics.to_class_indices`` accepts, with the same ``N``.
        class_names: optional names, one per class; their count fixes the number of classes.
        normalize: if True, divide each row by its total so cells show per-true-class fractions.
        path: optional PNG file to write.

    Returns:
        matplotlib ``Figure``.
    """
    num_classes = None if class_names is None else len(class_names)
    matrix = confusion_matrix(y_true, y_pred, num_classes=num_classes)  # (K, K)
    names = [str(k) for k in range(len(matrix))] if class_names is None else [str(n) for n in class_names]
    shown = matrix.astype(float)
    if normalize:
        row_totals = matrix.sum(axis=1, keepdims=True)  # (K, 1)
        shown = np.divide(shown, row_totals, out=np.zeros_like(shown), where=row_totals > 0)
    size = min(4.0 + 0.5 * len(names), 20.0)
    figure = _new_figure(size + 1.0, size)
    ax = figure.subplots()
    image = ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else None)
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colour_scale_max = 1.0 if normalize else shown.max()
    _annotate_cells(ax, shown, "{:.2f}" if normalize else "{:.0f}", dark_above=colour_scale_max / 2.0)
    ticks = np.arange(len(names))
    ax.set_xticks(ticks, labels=names, rotation=45 if max(map(len, names)) > 3 else 0, ha="right")
    ax.set_yticks(ticks, labels=names)
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    ax.set_title("Confusion matrix (row-normalised)" if normalize else "Confusion matrix")
    figure.tight_layout()
    _save_png(figure, path)
    return figure


def _annotate_cells(ax: Axes, values: np.ndarray, number_format: str, dark_above: float) -> None:
    """Write each cell's value on it, white on cells darker than the middle of the colour scale."""
    fontsize = max(5, 12 - len(values) // 3)
    for (row, column), value in np.ndenumerate(values):
        colour = "white" if value > dark_above else "black"
        ax.text(column, row, number_format.format(value), ha="center", va="center", color=colour, fontsize=fontsize)


# ---------------------------------------------------------------- filters

def plot_filters(conv_layer: ConvLayer, path: str | os.PathLike[str] | None = None,
                 channels: Literal["all", "mean"] | int | None = None) -> Figure:
    """A convolution layer's kernels, ``conv_layer.weight.value`` ``(num_filters, depth, kh, kw)``.

    Args:
        channels: which input channels to show.
            ``None`` (default): an RGB image per filter when ``depth == 3``, the single channel when
            ``depth == 1``, and ``"all"`` for deeper layers.
            ``"all"``: every input channel, one row per filter and one column per channel, each filter
            min-max scaled over all its channels (so a weak channel looks weak).
            ``"mean"``: one grey image per filter, the mean over its input channels.
            an int ``k``: one grey image per filter, its channel ``k``.
        path: optional PNG file to write.

    Returns:
        matplotlib ``Figure``.
    """
    weights = _conv_weights(conv_layer)  # (F, D, kh, kw)
    num_filters, depth, kh, kw = weights.shape
    mode = _filter_channels(channels, depth)
    if mode == "all":
        figure = _plot_all_filter_channels(weights)
    else:
        if mode == "rgb":
            kernels, note = [_min_max_scale(kernel).transpose(1, 2, 0) for kernel in weights], "RGB"  # (kh, kw, 3)
        elif mode == "mean":
            kernels, note = list(weights.mean(axis=1)), f"mean of {depth} channels"
        else:
            kernels, note = list(weights[:, mode]), f"channel {mode} of {depth}"
        ncols = math.ceil(math.sqrt(num_filters))
        figure = _new_figure(1.2 * ncols, 1.2 * math.ceil(num_filters / ncols) + 0.4)
        for index, (ax, kernel) in enumerate(zip(_grid(figure, num_filters, ncols), kernels)):
            ax.imshow(kernel, cmap=None if mode == "rgb" else "gray", interpolation="nearest")
            ax.set_title(str(index), fontsize=8)
        figure.suptitle(f"{num_filters} filters {kh}x{kw} ({note})")
    figure.tight_layout()
    _save_png(figure, path)
    return figure


def _filter_channels(channels: str | int | None, depth: int) -> Literal["rgb", "all", "mean"] | int:
    """'rgb', 'all', 'mean' or a channel index, from plot_filters' ``channels`` argument."""
    if channels is None:
        return "rgb" if depth == 3 else 0 if depth == 1 else "all"
    if channels in ("all", "mean"):
        return channels  # type: ignore[return-value]  # 'all' or 'mean'
    if isinstance(channels, (int, np.integer)) and not isinstance(channels, bool) and 0 <= channels < depth:
        return int(channels)
    raise ValueError(
        f"Received an invalid value for channels, expected 'all', 'mean' or a channel index in [0, {depth - 1}] "
        f"for filters of depth {depth}. Received: channels={channels!r}"
    )


def _plot_all_filter_channels(weights: np.ndarray) -> Figure:
    """One image: filter f's channel d at row f, column d, each filter min-max scaled over its channels."""
    num_filters, depth, kh, kw = weights.shape
    # A one-pixel gap (NaN, drawn blank) between kernels.
    mosaic = np.full((num_filters * (kh + 1) - 1, depth * (kw + 1) - 1), np.nan)  # (F (kh+1) - 1, D (kw+1) - 1)
    for f, kernel in enumerate(weights):
        scaled = _min_max_scale(kernel)  # (D, kh, kw)
        for d in range(depth):
            mosaic[f * (kh + 1):f * (kh + 1) + kh, d * (kw + 1):d * (kw + 1) + kw] = scaled[d]
    cell = min(0.45, 24.0 / max(num_filters, depth))  # inches per kernel, the figure at most about 24 inches
    figure = _new_figure(max(3.0, cell * depth + 1.2), max(2.5, cell * num_filters + 1.0))
    ax = figure.subplots()
    ax.imshow(mosaic, cmap="gray", interpolation="nearest", vmin=0.0, vmax=1.0)
    step_rows, step_cols = max(1, num_filters // 16), max(1, depth // 16)  # at most about 16 labels per axis
    ax.set_yticks([f * (kh + 1) + (kh - 1) / 2 for f in range(0, num_filters, step_rows)],
                  labels=[str(f) for f in range(0, num_filters, step_rows)], fontsize=7)
    ax.set_xticks([d * (kw + 1) + (kw - 1) / 2 for d in range(0, depth, step_cols)],
                  labels=[str(d) for d in range(0, depth, step_cols)], fontsize=7)
    ax.set_ylabel("filter")
    ax.set_xlabel("input channel")
    ax.set_title(f"{num_filters} filters {kh}x{kw}, all {depth} input channels")
    return figure


def _conv_weights(conv_layer: object) -> np.ndarray:
    weight = getattr(conv_layer, "weight", None)
    value = getattr(weight, "value", None)
    if value is None or np.ndim(value) != 4 or 0 in np.shape(value):
        shape = None if value is None else np.shape(value)
        raise ValueError(
            "Received an invalid conv_layer, expected an object whose `.weight.value` is a non-empty "
            "4-D array (num_filters, depth, kh, kw); is the layer built? "
            f"Received: {type(conv_layer).__name__} with weight.value shape={shape}"
        )
    return np.asarray(value, dtype=float)


# ---------------------------------------------------------------- feature maps

def _collect_feature_maps(network: Network, sample: ArrayLike, max_maps: int) -> list[tuple[str, np.ndarray]]:
    """Run one sample through ``network.layers``; return (layer label, maps ``(<=max_maps, H, W)``) for 4-D outputs."""
    layers = getattr(network, "layers", None)
    if not layers:
        raise ValueError(
            "Received an invalid network, expected an object with a non-empty `.layers` list. "
            f"Received: {type(network).__name__} with layers={layers!r}"
        )
    sample = np.asarray(sample)
    if sample.ndim != 3:
        raise ValueError(
            "Received an invalid sample, expected one image of shape (C, H, W) without the batch axis. "
            f"Received: sample.shape={sample.shape}"
        )
    outputs = sample[np.newaxis]  # (1, C, H, W)
    rows = []
    for index, layer in enumerate(layers):
        outputs = layer.forward(outputs, training=False)
        if np.ndim(outputs) == 4:
            output_shape = tuple(np.shape(outputs)[1:])
            label = f"{index}: {layer.__class__.__name__}\n{output_shape}"
            rows.append((label, np.asarray(outputs)[0, :max_maps]))  # (<=max_maps, H, W)
    return rows


def plot_feature_maps(network: Network, sample: ArrayLike, path: str | os.PathLike[str] | None = None,
                      max_maps: int = 8) -> Figure:
    """The channel maps each layer produces for one input, one row per layer with a 4-D output.

    Args:
        network: an object whose ``.layers`` each have ``forward(x, training=False)``.
        sample: one input image ``(C, H, W)``; the batch axis is added here.
        path: optional PNG file to write.
        max_maps: how many channels to show per layer (the first ones).

    Returns:
        matplotlib ``Figure``; each row is labelled with the layer's index, class name and
        per-sample output shape ``(C, H, W)``.
    """
    check_int("max_maps", max_maps)
    rows = _collect_feature_maps(network, sample, max_maps)
    if not rows:
        raise ValueError(
            "Received a network none of whose layers gives a 4-D (N, C, H, W) output, "
            "expected at least one convolution-like layer to show."
        )
    ncols = max(len(maps) for _, maps in rows)
    figure = _new_figure(1.4 * ncols + 1.2, 1.4 * len(rows) + 0.3)
    axes = figure.subplots(len(rows), ncols, squeeze=False)
    for (label, maps), row_axes in zip(rows, axes):
        for channel, ax in enumerate(row_axes):
            ax.set_xticks([])
            ax.set_yticks([])
            if channel >= len(maps):
                ax.set_axis_off()
                continue
            ax.imshow(maps[channel], cmap="viridis", interpolation="nearest")
        row_axes[0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    figure.tight_layout()
    _save_png(figure, path)
    return figure


# ---------------------------------------------------------------- image samples

def _display_images(images: ArrayLike) -> np.ndarray:
    """Images ready for ``imshow``: ``(N, H, W)`` grey or ``(N, H, W, 3)`` RGB, values in ``[0, 1]``.

    Images already within ``[0, 1]`` are shown as they are; any other range is min-max scaled per image.
    """
    images = np.asarray(images, dtype=float)
    if images.ndim == 3:
        images = images[:, np.newaxis]  # (N, H, W) -> (N, 1, H, W)
    if images.ndim != 4 or images.shape[1] not in (1, 3) or images.shape[0] == 0:
        raise ValueError(
            "Received invalid images, expected a non-empty array (N, C, H, W) with C = 1 (grey) or 3 (RGB). "
            f"Received: images.shape={images.shape}"
        )
    if images.min() < 0.0 or images.max() > 1.0:
        images = np.stack([_min_max_scale(image) for image in images])
    return images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)


def _sample_titles(labels: ArrayLike, predictions: ArrayLike | None, class_names: Sequence[object] | None, count: int
                   ) -> list[tuple[str, str]]:
    """(title, colour) per image: ``label`` in black, or ``true label / pred prediction`` in green or red."""
    true_indices = _indices_for(labels, "labels", count)
    pred_indices = None if predictions is None else _indices_for(predictions, "predictions", count)
    largest = int(max(true_indices.max(), -1 if pred_indices is None else pred_indices.max()))
    if class_names is not None and largest >= len(class_names):
        raise ValueError(
            f"Received too few class_names, expected at least {largest + 1}. Received: len(class_names)={len(class_names)}"
        )
    name = (lambda k: str(class_names[k])) if class_names is not None else str
    if pred_indices is None:
        return [(name(t), "black") for t in true_indices]
    return [(_true_pred_title(name(t), name(p)), "green" if t == p else "red") for t, p in zip(true_indices, pred_indices)]


def _true_pred_title(true_name: str, pred_name: str) -> str:
    """'true 9 / pred 7', on two lines when the names are long."""
    title = f"true {true_name} / pred {pred_name}"
    return title if len(title) <= 20 else f"true {true_name}\npred {pred_name}"


def _indices_for(values: ArrayLike, name: str, count: int) -> np.ndarray:
    indices = to_class_indices(values)
    if len(indices) != count:
        raise ValueError(
            f"Received {name} for a different number of images, expected {count}. "
            f"Received: {name}.shape={np.shape(values)}"
        )
    return indices


def plot_samples(images: ArrayLike, labels: ArrayLike, predictions: ArrayLike | None = None,
                 class_names: Sequence[object] | None = None, ncols: int = 8, max_images: int = 32,
                 path: str | os.PathLike[str] | None = None) -> Figure:
    """A grid of images titled with their label, or ``true 9 / pred 7`` (green right, red wrong).

    Args:
        images: ``(N, C, H, W)`` with C = 1 or 3 (``(N, H, W)`` is read as grey); values in
            ``[0, 1]`` are shown as they are, any other range is min-max scaled per image.
        labels, predictions: one-hot, probabilities or integer labels (``metrics.to_class_indices``).
        class_names: optional names indexed by class.
        ncols: images per row. max_images: how many of the first images to show.
        path: optional PNG file to write.

    Returns:
        matplotlib ``Figure``.
    """
    check_int("ncols", ncols)
    check_int("max_images", max_images)
    display = _display_images(images)
    titles = _sample_titles(labels, predictions, class_names, len(display))
    count = min(len(display), max_images)
    ncols = min(ncols, count)
    figure = _new_figure(1.5 * ncols, 1.7 * math.ceil(count / ncols))
    for ax, image, (title, colour) in zip(_grid(figure, count, ncols), display, titles):
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(title, color=colour, fontsize=8)
    figure.tight_layout()
    _save_png(figure, path)
    return figure


# ---------------------------------------------------------------- saliency and Grad-CAM

def _explained_class(network: Network, x: ArrayLike, class_index: int | None) -> tuple[int, str]:
    """(class index, its label) that saliency_map / grad_cam_map explain for one sample x (C, H, W)."""
    if class_index is None:
        outputs = network.predict(np.asarray(x)[np.newaxis])  # (1, K)
        class_index = int(to_class_indices(outputs)[0])
        kind = "predicted"
    else:
        kind = "chosen"
    names = (getattr(network, "metadata", None) or {}).get("class_names") or []
    name = str(names[class_index]) if isinstance(class_index, (int, np.integer)) and 0 <= class_index < len(names) \
        else str(class_index)
    return class_index, f"class {name} ({kind})"


def _show_input(ax: Axes, x: ArrayLike) -> np.ndarray:
    image = _display_images(np.asarray(x)[np.newaxis])[0]  # (H, W) or (H, W, 3) in [0, 1]
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    return image


def plot_saliency(network: Network, x: ArrayLike, class_index: int | None = None,
                  path: str | os.PathLike[str] | None = None) -> Figure:
    """The input beside its saliency map, |d score / d input| (``explain.saliency_map``), for one sample.

    Args:
        network: a scratchcnn Network; x: one image ``(C, H, W)`` with C = 1 or 3.
        class_index: the class to explain; None explains the predicted one.
        path: optional PNG file to write.

    Returns:
        matplotlib ``Figure`` with two panels: the input, and the map scaled to [0, 1].
    """
    saliency = saliency_map(network, x, class_index)  # validates x and class_index first
    class_index, label = _explained_class(network, x, class_index)
    figure = _new_figure(7.0, 3.6)
    image_ax, map_ax = figure.subplots(1, 2)
    _show_input(image_ax, x)
    image_ax.set_title("input")
    shown = map_ax.imshow(_min_max_scale(saliency), cmap="hot", vmin=0.0, vmax=1.0, interpolation="nearest")
    map_ax.set_xticks([])
    map_ax.set_yticks([])
    map_ax.set_title("saliency |d score / d input|")
    figure.colorbar(shown, ax=map_ax, fraction=0.046, pad=0.04)
    figure.suptitle(f"Saliency for {label}")
    figure.tight_layout()
    _save_png(figure, path)
    return figure


def plot_grad_cam(network: Network, x: ArrayLike, layer_index: int | None = None, class_index: int | None = None,
                  path: str | os.PathLike[str] | None = None) -> Figure:
    """The input beside its Grad-CAM heat map overlaid on it (``explain.grad_cam_map``), for one sample.

    Args:
        network: a scratchcnn Network; x: one image ``(C, H, W)`` with C = 1 or 3.
        layer_index: the layer whose feature maps are weighted; None takes the last ConvLayer.
        class_index: the class to explain; None explains the predicted one.
        path: optional PNG file to write.

    Returns:
        matplotlib ``Figure`` with two panels: the input, and the map (scaled to [0, 1]) over it.
    """
    cam = grad_cam_map(network, x, layer_index, class_index)  # validates its arguments first
    class_index, label = _explained_class(network, x, class_index)
    figure = _new_figure(7.0, 3.6)
    image_ax, overlay_ax = figure.subplots(1, 2)
    _show_input(image_ax, x)
    image_ax.set_title("input")
    image = _show_input(overlay_ax, x)
    if image.ndim == 3:  # a grey copy under the heat map keeps the colours the map's
        overlay_ax.images[0].set_data(image.mean(axis=2))
        overlay_ax.images[0].set_cmap("gray")
    high = float(cam.max())
    shown = overlay_ax.imshow(cam / high if high > 0 else cam, cmap="jet", alpha=0.45, vmin=0.0, vmax=1.0,
                              interpolation="bilinear")
    overlay_ax.set_title("Grad-CAM" if high > 0 else "Grad-CAM (zero everywhere)")
    figure.colorbar(shown, ax=overlay_ax, fraction=0.046, pad=0.04)
    figure.suptitle(f"Grad-CAM for {label}")
    figure.tight_layout()
    _save_png(figure, path)
    return figure
