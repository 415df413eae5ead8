"""The fast engine's plan: inside a network a convolution computes only the part of its output the pooling after it
reads, and a ReLU before max pooling is applied after it; the network's outputs and every gradient stay those of the
layers run whole, one after another."""
import numpy as np
import pytest

from scratchcnn import ConvLayer, Dense, Flatten, Network, PoolingLayer, losses, parallel
from scratchcnn.engine import plan as plan_module
from scratchcnn.engine.plan import Plan, crop, defers_relu


def odd_net():
    """(2, 19, 19) -> conv 3x3/2 (4, 9, 9): the pool reads 8 x 8, so the conv gets 17 x 17 of its input -> pool (4, 4, 4)
    -> conv 2x2 (3, 3, 3): the pool reads 2 x 2, so this conv gets 3 x 3 of the first pool's 4 x 4 -> pool (3, 1, 1)."""
    return Network([ConvLayer(3, 2, 4, stride=2), PoolingLayer(), ConvLayer(2, 4, 3), PoolingLayer(), Flatten(),
                    Dense(3, 2, activation="tanh")], dtype="float64").initialize(0)


def plan_of(network, sample_shape, training=False):
    return Plan(network.layers, [shape for shape, _ in network.output_shapes(sample_shape)], training=training)


def layer_by_layer(network, x, upstream):
    """The network's output, input gradient and parameter gradients from each layer's public forward and backward."""
    for layer in network.layers:
        x = layer.forward(x)
    grad = upstream
    for layer in reversed(network.layers):
        grad = layer.backward(grad)
    return x, grad, [param.grad.copy() for param in network.parameters()]


def test_cropped_network_equals_the_layers_run_whole():
    network = odd_net()
    rng = np.random.default_rng(0)
    x, upstream = rng.normal(size=(5, 2, 19, 19)), rng.normal(size=(5, 2))
    out = network.forward(x)
    grad = network.backward(upstream)
    params = [param.grad.copy() for param in network.parameters()]
    expected_out, expected_grad, expected_params = layer_by_layer(network, x, upstream)
    np.testing.assert_allclose(out, expected_out, rtol=1e-12, atol=1e-12)
    assert grad.shape == x.shape
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-12)
    assert not np.any(grad[:, :, 17:]) and not np.any(grad[:, :, :, 17:])  # pixels only the dropped outputs read
    for ours, theirs in zip(params, expected_params, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_each_convolution_gets_only_what_the_pooling_after_it_reads(monkeypatch):
    network = odd_net()
    assert plan_of(network, (2, 19, 19)).crops == [(17, 17), None, (3, 3), None, None, None]
    seen = {}
    for index in (0, 2):
        layer = network.layers[index]
        original = layer.forward
        monkeypatch.setattr(layer, "forward", lambda x, training, plan, index=index, original=original:
                            seen.setdefault(index, x.shape) and original(x, training, plan=plan))
    network.forward(np.zeros((3, 2, 19, 19)))
    assert seen == {0: (3, 2, 17, 17), 2: (3, 4, 3, 3)}


def test_the_reference_engine_crops_nothing_and_defers_nothing():
    network = odd_net()
    plan = Plan(network.layers, [shape for shape, _ in network.output_shapes((2, 19, 19))], engine="reference")
    assert plan.crops == [None] * 6
    assert all(p.reference and not p.defer_activation and not p.relu_after_max for p in plan.layers)


def test_training_and_prediction_match_layers_on_their_own(monkeypatch):
    """Two epochs on two threads (each shard with the plan), then predict: the same as with a plan that crops
    nothing and leaves every ReLU in its own layer."""
    monkeypatch.setattr(parallel, "_num_threads", 2)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(40, 2, 19, 19)), rng.integers(0, 2, size=(40, 2)).astype(float)
    results = []
    for planned in (True, False):
        if not planned:
            monkeypatch.setattr(plan_module, "crop", lambda layer, after, input_shape: None)
            monkeypatch.setattr(plan_module, "defers_relu", lambda layer, after: False)
        network = odd_net()
        assert (plan_of(network, (2, 19, 19)).crops[0] is not None) is planned
        network.train(x, y, epochs=2, learning_rate=0.1, loss_fn=losses.mse_loss,
                      loss_fn_derivative=losses.mse_loss_derivative, batch_size=32, seed=0, verbose=0, log_file=None)
        results.append([network.predict(x), *(param.value for param in network.parameters())])
    for ours, theirs in zip(*results, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_a_layer_called_alone_after_a_network_pass_does_all_its_work():
    network = odd_net()
    x = np.random.default_rng(2).normal(size=(2, 2, 19, 19))
    network.forward(x)
    network.backward(np.ones((2, 2)))
    conv, pool = network.layers[:2]
    out = conv.forward(x)
    assert out.shape == (2, 4, 9, 9)  # its whole input
    assert out.min() == 0  # its own ReLU
    assert conv.backward(np.ones_like(out)).shape == x.shape
    z = np.random.default_rng(3).normal(size=(2, 4, 8, 8))
    assert pool.forward(z).min() < 0  # no ReLU left to it


def test_the_relu_before_a_max_pooling_runs_after_it(monkeypatch):
    network = odd_net()
    conv_out = {}
    conv = network.layers[0]
    original = conv._linear_forward
    monkeypatch.setattr(conv, "_linear_forward", lambda x, training, plan:
                        conv_out.setdefault("z", original(x, training, plan)))
    x = np.random.default_rng(4).normal(size=(3, 2, 19, 19))
    out = network.forward(x)
    assert conv_out["z"].min() < 0  # the conv handed on its pre-activation
    plan = plan_of(network, (2, 19, 19))
    assert plan.layers[0].defer_activation and plan.layers[1].relu_after_max
    assert not plan.layers[2].defer_activation or plan.layers[3].relu_after_max
    pooled = network.layers[1]._cache[1]  # the maxima before the ReLU
    assert pooled.min() < 0
    assert out.shape == (3, 2)


@pytest.mark.parametrize("layers, deferred", [
    (lambda: [ConvLayer(3, 1, 2), PoolingLayer()], True),
    (lambda: [ConvLayer(3, 1, 2, activation="tanh"), PoolingLayer()], False),   # only a ReLU commutes this way
    (lambda: [ConvLayer(3, 1, 2), PoolingLayer(mode="avg")], False),          # ... and only with a maximum
    (lambda: [Dense(4, 4), Dense(4, 2)], False),
])
def test_which_pairs_defer(layers, deferred):
    assert defers_relu(*layers()) is deferred


@pytest.mark.parametrize("size, stride, height, width, reads", [
    (2, 2, 21, 22, (20, 22)),  # a last row that fills no window is not read
    (2, 2, 20, 21, (20, 20)),
    (3, 1, 7, 8, None),        # overlapping windows reach every pixel
    (3, 2, 8, 9, (7, 9)),
    (2, 3, 8, 9, (8, 8)),      # gaps between windows: still up to the last window's end
])
def test_a_pooling_reads_the_reach_of_its_windows(size, stride, height, width, reads):
    """A 1 x 1 convolution reads exactly the pixels the pooling after it reads."""
    assert crop(ConvLayer(1, 4, 4), PoolingLayer(size, stride), (4, height, width)) == reads


def test_a_convolution_reads_the_input_of_the_outputs_it_keeps():
    assert crop(ConvLayer(10, 3, 16, stride=2), PoolingLayer(), (3, 50, 50)) == (48, 48)
    assert crop(ConvLayer(3, 1, 2), PoolingLayer(), (1, 9, 10)) == (8, 10)
    assert crop(ConvLayer(3, 1, 2, padding=1), PoolingLayer(), (1, 9, 9)) is None  # padding: never cropped
    assert crop(Dense(4, 2), Dense(2, 2), (4,)) is None and crop(Flatten(), Dense(4, 2), (1, 2, 2)) is None
