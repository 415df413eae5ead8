"""Weights files (saving.save_weights / load_weights): round trips, strict architecture checks that leave the
network unchanged, and refusal of damaged files."""
import io
import json
import os
import zipfile

import numpy as np
import pytest

from scratchcnn import (Activation, BatchNorm, ConvLayer, Dense, Flatten, ModelFileError, MultiClassDense, Network,
                        PoolingLayer, load_weights, save_weights)
from scratchcnn.losses import categorical_crossentropy, categorical_crossentropy_derivative

CCE = (categorical_crossentropy, categorical_crossentropy_derivative)


def conv_net(filters=2, dtype="float32", classes=3):
    return Network([ConvLayer(3, 1, filters, activation="linear"), BatchNorm(filters), Activation("relu"),
                    PoolingLayer(), Flatten(), MultiClassDense(4 * filters, classes)], dtype=dtype)


def trained(network, seed=0):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(12, 1, 6, 6)).astype(np.float32), rng.integers(0, 3, size=12)
    network.train(X, y, 2, 0.01, *CCE, log_file=None, batch_size=4, optimizer="adam", seed=seed, verbose=0)
    return network, X


def same(first, second):
    return len(first) == len(second) and all(np.array_equal(a, b) for a, b in zip(first, second))


def test_round_trip_restores_parameters_and_buffers_and_predictions(tmp_path):
    network, X = trained(conv_net())
    path = str(tmp_path / "net.weights")
    save_weights(network, path)
    fresh = conv_net().initialize(seed=99)
    assert not same(fresh.get_weights(), network.get_weights())
    assert load_weights(fresh, path) is fresh
    assert same(fresh.get_weights(), network.get_weights())  # BatchNorm's running statistics included
    np.testing.assert_array_equal(fresh.predict(X), network.predict(X))
    assert fresh.trained  # a later train(seed=...) continues from these weights instead of re-drawing them
    assert [name for name in os.listdir(tmp_path) if name.endswith(".tmp")] == []


def test_the_manifest_names_layers_and_array_shapes(tmp_path):
    network = conv_net()
    save_weights(network, str(tmp_path / "w"))
    with zipfile.ZipFile(tmp_path / "w") as archive:
        assert sorted(archive.namelist()) == ["manifest.json", "weights.npz"]
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format"] == "scratchcnn.weights" and manifest["dtype"] == "float32"
    assert manifest["layers"] == ["ConvLayer", "BatchNorm", "Activation", "PoolingLayer", "Flatten", "MultiClassDense"]
    assert {spec["key"]: spec["shape"] for spec in manifest["weights"]}["0.weight"] == [2, 1, 3, 3]


def test_weights_load_into_a_network_of_another_dtype(tmp_path):
    network, X = trained(conv_net())
    save_weights(network, str(tmp_path / "w"))
    wide = load_weights(conv_net(dtype="float64"), str(tmp_path / "w"))
    assert wide.parameters()[0].value.dtype == np.float64
    np.testing.assert_allclose(wide.predict(X), network.predict(X), rtol=1e-5, atol=1e-6)


def test_a_model_file_is_also_a_source_of_weights(tmp_path):
    network, X = trained(conv_net())
    network.save_model(str(tmp_path / "net.model"))
    fresh = load_weights(conv_net(), str(tmp_path / "net.model"))
    np.testing.assert_array_equal(fresh.predict(X), network.predict(X))
    assert fresh.optimizer is None  # weights only, whatever the file holds


@pytest.mark.parametrize("other, message", [
    (lambda: conv_net(filters=3),
     r"layer 0 \(ConvLayer\) array 'weight': the file's has shape \(2, 1, 3, 3\), the network's \(3, 1, 3, 3\)"),
    (lambda: conv_net(classes=4),
     r"layer 5 \(MultiClassDense\) array 'weight': the file's has shape \(8, 3\), the network's \(8, 4\)"),
    (lambda: Network([ConvLayer(3, 1, 2, activation="linear"), BatchNorm(2), Activation("relu"), PoolingLayer(),
                      Flatten(), Dense(8, 3)]),
     "layer 5 is a MultiClassDense in the file and a Dense in the network"),
    (lambda: Network([ConvLayer(3, 1, 2, activation="linear"), BatchNorm(2), Activation("relu"), PoolingLayer(),
                      Flatten()]),
     r"the file has 6 layers, the network 5 \(layer 5 is missing from the network\)"),
])
def test_a_mismatched_architecture_is_refused_naming_the_first_difference_and_left_unchanged(tmp_path, other,
                                                                                           message):
    network, _ = trained(conv_net())
    save_weights(network, str(tmp_path / "w"))
    target = other()
    before = target.get_weights()
    with pytest.raises(ValueError, match=message):
        load_weights(target, str(tmp_path / "w"))
    assert same(target.get_weights(), before) and not target.trained


def _rewrite_npz(path, change):
    """Rewrite weights.npz inside a weights file, applying change(arrays) to its {key: array}."""
    with zipfile.ZipFile(path) as archive:
        manifest = archive.read("manifest.json")
        arrays = dict(np.load(io.BytesIO(archive.read("weights.npz"))))
    change(arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.json", manifest)
        archive.writestr("weights.npz", buffer.getvalue())


@pytest.mark.parametrize("change, message", [
    (lambda arrays: arrays.__setitem__("1.running_var", -np.ones(2, np.float32)), "negative variances"),
    (lambda arrays: arrays.__setitem__("5.bias", np.full(3, np.nan, np.float32)), "NaN or inf"),
    (lambda arrays: arrays.__setitem__("5.bias", np.zeros(4, np.float32)), r"shape \[4\].*manifest.json says shape \[3\]"),
    (lambda arrays: arrays.pop("0.bias"), r"lacks the arrays \['0.bias'\]"),
])
def test_a_damaged_weights_file_is_refused_and_the_network_left_unchanged(tmp_path, change, message):
    path = str(tmp_path / "w")
    save_weights(trained(conv_net())[0], path)
    _rewrite_npz(path, change)
    target = conv_net().initialize(seed=5)
    before = target.get_weights()
    with pytest.raises(ModelFileError, match=message):
        load_weights(target, path)
    assert same(target.get_weights(), before)


@pytest.mark.parametrize("content, message", [
    (b"not a zip at all", "not a scratchcnn weights file"),
    (None, "manifest.json is not a scratchcnn weights manifest"),
])
def test_files_that_are_not_weights_files_are_refused(tmp_path, content, message):
    path = tmp_path / "w"
    if content is None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("manifest.json", json.dumps({"format": "something else"}))
            archive.writestr("weights.npz", b"")
    else:
        path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        load_weights(conv_net(), str(path))
    with pytest.raises(FileNotFoundError, match="No weights file"):
        load_weights(conv_net(), str(tmp_path / "missing"))


def test_save_weights_refuses_nan_and_empty_networks_and_keeps_an_old_file(tmp_path):
    path = tmp_path / "w"
    network = conv_net()
    save_weights(network, str(path))
    old = path.read_bytes()
    network.parameters()[0].value[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        save_weights(network, str(path))
    with pytest.raises(ValueError, match="no layers"):
        save_weights(Network(), str(path))
    assert path.read_bytes() == old
