"""Network.train's options: validation_split, weight decay, resuming, verbosity, and plotting its History."""
import os

import numpy as np
from training_helpers import blobs, classifier, same_weights
import pytest

import scratchcnn
from scratchcnn import (SGD, Adam, Augmentation, BatchNorm, Callback, ConvLayer, Dense, Dropout, Flatten,
                        MultiClassDense, Network)
from scratchcnn.losses import categorical_crossentropy, categorical_crossentropy_derivative

CCE = (categorical_crossentropy, categorical_crossentropy_derivative)


# -- validation_split ----------------------------------------------------------------------
class EvaluateEachEpoch(Callback):
    """Evaluates the network on given rows at every epoch end, beside the logged figures."""

    def __init__(self, X, y):
        self.X, self.y, self.seen = X, y, []

    def on_epoch_end(self, epoch, logs=None):
        _, loss, accuracy = self.network.evaluate(self.X, self.y, categorical_crossentropy)
        self.seen.append((loss, accuracy, logs["val_loss"], logs["val_accuracy"]))


def test_validation_split_holds_out_the_last_rows_before_shuffling():
    X, y = blobs(10)
    X[8:] += 5.0  # the last two rows stand apart, so their loss is unlike any other pair's
    training_rows = []

    def record(x_batch, rng):  # an `augment` that only records what the loop trains on
        training_rows.append(x_batch.copy())
        return x_batch

    last, first = EvaluateEachEpoch(X[8:], y[8:]), EvaluateEachEpoch(X[:2], y[:2])
    network = classifier()
    history = network.train(X, y, 3, 0.1, *CCE, log_file=None, validation_split=0.2, batch_size=3, seed=0,
                            verbose=0, augment=record, callbacks=[last, first])
    for loss, accuracy, val_loss, val_accuracy in last.seen:
        assert (loss, accuracy) == (val_loss, val_accuracy)
    assert all(loss != val_loss for loss, _, val_loss, _ in first.seen)
    assert history.history["val_loss"] == [seen[2] for seen in last.seen]
    epochs = [np.concatenate(training_rows[i:i + 3]) for i in range(0, 9, 3)]  # 8 rows: batches of 3, 3, 2
    for rows in epochs:
        assert len(rows) == 8
        np.testing.assert_array_equal(np.unique(rows, axis=0), np.unique(X[:8], axis=0))
    assert any(not np.array_equal(rows, X[:8]) for rows in epochs)  # the training part is still shuffled


def test_validation_data_takes_precedence_over_validation_split():
    X, y = blobs(10)
    given = EvaluateEachEpoch(X[:3], y[:3])
    classifier().train(X, y, 2, 0.1, *CCE, log_file=None, val_X=X[:3], val_y=y[:3], validation_split=0.5, seed=0,
                       verbose=0, callbacks=[given])
    assert all((loss, accuracy) == (val_loss, val_accuracy) for loss, accuracy, val_loss, val_accuracy in given.seen)


@pytest.mark.parametrize("split", [1.0, -0.1, 1.5, "0.2", 0.01])
def test_invalid_validation_split_is_refused(split):
    X, y = blobs(10)
    with pytest.raises(ValueError, match="validation_split"):
        classifier().train(X, y, 1, 0.1, *CCE, log_file=None, validation_split=split, seed=0, verbose=0)


# -- weight decay through the optimiser ----------------------------------------------------
def zero_loss(y_true, y_pred):
    return 0.0


def zero_loss_derivative(y_true, y_pred):
    return np.zeros_like(y_pred)


class InitialWeights(Callback):
    def on_train_begin(self, logs=None):
        self.weights = self.network.get_weights()


def train_with_zero_gradients(make_optimizer, steps_per_epoch=3, epochs=2):
    """(initial weights, final weights) after training with a loss whose gradient is zero everywhere."""
    network, start = classifier(), InitialWeights()
    X, y = blobs(4 * steps_per_epoch)
    network.train(X, y, epochs, 0.1, zero_loss, zero_loss_derivative, log_file=None, batch_size=4, seed=0,
                  verbose=0, optimizer=make_optimizer(network.parameters()), callbacks=[start])
    return start.weights, network.get_weights()


def test_sgd_weight_decay_shrinks_the_weights_by_one_minus_lr_times_decay_per_step():
    start, end = train_with_zero_gradients(lambda params: SGD(params, lr=0.1, weight_decay=0.5))
    for initial, final in zip(start, end):
        expected = initial.copy()
        for _ in range(6):  # 2 epochs of 3 batches
            expected -= np.float32(0.1) * (np.float32(0.5) * expected)
        np.testing.assert_allclose(final, expected, rtol=1e-6)
    assert np.abs(end[0]).sum() < 0.8 * np.abs(start[0]).sum()


def test_without_weight_decay_zero_gradients_leave_the_weights_alone():
    start, end = train_with_zero_gradients(lambda params: SGD(params, lr=0.1, momentum=0.9))
    assert same_weights(start, end)


def test_adamw_decay_is_decoupled_and_adam_l2_decay_shrinks_every_weight():
    start, end = train_with_zero_gradients(lambda p: Adam(p, lr=0.1, weight_decay=0.5, decoupled_weight_decay=True))
    np.testing.assert_allclose(end[0], start[0] * (1 - 0.1 * 0.5) ** 6, rtol=1e-5)
    start, end = train_with_zero_gradients(lambda p: Adam(p, lr=0.01, weight_decay=0.5))
    nonzero = start[0] != 0
    assert np.all(np.abs(end[0][nonzero]) < np.abs(start[0][nonzero]))


# -- resuming ------------------------------------------------------------------------------
def dense_dropout_net():
    return Network([Dense(4, 8, activation="tanh"), Dropout(0.5), MultiClassDense(8, 3)])


def dense_batchnorm_net():
    return Network([Dense(4, 8, activation="tanh"), BatchNorm(8), Dropout(0.2), MultiClassDense(8, 3)])


def conv_net():
    return Network([ConvLayer(3, 1, 2, activation="tanh"), Flatten(), Dropout(0.3), MultiClassDense(2 * 4 * 4, 3)])


def image_blobs(count=12):
    rng = np.random.default_rng(0)
    return rng.normal(size=(count, 1, 6, 6)).astype(np.float32), rng.integers(0, 3, size=count)


RESUME_CASES = {
    "adam+dropout": (dense_dropout_net, blobs, lambda network: "adam", {}),
    "sgd-momentum+batchnorm": (dense_batchnorm_net, blobs,
                               lambda network: SGD(network.parameters(), lr=0.05, momentum=0.9, nesterov=True), {}),
    "adamw+conv+augment": (conv_net, image_blobs,
                           lambda network: Adam(network.parameters(), lr=0.01, weight_decay=0.1,
                                                decoupled_weight_decay=True),
                           {"augment": Augmentation(crop_padding=1, horizontal_flip=True)}),
}


@pytest.mark.parametrize("case", sorted(RESUME_CASES))
def test_resuming_from_a_saved_model_equals_an_uninterrupted_run(tmp_path, case):
    make, data, make_optimizer, options = RESUME_CASES[case]
    X, y = data()

    def train(network, optimizer, epochs, initial_epoch=0):
        return network.train(X, y, epochs, 0.01, *CCE, log_file=None, batch_size=4, seed=11, verbose=0,
                             optimizer=optimizer, initial_epoch=initial_epoch, **options)

    uninterrupted = make()
    full = train(uninterrupted, make_optimizer(uninterrupted), 4)

    first_half = make()
    train(first_half, make_optimizer(first_half), 2)
    path = str(tmp_path / "half.model")
    first_half.save_model(path)
    resumed = scratchcnn.load_model(path)
    name = "adam" if isinstance(resumed.optimizer, Adam) else "sgd"  # the loaded optimiser, with its state, is kept
    second = train(resumed, name, 4, initial_epoch=2)

    assert second.epoch == [2, 3]
    assert second.history["loss"] == full.history["loss"][2:]
    assert same_weights(resumed.get_weights(), uninterrupted.get_weights())
    assert resumed.optimizer.iterations == uninterrupted.optimizer.iterations == 12
    for mine, theirs in zip(resumed.optimizer.state, uninterrupted.optimizer.state):
        assert mine.keys() == theirs.keys() and all(np.array_equal(mine[k], theirs[k]) for k in mine)


def test_resuming_without_the_saved_optimiser_state_would_differ(tmp_path):
    """The resume test can fail: dropping Adam's moments changes the weights."""
    X, y = blobs()
    options = {"log_file": None, "batch_size": 4, "seed": 11, "verbose": 0, "optimizer": "adam"}
    uninterrupted = dense_dropout_net()
    uninterrupted.train(X, y, 4, 0.01, *CCE, **options)
    half = dense_dropout_net()
    half.train(X, y, 2, 0.01, *CCE, **options)
    half.optimizer = None
    half.train(X, y, 4, 0.01, *CCE, initial_epoch=2, **options)
    assert not same_weights(half.get_weights(), uninterrupted.get_weights())


# -- verbosity and plotting ----------------------------------------------------------------
def test_verbose_1_draws_a_tqdm_bar_per_epoch(capsys):
    X, y = blobs()
    classifier().train(X, y, 2, 0.1, *CCE, log_file=None, batch_size=4, seed=0, verbose=1)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Epoch 1/2" in text and "Epoch 2/2" in text
    assert "3/3" in text and "batch" in text  # tqdm's counter and unit: 12 samples in batches of 4


def test_verbose_2_prints_one_plain_line_per_epoch(capsys):
    X, y = blobs()
    history = classifier().train(X, y, 3, 0.1, *CCE, log_file=None, val_X=X[:4], val_y=y[:4], seed=0, verbose=2)
    captured = capsys.readouterr()
    assert "\r" not in captured.out + captured.err and captured.err == ""
    lines = captured.out.splitlines()
    assert len(lines) == 3
    for epoch, line in enumerate(lines):
        assert line.startswith(f"Epoch {epoch + 1}/3 - ")
        assert f"Val Loss: {history.history['val_loss'][epoch]:.4f}" in line


def test_plot_history_draws_a_real_history(tmp_path):
    pytest.importorskip("matplotlib")
    from scratchcnn.plotting import plot_history

    X, y = blobs()
    history = classifier().train(X, y, 3, 0.1, *CCE, log_file=None, val_X=X[:4], val_y=y[:4], seed=0, verbose=0)
    path = str(tmp_path / "history.png")
    figure = plot_history(history, path)
    with open(path, "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(path) > 2000
    assert len(figure.axes) == 2  # loss and accuracy, 'lr' ignored
    assert [list(line.get_xdata()) for line in figure.axes[0].lines] == [[1, 2, 3], [1, 2, 3]]


def test_every_epoch_logs_the_seconds_since_training_began(tmp_path):
    """History's 'elapsed' grows epoch by epoch, and the log file's lines end with it, so time-to-accuracy reads off."""
    from training_helpers import blobs, classifier

    X, y = blobs()
    log = tmp_path / "log.txt"
    history = classifier().train(X, y, 3, 0.1, "categorical_crossentropy", log_file=str(log), batch_size=4, verbose=0,
                                 seed=0, val_X=X, val_y=y)
    elapsed = history.elapsed
    assert "elapsed" not in history.history  # .history holds what the same seed reproduces exactly
    assert len(elapsed) == 3 and 0 < elapsed[0] <= elapsed[1] <= elapsed[2]
    lines = [line for line in log.read_text().splitlines() if ":Epoch " in line]
    assert [line.rsplit(", Time: ", 1)[1] for line in lines] == [f"{seconds:.1f} s" for seconds in elapsed]
