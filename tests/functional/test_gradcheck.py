"""Finite-difference gradient checks (central differences, float64) of every functional op, loss and layer.

Each check builds a scalar f = sum(out * upstream) for a random upstream gradient,
so the analytic backward(upstream) must equal the numerical gradient of f.
"""
import numpy as np
from gradient_helpers import assert_gradient_close, numerical_gradient
import pytest

from scratchcnn import ConvLayer, Dense, Flatten, MultiClassDense, PoolingLayer, losses
from scratchcnn.functional import (
    ACTIVATIONS,
    avgpool2d_backward,
    avgpool2d_forward,
    conv2d_backward,
    conv2d_forward,
    linear_backward,
    linear_forward,
    maxpool2d_backward,
    maxpool2d_forward,
    sigmoid,
    softmax,
)

ACTIVATION_NAMES = ["linear", "relu", "leakyrelu", "sigmoid", "tanh", "softmax"]


def distinct_values(rng, shape):
    """Random values at least 0.05 apart, so no max-pool window has a near-tie within EPS."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.05 - 1.0


def away_from_zero(rng, shape, scale=1.0):
    """Normal values pushed at least 0.01 from 0, clear of the ReLU kinks."""
    z = rng.normal(0.0, scale, size=shape)
    return z + np.sign(z) * 0.01


# ---------------------------------------------------------------------------------------------
# functional ops
# ---------------------------------------------------------------------------------------------

# (N, C, H, W, F, k, stride, padding): strides 1/2/3, paddings 0/1/2, odd and non-square, depth 1 and 3.
CONV_CONFIGS = [
    (1, 1, 5, 5, 1, 3, 1, 0),
    (2, 3, 7, 5, 4, 3, 2, 1),
    (2, 3, 8, 9, 2, 2, 3, 2),
    (3, 1, 6, 7, 3, 4, 1, 2),
    (1, 3, 9, 6, 2, 5, 2, 0),
    (2, 2, 5, 8, 3, 1, 1, 0),
    (1, 3, 4, 4, 2, 4, 3, 1),
    (2, 1, 3, 3, 2, 3, 1, 2),
    (2, 3, 11, 7, 2, 3, 3, 1),
]


@pytest.mark.parametrize("n, c, h, w, f, k, stride, padding", CONV_CONFIGS)
def test_conv2d_gradients(n, c, h, w, f, k, stride, padding):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, c, h, w))
    weight = rng.normal(size=(f, c, k, k))
    bias = rng.normal(size=(f,))
    out, cache = conv2d_forward(x, weight, bias, stride, padding)
    upstream = rng.normal(size=out.shape)
    dx, dweight, dbias = conv2d_backward(upstream, cache)

    assert_gradient_close(dx, numerical_gradient(
        lambda v: np.sum(conv2d_forward(v, weight, bias, stride, padding)[0] * upstream), x))
    assert_gradient_close(dweight, numerical_gradient(
        lambda v: np.sum(conv2d_forward(x, v, bias, stride, padding)[0] * upstream), weight))
    assert_gradient_close(dbias, numerical_gradient(
        lambda v: np.sum(conv2d_forward(x, weight, v, stride, padding)[0] * upstream), bias))


def test_conv2d_backward_without_input_gradient_keeps_weight_gradients():
    rng = np.random.default_rng(1)
    x, weight, bias = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(4, 3, 3, 3)), rng.normal(size=(4,))
    out, cache = conv2d_forward(x, weight, bias, 2, 1)
    upstream = rng.normal(size=out.shape)
    _, dweight, dbias = conv2d_backward(upstream, cache)
    dx, dweight_only, dbias_only = conv2d_backward(upstream, cache, need_input_grad=False)
    assert dx is None
    np.testing.assert_array_equal(dweight_only, dweight)
    np.testing.assert_array_equal(dbias_only, dbias)


# (N, C, H, W, size, stride): stride equal to size, smaller (overlapping) and larger (gaps).
POOL_CONFIGS = [
    (1, 1, 4, 4, 2, 2),
    (2, 3, 7, 5, 2, 1),
    (2, 2, 9, 8, 3, 2),
    (1, 3, 6, 7, 3, 3),
    (2, 1, 5, 5, 2, 3),
    (1, 2, 8, 6, 4, 2),
    (3, 1, 5, 6, 1, 1),
]
POOLS = {"max": (maxpool2d_forward, maxpool2d_backward), "avg": (avgpool2d_forward, avgpool2d_backward)}


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("n, c, h, w, size, stride", POOL_CONFIGS)
def test_pool2d_input_gradient(mode, n, c, h, w, size, stride):
    forward, backward = POOLS[mode]
    rng = np.random.default_rng(2)
    x = distinct_values(rng, (n, c, h, w))
    out, cache = forward(x, size, stride)
    upstream = rng.normal(size=out.shape)
    dx = backward(upstream, cache)
    assert_gradient_close(dx, numerical_gradient(lambda v: np.sum(forward(v, size, stride)[0] * upstream), x))


@pytest.mark.parametrize("n, in_features, out_features", [(1, 1, 1), (4, 7, 3), (2, 5, 10), (3, 12, 2)])
def test_linear_gradients(n, in_features, out_features):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, in_features))
    weight, bias = rng.normal(size=(in_features, out_features)), rng.normal(size=(out_features,))
    out, cache = linear_forward(x, weight, bias)
    upstream = rng.normal(size=out.shape)
    dx, dweight, dbias = linear_backward(upstream, cache)
    assert_gradient_close(dx, numerical_gradient(lambda v: np.sum(linear_forward(v, weight, bias)[0] * upstream), x))
    assert_gradient_close(dweight, numerical_gradient(
        lambda v: np.sum(linear_forward(x, v, bias)[0] * upstream), weight))
    assert_gradient_close(dbias, numerical_gradient(
        lambda v: np.sum(linear_forward(x, weight, v)[0] * upstream), bias))


@pytest.mark.parametrize("shape", [(5,), (4, 6), (2, 3, 4, 5)])
@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_gradient(name, shape):
    forward, backward = ACTIVATIONS[name]
    rng = np.random.default_rng(4)
    z = away_from_zero(rng, shape, scale=2.0)
    out, cache = forward(z)
    upstream = rng.normal(size=out.shape)
    dz = backward(upstream, cache)
    assert_gradient_close(dz, numerical_gradient(lambda v: np.sum(forward(v)[0] * upstream), z))


# ---------------------------------------------------------------------------------------------
# losses: each derivative, and the fused (p - y) / N gradients with respect to the logits
# ---------------------------------------------------------------------------------------------

def fused_gradient(loss_name, activation):
    """The library's fused gradient w.r.t. the logits for a named loss and output activation (or None)."""
    return losses.fused_gradient(*losses.get(loss_name), activation)


def _loss_inputs(loss_name, shape, rng):
    y_pred = rng.uniform(0.05, 0.95, size=shape)
    if loss_name == "categorical_crossentropy":
        y_true = np.eye(shape[-1])[rng.integers(0, shape[-1], size=shape[:-1])]
    elif loss_name == "bce_loss":
        y_true = rng.uniform(0.0, 1.0, size=shape).round(1)  # hard 0/1 and soft targets alike
    else:
        y_true = rng.normal(size=shape)
    return y_true, y_pred


@pytest.mark.parametrize("shape", [(1, 1), (4, 3), (6, 10), (5,)])
@pytest.mark.parametrize("loss_name", ["bce_loss", "categorical_crossentropy", "mse_loss"])
def test_loss_derivative(loss_name, shape):
    loss, derivative = losses.get(loss_name)
    y_true, y_pred = _loss_inputs(loss_name, shape, np.random.default_rng(5))
    assert_gradient_close(derivative(y_true, y_pred), numerical_gradient(lambda p: loss(y_true, p), y_pred))


@pytest.mark.parametrize("shape", [(1, 3), (4, 5), (8, 10)])
def test_fused_softmax_crossentropy_gradient(shape):
    rng = np.random.default_rng(6)
    logits = rng.normal(0.0, 2.0, size=shape)
    y_true = np.eye(shape[1])[rng.integers(0, shape[1], size=shape[0])]
    fused = fused_gradient("categorical_crossentropy", "softmax")
    assert_gradient_close(fused(y_true, softmax(logits)), numerical_gradient(
        lambda z: losses.categorical_crossentropy(y_true, softmax(z)), logits))


@pytest.mark.parametrize("shape", [(1, 1), (6, 1), (4, 3)])
def test_fused_sigmoid_bce_gradient(shape):
    rng = np.random.default_rng(7)
    logits = rng.normal(0.0, 2.0, size=shape)
    y_true = rng.integers(0, 2, size=shape).astype(np.float64)
    fused = fused_gradient("bce_loss", "sigmoid")
    assert_gradient_close(fused(y_true, sigmoid(logits)), numerical_gradient(
        lambda z: losses.bce_loss(y_true, sigmoid(z)), logits))


def test_pairs_that_do_not_fuse_have_no_fused_gradient():
    assert fused_gradient("mse_loss", "softmax") is None
    assert fused_gradient("categorical_crossentropy", "sigmoid") is None
    assert fused_gradient("bce_loss", "softmax") is None


# ---------------------------------------------------------------------------------------------
# layers: input, weight and bias gradients through the public forward/backward
# ---------------------------------------------------------------------------------------------

def check_layer_gradients(layer, x, seed=0):
    """Every gradient backward reports (input and each Parameter) matches central differences, in float64."""
    rng = np.random.default_rng(seed)
    layer.astype(np.float64)
    x = np.asarray(x, dtype=np.float64)
    out = layer.forward(x, training=True)
    assert out.dtype == np.float64
    upstream = rng.normal(size=out.shape)
    grad_input = layer.backward(upstream)
    analytic = {param.name: param.grad.copy() for param in layer.parameters()}

    assert_gradient_close(grad_input, numerical_gradient(lambda v: np.sum(layer.forward(v) * upstream), x))
    for param in layer.parameters():
        original = param.value

        def objective(value, param=param):
            param.value = value
            return np.sum(layer.forward(x) * upstream)

        numeric = numerical_gradient(objective, original)
        param.value = original
        assert_gradient_close(analytic[param.name], numeric)
    return analytic


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("filter_size, depth, num_filters, stride, padding, input_shape", [
    (3, 1, 2, 1, 0, (2, 1, 6, 5)),
    (2, 3, 4, 2, 1, (2, 3, 7, 6)),
    (3, 2, 3, 3, 2, (1, 2, 8, 9)),
])
def test_conv_layer_gradients(activation, filter_size, depth, num_filters, stride, padding, input_shape):
    layer = ConvLayer(filter_size, depth, num_filters, stride=stride, padding=padding, activation=activation)
    layer.reset_parameters(np.random.default_rng(8))
    check_layer_gradients(layer, away_from_zero(np.random.default_rng(9), input_shape))


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("input_dim, output_dim, batch", [(6, 4, 3), (1, 5, 1), (9, 1, 4)])
def test_dense_layer_gradients(activation, input_dim, output_dim, batch):
    layer = Dense(input_dim, output_dim, activation=activation)
    layer.reset_parameters(np.random.default_rng(10))
    check_layer_gradients(layer, away_from_zero(np.random.default_rng(11), (batch, input_dim)))


@pytest.mark.parametrize("input_dim, num_classes, batch", [(7, 3, 4), (4, 10, 1), (12, 2, 5)])
def test_multiclass_dense_gradients(input_dim, num_classes, batch):
    layer = MultiClassDense(input_dim, num_classes)
    layer.reset_parameters(np.random.default_rng(12))
    check_layer_gradients(layer, np.random.default_rng(13).normal(size=(batch, input_dim)))


def test_multiclass_dense_fused_gradient_is_the_crossentropy_gradient():
    """backward_preactivation((p - y) / N), the training path, gives d cce / d weight and d cce / d input."""
    rng = np.random.default_rng(14)
    layer = MultiClassDense(6, 4).astype(np.float64)
    x = rng.normal(size=(5, 6))
    y_true = np.eye(4)[rng.integers(0, 4, size=5)]
    fused = fused_gradient("categorical_crossentropy", layer.activation)
    grad_input = layer.backward_preactivation(fused(y_true, layer.forward(x, training=True)))
    assert_gradient_close(grad_input, numerical_gradient(
        lambda v: losses.categorical_crossentropy(y_true, layer.forward(v)), x))

    def loss_of_weight(value):
        layer.weight.value = value
        return losses.categorical_crossentropy(y_true, layer.forward(x))

    analytic = layer.weight.grad.copy()
    assert_gradient_close(analytic, numerical_gradient(loss_of_weight, layer.weight.value.copy()))


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("size, stride, input_shape", [(2, None, (2, 3, 6, 6)), (3, 2, (1, 2, 7, 8)),
                                                       (2, 1, (2, 1, 5, 4))])
def test_pooling_layer_gradients(mode, size, stride, input_shape):
    layer = PoolingLayer(size, stride, mode)
    check_layer_gradients(layer, distinct_values(np.random.default_rng(15), input_shape))


def test_flatten_gradients():
    check_layer_gradients(Flatten(), np.random.default_rng(16).normal(size=(3, 2, 4, 5)))


@pytest.mark.parametrize("make_layer, sample_shape", [
    (lambda: ConvLayer(3, 2, 3, stride=2, padding=1, activation="tanh"), (2, 7, 6)),
    (lambda: Dense(5, 3, activation="sigmoid"), (5,)),
    (lambda: PoolingLayer(2, 1, "avg"), (2, 4, 5)),
    (lambda: Flatten(), (2, 3, 4)),
])
def test_unbatched_sample_gradients(make_layer, sample_shape):
    """One sample without a batch axis: gradients are those of the sample, unbatched."""
    check_layer_gradients(make_layer(), np.random.default_rng(17).normal(size=sample_shape))


@pytest.mark.parametrize("loss_name, activation, shape", [("categorical_crossentropy", "softmax", (8, 5)),
                                                          ("bce_loss", "sigmoid", (8, 1)),
                                                          ("bce_loss", "sigmoid", (8, 3))])
def test_fused_gradient_of_some_rows_of_a_batch_is_those_rows_of_the_whole(loss_name, activation, shape):
    """A split training step computes each shard's rows on its thread, dividing by the whole batch's size."""
    rng = np.random.default_rng(8)
    y_true, p = _loss_inputs(loss_name, shape, rng)
    fused = fused_gradient(loss_name, activation)
    whole = fused(y_true, p)
    for rows in (slice(0, 3), slice(3, 8)):
        assert np.array_equal(fused(y_true[rows], p[rows], len(p)), whole[rows])
    assert not np.allclose(fused(y_true[:3], p[:3]), whole[:3])  # without the batch size: the shard's own
