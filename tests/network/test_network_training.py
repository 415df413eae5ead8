"""Network.train: the report's signature, the log file, History, verbosity, what the logged loss means, seeds."""
import inspect
import re

import numpy as np
import pytest

from scratchcnn import Callback, Dense, MultiClassDense, Network
from scratchcnn.losses import (bce_loss, bce_loss_derivative, categorical_crossentropy,
                               categorical_crossentropy_derivative)

CCE = (categorical_crossentropy, categorical_crossentropy_derivative)
LOG_LINE = r"^\d\d:\d\d:\d\d :Epoch \d+/\d+, Loss: \d+\.\d{4}, Accuracy: \d+\.\d{4}"
VAL_PART = r", Val Loss: \d+\.\d{4}, Val Accuracy: \d+\.\d{4}"
TIME_PART = r", Time: \d+\.\d s"  # the seconds since training began
TOTAL_LINE = r"^Total Training Time: \d+:\d\d:\d\d$"


def classifier():
    """(N, 4) -> (N, 3) class probabilities."""
    return Network([Dense(4, 6, activation="tanh"), MultiClassDense(6, 3)])


def binary_classifier():
    """(N, 4) -> (N, 1) probability of class 1."""
    return Network([Dense(4, 5, activation="tanh"), Dense(5, 1, activation="sigmoid")])


def blobs(count=12, seed=0):
    """(count, 4) float32 points and integer labels 0..2."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=count)
    return (rng.normal(size=(count, 4)) + labels[:, None]).astype(np.float32), labels


def weights(network):
    return [param.value.copy() for param in network.parameters()]


def same_weights(first, second):
    return len(first) == len(second) and all(np.array_equal(a, b) for a, b in zip(first, second))


class InitialWeights(Callback):
    """Records the weights the training loop starts from."""

    def on_train_begin(self, logs=None):
        self.weights = weights(self.network)


# -- the signature --------------------------------------------------------------
def test_train_keeps_the_reports_positional_signature():
    parameters = inspect.signature(Network.train).parameters
    positional = [name for name, p in parameters.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == ["self", "X", "y", "epochs", "learning_rate", "loss_fn", "loss_fn_derivative", "log_file",
                          "val_X", "val_y"]
    assert parameters["log_file"].default == "default_log.txt"
    keyword_only = {name for name, p in parameters.items() if p.kind is p.KEYWORD_ONLY}
    assert keyword_only >= {"batch_size", "optimizer", "shuffle", "seed", "verbose", "callbacks", "initial_epoch"}


def test_positional_and_keyword_calls_train_alike(tmp_path):
    X, y = blobs()
    by_position, by_keyword = classifier(), classifier()
    by_position.train(X, y, 2, 0.1, *CCE, str(tmp_path / "a.txt"), X[:4], y[:4], seed=3, verbose=0)
    by_keyword.train(X=X, y=y, epochs=2, learning_rate=0.1, loss_fn=CCE[0], loss_fn_derivative=CCE[1],
                     log_file=str(tmp_path / "b.txt"), val_X=X[:4], val_y=y[:4], seed=3, verbose=0)
    assert same_weights(weights(by_position), weights(by_keyword))
    with pytest.raises(TypeError):
        classifier().train(X, y, 1, 0.1, *CCE, None, None, None, 4)  # batch_size is keyword-only


def test_keyword_options_are_honoured(tmp_path):
    """batch_size, optimizer and shuffle each change the outcome; the default is per-sample SGD, shuffled."""
    X, y = blobs()

    def trained(**options):
        network = classifier()
        network.train(X, y, 2, 0.1, *CCE, log_file=None, seed=5, verbose=0, **options)
        return weights(network)

    default = trained()
    assert same_weights(default, trained(batch_size=1, optimizer="sgd", shuffle=True))
    for options in [{"batch_size": 4}, {"optimizer": "adam"}, {"shuffle": False}]:
        assert not same_weights(default, trained(**options)), options


# -- the log file ---------------------------------------------------------------
def test_log_file_has_one_line_per_epoch_in_the_reports_format(tmp_path):
    X, y = blobs()
    log = tmp_path / "log.txt"
    history = classifier().train(X, y, 3, 0.1, *CCE, str(log), seed=0, verbose=0)
    raw = log.read_bytes()
    assert b"\r" not in raw
    lines = raw.decode("utf-8").splitlines()
    assert len(lines) == 4
    for epoch, line in enumerate(lines[:3]):
        assert re.match(LOG_LINE + TIME_PART + "$", line), line
        assert f":Epoch {epoch + 1}/3, " in line
        assert f"Loss: {history.history['loss'][epoch]:.4f}" in line
        assert f"Accuracy: {history.history['accuracy'][epoch]:.4f}" in line
    assert re.match(TOTAL_LINE, lines[-1]), lines[-1]


def test_log_file_with_validation_data_adds_val_loss_and_accuracy(tmp_path):
    X, y = blobs()
    log = tmp_path / "log.txt"
    history = classifier().train(X, y, 2, 0.1, *CCE, str(log), X[:5], y[:5], seed=0, verbose=0)
    lines = log.read_text().splitlines()
    for epoch, line in enumerate(lines[:2]):
        assert re.match(LOG_LINE + VAL_PART + TIME_PART + "$", line), line
        assert f"Val Loss: {history.history['val_loss'][epoch]:.4f}" in line
        assert f"Val Accuracy: {history.history['val_accuracy'][epoch]:.4f}" in line
    assert re.match(TOTAL_LINE, lines[-1])


def test_default_log_file_is_written_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    X, y = blobs()
    classifier().train(X, y, 1, 0.1, *CCE, seed=0, verbose=0)
    assert re.match(LOG_LINE, (tmp_path / "default_log.txt").read_text())


def test_log_file_none_writes_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    X, y = blobs()
    classifier().train(X, y, 1, 0.1, *CCE, log_file=None, seed=0, verbose=0)
    assert list(tmp_path.iterdir()) == []


# -- History --------------------------------------------------------------------
def test_history_records_every_epoch():
    X, y = blobs()
    history = classifier().train(X, y, 3, 0.1, *CCE, log_file=None, val_X=X[:5], val_y=y[:5], seed=0, verbose=0)
    assert history.epoch == [0, 1, 2]
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key, values in history.history.items():
        assert isinstance(values, list) and len(values) == 3, key
        assert all(np.isfinite(value) for value in values), key
    assert all(0 <= value <= 1 for value in history.history["accuracy"] + history.history["val_accuracy"])


def test_history_without_validation_has_no_val_keys():
    X, y = blobs()
    history = classifier().train(X, y, 2, 0.1, *CCE, log_file=None, seed=0, verbose=0)
    assert {"loss", "accuracy"} <= set(history.history)
    assert not [key for key in history.history if key.startswith("val_")]


def test_validation_figures_are_what_evaluate_gives_after_the_epoch():
    X, y = blobs()
    network = classifier()
    history = network.train(X, y, 2, 0.1, *CCE, log_file=None, val_X=X[:5], val_y=y[:5], seed=0, verbose=0)
    _, val_loss, val_accuracy = network.evaluate(X[:5], y[:5], categorical_crossentropy)
    assert history.history["val_loss"][-1] == val_loss
    assert history.history["val_accuracy"][-1] == val_accuracy


@pytest.mark.parametrize("make, loss", [(classifier, CCE), (binary_classifier, (bce_loss, bce_loss_derivative))])
def test_logged_loss_of_one_full_batch_epoch_is_the_loss_of_the_initial_weights(make, loss):
    """batch_size = N, no shuffling, one epoch: the loss is measured before the single update."""
    X, labels = blobs(seed=1)
    if make is binary_classifier:
        labels = labels % 2
    seed = 11
    outputs = make().initialize(seed).predict(X).astype(np.float64)  # the weights train() will start from
    probabilities = np.clip(outputs, 1e-7, 1 - 1e-7)
    if make is classifier:
        expected_loss = -np.mean(np.log(probabilities[np.arange(len(X)), labels]))
        expected_accuracy = np.mean(outputs.argmax(axis=1) == labels)
    else:
        p = probabilities[:, 0]
        expected_loss = -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))
        expected_accuracy = np.mean((outputs[:, 0] >= 0.5) == labels)
    history = make().train(X, labels, 1, 0.5, *loss, log_file=None, batch_size=len(X), shuffle=False, seed=seed,
                           verbose=0)
    assert history.history["loss"] == [pytest.approx(expected_loss, rel=1e-6)]
    assert history.history["accuracy"] == [expected_accuracy]


# -- verbosity ------------------------------------------------------------------
def test_verbose_0_prints_nothing(capsys):
    X, y = blobs()
    classifier().train(X, y, 2, 0.1, *CCE, log_file=None, val_X=X[:3], val_y=y[:3], seed=0, verbose=0)
    assert capsys.readouterr() == ("", "")


def test_verbose_2_prints_one_plain_line_per_epoch(capsys):
    X, y = blobs()
    history = classifier().train(X, y, 3, 0.1, *CCE, log_file=None, seed=0, verbose=2)
    captured = capsys.readouterr()
    assert "\r" not in captured.out + captured.err
    lines = captured.out.splitlines()
    assert len(lines) == 3
    for epoch, line in enumerate(lines):
        assert line.startswith(f"Epoch {epoch + 1}/3")
        assert f"Loss: {history.history['loss'][epoch]:.4f}" in line


def test_verbose_1_shows_a_progress_bar_with_epoch_and_loss(capsys):
    X, y = blobs()
    history = classifier().train(X, y, 2, 0.1, *CCE, log_file=None, seed=0, verbose=1)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "\r" in text  # tqdm redraws its bar in place
    for epoch in range(2):
        assert f"Epoch {epoch + 1}/2" in text
        assert f"loss={history.history['loss'][epoch]:.4f}" in text


@pytest.mark.parametrize("verbose", [3, -1, "1", None])
def test_invalid_verbose_is_refused(verbose):
    X, y = blobs()
    with pytest.raises(ValueError, match="verbose"):
        classifier().train(X, y, 1, 0.1, *CCE, log_file=None, verbose=verbose)


@pytest.mark.parametrize("option, value", [("epochs", 0), ("batch_size", 0), ("initial_epoch", -1),
                                           ("optimizer", "adagrad"), ("learning_rate", -0.1)])
def test_invalid_options_are_refused_naming_the_option(option, value):
    X, y = blobs()
    arguments = {"epochs": 1, "learning_rate": 0.1, "batch_size": 1, "initial_epoch": 0, "optimizer": "sgd"}
    arguments[option] = value
    with pytest.raises(ValueError, match=option):
        classifier().train(X, y, loss_fn=CCE[0], loss_fn_derivative=CCE[1], log_file=None, verbose=0, **arguments)


# -- seeds ----------------------------------------------------------------------
def test_same_seed_gives_bit_identical_weights():
    X, y = blobs()
    first, second = classifier(), classifier()  # constructed from fresh entropy: different weights
    assert not same_weights(weights(first), weights(second))
    for network in (first, second):
        network.train(X, y, 3, 0.1, *CCE, log_file=None, batch_size=4, seed=42, verbose=0)
    assert same_weights(weights(first), weights(second))


def test_different_seeds_give_different_weights():
    X, y = blobs()
    first, second = classifier(), classifier()
    first.train(X, y, 1, 0.1, *CCE, log_file=None, seed=1, verbose=0)
    second.train(X, y, 1, 0.1, *CCE, log_file=None, seed=2, verbose=0)
    assert not any(np.array_equal(a, b) for a, b in zip(weights(first), weights(second)))


def test_seed_fixes_the_initial_weights_of_an_untrained_network():
    X, y = blobs()
    recorders = [InitialWeights(), InitialWeights()]
    for recorder in recorders:
        classifier().train(X, y, 1, 0.1, *CCE, log_file=None, seed=9, verbose=0, callbacks=[recorder])
    assert same_weights(recorders[0].weights, recorders[1].weights)
    assert same_weights(recorders[0].weights, weights(classifier().initialize(9)))


def test_seed_does_not_redraw_the_weights_of_a_trained_network():
    X, y = blobs()
    network = classifier()
    network.train(X, y, 1, 0.1, *CCE, log_file=None, seed=9, verbose=0)
    after_first_run = weights(network)
    recorder = InitialWeights()
    network.train(X, y, 1, 0.1, *CCE, log_file=None, seed=9, verbose=0, callbacks=[recorder])
    assert same_weights(recorder.weights, after_first_run)  # training continued from where it stopped
    assert not same_weights(recorder.weights, weights(classifier().initialize(9)))
