"""Saliency maps and Grad-CAM (scratchcnn.explain): finite-difference checks on tiny float64 networks, and a
network built so that the Grad-CAM answer is known."""
import numpy as np
import pytest

from scratchcnn import ConvLayer, Dense, Flatten, MultiClassDense, Network, PoolingLayer
from scratchcnn.explain import grad_cam_map, saliency_map, upsample_bilinear

EPS = 1e-6


def tanh_net(last="linear", classes=3):
    """(2, 6, 6) -> conv 3x3 tanh (3, 4, 4) -> Dense 4 tanh -> `classes` scores (linear) or probabilities (softmax)."""
    head = Dense(4, classes, activation="linear") if last == "linear" else MultiClassDense(4, classes)
    return Network([ConvLayer(3, 2, 3, activation="tanh"), Flatten(), Dense(48, 4, activation="tanh"), head],
                   dtype="float64").initialize(seed=3)


def numerical_gradient(function, x):
    """d function(x) / dx by central differences, x of any shape."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = EPS
        grad[index] = (function(x + step) - function(x - step)) / (2 * EPS)
    return grad


def sample(shape=(2, 6, 6), seed=0):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("class_index", [0, 2])
def test_saliency_is_the_absolute_score_gradient_by_finite_differences(class_index):
    network, x = tanh_net(), sample()
    expected = np.abs(numerical_gradient(lambda v: network.predict(v[None])[0, class_index], x)).max(axis=0)
    np.testing.assert_allclose(saliency_map(network, x, class_index), expected, rtol=1e-6, atol=1e-9)


def test_saliency_of_a_softmax_network_explains_the_score_before_the_softmax():
    linear, softmax = tanh_net(), tanh_net(last="softmax")
    softmax.set_weights(linear.get_weights())
    x = sample(seed=1)
    np.testing.assert_allclose(saliency_map(softmax, x, 1), saliency_map(linear, x, 1), rtol=1e-12)


def test_saliency_defaults_to_the_predicted_class():
    network, x = tanh_net(), sample(seed=2)
    predicted = int(np.argmax(network.predict(x[None])[0]))
    np.testing.assert_array_equal(saliency_map(network, x), saliency_map(network, x, predicted))


def test_a_single_sigmoid_unit_explains_either_class_with_the_same_magnitude():
    network = Network([ConvLayer(3, 1, 2, activation="tanh"), Flatten(), Dense(32, 1, activation="sigmoid")],
                      dtype="float64").initialize(seed=0)
    x = sample((1, 6, 6))
    np.testing.assert_allclose(saliency_map(network, x, 0), saliency_map(network, x, 1))
    with pytest.raises(ValueError, match=r"expected an integer in \[0, 1\].*Received: class_index=2"):
        saliency_map(network, x, 2)


def _features_and_score(network, index, x, class_index):
    """The feature maps A of layer `index` for x, and score(A): the later layers' output for class_index."""
    features = x[None]
    for layer in network.layers[:index + 1]:
        features = layer.forward(features, training=False)

    def score(a):
        out = a[None]
        for layer in network.layers[index + 1:]:
            out = layer.forward(out, training=False)
        return out[0, class_index]
    return features[0], score


@pytest.mark.parametrize("class_index", [0, 1])
def test_grad_cam_matches_its_definition_with_finite_difference_gradients(class_index):
    """relu(sum_k mean(dScore/dA_k) A_k), upsampled from the pooled (3, 4, 4) maps to the (8, 8) input."""
    network = Network([ConvLayer(3, 1, 3, padding=1, activation="relu"), PoolingLayer(), Flatten(),
                       Dense(48, 5, activation="tanh"), Dense(5, 2, activation="linear")], dtype="float64")
    network.initialize(seed=1)
    x = np.abs(sample((1, 8, 8), seed=4))
    features, score = _features_and_score(network, 1, x, class_index)  # after the pooling layer
    alpha = numerical_gradient(score, features).mean(axis=(1, 2))        # (3,)
    expected = upsample_bilinear(np.maximum(np.tensordot(alpha, features, axes=1), 0), (8, 8))
    cam = grad_cam_map(network, x, layer_index=1, class_index=class_index)
    assert cam.shape == (8, 8) and cam.min() >= 0
    np.testing.assert_allclose(cam, expected, rtol=1e-6, atol=1e-9)


def _two_region_network(head):
    """Input (2, 8, 8); a 1x1 convolution copies both channels (A = x); class c's score is the sum of channel c."""
    conv = ConvLayer(1, 2, 2, activation="linear")
    network = Network([conv, Flatten(), head], dtype="float64")
    network.layers[0].weight.value[...] = np.eye(2).reshape(2, 2, 1, 1)
    network.layers[0].bias.value[...] = 0
    weight = np.zeros((128, 2))
    weight[:64, 0] = 1  # Flatten keeps (C, H, W) order: channel 0 is the first 64 features
    weight[64:, 1] = 1
    network.layers[2].weight.value[...] = weight
    network.layers[2].bias.value[...] = 0
    return network


@pytest.mark.parametrize("head", [lambda: Dense(128, 2, activation="linear"), lambda: MultiClassDense(128, 2)],
                         ids=["scores", "softmax"])
def test_grad_cam_finds_the_region_a_class_depends_on(head):
    network = _two_region_network(head())
    x = np.zeros((2, 8, 8))
    x[0, :3, :3] = 1.0  # the evidence for class 0 lies top left, on channel 0
    x[1, 5:, 5:] = 2.0  # that for class 1 bottom right, on channel 1
    np.testing.assert_allclose(grad_cam_map(network, x, class_index=0), x[0])  # alpha = (1, 0): the map is A_0
    np.testing.assert_allclose(grad_cam_map(network, x, class_index=1), x[1])
    np.testing.assert_allclose(grad_cam_map(network, x), x[1])  # class 1 has the larger score: predicted


def test_grad_cam_is_zero_where_every_channel_counts_against_the_class():
    network = _two_region_network(Dense(128, 2, activation="linear"))
    network.layers[2].weight.value *= -1  # both classes' scores now fall as their channel grows
    x = np.abs(sample((2, 8, 8)))
    assert not grad_cam_map(network, x, class_index=0).any()


def test_upsample_bilinear_agrees_with_torch(torch):
    image = sample((3, 5), seed=7)
    theirs = torch.nn.functional.interpolate(torch.tensor(image)[None, None], size=(7, 12), mode="bilinear",
                                             align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(upsample_bilinear(image, (7, 12)), theirs, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(upsample_bilinear(image, (3, 5)), image)


@pytest.mark.parametrize("call, message", [
    (lambda n: grad_cam_map(n, sample()), None),
    (lambda n: grad_cam_map(n, sample(), layer_index=3), r"in \[0, 2\]. Received: layer_index=3"),
    (lambda n: grad_cam_map(n, sample(), layer_index=-1), "Received: layer_index=-1"),
    (lambda n: grad_cam_map(n, sample(), layer_index=2), r"\(Dense\) gives an output of shape \(4,\), expected feature"),
    (lambda n: grad_cam_map(n, sample(), layer_index=True), "Received: layer_index=True"),
    (lambda n: saliency_map(n, sample()[None]), r"expected one image \(C, H, W\).*x.shape=\(1, 2, 6, 6\)"),
    (lambda n: saliency_map(n, sample(), class_index=3), r"\[0, 2\] for a network of 3 classes.*class_index=3"),
    (lambda n: saliency_map(n, sample(), class_index=1.0), "Received: class_index=1.0"),
])
def test_bad_arguments_name_what_was_received(call, message):
    network = tanh_net()
    if message is None:  # the default layer is the last ConvLayer: here layer 0
        np.testing.assert_array_equal(call(network), grad_cam_map(network, sample(), layer_index=0))
        return
    with pytest.raises(ValueError, match=message):
        call(network)


def test_grad_cam_needs_a_conv_layer_or_a_layer_index():
    network = Network([Flatten(), Dense(72, 2)])
    with pytest.raises(ValueError, match="without a ConvLayer"):
        grad_cam_map(network, sample())
