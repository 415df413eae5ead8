"""The per-layer profiler: one row per layer, shares summing to 100 %, a printed table, no trace left on the network.

No timing assertions: the machine running the tests may be slow or busy.
"""
import numpy as np
import pytest

from scratchcnn import losses, zoo
from scratchcnn.profiler import profile

# (network factory, per-sample input shape, loss or None for a random top gradient)
NETWORKS = [
    (zoo.report_mnist_net, (1, 28, 28), losses.categorical_crossentropy),
    (zoo.mnist_convnet, (1, 28, 28), None),
    (zoo.report_catsdogs_net, (3, 50, 50), losses.bce_loss),
    (zoo.xor_net, (3,), losses.mse_loss),
]


def _batch(input_shape, outputs, batch=4):
    rng = np.random.default_rng(0)
    X = rng.random((batch, *input_shape), dtype=np.float32)
    y = rng.integers(0, outputs, batch) if outputs > 1 else rng.integers(0, 2, batch).astype(np.float32)
    return X, y


@pytest.mark.parametrize("make_network, input_shape, loss_fn", NETWORKS,
                         ids=[make.__name__ for make, _, _ in NETWORKS])
def test_one_row_per_layer_with_shares_summing_to_100(make_network, input_shape, loss_fn):
    network = make_network()
    outputs = network.output_shapes(input_shape)[-1][1][0]
    X, y = _batch(input_shape, outputs)
    rows = profile(network, X, y if loss_fn else None, loss_fn, repeats=2, print_fn=None)
    assert [row["layer"] for row in rows] == [layer.name for layer in network.layers]
    assert [row["index"] for row in rows] == list(range(len(network.layers)))
    for row, (_, output_shape) in zip(rows, network.output_shapes(input_shape)):
        assert row["output_shape"] == (len(X), *output_shape)
        assert row["forward_ms"] >= 0 and row["backward_ms"] >= 0 and row["share"] >= 0
        assert row["total_ms"] == pytest.approx(row["forward_ms"] + row["backward_ms"])
    assert sum(row["share"] for row in rows) == pytest.approx(100.0, abs=1e-6)


def test_prints_a_table_naming_every_layer():
    network = zoo.report_complex_net()
    X, y = _batch((1, 28, 28), 10)
    printed = []
    profile(network, X, y, losses.categorical_crossentropy, repeats=1, print_fn=printed.append)
    assert len(printed) == 1
    table = printed[0]
    for header in ("Layer", "Output shape", "Forward ms", "Backward ms", "Share of step %", "Total"):
        assert header in table
    for index, layer in enumerate(network.layers):
        assert f"{index} {layer.name}" in table


def test_leaves_weights_and_gradients_unchanged():
    network = zoo.mnist_convnet()
    X, y = _batch((1, 28, 28), 10)
    values = [param.value.copy() for param in network.parameters()]
    grads = [param.grad.copy() for param in network.parameters()]
    profile(network, X, y, losses.categorical_crossentropy, repeats=2, print_fn=None)
    for param, value, grad in zip(network.parameters(), values, grads):
        np.testing.assert_array_equal(param.value, value)
        np.testing.assert_array_equal(param.grad, grad)


def test_profiles_a_single_sample_batch():
    rows = profile(zoo.report_mnist_net(), np.zeros((1, 1, 28, 28), np.float32), repeats=1, print_fn=None)
    assert rows[0]["output_shape"] == (1, 16, 23, 23)


@pytest.mark.parametrize("kwargs, message", [
    ({"repeats": 0}, "repeats"),
    ({"y": np.zeros(4)}, "both y and loss_fn"),
    ({"loss_fn": losses.categorical_crossentropy}, "both y and loss_fn"),
])
def test_rejects_bad_arguments(kwargs, message):
    network = zoo.report_mnist_net()
    with pytest.raises(ValueError, match=message):
        profile(network, np.zeros((4, 1, 28, 28), np.float32), print_fn=None, **kwargs)


def test_rejects_input_that_does_not_fit_the_first_layer():
    with pytest.raises(ValueError, match="ConvLayer"):
        profile(zoo.report_mnist_net(), np.zeros((4, 3, 28, 28), np.float32), print_fn=None)
