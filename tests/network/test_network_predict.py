"""predict: batch by batch, the same numbers as one forward pass; single samples and nested lists too."""
import numpy as np
import pytest

from scratchcnn import ConvLayer, Dense, Flatten, MultiClassDense, Network, PoolingLayer


def small_cnn():
    return Network([ConvLayer(3, 1, 4), PoolingLayer(), Flatten(), MultiClassDense(16, 3)]).initialize(0)


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(20, 1, 6, 6)).astype(np.float32)


def test_predict_in_batches_of_7_equals_one_batch_and_forward(X):
    network = small_cnn()
    whole = network.predict(X, batch_size=256)
    assert whole.shape == (20, 3) and whole.dtype == np.float32
    assert np.array_equal(network.predict(X, batch_size=7), whole)  # 7 + 7 + 6
    assert np.array_equal(network.forward(X), whole)
    assert np.array_equal(network.predict(X), whole)  # default batch_size


def test_predict_one_sample_at_a_time_agrees_to_rounding(X):
    """A batch of one goes through BLAS's matrix-vector kernel, whose float32 rounding may differ by an ulp."""
    network = small_cnn()
    np.testing.assert_allclose(network.predict(X, batch_size=1), network.predict(X), rtol=1e-6, atol=1e-7)


def test_predict_of_one_unbatched_sample_is_that_row(X):
    network = small_cnn()
    out = network.predict(X[3])
    assert out.shape == (3,)
    assert np.array_equal(out, network.predict(X[3:4])[0])
    np.testing.assert_allclose(out, network.predict(X)[3], rtol=1e-6, atol=1e-7)


def test_predict_accepts_nested_lists(X):
    network = small_cnn()
    assert np.array_equal(network.predict(X.tolist()), network.predict(X))
    dense = Network([Dense(2, 2, activation="tanh"), Dense(2, 1, activation="sigmoid")]).initialize(0)
    assert dense.predict([[0, 1], [1, 0]]).shape == (2, 1)
    assert dense.predict([0, 1]).shape == (1,)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, None])
def test_predict_refuses_an_invalid_batch_size(X, batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        small_cnn().predict(X, batch_size=batch_size)


def test_predict_refuses_an_empty_batch():
    with pytest.raises(ValueError, match="empty"):
        small_cnn().predict(np.zeros((0, 1, 6, 6)))


@pytest.mark.parametrize("threads", [1, 2])
def test_predict_reuses_its_buffers_without_mixing_pieces_up(threads):
    """The report's cats/dogs net (space-to-depth, Winograd rows-first output, pooling from the layers' kept
    buffers): pieces of 32 on one or two threads, twice over, give the numbers of one forward pass per batch."""
    from scratchcnn import parallel, zoo

    network = zoo.report_catsdogs_net().initialize(0)
    X = np.random.default_rng(1).random((150, 3, 50, 50), dtype=np.float32)
    expected = np.concatenate([network.forward(X[start:start + 64]) for start in range(0, 150, 64)])
    parallel.set_num_threads(threads)
    try:
        first = network.predict(X, batch_size=64)
        second = network.predict(X[::-1].copy(), batch_size=64)[::-1]
    finally:
        parallel.set_num_threads(None)
    np.testing.assert_allclose(first, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(second, expected, rtol=1e-5, atol=1e-6)


def test_outputs_outside_predict_are_the_callers_to_keep():
    """forward's outputs, the network's and a single layer's, are fresh arrays: a later call does not write
    over them (only predict lends its layers' outputs from their buffers)."""
    from scratchcnn import zoo

    network = zoo.report_catsdogs_net().initialize(0)
    rng = np.random.default_rng(2)
    x1, x2 = rng.random((2, 4, 3, 50, 50), dtype=np.float32)
    out = network.forward(x1)
    kept = out.copy()
    network.predict(x2)
    network.forward(x2)
    assert np.array_equal(out, kept)
    conv, pool = network.layers[:2]
    feature_maps = conv.forward(x1)
    pooled = pool.forward(feature_maps)
    maps_kept, pooled_kept = feature_maps.copy(), pooled.copy()
    pool.forward(conv.forward(x2))
    assert np.array_equal(feature_maps, maps_kept) and np.array_equal(pooled, pooled_kept)
