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
