"""Hostile and broken model files: every one is refused with ModelFileError naming the problem, nothing is unpickled.

The table below builds each broken file from a valid one (conftest's `model_bytes`);
the pickle, zip-bomb and hostile-config tests check that the refusal comes without
running code, without decompressing the bomb, and without allocating what the file asks for.
"""
import ast
import io
import json
import os
import pickle
import struct
import sys
import time
import tracemalloc
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

import scratchcnn
from scratchcnn import ModelFileError, saving
from scratchcnn.layers import LAYER_CLASSES

INPUT_SHAPE = (1, 8, 8)  # the per-sample input of conftest's model


# -- building broken files from a valid one ---------------------------------------------
def members_of(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def zip_bytes(members, compression=zipfile.ZIP_DEFLATED):
    """A zip of (name, bytes) pairs (a dict or a list, so names may repeat)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names, which some cases want
        with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
            for name, content in (members.items() if isinstance(members, dict) else members):
                archive.writestr(name, content)
    return buffer.getvalue()


def npz_bytes(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def arrays_of(npz):
    with np.load(io.BytesIO(npz), allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def edited(data, config=None, weights=None, optimizer=None, members=None):
    """The model file `data` with edit functions applied to its config dict, its weight/optimiser arrays, its members."""
    parts = members_of(data)
    if config is not None:
        parsed = json.loads(parts["config.json"])
        config(parsed)
        parts["config.json"] = json.dumps(parsed).encode()
    for name, edit in (("weights.npz", weights), ("optimizer.npz", optimizer)):
        if edit is not None:
            arrays = arrays_of(parts[name])
            edit(arrays)
            parts[name] = npz_bytes(arrays)
    if members is not None:
        members(parts)
    return zip_bytes(parts)


def npy_bytes(array, header_shape=None, data_bytes=None, allow_pickle=False):
    """One .npy file; optionally with a header claiming another shape, or other data bytes."""
    buffer = io.BytesIO()
    if header_shape is None and data_bytes is None:
        np.save(buffer, array, allow_pickle=allow_pickle)
        return buffer.getvalue()
    header = {"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False,
              "shape": tuple(array.shape if header_shape is None else header_shape)}
    np.lib.format.write_array_header_1_0(buffer, header)
    buffer.write(array.tobytes() if data_bytes is None else data_bytes)
    return buffer.getvalue()


def replace_npy(member, key, npy):
    """Edit function for `edited(members=...)`: put raw .npy bytes under `key` in the .npz member."""
    def edit(parts):
        with zipfile.ZipFile(io.BytesIO(parts[member])) as inner:
            entries = {info.filename: inner.read(info) for info in inner.infolist()}
        entries[key + ".npy"] = npy
        parts[member] = zip_bytes(entries, compression=zipfile.ZIP_STORED)
    return edit


def set_path(*path_and_value):
    *path, value = path_and_value

    def edit(config):
        target = config
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


def weight_spec(config, key):
    return next(spec for spec in config["weights"] if spec["key"] == key)


def drop_optimizer_arrays(name):
    """Remove every '<i>.<name>' optimiser array from both the config and optimizer.npz."""
    def config(parsed):
        parsed["optimizer"]["arrays"] = [s for s in parsed["optimizer"]["arrays"] if not s["key"].endswith("." + name)]

    def arrays(found):
        for key in [k for k in found if k.endswith("." + name)]:
            del found[key]
    return {"config": config, "optimizer": arrays}


def _reshape_weight(arrays):
    arrays["0.weight"] = arrays["0.weight"].reshape(1, 2, 3, 3)


def _config_shape(shape):
    return lambda config: weight_spec(config, "0.weight").update(shape=shape)


def _poison(key, value):
    def edit(arrays):
        arrays[key] = arrays[key].copy()
        arrays[key].flat[0] = value
    return edit


def _corrupt_member_data(data):
    """Flip bytes inside weights.npz's compressed data, leaving the zip structure intact."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("weights.npz")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    corrupted = bytearray(data)
    for offset in range(start + 10, start + 20):
        corrupted[offset] ^= 0xFF
    return bytes(corrupted)


def _widen_weight(arrays):
    arrays["0.weight"] = arrays["0.weight"].astype(np.float64)


# (id, make(valid bytes) -> hostile bytes, words the ModelFileError message must contain)
HOSTILE_FILES = [
    ("not-a-zip", lambda d: b"this is not a zip file at all", ["not a valid zip"]),
    ("empty-file", lambda d: b"", ["not a valid zip"]),
    ("truncated-half", lambda d: d[: len(d) // 2], ["not a valid zip"]),
    ("truncated-last-byte", lambda d: d[:-1], ["not a valid zip"]),
    ("corrupted-member-data", _corrupt_member_data, ["weights.npz", "damaged"]),
    ("missing-config", lambda d: edited(d, members=lambda p: p.pop("config.json")), ["no config.json member"]),
    ("missing-weights", lambda d: edited(d, members=lambda p: p.pop("weights.npz")), ["no weights.npz member"]),
    ("missing-optimizer", lambda d: edited(d, members=lambda p: p.pop("optimizer.npz")), ["no optimizer.npz member"]),
    ("duplicate-member", lambda d: zip_bytes(list(members_of(d).items()) + [("weights.npz", b"x")]),
     ["duplicate members", "weights.npz"]),
    ("path-traversal-member", lambda d: edited(d, members=lambda p: p.update({"../../evil.py": b"import os"})),
     ["unexpected members", "../../evil.py"]),
    ("bzip2-member", lambda d: zip_bytes(members_of(d), compression=zipfile.ZIP_BZIP2), ["compression method 12"]),
    ("format-version-2", lambda d: edited(d, config=set_path("format_version", 2)), ["format version 2"]),
    ("format-version-string", lambda d: edited(d, config=set_path("format_version", "1")), ["format version '1'"]),
    ("format-name", lambda d: edited(d, config=set_path("format", "keras")), ["not a scratchcnn model config"]),
    ("unknown-layer-class", lambda d: edited(d, config=set_path("layers", 2, "class_name", "EvilLayer")),
     ["Layer 2", "unknown class 'EvilLayer'"]),
    ("dotted-layer-class", lambda d: edited(d, config=set_path("layers", 0, "class_name", "os.system")),
     ["unknown class 'os.system'"]),
    ("config-not-json", lambda d: edited(d, members=lambda p: p.update({"config.json": b"{'layers': ["})),
     ["config.json does not parse"]),
    ("config-not-utf8", lambda d: edited(d, members=lambda p: p.update({"config.json": b"\xff\xfe\x00{"})),
     ["config.json does not parse"]),
    ("config-deeply-nested", lambda d: edited(d, members=lambda p: p.update({"config.json": b"[" * 10**6 + b"]" * 10**6})),
     ["config.json does not parse"]),
    ("config-is-a-list", lambda d: edited(d, members=lambda p: p.update({"config.json": b"[1, 2]"})),
     ["not a scratchcnn model config"]),
    ("config-too-large", lambda d: edited(d, members=lambda p: p.update({"config.json": p["config.json"] + b" " * 17 * 2**20})),
     ["config.json", "would decompress to"]),
    ("layer-config-wrong-type", lambda d: edited(d, config=set_path("layers", 0, "config", "filter_size", "3")),
     ["Layer 0 (ConvLayer) has an invalid config", "filter_size"]),
    ("layer-config-unknown-argument", lambda d: edited(d, config=set_path("layers", 0, "config", "evil", 1)),
     ["Layer 0 (ConvLayer) has an invalid config", "evil"]),
    ("array-shape-disagrees", lambda d: edited(d, weights=_reshape_weight),
     ["array 0.weight has shape [1, 2, 3, 3]", "config.json says shape [2, 1, 3, 3]"]),
    ("array-dtype-disagrees", lambda d: edited(d, weights=_widen_weight), ["dtype float64", "dtype float32"]),
    ("config-shape-disagrees", lambda d: edited(d, config=_config_shape([1, 2, 3, 3])),
     ["do not fit its layers", "0.weight: declared [1, 2, 3, 3], the layers need [2, 1, 3, 3]"]),
    ("config-size-disagrees", lambda d: edited(d, config=_config_shape([2, 1, 3, 4])),
     ["Layer 0 (ConvLayer)", "implying 20", "declares 26"]),
    ("array-missing", lambda d: edited(d, weights=lambda a: a.pop("0.bias")), ["lacks the arrays", "0.bias"]),
    ("array-extra", lambda d: edited(d, weights=lambda a: a.update(evil=np.zeros(3, np.float32))),
     ["unexpected members", "evil.npy"]),
    ("nan-weight", lambda d: edited(d, weights=_poison("0.weight", np.nan)), ["0.weight", "NaN or inf"]),
    ("inf-buffer", lambda d: edited(d, weights=_poison("1.running_var", np.inf)), ["1.running_var", "NaN or inf"]),
    ("nan-optimizer-state", lambda d: edited(d, optimizer=_poison("0.m", np.nan)), ["optimizer.npz", "0.m", "NaN"]),
    ("npy-bad-magic", lambda d: edited(d, members=replace_npy("weights.npz", "0.bias", b"\x93NUMPZ garbage")),
     ["array 0.bias is not a valid .npy"]),
    ("npy-data-truncated", lambda d: edited(d, members=replace_npy(
        "weights.npz", "0.bias", npy_bytes(np.zeros(2, np.float32), data_bytes=b"\x00" * 5))),
     ["array 0.bias holds 5 bytes of data", "need 8"]),
    ("npy-header-shape-lies", lambda d: edited(d, members=replace_npy(
        "weights.npz", "0.bias", npy_bytes(np.zeros(2, np.float32), header_shape=(2000,)))),
     ["0.bias", "[2000]"]),
    ("npy-big-endian", lambda d: edited(d, members=replace_npy("weights.npz", "0.bias", npy_bytes(np.zeros(2, ">f4")))),
     ["0.bias", "dtype >f4"]),
    ("partial-adam-state", lambda d: edited(d, **drop_optimizer_arrays("v")), ["holds ['m']", "expected ['m', 'v']"]),
    ("negative-iterations", lambda d: edited(d, config=set_path("optimizer", "iterations", -3)), ["iterations"]),
    ("unknown-optimizer", lambda d: edited(d, config=set_path("optimizer", "config", "class", "Evil")),
     ["optimiser state does not fit", "'Evil'"]),
    ("optimizer-bad-lr", lambda d: edited(d, config=set_path("optimizer", "config", "lr", -1.0)), ["lr=-1.0"]),
    ("optimizer-array-no-parameter", lambda d: edited(d, config=lambda c: c["optimizer"]["arrays"].append(
        {"key": "99.m", "shape": [3], "dtype": "float32"})), ["optimiser array '99.m'"]),
    ("input-shape-does-not-chain", lambda d: edited(d, config=set_path("metadata", "input_shape", [1, 16, 16])),
     ["do not chain for the input shape [1, 16, 16]"]),
    ("metadata-not-object", lambda d: edited(d, config=set_path("metadata", [1])), ["'metadata' must be a JSON object"]),
]


@pytest.fixture
def no_unpickling(monkeypatch):
    """Record (and refuse) any call into pickle's loaders while a test runs."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError("the loader reached pickle")
    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    yield calls
    assert calls == [], "pickle was called while loading a model file"


@pytest.mark.parametrize("make, words", [pytest.param(m, w, id=i) for i, m, w in HOSTILE_FILES])
def test_a_broken_or_hostile_file_is_refused_naming_the_problem(model_bytes, tmp_path, no_unpickling, make, words):
    path = tmp_path / "hostile.model"
    path.write_bytes(make(model_bytes))
    with pytest.raises(ModelFileError) as caught:
        scratchcnn.load_model(str(path))
    message = str(caught.value)
    assert all(word in message for word in words), message


def test_the_valid_file_the_table_starts_from_loads(model_bytes, tmp_path, no_unpickling):
    path = tmp_path / "valid.model"
    path.write_bytes(edited(model_bytes, config=lambda c: None, weights=lambda a: None))  # rebuilt, unchanged
    network = scratchcnn.load_model(str(path))
    outputs = network.predict(np.zeros((2, *INPUT_SHAPE), np.float32))
    assert outputs.shape == (2, 3) and np.all(np.isfinite(outputs))
    assert network.optimizer.iterations == 6 and sorted(network.optimizer.state[0]) == ["m", "v"]


def test_a_missing_path_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="No model file"):
        scratchcnn.load_model(str(tmp_path / "nothing.model"))


# -- pickles ------------------------------------------------------------------------
class CreatesMarker:
    """Unpickling this object creates the file at `path`: proof that code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_the_pickle_payload_really_runs_code_when_unpickled(tmp_path):
    """Guards the tests below: their payload would create its marker if anything unpickled it."""
    marker = tmp_path / "proof"
    pickle.loads(pickle.dumps(CreatesMarker(str(marker)))).close()
    assert marker.exists()


def _object_npy(marker):
    return npy_bytes(np.array([CreatesMarker(str(marker))], dtype=object), allow_pickle=True)


PICKLE_CARRIERS = [
    ("whole-file", lambda d, m: pickle.dumps(CreatesMarker(str(m))), "not a valid zip"),
    ("as-config", lambda d, m: edited(d, members=lambda p: p.update({"config.json": pickle.dumps(CreatesMarker(str(m)))})),
     "config.json does not parse"),
    ("as-weights-member", lambda d, m: edited(d, members=lambda p: p.update({"weights.npz": pickle.dumps(CreatesMarker(str(m)))})),
     "not a valid zip"),
    ("object-array-in-weights", lambda d, m: edited(d, members=replace_npy("weights.npz", "0.bias", _object_npy(m))),
     "array 0.bias is an object array"),
    ("object-array-in-optimizer", lambda d, m: edited(d, members=replace_npy("optimizer.npz", "0.m", _object_npy(m))),
     "array 0.m is an object array"),
]


@pytest.mark.parametrize("make, words", [pytest.param(m, w, id=i) for i, m, w in PICKLE_CARRIERS])
def test_a_pickle_disguised_as_a_model_is_refused_without_running(model_bytes, tmp_path, make, words):
    marker = tmp_path / "code-ran"
    path = tmp_path / "disguised.model"
    path.write_bytes(make(model_bytes, marker))
    with pytest.raises(ModelFileError, match=words):
        scratchcnn.load_model(str(path))
    assert not marker.exists()


def test_the_loader_never_calls_pickle_or_np_load():
    """No code path can unpickle: saving.py imports no pickle and reads .npy data itself, never with np.load."""
    tree = ast.parse(Path(saving.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names}
    numpy_calls = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                   and isinstance(node.value, ast.Name) and node.value.id in ("np", "numpy")}
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    keywords = {(k.arg, getattr(k.value, "value", None)) for node in ast.walk(tree) if isinstance(node, ast.Call)
                for k in node.keywords}
    assert not {"pickle", "cPickle", "dill", "marshal", "shelve"} & imported
    assert "load" not in numpy_calls and not {"read_array", "Unpickler"} & attributes
    assert ("allow_pickle", True) not in keywords


# -- zip bombs and hostile sizes -----------------------------------------------------
ZERO_CHUNK = 4 * 2**20


def deflated_zeros(size):
    """(raw DEFLATE stream, CRC-32) for `size` zero bytes (a multiple of 4 MiB), built without compressing them all."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(ZERO_CHUNK)) + compressor.flush(zlib.Z_FULL_FLUSH)  # the same bytes every time
    crc = 0
    for _ in range(size // ZERO_CHUNK):
        crc = zlib.crc32(bytes(ZERO_CHUNK), crc)
    return block * (size // ZERO_CHUNK) + zlib.compressobj(9, zlib.DEFLATED, -15).flush(), crc


def raw_zip(entries):
    """A zip written by hand from (name, deflated bytes, crc, claimed uncompressed size), so sizes can lie."""
    out, central = io.BytesIO(), io.BytesIO()
    for name, data, crc, size in entries:
        offset, encoded = out.tell(), name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(encoded), 0))
        out.write(encoded + data)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(data), size,
                                  len(encoded), 0, 0, 0, 0, 0, offset))
        central.write(encoded)
    start = out.tell()
    out.write(central.getvalue())
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central.getvalue()), start, 0))
    return out.getvalue()


def deflated(data):
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(), zlib.crc32(data)


def refused_cheaply(path, words, seconds=2.0, megabytes=32):
    """Load `path`: it must raise ModelFileError with `words`, within `seconds` and `megabytes` of peak allocation."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ModelFileError) as caught:
            scratchcnn.load_model(str(path))
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert all(word in str(caught.value) for word in words), str(caught.value)
    assert elapsed < seconds, f"refusing took {elapsed:.2f}s"
    assert peak < megabytes * 2**20, f"refusing allocated {peak / 2**20:.0f} MiB at peak"


BOMB_SIZE = 200 * 2**20  # 200 MiB of zeros, about 200 KiB compressed


@pytest.fixture(scope="module")
def bomb():
    return deflated_zeros(BOMB_SIZE)


def _bomb_file(model_bytes, bomb, claimed_size, config_edit=None):
    parts = members_of(model_bytes)
    config = json.loads(parts["config.json"])
    if config_edit is not None:
        config_edit(config)
    data, crc = bomb
    entries = [("config.json", *deflated(json.dumps(config).encode()), len(json.dumps(config).encode())),
               ("weights.npz", data, crc, claimed_size)]
    return raw_zip(entries)


def test_a_zip_bomb_member_is_refused_before_it_is_decompressed(model_bytes, bomb, tmp_path):
    """weights.npz says (truthfully) it holds 200 MiB: far more than the network's 85 values need."""
    path = tmp_path / "bomb.model"
    path.write_bytes(_bomb_file(model_bytes, bomb, claimed_size=BOMB_SIZE))
    assert path.stat().st_size < 2**20
    refused_cheaply(path, ["weights.npz", f"would decompress to {BOMB_SIZE:,} bytes"])


def test_a_zip_bomb_whose_header_lies_about_its_size_is_not_decompressed(model_bytes, bomb, tmp_path):
    """The header claims 1,000 bytes; the data inflates to 200 MiB. Reading stops at the claim (then the CRC fails)."""
    path = tmp_path / "lying-bomb.model"
    path.write_bytes(_bomb_file(model_bytes, bomb, claimed_size=1000))
    refused_cheaply(path, ["weights.npz"])


def test_a_config_cannot_authorise_a_zip_bomb(model_bytes, bomb, tmp_path):
    """The config declares a 200 MiB weight array that the layers do not have: refused before weights.npz is read."""
    def declare_big_array(config):
        weight_spec(config, "4.weight")["shape"] = [BOMB_SIZE // 4]
    path = tmp_path / "authorised-bomb.model"
    path.write_bytes(_bomb_file(model_bytes, bomb, claimed_size=BOMB_SIZE, config_edit=declare_big_array))
    refused_cheaply(path, ["Layer 4 (MultiClassDense)", "declares 52,428,803"])


def test_a_zip_bomb_inside_weights_npz_is_refused(model_bytes, tmp_path):
    """The .npy inside weights.npz inflates to 32 MiB (its compressed form fits the outer member's limit)."""
    data, crc = deflated_zeros(32 * 2**20)
    parts = members_of(model_bytes)
    with zipfile.ZipFile(io.BytesIO(parts["weights.npz"])) as inner:
        entries = [(info.filename, *deflated(inner.read(info)), info.file_size) for info in inner.infolist()]
    parts["weights.npz"] = raw_zip([entry if entry[0] != "0.bias.npy" else ("0.bias.npy", data, crc, 32 * 2**20)
                                    for entry in entries])
    path = tmp_path / "inner-bomb.model"
    path.write_bytes(zip_bytes(parts))
    refused_cheaply(path, ["weights.npz", "0.bias.npy", "would decompress to 33,554,432 bytes"], megabytes=8)


@pytest.mark.parametrize("layer, words", [
    ({"class_name": "Dense", "config": {"input_dim": 100_000, "output_dim": 100_000}}, ["implying 10,000,100,000"]),
    ({"class_name": "ConvLayer", "config": {"filter_size": 1000, "depth": 1000, "num_filters": 1000}},
     ["implying 1,000,000,001,000"]),
    ({"class_name": "BatchNorm", "config": {"num_features": 10**12}}, ["implying 4,000,000,000,000"]),
], ids=["dense", "conv", "batchnorm"])
def test_a_config_asking_for_huge_layers_is_refused_before_building_them(model_bytes, tmp_path, layer, words):
    path = tmp_path / "huge-layer.model"
    path.write_bytes(edited(model_bytes, config=set_path("layers", 4, layer)))
    refused_cheaply(path, words)


def test_declared_arrays_are_capped_even_when_the_layers_agree(model_bytes, tmp_path):
    """A consistent config for a 1.6 GB Dense layer: over MAX_ARRAY_BYTES, refused before anything is built."""
    def huge_dense(config):
        config["layers"][4] = {"class_name": "Dense", "config": {"input_dim": 20_000, "output_dim": 20_000}}
        weight_spec(config, "4.weight")["shape"] = [20_000, 20_000]
        weight_spec(config, "4.bias")["shape"] = [20_000]
    path = tmp_path / "huge-consistent.model"
    path.write_bytes(edited(model_bytes, config=huge_dense))
    refused_cheaply(path, ["'weights' declares 1,600,080,", "MAX_ARRAY_BYTES"])


def test_the_layer_size_table_matches_what_each_layer_allocates():
    """saving._LAYER_SIZES (and, for a Residual, the sum over its layers) predicts each layer's allocation from its
    config; a new layer class must be added here."""
    configs = {"ConvLayer": {"filter_size": 3, "depth": 2, "num_filters": 4}, "Dense": {"input_dim": 5, "output_dim": 3},
               "MultiClassDense": {"input_dim": 5, "num_classes": 3}, "BatchNorm": {"num_features": 4},
               "PoolingLayer": {}, "Flatten": {}, "Dropout": {"rate": 0.5}, "Activation": {"name": "relu"},
               "GlobalAveragePooling": {}}
    configs["Residual"] = {"body": [{"class_name": name, "config": configs[name]} for name in
                                    ("ConvLayer", "BatchNorm", "Activation")],
                           "shortcut": [{"class_name": "ConvLayer", "config": {**configs["ConvLayer"], "filter_size": 1}}]}
    assert set(configs) == set(LAYER_CLASSES)
    for name, config in configs.items():
        layer = LAYER_CLASSES[name].from_config(config)
        allocated = sum(p.size for p in layer.parameters()) + sum(int(b.size) for b in layer.buffers().values())
        assert saving._implied_size(name, config, name) == allocated, name


# -- writing --------------------------------------------------------------------------
def test_fortran_ordered_arrays_round_trip(model_bytes, tmp_path):
    network = scratchcnn.load_model(_write(tmp_path / "a.model", model_bytes))
    network.layers[0].weight.value = np.asfortranarray(network.layers[0].weight.value)
    network.save_model(str(tmp_path / "b.model"))
    loaded = scratchcnn.load_model(str(tmp_path / "b.model"))
    assert all(np.array_equal(a, b) for a, b in zip(network.get_weights(), loaded.get_weights()))


def _write(path, data):
    path.write_bytes(data)
    return str(path)


def test_saving_refuses_nan_weights_and_keeps_the_old_file(model_bytes, tmp_path):
    path = _write(tmp_path / "good.model", model_bytes)
    network = scratchcnn.load_model(path)
    network.layers[4].bias.value[1] = np.nan
    with pytest.raises(ValueError, match=r"4\.bias holds NaN or inf"):
        network.save_model(path)
    assert Path(path).read_bytes() == model_bytes
    assert sorted(os.listdir(tmp_path)) == ["good.model"]


def test_saving_refuses_a_network_without_layers(tmp_path):
    with pytest.raises(ValueError, match="no layers"):
        scratchcnn.Network().save_model(str(tmp_path / "empty.model"))
    assert os.listdir(tmp_path) == []


def test_an_interrupted_save_leaves_the_old_file_and_no_temporary(model_bytes, tmp_path, monkeypatch):
    path = _write(tmp_path / "good.model", model_bytes)
    network = scratchcnn.load_model(path)
    calls, original = [], saving._npz_bytes

    def interrupted(arrays):  # Ctrl-C while the second member is being written
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(arrays)
    monkeypatch.setattr(saving, "_npz_bytes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        network.save_model(path)
    assert Path(path).read_bytes() == model_bytes
    assert sorted(os.listdir(tmp_path)) == ["good.model"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_a_saved_file_gets_the_umask_permissions_not_private_ones(model_bytes, tmp_path):
    network = scratchcnn.load_model(_write(tmp_path / "a.model", model_bytes))
    old = os.umask(0o022)
    try:
        network.save_model(str(tmp_path / "b.model"))
    finally:
        os.umask(old)
    assert (tmp_path / "b.model").stat().st_mode & 0o777 == 0o644
