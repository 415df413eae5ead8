"""One training step, three ways: the fused softmax/cross-entropy gradient, the unfused chain rule, PyTorch.

Everything runs in float64 (`Network(dtype='float64')`), so the three must agree to 1e-10.
Also: a mini-batch gradient is the mean of the per-sample gradients.
"""
import numpy as np
import pytest

from scratchcnn import ConvLayer, Dense, Flatten, MultiClassDense, Network, PoolingLayer, losses
from scratchcnn.losses import (bce_loss, bce_loss_derivative, categorical_crossentropy,
                               categorical_crossentropy_derivative, mse_loss, mse_loss_derivative)

TOLERANCE = 1e-10
LEARNING_RATE = 0.5
SEED = 21


def small_cnn():
    """(N, 1, 6, 6) -> conv 3x3 (2, 4, 4) -> max pool (2, 2, 2) -> flatten (8,) -> softmax over 3 classes."""
    return Network([ConvLayer(3, 1, 2), PoolingLayer(), Flatten(), MultiClassDense(8, 3)], dtype="float64")


def binary_net():
    return Network([Dense(4, 3, activation="tanh"), Dense(3, 1, activation="sigmoid")], dtype="float64")


def images(count=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(count, 1, 6, 6)), rng.integers(0, 3, size=count)


def values(network):
    return [param.value.copy() for param in network.parameters()]


def assert_close(ours, theirs):
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=TOLERANCE, atol=TOLERANCE)


def library_step(X, labels, loss_fn, loss_fn_derivative, make=small_cnn):
    """One SGD step of Network.train over the whole batch, in order."""
    network = make()
    network.train(X, labels, 1, LEARNING_RATE, loss_fn, loss_fn_derivative, log_file=None, batch_size=len(X),
                  shuffle=False, seed=SEED, verbose=0)
    return values(network)


def unfused_step_by_hand(X, targets, loss_derivative, make=small_cnn):
    """d loss / d output, then back through the output activation and every layer; w -= lr * grad."""
    network = make().initialize(SEED)
    out = network.forward(X, training=True)
    network.backward(loss_derivative(targets, out))
    return [param.value - LEARNING_RATE * param.grad for param in network.parameters()]


def torch_step(torch, X, labels, initial):
    """The same network in PyTorch, from the same initial weights; returns the weights after one SGD step."""
    functional = torch.nn.functional
    conv_w, conv_b, dense_w, dense_b = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in initial]
    x = torch.tensor(X, dtype=torch.float64)
    hidden = functional.max_pool2d(torch.relu(functional.conv2d(x, conv_w, conv_b)), 2)  # N,2,2,2
    logits = hidden.reshape(len(X), -1) @ dense_w + dense_b                               # N,3
    functional.cross_entropy(logits, torch.tensor(labels)).backward()  # mean over the batch
    return [(w - LEARNING_RATE * w.grad).detach().numpy() for w in (conv_w, conv_b, dense_w, dense_b)]


def test_fused_step_equals_the_unfused_chain_rule_and_pytorch(torch):
    X, labels = images()
    initial = values(small_cnn().initialize(SEED))
    fused = library_step(X, labels, categorical_crossentropy, categorical_crossentropy_derivative)
    assert min(np.abs(new - old).max() for new, old in zip(fused, initial)) > 1e-4  # the step moved every weight

    by_hand = unfused_step_by_hand(X, np.eye(3)[labels], categorical_crossentropy_derivative)
    assert_close(fused, by_hand)
    assert_close(fused, torch_step(torch, X, labels, initial))


def test_training_without_fusion_takes_the_same_step():
    """A derivative the library does not recognise goes the unfused way through softmax backward."""
    X, labels = images()
    fused = library_step(X, labels, categorical_crossentropy, categorical_crossentropy_derivative)
    unfused = library_step(X, labels, categorical_crossentropy,
                           lambda y_true, y_pred: categorical_crossentropy_derivative(y_true, y_pred))
    assert_close(fused, unfused)


def test_fused_sigmoid_bce_step_equals_the_unfused_chain_rule():
    rng = np.random.default_rng(1)
    X, targets = rng.normal(size=(6, 4)), rng.integers(0, 2, size=(6, 1)).astype(np.float64)
    fused = library_step(X, targets, bce_loss, bce_loss_derivative, make=binary_net)
    assert_close(fused, unfused_step_by_hand(X, targets, bce_loss_derivative, make=binary_net))


# -- mini-batch gradient = mean of per-sample gradients -------------------------
CASES = {
    "cnn-cce-unfused": (small_cnn, categorical_crossentropy, categorical_crossentropy_derivative, False),
    "cnn-cce-fused": (small_cnn, categorical_crossentropy, categorical_crossentropy_derivative, True),
    "cnn-mse": (small_cnn, mse_loss, mse_loss_derivative, False),
    "dense-bce-fused": (binary_net, bce_loss, bce_loss_derivative, True),
}


def gradients(network, X, targets, loss_fn, loss_fn_derivative, fused):
    out = network.forward(X, training=True)
    if fused:
        gradient = losses.fused_gradient(loss_fn, loss_fn_derivative, network.layers[-1].activation)
        network.backward(gradient(targets, out), from_logits=True)
    else:
        network.backward(loss_fn_derivative(targets, out))
    return [param.grad.copy() for param in network.parameters()]


@pytest.mark.parametrize("case", list(CASES))
def test_batch_gradient_is_the_mean_of_per_sample_gradients(case):
    make, loss_fn, loss_fn_derivative, fused = CASES[case]
    rng = np.random.default_rng(7)
    if make is small_cnn:
        X, labels = images(count=6, seed=3)
        targets = np.eye(3)[labels]
    else:
        X, targets = rng.normal(size=(6, 4)), rng.integers(0, 2, size=(6, 1)).astype(np.float64)
    network = make().initialize(5)
    batch = gradients(network, X, targets, loss_fn, loss_fn_derivative, fused)
    per_sample = [gradients(network, X[i:i + 1], targets[i:i + 1], loss_fn, loss_fn_derivative, fused)
                  for i in range(len(X))]
    mean = [np.mean(grads, axis=0) for grads in zip(*per_sample)]
    assert all(np.abs(g).max() > 1e-6 for g in batch)  # a real gradient, not zeros
    for ours, expected in zip(batch, mean, strict=True):
        np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-14)
