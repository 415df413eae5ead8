"""Callbacks with Keras's semantics, driven two ways: by a fake network fed a sequence of logs
(exact epoch-by-epoch expectations), and inside real Network.train runs on tiny problems."""
import csv
import math
import os
from types import SimpleNamespace

import numpy as np
from training_helpers import blobs, classifier, same_weights
import pytest

import scratchcnn
from scratchcnn import (Callback, CSVLogger, Dense, EarlyStopping, LearningRateScheduler, ModelCheckpoint,
                        Network, ReduceLROnPlateau, TerminateOnNaN)
from scratchcnn.losses import (bce_loss, bce_loss_derivative, categorical_crossentropy,
                               categorical_crossentropy_derivative, mse_loss_derivative)
from scratchcnn.schedules import StepDecay

CCE = (categorical_crossentropy, categorical_crossentropy_derivative)
NAN = float("nan")


# -- a fake network and a driver: the training loop's calls, without training ---------
class FakeNetwork:
    """What callbacks touch: stop_training, optimizer.lr, get/set_weights, save_model, metadata.

    Its single weight is the number of the epoch that produced it, so restored weights name their epoch.
    """

    def __init__(self, lr=1.0):
        self.stop_training = False
        self.optimizer = SimpleNamespace(lr=lr)
        self.metadata = {}
        self.weights = [np.array([-1.0])]
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [w.copy() for w in weights]

    def save_model(self, filepath):
        self.saved.append(filepath)


def drive(callback, values, monitor="val_loss", network=None):
    """Run `callback` over epochs whose logs hold monitor=values[epoch], as Network.train calls it.

    Returns the network, the epochs run, and the lr after each epoch's callbacks.
    """
    network = network or FakeNetwork()
    callback.set_network(network)
    network.stop_training = False
    callback.on_train_begin({})
    epochs, lrs = 0, []
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch, {})
        network.weights = [np.array([float(epoch)])]  # what this epoch's training produced
        callback.on_epoch_end(epoch, {monitor: value})
        epochs, lrs = epochs + 1, lrs + [network.optimizer.lr]
        if network.stop_training:
            break
    callback.on_train_end({})
    return SimpleNamespace(network=network, epochs=epochs, lrs=lrs)


# -- tiny real problems ------------------------------------------------------------------
class FeedLogs(Callback):
    """Overwrites logs[key] with values[epoch]: lets a real run show the callbacks after it any sequence."""

    def __init__(self, key, values):
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class WeightsPerEpoch(Callback):
    """Records get_weights() at the end of every epoch: weights[epoch]."""

    def on_train_begin(self, logs=None):
        self.weights = {}

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch] = self.network.get_weights()


def train(network, callbacks, epochs=6, **options):
    X, y = blobs()
    options = {"log_file": None, "batch_size": 4, "seed": 0, "verbose": 0, **options}
    return network.train(X, y, epochs, 0.1, *CCE, callbacks=callbacks, **options)


# -- EarlyStopping -------------------------------------------------------------------------
@pytest.mark.parametrize("options, values, epochs_run, best_epoch", [
    ({"patience": 0}, [1.0, 0.9, 0.95, 0.5], 3, 1),
    ({"patience": 2}, [1.0, 0.9, 0.95, 0.92, 0.91, 0.5], 4, 1),
    ({"patience": 2}, [1.0, 0.9, 0.95, 0.85, 0.86, 0.87, 0.1], 6, 3),      # an improvement restarts the count
    ({"patience": 2}, [1.0, 1.0, 1.0, 0.1], 3, 0),                         # equal is not better
    ({"patience": 2, "min_delta": 0.05}, [1.0, 0.96, 0.9, 0.88, 0.87, 0.1], 5, 2),
    ({"patience": 2, "min_delta": -0.05}, [1.0, 0.96, 0.9, 0.88, 0.87, 0.1], 5, 2),  # Keras uses |min_delta|
    ({"patience": 1}, [5.0, 4.0, 3.0, 2.0], 4, 3),                         # never stops
    ({"patience": 3}, [NAN, 1.0, 0.9, 0.95], 4, 2),                        # a NaN is never the best
])
def test_early_stopping_stops_after_patience_epochs_without_improvement(options, values, epochs_run, best_epoch):
    stopper = EarlyStopping(monitor="val_loss", **options)
    run = drive(stopper, values)
    assert run.epochs == epochs_run
    assert stopper.best_epoch == best_epoch and stopper.best == values[best_epoch]
    stopped = epochs_run < len(values)
    assert run.network.stop_training == stopped
    assert stopper.stopped_epoch == (epochs_run - 1 if stopped else None)


@pytest.mark.parametrize("monitor, mode", [("val_accuracy", "max"), ("val_accuracy", "auto"), ("accuracy", "auto"),
                                           ("val_loss", "max")])
def test_early_stopping_mode_max_waits_for_a_rise(monitor, mode):
    run = drive(EarlyStopping(monitor=monitor, mode=mode, patience=2), [0.5, 0.6, 0.6, 0.55, 0.9], monitor=monitor)
    assert run.epochs == 4


def test_early_stopping_mode_min_on_accuracy_overrides_auto():
    run = drive(EarlyStopping(monitor="val_accuracy", mode="min", patience=1), [0.5, 0.6, 0.7], monitor="val_accuracy")
    assert run.epochs == 2


@pytest.mark.parametrize("restore, expected_weights", [(True, 1.0), (False, 3.0)])
def test_early_stopping_restores_the_best_epochs_weights_only_when_asked(restore, expected_weights):
    run = drive(EarlyStopping(patience=2, restore_best_weights=restore), [1.0, 0.5, 0.7, 0.8, 0.1])
    assert run.epochs == 4
    assert run.network.weights[0][0] == expected_weights


def test_early_stopping_restores_the_best_weights_even_without_stopping():
    """Keras 3: on_train_end puts the best weights back whether or not training stopped early."""
    run = drive(EarlyStopping(patience=5, restore_best_weights=True), [1.0, 0.5, 0.7])
    assert run.epochs == 3 and not run.network.stop_training
    assert run.network.weights[0][0] == 1.0


def test_early_stopping_starts_afresh_on_every_train_call():
    stopper = EarlyStopping(patience=1)
    assert drive(stopper, [0.1, 0.2]).epochs == 2
    assert drive(stopper, [5.0, 4.0, 3.0]).epochs == 3  # 5.0 is a new run's first best, not worse than 0.1


@pytest.mark.parametrize("options, name", [({"mode": "maximum"}, "mode"), ({"patience": -1}, "patience"),
                                           ({"patience": 1.5}, "patience"), ({"min_delta": "0.1"}, "min_delta")])
def test_early_stopping_refuses_invalid_arguments(options, name):
    with pytest.raises(ValueError, match=f"invalid value for {name}"):
        EarlyStopping(**options)


def test_early_stopping_names_a_missing_monitor():
    with pytest.raises(ValueError, match="val_loss"):
        drive(EarlyStopping(), [1.0], monitor="loss")


def test_early_stopping_in_a_real_run_with_a_rising_validation_loss():
    """Validation labels are the training labels flipped: as training improves, val_loss rises every epoch."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(16, 2)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.float32)
    network = Network([Dense(2, 1, activation="sigmoid")])
    spy, stopper = WeightsPerEpoch(), EarlyStopping(patience=2, restore_best_weights=True)
    history = network.train(X, y, 10, 0.5, bce_loss, bce_loss_derivative, log_file=None, val_X=X, val_y=1 - y,
                            batch_size=16, seed=0, verbose=0, callbacks=[spy, stopper])
    val_loss = history.history["val_loss"]
    assert all(later > earlier for earlier, later in zip(val_loss, val_loss[1:]))  # the premise holds
    assert history.epoch == [0, 1, 2]  # best at epoch 0, then two epochs without improvement
    assert stopper.stopped_epoch == 2 and stopper.best_epoch == 0
    assert same_weights(network.get_weights(), spy.weights[0])
    assert not same_weights(spy.weights[0], spy.weights[2])
    assert "stopped" in network.stop_reason


@pytest.mark.parametrize("monitor, values, epochs_run, best_epoch", [
    ("val_loss", [1.0, 0.8, 0.9, 0.85, 0.7, 0.6], 4, 1),
    ("val_accuracy", [0.3, 0.5, 0.6, 0.6, 0.55, 0.9], 5, 2),
])
def test_early_stopping_in_a_real_run_stops_at_the_right_epoch_and_restores_the_best(monitor, values, epochs_run,
                                                                                     best_epoch):
    network, spy = classifier(), WeightsPerEpoch()
    stopper = EarlyStopping(monitor=monitor, patience=2, restore_best_weights=True)
    history = train(network, [FeedLogs(monitor, values), spy, stopper], epochs=len(values))
    assert history.epoch == list(range(epochs_run))
    assert stopper.best_epoch == best_epoch
    assert same_weights(network.get_weights(), spy.weights[best_epoch])


# -- ModelCheckpoint -----------------------------------------------------------------------
def saved_epochs(folder):
    return sorted(name for name in os.listdir(folder) if name.endswith(".model"))


class ReadCheckpoint(Callback):
    """After each epoch, the epochs_completed and weights stored in the checkpoint file (None if absent)."""

    def __init__(self, path):
        self.path, self.seen = path, []

    def on_epoch_end(self, epoch, logs=None):
        if not os.path.exists(self.path):
            self.seen.append(None)
            return
        loaded = scratchcnn.load_model(self.path)
        self.seen.append((loaded.metadata["epochs_completed"], loaded.get_weights()))


@pytest.mark.parametrize("save_best_only, expected", [
    (True, ["ckpt-01.model", "ckpt-02.model", "ckpt-04.model"]),
    (False, [f"ckpt-{epoch:02d}.model" for epoch in range(1, 7)]),
])
def test_model_checkpoint_writes_a_file_per_improvement_or_per_epoch(tmp_path, save_best_only, expected):
    network, spy = classifier(), WeightsPerEpoch()
    checkpoint = ModelCheckpoint(str(tmp_path / "ckpt-{epoch:02d}.model"), save_best_only=save_best_only)
    train(network, [FeedLogs("val_loss", [1.0, 0.8, 0.9, 0.7, 0.7, 0.75]), spy, checkpoint])
    assert saved_epochs(tmp_path) == expected
    for name in expected:
        epoch = int(name[5:7])
        loaded = scratchcnn.load_model(str(tmp_path / name))
        assert loaded.metadata["epochs_completed"] == epoch
        assert same_weights(loaded.get_weights(), spy.weights[epoch - 1])


def test_model_checkpoint_with_one_path_is_rewritten_only_on_improvement(tmp_path):
    path = str(tmp_path / "best.model")
    network, spy, reader = classifier(), WeightsPerEpoch(), ReadCheckpoint(path)
    checkpoint = ModelCheckpoint(path, monitor="val_accuracy", save_best_only=True)  # auto: max for accuracy
    train(network, [FeedLogs("val_accuracy", [0.5, 0.4, 0.6, 0.6, 0.7]), spy, checkpoint, reader], epochs=5)
    assert [seen[0] for seen in reader.seen] == [1, 1, 3, 3, 5]
    for epoch, (completed, weights) in enumerate(reader.seen):
        assert same_weights(weights, spy.weights[completed - 1]), epoch


def test_model_checkpoint_format_fields_take_the_logs(tmp_path):
    network = classifier()
    checkpoint = ModelCheckpoint(str(tmp_path / "ckpt-{epoch}-{val_loss:.2f}.model"))
    train(network, [FeedLogs("val_loss", [0.5, 0.25]), checkpoint], epochs=2)
    assert saved_epochs(tmp_path) == ["ckpt-1-0.50.model", "ckpt-2-0.25.model"]


class ReadCheckpointAtEpochBegin(ReadCheckpoint):
    """The train(checkpoint=) hook runs after the user's callbacks: read its file as the next epoch begins."""

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        pass


def test_train_checkpoint_option_saves_after_every_epoch(tmp_path):
    path = str(tmp_path / "run.model")
    network, spy, reader = classifier(), WeightsPerEpoch(), ReadCheckpointAtEpochBegin(path)
    train(network, [spy, reader], epochs=3, checkpoint=path)
    assert reader.seen[0] is None
    assert [completed for completed, _ in reader.seen[1:]] == [1, 2]
    assert same_weights(reader.seen[1][1], spy.weights[0]) and same_weights(reader.seen[2][1], spy.weights[1])
    final = scratchcnn.load_model(path)
    assert final.metadata["epochs_completed"] == 3 and same_weights(final.get_weights(), network.get_weights())


def test_model_checkpoint_fake_network_saves_on_improvement_only():
    run = drive(ModelCheckpoint("m-{epoch}.model", save_best_only=True), [NAN, 2.0, 3.0, 1.0])
    assert run.network.saved == ["m-2.model", "m-4.model"]  # a NaN is never an improvement


# -- ReduceLROnPlateau ---------------------------------------------------------------------
FLAT = [1.0] * 8


@pytest.mark.parametrize("options, values, lrs", [
    ({"patience": 2}, FLAT[:6], [1, 1, .5, .5, .25, .25]),
    ({"patience": 1}, FLAT[:4], [1, .5, .25, .125]),
    ({"patience": 0}, FLAT[:3], [1, .5, .25]),
    ({"patience": 2, "min_lr": 0.3}, FLAT, [1, 1, .5, .5, .3, .3, .3, .3]),
    ({"patience": 2}, [1.0, 1.0, 0.5, 0.5, 0.5], [1, 1, 1, 1, .5]),             # an improvement restarts the count
    ({"patience": 2}, [1.0, 0.99995, 0.99995, 0.99995], [1, 1, .5, .5]),               # below min_delta=1e-4
    ({"patience": 2, "min_delta": 0.0}, [1.0, 0.99995, 0.99995, 0.99995], [1, 1, 1, .5]),
    # Keras's cooldown: decremented first, epochs still inside it do not count towards patience.
    ({"patience": 1, "cooldown": 2}, FLAT, [1, .5, .5, .25, .25, .125, .125, .0625]),
    ({"patience": 1, "cooldown": 3}, FLAT, [1, .5, .5, .5, .25, .25, .25, .125]),
    ({"patience": 2, "cooldown": 1}, FLAT, [1, 1, .5, .5, .25, .25, .125, .125]),      # so cooldown=1 changes nothing
    ({"patience": 2, "cooldown": 3}, FLAT, [1, 1, .5, .5, .5, .5, .25, .25]),
])
def test_reduce_lr_on_plateau_follows_keras(options, values, lrs):
    run = drive(ReduceLROnPlateau(factor=0.5, **options), values)
    assert run.lrs == pytest.approx(lrs)


def test_reduce_lr_on_plateau_mode_max_for_accuracy():
    run = drive(ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=2), [0.5, 0.4, 0.3, 0.6],
                monitor="val_accuracy")
    assert run.lrs == pytest.approx([1, 1, .5, .5])


def test_reduce_lr_on_plateau_never_raises_an_lr_below_min_lr():
    run = drive(ReduceLROnPlateau(factor=0.5, patience=1, min_lr=0.1), FLAT[:3], network=FakeNetwork(lr=0.01))
    assert run.lrs == [0.01, 0.01, 0.01]


def test_reduce_lr_on_plateau_starts_afresh_on_every_train_call():
    reducer = ReduceLROnPlateau(factor=0.5, patience=2)
    network = FakeNetwork()
    assert drive(reducer, [1.0, 2.0], network=network).lrs == [1, 1]
    assert drive(reducer, [5.0], network=network).lrs == [1]  # 5.0 is the new run's first best


@pytest.mark.parametrize("options, name", [({"factor": 1.0}, "factor"), ({"factor": 0}, "factor"),
                                           ({"patience": -1}, "patience"), ({"cooldown": -1}, "cooldown"),
                                           ({"min_lr": -0.1}, "min_lr"), ({"mode": "up"}, "mode")])
def test_reduce_lr_on_plateau_refuses_invalid_arguments(options, name):
    with pytest.raises(ValueError, match=f"invalid value for {name}"):
        ReduceLROnPlateau(**options)


def test_reduce_lr_on_plateau_in_a_real_run_changes_the_optimisers_lr():
    network = classifier()
    history = train(network, [FeedLogs("val_loss", [1.0] * 4), ReduceLROnPlateau(factor=0.5, patience=1)], epochs=4)
    assert history.history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.025])  # the lr each epoch trained with
    assert network.optimizer.lr == pytest.approx(0.0125)


# -- LearningRateScheduler -----------------------------------------------------------------
def test_learning_rate_scheduler_sets_the_lr_of_every_epoch():
    schedule = StepDecay(0.2, step_size=2, gamma=0.5)
    history = train(classifier(), [LearningRateScheduler(schedule)], epochs=5)
    assert history.history["lr"] == [schedule(epoch) for epoch in range(5)]


def test_learning_rate_scheduler_lr_is_the_one_the_optimiser_uses():
    """An lr of 0 from epoch 2 on freezes the weights at the end of epoch 1."""
    spy = WeightsPerEpoch()
    train(classifier(), [LearningRateScheduler(lambda epoch, lr: 0.1 if epoch < 2 else 0.0), spy], epochs=4)
    assert not same_weights(spy.weights[0], spy.weights[1])
    assert same_weights(spy.weights[1], spy.weights[2]) and same_weights(spy.weights[1], spy.weights[3])


def test_learning_rate_scheduler_passes_the_current_lr():
    history = train(classifier(), [LearningRateScheduler(lambda epoch, lr: lr / 2)], epochs=3)
    assert history.history["lr"] == [0.05, 0.025, 0.0125]


def test_learning_rate_scheduler_accepts_a_one_argument_schedule():
    history = train(classifier(), [LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))], epochs=3)
    assert history.history["lr"] == pytest.approx([0.1, 0.05, 0.1 / 3])


def test_learning_rate_scheduler_counts_epochs_from_initial_epoch():
    network = classifier()
    train(network, [], epochs=2)
    history = train(network, [LearningRateScheduler(lambda epoch, lr: 0.01 * epoch)], epochs=4, initial_epoch=2)
    assert history.epoch == [2, 3] and history.history["lr"] == [0.02, 0.03]


@pytest.mark.parametrize("bad_lr", [-0.1, NAN, math.inf])
def test_learning_rate_scheduler_refuses_a_bad_lr(bad_lr):
    with pytest.raises(ValueError, match="epoch 0"):
        train(classifier(), [LearningRateScheduler(lambda epoch, lr: bad_lr)], epochs=1)


def test_learning_rate_scheduler_refuses_a_schedule_that_is_not_callable():
    with pytest.raises(ValueError, match="not callable"):
        LearningRateScheduler(0.1)


# -- CSVLogger -----------------------------------------------------------------------------
def read_csv(path, separator=","):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file, delimiter=separator))


KEYS = ["epoch", "accuracy", "elapsed", "loss", "lr", "val_accuracy", "val_loss"]


def test_csv_logger_writes_a_header_and_one_row_per_epoch(tmp_path):
    path = str(tmp_path / "log.csv")
    X, y = blobs()
    history = train(classifier(), [CSVLogger(path)], epochs=3, val_X=X[:4], val_y=y[:4])
    rows = read_csv(path)
    assert rows[0] == KEYS and len(rows) == 4
    for epoch, row in enumerate(rows[1:]):
        assert row[0] == str(epoch)
        for key, value in zip(KEYS[1:], row[1:]):
            recorded = history.elapsed if key == "elapsed" else history.history[key]
            assert float(value) == recorded[epoch]  # repr round-trips exactly


def test_csv_logger_append_continues_without_a_second_header(tmp_path):
    path = str(tmp_path / "log.csv")
    network = classifier()
    train(network, [CSVLogger(path, separator=";", append=True)], epochs=2)
    train(network, [CSVLogger(path, separator=";", append=True)], epochs=5, initial_epoch=2)
    rows = read_csv(path, ";")
    assert rows[0] == ["epoch", "accuracy", "elapsed", "loss", "lr"]
    assert [row[0] for row in rows[1:]] == ["0", "1", "2", "3", "4"]


def test_csv_logger_without_append_starts_the_file_again(tmp_path):
    path = str(tmp_path / "log.csv")
    network = classifier()
    train(network, [CSVLogger(path)], epochs=3)
    train(network, [CSVLogger(path)], epochs=2)
    rows = read_csv(path)
    assert rows[0][0] == "epoch" and [row[0] for row in rows[1:]] == ["0", "1"]


# -- TerminateOnNaN ------------------------------------------------------------------------
@pytest.mark.parametrize("loss, stops", [(NAN, True), (math.inf, True), (-math.inf, True), (np.float32("nan"), True),
                                         (0.5, False), (None, False)])
def test_terminate_on_nan_stops_on_a_non_finite_batch_loss(loss, stops):
    network = FakeNetwork()
    callback = TerminateOnNaN()
    callback.set_network(network)
    callback.on_batch_end(0, {} if loss is None else {"loss": loss, "accuracy": 0.5})
    assert network.stop_training == stops


class NaNOnCall:
    """A loss (mean squared error) that returns NaN on its `call`-th use, counting from 1."""

    def __init__(self, call):
        self.call, self.calls = call, 0

    def __call__(self, y_true, y_pred):
        self.calls += 1
        return NAN if self.calls == self.call else float(np.mean((y_pred - y_true) ** 2))


def test_a_nan_loss_in_a_real_run_stops_and_keeps_the_last_complete_epoch():
    network, spy = classifier(), WeightsPerEpoch()
    with pytest.warns(RuntimeWarning, match="epoch 3, batch 2"):
        history = network.train(*blobs(), 5, 0.1, NaNOnCall(8), mse_loss_derivative, log_file=None, batch_size=4,
                                seed=0, verbose=0, callbacks=[TerminateOnNaN(), spy])
    assert history.epoch == [0, 1]  # 3 batches an epoch: the 8th loss is epoch 3's second batch
    assert same_weights(network.get_weights(), spy.weights[1])


class StopAtFirstBatch(Callback):
    """Sets stop_training in on_batch_end, as TerminateOnNaN does, and counts the batches run."""

    def on_train_begin(self, logs=None):
        self.batches = 0

    def on_batch_end(self, batch, logs=None):
        self.batches += 1
        self.network.stop_training = True


def test_stop_training_set_in_on_batch_end_stops_after_that_batch():
    stopper = StopAtFirstBatch()
    history = train(classifier(), [stopper], epochs=3)  # 12 samples, batch_size 4: 3 batches an epoch
    assert history.epoch == [0]  # on_epoch_end still runs for the cut-short epoch, as in Keras
    assert stopper.batches == 1


# -- verbose: a line when a callback acts --------------------------------------------------
def test_reduce_lr_on_plateau_verbose_prints_each_reduction(capsys):
    drive(ReduceLROnPlateau(factor=0.5, patience=1, verbose=1), [1.0, 1.0, 1.0])
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.5.",
        "Epoch 3: ReduceLROnPlateau reducing learning rate to 0.25."]
    drive(ReduceLROnPlateau(factor=0.5, patience=1), [1.0, 1.0, 1.0])
    assert capsys.readouterr().out == ""


def test_early_stopping_verbose_says_when_it_stops_and_restores(capsys):
    drive(EarlyStopping(patience=1, restore_best_weights=True, verbose=1), [1.0, 0.5, 0.7, 0.8])
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 3: early stopping", "Restoring model weights from the end of the best epoch: 2."]
    drive(EarlyStopping(patience=5, verbose=1), [1.0, 0.5])  # neither stopped nor restoring: nothing to say
    assert capsys.readouterr().out == ""


def test_model_checkpoint_verbose_reports_every_decision(capsys):
    drive(ModelCheckpoint("m-{epoch}.model", save_best_only=True, verbose=1), [2.0, 3.0, 1.0])
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 1: val_loss improved from inf to 2.00000, saving model to m-1.model",
        "Epoch 2: val_loss did not improve from 2.00000",
        "Epoch 3: val_loss improved from 2.00000 to 1.00000, saving model to m-3.model"]
    drive(ModelCheckpoint("every.model", verbose=True), [2.0])
    assert capsys.readouterr().out == "Epoch 1: saving model to every.model\n"


@pytest.mark.parametrize("make", [lambda v: EarlyStopping(verbose=v), lambda v: ReduceLROnPlateau(verbose=v),
                                  lambda v: ModelCheckpoint("m.model", verbose=v)])
@pytest.mark.parametrize("verbose", [2, -1, "1", 0.5, None])
def test_verbose_must_be_0_or_1(make, verbose):
    with pytest.raises(ValueError, match=f"invalid value for verbose, expected 0.*Received: verbose={verbose!r}"):
        make(verbose)


@pytest.mark.parametrize("options, name", [({"monitor": ""}, "monitor"), ({"monitor": 3}, "monitor"),
                                           ({"save_weights_only": "yes"}, "save_weights_only"),
                                           ({"save_best_only": 1}, "save_best_only"), ({"filepath": None}, "filepath")])
def test_model_checkpoint_refuses_invalid_arguments(options, name):
    with pytest.raises(ValueError, match=f"invalid value for {name}"):
        ModelCheckpoint(**{"filepath": "m.model", **options})


# -- ModelCheckpoint(save_weights_only=True) -----------------------------------------------
def test_model_checkpoint_save_weights_only_writes_weights_files_that_load_weights_reads(tmp_path):
    import zipfile

    network, spy = classifier(), WeightsPerEpoch()
    checkpoint = ModelCheckpoint(str(tmp_path / "w-{epoch}.weights"), save_weights_only=True)
    train(network, [spy, checkpoint], epochs=3)
    assert sorted(os.listdir(tmp_path)) == ["w-1.weights", "w-2.weights", "w-3.weights"]
    with zipfile.ZipFile(tmp_path / "w-2.weights") as archive:
        assert sorted(archive.namelist()) == ["manifest.json", "weights.npz"]  # no layer configs, no optimiser
    fresh = classifier()
    scratchcnn.load_weights(fresh, str(tmp_path / "w-2.weights"))
    assert same_weights(fresh.get_weights(), spy.weights[1])
    assert "epochs_completed" not in network.metadata  # the model's metadata is left alone


# -- a val_* monitor without validation data: a warning up front, then nothing -------------
@pytest.mark.parametrize("make", [lambda: EarlyStopping(patience=0), lambda: ReduceLROnPlateau(patience=0),
                                  lambda: ModelCheckpoint("never.model", save_best_only=True)])
def test_check_monitors_warns_once_up_front_and_the_callback_then_does_nothing(make, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    callback = make()
    with pytest.warns(RuntimeWarning, match=f"{type(callback).__name__} monitors 'val_loss'.*no validation data"):
        scratchcnn.callbacks.check_monitors([callback], has_validation=False)
    run = drive(callback, [1.0, 1.0, 1.0], monitor="loss")  # the logs hold no val_loss: no error, no action
    assert run.epochs == 3 and run.lrs == [1.0, 1.0, 1.0] and not run.network.stop_training
    assert run.network.saved == [] and os.listdir(tmp_path) == []


def test_check_monitors_is_silent_with_validation_data_or_a_training_monitor():
    import warnings

    callbacks = [EarlyStopping(), ReduceLROnPlateau(monitor="loss"), ModelCheckpoint("m.model"), TerminateOnNaN()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scratchcnn.callbacks.check_monitors(callbacks, has_validation=True)
        scratchcnn.callbacks.check_monitors(callbacks[1:], has_validation=False)
    with pytest.raises(ValueError, match="val_loss"):  # once validation data is promised, a missing figure is an error
        drive(callbacks[0], [1.0], monitor="loss")


def test_a_checked_val_monitor_in_a_real_run_without_validation_carries_on():
    network, stopper = classifier(), EarlyStopping(patience=0)
    with pytest.warns(RuntimeWarning, match="EarlyStopping monitors 'val_loss'"):
        scratchcnn.callbacks.check_monitors([stopper], has_validation=False)
    history = train(network, [stopper], epochs=3)
    assert history.epoch == [0, 1, 2] and stopper.stopped_epoch is None
