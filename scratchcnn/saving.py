"""The model file: a zip of config.json and .npz arrays, written atomically, read without pickle.

    config.json     format name and version, library version, dtype, the layers'
                    classes and get_config(), and every array's key, shape and dtype
    weights.npz     the layers' parameters, keyed '<layer index>.<parameter name>'
    optimizer.npz   the optimiser's state arrays (present when the network has an optimiser)

Loading builds nothing until every check has passed: the archive is a zip, the
members are present and not larger than the config says they can be (no zip
bombs), the format version is known, every layer class is one of ours, and every
array's shape and dtype match the config. Arrays are read with allow_pickle=False;
non-finite weights are refused. Every failure raises ModelFileError.
"""
import io
import json
import math
import os
import tempfile
import zipfile

import numpy as np

from . import __version__, optimizers
from .backend import xp
from .layers import LAYER_CLASSES

FORMAT_NAME = "scratchcnn.model"
FORMAT_VERSION = 1
MAX_CONFIG_BYTES = 16 * 2**20
_NPY_HEADER_ALLOWANCE = 4096  # per array: the .npy header and the zip entry around it
_DTYPES = ("float32", "float64")


class ModelFileError(ValueError):
    """A model file that cannot be loaded: not a zip, truncated, inconsistent, or hostile."""


# -- writing ----------------------------------------------------------------------
def _npz_bytes(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **{key: np.asarray(value) for key, value in arrays.items()})
    return buffer.getvalue()


def _array_specs(arrays):
    return [{"key": key, "shape": list(value.shape), "dtype": str(value.dtype)} for key, value in arrays.items()]


def network_config(network):
    """The JSON-serialisable description of a network, without its arrays."""
    weights = {f"{i}.{p.name}": p.value for i, layer in enumerate(network.layers) for p in layer.parameters()}
    weights.update({f"{i}.{name}": value for i, layer in enumerate(network.layers)
                    for name, value in layer.buffers().items()})
    config = {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "library_version": __version__,
        "dtype": str(network.dtype),
        "layers": [{"class_name": layer.name, "config": layer.get_config()} for layer in network.layers],
        "weights": _array_specs(weights), "optimizer": None, "metadata": network.metadata,
    }
    optimizer_arrays = {}
    if network.optimizer is not None:
        state = network.optimizer.state_dict()
        optimizer_arrays = state["arrays"]
        config["optimizer"] = {"config": state["config"], "iterations": state["iterations"],
                               "arrays": _array_specs(optimizer_arrays)}
    return config, weights, optimizer_arrays


def save_network(network, filepath):
    """Write `network` to filepath atomically: a temporary file in the same folder, then a rename."""
    config, weights, optimizer_arrays = network_config(network)
    folder = os.path.dirname(os.path.abspath(filepath))
    handle, temporary = tempfile.mkstemp(prefix=".scratchcnn-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as file:
            with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr("config.json", json.dumps(config, indent=1))
                archive.writestr("weights.npz", _npz_bytes(weights))
                if config["optimizer"] is not None:
                    archive.writestr("optimizer.npz", _npz_bytes(optimizer_arrays))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, filepath)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


# -- reading ----------------------------------------------------------------------
def _read_member(archive, name, limit):
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ModelFileError(f"The model file has no {name} member; a scratchcnn model holds config.json and weights.npz.") from None
    if info.file_size > limit:
        raise ModelFileError(f"The member {name} would decompress to {info.file_size:,} bytes, over the limit of {limit:,} "
                             "that its config allows (a zip bomb or a corrupt file).")
    return archive.read(name)


def _check_specs(specs, what):
    if not isinstance(specs, list):
        raise ModelFileError(f"config.json: '{what}' must be a list of array descriptions.")
    for spec in specs:
        ok = isinstance(spec, dict) and isinstance(spec.get("key"), str) and spec.get("dtype") in _DTYPES
        ok = ok and isinstance(spec.get("shape"), list) and all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**31 for d in spec["shape"])
        if not ok:
            raise ModelFileError(f"config.json: a malformed entry in '{what}': {str(spec)[:200]}")


def _read_arrays(data, specs, member):
    """Arrays from .npz bytes, each checked against its spec; no pickle, no oversize entries."""
    expected = {spec["key"]: spec for spec in specs}
    arrays = {}
    with zipfile.ZipFile(io.BytesIO(data)) as inner:
        names = {info.filename: info for info in inner.infolist()}
        if set(names) != {key + ".npy" for key in expected}:
            raise ModelFileError(f"{member} holds arrays {sorted(n[:-4] for n in names)}, but config.json lists "
                                 f"{sorted(expected)}.")
        for key, spec in expected.items():
            nbytes = math.prod(spec["shape"]) * np.dtype(spec["dtype"]).itemsize
            if names[key + ".npy"].file_size > nbytes + _NPY_HEADER_ALLOWANCE:
                raise ModelFileError(f"{member}: array {key} is larger than its config shape {spec['shape']} allows.")
            array = np.lib.format.read_array(io.BytesIO(inner.read(key + ".npy")), allow_pickle=False)
            if list(array.shape) != spec["shape"] or str(array.dtype) != spec["dtype"]:
                raise ModelFileError(f"{member}: array {key} has shape {list(array.shape)} and dtype {array.dtype}, "
                                     f"config.json says shape {spec['shape']} and dtype {spec['dtype']}.")
            arrays[key] = array
    return arrays


def _parse_config(data):
    try:
        config = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"config.json does not parse as JSON: {error}") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise ModelFileError(f"config.json is not a scratchcnn model config (format must be {FORMAT_NAME!r}).")
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"Unknown model format version {config.get('format_version')!r}; this scratchcnn "
                             f"({__version__}) reads version {FORMAT_VERSION}.")
    if config.get("dtype") not in _DTYPES or not isinstance(config.get("layers"), list) or not config["layers"]:
        raise ModelFileError("config.json needs a dtype ('float32' or 'float64') and a non-empty list of layers.")
    _check_specs(config.get("weights"), "weights")
    if not isinstance(config.get("metadata", {}), dict):
        raise ModelFileError("config.json: 'metadata' must be a JSON object.")
    if config.get("optimizer") is not None:
        if not isinstance(config["optimizer"], dict):
            raise ModelFileError("config.json: 'optimizer' must be an object or null.")
        _check_specs(config["optimizer"].get("arrays"), "optimizer.arrays")
    return config


def _build_layers(layer_configs):
    layers = []
    for index, entry in enumerate(layer_configs):
        name = entry.get("class_name") if isinstance(entry, dict) else None
        if name not in LAYER_CLASSES:
            raise ModelFileError(f"Layer {index} has unknown class {name!r}; known layers: {sorted(LAYER_CLASSES)}.")
        if not isinstance(entry.get("config"), dict):
            raise ModelFileError(f"Layer {index} ({name}) has no config object.")
        try:
            layers.append(LAYER_CLASSES[name].from_config(entry["config"]))
        except (TypeError, ValueError) as error:
            raise ModelFileError(f"Layer {index} ({name}) has an invalid config: {error}") from None
    return layers


def _assign_weights(network, arrays):
    for index, layer in enumerate(network.layers):
        for param in layer.parameters():
            key = f"{index}.{param.name}"
            if key not in arrays:
                raise ModelFileError(f"weights.npz has no array {key} for layer {index} ({layer.name}).")
            array = arrays.pop(key)
            if array.shape != param.shape:
                raise ModelFileError(f"Array {key} has shape {array.shape}, but layer {index} ({layer!r}) needs {param.shape}.")
            if not np.all(np.isfinite(array)):
                raise ModelFileError(f"Array {key} holds NaN or inf weights; refusing to load a broken model.")
            param.value = xp.asarray(array.astype(network.dtype, copy=False))
            param.grad = xp.zeros_like(param.value)
        for name, current in layer.buffers().items():
            key = f"{index}.{name}"
            array = arrays.pop(key, None)
            if array is None or array.shape != current.shape or not np.all(np.isfinite(array)):
                raise ModelFileError(f"Buffer {key} of layer {index} ({layer.name}) is missing, has the wrong shape "
                                     f"(expected {current.shape}) or holds NaN/inf.")
            layer.set_buffer(name, xp.asarray(array.astype(network.dtype, copy=False)))
    if arrays:
        raise ModelFileError(f"weights.npz holds arrays no layer uses: {sorted(arrays)}.")


def _restore_optimizer(network, spec, arrays):
    try:
        optimizer = optimizers.from_config(network.parameters(), spec["config"])
        optimizer.load_state_dict({"iterations": spec["iterations"], "arrays": arrays})
    except (TypeError, ValueError, KeyError, IndexError) as error:
        raise ModelFileError(f"The optimiser state does not fit the network: {error}") from None
    for index, state in enumerate(optimizer.state):
        for name, value in state.items():
            if value.shape != optimizer.parameters[index].shape:
                raise ModelFileError(f"Optimiser array {index}.{name} has shape {value.shape}, expected "
                                     f"{optimizer.parameters[index].shape}.")
    return optimizer


def _load(filepath):
    from .network import Network

    with zipfile.ZipFile(filepath) as archive:
        config = _parse_config(_read_member(archive, "config.json", MAX_CONFIG_BYTES))
        weight_limit = sum(math.prod(s["shape"]) * 8 + _NPY_HEADER_ALLOWANCE for s in config["weights"]) + 2**16
        weights = _read_arrays(_read_member(archive, "weights.npz", weight_limit), config["weights"], "weights.npz")
        network = Network(_build_layers(config["layers"]), dtype=config["dtype"])
        _assign_weights(network, weights)
        network.metadata = config.get("metadata", {})
        spec = config["optimizer"]
        if spec is not None:
            limit = sum(math.prod(s["shape"]) * 8 + _NPY_HEADER_ALLOWANCE for s in spec["arrays"]) + 2**16
            arrays = _read_arrays(_read_member(archive, "optimizer.npz", limit), spec["arrays"], "optimizer.npz")
            network.optimizer = _restore_optimizer(network, spec, arrays)
    network.trained = True
    return network


def load_network(filepath):
    """A new Network from a model file; ModelFileError for anything but a valid scratchcnn model."""
    if not os.path.isfile(filepath):
        raise FileNotFoundError(f"No model file at {filepath!r}.")
    try:
        return _load(filepath)
    except ModelFileError:
        raise
    except zipfile.BadZipFile as error:
        raise ModelFileError(f"{filepath!r} is not a scratchcnn model file (not a valid zip archive: {error}).") from None
    except Exception as error:  # truncated streams, bad compression, corrupt npy headers, ...
        raise ModelFileError(f"{filepath!r} is damaged and cannot be read: {type(error).__name__}: {error}") from None


def load_model(filepath):
    """Load a model file written by Network.save_model and return a new Network."""
    return load_network(filepath)
