"""scratchcnn.reference against PyTorch: every op's forward and every gradient (by torch autograd), in float64.

Tables of configurations, one parametrized test per op family. The agreement asked
is about 1e-10 of each array's scale; float32 inputs must give float32 outputs.
"""
import numpy as np
import pytest

from scratchcnn import reference as R

RTOL = 1e-10


def assert_close(ours, theirs, rtol=RTOL):
    """Same shape and dtype float64, and |ours - theirs| <= rtol * (|theirs| + max |theirs|) everywhere."""
    if hasattr(theirs, "detach"):
        theirs = theirs.detach().numpy()
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"shape {ours.shape} != torch's {theirs.shape}"
    assert ours.dtype == theirs.dtype, f"dtype {ours.dtype} != torch's {theirs.dtype}"
    scale = max(float(np.abs(theirs).max(initial=0.0)), 1e-300)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * scale)


def leaf(torch, array):
    return torch.tensor(array, requires_grad=True)


# ---------------------------------------------------------------------------------------------------------------
# convolution

CONV = [  # n, c, h, w, f, (kh, kw), stride, padding
    (2, 1, 7, 7, 3, (3, 3), 1, 0),
    (2, 3, 8, 9, 4, (3, 3), 1, 1),
    (3, 3, 9, 7, 2, (5, 5), 2, 2),
    (2, 3, 10, 8, 3, (2, 4), (1, 2), (0, 1)),   # non-square kernel, stride and padding pairs
    (1, 1, 6, 11, 2, (3, 1), (2, 1), (1, 0)),
    (2, 3, 7, 7, 2, (1, 1), 1, 0),              # 1x1
    (2, 3, 10, 9, 5, (4, 4), 3, (2, 1)),        # stride 3: pixels past the last window
    (2, 1, 5, 5, 2, (5, 5), 1, 0),              # the kernel covers the image
    (2, 3, 8, 6, 2, (4, 2), (2, 3), (3, 2)),    # padding close to the kernel
    (1, 3, 12, 12, 4, (6, 6), 2, 1),            # tall kernel, stride dividing it
]


@pytest.mark.parametrize("n, c, h, w, f, kernel, stride, padding", CONV)
def test_conv2d(torch, n, c, h, w, f, kernel, stride, padding):
    rng = np.random.default_rng(h * 100 + w)
    x, weight, bias = rng.normal(size=(n, c, h, w)), rng.normal(size=(f, c, *kernel)), rng.normal(size=f)
    out, cache = R.conv2d_forward(x, weight, bias, stride, padding)
    upstream = rng.normal(size=out.shape)
    dx, dweight, dbias = R.conv2d_backward(upstream, cache)
    tx, tw, tb = leaf(torch, x), leaf(torch, weight), leaf(torch, bias)
    expected = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=padding)
    expected.backward(torch.tensor(upstream))
    assert_close(out, expected)
    assert_close(dx, tx.grad)
    assert_close(dweight, tw.grad)
    assert_close(dbias, tb.grad)


@pytest.mark.parametrize("shape, kh, kw, sh, sw", [((2, 3, 7, 8), 3, 2, 2, 1), ((1, 2, 9, 9), 4, 4, 3, 3)])
def test_col2im_is_the_adjoint_of_im2col(shape, kh, kw, sh, sw):
    """<im2col(x), c> == <x, col2im(c)> for random x and c: col2im sums each column back where im2col read it."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape)
    cols = R.im2col(x, kh, kw, sh, sw)
    c = rng.normal(size=cols.shape)
    assert np.isclose((cols * c).sum(), (x * R.col2im(c, shape, kh, kw, sh, sw)).sum(), rtol=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# pooling

POOLS = [  # n, c, h, w, size, stride
    (2, 3, 8, 8, 2, 2),
    (2, 3, 9, 7, 2, 2),      # leftover rows and columns
    (2, 2, 9, 9, 3, 2),      # overlapping windows
    (1, 2, 10, 10, 3, 1),
    (2, 2, 11, 11, 2, 3),    # stride > size: pixels no window reads
    (1, 3, 7, 7, 3, 3),
    (2, 1, 5, 6, 1, 1),
]


def integers(rng, shape):
    return rng.integers(0, 2, size=shape).astype(np.float64)


INPUTS = {"normal": lambda rng, shape: rng.normal(size=shape), "ties {0,1}": integers,
          "all zero": lambda rng, shape: np.zeros(shape)}


@pytest.mark.parametrize("values", INPUTS)
@pytest.mark.parametrize("n, c, h, w, size, stride", POOLS)
def test_maxpool2d(torch, n, c, h, w, size, stride, values):
    """With ties the whole gradient of a window must go to its first maximum, as torch routes it."""
    rng = np.random.default_rng(h * 10 + size)
    x = INPUTS[values](rng, (n, c, h, w))
    out, cache = R.maxpool2d_forward(x, size, stride)
    upstream = rng.normal(size=out.shape)
    dx = R.maxpool2d_backward(upstream, cache)
    tx = leaf(torch, x)
    expected = torch.nn.functional.max_pool2d(tx, size, stride)
    expected.backward(torch.tensor(upstream))
    assert_close(out, expected)
    assert_close(dx, tx.grad)


def test_maxpool2d_propagates_nan(torch):
    """The four windows holding the one NaN have the maximum NaN, and their gradients go to it, as in torch."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 2, 6, 6))
    x[0, 1, 2, 2] = np.nan      # row and column 2: in all four windows
    out, cache = R.maxpool2d_forward(x, 3, 2)
    upstream = rng.normal(size=out.shape)
    tx = leaf(torch, x)
    expected = torch.nn.functional.max_pool2d(tx, 3, 2)
    expected.backward(torch.tensor(upstream))
    assert np.isnan(out).sum() == 4
    np.testing.assert_array_equal(out, expected.detach().numpy())   # NaNs compare equal here
    assert_close(R.maxpool2d_backward(upstream, cache), tx.grad)


@pytest.mark.parametrize("n, c, h, w, size, stride", POOLS)
def test_avgpool2d(torch, n, c, h, w, size, stride):
    rng = np.random.default_rng(h * 10 + size)
    x = rng.normal(size=(n, c, h, w))
    out, cache = R.avgpool2d_forward(x, size, stride)
    upstream = rng.normal(size=out.shape)
    dx = R.avgpool2d_backward(upstream, cache)
    tx = leaf(torch, x)
    expected = torch.nn.functional.avg_pool2d(tx, size, stride)
    expected.backward(torch.tensor(upstream))
    assert_close(out, expected)
    assert_close(dx, tx.grad)


@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (1, 1, 1, 1), (3, 2, 7, 7)])
def test_global_avgpool2d_and_flatten(torch, shape):
    rng = np.random.default_rng(len(shape))
    x = rng.normal(size=shape)
    for forward, backward, torch_op in [
        (R.global_avgpool2d_forward, R.global_avgpool2d_backward, lambda t: t.mean(dim=(2, 3))),
        (R.flatten_forward, R.flatten_backward, lambda t: torch.flatten(t, 1)),
    ]:
        out, cache = forward(x)
        upstream = rng.normal(size=out.shape)
        tx = leaf(torch, x)
        expected = torch_op(tx)
        expected.backward(torch.tensor(upstream))
        assert_close(out, expected)
        assert_close(backward(upstream, cache), tx.grad)


# ---------------------------------------------------------------------------------------------------------------
# dense, activations, losses


@pytest.mark.parametrize("n, i, o", [(1, 3, 2), (5, 7, 4), (8, 1, 6)])
def test_dense(torch, n, i, o):
    rng = np.random.default_rng(n + i + o)
    x, weight, bias = rng.normal(size=(n, i)), rng.normal(size=(i, o)), rng.normal(size=o)
    out, cache = R.dense_forward(x, weight, bias)
    upstream = rng.normal(size=out.shape)
    dx, dweight, dbias = R.dense_backward(upstream, cache)
    tx, tw, tb = leaf(torch, x), leaf(torch, weight), leaf(torch, bias)
    expected = tx @ tw + tb
    expected.backward(torch.tensor(upstream))
    for ours, theirs in [(out, expected), (dx, tx.grad), (dweight, tw.grad), (dbias, tb.grad)]:
        assert_close(ours, theirs)


TORCH_ACTIVATIONS = {
    "linear": lambda t, z: z * 1, "relu": lambda t, z: t.relu(z),
    "leakyrelu": lambda t, z: t.nn.functional.leaky_relu(z, 0.01), "sigmoid": lambda t, z: t.sigmoid(z),
    "tanh": lambda t, z: t.tanh(z), "softmax": lambda t, z: t.softmax(z, dim=-1),
}


@pytest.mark.parametrize("shape", [(4, 7), (2, 3, 6)])
@pytest.mark.parametrize("name", list(R.ACTIVATIONS))
def test_activation(torch, name, shape):
    """Exact zeros are included: the kinks of relu and leakyrelu must take torch's slopes there."""
    assert set(R.ACTIVATIONS) == set(TORCH_ACTIVATIONS)
    rng = np.random.default_rng(len(shape))
    z = rng.normal(size=shape) * 3
    z.reshape(-1)[::5] = 0.0
    forward, backward = R.ACTIVATIONS[name]
    out, cache = forward(z)
    upstream = rng.normal(size=shape)
    tz = leaf(torch, z)
    expected = TORCH_ACTIVATIONS[name](torch, tz)
    expected.backward(torch.tensor(upstream))
    assert_close(out, expected)
    assert_close(backward(upstream, cache), tz.grad)


def test_sigmoid_does_not_overflow(torch):
    z = np.array([-1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is the answer
        s, _ = R.sigmoid_forward(z)
    assert s[0] == 0.0 and s[-1] == 1.0
    assert_close(s, torch.sigmoid(torch.tensor(z)))


@pytest.mark.parametrize("targets", ["one-hot", "soft"])
@pytest.mark.parametrize("n, k", [(1, 3), (6, 5), (9, 10)])
def test_softmax_crossentropy(torch, n, k, targets):
    """The fused (p - y) / N equals torch's gradient of cross_entropy with respect to the logits."""
    rng = np.random.default_rng(n * k)
    logits = rng.normal(size=(n, k)) * 2
    if targets == "one-hot":
        labels = rng.integers(0, k, size=n)
        y, torch_target = np.eye(k)[labels], torch.tensor(labels)
    else:
        y = R.softmax_forward(rng.normal(size=(n, k)))[0]
        torch_target = torch.tensor(y)
    probs, _ = R.softmax_forward(logits)
    tz = leaf(torch, logits)
    loss = torch.nn.functional.cross_entropy(tz, torch_target)
    loss.backward()
    assert_close(R.softmax_crossentropy_backward(probs, y), tz.grad)
    assert_close(R.categorical_crossentropy(y, probs), loss)


@pytest.mark.parametrize("targets", ["binary", "soft"])
@pytest.mark.parametrize("shape", [(5, 1), (4, 3), (2, 3, 4)])
def test_sigmoid_bce(torch, shape, targets):
    """The fused (p - y) / size equals torch's gradient of binary_cross_entropy_with_logits (mean)."""
    rng = np.random.default_rng(len(shape))
    logits = rng.normal(size=shape) * 2
    y = rng.integers(0, 2, size=shape).astype(np.float64) if targets == "binary" else rng.random(shape)
    probs, _ = R.sigmoid_forward(logits)
    tz = leaf(torch, logits)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(tz, torch.tensor(y), reduction="mean")
    loss.backward()
    assert_close(R.sigmoid_bce_backward(probs, y), tz.grad)
    assert_close(R.bce(y, probs), loss)


# ---------------------------------------------------------------------------------------------------------------
# batch normalisation and dropout


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5, 6), (2, 3, 1, 1)])
def test_batchnorm(torch, shape, training):
    rng = np.random.default_rng(len(shape))
    channels, eps, momentum = shape[1], 1e-5, 0.1
    x = rng.normal(size=shape) * 3 + 1
    weight, bias = rng.normal(size=channels), rng.normal(size=channels)
    running_mean, running_var = rng.normal(size=channels), rng.random(channels) + 0.5
    if training:
        out, cache = R.batchnorm_forward(x, weight, bias, eps)
    else:
        out, cache = R.batchnorm_forward(x, weight, bias, eps, running_mean, running_var)
    upstream = rng.normal(size=shape)
    dx, dweight, dbias = R.batchnorm_backward(upstream, cache)

    tx, tw, tb = leaf(torch, x), leaf(torch, weight), leaf(torch, bias)
    t_mean, t_var = torch.tensor(running_mean), torch.tensor(running_var)
    expected = torch.nn.functional.batch_norm(tx, t_mean, t_var, tw, tb, training=training, momentum=momentum,
                                              eps=eps)
    expected.backward(torch.tensor(upstream))
    for ours, theirs in [(out, expected), (dx, tx.grad), (dweight, tw.grad), (dbias, tb.grad)]:
        assert_close(ours, theirs)
    if training:  # the cache's statistics give torch's running-statistics update
        m = cache["count"]
        assert m == x.size // channels
        assert_close((1 - momentum) * running_mean + momentum * cache["mean"], t_mean)
        assert_close((1 - momentum) * running_var + momentum * cache["var"] * m / (m - 1), t_var)


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.9])
def test_dropout_scales_as_torch(torch, rate):
    """torch's kept elements as the mask: the reference's output and gradient are torch's."""
    rng = np.random.default_rng(int(rate * 10))
    x = rng.normal(size=(4, 50))
    torch.manual_seed(0)
    tx = leaf(torch, x)
    expected = torch.nn.functional.dropout(tx, rate, training=True)
    upstream = rng.normal(size=x.shape)
    expected.backward(torch.tensor(upstream))
    mask = (expected.detach().numpy() != 0) / (1 - rate)
    out, cache = R.dropout_forward(x, mask)
    assert_close(out, expected)
    assert_close(R.dropout_backward(upstream, cache), tx.grad)


@pytest.mark.parametrize("rate", [0.0, 0.25, 0.8])
def test_dropout_mask_keeps_one_minus_rate(rate):
    uniform = np.random.default_rng(3).random((200, 500))
    uniform[:, ::50] = rate       # a draw equal to the rate is kept: P(uniform >= rate) = 1 - rate
    mask = R.dropout_mask(uniform, rate, np.float32)
    assert mask.dtype == np.float32
    np.testing.assert_array_equal(mask, np.where(uniform >= rate, np.float32(1 / (1 - rate)), 0))
    assert (mask[:, ::50] > 0).all()
    drawn = np.delete(mask, np.s_[::50], axis=1)  # the random draws only
    assert abs((drawn > 0).mean() - (1 - rate)) < 0.005
    assert abs(drawn.mean() - 1) < 0.02   # inverted dropout keeps the expected value


# ---------------------------------------------------------------------------------------------------------------
# dtype


def upstream_like(out):
    """A fixed gradient of out's shape and dtype."""
    return np.cos(np.arange(out.size)).reshape(out.shape).astype(out.dtype)


def chained(forward, backward):
    """A function of the forward's inputs returning (out, every gradient backward gives)."""
    def run(*args):
        out, cache = forward(*args)
        grads = backward(upstream_like(out), cache)
        return (out, *grads) if isinstance(grads, tuple) else (out, grads)
    return run


def float32_calls(rng):
    """name -> (a function of float32 arrays returning every output and gradient, its float64 inputs)."""
    x, c, f = rng.normal(size=(2, 3, 7, 7)), rng.normal(size=3), rng.normal(size=5)
    z = rng.normal(size=(4, 5))
    calls = {
        "conv2d": (chained(lambda *a: R.conv2d_forward(*a, (2, 1), (1, 0)), R.conv2d_backward),
                   (x, rng.normal(size=(5, 3, 3, 2)), f)),
        "maxpool2d": (chained(lambda x: R.maxpool2d_forward(x, 3, 2), R.maxpool2d_backward), (x,)),
        "avgpool2d": (chained(lambda x: R.avgpool2d_forward(x, 3, 2), R.avgpool2d_backward), (x,)),
        "global_avgpool2d": (chained(R.global_avgpool2d_forward, R.global_avgpool2d_backward), (x,)),
        "flatten": (chained(R.flatten_forward, R.flatten_backward), (x,)),
        "dense": (chained(R.dense_forward, R.dense_backward), (z, rng.normal(size=(5, 5)), f)),
        "batchnorm training": (chained(lambda *a: R.batchnorm_forward(*a, 1e-5), R.batchnorm_backward), (x, c, c)),
        "batchnorm inference": (chained(lambda x, w, b, m, v: R.batchnorm_forward(x, w, b, 1e-5, m, v),
                                        R.batchnorm_backward), (x, c, c, c, np.abs(c))),
        "dropout": (chained(lambda x, u: R.dropout_forward(x, R.dropout_mask(u, 0.3, x.dtype)), R.dropout_backward),
                    (z, rng.random((4, 5)))),
        "losses": (lambda p, y: (R.softmax_crossentropy_backward(p, y), R.sigmoid_bce_backward(p, y),
                                 R.categorical_crossentropy(y, p), R.bce(y, p)),
                   (rng.random((4, 5)), np.eye(5)[[0, 3, 1, 4]])),
    }
    for name, (forward, backward) in R.ACTIVATIONS.items():
        calls[name] = (chained(forward, backward), (z,))
    return calls


@pytest.mark.parametrize("name", list(float32_calls(np.random.default_rng(0))))
def test_float32_in_float32_out(name):
    function, inputs = float32_calls(np.random.default_rng(0))[name]
    results = function(*(a.astype(np.float32) for a in inputs))
    assert len(results) >= 2
    for result in results:
        assert result.dtype == np.float32, f"{name}: {result.dtype}"
    reference = function(*inputs)   # and the float32 numbers are the float64 ones, rounded
    for ours, exact in zip(results, reference):
        np.testing.assert_allclose(ours, exact, rtol=1e-4, atol=1e-5 * np.abs(exact).max())
