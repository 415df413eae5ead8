"""Bad input at every public entry point: train, predict, evaluate and summary refuse it at the edge.

One table: each row calls an entry point with one thing wrong and names the error type
and the words its message must hold (what was received, what was expected).
"""
import numpy as np
import pytest

from scratchcnn import SGD, Callback, ConvLayer, Dense, Flatten, MultiClassDense, Network, PoolingLayer
from scratchcnn.losses import (bce_loss, bce_loss_derivative, categorical_crossentropy,
                               categorical_crossentropy_derivative)

CCE = (categorical_crossentropy, categorical_crossentropy_derivative)
BCE = (bce_loss, bce_loss_derivative)
X = np.random.default_rng(0).normal(size=(6, 1, 8, 8)).astype(np.float32)  # conv_net's input
Y = np.array([0, 1, 2, 0, 1, 2])
X_BINARY = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)  # binary_net's input
Y_BINARY = np.array([0, 1, 1, 0, 1, 0])


def conv_net():
    """(N, 1, 8, 8) -> (N, 3): conv 3x3 -> (2, 6, 6), pool -> (2, 3, 3), flatten -> 18, softmax over 3."""
    return Network([ConvLayer(3, 1, 2), PoolingLayer(2), Flatten(), MultiClassDense(18, 3)])


def binary_net():
    """(N, 4) -> (N, 1): one sigmoid unit."""
    return Network([Dense(4, 5, activation="tanh"), Dense(5, 1, activation="sigmoid")])


def train(X=X, y=Y, epochs=1, learning_rate=0.1, loss=CCE, network=conv_net, **options):
    options = {"log_file": None, "verbose": 0, "seed": 0, **options}
    return lambda: network().train(X, y, epochs, learning_rate, *loss, **options)


def predict(X, network=conv_net, **options):
    return lambda: network().predict(X, **options)


def evaluate(X=X, y=Y, loss_fn=categorical_crossentropy, **options):
    return lambda: conv_net().evaluate(X, y, loss_fn, **options)


def summary(network=conv_net, **options):
    return lambda: network().summary(print_fn=None, **options)


def with_value(array, index, value):
    array = np.array(array, dtype=np.float32)
    array[index] = value
    return array


def train_twice(first_lr, second_lr):
    def call():
        network = conv_net()
        network.train(X, Y, 1, first_lr, *CCE, log_file=None, verbose=0, seed=0)
        network.train(X, Y, 1, second_lr, *CCE, log_file=None, verbose=0, seed=0)
    return call


def train_with_optimizer(learning_rate):
    def call():
        network = conv_net()
        network.train(X, Y, 1, learning_rate, *CCE, log_file=None, verbose=0, seed=0,
                      optimizer=SGD(network.parameters(), lr=0.1))
    return call


RAGGED = [np.zeros((1, 8, 8)).tolist(), np.zeros((1, 7, 8)).tolist()]
STRINGS = np.full((6, 1, 8, 8), "a")

CATALOGUE = [
    # -- Network.train: the data ------------------------------------------------------------
    pytest.param(train(X=RAGGED, y=Y[:2]), ValueError, ["ragged nested list for X"], id="train-ragged-X"),
    pytest.param(train(X=X[:, 0]), ValueError, ["X of shape (6, 8, 8)", "rank 4"], id="train-X-rank-3"),
    pytest.param(train(X=X[:, None]), ValueError, ["X of shape (6, 1, 1, 8, 8)", "rank 4"], id="train-X-rank-5"),
    pytest.param(train(X=np.zeros((6, 3, 8, 8))), ValueError, ["(3, 8, 8)", "depth=1"], id="train-wrong-channels"),
    pytest.param(train(X=np.zeros((6, 1, 2, 2))), ValueError, ["(1, 2, 2)", "at least 3"], id="train-image-too-small-for-conv"),
    pytest.param(train(X=np.zeros((6, 1, 3, 3))), ValueError, ["PoolingLayer", "(2, 1, 1)", "at least size=2"],
                 id="train-image-too-small-for-pooling"),
    pytest.param(train(X=np.zeros((6, 1, 10, 10))), ValueError, ["(32,)", "input_dim=18"], id="train-image-too-big-for-dense"),
    pytest.param(train(X=with_value(X, (2, 0, 3, 3), np.nan)), ValueError, ["NaN or inf in X"], id="train-nan-in-X"),
    pytest.param(train(X=with_value(X, (0, 0, 0, 0), -np.inf)), ValueError, ["NaN or inf in X"], id="train-inf-in-X"),
    pytest.param(train(X=np.zeros((0, 1, 8, 8)), y=[]), ValueError, ["empty X", "0 samples"], id="train-empty-X"),
    pytest.param(train(X=[], y=[]), ValueError, ["X of shape (0,)"], id="train-empty-list"),
    pytest.param(train(X=STRINGS), ValueError, ["non-numeric data for X", "<U1"], id="train-string-X"),
    pytest.param(train(X=[object()] * 6), ValueError, ["non-numeric data for X", "dtype=object"], id="train-object-X"),
    pytest.param(train(X=X.astype(complex)), ValueError, ["complex numbers for X"], id="train-complex-X"),
    pytest.param(train(y=None), ValueError, ["X without y"], id="train-no-labels"),
    pytest.param(train(y=Y[:5]), ValueError, ["5 labels for y", "one label per sample (6)"], id="train-labels-too-few"),
    pytest.param(train(y=np.arange(7) % 3), ValueError, ["7 labels for y", "(6)"], id="train-labels-too-many"),
    pytest.param(train(y=[0, 1, 2, 3, 0, 1]), ValueError, ["from 0 to 3", "[0, 2]", "3 classes"], id="train-label-too-big"),
    pytest.param(train(y=[-1, 1, 2, 0, 0, 1]), ValueError, ["from -1 to 2", "[0, 2]"], id="train-label-negative"),
    pytest.param(train(y=[0.5, 1, 2, 0, 0, 1]), ValueError, ["non-integer class labels"], id="train-label-fractional"),
    pytest.param(train(y=np.eye(4)[[0, 1, 2, 3, 0, 1]]), ValueError, ["labels of shape (6, 4)", "expected (6, 3)"],
                 id="train-one-hot-too-wide"),
    pytest.param(train(y=np.zeros((6, 3, 1))), ValueError, ["labels of shape (6, 3, 1)", "expected (6, 3)"],
                 id="train-labels-wrong-rank"),
    pytest.param(train(y=with_value(Y, 3, np.nan)), ValueError, ["NaN or inf in y"], id="train-nan-label"),
    pytest.param(train(y=list("abcabc")), ValueError, ["non-numeric data for y"], id="train-string-labels"),
    pytest.param(train(network=Network), ValueError, ["no layers"], id="train-empty-network"),
    pytest.param(train(val_X=X), ValueError, ["val_X without val_y"], id="train-val-X-without-val-y"),
    pytest.param(train(val_X=X, val_y=[0, 1, 2, 5, 0, 1]), ValueError, ["val_y", "[0, 2]"], id="train-val-label-out-of-range"),
    pytest.param(train(val_X=np.zeros((6, 3, 8, 8)), val_y=Y), ValueError, ["val_X", "(3, 8, 8)"], id="train-val-X-wrong-channels"),
    # -- Network.train: the loss --------------------------------------------------------------
    pytest.param(train(loss=BCE), ValueError, ["bce_loss", "3-way softmax"], id="train-bce-after-softmax"),
    pytest.param(train(X=X_BINARY, y=Y_BINARY, network=binary_net), ValueError,
                 ["categorical_crossentropy", "single output unit"], id="train-cce-on-one-sigmoid"),
    pytest.param(train(X=X_BINARY, y=[0, 2, 1, 0, 1, 0], loss=BCE, network=binary_net), ValueError,
                 ["outside [0, 1]", "bce_loss"], id="train-bce-labels-outside-0-1"),
    pytest.param(train(loss=("categorical_crossentropy", CCE[1])), ValueError, ["named by string together with a derivative"],
                 id="train-loss-name-with-a-derivative"),
    pytest.param(train(loss=(42, CCE[1])), ValueError, ["not callable"], id="train-loss-not-callable"),
    pytest.param(train(loss=("hinge", None)), ValueError, ["unknown loss", "'hinge'"], id="train-loss-unknown-name"),
    pytest.param(train(loss=(categorical_crossentropy, bce_loss_derivative)), ValueError,
                 ["categorical_crossentropy", "bce_loss_derivative"], id="train-loss-and-derivative-mismatch"),
    # -- Network.train: hyperparameters ---------------------------------------------------------
    pytest.param(train(epochs=0), ValueError, ["epochs", "positive integer", "epochs=0"], id="train-epochs-0"),
    pytest.param(train(epochs=2.5), ValueError, ["epochs=2.5"], id="train-epochs-float"),
    pytest.param(train(epochs=True), ValueError, ["epochs=True"], id="train-epochs-bool"),
    pytest.param(train(batch_size=-1), ValueError, ["batch_size", "positive integer", "batch_size=-1"], id="train-batch-size-negative"),
    pytest.param(train(batch_size=0), ValueError, ["batch_size=0"], id="train-batch-size-0"),
    pytest.param(train(learning_rate=-0.1), ValueError, ["> 0", "=-0.1"], id="train-learning-rate-negative"),
    pytest.param(train(learning_rate=0), ValueError, ["> 0", "=0"], id="train-learning-rate-0"),
    pytest.param(train(learning_rate=float("nan")), ValueError, ["=nan"], id="train-learning-rate-nan"),
    pytest.param(train(learning_rate="0.1"), ValueError, ["='0.1'"], id="train-learning-rate-string"),
    pytest.param(train(learning_rate=None), ValueError, ["learning_rate=None"], id="train-learning-rate-none"),
    pytest.param(train_with_optimizer(-0.1), ValueError, ["-0.1"], id="train-learning-rate-negative-with-optimizer"),
    pytest.param(train_twice(0.1, -0.1), ValueError, ["-0.1"], id="train-learning-rate-negative-second-call"),
    pytest.param(train(verbose=5), ValueError, ["verbose", "0, 1 or 2", "verbose=5"], id="train-verbose-5"),
    pytest.param(train(validation_split=1.5), ValueError, ["validation_split", "[0, 1)", "validation_split=1.5"],
                 id="train-validation-split-1.5"),
    pytest.param(train(validation_split=-0.1), ValueError, ["validation_split=-0.1"], id="train-validation-split-negative"),
    pytest.param(train(validation_split=0.99), ValueError, ["leaves 0 of 6 samples"], id="train-validation-split-leaves-none"),
    pytest.param(train(optimizer="bogus"), ValueError, ["'sgd', 'adam'", "optimizer='bogus'"], id="train-optimizer-bogus"),
    pytest.param(train(optimizer=42), ValueError, ["optimizer=42"], id="train-optimizer-number"),
    pytest.param(train(initial_epoch=-1), ValueError, ["initial_epoch=-1"], id="train-initial-epoch-negative"),
    pytest.param(train(seed=-1), ValueError, ["seed=-1"], id="train-seed-negative"),
    pytest.param(train(seed="abc"), ValueError, ["seed='abc'"], id="train-seed-string"),
    pytest.param(train(callbacks=[object()]), TypeError, ["Callback", "object"], id="train-callback-not-a-callback"),
    pytest.param(train(augment="flip"), ValueError, ["augment", "not callable"], id="train-augment-not-callable"),
    pytest.param(train(shuffle="no"), ValueError, ["shuffle", "'no'"], id="train-shuffle-string"),
    # -- Network.predict ---------------------------------------------------------------------------
    pytest.param(predict(X[0, 0]), ValueError, ["X of shape (8, 8)", "rank 4"], id="predict-wrong-rank"),
    pytest.param(predict(np.zeros((2, 3, 8, 8))), ValueError, ["(3, 8, 8)", "depth=1"], id="predict-wrong-channels"),
    pytest.param(predict(np.zeros((2, 1, 2, 2))), ValueError, ["(1, 2, 2)", "at least 3"], id="predict-image-too-small"),
    pytest.param(predict(with_value(X, (1, 0, 0, 0), np.nan)), ValueError, ["NaN or inf in X"], id="predict-nan"),
    pytest.param(predict(with_value(X[0], (0, 4, 4), np.inf)), ValueError, ["NaN or inf in X"], id="predict-inf-one-sample"),
    pytest.param(predict(np.zeros((0, 1, 8, 8))), ValueError, ["empty X"], id="predict-empty"),
    pytest.param(predict(STRINGS), ValueError, ["non-numeric data for X"], id="predict-strings"),
    pytest.param(predict(RAGGED), ValueError, ["ragged nested list for X"], id="predict-ragged"),
    pytest.param(predict(None), ValueError, ["non-numeric data for X"], id="predict-none"),
    pytest.param(predict(X, batch_size=0), ValueError, ["batch_size=0"], id="predict-batch-size-0"),
    pytest.param(predict(X, network=Network), ValueError, ["no layers"], id="predict-empty-network"),
    # -- Network.evaluate ----------------------------------------------------------------------------
    pytest.param(evaluate(y=Y[:5]), ValueError, ["5 labels for y", "(6)"], id="evaluate-labels-too-few"),
    pytest.param(evaluate(y=[0, 1, 2, 3, 0, 1]), ValueError, ["from 0 to 3", "[0, 2]"], id="evaluate-label-out-of-range"),
    pytest.param(evaluate(y=with_value(Y, 0, np.nan)), ValueError, ["NaN or inf in y"], id="evaluate-nan-label"),
    pytest.param(evaluate(X=with_value(X, (0, 0, 1, 1), np.nan)), ValueError, ["NaN or inf in X"], id="evaluate-nan-in-X"),
    pytest.param(evaluate(X=np.zeros((6, 3, 8, 8))), ValueError, ["(3, 8, 8)", "depth=1"], id="evaluate-wrong-channels"),
    pytest.param(evaluate(batch_size=-1), ValueError, ["batch_size=-1"], id="evaluate-batch-size-negative"),
    pytest.param(evaluate(loss_fn=42), ValueError, ["loss_fn", "not callable"], id="evaluate-loss-not-callable"),
    pytest.param(evaluate(loss_fn="hinge"), ValueError, ["unknown loss", "'hinge'"], id="evaluate-loss-unknown-name"),
    pytest.param(evaluate(X=X[0], y=Y[:1]), ValueError, ["(1, 8, 8)"], id="evaluate-one-unbatched-sample"),
    # -- Network.summary ---------------------------------------------------------------------------------
    pytest.param(summary(), ValueError, ["needs a sample", "input_shape"], id="summary-nothing-given"),
    pytest.param(summary(input_shape=(3, 8, 8)), ValueError, ["(3, 8, 8)", "depth=1"], id="summary-wrong-channels"),
    pytest.param(summary(input_shape=(1, 2, 2)), ValueError, ["(1, 2, 2)", "at least 3"], id="summary-image-too-small"),
    pytest.param(summary(input_shape=(1, -8, 8)), ValueError, ["(1, -8, 8)"], id="summary-negative-size"),
    pytest.param(summary(sample=RAGGED), ValueError, ["ragged nested list for sample"], id="summary-ragged-sample"),
    pytest.param(summary(sample=STRINGS), ValueError, ["non-numeric data for sample"], id="summary-string-sample"),
    pytest.param(summary(sample=np.zeros((2, 3, 8, 8))), ValueError, ["(3, 8, 8)", "depth=1"], id="summary-wrong-channel-sample"),
    pytest.param(summary(network=Network, input_shape=(1, 8, 8)), ValueError, ["no layers"], id="summary-empty-network"),
    pytest.param(summary(network=Network, sample=X), ValueError, ["no layers"], id="summary-empty-network-with-sample"),
    pytest.param(summary(input_shape=(1, 8.5, 8)), ValueError, ["input_shape", "8.5"], id="summary-fractional-size"),
]


@pytest.mark.parametrize("call, error, words", CATALOGUE)
def test_bad_input_is_refused_at_the_edge_naming_what_was_received(call, error, words):
    with pytest.raises(error) as caught:
        call()
    message = str(caught.value)
    assert all(word in message for word in words), message


class _Recorder(Callback):
    def on_train_begin(self, logs=None):
        self.started = True


def test_refused_training_input_leaves_the_network_untouched():
    """Validation runs before anything changes: no initialisation, no optimiser, no callback."""
    network = conv_net()
    before = network.get_weights()
    recorder = _Recorder()
    with pytest.raises(ValueError):
        network.train(X, Y, 1, 0.1, *CCE, log_file=None, verbose=5, seed=3, callbacks=[recorder])
    assert all(np.array_equal(a, b) for a, b in zip(before, network.get_weights()))
    assert network.optimizer is None and not network.trained and not hasattr(recorder, "started")
