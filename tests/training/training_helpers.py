"""Tiny real problems shared by the training tests."""
import numpy as np

from scratchcnn import Dense, MultiClassDense, Network


def classifier():
    """(N, 4) -> (N, 3) class probabilities."""
    return Network([Dense(4, 6, activation="tanh"), MultiClassDense(6, 3)])


def blobs(count=12, seed=0):
    """(count, 4) float32 points and integer labels 0..2."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=count)
    return (rng.normal(size=(count, 4)) + labels[:, None]).astype(np.float32), labels


def same_weights(first, second):
    return len(first) == len(second) and all(np.array_equal(a, b) for a, b in zip(first, second))
