"""Model files: bit-identical round trips, atomic overwrites, exact resumption, and refusal of bad files."""
import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import scratchcnn
from scratchcnn import (Adam, Callback, ConvLayer, Dense, Flatten, ModelFileError, MultiClassDense, Network,
                        PoolingLayer)
from scratchcnn.losses import categorical_crossentropy, categorical_crossentropy_derivative

CCE = (categorical_crossentropy, categorical_crossentropy_derivative)


def small_cnn(dtype="float32"):
    return Network([ConvLayer(3, 1, 2), PoolingLayer(), Flatten(), MultiClassDense(8, 3)], dtype=dtype)


def images(count=9, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(count, 1, 6, 6)).astype(np.float32), rng.integers(0, 3, size=count)


def trained_cnn(epochs=1, dtype="float32"):
    X, labels = images()
    network = small_cnn(dtype)
    network.train(X, labels, epochs, 0.01, *CCE, log_file=None, batch_size=3, optimizer="adam", seed=1, verbose=0)
    return network


def weights(network):
    return [param.value.copy() for param in network.parameters()]


def same_weights(first, second):
    return len(first) == len(second) and all(np.array_equal(a, b) for a, b in zip(first, second))


def members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_members(path, contents):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)


# -- round trips ----------------------------------------------------------------
def test_save_then_load_gives_bit_identical_predictions_all_three_ways(tmp_path):
    network = trained_cnn()
    path = str(tmp_path / "cnn.model")
    network.save_model(path)
    X, _ = images(count=7, seed=5)
    expected = network.predict(X)

    into_itself = network.load_model(path)
    assert into_itself is network
    assert np.array_equal(network.predict(X), expected)
    fresh = Network()
    assert fresh.load_model(path) is fresh
    assert np.array_equal(fresh.predict(X), expected)
    loaded = scratchcnn.load_model(path)
    assert isinstance(loaded, Network)
    assert np.array_equal(loaded.predict(X), expected)
    assert same_weights(weights(loaded), weights(trained_cnn()))


def test_load_model_replaces_a_different_architecture(tmp_path):
    network = trained_cnn()
    network.save_model(str(tmp_path / "cnn.model"))
    other = Network([Dense(4, 2)])
    other.load_model(str(tmp_path / "cnn.model"))
    assert [layer.name for layer in other.layers] == ["ConvLayer", "PoolingLayer", "Flatten", "MultiClassDense"]
    assert same_weights(weights(other), weights(network))


def test_float64_network_round_trips_with_its_dtype(tmp_path):
    network = trained_cnn(dtype="float64")
    network.save_model(str(tmp_path / "cnn.model"))
    loaded = scratchcnn.load_model(str(tmp_path / "cnn.model"))
    assert loaded.dtype == np.float64
    assert all(param.value.dtype == np.float64 for param in loaded.parameters())
    X, _ = images(count=4, seed=2)
    assert np.array_equal(loaded.predict(X), network.predict(X))


def test_model_file_is_a_zip_of_config_weights_and_optimizer_state(tmp_path):
    untrained = small_cnn()
    untrained.save_model(str(tmp_path / "untrained.model"))
    assert set(members(tmp_path / "untrained.model")) == {"config.json", "weights.npz"}

    trained_cnn().save_model(str(tmp_path / "trained.model"))
    contents = members(tmp_path / "trained.model")
    assert set(contents) == {"config.json", "weights.npz", "optimizer.npz"}
    config = json.loads(contents["config.json"])
    assert [layer["class_name"] for layer in config["layers"]] == ["ConvLayer", "PoolingLayer", "Flatten",
                                                                   "MultiClassDense"]
    with np.load(io.BytesIO(contents["weights.npz"]), allow_pickle=False) as arrays:
        assert arrays["0.weight"].shape == (2, 1, 3, 3) and arrays["3.weight"].shape == (8, 3)


def test_saved_file_gets_ordinary_permissions(tmp_path):
    """The atomic write must not leave a private (0600) temporary-file mode on the model."""
    trained_cnn().save_model(str(tmp_path / "cnn.model"))
    (tmp_path / "plain.txt").write_text("x")
    assert os.stat(tmp_path / "cnn.model").st_mode == os.stat(tmp_path / "plain.txt").st_mode


def test_a_loaded_network_is_not_reinitialised_by_a_training_seed(tmp_path):
    network = trained_cnn()
    network.save_model(str(tmp_path / "cnn.model"))
    loaded = scratchcnn.load_model(str(tmp_path / "cnn.model"))

    class InitialWeights(Callback):
        def on_train_begin(self, logs=None):
            self.weights = weights(self.network)

    recorder = InitialWeights()
    X, labels = images()
    loaded.train(X, labels, 1, 0.01, *CCE, log_file=None, seed=99, verbose=0, callbacks=[recorder])
    assert same_weights(recorder.weights, weights(network))


# -- atomic writes --------------------------------------------------------------
def test_failed_overwrite_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "cnn.model"
    network = trained_cnn()
    network.save_model(str(path))
    old_bytes = path.read_bytes()
    X, labels = images()
    network.train(X, labels, 1, 0.01, *CCE, log_file=None, seed=2, verbose=0)  # new weights to (fail to) save

    real_writestr = zipfile.ZipFile.writestr
    calls = []

    def fail_on_second_member(self, *args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        return real_writestr(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", fail_on_second_member)
    with pytest.raises(OSError, match="simulated"):
        network.save_model(str(path))
    monkeypatch.undo()

    assert len(calls) == 2  # the failure came in the middle of writing the archive
    assert path.read_bytes() == old_bytes
    assert sorted(os.listdir(tmp_path)) == ["cnn.model"]
    assert same_weights(weights(scratchcnn.load_model(str(path))), weights(trained_cnn()))


def test_successful_save_leaves_only_the_model_file(tmp_path):
    path = tmp_path / "cnn.model"
    trained_cnn().save_model(str(path))
    trained_cnn(epochs=2).save_model(str(path))  # overwrite
    assert sorted(os.listdir(tmp_path)) == ["cnn.model"]
    assert same_weights(weights(scratchcnn.load_model(str(path))), weights(trained_cnn(epochs=2)))


# -- resuming -------------------------------------------------------------------
RESUME = dict(log_file=None, batch_size=3, optimizer="adam", shuffle=True, seed=13, verbose=0)


def _uninterrupted_and_first_half(tmp_path):
    """(data, a network trained 4 epochs, the path of one trained 2 epochs with the same seed)."""
    X, labels = images(count=12, seed=4)
    uninterrupted = small_cnn()
    uninterrupted.train(X, labels, 4, 0.01, *CCE, **RESUME)
    first_half = small_cnn()
    first_half.train(X, labels, 2, 0.01, *CCE, **RESUME)
    first_half.save_model(str(tmp_path / "half.model"))
    return X, labels, uninterrupted, str(tmp_path / "half.model")


def test_resumed_adam_training_equals_uninterrupted_training(tmp_path):
    X, labels, uninterrupted, half = _uninterrupted_and_first_half(tmp_path)
    resumed = Network().load_model(half)
    history = resumed.train(X, labels, 4, 0.01, *CCE, initial_epoch=2, **RESUME)

    assert history.epoch == [2, 3]
    assert same_weights(weights(resumed), weights(uninterrupted))


def test_resuming_without_the_saved_optimizer_state_gives_a_different_result(tmp_path):
    """The control for the test above: Adam's moments matter, so they really were restored."""
    X, labels, uninterrupted, half = _uninterrupted_and_first_half(tmp_path)
    restarted = scratchcnn.load_model(half)
    options = dict(RESUME, optimizer=Adam(restarted.parameters(), lr=0.01))  # fresh moments, step count 0
    restarted.train(X, labels, 4, 0.01, *CCE, initial_epoch=2, **options)
    assert not same_weights(weights(restarted), weights(uninterrupted))


def test_resumed_training_appends_to_the_log(tmp_path):
    X, labels = images(count=6)
    log = str(tmp_path / "log.txt")
    network = small_cnn()
    network.train(X, labels, 2, 0.01, *CCE, **dict(RESUME, log_file=log))
    network.save_model(str(tmp_path / "half.model"))
    scratchcnn.load_model(str(tmp_path / "half.model")).train(X, labels, 4, 0.01, *CCE,
                                                              **dict(RESUME, log_file=log, initial_epoch=2))
    lines = open(log, encoding="utf-8").read().splitlines()
    epochs = [line.split(":Epoch ")[1].split(",")[0] for line in lines if ":Epoch " in line]
    assert epochs == ["1/2", "2/2", "3/4", "4/4"]
    assert sum(line.startswith("Total Training Time:") for line in lines) == 2


# -- refusing bad files ---------------------------------------------------------
@pytest.fixture()
def saved(tmp_path):
    """(path, members) of a valid trained model file."""
    path = tmp_path / "good.model"
    trained_cnn().save_model(str(path))
    return path, members(path)


def rewritten(tmp_path, contents, change_config=None, **replace):
    contents = dict(contents)
    if change_config is not None:
        config = json.loads(contents["config.json"])
        change_config(config)
        contents["config.json"] = json.dumps(config)
    contents.update({name.replace("_", "."): data for name, data in replace.items()})
    path = tmp_path / "bad.model"
    write_members(path, contents)
    return path


def refuses(path, match):
    with pytest.raises(ModelFileError, match=match):
        scratchcnn.load_model(str(path))
    with pytest.raises(ModelFileError):
        Network().load_model(str(path))


@pytest.mark.parametrize("content", [b"", b"hello, not a model\n", b"PK\x03\x04 truncated header"])
def test_refuses_a_file_that_is_not_a_zip(tmp_path, content):
    path = tmp_path / "bad.model"
    path.write_bytes(content)
    refuses(path, "not a scratchcnn model file|not a valid zip|damaged")


@pytest.mark.parametrize("fraction", [0.3, 0.9])
def test_refuses_a_truncated_file(saved, tmp_path, fraction):
    data = saved[0].read_bytes()
    path = tmp_path / "truncated.model"
    path.write_bytes(data[:int(len(data) * fraction)])
    refuses(path, "zip|damaged")


def test_refuses_an_unknown_layer_class(saved, tmp_path):
    def rename(config):
        config["layers"][1]["class_name"] = "EvalEverything"

    refuses(rewritten(tmp_path, saved[1], rename), "unknown class 'EvalEverything'")


def test_refuses_an_unknown_format_version(saved, tmp_path):
    def bump(config):
        config["format_version"] = 99

    refuses(rewritten(tmp_path, saved[1], bump), "version 99")


def test_refuses_a_layer_config_that_disagrees_with_the_arrays(saved, tmp_path):
    def widen(config):
        config["layers"][3]["config"]["num_classes"] = 4  # the stored weights are (8, 3)

    refuses(rewritten(tmp_path, saved[1], widen), r"Layer 3 \(MultiClassDense\)|3\.weight")


def test_refuses_an_array_whose_shape_disagrees_with_the_config(saved, tmp_path):
    with np.load(io.BytesIO(saved[1]["weights.npz"])) as stored:
        arrays = dict(stored)
    arrays["3.weight"] = np.zeros((3, 8), dtype=arrays["3.weight"].dtype)  # transposed
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    refuses(rewritten(tmp_path, saved[1], weights_npz=buffer.getvalue()), r"3\.weight.*\[3, 8\]")


def test_refuses_an_object_array_without_unpickling_it(saved, tmp_path):
    with np.load(io.BytesIO(saved[1]["weights.npz"])) as stored:
        arrays = dict(stored)
    arrays["3.bias"] = np.array([1.0, 2.0, {"x": 1}], dtype=object)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    refuses(rewritten(tmp_path, saved[1], weights_npz=buffer.getvalue()), "object array|pickle")


class CreatesFileWhenUnpickled:
    """Unpickling this object creates a file: the proof that a loader ran pickle."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_refuses_a_pickle_renamed_model_without_running_it(tmp_path):
    marker = tmp_path / "pickle-ran"
    path = tmp_path / "network.model"
    path.write_bytes(pickle.dumps({"layers": [CreatesFileWhenUnpickled(str(marker))]}))
    refuses(path, "not a scratchcnn model file|not a valid zip")
    assert not marker.exists()


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        scratchcnn.load_model(str(tmp_path / "nowhere.model"))


def test_a_failed_load_leaves_the_network_as_it_was(tmp_path):
    network = trained_cnn()
    before = weights(network)
    (tmp_path / "bad.model").write_bytes(b"not a zip")
    with pytest.raises(ModelFileError):
        network.load_model(str(tmp_path / "bad.model"))
    assert same_weights(weights(network), before)
    assert len(network.layers) == 4


def test_an_empty_network_is_either_refused_on_save_or_round_trips(tmp_path):
    """Never a file that load_model refuses."""
    path = tmp_path / "empty.model"
    try:
        Network().save_model(str(path))
    except ValueError:
        assert not path.exists()  # refused before writing anything
        return
    assert scratchcnn.load_model(str(path)).layers == []
