"""Tests for scratchcnn.plotting, using small fake layers and networks instead of the real engine."""
import os
import types

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

from scratchcnn import plotting  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_valid_png(path):
    with open(path, "rb") as file:
        assert file.read(8) == PNG_SIGNATURE
    assert os.path.getsize(path) > 2000  # a real drawing, not an empty canvas
    # No temporary files are left beside the PNG.
    assert [name for name in os.listdir(os.path.dirname(path)) if name.endswith(".tmp")] == []


# ---------------------------------------------------------------- fakes

HISTORY = {
    "loss": [1.2, 0.8, 0.6, 0.5],
    "accuracy": [0.55, 0.7, 0.78, 0.82],
    "val_loss": [1.0, 0.85, 0.7, 0.72],
    "val_accuracy": [0.6, 0.68, 0.74, 0.75],
    "lr": [0.1, 0.1, 0.05, 0.05],
}


class FakeHistory:
    def __init__(self, history):
        self.history = history
        self.epoch = list(range(len(history["loss"])))


class FakeConv:
    """Stands in for a built Conv2D: only `weight.value` is read."""

    def __init__(self, num_filters, depth, kernel_size=3, seed=0):
        rng = np.random.default_rng(seed)
        self.weight = types.SimpleNamespace(value=rng.normal(size=(num_filters, depth, kernel_size, kernel_size)))


class Conv2D:
    """A fake 'same'-padded layer that turns C channels into `out_channels` by mixing them."""

    def __init__(self, in_channels, out_channels, seed=0):
        self.mix = np.random.default_rng(seed).normal(size=(out_channels, in_channels))

    def forward(self, x, training=False):
        assert training is False
        return np.einsum("oc,nchw->nohw", self.mix, x)  # (N, out, H, W)


class MaxPool2D:
    def forward(self, x, training=False):
        n, c, h, w = x.shape
        return x[:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


class Flatten:
    def forward(self, x, training=False):
        return x.reshape(len(x), -1)


class Dense:
    def __init__(self, units):
        self.units = units

    def forward(self, x, training=False):
        return x[:, : self.units]


def fake_network():
    return types.SimpleNamespace(layers=[Conv2D(1, 6), MaxPool2D(), Conv2D(6, 12, seed=1), Flatten(), Dense(10)])


# ---------------------------------------------------------------- plot_history

@pytest.mark.parametrize("history", [HISTORY, FakeHistory(HISTORY)], ids=["dict", "object"])
def test_plot_history_writes_png(history, tmp_path):
    path = tmp_path / "history.png"
    figure = plotting.plot_history(history, path=path)
    assert isinstance(figure, Figure)
    assert_valid_png(path)
    loss_axes, accuracy_axes = figure.axes
    assert loss_axes.get_xlabel() == "Epoch" and loss_axes.get_ylabel() == "Loss"
    assert [t.get_text() for t in loss_axes.get_legend().get_texts()] == ["train", "validation"]
    assert accuracy_axes.get_ylabel() == "Accuracy"
    np.testing.assert_array_equal(loss_axes.lines[0].get_xdata(), [1, 2, 3, 4])


def test_plot_history_uses_epoch_list_of_resumed_training():
    history = FakeHistory({"loss": [0.5, 0.4]})
    history.epoch = [5, 6]
    figure = plotting.plot_history(history)
    assert len(figure.axes) == 1  # only a loss panel when no accuracy was recorded
    np.testing.assert_array_equal(figure.axes[0].lines[0].get_xdata(), [6, 7])


def test_plot_history_without_path_returns_figure_only(tmp_path):
    figure = plotting.plot_history({"accuracy": [0.5, 0.6]})
    assert isinstance(figure, Figure)
    assert list(tmp_path.iterdir()) == []


def test_plot_history_rejects_missing_metrics():
    with pytest.raises(ValueError, match=r"Received: keys=\['lr'\]"):
        plotting.plot_history({"lr": [0.1]})


def test_plot_history_rejects_object_without_history():
    with pytest.raises(ValueError, match="Received: history of type list"):
        plotting.plot_history([0.5, 0.4])


def test_plot_history_rejects_non_numeric_entry():
    with pytest.raises(ValueError, match="invalid history entry 'loss'"):
        plotting.plot_history({"loss": ["a", "b"]})


# ---------------------------------------------------------------- plot_confusion_matrix

def test_plot_confusion_matrix_writes_png_with_counts(tmp_path):
    y_true = np.eye(3)[[0, 0, 1, 2, 2, 2]]  # one-hot
    y_pred = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.1, 0.1, 0.8], [0.6, 0.2, 0.2]])
    path = tmp_path / "confusion.png"
    figure = plotting.plot_confusion_matrix(y_true, y_pred, class_names=["cat", "dog", "bird"], path=path)
    assert isinstance(figure, Figure)
    assert_valid_png(path)
    texts = [text.get_text() for text in figure.axes[0].texts]
    assert texts == ["1", "1", "0", "0", "1", "0", "1", "0", "2"]  # row by row
    assert [label.get_text() for label in figure.axes[0].get_xticklabels()] == ["cat", "dog", "bird"]


def test_plot_confusion_matrix_normalized(tmp_path):
    path = tmp_path / "normalized.png"
    figure = plotting.plot_confusion_matrix([0, 0, 1, 1], [0, 1, 1, 1], normalize=True, path=path)
    assert_valid_png(path)
    assert [text.get_text() for text in figure.axes[0].texts] == ["0.50", "0.50", "0.00", "1.00"]


def test_plot_confusion_matrix_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match=r"y_true.shape=\(3,\), y_pred.shape=\(2,\)"):
        plotting.plot_confusion_matrix([0, 1, 1], [0, 1])


# ---------------------------------------------------------------- plot_filters

@pytest.mark.parametrize("depth, shown", [(1, "channel 0 of 1"), (3, "RGB")])
def test_plot_filters_writes_png(depth, shown, tmp_path):
    path = tmp_path / f"filters{depth}.png"
    figure = plotting.plot_filters(FakeConv(num_filters=10, depth=depth), path=path)
    assert isinstance(figure, Figure)
    assert_valid_png(path)
    assert len(figure.axes) == 10  # spare cells of the 4 x 3 grid are removed
    assert shown in figure.texts[0].get_text()


def test_plot_filters_of_a_deeper_layer_shows_every_input_channel(tmp_path):
    layer = FakeConv(num_filters=10, depth=8)
    path = tmp_path / "deep.png"
    figure = plotting.plot_filters(layer, path=path)  # the default for depth 8: channels="all"
    assert_valid_png(path)
    (ax,) = figure.axes
    mosaic = ax.images[0].get_array()
    assert mosaic.shape == (10 * 4 - 1, 8 * 4 - 1)  # one row of kernels per filter, one column per channel
    weights = layer.weight.value
    low, high = weights[6].min(), weights[6].max()  # each filter scaled over all of its channels
    np.testing.assert_allclose(mosaic[6 * 4:6 * 4 + 3, 5 * 4:5 * 4 + 3], (weights[6, 5] - low) / (high - low))
    assert np.ma.getmaskarray(mosaic)[3].all() or np.isnan(np.asarray(mosaic.data)[3]).all()  # the gaps are blank
    assert ax.get_xlabel() == "input channel" and ax.get_ylabel() == "filter"


@pytest.mark.parametrize("channels, expected, title", [("mean", lambda w: w.mean(axis=1), "mean of 8 channels"),
                                                      (5, lambda w: w[:, 5], "channel 5 of 8")])
def test_plot_filters_mean_or_one_channel(channels, expected, title):
    layer = FakeConv(num_filters=6, depth=8)
    figure = plotting.plot_filters(layer, channels=channels)
    assert len(figure.axes) == 6 and title in figure.texts[0].get_text()
    np.testing.assert_allclose(figure.axes[4].images[0].get_array(), expected(layer.weight.value)[4])


def test_plot_filters_all_on_an_rgb_layer_shows_three_columns():
    figure = plotting.plot_filters(FakeConv(num_filters=4, depth=3), channels="all")
    assert figure.axes[0].images[0].get_array().shape == (4 * 4 - 1, 3 * 4 - 1)


@pytest.mark.parametrize("channels", [8, -1, "max", 2.0, True])
def test_plot_filters_rejects_bad_channels(channels):
    with pytest.raises(ValueError, match=rf"'all', 'mean' or a channel index in \[0, 7\].*Received: channels={channels!r}"):
        plotting.plot_filters(FakeConv(num_filters=2, depth=8), channels=channels)


@pytest.mark.parametrize(
    "layer",
    [object(), types.SimpleNamespace(weight=types.SimpleNamespace(value=np.zeros((4, 3))))],
    ids=["no-weight", "2d-weight"],
)
def test_plot_filters_rejects_layer_without_4d_weight(layer):
    with pytest.raises(ValueError, match="expected an object whose `.weight.value` is a non-empty 4-D array"):
        plotting.plot_filters(layer)


# ---------------------------------------------------------------- plot_feature_maps

def test_plot_feature_maps_writes_png(tmp_path):
    sample = np.random.default_rng(0).random((1, 12, 12))
    path = tmp_path / "maps.png"
    figure = plotting.plot_feature_maps(fake_network(), sample, path=path, max_maps=4)
    assert isinstance(figure, Figure)
    assert_valid_png(path)
    labels = [ax.get_ylabel() for ax in figure.axes if ax.get_ylabel()]
    # Three layers give 4-D outputs; Flatten and Dense are skipped.
    assert labels == ["0: Conv2D\n(6, 12, 12)", "1: MaxPool2D\n(6, 6, 6)", "2: Conv2D\n(12, 6, 6)"]
    assert sum(1 for ax in figure.axes if ax.images) == 3 * 4  # at most max_maps per row


def test_plot_feature_maps_row_shorter_than_max_maps():
    network = types.SimpleNamespace(layers=[Conv2D(1, 2)])
    figure = plotting.plot_feature_maps(network, np.ones((1, 5, 5)), max_maps=8)
    assert sum(1 for ax in figure.axes if ax.images) == 2


def test_plot_feature_maps_rejects_batched_sample():
    with pytest.raises(ValueError, match=r"Received: sample.shape=\(1, 1, 12, 12\)"):
        plotting.plot_feature_maps(fake_network(), np.zeros((1, 1, 12, 12)))


def test_plot_feature_maps_rejects_network_without_layers():
    with pytest.raises(ValueError, match="non-empty `.layers` list"):
        plotting.plot_feature_maps(object(), np.zeros((1, 4, 4)))


def test_plot_feature_maps_rejects_network_without_4d_output():
    network = types.SimpleNamespace(layers=[Flatten(), Dense(3)])
    with pytest.raises(ValueError, match="4-D"):
        plotting.plot_feature_maps(network, np.zeros((1, 4, 4)))


@pytest.mark.parametrize("max_maps", [0, 2.5])
def test_plot_feature_maps_rejects_bad_max_maps(max_maps):
    with pytest.raises(ValueError, match="Received: max_maps="):
        plotting.plot_feature_maps(fake_network(), np.zeros((1, 4, 4)), max_maps=max_maps)


# ---------------------------------------------------------------- plot_samples

def test_plot_samples_grey_with_predictions(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((10, 1, 8, 8))
    labels = np.eye(3)[[0, 1, 2, 0, 1, 2, 0, 1, 2, 0]]  # one-hot
    predictions = np.eye(3)[[0, 1, 1, 0, 1, 2, 2, 1, 2, 0]] * 0.8 + 0.05  # probabilities
    path = tmp_path / "samples.png"
    figure = plotting.plot_samples(images, labels, predictions, class_names=["a", "b", "c"], ncols=4, path=path)
    assert isinstance(figure, Figure)
    assert_valid_png(path)
    assert len(figure.axes) == 10
    titles = [(ax.get_title(), ax.title.get_color()) for ax in figure.axes]
    assert titles[0] == ("true a / pred a", "green")
    assert titles[2] == ("true c / pred b", "red")


def test_plot_samples_puts_long_true_and_predicted_names_on_two_lines():
    figure = plotting.plot_samples(np.zeros((2, 1, 4, 4)), [0, 1], [0, 0], class_names=["airplane", "automobile"])
    assert [ax.get_title() for ax in figure.axes] == ["true airplane\npred airplane", "true automobile\npred airplane"]


def test_plot_samples_rgb_any_range_and_max_images(tmp_path):
    images = np.random.default_rng(1).normal(0, 50, size=(40, 3, 6, 6))  # not in [0, 1]: scaled per image
    path = tmp_path / "rgb.png"
    figure = plotting.plot_samples(images, np.arange(40) % 5, max_images=12, path=path)
    assert_valid_png(path)
    assert [ax.get_title() for ax in figure.axes] == [str(k % 5) for k in range(12)]
    shown = figure.axes[0].images[0].get_array()
    assert shown.shape == (6, 6, 3) and shown.min() >= 0.0 and shown.max() <= 1.0


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (np.zeros((4, 2, 5, 5)), [0, 1, 0, 1], r"Received: images.shape=\(4, 2, 5, 5\)"),
        (np.zeros((0, 1, 5, 5)), [], r"Received: images.shape=\(0, 1, 5, 5\)"),
        (np.zeros((4, 1, 5, 5)), [0, 1, 0], r"expected 4\. Received: labels.shape=\(3,\)"),
    ],
)
def test_plot_samples_rejects_bad_input(images, labels, message):
    with pytest.raises(ValueError, match=message):
        plotting.plot_samples(images, labels)


def test_plot_samples_rejects_too_few_class_names():
    with pytest.raises(ValueError, match=r"expected at least 3\. Received: len\(class_names\)=2"):
        plotting.plot_samples(np.zeros((3, 1, 4, 4)), [0, 1, 2], class_names=["a", "b"])


def test_missing_matplotlib_gives_install_hint(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def refuse_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse_matplotlib)
    with pytest.raises(ImportError, match=r"pip install scratchcnn\[plot\]"):
        plotting.plot_history(HISTORY)


# ---------------------------------------------------------------- saliency and Grad-CAM

def real_network(depth):
    from scratchcnn import ConvLayer, Dense, Flatten, MultiClassDense, Network, PoolingLayer

    network = Network([ConvLayer(3, depth, 4, padding=1), PoolingLayer(), Flatten(), Dense(64, 8),
                       MultiClassDense(8, 3)]).initialize(seed=0)
    network.metadata["class_names"] = ["ant", "bee", "cow"]
    return network


@pytest.mark.parametrize("depth", [1, 3])
def test_plot_saliency_and_grad_cam_write_pngs_titled_with_the_class(depth, tmp_path):
    network = real_network(depth)
    x = np.random.default_rng(0).random((depth, 8, 8), dtype=np.float32)
    figure = plotting.plot_saliency(network, x, path=tmp_path / "saliency.png")
    assert_valid_png(tmp_path / "saliency.png")
    predicted = ["ant", "bee", "cow"][int(np.argmax(network.predict(x[None])))]
    assert figure.texts[0].get_text() == f"Saliency for class {predicted} (predicted)"
    figure = plotting.plot_grad_cam(network, x, class_index=2, path=tmp_path / "grad_cam.png")
    assert_valid_png(tmp_path / "grad_cam.png")
    assert figure.texts[0].get_text() == "Grad-CAM for class cow (chosen)"
    overlay = figure.axes[1].images
    assert len(overlay) == 2 and overlay[1].get_array().shape == (8, 8)  # the map over a grey copy of the input


def test_plot_saliency_refuses_a_batch():
    with pytest.raises(ValueError, match=r"Received: x.shape=\(1, 1, 8, 8\)"):
        plotting.plot_saliency(real_network(1), np.zeros((1, 1, 8, 8)))
