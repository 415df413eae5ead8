"""The report's listing, run as written: nested Python lists (its "4-D list") and NumPy arrays alike.

Tiny random MNIST-shaped data and two epochs keep it fast; the point is the API, not the accuracy.
"""
import numpy as np
import pytest

import scratchcnn
from scratchcnn import ConvLayer, Dense, Flatten, MultiClassDense, Network, PoolingLayer
from scratchcnn.losses import categorical_crossentropy, categorical_crossentropy_derivative

EPOCHS, LEARNING_RATE = 2, 0.01


def report_network():
    """Listing 10 of the report, line by line."""
    network = Network()
    network.add(ConvLayer(6, 1, 16))
    network.add(PoolingLayer())
    network.add(Flatten())
    network.add(Dense(input_dim=1936, output_dim=160, activation="relu"))
    network.add(MultiClassDense(160, num_classes=10))
    return network


def random_images(rng, count):
    """(count, 1, 28, 28) float32 pixels in [0, 1] and integer labels 0..9."""
    return rng.random((count, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, size=count)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(2024)
    return {"train": random_images(rng, 6), "val": random_images(rng, 3), "test": random_images(rng, 4)}


def run_report(train_images, train_labels, val_images, val_labels, test_images, test_labels, folder):
    """The report's calls; only seed= is added, so that two runs can be compared."""
    network = report_network()
    network.summary(train_images[0])
    history = network.train(train_images, train_labels, EPOCHS, LEARNING_RATE, loss_fn=categorical_crossentropy,
                            loss_fn_derivative=categorical_crossentropy_derivative, val_X=val_images,
                            val_y=val_labels, log_file=str(folder / "log.txt"), seed=0)
    network.save_model(str(folder / "mnist.model"))
    out, test_loss, test_accuracy = network.evaluate(test_images, test_labels, categorical_crossentropy)
    return network, history, out, test_loss, test_accuracy


def one_hot(labels, num_classes=10):
    return np.eye(num_classes)[labels]


def test_report_listing_runs_on_nested_lists(data, tmp_path, capsys):
    (train_x, train_y), (val_x, val_y), (test_x, test_y) = data["train"], data["val"], data["test"]
    network, history, out, test_loss, test_accuracy = run_report(
        train_x.tolist(), one_hot(train_y).tolist(), val_x.tolist(), one_hot(val_y).tolist(),
        test_x.tolist(), one_hot(test_y).tolist(), tmp_path)

    assert "(1936,)" in capsys.readouterr().out  # the summary was printed
    assert len(history.history["loss"]) == len(history.history["val_loss"]) == EPOCHS
    assert len((tmp_path / "log.txt").read_text().splitlines()) == EPOCHS + 1  # epochs + total time

    assert out.shape == (4, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    probabilities = np.clip(out.astype(np.float64), 1e-7, 1 - 1e-7)
    expected_loss = -np.mean(np.log(probabilities[np.arange(4), test_y]))
    assert test_loss == pytest.approx(expected_loss, rel=1e-5)
    assert test_accuracy == np.mean(out.argmax(axis=1) == test_y)

    loaded = scratchcnn.load_model(str(tmp_path / "mnist.model"))
    assert np.array_equal(loaded.predict(test_x), out)


def test_nested_lists_and_arrays_train_bit_identically(data, tmp_path, capsys):
    """Lists with one-hot labels and arrays with integer labels are the same data to the network."""
    (train_x, train_y), (val_x, val_y), (test_x, test_y) = data["train"], data["val"], data["test"]
    (tmp_path / "lists").mkdir()
    (tmp_path / "arrays").mkdir()
    from_lists = run_report(train_x.tolist(), one_hot(train_y).tolist(), val_x.tolist(), one_hot(val_y).tolist(),
                            test_x.tolist(), one_hot(test_y).tolist(), tmp_path / "lists")
    from_arrays = run_report(train_x, train_y, val_x, val_y, test_x, test_y, tmp_path / "arrays")

    for ours, theirs in zip(from_lists[0].parameters(), from_arrays[0].parameters()):
        assert np.array_equal(ours.value, theirs.value)
    assert from_lists[1].history == from_arrays[1].history
    assert np.array_equal(from_lists[2], from_arrays[2])
    assert from_lists[3:] == from_arrays[3:]
