"""The report's toy problems are learnt: 3-bit XOR, the 4-bit 3-class net, and a small CNN on bar images.

The report's epochs and learning rates are kept as they are (per-sample SGD, thousands of
epochs): each run takes seconds, three seeds each.
"""
import numpy as np
import pytest

from scratchcnn import ConvLayer, Dense, Flatten, MultiClassDense, Network, PoolingLayer
from scratchcnn.datasets.synthetic import four_bit_dataset, xor_dataset
from scratchcnn.losses import (bce_loss, bce_loss_derivative, categorical_crossentropy,
                               categorical_crossentropy_derivative)


def xor_accuracy(seed):
    """The report's XOR net and settings on 15 random 3-bit samples; accuracy on them after training."""
    X, y = xor_dataset(15, seed)
    network = Network()
    network.add(Dense(3, 4, activation="tanh"))
    network.add(Dense(4, 3, activation="tanh"))
    network.add(Dense(3, 1, activation="sigmoid"))
    network.train(X, y, 4000, 0.01, bce_loss, bce_loss_derivative, log_file=None, batch_size=1, seed=seed,
                  verbose=0)
    return network.evaluate(X, y, bce_loss)[2]


def four_bit_accuracy(seed):
    """The report's 4-bit net (3 classes by number of set bits, capped at 2) on 25 random samples."""
    X, y = four_bit_dataset(25, seed)
    network = Network()
    network.add(Dense(4, 4, activation="relu"))
    network.add(Dense(4, 3, activation="relu"))
    network.add(MultiClassDense(3, 3))
    network.train(X, y, 8000, 0.2, categorical_crossentropy, categorical_crossentropy_derivative, log_file=None,
                  batch_size=1, seed=seed, verbose=0)
    return network.evaluate(X, y, categorical_crossentropy)[2]


@pytest.mark.slow
def test_xor_is_learnt_for_most_seeds():
    accuracies = {seed: xor_accuracy(seed) for seed in (0, 1, 2)}
    assert sum(accuracy == 1.0 for accuracy in accuracies.values()) >= 2, accuracies


@pytest.mark.slow
def test_four_bit_classes_are_learnt_for_most_seeds():
    accuracies = {seed: four_bit_accuracy(seed) for seed in (0, 1, 2)}
    assert sum(accuracy == 1.0 for accuracy in accuracies.values()) >= 2, accuracies


def bars(count, seed):
    """(count, 1, 8, 8) images of one bright bar on faint noise; label 1 = horizontal, 0 = vertical."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 0.2, size=(count, 1, 8, 8))
    labels = np.arange(count) % 2
    for image, label, position in zip(images, labels, rng.integers(0, 8, size=count)):
        if label:
            image[0, position, :] += 0.8
        else:
            image[0, :, position] += 0.8
    return images.astype(np.float32), labels


def test_small_cnn_learns_horizontal_versus_vertical_bars():
    X, labels = bars(40, seed=0)
    network = Network([ConvLayer(3, 1, 4), PoolingLayer(), Flatten(), MultiClassDense(36, 2)])
    history = network.train(X, labels, 30, 0.05, categorical_crossentropy, categorical_crossentropy_derivative,
                            log_file=None, seed=0, verbose=0)
    assert history.history["accuracy"][0] < 0.9  # it had something to learn
    assert history.history["loss"][-1] < history.history["loss"][0] / 10
    assert network.evaluate(X, labels, categorical_crossentropy)[2] == 1.0
    new_X, new_labels = bars(40, seed=1)
    assert network.evaluate(new_X, new_labels, categorical_crossentropy)[2] >= 0.9  # bars, not the noise
