"""The two engines: the same seed trains the same network on 'fast' (threads, Winograd, cropping, scratch memory)
and on 'reference' (scratchcnn.reference, one thread), to rounding."""
import numpy as np
import pytest

from scratchcnn import (Activation, BatchNorm, ConvLayer, Dense, Dropout, Flatten, GlobalAveragePooling,
                        MultiClassDense, Network, PoolingLayer, Residual, load_model, losses, parallel)
from scratchcnn.engine.passes import Passes

CCE = (losses.categorical_crossentropy, losses.categorical_crossentropy_derivative)
BCE = (losses.bce_loss, losses.bce_loss_derivative)


def report_style():
    """The report's listings, scaled down: conv 5x5 on one channel (shifted copies on the fast engine), conv 6x6 over
    8 channels (Winograd), max pooling, dense, softmax."""
    layers = [ConvLayer(5, 1, 8), ConvLayer(6, 8, 8), PoolingLayer(), Flatten(), Dense(8 * 5 * 5, 16),
              MultiClassDense(16, 3)]
    return layers, (1, 20, 20), CCE


def padded_strided():
    """Padding, strides (space-to-depth), a cropped convolution before pooling, average pooling, a sigmoid output."""
    layers = [ConvLayer(4, 2, 4, stride=2, padding=1), PoolingLayer(2, mode="avg"), ConvLayer(3, 4, 6, stride=1),
              PoolingLayer(2, stride=1), Flatten(), Dense(6 * 1 * 1, 1, activation="sigmoid")]
    return layers, (2, 19, 19), BCE


def batchnorm_dropout_global():
    layers = [ConvLayer(3, 3, 8, padding=1, activation="linear"), BatchNorm(8), Activation("relu"), PoolingLayer(),
              ConvLayer(3, 8, 8, padding=1, activation="linear"), BatchNorm(8), Activation("leakyrelu"),
              GlobalAveragePooling(), Dropout(0.3), Dense(8, 8, activation="tanh"), BatchNorm(8), MultiClassDense(8, 4)]
    return layers, (3, 12, 12), CCE


def residual_blocks():
    """Residual blocks: an identity block with Dropout and BatchNorm inside, a strided one with a 1x1 projection,
    and one whose body crops its convolution for the max pooling after it (and leaves it the ReLU), with an average
    pooling shortcut; that block's own ReLU goes to the max pooling after it."""
    identity = Residual([ConvLayer(3, 6, 6, padding=1, activation="linear"), BatchNorm(6), Activation("relu"),
                         Dropout(0.2), ConvLayer(3, 6, 6, padding=1, activation="linear"), BatchNorm(6)])
    strided = Residual([ConvLayer(3, 6, 8, stride=2, padding=1, activation="linear"), BatchNorm(8), Activation("relu"),
                        ConvLayer(3, 8, 8, padding=1, activation="linear"), BatchNorm(8)],
                       shortcut=[ConvLayer(1, 6, 8, stride=2, activation="linear"), BatchNorm(8)])
    cropped = Residual([ConvLayer(2, 8, 8), PoolingLayer()], shortcut=[PoolingLayer(3, stride=2, mode="avg")])
    layers = [ConvLayer(3, 3, 6, padding=1), identity, strided, cropped, PoolingLayer(), GlobalAveragePooling(),
              MultiClassDense(8, 4)]
    return layers, (3, 12, 12), CCE


def data(shape, outputs, seed=0, n=96):
    rng = np.random.default_rng(seed)
    X = rng.random((n, *shape))
    labels = rng.integers(0, max(outputs, 2), n)
    return X, (labels[:, None].astype(float) if outputs == 1 else labels)


def trained(make, engine, dtype, threads):
    layers, shape, loss = make()
    network = Network(layers, dtype=dtype, engine=engine)
    parallel.set_num_threads(threads)
    try:
        X, y = data(shape, network.output_shapes(shape)[-1][1][0])
        history = network.train(X, y, 2, 0.05, *loss, log_file=None, batch_size=32, seed=7, verbose=0)
    finally:
        parallel.set_num_threads(None)
    return network, history, X


def relative_error(a, b):
    """The largest difference relative to the array's largest value (at least 0.01: a convolution's bias before
    BatchNorm has no gradient, and stays at the rounding noise of zero)."""
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-2))


@pytest.mark.parametrize("make", [report_style, padded_strided, batchnorm_dropout_global, residual_blocks])
@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-4), ("float64", 1e-10)])
def test_the_same_seed_trains_alike_on_both_engines(make, dtype, tolerance):
    fast, fast_history, X = trained(make, "fast", dtype, threads=2)  # batches of 32 in two shards of 16
    reference, reference_history, _ = trained(make, "reference", dtype, threads=2)
    for ours, theirs in zip(fast.get_weights(), reference.get_weights(), strict=True):  # parameters and buffers
        assert ours.dtype == theirs.dtype == np.dtype(dtype)
        assert relative_error(ours, theirs) <= tolerance
    np.testing.assert_allclose(fast_history.history["loss"], reference_history.history["loss"], rtol=tolerance * 10)
    assert relative_error(fast.predict(X), reference.predict(X)) <= tolerance * 10


def test_the_fast_engine_really_took_its_own_paths_and_the_reference_none_of_them(monkeypatch):
    """Winograd and the shards on 'fast'; on 'reference', no call of scratchcnn.functional at all."""
    from scratchcnn import functional
    from scratchcnn.functional import winograd
    calls = []
    monkeypatch.setattr(winograd, "winograd_forward",
                        lambda *args, original=winograd.winograd_forward, **kw: calls.append("winograd") or
                        original(*args, **kw))
    trained(report_style, "fast", "float32", threads=2)
    assert "winograd" in calls
    for name in ("conv2d_forward", "maxpool2d_forward", "linear_forward"):
        monkeypatch.setattr(functional, name, lambda *args, **kw: pytest.fail("the fast engine ran"))
    trained(report_style, "reference", "float32", threads=2)


def test_the_reference_engine_trains_and_predicts_on_one_thread(monkeypatch):
    from scratchcnn.engine import threads
    steps, pieces = [], []
    original_run, original_pieces = threads.TrainingShards.run, threads.predict_pieces
    monkeypatch.setattr(threads.TrainingShards, "run", lambda self, size, bounds, work: steps.append(len(bounds)) or
                        original_run(self, size, bounds, work))
    monkeypatch.setattr("scratchcnn.network.predict_pieces", lambda *args: pieces.append(args[4]) or
                        original_pieces(*args))
    network, _, X = trained(batchnorm_dropout_global, "reference", "float32", threads=2)
    parallel.set_num_threads(2)
    network.predict(X)
    parallel.set_num_threads(None)
    assert set(steps) == {1} and pieces == [1]


def test_engine_is_checked_and_settable():
    network = Network([Dense(3, 2)])
    assert network.engine == "fast"
    network.engine = "reference"
    assert network.engine == "reference"
    for bad in ("slow", None, 1):
        with pytest.raises(ValueError, match=r"expected 'fast' or 'reference'\. Received: engine="):
            network.engine = bad
    with pytest.raises(ValueError, match="engine='gpu'"):
        Network([Dense(3, 2)], engine="gpu")


def test_the_engine_is_not_saved_in_the_model_file(tmp_path):
    network, _, X = trained(padded_strided, "reference", "float32", threads=1)
    network.save_model(tmp_path / "m.model")
    loaded = load_model(tmp_path / "m.model")
    assert loaded.engine == "fast"
    np.testing.assert_allclose(loaded.predict(X), network.predict(X), rtol=1e-5, atol=1e-6)
    other = Network([Dense(2, 2)], engine="reference")
    assert other.load_model(tmp_path / "m.model").engine == "reference"


def test_switching_the_engine_of_a_trained_network_gives_the_same_outputs_and_gradients():
    network, _, X = trained(batchnorm_dropout_global, "fast", "float64", threads=1)
    out = network.forward(X[:8])
    grad = network.backward(np.ones_like(out))
    fast_grads = [p.grad.copy() for p in network.parameters()]
    network.engine = "reference"
    np.testing.assert_allclose(network.forward(X[:8]), out, rtol=1e-10)
    np.testing.assert_allclose(network.backward(np.ones_like(out)), grad, rtol=1e-9, atol=1e-12)
    for ours, theirs in zip((p.grad for p in network.parameters()), fast_grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_a_step_through_the_reference_passes_reads_as_the_textbook():
    """The passes a debugger steps through: every layer's reference forward, then its backward, in order."""
    network = Network(report_style()[0], engine="reference").initialize(0)
    passes = Passes(network.layers, network._plan((1, 20, 20)))
    X = np.random.default_rng(0).random((2, 1, 20, 20), dtype=np.float32)
    timings = [[0.0, 0.0] for _ in network.layers]
    out = passes.forward(X, training=True, timings=timings)
    assert out.shape == (2, 3) and np.allclose(out.sum(axis=1), 1)
    assert passes.backward(out - np.eye(3, dtype=np.float32)[[0, 1]], from_logits=True, timings=timings).shape == X.shape
    assert all(forward > 0 and backward > 0 for forward, backward in timings)


def test_the_fast_engine_plans_inside_residual_blocks():
    """The cropped block's body crops its convolution and leaves its ReLU to the pooling, as outside a block; the
    block's own ReLU goes to the max pooling after it; in training the first layer inside a first block skips its
    input gradient."""
    layers, shape, _ = residual_blocks()
    network = Network(layers)
    plan = network._plan(shape)
    body = plan.layers[3].inner["body"]
    assert body.crops[0] == (5, 5) and body.layers[0].defer_activation and body.layers[1].relu_after_max
    assert plan.layers[3].defer_activation and plan.layers[4].relu_after_max
    assert set(plan.layers[3].inner) == {"body", "shortcut"} and set(plan.layers[1].inner) == {"body"}
    first = Network([residual_blocks()[0][2], GlobalAveragePooling(), MultiClassDense(8, 2)])
    shards = first._plan((6, 8, 8), "train", 1)
    inner = shards.passes[0].plan.layers[0].inner
    assert not inner["body"].layers[0].need_input_grad and not inner["shortcut"].layers[0].need_input_grad
    assert inner["body"].layers[1].need_input_grad
    X = np.random.default_rng(0).random((8, 6, 8, 8))
    history = first.train(X, np.arange(8) % 2, 1, 0.01, *CCE, log_file=None, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])
