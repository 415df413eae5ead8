"""check_gradients: small errors for correct networks, a large one at a deliberately broken layer, no trace left."""
import numpy as np
import pytest

from scratchcnn import (BatchNorm, ConvLayer, Dense, Dropout, Flatten, MultiClassDense, Network, PoolingLayer,
                        check_gradients)
from scratchcnn.losses import categorical_crossentropy, categorical_crossentropy_derivative


class DoubledGradientDense(Dense):
    """A Dense layer with a bug: its backward pass returns (and sets) twice the true gradients."""

    def _linear_backward(self, grad_z, plan):
        return super()._linear_backward(2 * grad_z, plan)


def conv_net():
    """(N, 2, 6, 6) -> (N, 3): conv, pool, dense, softmax; smooth activations, so no kinks."""
    return Network([ConvLayer(3, 2, 3, activation="tanh"), PoolingLayer(2, mode="avg"), Flatten(),
                    Dense(3 * 2 * 2, 5, activation="tanh"), MultiClassDense(5, 3)])


def data(shape=(4, 2, 6, 6), classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape).astype(np.float32), rng.integers(0, classes, size=shape[0])


def errors(rows):
    return {(row["layer"], row["parameter"]): row["max_relative_error"] for row in rows}


def test_a_correct_conv_net_has_small_errors():
    network = conv_net().initialize(0)
    rows = check_gradients(network, *data(), categorical_crossentropy, print_fn=None)
    assert {(row["layer"], row["parameter"]) for row in rows} == {
        (0, "weight"), (0, "bias"), (3, "weight"), (3, "bias"), (4, "weight"), (4, "bias")}
    assert all(row["checked"] == min(20, int(np.prod(row["shape"]))) for row in rows)
    assert max(errors(rows).values()) < 1e-6, errors(rows)


def test_dropout_and_batchnorm_have_small_errors():
    network = Network([Dense(6, 8, activation="tanh"), BatchNorm(8), Dropout(0.3), MultiClassDense(8, 3)]).initialize(1)
    rows = check_gradients(network, *data((5, 6)), "categorical_crossentropy", print_fn=None)
    assert max(errors(rows).values()) < 1e-6, errors(rows)


def test_a_broken_layer_shows_a_large_error_there_and_not_above_it():
    network = Network([Dense(6, 5, activation="tanh"), DoubledGradientDense(5, 4, activation="tanh"),
                       MultiClassDense(4, 3)]).initialize(2)
    found = errors(check_gradients(network, *data((5, 6)), categorical_crossentropy,
                                   categorical_crossentropy_derivative, print_fn=None))
    assert found[(1, "weight")] > 0.1 and found[(1, "bias")] > 0.1  # |2g - g| / (|2g| + |g|) = 1/3
    assert found[(0, "weight")] > 0.1  # the doubled gradient flows on to the layers below
    assert found[(2, "weight")] < 1e-6 and found[(2, "bias")] < 1e-6


def test_check_gradients_restores_weights_dtype_and_generators():
    network = Network([Dense(6, 8, activation="tanh"), BatchNorm(8), Dropout(0.3), MultiClassDense(8, 3)]).initialize(3)
    before = network.get_weights()
    dropout_rng = network.layers[2].rng
    check_gradients(network, *data((5, 6)), categorical_crossentropy, print_fn=None)
    assert network.dtype == np.float32
    after = network.get_weights()
    assert all(a.dtype == np.float32 and np.array_equal(a, b) for a, b in zip(after, before))
    assert all(param.grad.dtype == np.float32 for param in network.parameters())
    assert network.layers[2].rng is dropout_rng


def test_check_gradients_restores_the_network_after_an_error():
    network = conv_net().initialize(0)
    before = network.get_weights()

    def broken_derivative(y_true, y_pred):
        raise RuntimeError("broken derivative")

    with pytest.raises(RuntimeError, match="broken derivative"):
        check_gradients(network, *data(), categorical_crossentropy, broken_derivative, print_fn=None)
    assert network.dtype == np.float32
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(network.get_weights(), before))


def test_check_gradients_prints_a_table_per_parameter():
    lines = []
    network = Network([Dense(6, 4, activation="tanh"), MultiClassDense(4, 3)]).initialize(0)
    check_gradients(network, *data((3, 6)), categorical_crossentropy, print_fn=lines.append)
    table = lines[0].splitlines()
    assert "max rel. error" in table[0] and len(table) == 2 + 4
    assert table[2].startswith("0: Dense") and "weight" in table[2]


def test_check_gradients_refuses_an_unknown_loss_without_derivative():
    with pytest.raises(ValueError, match="unknown loss"):
        check_gradients(conv_net(), *data(), lambda y, p: 0.0, print_fn=None)
