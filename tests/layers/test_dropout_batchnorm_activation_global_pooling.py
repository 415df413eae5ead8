"""Dropout, BatchNorm, Activation and GlobalAveragePooling.

Finite-difference gradients in float64, PyTorch as the oracle (BatchNorm's running
statistics included), shapes and parameter counts, dropout's randomness and its
off-switch at inference, configs, saving and reproducible training.
"""
import json

import numpy as np
from gradient_helpers import assert_gradient_close, leaf, make_close_checker, numerical_gradient
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchcnn
from scratchcnn import (Activation, BatchNorm, ConvLayer, Dense, Dropout, Flatten, GlobalAveragePooling,
                        MultiClassDense, Network, PoolingLayer, losses)
from scratchcnn.functional.batchnorm import batch_moments, batchnorm_backward, batchnorm_forward
from scratchcnn.functional.dropout import dropout_backward, dropout_forward
from scratchcnn.layers import LAYER_CLASSES

ACTIVATION_NAMES = ["linear", "relu", "leakyrelu", "sigmoid", "tanh", "softmax"]


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

def channels_last_view(x):
    """The same values as x (N, C, H, W), as a transposed view of (N, H, W, C) memory, as our conv layers emit."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


@pytest.fixture(scope="module")
def close(relative_errors):
    return make_close_checker(relative_errors)


def batchnorm64(num_features, rng, **kwargs):
    """A float64 BatchNorm with random (not 1 and 0) weight and bias, so their gradients are exercised."""
    layer = BatchNorm(num_features, **kwargs).astype(np.float64)
    layer.weight.value = rng.normal(size=num_features)
    layer.bias.value = rng.normal(size=num_features)
    return layer


# ---------------------------------------------------------------------------------------------
# shapes, parameter counts, validation
# ---------------------------------------------------------------------------------------------

# (layer factory, per-sample input shape, per-sample output shape, {parameter name: shape}, buffer count)
SHAPE_TABLE = [
    (lambda: BatchNorm(3), (3, 5, 4), (3, 5, 4), {"weight": (3,), "bias": (3,)}, 6),
    (lambda: BatchNorm(7), (7,), (7,), {"weight": (7,), "bias": (7,)}, 14),
    (lambda: Dropout(0.5), (3, 4, 4), (3, 4, 4), {}, 0),
    (lambda: Dropout(0.2), (6,), (6,), {}, 0),
    (lambda: Activation("relu"), (2, 3, 4), (2, 3, 4), {}, 0),
    (lambda: Activation("tanh"), (9,), (9,), {}, 0),
    (lambda: Activation("softmax"), (5,), (5,), {}, 0),
    (lambda: GlobalAveragePooling(), (3, 5, 4), (3,), {}, 0),
    (lambda: GlobalAveragePooling(), (1, 1, 1), (1,), {}, 0),
]


@pytest.mark.parametrize("make_layer, input_shape, output_shape, parameter_shapes, buffer_count", SHAPE_TABLE,
                         ids=[f"{row[0]()!r}-on-{'x'.join(map(str, row[1]))}" for row in SHAPE_TABLE])
@pytest.mark.parametrize("training", [False, True])
def test_shapes_and_parameter_counts(make_layer, input_shape, output_shape, parameter_shapes, buffer_count,
                                     training):
    layer = make_layer()
    assert layer.output_shape(input_shape) == output_shape
    out = layer.forward(np.random.default_rng(0).normal(size=(4, *input_shape)).astype(np.float32), training)
    assert out.shape == (4, *output_shape) and out.dtype == np.float32
    assert [(p.name, p.shape) for p in layer.parameters()] == list(parameter_shapes.items())  # weight first
    assert sum(int(b.size) for b in layer.buffers().values()) == buffer_count
    assert layer.backward(np.ones_like(out)).shape == (4, *input_shape)


def test_network_counts_batchnorm_buffers_as_non_trainable():
    network = Network([ConvLayer(3, 1, 4), BatchNorm(4), GlobalAveragePooling(), Dense(4, 2)])
    assert network.count_params() == 40 + 8 + 10 and network.count_buffers() == 8
    assert "Non-trainable params: 8" in network.summary(input_shape=(1, 6, 6), print_fn=None)


@pytest.mark.parametrize("make_layer, expected_in_message", [
    (lambda: Dropout(1.0), "rate=1.0"),
    (lambda: Dropout(-0.1), "rate=-0.1"),
    (lambda: Dropout("0.5"), "rate='0.5'"),
    (lambda: Dropout(True), "rate=True"),
    (lambda: Dropout(0.5, seed=-1), "seed=-1"),
    (lambda: Dropout(0.5, seed=1.5), "seed=1.5"),
    (lambda: BatchNorm(0), "num_features=0"),
    (lambda: BatchNorm(3.0), "num_features=3.0"),
    (lambda: BatchNorm(3, momentum=1.5), "momentum=1.5"),
    (lambda: BatchNorm(3, eps=0), "eps=0"),
    (lambda: Activation("swish"), "activation='swish'"),
])
def test_invalid_constructor_arguments_raise_value_error(make_layer, expected_in_message):
    with pytest.raises(ValueError, match="Received") as error:
        make_layer()
    assert expected_in_message in str(error.value)


@pytest.mark.parametrize("layer, batch_shape", [
    (BatchNorm(3), (2, 4, 5, 5)),      # wrong channel count
    (BatchNorm(3), (2, 3, 5)),         # (N, C, L) is neither (N, F) nor (N, C, H, W)
    (BatchNorm(3), (3,)),              # inputs are always batched
    (Activation("softmax"), (2, 3, 4, 4)),
    (GlobalAveragePooling(), (2, 3)),
])
def test_input_that_does_not_fit_raises_value_error(layer, batch_shape):
    with pytest.raises(ValueError, match="received an input of per-sample shape"):
        layer.forward(np.zeros(batch_shape, dtype=np.float32))


def test_batchnorm_refuses_one_value_per_channel_in_training():
    """As PyTorch: the unbiased variance of one value is undefined; inference with one sample is fine."""
    layer = BatchNorm(4)
    with pytest.raises(ValueError, match="more than 1"):
        layer.forward(np.ones((1, 4), dtype=np.float32), training=True)
    assert layer.forward(np.ones((1, 4), dtype=np.float32)).shape == (1, 4)
    assert layer.forward(np.ones((1, 4, 1, 2), dtype=np.float32), training=True).shape == (1, 4, 1, 2)


def test_batchnorm_astype_casts_buffers_and_keeps_them_through_training():
    layer = BatchNorm(2)
    assert all(b.dtype == np.float32 for b in layer.buffers().values())
    layer.forward(np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32), training=True)
    assert all(b.dtype == np.float32 for b in layer.buffers().values())
    layer.astype(np.float64)
    assert all(b.dtype == np.float64 for b in layer.buffers().values())
    assert Network([Dense(3, 2), BatchNorm(2)], dtype="float64").layers[1].running_var.dtype == np.float64


def test_batchnorm_set_buffer_checks_name_and_shape():
    layer = BatchNorm(3)
    layer.set_buffer("running_mean", np.arange(3.0))
    np.testing.assert_array_equal(layer.running_mean, [0, 1, 2])
    with pytest.raises(KeyError):
        layer.set_buffer("running_std", np.zeros(3))
    with pytest.raises(ValueError, match=r"expected \(3,\)"):
        layer.set_buffer("running_var", np.zeros(4))


def test_batchnorm_reset_parameters_restores_the_initial_state():
    layer = BatchNorm(3)
    layer.forward(np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32), training=True)
    layer.weight.value = layer.weight.value * 2
    layer.reset_parameters(np.random.default_rng(1))
    np.testing.assert_array_equal(layer.weight.value, np.ones(3))
    np.testing.assert_array_equal(layer.running_mean, np.zeros(3))
    np.testing.assert_array_equal(layer.running_var, np.ones(3))


@pytest.mark.parametrize("layer", [Dropout(0.25, seed=7), Dropout(0.0), BatchNorm(5, momentum=0.3, eps=1e-3),
                                   Activation("leakyrelu"), Activation(None), GlobalAveragePooling()], ids=repr)
def test_get_config_round_trips_through_json(layer):
    config = json.loads(json.dumps(layer.get_config()))
    rebuilt = LAYER_CLASSES[layer.name].from_config(config)
    assert type(rebuilt) is type(layer) and rebuilt.get_config() == layer.get_config()
    assert getattr(scratchcnn, layer.name) is type(layer)


# ---------------------------------------------------------------------------------------------
# finite-difference gradients (float64)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("batch_shape", [(5, 3), (3, 2, 4, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradients_match_finite_differences(batch_shape, training):
    rng = np.random.default_rng(4)
    channels = batch_shape[1]
    layer = batchnorm64(channels, rng)
    layer.set_buffer("running_mean", rng.normal(size=channels))
    layer.set_buffer("running_var", rng.uniform(0.5, 2.0, size=channels))
    x = rng.normal(1.0, 2.0, size=batch_shape)
    upstream = rng.normal(size=batch_shape)

    def loss(x_value=x, weight=None, bias=None):
        saved = layer.weight.value, layer.bias.value, layer.running_mean, layer.running_var
        layer.weight.value = saved[0] if weight is None else weight
        layer.bias.value = saved[1] if bias is None else bias
        value = float(np.sum(layer.forward(x_value, training) * upstream))
        layer.weight.value, layer.bias.value, layer.running_mean, layer.running_var = saved
        return value

    numeric = [numerical_gradient(loss, x), numerical_gradient(lambda w: loss(weight=w), layer.weight.value),
               numerical_gradient(lambda b: loss(bias=b), layer.bias.value)]
    layer.forward(x, training)
    dx = layer.backward(upstream)
    for analytic, expected in zip([dx, layer.weight.grad, layer.bias.grad], numeric):
        assert_gradient_close(analytic, expected)


@pytest.mark.parametrize("batch_shape", [(4, 6), (2, 3, 4, 4)])
def test_dropout_gradient_with_a_fixed_mask_matches_finite_differences(batch_shape):
    rng = np.random.default_rng(5)
    x, upstream = rng.normal(size=batch_shape), rng.normal(size=batch_shape)
    f = lambda value: float(np.sum(dropout_forward(value, 0.4, np.random.default_rng(9))[0] * upstream))  # noqa: E731
    out, mask = dropout_forward(x, 0.4, np.random.default_rng(9))
    assert_gradient_close(dropout_backward(upstream, mask), numerical_gradient(f, x))
    layer = Dropout(0.4)
    layer.rng = np.random.default_rng(9)
    layer.forward(x, training=True)
    np.testing.assert_array_equal(layer.backward(upstream), dropout_backward(upstream, mask))


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_gradient_matches_finite_differences(name):
    rng = np.random.default_rng(6)
    shape = (3, 5) if name == "softmax" else (2, 3, 2, 2)
    x = rng.normal(size=shape)
    x += np.sign(x) * 0.01  # clear of the ReLU kinks
    upstream = rng.normal(size=shape)
    layer = Activation(name)
    numeric = numerical_gradient(lambda value: float(np.sum(layer.forward(value, True) * upstream)), x)
    layer.forward(x, training=True)
    assert_gradient_close(layer.backward(upstream), numeric)


def test_global_average_pooling_gradient_matches_finite_differences():
    rng = np.random.default_rng(7)
    x, upstream = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3))
    layer = GlobalAveragePooling()
    numeric = numerical_gradient(lambda value: float(np.sum(layer.forward(value) * upstream)), x)
    layer.forward(x)
    assert_gradient_close(layer.backward(upstream), numeric)


# ---------------------------------------------------------------------------------------------
# PyTorch as the oracle (float64)
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 4), c=st.integers(1, 4), hw=st.sampled_from([None, (1, 1), (3, 2), (5, 5)]),
       seed=st.integers(0, 2**32 - 1))
def test_batchnorm_functional_matches_torch(torch, close, n, c, hw, seed):
    rng = np.random.default_rng(seed)
    shape = (n, c) if hw is None else (n, c, *hw)
    x, weight, bias = rng.normal(0.5, 3.0, size=shape), rng.normal(size=c), rng.normal(size=c)
    if hw is not None:
        x = channels_last_view(x)
    mean, var, _ = batch_moments(x)
    out, cache = batchnorm_forward(x, mean, var, weight, bias, 1e-5, from_batch=True)
    upstream = rng.normal(size=shape)
    dx, dweight, dbias = batchnorm_backward(upstream, cache)
    xt, wt, bt = leaf(torch, x), leaf(torch, weight), leaf(torch, bias)
    expected = torch.nn.functional.batch_norm(xt, None, None, wt, bt, training=True, eps=1e-5)
    expected.backward(torch.tensor(upstream))
    close("batchnorm_forward", out, expected)
    close("batchnorm_backward.dx", dx, xt.grad)
    close("batchnorm_backward.dweight", dweight, wt.grad)
    close("batchnorm_backward.dbias", dbias, bt.grad)


@pytest.mark.parametrize("batch_shape, momentum, eps", [((6, 5), 0.1, 1e-5), ((3, 4, 5, 6), 0.1, 1e-5),
                                                        ((4, 3, 2, 3), 0.3, 1e-3), ((2, 3), 1.0, 1e-5)])
def test_batchnorm_layer_matches_torch_over_several_training_steps(torch, close, batch_shape, momentum, eps):
    rng = np.random.default_rng(8)
    channels = batch_shape[1]
    layer = batchnorm64(channels, rng, momentum=momentum, eps=eps)
    module_class = torch.nn.BatchNorm1d if len(batch_shape) == 2 else torch.nn.BatchNorm2d
    module = module_class(channels, momentum=momentum, eps=eps).double()
    with torch.no_grad():
        module.weight.copy_(torch.tensor(layer.weight.value))
        module.bias.copy_(torch.tensor(layer.bias.value))
    tag = f"BatchNorm{len(batch_shape) - 2 or 1}d"
    for step in range(4):
        x = rng.normal(step, 1.0 + step, size=batch_shape)
        x = channels_last_view(x) if x.ndim == 4 else x
        upstream = rng.normal(size=batch_shape)
        out = layer.forward(x, training=True)
        dx = layer.backward(upstream)
        xt = leaf(torch, x)
        module.zero_grad()
        expected = module(xt)
        expected.backward(torch.tensor(upstream))
        close(f"{tag}.forward", out, expected)
        close(f"{tag}.dx", dx, xt.grad)
        close(f"{tag}.dweight", layer.weight.grad, module.weight.grad)
        close(f"{tag}.dbias", layer.bias.grad, module.bias.grad)
        close(f"{tag}.running_mean", layer.running_mean, module.running_mean)
        close(f"{tag}.running_var", layer.running_var, module.running_var)
    module.eval()
    x, upstream = rng.normal(size=batch_shape), rng.normal(size=batch_shape)
    xt = leaf(torch, x)
    module.zero_grad()
    expected = module(xt)
    expected.backward(torch.tensor(upstream))
    close(f"{tag}.eval_forward", layer.forward(x, training=False), expected)
    close(f"{tag}.eval_dx", layer.backward(upstream), xt.grad)


def test_dropout_scales_survivors_exactly_as_torch(torch):
    """Kept elements are x * (1 / (1 - rate)) bit for bit, as in torch; dropped ones are exactly 0."""
    rng = np.random.default_rng(10)
    x = rng.normal(size=(64, 32))
    for rate in (0.1, 0.3, 0.5, 0.9):
        out = Dropout(rate, seed=1).forward(x, training=True)
        theirs = torch.nn.functional.dropout(torch.tensor(x), rate, training=True).numpy()
        ours_kept, theirs_kept = out != 0, theirs != 0
        np.testing.assert_array_equal(out[ours_kept], x[ours_kept] * (1.0 / (1.0 - rate)))
        both = ours_kept & theirs_kept
        assert both.any()
        np.testing.assert_array_equal(out[both], theirs[both])


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8])
def test_dropout_statistics(torch, rate):
    """The dropped fraction is rate, and the mean is kept, within 5 standard errors (as torch's is)."""
    x = np.ones((200, 500))
    out = Dropout(rate, seed=3).forward(x, training=True)
    theirs = torch.nn.functional.dropout(torch.tensor(x), rate, training=True).numpy()
    n = x.size
    for result in (out, theirs):
        assert abs(np.mean(result == 0) - rate) < 5 * np.sqrt(rate * (1 - rate) / n)
        assert abs(result.mean() - 1.0) < 5 * np.sqrt(rate / (1 - rate) / n)


def test_global_average_pooling_matches_torch(torch, close):
    rng = np.random.default_rng(11)
    x = channels_last_view(rng.normal(size=(3, 4, 5, 7)))
    upstream = rng.normal(size=(3, 4))
    layer = GlobalAveragePooling()
    out = layer.forward(x)
    xt = leaf(torch, x)
    expected = torch.nn.functional.adaptive_avg_pool2d(xt, 1)
    expected.backward(torch.tensor(upstream)[:, :, None, None])
    close("GlobalAveragePooling.forward", out, expected[:, :, 0, 0])
    close("GlobalAveragePooling.dx", layer.backward(upstream), xt.grad)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_layer_matches_torch(torch, close, name):
    rng = np.random.default_rng(12)
    shape = (4, 6) if name == "softmax" else (2, 3, 4, 5)
    x, upstream = rng.normal(size=shape), rng.normal(size=shape)
    module = {"linear": torch.nn.Identity(), "relu": torch.nn.ReLU(), "leakyrelu": torch.nn.LeakyReLU(0.01),
              "sigmoid": torch.nn.Sigmoid(), "tanh": torch.nn.Tanh(), "softmax": torch.nn.Softmax(dim=-1)}[name]
    layer = Activation(name)
    out = layer.forward(x, training=True)
    xt = leaf(torch, x)
    expected = module(xt)
    expected.backward(torch.tensor(upstream))
    close(f"Activation({name}).forward", out, expected)
    close(f"Activation({name}).dx", layer.backward(upstream), xt.grad)


# ---------------------------------------------------------------------------------------------
# dropout's randomness
# ---------------------------------------------------------------------------------------------

def test_dropout_is_the_identity_at_inference():
    x = np.random.default_rng(13).normal(size=(4, 3, 5, 5)).astype(np.float32)
    layer = Dropout(0.5, seed=0)
    first, second = layer.forward(x), layer.forward(x, training=False)
    np.testing.assert_array_equal(first, x)
    np.testing.assert_array_equal(second, first)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))


def test_dropout_rate_zero_keeps_everything_in_training():
    x = np.random.default_rng(14).normal(size=(5, 7))
    np.testing.assert_array_equal(Dropout(0.0).forward(x, training=True), x)


def test_dropout_masks_follow_the_seed_and_the_generator():
    x = np.ones((8, 50), dtype=np.float32)
    same = [Dropout(0.5, seed=42).forward(x, training=True) for _ in range(2)]
    np.testing.assert_array_equal(same[0], same[1])
    assert not np.array_equal(same[0], Dropout(0.5, seed=43).forward(x, training=True))
    layer = Dropout(0.5, seed=42)
    assert not np.array_equal(layer.forward(x, training=True), layer.forward(x, training=True))  # fresh draws
    from_generator = []
    for _ in range(2):
        layer.rng = np.random.default_rng([0, 1, 2])
        from_generator.append(layer.forward(x, training=True))
    np.testing.assert_array_equal(from_generator[0], from_generator[1])
    assert not np.array_equal(from_generator[0], same[0])


def test_dropout_keeps_the_dtype():
    for dtype in (np.float32, np.float64):
        assert Dropout(0.3).forward(np.ones((3, 4), dtype=dtype), training=True).dtype == dtype


# ---------------------------------------------------------------------------------------------
# inside a Network: saving, reproducible training, the fused softmax gradient
# ---------------------------------------------------------------------------------------------

def small_network():
    return Network([ConvLayer(3, 1, 4, padding=1), BatchNorm(4), PoolingLayer(), Flatten(), Dense(64, 8),
                    BatchNorm(8), Dropout(0.3), MultiClassDense(8, 3)])


def small_data(n=24):
    rng = np.random.default_rng(15)
    return rng.normal(size=(n, 1, 8, 8)).astype(np.float32), rng.integers(0, 3, size=n)


def train(network, X, y, epochs=3):
    loss, derivative = losses.get("categorical_crossentropy")
    return network.train(X, y, epochs, 0.05, loss, derivative, log_file=None, batch_size=8, seed=0, verbose=0)


def test_save_and_load_restore_buffers_and_predictions(tmp_path):
    X, y = small_data()
    network = small_network()
    train(network, X, y, epochs=2)
    assert not np.array_equal(network.layers[1].running_mean, np.zeros(4))
    path = tmp_path / "model.zip"
    network.save_model(str(path))
    loaded = scratchcnn.load_model(str(path))
    for ours, theirs in zip(network.layers, loaded.layers):
        assert type(theirs) is type(ours) and theirs.get_config() == ours.get_config()
        for name, value in ours.buffers().items():
            np.testing.assert_array_equal(theirs.buffers()[name], value)
            assert theirs.buffers()[name].dtype == value.dtype
    np.testing.assert_array_equal(loaded.predict(X), network.predict(X))


def test_training_with_batchnorm_and_dropout_is_reproducible():
    X, y = small_data()
    runs = []
    for _ in range(2):
        network = small_network()
        train(network, X, y)
        runs.append(network)
    for first, second in zip(*(run.layers for run in runs)):
        for p, q in zip(first.parameters(), second.parameters()):
            np.testing.assert_array_equal(p.value, q.value)
        for name, value in first.buffers().items():
            np.testing.assert_array_equal(second.buffers()[name], value)
    assert np.all(np.isfinite(runs[0].predict(X)))


def test_final_activation_softmax_trains_like_a_softmax_dense():
    """Dense(linear) + Activation('softmax') takes the fused gradient, so it trains exactly as Dense(softmax)."""
    rng = np.random.default_rng(16)
    X, y = rng.normal(size=(16, 5)).astype(np.float32), rng.integers(0, 3, size=16)
    split = Network([Dense(5, 3, activation=None), Activation("softmax")])
    fused = Network([Dense(5, 3, activation="softmax")])
    for network in (split, fused):
        loss, derivative = losses.get("categorical_crossentropy")
        network.train(X, y, 2, 0.1, loss, derivative, log_file=None, batch_size=4, seed=0, verbose=0)
    np.testing.assert_array_equal(split.layers[0].weight.value, fused.layers[0].weight.value)
    np.testing.assert_array_equal(split.predict(X), fused.predict(X))
