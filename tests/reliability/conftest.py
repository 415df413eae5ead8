"""Reliability tests: a small trained model file, shared by the hostile-file and fuzz tests."""
import numpy as np
import pytest

from scratchcnn import BatchNorm, ConvLayer, Flatten, MultiClassDense, Network, PoolingLayer
from scratchcnn.losses import categorical_crossentropy, categorical_crossentropy_derivative

INPUT_SHAPE = (1, 8, 8)
NUM_CLASSES = 3


def _trained_network():
    """(N, 1, 8, 8) -> (N, 3): conv, batch norm (buffers), pooling, dense; trained two epochs with Adam."""
    network = Network([ConvLayer(3, 1, 2), BatchNorm(2), PoolingLayer(2), Flatten(), MultiClassDense(18, NUM_CLASSES)])
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, *INPUT_SHAPE)).astype(np.float32)
    y = np.arange(12) % NUM_CLASSES
    network.train(X, y, 2, 0.01, categorical_crossentropy, categorical_crossentropy_derivative, log_file=None,
                  batch_size=4, optimizer="adam", seed=0, verbose=0)
    network.metadata["input_shape"] = list(INPUT_SHAPE)
    return network


@pytest.fixture(scope="session")
def model_bytes(tmp_path_factory):
    """The bytes of a valid model file (config.json, weights.npz with buffers, optimizer.npz with Adam state)."""
    path = tmp_path_factory.mktemp("model") / "valid.model"
    _trained_network().save_model(str(path))
    return path.read_bytes()
