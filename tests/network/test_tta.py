"""Test-time augmentation: predict and evaluate with tta='flip' average each image's outputs with its mirror's."""
import numpy as np
import pytest

from scratchcnn import ConvLayer, Dense, Flatten, GlobalAveragePooling, MultiClassDense, Network, PoolingLayer
from scratchcnn.tta import averaged_outputs, check_tta


def photo_net():
    return Network([ConvLayer(3, 3, 4, padding=1), PoolingLayer(), Flatten(), MultiClassDense(4 * 4 * 4, 3)]).initialize(0)


def images(n=10, seed=0):
    return np.random.default_rng(seed).random((n, 3, 8, 8), dtype=np.float32)


def test_flip_averages_the_outputs_of_each_image_and_its_mirror():
    network, X = photo_net(), images()
    expected = (network.predict(X) + network.predict(X[..., ::-1].copy())) / 2
    np.testing.assert_allclose(network.predict(X, tta="flip"), expected, rtol=1e-6)
    np.testing.assert_allclose(network.predict(X[3], tta="flip"), expected[3], rtol=1e-6)  # one sample
    np.testing.assert_array_equal(network.predict(X, tta=None), network.predict(X))
    np.testing.assert_allclose(network.predict(X, tta="flip").sum(axis=1), 1, rtol=1e-6)  # still probabilities


def test_a_mirror_symmetric_network_is_unchanged_and_evaluate_scores_the_averaged_outputs():
    symmetric = Network([ConvLayer(1, 3, 4), GlobalAveragePooling(), MultiClassDense(4, 3)]).initialize(1)
    X, y = images(), np.arange(10) % 3
    np.testing.assert_allclose(symmetric.predict(X, tta="flip"), symmetric.predict(X), rtol=1e-5)
    network = photo_net()
    outputs, loss, accuracy = network.evaluate(X, y, "categorical_crossentropy", tta="flip")
    np.testing.assert_allclose(outputs, network.predict(X, tta="flip"), rtol=1e-6)
    assert accuracy == np.mean(outputs.argmax(axis=1) == y)
    scores = network.evaluate(X, y, "categorical_crossentropy", tta="flip", return_dict=True)
    assert scores["loss"] == pytest.approx(loss) and scores["accuracy"] == accuracy


@pytest.mark.parametrize("bad", ["Flip", "rotate", True, 1, ["flip"]])
def test_anything_but_none_or_flip_is_refused(bad):
    network, X = photo_net(), images(2)
    for call in (lambda: network.predict(X, tta=bad), lambda: network.evaluate(X, [0, 1], "categorical_crossentropy",
                                                                               tta=bad), lambda: check_tta(bad)):
        with pytest.raises(ValueError, match=r"expected None or 'flip'\. Received: tta="):
            call()


def test_flip_needs_images():
    network = Network([Dense(4, 2)])
    with pytest.raises(ValueError, match=r"expected images \(N, C, H, W\)"):
        network.predict(np.ones((3, 4)), tta="flip")
    with pytest.raises(ValueError, match="images"):
        averaged_outputs(lambda x: x, np.ones((2, 3, 4)), "flip")
