"""What a user with Keras or PyTorch habits reaches for: compile/fit, network(X), losses and metrics by name,
regression end to end, validation_data, padding='same', kernel pairs, shape inference, batch sources, and clear
errors or warnings for the usual input mistakes."""
import warnings

import numpy as np
import pytest

from scratchcnn import (BatchNorm, ConvLayer, Dense, Flatten, MultiClassDense, Network, PoolingLayer, load_model,
                        losses, metrics, reference)
from scratchcnn.engine.threads import TrainingShards


def images(n=48, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 8, 8), dtype=np.float32), rng.integers(0, classes, n)


def small_net(engine="fast"):
    return Network([ConvLayer(3, 1, 4, padding=1), PoolingLayer(), Flatten(), Dense(64, 8), MultiClassDense(8, 3)],
                   engine=engine)


def test_compile_then_fit_equals_train_with_the_same_settings():
    X, y = images()
    keras = small_net().compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = keras.fit(X, y, epochs=2, batch_size=16, verbose=0, seed=1)
    report = small_net()
    expected = report.train(X, y, 2, 0.001, losses.categorical_crossentropy, losses.categorical_crossentropy_derivative,
                            log_file=None, batch_size=16, optimizer="adam", verbose=0, seed=1)
    assert history.history == expected.history
    for ours, theirs in zip(keras.get_weights(), report.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(keras(X), keras.predict(X))  # network(X) is the forward pass


def test_fit_needs_compile_and_compile_checks_its_arguments():
    X, y = images()
    with pytest.raises(RuntimeError, match="compile"):
        small_net().fit(X, y)
    with pytest.raises(ValueError, match="optimizer='adagrad'"):
        small_net().compile(optimizer="adagrad")
    with pytest.raises(ValueError, match="unknown loss.*'hinge'"):
        small_net().compile(loss="hinge")
    with pytest.raises(ValueError, match="unknown metric.*'f1'"):
        small_net().compile(metrics=["f1"])


def test_rmsprop_by_name_takes_keras_default_learning_rate():
    X, y = images()
    network = small_net().compile(optimizer="rmsprop", loss="categorical_crossentropy")
    network.fit(X, y, epochs=1, verbose=0, seed=0)
    assert type(network.optimizer).__name__ == "RMSprop" and network.optimizer.lr == 0.001


def regression_data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 4), dtype=np.float32)
    return X, (X @ np.array([1.0, -2.0, 0.5, 0.3], np.float32) - 0.4)[:, None]


@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_regression_trains_validates_and_evaluates_end_to_end(loss):
    X, y = regression_data()
    network = Network([Dense(4, 16, activation="tanh"), Dense(16, 1, activation="linear")])
    network.compile(optimizer="adam", loss=loss, metrics=["mae", "mse"], learning_rate=0.01)
    history = network.fit(X, y, epochs=15, batch_size=8, validation_split=0.2, verbose=0, seed=0)
    assert set(history.history) == {"loss", "mae", "mse", "val_loss", "val_mae", "val_mse", "lr"}
    assert history.history["val_loss"][-1] < history.history["val_loss"][0]
    outputs, value, accuracy = network.evaluate(X, y, loss)
    assert accuracy is None  # no accuracy for a regression loss
    scores = network.evaluate(X, y, return_dict=True)
    np.testing.assert_allclose(scores["mae"], np.mean(np.abs(outputs - y)), rtol=1e-5)
    np.testing.assert_allclose(scores["mse"], np.mean((outputs - y) ** 2), rtol=1e-5)
    np.testing.assert_allclose(scores["loss"], value, rtol=1e-6)


def test_a_regression_run_reports_no_accuracy_and_its_log_shows_none(tmp_path):
    X, y = regression_data()
    network = Network([Dense(4, 8), Dense(8, 1, activation="linear")])
    log = tmp_path / "log.txt"
    history = network.train(X, y, 2, 0.01, "mse", log_file=str(log), batch_size=8, verbose=0, seed=0,
                            validation_data=(X[:10], y[:10]))
    assert "accuracy" not in history.history and "val_loss" in history.history
    text = log.read_text()
    assert "Accuracy" not in text and "Loss:" in text and "Val Loss:" in text


def test_validation_data_equals_val_x_and_val_y_and_is_checked():
    X, y = images()
    runs = []
    for validation in ({"validation_data": (X[:12], y[:12])}, {"val_X": X[:12], "val_y": y[:12]}):
        network = small_net()
        runs.append(network.train(X, y, 2, 0.05, "categorical_crossentropy", log_file=None, batch_size=16,
                                  verbose=0, seed=0, **validation).history)
    assert runs[0] == runs[1] and "val_accuracy" in runs[0]
    with pytest.raises(ValueError, match="validation_data, expected a pair"):
        small_net().train(X, y, 1, 0.05, "categorical_crossentropy", log_file=None, verbose=0,
                          validation_data=(X, y, y))


def test_metrics_are_exact_means_over_the_epoch_and_top_k_counts_the_k_best():
    y = np.eye(4)[[0, 1, 2, 3]]
    p = np.array([[.4, .3, .2, .1], [.4, .3, .2, .1], [.4, .3, .2, .1], [.4, .3, .2, .1]])
    assert metrics.TopKAccuracy(2).total(y, p) == 2 and metrics.TopKAccuracy(4).total(y, p) == 4
    assert metrics.get("top_k_accuracy").name == "top_5_accuracy"
    X, labels = images(50)
    network = small_net()
    network.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy", metrics.TopKAccuracy(2)],
                    learning_rate=1e-12)  # (nearly) no learning: the epoch's figures are those of fixed weights
    history = network.fit(X, labels, epochs=1, batch_size=7, verbose=0, seed=0)
    out = network.predict(X)
    onehot = np.eye(3)[labels]
    np.testing.assert_allclose(history.history["accuracy"][0], np.mean(out.argmax(1) == labels), atol=1e-9)
    np.testing.assert_allclose(history.history["top_2_accuracy"][0], metrics.TopKAccuracy(2).total(onehot, out) / 50)


def test_padding_same_and_valid_and_kernel_pairs():
    x = np.random.default_rng(0).random((2, 3, 9, 10))
    for stride in (1, 2, 3):
        layer = ConvLayer(5, 3, 4, stride=stride, padding="same")
        assert layer.forward(x).shape == (2, 4, -(-9 // stride), -(-10 // stride))  # Keras's ceil(H / stride)
    assert ConvLayer(3, 3, 4, padding="valid").forward(x).shape == (2, 4, 7, 8)
    with pytest.raises(ValueError, match=r"padding='same' with filter_size=\(4, 4\), expected odd"):
        ConvLayer(4, 3, 4, padding="same")
    layer = ConvLayer((3, 5), 3, 4, stride=(1, 2), padding=(1, 2), activation="linear").astype(np.float64)
    expected, _ = reference.conv2d_forward(x, layer.weight.value, layer.bias.value, (1, 2), (1, 2))
    np.testing.assert_allclose(layer.forward(x), expected)
    assert layer.output_shape((3, 9, 10)) == expected.shape[1:] == (4, 9, 5)
    assert ConvLayer(**layer.get_config()).kernel_size == (3, 5)
    for bad in ({"filter_size": (3, 0)}, {"filter_size": (1, 2, 3)}, {"stride": "2"}, {"padding": "full"}):
        with pytest.raises(ValueError, match="Received an invalid value for"):
            ConvLayer(**{"filter_size": 3, "depth": 1, "num_filters": 2, **bad})


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_net_with_kernel_pairs_trains_alike_on_both_engines_and_saves(engine, tmp_path):
    X, y = images()
    def build():
        return Network([ConvLayer((3, 1), 1, 4, padding=(1, 0), stride=(1, 2)), PoolingLayer(), Flatten(),
                        MultiClassDense(3)], engine=engine)
    network = build()
    network.train(X, y, 2, 0.05, "categorical_crossentropy", log_file=None, batch_size=16, verbose=0, seed=0)
    other = build()
    other.engine = "reference" if engine == "fast" else "fast"
    other.train(X, y, 2, 0.05, "categorical_crossentropy", log_file=None, batch_size=16, verbose=0, seed=0)
    for ours, theirs in zip(network.get_weights(), other.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    network.save_model(tmp_path / "pairs.model")
    np.testing.assert_array_equal(load_model(tmp_path / "pairs.model").predict(X), network.predict(X))


def test_layers_learn_their_input_size_when_the_network_is_built(tmp_path):
    X, y = images()
    network = Network([ConvLayer(3, num_filters=6, padding="same"), BatchNorm(), PoolingLayer(), Flatten(),
                       Dense(16), Dense(output_dim=8), MultiClassDense(3)])
    assert network.parameters() == []
    table = network.summary(input_shape=(1, 8, 8), print_fn=None)
    assert "(96,)" in table and network.layers[4].input_dim == 96 and network.layers[1].num_features == 6
    history = network.train(X, y, 2, 0.05, "categorical_crossentropy", log_file=None, batch_size=16, verbose=0,
                            seed=0)
    assert len(history.history["loss"]) == 2
    network.save_model(tmp_path / "inferred.model")
    loaded = load_model(tmp_path / "inferred.model")
    np.testing.assert_array_equal(loaded.predict(X), network.predict(X))
    assert Dense(1936, 160).input_dim == 1936  # the report's two-argument form
    with pytest.raises(ValueError, match="Flatten"):
        Network([ConvLayer(3, 1, 2), Dense(4)]).build((1, 8, 8))


def test_the_same_seed_gives_the_same_weights_with_inferred_sizes():
    X, y = images()
    weights = []
    for _ in range(2):
        network = Network([Flatten(), Dense(8), MultiClassDense(3)])
        network.train(X, y, 1, 0.05, "categorical_crossentropy", log_file=None, batch_size=16, verbose=0, seed=4)
        weights.append(network.get_weights())
    for first, second in zip(*weights):
        np.testing.assert_array_equal(first, second)


class Batches:
    """A batch source: len() batches, source[i] -> (X_batch, y_batch)."""

    def __init__(self, X, y, batch_size):
        self.X, self.y, self.batch_size = X, y, batch_size
        self.epochs_seen = []

    def __len__(self):
        return -(-len(self.X) // self.batch_size)

    def __getitem__(self, index):
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.X[rows], self.y[rows]

    def set_epoch(self, epoch):
        self.epochs_seen.append(epoch)


def test_a_batch_source_trains_as_the_same_batches_from_memory():
    X, y = images(50)
    source = Batches(X, y, 16)
    from_source = small_net()
    history = from_source.train(source, None, 3, 0.05, "categorical_crossentropy", log_file=None, batch_size=16,
                                verbose=0, seed=0, validation_data=Batches(X[:10], y[:10], 4))
    in_memory = small_net()
    expected = in_memory.train(X, y, 3, 0.05, "categorical_crossentropy", log_file=None, batch_size=16, verbose=0,
                               seed=0, shuffle=False, validation_data=(X[:10], y[:10]))
    assert source.epochs_seen == [0, 1, 2]
    np.testing.assert_allclose(history.history["loss"], expected.history["loss"], rtol=1e-6)
    np.testing.assert_allclose(history.history["val_loss"], expected.history["val_loss"], rtol=1e-6)
    for ours, theirs in zip(from_source.get_weights(), in_memory.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    assert from_source.metadata["input_shape"] == [1, 8, 8]


def test_a_batch_source_with_a_bad_batch_names_it():
    X, y = images(32)
    X[20, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf in a batch's X"):
        small_net().train(Batches(X, y, 16), None, 1, 0.05, "categorical_crossentropy", log_file=None, verbose=0)
    with pytest.raises(ValueError, match="together with y"):
        small_net().train(Batches(X, y, 16), y, 1, 0.05, "categorical_crossentropy", log_file=None, verbose=0)


def test_the_first_run_records_the_input_shape_and_class_names():
    X, y = images()
    network = small_net()
    network.train(X, y, 1, 0.05, "categorical_crossentropy", log_file=None, verbose=0, seed=0,
                  class_names=["cat", "dog", "fox"])
    assert network.metadata == {"input_shape": [1, 8, 8], "class_names": ["cat", "dog", "fox"]}
    with pytest.raises(ValueError, match="2 class names for a network of 3 output"):
        small_net().train(X, y, 1, 0.05, "categorical_crossentropy", log_file=None, verbose=0, class_names=["a", "b"])


def test_input_mistakes_get_the_fix_in_the_error():
    network = small_net()
    with pytest.raises(ValueError, match=r"add the channel axis: X\[:, None\] has shape \(5, 1, 8, 8\)"):
        network.predict(np.zeros((5, 8, 8)))
    with pytest.raises(ValueError, match=r"channels-last.*X.transpose\(0, 3, 1, 2\) has shape \(5, 1, 8, 8\)"):
        network.predict(np.zeros((5, 8, 8, 1)))
    assert network.predict(np.zeros((1, 8, 8))).shape == (3,)  # one (C, H, W) sample, as in the report


def test_unscaled_inputs_warn_and_scaled_ones_do_not():
    X, y = images()
    for raw in ((X * 255).astype(np.uint8), X * 255):
        with pytest.warns(UserWarning, match="looks unscaled"):
            small_net().train(raw, y, 1, 0.01, "categorical_crossentropy", log_file=None, verbose=0, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small_net().train(X, y, 1, 0.01, "categorical_crossentropy", log_file=None, verbose=0, seed=0)


def test_a_split_step_reports_the_metrics_of_the_whole_batch(monkeypatch):
    """On two threads each shard sums its rows' metric; the epoch's figures equal the one-thread run's."""
    from scratchcnn import parallel
    X, y = images(96)
    histories = []
    for threads in (1, 2):
        parallel.set_num_threads(threads)
        try:
            network = small_net()
            histories.append(network.train(X, y, 2, 0.05, "categorical_crossentropy", log_file=None, batch_size=48,
                                           verbose=0, seed=0, metrics=["accuracy", "mse"]).history)
        finally:
            parallel.set_num_threads(None)
    for key in ("loss", "accuracy", "mse"):
        np.testing.assert_allclose(histories[1][key], histories[0][key], rtol=1e-4)


def test_load_model_on_a_different_network_warns_and_load_weights_refuses(tmp_path):
    X, y = images()
    trained = small_net()
    trained.train(X, y, 1, 0.05, "categorical_crossentropy", log_file=None, verbose=0, seed=0)
    trained.save_model(tmp_path / "small.model")
    other = Network([Flatten(), Dense(64, 3)])
    with pytest.raises(ValueError, match="layer"):
        other.load_weights(tmp_path / "small.model")
    with pytest.warns(UserWarning, match="replaced this network's 2 layers with the 5 layers"):
        other.load_model(tmp_path / "small.model")
    np.testing.assert_array_equal(other.predict(X), trained.predict(X))
    same = small_net()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same.load_model(tmp_path / "small.model")  # the same architecture: no warning
