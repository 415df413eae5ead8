"""A layer of the user's own: the public contract (forward, backward, output_shape, get_config on batches) is all
it takes to train inside a Network on either engine, appear in summary(), save and load."""
import numpy as np
import pytest

from scratchcnn import ConvLayer, Flatten, ModelFileError, MultiClassDense, Network, PoolingLayer, load_model, losses
from scratchcnn import check_gradients, parallel
from scratchcnn.layers import Layer, Parameter


class Scale(Layer):
    """(N, C, H, W) -> (N, C, H, W): each channel multiplied by a learned factor."""

    def __init__(self, channels):
        self.channels = channels
        self.gamma = Parameter(np.ones(channels, dtype=np.float32), "gamma")

    def forward(self, x, training=False):
        self.x = x                                              # kept for backward
        return x * self.gamma.value[:, None, None]

    def backward(self, grad_output):
        self.gamma.grad = (grad_output * self.x).sum(axis=(0, 2, 3))
        return grad_output * self.gamma.value[:, None, None]

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {"channels": self.channels}


CCE = (losses.categorical_crossentropy, losses.categorical_crossentropy_derivative)


def net(engine="fast", dtype="float32"):
    return Network([ConvLayer(3, 1, 4, padding=1), Scale(4), PoolingLayer(), Flatten(), MultiClassDense(4 * 4 * 4, 3)],
                   dtype=dtype, engine=engine)


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 8, 8), dtype=np.float32), rng.integers(0, 3, n)


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_user_layer_trains_inside_a_network(engine):
    network = net(engine)
    X, y = data()
    history = network.train(X, y, 3, 0.1, *CCE, log_file=None, batch_size=16, seed=0, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert not np.allclose(network.layers[1].gamma.value, 1)  # its parameter was trained
    assert network.layers[1].gamma.value.dtype == np.float32


def test_both_engines_train_a_user_layer_alike_also_when_asked_for_threads():
    X, y = data()
    weights = []
    for engine in ("fast", "reference"):
        parallel.set_num_threads(2)
        try:
            network = net(engine)
            network.train(X, y, 2, 0.1, *CCE, log_file=None, batch_size=32, seed=0, verbose=0)
        finally:
            parallel.set_num_threads(None)
        weights.append(network.get_weights())
    for ours, theirs in zip(*weights):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_a_user_layer_passes_the_gradient_check():
    X, y = data(4)
    rows = check_gradients(net(dtype="float64").initialize(0), X, y, losses.categorical_crossentropy, print_fn=None)
    assert max(row["max_relative_error"] for row in rows) < 1e-5
    assert any(row["name"] == "Scale" and row["parameter"] == "gamma" for row in rows)


def test_a_user_layer_appears_in_the_summary():
    table = net().summary(input_shape=(1, 8, 8), print_fn=None)
    assert any(line.startswith("Scale") and "(4, 8, 8)" in line and line.rstrip().endswith("4")
               for line in table.splitlines())


def test_a_user_layer_saves_and_loads_with_custom_layers(tmp_path):
    network = net()
    X, y = data()
    network.train(X, y, 1, 0.1, *CCE, log_file=None, batch_size=16, seed=0, verbose=0)
    network.save_model(tmp_path / "scaled.model")
    loaded = load_model(tmp_path / "scaled.model", custom_layers={"Scale": Scale})
    assert isinstance(loaded.layers[1], Scale)
    np.testing.assert_array_equal(loaded.predict(X), network.predict(X))


def test_loading_a_user_layer_without_its_class_names_the_layer_and_custom_layers(tmp_path):
    net().save_model(tmp_path / "scaled.model")
    with pytest.raises(ModelFileError, match=r"unknown class 'Scale'.*custom_layers=\{'Scale'"):
        load_model(tmp_path / "scaled.model")
    with pytest.raises(ValueError, match="Received an invalid value for custom_layers"):
        load_model(tmp_path / "scaled.model", custom_layers={"Scale": object})


def test_the_contract_methods_say_what_is_missing():
    class Half(Layer):
        pass

    with pytest.raises(NotImplementedError, match="Half must implement forward"):
        Half().forward(np.zeros((1, 2)))
    with pytest.raises(NotImplementedError, match="Half must implement output_shape"):
        Network([Half()]).summary(input_shape=(2,), print_fn=None)
