"""PyTorch as the oracle: forward values and input/weight/bias gradients agree to 1e-6 relative in float64.

Functional ops are checked over many hypothesis-drawn shapes; layers against the
equivalent torch module with copied weights. The largest relative error seen per op
is printed in the pytest summary (see conftest.py).
"""
import numpy as np
import pytest
from gradient_helpers import leaf, make_close_checker
from hypothesis import assume, given, settings
from hypothesis import strategies as st

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

# Denominator floor: a gradient that is mathematically zero (the bias of a softmax over a conv row) comes out
# of both libraries as ~1e-16 rounding noise, whose ratio means nothing; below the floor the check becomes
# |ours - theirs| <= 1e-12 absolute. Every non-degenerate array here has entries far above 1e-6.
FUNCTIONAL = settings(max_examples=50, deadline=None)
LAYERS = settings(max_examples=30, deadline=None)
seeds = st.integers(0, 2**32 - 1)
ACTIVATION_NAMES = ["linear", "relu", "leakyrelu", "sigmoid", "tanh", "softmax"]


@pytest.fixture(scope="module")
def close(relative_errors):
    return make_close_checker(relative_errors)


def fused_gradient(loss_name, activation):
    return losses.fused_gradient(*losses.get(loss_name), activation)


def torch_activation(torch, name):
    nn = torch.nn
    return {"linear": nn.Identity(), "relu": nn.ReLU(), "leakyrelu": nn.LeakyReLU(0.01), "sigmoid": nn.Sigmoid(),
            "tanh": nn.Tanh(), "softmax": nn.Softmax(dim=-1)}[name]


# ---------------------------------------------------------------------------------------------
# functional ops over random shapes
# ---------------------------------------------------------------------------------------------

def check_conv2d(torch, close, n, c, h, w, f, k, stride, padding, seed):
    """conv2d_forward/backward against torch's conv2d on random arrays; recorded as 'conv2d (winograd)' when the
    shape took the Winograd path."""
    assume(h + 2 * padding >= k and w + 2 * padding >= k)
    rng = np.random.default_rng(seed)
    x, weight, bias = rng.normal(size=(n, c, h, w)), rng.normal(size=(f, c, k, k)), rng.normal(size=(f,))
    out, cache = conv2d_forward(x, weight, bias, stride, padding)
    upstream = rng.normal(size=out.shape)
    dx, dweight, dbias = conv2d_backward(upstream, cache)

    tx, tweight, tbias = leaf(torch, x), leaf(torch, weight), leaf(torch, bias)
    expected = torch.nn.functional.conv2d(tx, tweight, tbias, stride=stride, padding=padding)
    expected.backward(torch.tensor(upstream))
    op = "conv2d (winograd)" if cache[0] else "conv2d"
    close(f"{op} forward", out, expected)
    close(f"{op} dx", dx, tx.grad)
    close(f"{op} dweight", dweight, tweight.grad)
    close(f"{op} dbias", dbias, tbias.grad)


@pytest.mark.slow
@FUNCTIONAL
@given(n=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(1, 10), w=st.integers(1, 10), f=st.integers(1, 4),
       k=st.integers(1, 5), stride=st.integers(1, 3), padding=st.integers(0, 2), seed=seeds)
def test_conv2d_matches_torch(torch, close, n, c, h, w, f, k, stride, padding, seed):
    check_conv2d(torch, close, n, c, h, w, f, k, stride, padding, seed)


@pytest.mark.slow
@FUNCTIONAL
@given(n=st.integers(1, 3), c=st.integers(8, 12), h=st.integers(8, 20), w=st.integers(5, 12), f=st.integers(1, 5),
       k=st.integers(4, 7), stride=st.sampled_from([1, 2]), padding=st.integers(0, 2), seed=seeds)
def test_conv2d_by_winograd_matches_torch(torch, close, n, c, h, w, f, k, stride, padding, seed):
    """Tall kernels over many channels: the shapes that take the Winograd path (winograd.tile_size), including the
    stride-2 ones it takes after space-to-depth; the examples that do not (too few output rows) still check im2col."""
    check_conv2d(torch, close, n, c, h, w, f, k, stride, padding, seed)


@pytest.mark.slow
@FUNCTIONAL
@given(mode=st.sampled_from(["max", "avg"]), n=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(1, 10),
       w=st.integers(1, 10), size=st.integers(1, 4), stride=st.integers(1, 4), seed=seeds)
def test_pool2d_matches_torch(torch, close, mode, n, c, h, w, size, stride, seed):
    assume(h >= size and w >= size)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c, h, w))  # continuous values: ties in a max window have probability zero
    forward, backward = {"max": (maxpool2d_forward, maxpool2d_backward),
                         "avg": (avgpool2d_forward, avgpool2d_backward)}[mode]
    out, cache = forward(x, size, stride)
    upstream = rng.normal(size=out.shape)
    dx = backward(upstream, cache)

    tx = leaf(torch, x)
    torch_pool = torch.nn.functional.max_pool2d if mode == "max" else torch.nn.functional.avg_pool2d
    expected = torch_pool(tx, size, stride)
    expected.backward(torch.tensor(upstream))
    close(f"{mode}pool2d forward", out, expected)
    close(f"{mode}pool2d dx", dx, tx.grad)


def test_maxpool2d_breaks_ties_like_torch(torch, close):
    """Equal values in a window: the gradient goes to the first maximum in row-major order, as in PyTorch."""
    x = np.array([[[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 2.0, 2.0]]]])
    out, cache = maxpool2d_forward(x, 2, 1)
    upstream = np.arange(1.0, out.size + 1).reshape(out.shape)
    tx = leaf(torch, x)
    torch.nn.functional.max_pool2d(tx, 2, 1).backward(torch.tensor(upstream))
    close("maxpool2d dx (ties)", maxpool2d_backward(upstream, cache), tx.grad)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("size", [2, 3])
def test_maxpool2d_tiled_windows_with_ties_like_torch(torch, close, relu, size):
    """Windows that tile the image (the one-product path and its fallback): values from {-1, 0, 1} tie in most
    windows; with relu the maxima get the ReLU, as torch's relu then max_pool2d."""
    rng = np.random.default_rng(size)
    x = rng.integers(-1, 2, size=(2, 3, 2 * size, 3 * size)).astype(float)
    out, cache = maxpool2d_forward(x, size, size, relu=relu)
    upstream = rng.normal(size=out.shape)
    tx = leaf(torch, x)
    expected = torch.nn.functional.max_pool2d(torch.relu(tx) if relu else tx, size, size)
    expected.backward(torch.tensor(upstream))
    close(f"maxpool2d tiled forward (ties, relu={relu})", out, expected)
    close(f"maxpool2d tiled dx (ties, relu={relu})", maxpool2d_backward(upstream, cache), tx.grad)


@FUNCTIONAL
@given(n=st.integers(1, 6), in_features=st.integers(1, 12), out_features=st.integers(1, 12), seed=seeds)
def test_linear_matches_torch(torch, close, n, in_features, out_features, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, in_features))
    weight, bias = rng.normal(size=(in_features, out_features)), rng.normal(size=(out_features,))
    out, cache = linear_forward(x, weight, bias)
    upstream = rng.normal(size=out.shape)
    dx, dweight, dbias = linear_backward(upstream, cache)

    # torch's linear weight is (out, in): ours transposed.
    tx, tweight, tbias = leaf(torch, x), leaf(torch, weight.T), leaf(torch, bias)
    expected = torch.nn.functional.linear(tx, tweight, tbias)
    expected.backward(torch.tensor(upstream))
    close("linear forward", out, expected)
    close("linear dx", dx, tx.grad)
    close("linear dweight", dweight, tweight.grad.T)
    close("linear dbias", dbias, tbias.grad)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_matches_torch(torch, close, name):
    forward, backward = ACTIVATIONS[name]

    @FUNCTIONAL
    @given(n=st.integers(1, 6), f=st.integers(1, 12), scale=st.floats(0.1, 20.0), seed=seeds)
    def check(n, f, scale, seed):
        rng = np.random.default_rng(seed)
        z = rng.normal(0.0, scale, size=(n, f))
        out, cache = forward(z)
        upstream = rng.normal(size=out.shape)
        dz = backward(upstream, cache)
        tz = leaf(torch, z)
        expected = torch_activation(torch, name)(tz)
        expected.backward(torch.tensor(upstream))
        close(f"{name} forward", out, expected)
        close(f"{name} backward", dz, tz.grad)

    check()


@pytest.mark.slow
@FUNCTIONAL
@given(n=st.integers(1, 8), num_classes=st.integers(2, 10), seed=seeds)
def test_softmax_crossentropy_matches_torch_cross_entropy(torch, close, n, num_classes, seed):
    rng = np.random.default_rng(seed)
    # |logit differences| <= 8 keeps every probability far above the 1e-7 clip, where torch does not clip.
    logits = rng.uniform(-4.0, 4.0, size=(n, num_classes))
    labels = rng.integers(0, num_classes, size=n)
    y_true = np.eye(num_classes)[labels]
    p = softmax(logits)

    tlogits = leaf(torch, logits)
    expected = torch.nn.functional.cross_entropy(tlogits, torch.tensor(labels))
    expected.backward()
    close("categorical_crossentropy", losses.categorical_crossentropy(y_true, p), expected)
    close("softmax+cce fused gradient", fused_gradient("categorical_crossentropy", "softmax")(y_true, p), tlogits.grad)

    tp = leaf(torch, p)
    (-(torch.tensor(y_true) * torch.log(tp)).sum() / n).backward()
    close("categorical_crossentropy_derivative", losses.categorical_crossentropy_derivative(y_true, p), tp.grad)


@FUNCTIONAL
@given(n=st.integers(1, 8), outputs=st.integers(1, 4), soft=st.booleans(), seed=seeds)
def test_bce_matches_torch(torch, close, n, outputs, soft, seed):
    rng = np.random.default_rng(seed)
    y_true = rng.uniform(size=(n, outputs)) if soft else rng.integers(0, 2, size=(n, outputs)).astype(np.float64)
    p = rng.uniform(0.01, 0.99, size=(n, outputs))
    tp = leaf(torch, p)
    expected = torch.nn.functional.binary_cross_entropy(tp, torch.tensor(y_true))
    expected.backward()
    close("bce_loss", losses.bce_loss(y_true, p), expected)
    close("bce_loss_derivative", losses.bce_loss_derivative(y_true, p), tp.grad)

    logits = rng.uniform(-6.0, 6.0, size=(n, outputs))  # sigmoid stays inside the clip
    tlogits = leaf(torch, logits)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(tlogits, torch.tensor(y_true))
    expected.backward()
    close("bce_loss of sigmoid(logits)", losses.bce_loss(y_true, sigmoid(logits)), expected)
    close("sigmoid+bce fused gradient", fused_gradient("bce_loss", "sigmoid")(y_true, sigmoid(logits)), tlogits.grad)


@FUNCTIONAL
@given(n=st.integers(1, 8), outputs=st.integers(1, 5), seed=seeds)
def test_mse_matches_torch(torch, close, n, outputs, seed):
    rng = np.random.default_rng(seed)
    y_true, y_pred = rng.normal(size=(n, outputs)), rng.normal(size=(n, outputs))
    tp = leaf(torch, y_pred)
    expected = torch.nn.functional.mse_loss(tp, torch.tensor(y_true))
    expected.backward()
    close("mse_loss", losses.mse_loss(y_true, y_pred), expected)
    close("mse_loss_derivative", losses.mse_loss_derivative(y_true, y_pred), tp.grad)


# ---------------------------------------------------------------------------------------------
# layers against torch modules with copied weights
# ---------------------------------------------------------------------------------------------

def copy_weights(torch, ours, module, transpose=False):
    """Our layer's weight and bias into a float64 torch module (Linear stores the weight transposed)."""
    module.double()
    with torch.no_grad():
        module.weight.copy_(torch.tensor(ours.weight.value.T if transpose else ours.weight.value))
        module.bias.copy_(torch.tensor(ours.bias.value))


def compare_layer(torch, close, op, layer, module, x, rng, weighted=None, weight_transposed=False):
    """Forward and backward of our layer and the torch module on x; compares output and every gradient.

    `weighted` is the torch submodule holding the weight and bias matching our layer's Parameters.
    """
    out = layer.forward(x, training=True)
    upstream = rng.normal(size=out.shape)
    grad_input = layer.backward(upstream)
    tx = leaf(torch, x)
    expected = module(tx)
    expected.backward(torch.tensor(upstream))
    close(f"{op} forward", out, expected)
    close(f"{op} grad input", grad_input, tx.grad)
    torch_params = dict(weighted.named_parameters()) if weighted is not None else {}
    assert len(torch_params) == len(layer.parameters())
    for param in layer.parameters():
        theirs = torch_params[param.name].grad
        if weight_transposed and param.name == "weight":
            theirs = theirs.T
        close(f"{op} grad {param.name}", param.grad, theirs)


@pytest.mark.slow
@LAYERS
@given(activation=st.sampled_from(ACTIVATION_NAMES), n=st.integers(1, 3), depth=st.integers(1, 3),
       num_filters=st.integers(1, 4), size=st.integers(3, 9), filter_size=st.integers(1, 4),
       stride=st.integers(1, 3), padding=st.integers(0, 2), seed=seeds)
def test_conv_layer_matches_torch(torch, close, activation, n, depth, num_filters, size, filter_size, stride,
                                  padding, seed):
    assume(size + 2 * padding >= filter_size)
    rng = np.random.default_rng(seed)
    layer = ConvLayer(filter_size, depth, num_filters, stride, padding, activation).astype(np.float64)
    layer.reset_parameters(rng)
    layer.bias.value = rng.normal(size=num_filters)  # non-zero bias, so the bias path is exercised
    conv = torch.nn.Conv2d(depth, num_filters, filter_size, stride=stride, padding=padding)
    copy_weights(torch, layer, conv)
    module = torch.nn.Sequential(conv, torch_activation(torch, activation))
    x = rng.normal(size=(n, depth, size, size + 1))
    compare_layer(torch, close, "ConvLayer", layer, module, x, rng, weighted=conv)


@LAYERS
@given(activation=st.sampled_from(ACTIVATION_NAMES), n=st.integers(1, 5), input_dim=st.integers(1, 12),
       output_dim=st.integers(1, 12), seed=seeds)
def test_dense_layer_matches_torch(torch, close, activation, n, input_dim, output_dim, seed):
    rng = np.random.default_rng(seed)
    layer = Dense(input_dim, output_dim, activation).astype(np.float64)
    layer.reset_parameters(rng)
    layer.bias.value = rng.normal(size=output_dim)
    linear = torch.nn.Linear(input_dim, output_dim)
    copy_weights(torch, layer, linear, transpose=True)
    module = torch.nn.Sequential(linear, torch_activation(torch, activation))
    compare_layer(torch, close, "Dense", layer, module, rng.normal(size=(n, input_dim)), rng, weighted=linear,
                  weight_transposed=True)


@LAYERS
@given(n=st.integers(1, 5), input_dim=st.integers(1, 12), num_classes=st.integers(2, 10), seed=seeds)
def test_multiclass_dense_matches_torch(torch, close, n, input_dim, num_classes, seed):
    rng = np.random.default_rng(seed)
    layer = MultiClassDense(input_dim, num_classes).astype(np.float64)
    layer.reset_parameters(rng)
    linear = torch.nn.Linear(input_dim, num_classes)
    copy_weights(torch, layer, linear, transpose=True)
    module = torch.nn.Sequential(linear, torch.nn.Softmax(dim=1))
    compare_layer(torch, close, "MultiClassDense", layer, module, rng.normal(size=(n, input_dim)), rng,
                  weighted=linear, weight_transposed=True)


@LAYERS
@given(mode=st.sampled_from(["max", "avg"]), n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(2, 9),
       w=st.integers(2, 9), size=st.integers(1, 3), stride=st.one_of(st.none(), st.integers(1, 3)), seed=seeds)
def test_pooling_layer_matches_torch(torch, close, mode, n, c, h, w, size, stride, seed):
    assume(h >= size and w >= size)
    rng = np.random.default_rng(seed)
    layer = PoolingLayer(size, stride, mode)
    module_class = torch.nn.MaxPool2d if mode == "max" else torch.nn.AvgPool2d
    module = module_class(size, stride)  # torch's stride=None also means stride=size
    compare_layer(torch, close, f"PoolingLayer({mode})", layer, module, rng.normal(size=(n, c, h, w)), rng)


def test_flatten_matches_torch(torch, close):
    rng = np.random.default_rng(0)
    compare_layer(torch, close, "Flatten", Flatten(), torch.nn.Flatten(), rng.normal(size=(3, 4, 5, 6)), rng)


def test_report_network_chain_matches_torch(torch, close):
    """The report's network, layer by layer, against the same torch chain: output and every gradient."""
    rng = np.random.default_rng(1)
    ours = [ConvLayer(6, 1, 16), PoolingLayer(), Flatten(), Dense(1936, 160), MultiClassDense(160, 10)]
    for layer in ours:
        layer.astype(np.float64).reset_parameters(rng)
    nn = torch.nn
    theirs = nn.Sequential(nn.Conv2d(1, 16, 6), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1936, 160),
                           nn.ReLU(), nn.Linear(160, 10), nn.Softmax(dim=1))
    copy_weights(torch, ours[0], theirs[0])
    copy_weights(torch, ours[3], theirs[4], transpose=True)
    copy_weights(torch, ours[4], theirs[6], transpose=True)

    x = rng.normal(size=(4, 1, 28, 28))
    out = x
    for layer in ours:
        out = layer.forward(out, training=True)
    upstream = rng.normal(size=out.shape)
    grad = upstream
    for layer in reversed(ours):
        grad = layer.backward(grad)

    tx = leaf(torch, x)
    expected = theirs(tx)
    expected.backward(torch.tensor(upstream))
    close("report network forward", out, expected)
    close("report network grad input", grad, tx.grad)
    for layer, module in [(ours[0], theirs[0]), (ours[3], theirs[4]), (ours[4], theirs[6])]:
        theirs_weight_grad = module.weight.grad.T if isinstance(layer, Dense) else module.weight.grad
        close("report network grad weight", layer.weight.grad, theirs_weight_grad)
        close("report network grad bias", layer.bias.grad, module.bias.grad)
