"""Layer contract: shapes and parameter counts, batching, dtypes, validation, seeds, initialisers, config.

Also the losses' numerical edge cases (clipping, overflow) and derivative shapes.
"""
import json

import numpy as np

from scratchcnn.layers.base import LayerPlan
import pytest

from scratchcnn import ConvLayer, Dense, Flatten, MultiClassDense, PoolingLayer, losses
from scratchcnn.functional import ACTIVATIONS, sigmoid, softmax
from scratchcnn.layers import LAYER_CLASSES

# (layer factory, per-sample input shape, per-sample output shape, {parameter name: shape})
SHAPE_TABLE = [
    # The report's first network, on MNIST (1, 28, 28).
    (lambda: ConvLayer(6, 1, 16), (1, 28, 28), (16, 23, 23), {"weight": (16, 1, 6, 6), "bias": (16,)}),
    (lambda: PoolingLayer(), (16, 23, 23), (16, 11, 11), {}),
    (lambda: Flatten(), (16, 11, 11), (1936,), {}),
    (lambda: Dense(1936, 160), (1936,), (160,), {"weight": (1936, 160), "bias": (160,)}),
    (lambda: MultiClassDense(160, 10), (160,), (10,), {"weight": (160, 10), "bias": (10,)}),
    # The report's second network, on colour images (3, 50, 50).
    (lambda: ConvLayer(10, 3, 16, stride=2), (3, 50, 50), (16, 21, 21), {"weight": (16, 3, 10, 10), "bias": (16,)}),
    (lambda: PoolingLayer(), (16, 21, 21), (16, 10, 10), {}),
    (lambda: Flatten(), (16, 10, 10), (1600,), {}),
    (lambda: Dense(1600, 64), (1600,), (64,), {"weight": (1600, 64), "bias": (64,)}),
    (lambda: MultiClassDense(64, 2), (64,), (2,), {"weight": (64, 2), "bias": (2,)}),
    # Padding, strides that leave a remainder, non-square images, the smallest cases.
    (lambda: ConvLayer(3, 3, 8, padding=1), (3, 32, 32), (8, 32, 32), {"weight": (8, 3, 3, 3), "bias": (8,)}),
    (lambda: ConvLayer(5, 2, 4, stride=3, padding=2), (2, 17, 11), (4, 6, 4), {"weight": (4, 2, 5, 5), "bias": (4,)}),
    (lambda: ConvLayer(5, 1, 2, padding=1), (1, 3, 3), (2, 1, 1), {"weight": (2, 1, 5, 5), "bias": (2,)}),
    (lambda: ConvLayer(1, 1, 1), (1, 1, 1), (1, 1, 1), {"weight": (1, 1, 1, 1), "bias": (1,)}),
    (lambda: ConvLayer(3, 4, 2, stride=2, activation="tanh"), (4, 9, 6), (2, 4, 2),
     {"weight": (2, 4, 3, 3), "bias": (2,)}),
    (lambda: PoolingLayer(3, 2), (4, 9, 8), (4, 4, 3), {}),
    (lambda: PoolingLayer(2, 1, "avg"), (2, 5, 7), (2, 4, 6), {}),
    (lambda: PoolingLayer(3), (1, 7, 7), (1, 2, 2), {}),
    (lambda: PoolingLayer(2, 3, "avg"), (3, 8, 5), (3, 3, 2), {}),
    (lambda: Flatten(), (3, 4, 5), (60,), {}),
    (lambda: Dense(1, 1, activation="sigmoid"), (1,), (1,), {"weight": (1, 1), "bias": (1,)}),
    (lambda: Dense(7, 3, activation=None), (7,), (3,), {"weight": (7, 3), "bias": (3,)}),
    (lambda: MultiClassDense(5, 2), (5,), (2,), {"weight": (5, 2), "bias": (2,)}),
]


SHAPE_IDS = [f"{make_layer()!r}-on-{'x'.join(map(str, shape))}" for make_layer, shape, _, _ in SHAPE_TABLE]


def check_shapes(make_layer, input_shape, output_shape, parameter_shapes, batch=2):
    """output_shape() and a real forward agree with the table; parameters have the listed shapes and count."""
    layer = make_layer()
    assert layer.output_shape(input_shape) == output_shape
    out = layer.forward(np.random.default_rng(0).normal(size=(batch, *input_shape)).astype(np.float32))
    assert out.shape == (batch, *output_shape)
    assert {param.name: param.shape for param in layer.parameters()} == parameter_shapes
    assert [param.name for param in layer.parameters()] == list(parameter_shapes)  # weight before bias
    expected_count = sum(int(np.prod(shape)) for shape in parameter_shapes.values())
    assert sum(param.size for param in layer.parameters()) == expected_count


@pytest.mark.parametrize("make_layer, input_shape, output_shape, parameter_shapes", SHAPE_TABLE, ids=SHAPE_IDS)
def test_shapes_and_parameter_counts(make_layer, input_shape, output_shape, parameter_shapes):
    check_shapes(make_layer, input_shape, output_shape, parameter_shapes)


def test_report_parameter_counts():
    """The report's first network: 592 + 309,920 + 1,610 trainable parameters."""
    counts = [sum(p.size for p in layer.parameters()) for layer in
              [ConvLayer(6, 1, 16), PoolingLayer(), Flatten(), Dense(1936, 160), MultiClassDense(160, 10)]]
    assert counts == [592, 0, 0, 309_920, 1_610]


@pytest.mark.parametrize("make_layer, input_shape, output_shape, parameter_shapes", SHAPE_TABLE, ids=SHAPE_IDS)
def test_unbatched_sample_gives_unbatched_results(make_layer, input_shape, output_shape, parameter_shapes):
    rng = np.random.default_rng(1)
    layer = make_layer()
    batch = rng.normal(size=(3, *input_shape))  # float64, so batched and single-sample sums round alike
    batched_out = layer.forward(batch)
    out = layer.forward(batch[1])
    assert out.shape == output_shape
    np.testing.assert_allclose(out, batched_out[1], rtol=1e-12, atol=1e-12)
    grad_input = layer.backward(np.ones(output_shape))
    assert grad_input.shape == input_shape
    for param in layer.parameters():
        assert param.grad.shape == param.shape


def test_need_input_grad_false_skips_only_the_input_gradient():
    layer = ConvLayer(3, 2, 4)
    x = np.random.default_rng(2).normal(size=(2, 2, 6, 6)).astype(np.float32)
    upstream = np.ones(layer.forward(x).shape, dtype=np.float32)
    layer.backward(upstream)
    expected = [param.grad.copy() for param in layer.parameters()]
    plan = LayerPlan(need_input_grad=False)  # what a network's plan gives its first layer in training
    layer.forward(x, plan=plan)
    assert layer.backward(upstream, plan=plan) is None
    for param, grad in zip(layer.parameters(), expected):
        np.testing.assert_array_equal(param.grad, grad)


# ---------------------------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------------------------

DTYPE_CASES = [(lambda: ConvLayer(3, 1, 2), (1, 6, 5)), (lambda: PoolingLayer(2, 1, "avg"), (2, 4, 4)),
               (lambda: PoolingLayer(), (2, 4, 4)), (lambda: Flatten(), (2, 3, 3)),
               (lambda: Dense(4, 3, "tanh"), (4,)), (lambda: MultiClassDense(4, 3), (4,))]


@pytest.mark.parametrize("make_layer, sample_shape", DTYPE_CASES)
def test_float32_by_default(make_layer, sample_shape):
    layer = make_layer()
    for param in layer.parameters():
        assert param.value.dtype == np.float32 and param.grad.dtype == np.float32
    as_list = np.arange(2 * np.prod(sample_shape)).reshape(2, *sample_shape).tolist()  # integers, in a list
    out = layer.forward(as_list)
    assert out.dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32
    for param in layer.parameters():
        assert param.grad.dtype == np.float32


@pytest.mark.parametrize("make_layer, sample_shape", DTYPE_CASES)
def test_float64_input_gives_float64_output(make_layer, sample_shape):
    layer = make_layer()
    out = layer.forward(np.random.default_rng(3).normal(size=(2, *sample_shape)))
    assert out.dtype == np.float64
    layer.astype(np.float64)
    out = layer.forward(np.random.default_rng(3).normal(size=(2, *sample_shape)))
    assert out.dtype == np.float64
    assert layer.backward(np.ones_like(out)).dtype == np.float64
    for param in layer.parameters():
        assert param.value.dtype == np.float64 and param.grad.dtype == np.float64


# ---------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make_layer, expected_in_message", [
    (lambda: ConvLayer(0, 1, 16), "filter_size=0"),
    (lambda: ConvLayer(2.5, 1, 16), "filter_size=2.5"),
    (lambda: ConvLayer(True, 1, 16), "filter_size=True"),
    (lambda: ConvLayer(3, 0, 16), "depth=0"),
    (lambda: ConvLayer(3, 1, -4), "num_filters=-4"),
    (lambda: ConvLayer(3, 1, 16, stride=-1), "stride=-1"),
    (lambda: ConvLayer(3, 1, 16, stride=0), "stride=0"),
    (lambda: ConvLayer(3, 1, 16, padding=-1), "padding=-1"),
    (lambda: ConvLayer(3, 1, 16, activation="bogus"), "activation='bogus'"),
    (lambda: PoolingLayer(size=0), "size=0"),
    (lambda: PoolingLayer(2, stride=-1), "stride=-1"),
    (lambda: PoolingLayer(mode="min"), "mode='min'"),
    (lambda: Dense(0, 10), "input_dim=0"),
    (lambda: Dense(10, -1), "output_dim=-1"),
    (lambda: Dense(10, 3, activation="bogus"), "activation='bogus'"),
    (lambda: MultiClassDense(0, 10), "input_dim=0"),
    (lambda: MultiClassDense(10, 0), "num_classes=0"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_invalid_constructor_arguments_raise_value_error(make_layer, expected_in_message):
    """The message names the argument and the value received, in Keras's wording."""
    with pytest.raises(ValueError) as error:
        make_layer()
    assert expected_in_message in str(error.value)


@pytest.mark.parametrize("make_layer, batch_shape, received", [
    (lambda: ConvLayer(3, 3, 4), (2, 1, 10, 10), "(1, 10, 10)"),      # wrong channel count
    (lambda: ConvLayer(3, 1, 4), (3, 10, 10), "(3, 10, 10)"),         # unbatched, wrong channel count
    (lambda: ConvLayer(5, 1, 2), (2, 1, 4, 9), "(1, 4, 9)"),          # image smaller than the filter
    (lambda: ConvLayer(5, 1, 2, padding=1), (1, 1, 2, 2), "(1, 2, 2)"),
    (lambda: PoolingLayer(3), (2, 4, 2, 5), "(4, 2, 5)"),             # image smaller than the window
    (lambda: Dense(10, 3), (4, 9), "(9,)"),
    (lambda: Dense(10, 3), (4, 2, 5), "(2, 5)"),
    (lambda: MultiClassDense(10, 3), (4, 11), "(11,)"),
])
def test_input_that_does_not_fit_raises_value_error(make_layer, batch_shape, received):
    layer = make_layer()
    with pytest.raises(ValueError) as error:
        layer.forward(np.zeros(batch_shape, dtype=np.float32))
    assert layer.name in str(error.value)
    assert received in str(error.value)


@pytest.mark.parametrize("bad_input", [[[1.0, 2.0], [3.0]], np.array(["a", "b"]), np.ones((2, 3)) * 1j])
def test_non_numeric_or_ragged_input_raises_value_error(bad_input):
    with pytest.raises(ValueError, match="Dense"):
        Dense(2, 2).forward(bad_input)


# ---------------------------------------------------------------------------------------------
# seeds and initialisers
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make_layer", [lambda: ConvLayer(3, 2, 4), lambda: ConvLayer(3, 2, 4, activation="tanh"),
                                        lambda: Dense(6, 5), lambda: MultiClassDense(6, 3)])
def test_reset_parameters_with_the_same_seed_gives_the_same_weights(make_layer):
    first, second, other = make_layer(), make_layer(), make_layer()
    first.reset_parameters(np.random.default_rng(0))
    second.reset_parameters(np.random.default_rng(0))
    other.reset_parameters(np.random.default_rng(1))
    np.testing.assert_array_equal(first.weight.value, second.weight.value)
    assert not np.array_equal(first.weight.value, other.weight.value)
    assert not first.bias.value.any()
    assert first.weight.value.dtype == np.float32
    # Unseeded layers draw fresh weights.
    assert not np.array_equal(make_layer().weight.value, make_layer().weight.value)


def test_reset_parameters_keeps_the_layer_dtype():
    layer = Dense(4, 3).astype(np.float64)
    layer.reset_parameters(np.random.default_rng(0))
    assert layer.weight.value.dtype == np.float64 and layer.bias.value.dtype == np.float64


@pytest.mark.parametrize("make_layer, fan_in", [
    (lambda: Dense(1000, 400, activation="relu"), 1000),
    (lambda: Dense(800, 300, activation="leakyrelu"), 800),
    (lambda: ConvLayer(5, 20, 64, activation="relu"), 20 * 5 * 5),
])
def test_he_normal_for_the_relu_family(make_layer, fan_in):
    layer = make_layer()
    layer.reset_parameters(np.random.default_rng(0))
    weight = layer.weight.value.astype(np.float64)
    expected_std = np.sqrt(2.0 / fan_in)
    assert abs(weight.std() / expected_std - 1) < 0.03
    assert abs(weight.mean()) < 0.03 * expected_std
    assert np.abs(weight).max() > 3 * expected_std  # a normal's tails, not a uniform's hard edge


@pytest.mark.parametrize("make_layer, fan_in, fan_out", [
    (lambda: Dense(400, 200, activation="tanh"), 400, 200),
    (lambda: Dense(300, 500, activation="sigmoid"), 300, 500),
    (lambda: MultiClassDense(600, 100), 600, 100),
    (lambda: ConvLayer(5, 16, 32, activation="tanh"), 16 * 25, 32 * 25),
])
def test_glorot_uniform_for_tanh_sigmoid_and_softmax(make_layer, fan_in, fan_out):
    layer = make_layer()
    layer.reset_parameters(np.random.default_rng(0))
    weight = layer.weight.value.astype(np.float64)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(weight).max() <= limit * (1 + 1e-6)
    assert np.abs(weight).max() > 0.99 * limit
    assert abs(weight.std() / (limit / np.sqrt(3)) - 1) < 0.03


# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layer", [
    ConvLayer(6, 1, 16), ConvLayer(10, 3, 16, stride=2, padding=1, activation="tanh"),
    ConvLayer(3, 2, 2, activation=None), PoolingLayer(), PoolingLayer(3, 1, "avg"), Flatten(),
    Dense(1936, 160), Dense(5, 1, activation="sigmoid"), MultiClassDense(160, 10),
], ids=repr)
def test_get_config_round_trips_through_json(layer):
    config = layer.get_config()
    rebuilt = type(layer)(**json.loads(json.dumps(config)))
    assert rebuilt.get_config() == config
    assert type(layer).from_config(config).get_config() == config
    assert LAYER_CLASSES[type(layer).__name__] is type(layer)
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in layer.parameters()]


def test_pooling_stride_none_means_stride_equal_to_size():
    assert PoolingLayer(3).get_config() == {"size": 3, "stride": 3, "mode": "max"}


# ---------------------------------------------------------------------------------------------
# losses and output activations at the numerical edges
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_and_sigmoid_of_large_logits_are_finite(dtype):
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0]], dtype=dtype)
    p = softmax(logits)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-7)
    np.testing.assert_array_equal(sigmoid(np.array([1000.0, -1000.0], dtype=dtype)), [1.0, 0.0])
    for name in ("sigmoid", "softmax", "tanh"):
        forward, backward = ACTIVATIONS[name]
        out, cache = forward(logits)
        assert np.all(np.isfinite(out)) and np.all(np.isfinite(backward(np.ones_like(out), cache)))


def test_multiclass_dense_with_huge_inputs_gives_finite_probabilities():
    layer = MultiClassDense(3, 4)
    p = layer.forward(np.array([[1e4, -1e4, 1e4]], dtype=np.float32))
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("loss_name", ["bce_loss", "categorical_crossentropy", "mse_loss"])
def test_losses_of_predictions_exactly_zero_and_one_are_finite(loss_name):
    loss, derivative = losses.get(loss_name)
    y_true = np.array([[1.0, 0.0], [0.0, 1.0]])
    for y_pred in (np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])):  # all wrong, all right
        assert np.isfinite(loss(y_true, y_pred))
        assert np.all(np.isfinite(derivative(y_true, y_pred)))


def test_losses_clip_probabilities_at_epsilon():
    """log(0) is never taken: a certain wrong prediction costs -log(1e-7) per sample."""
    y_true = np.array([[1.0, 0.0]])
    assert losses.categorical_crossentropy(y_true, np.array([[0.0, 1.0]])) == pytest.approx(-np.log(1e-7))
    assert losses.bce_loss(np.array([[1.0]]), np.array([[0.0]])) == pytest.approx(-np.log(1e-7))
    assert losses.categorical_crossentropy(y_true, np.array([[1.0, 0.0]])) == pytest.approx(0.0, abs=1e-6)


def test_losses_hand_computed_values():
    assert losses.categorical_crossentropy(np.eye(4), np.full((4, 4), 0.25)) == pytest.approx(np.log(4))
    assert losses.bce_loss(np.array([[1.0], [0.0]]), np.full((2, 1), 0.5)) == pytest.approx(np.log(2))
    assert losses.bce_loss(np.array([[1.0, 0.0]]), np.array([[0.8, 0.4]])) == pytest.approx(
        -(np.log(0.8) + np.log(0.6)) / 2)
    assert losses.mse_loss(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 0.0], [3.0, 5.0]])) == pytest.approx(
        (0 + 4 + 0 + 1) / 4)
    # A batch mean: duplicating the batch leaves the loss unchanged.
    y, p = np.eye(3), softmax(np.random.default_rng(0).normal(size=(3, 3)))
    assert losses.categorical_crossentropy(np.tile(y, (2, 1)), np.tile(p, (2, 1))) == pytest.approx(
        losses.categorical_crossentropy(y, p))


@pytest.mark.parametrize("shape", [(1, 1), (4, 3), (6, 10), (5,)])
@pytest.mark.parametrize("loss_name", ["bce_loss", "categorical_crossentropy", "mse_loss"])
def test_loss_derivative_has_the_prediction_shape(loss_name, shape):
    loss, derivative = losses.get(loss_name)
    rng = np.random.default_rng(4)
    y_true, y_pred = rng.integers(0, 2, size=shape).astype(np.float64), rng.uniform(0.1, 0.9, size=shape)
    assert derivative(y_true, y_pred).shape == y_pred.shape
    assert isinstance(loss(y_true, y_pred), float)


def test_unknown_loss_name_raises_value_error():
    with pytest.raises(ValueError, match="bogus"):
        losses.get("bogus")
