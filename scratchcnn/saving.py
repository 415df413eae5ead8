"""The model file: a zip of config.json and .npz arrays, written atomically, read without pickle.

    config.json     format name and version, library version, dtype, the layers'
                    classes and get_config(), and every array's key, shape and dtype
    weights.npz     the layers' parameters and buffers, keyed '<layer index>.<name>'
    optimizer.npz   the optimiser's state arrays (present when the network has an optimiser)

Loading decompresses nothing and builds nothing large until the checks that can run
first have passed, and every failure raises ModelFileError naming the problem:

- the archive is a zip holding only the members above, each once, each stored or
  DEFLATE-compressed (other methods decompress without a bound on their output);
- config.json parses, names this format and a known version, lists only our layer
  classes, and declares at most MAX_ARRAY_BYTES of arrays per member;
- before a layer is built, its config must imply exactly as many weights as config.json
  declares for it, so a hostile config cannot make the loader allocate gigabytes; the
  built network's parameters and buffers must then match the declared keys and shapes,
  and its layers must chain for metadata['input_shape'] when the file records one;
- a member is read in bounded chunks and refused once it grows past what its declared
  arrays need, whatever its zip header claims (a zip bomb is never decompressed);
- every .npy header is read before its data: the dtype must be the declared float dtype
  (an object array is pickled Python objects, refused without being unpickled), the shape
  the declared shape, and the data exactly as long as they imply;
- NaN or inf weights, buffers or optimiser state, and negative running variances, are
  refused: such a model is broken.
  save_network likewise refuses (ValueError) to write one, leaving any old file as it was.

Nothing here unpickles: .npy data is read with np.frombuffer, never np.load.

save_weights and load_weights write and read a weights file: the arrays alone (weights.npz,
as above) with a manifest.json naming the layers' classes and the arrays' shapes, read with
the same checks, into a network built by code.
"""
from __future__ import annotations

import io
import json
import math
import os
import zipfile
import zlib
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__, optimizers
from .backend import xp
from .layers import LAYER_CLASSES, Parameter

if TYPE_CHECKING:
    from .layers import Layer
    from .network import Network

FORMAT_NAME = "scratchcnn.model"
FORMAT_VERSION = 1
MEMBERS = ("config.json", "weights.npz", "optimizer.npz")
MAX_CONFIG_BYTES = 16 * 2**20
MAX_ARRAY_BYTES = 2**30  # per member; far beyond what this library trains on a CPU
_NPY_HEADER_ALLOWANCE = 4096  # per array: the .npy header and the zip entry around it
_READ_CHUNK = 2**20
_DTYPES = ("float32", "float64")
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)

# How many values (parameters and buffers) a weighted layer's constructor allocates, from
# its config's integer fields; layers missing here allocate none. Checked before building.
_LAYER_SIZES = {
    "ConvLayer": lambda c: c["num_filters"] * (c["depth"] * _kernel_area(c["filter_size"]) + 1),
    "Dense": lambda c: c["output_dim"] * (c["input_dim"] + 1),
    "MultiClassDense": lambda c: c["num_classes"] * (c["input_dim"] + 1),
    "BatchNorm": lambda c: 4 * c["num_features"],
}


def _kernel_area(filter_size):
    """kh * kw for a filter_size of one integer or a (kh, kw) pair."""
    return filter_size * filter_size if isinstance(filter_size, int) else math.prod(filter_size)


class ModelFileError(ValueError):
    """A model file that cannot be loaded: not a zip, truncated, inconsistent, or hostile."""


# -- writing ----------------------------------------------------------------------
def _npz_bytes(arrays):
    buffer = io.BytesIO()
    # mypy matches the keys against savez's allow_pickle: bool too; they are '<layer index>.<name>'
    np.savez(buffer, **{key: np.asarray(value) for key, value in arrays.items()})  # type: ignore[arg-type]
    return buffer.getvalue()


def _array_specs(arrays):
    return [{"key": key, "shape": list(value.shape), "dtype": str(value.dtype)} for key, value in arrays.items()]


def _network_arrays(network):
    """{'<layer index>.<name>': array} for every parameter and buffer, in layer order."""
    arrays = {f"{i}.{name}": p.value for i, layer in enumerate(network.layers) for name, p in layer.named_parameters()}
    arrays.update({f"{i}.{name}": value for i, layer in enumerate(network.layers)
                   for name, value in layer.buffers().items()})
    return arrays


def network_config(network: Network) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The JSON-serialisable description of a network, without its arrays."""
    weights = _network_arrays(network)
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


def _refuse_non_finite(arrays, what, filepath):
    for key, value in arrays.items():
        if not np.all(np.isfinite(np.asarray(value))):
            raise ValueError(f"Refusing to save {filepath!r}: {what} {key} holds NaN or inf (a diverged network, "
                             "which load_model would refuse); any existing file was left as it was.")


def save_network(network: Network, filepath: str | os.PathLike[str]) -> None:
    """Write `network` to filepath atomically: a temporary file in the same folder, then a rename.

    A crash or Ctrl-C at any moment leaves either the old file or the new one, never a
    mixture. A network without layers, or holding NaN or inf, is refused with ValueError before
    anything is written.
    """
    if not network.layers:
        raise ValueError(f"Refusing to save {filepath!r}: the network has no layers (load_model would refuse it).")
    config, weights, optimizer_arrays = network_config(network)
    _refuse_non_finite(weights, "weight", filepath)
    _refuse_non_finite(optimizer_arrays, "optimiser array", filepath)
    config_text = json.dumps(config, indent=1)  # a metadata value JSON cannot hold fails here, before any file
    members = {"config.json": config_text, "weights.npz": _npz_bytes(weights)}
    if config["optimizer"] is not None:
        members["optimizer.npz"] = _npz_bytes(optimizer_arrays)
    _write_zip_atomically(filepath, members)


def _write_zip_atomically(filepath, members):
    """A zip of {name: bytes or text} at filepath, through a temporary file in the same folder and a rename."""
    folder = os.path.dirname(os.path.abspath(filepath))
    temporary = os.path.join(folder, f".scratchcnn-{os.urandom(8).hex()}.tmp")
    # O_EXCL with mode 0o666: the file gets the permissions open() would give (the umask's), not mkstemp's 0o600.
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(handle, "wb") as file:
            with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, data in members.items():
                    archive.writestr(name, data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, filepath)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder):
    """Make the rename itself durable where the OS allows it (POSIX; a folder cannot be opened on Windows)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


# -- reading: the archive ---------------------------------------------------------
def _check_archive(archive, allowed, where):
    """Only allowed member names, each once, each stored or DEFLATE-compressed, none encrypted."""
    names = [info.filename for info in archive.infolist()]
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise ModelFileError(f"{where} holds duplicate members {duplicates[:5]}; each may appear once.")
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise ModelFileError(f"{where} holds unexpected members {unknown[:5]}, expected only {sorted(allowed)[:5]}.")
    for info in archive.infolist():
        if info.compress_type not in _COMPRESSIONS or info.flag_bits & 0x1:
            raise ModelFileError(f"{where}: member {info.filename} is encrypted or uses compression method "
                                 f"{info.compress_type}; only stored and DEFLATE members are read.")


def _read_member(archive, name, limit, where="The model file"):
    """A member's bytes, read in chunks and refused once past `limit`, whatever its header claims."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ModelFileError(f"{where} has no {name} member.") from None
    if info.file_size > limit:
        raise ModelFileError(f"{where}: member {name} would decompress to {info.file_size:,} bytes, over the "
                             f"{limit:,} that its declared contents need (a zip bomb or a corrupt file).")
    chunks, size = [], 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_READ_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ModelFileError(f"{where}: member {name} decompresses past {limit:,} bytes, more than its "
                                         "declared contents need (a zip bomb or a corrupt file).")
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        raise ModelFileError(f"{where}: member {name} is damaged: {type(error).__name__}: {error}") from None
    return b"".join(chunks)


# -- reading: config.json ---------------------------------------------------------
def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _nbytes(spec):
    return math.prod(spec["shape"]) * np.dtype(spec["dtype"]).itemsize


def _check_specs(specs, what):
    if not isinstance(specs, list):
        raise ModelFileError(f"config.json: '{what}' must be a list of array descriptions. "
                             f"Received: {str(specs)[:200]}")
    for spec in specs:
        ok = isinstance(spec, dict) and isinstance(spec.get("key"), str) and spec.get("dtype") in _DTYPES
        ok = ok and isinstance(spec.get("shape"), list) and all(_is_count(d) and d < 2**31 for d in spec["shape"])
        if not ok:
            raise ModelFileError(f"config.json: a malformed entry in '{what}': {str(spec)[:200]}")
    duplicates = sorted(key for key, count in Counter(spec["key"] for spec in specs).items() if count > 1)
    if duplicates:
        raise ModelFileError(f"config.json: '{what}' lists the keys {duplicates[:5]} more than once.")
    total = sum(_nbytes(spec) for spec in specs)
    if total > MAX_ARRAY_BYTES:
        raise ModelFileError(f"config.json: '{what}' declares {total:,} bytes of arrays, over the limit of "
                             f"{MAX_ARRAY_BYTES:,} (saving.MAX_ARRAY_BYTES).")


def _parse_config(data):
    try:
        config = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ModelFileError(f"config.json does not parse as JSON: {str(error)[:200]}") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise ModelFileError(f"config.json is not a scratchcnn model config (format must be {FORMAT_NAME!r}).")
    version = config.get("format_version")
    if not _is_count(version) or version != FORMAT_VERSION:
        raise ModelFileError(f"Unknown model format version {version!r}; this scratchcnn "
                             f"({__version__}) reads version {FORMAT_VERSION}.")
    if config.get("dtype") not in _DTYPES or not isinstance(config.get("layers"), list) or not config["layers"]:
        dtype, layers = str(config.get("dtype"))[:50], str(config.get("layers"))[:100]
        raise ModelFileError("config.json needs a dtype ('float32' or 'float64') and a non-empty list of layers. "
                             f"Received: dtype={dtype!r}, layers={layers}")
    _check_specs(config.get("weights"), "weights")
    if not isinstance(config.get("metadata", {}), dict):
        raise ModelFileError("config.json: 'metadata' must be a JSON object.")
    spec = config.get("optimizer")
    if spec is not None:
        if not (isinstance(spec, dict) and isinstance(spec.get("config"), dict) and _is_count(spec.get("iterations"))):
            raise ModelFileError("config.json: 'optimizer' must be null or an object with a 'config' object, "
                                 "a non-negative integer 'iterations' and 'arrays'.")
        _check_specs(spec.get("arrays"), "optimizer.arrays")
    return config


# -- reading: the network ---------------------------------------------------------
def _check_layer_size(index, name, config, declared):
    """Refuse a layer whose config implies other than the declared number of weights, before building it."""
    implied = _implied_size(name, config, f"Layer {index} ({name})")
    if implied is not None and implied != declared:
        raise ModelFileError(f"Layer {index} ({name}) has a config implying {implied:,} weight values, but "
                             f"config.json declares {declared:,} for it.")


def _implied_size(name, config, where):
    """How many values a built-in layer's config allocates, or None when a field is missing or not an integer (its
    constructor then refuses it before allocating anything). A Residual's is the sum over the layers inside it;
    any of those that cannot be sized is refused here, since the block builds the layers before it in full."""
    if name == "Residual":
        return _residual_size(config, where)
    size_of = _LAYER_SIZES.get(name)
    integers = {key: (value if isinstance(value, int) else tuple(value)) for key, value in config.items()
                if _is_count(value) or isinstance(value, list) and len(value) == 2 and all(map(_is_count, value))}
    try:
        return size_of(integers) if size_of is not None else 0
    except KeyError:
        return None


def _residual_size(config, where):
    total = 0
    for branch in ("body", "shortcut"):
        entries = config.get(branch)
        if entries is None and branch == "shortcut":
            continue
        if not isinstance(entries, list) or not entries:
            raise ModelFileError(f"{where}: its {branch} must be a non-empty list of layers.")
        for position, entry in enumerate(entries):
            inner = f"{where} {branch}[{position}]"
            name = entry.get("class_name") if isinstance(entry, dict) else None
            if name not in LAYER_CLASSES or not isinstance(entry.get("config"), dict):
                raise ModelFileError(f"{inner} must be a built-in layer's {{'class_name', 'config'}}, one of "
                                     f"{sorted(LAYER_CLASSES)}. Received: {str(entry)[:200]}")
            size = _implied_size(name, entry["config"], f"{inner} ({name})")
            if size is None:
                raise ModelFileError(f"{inner} ({name}) has a config with missing or non-integer sizes: "
                                     f"{str(entry['config'])[:200]}")
            total += size
    return total


def _check_custom_layers(custom_layers):
    """{name: Layer subclass}, or a ValueError saying what was received."""
    from .layers import Layer

    if custom_layers is None:
        return {}
    if not isinstance(custom_layers, dict) or not all(
            isinstance(name, str) and isinstance(cls, type) and issubclass(cls, Layer)
            for name, cls in custom_layers.items()):
        raise ValueError("Received an invalid value for custom_layers, expected a dict of class names to Layer "
                         f"subclasses, e.g. {{'Scale': Scale}}. Received: custom_layers={custom_layers!r}")
    return dict(custom_layers)


def layers_from_config(layer_configs: list[dict[str, Any]], custom_layers: dict[str, type[Layer]] | None = None
                       ) -> list[Layer]:
    """Layers from a list like config.json's 'layers': [{"class_name": "ConvLayer", "config": {...}}, ...].

    Each layer is built by its class's from_config; an unknown class or an invalid config raises
    ModelFileError naming the layer.
    """
    if not isinstance(layer_configs, list) or not layer_configs:
        raise ModelFileError("Received an invalid layer config, expected a non-empty list of "
                             f"{{'class_name': ..., 'config': {{...}}}} entries. Received: {str(layer_configs)[:200]}")
    return _build_layers(layer_configs, None, _check_custom_layers(custom_layers))


def _build_layers(layer_configs, weight_specs, custom_layers):
    """The layers; with weight_specs (a model file's), each built-in layer's config must imply its declared weights
    (the user's own classes are trusted; their arrays are checked once built)."""
    declared: Counter[str] = Counter()
    for spec in weight_specs or []:
        declared[spec["key"].split(".", 1)[0]] += math.prod(spec["shape"])
    layers = []
    for index, entry in enumerate(layer_configs):
        name = entry.get("class_name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or name not in LAYER_CLASSES and name not in custom_layers:
            raise ModelFileError(f"Layer {index} has unknown class {str(name)[:100]!r}; known layers: "
                                 f"{sorted(LAYER_CLASSES)}. A layer of your own loads with "
                                 f"load_model(path, custom_layers={{{str(name)[:100]!r}: YourLayerClass}}).")
        if not isinstance(entry.get("config"), dict):
            raise ModelFileError(f"Layer {index} ({name}) has no config object.")
        if weight_specs is not None and name not in custom_layers:
            _check_layer_size(index, name, entry["config"], declared[str(index)])
        try:
            layers.append((custom_layers.get(name) or LAYER_CLASSES[name]).from_config(entry["config"]))
        except (TypeError, ValueError) as error:
            raise ModelFileError(f"Layer {index} ({name}) has an invalid config: {str(error)[:300]}") from None
    return layers


def _check_network(network, config):
    """The built network's arrays must be exactly the declared ones, and its layers chain for a recorded input shape."""
    expected = {key: list(value.shape) for key, value in _network_arrays(network).items()}
    declared = {spec["key"]: spec["shape"] for spec in config["weights"]}
    if declared != expected:
        wrong = sorted(key for key in set(declared) | set(expected) if declared.get(key) != expected.get(key))
        details = ", ".join(f"{key}: declared {declared.get(key)}, the layers need {expected.get(key)}"
                            for key in wrong[:4])
        raise ModelFileError(f"config.json's weights do not fit its layers ({details}).")
    shape = network.metadata.get("input_shape")
    if shape is None:
        return
    if not (isinstance(shape, list) and shape and all(_is_count(d) and d > 0 for d in shape)):
        raise ModelFileError("config.json: metadata 'input_shape' must be a list of positive integers. "
                             f"Received: {str(shape)[:100]}")
    try:
        network.output_shapes(tuple(shape))
    except ValueError as error:
        raise ModelFileError(f"The layers do not chain for the input shape {shape} the file records: "
                             f"{str(error)[:300]}") from None


# -- reading: arrays --------------------------------------------------------------
def _parse_npy(raw, spec, what, described_in="config.json"):
    """One .npy file's array; its header is checked before its data is touched, and nothing is unpickled."""
    stream = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"unsupported .npy version {version}")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read_header(stream)
    except (ValueError, TypeError, SyntaxError) as error:
        raise ModelFileError(f"{what} is not a valid .npy array: {str(error)[:200]}") from None
    if dtype.hasobject:
        raise ModelFileError(f"{what} is an object array (pickled Python objects); refused without unpickling it.")
    if list(shape) != spec["shape"] or dtype != np.dtype(spec["dtype"]):
        raise ModelFileError(f"{what} has shape {list(shape)} and dtype {dtype}, but {described_in} says shape "
                             f"{spec['shape']} and dtype {spec['dtype']}.")
    data = stream.read()
    if len(data) != _nbytes(spec):
        raise ModelFileError(f"{what} holds {len(data):,} bytes of data; its shape and dtype need {_nbytes(spec):,}.")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran_order else "C").copy()


def _read_arrays(data, specs, member, described_in="config.json"):
    """{key: array} from .npz bytes, each array checked against its spec."""
    expected = {spec["key"] + ".npy": spec for spec in specs}
    arrays = {}
    with zipfile.ZipFile(io.BytesIO(data)) as inner:
        _check_archive(inner, expected, member)
        missing = sorted(set(expected) - set(inner.namelist()))
        if missing:
            keys = [name[:-len(".npy")] for name in missing[:5]]
            raise ModelFileError(f"{member} lacks the arrays {keys} that {described_in} lists.")
        for name, spec in expected.items():
            raw = _read_member(inner, name, _nbytes(spec) + _NPY_HEADER_ALLOWANCE, member)
            array = _parse_npy(raw, spec, f"{member}: array {spec['key']}", described_in)
            if not np.all(np.isfinite(array)):
                raise ModelFileError(f"{member}: array {spec['key']} holds NaN or inf; refusing a broken model.")
            arrays[spec["key"]] = array
    return arrays


def _member_limit(specs):
    return sum(_nbytes(spec) + _NPY_HEADER_ALLOWANCE for spec in specs) + 2**16


def _assign_weights(network, arrays):
    for index, layer in enumerate(network.layers):
        for name, param in layer.named_parameters():
            param.value = xp.asarray(arrays[f"{index}.{name}"].astype(network.dtype, copy=False))
            param.grad = xp.zeros_like(param.value)
        for name in layer.buffers():
            value = arrays[f"{index}.{name}"]
            if name == "running_var" and np.any(value < 0):  # sqrt(var + eps) would turn every prediction to NaN
                raise ModelFileError(f"weights.npz: buffer {index}.{name} holds negative variances; a broken model.")
            try:
                layer.set_buffer(name, xp.asarray(value.astype(network.dtype, copy=False)))
            except (KeyError, ValueError) as error:
                raise ModelFileError(f"weights.npz: buffer {index}.{name} does not fit layer {index} ({layer.name}): "
                                     f"{str(error)[:200]}") from None


def _check_optimizer_specs(network, specs):
    """Each optimiser array is keyed '<parameter index>.<name>' and shaped like that parameter."""
    params = network.parameters()
    for spec in specs:
        index, _, name = spec["key"].partition(".")
        known = index.isdecimal() and int(index) < len(params) and name
        if not known or tuple(spec["shape"]) != params[int(index)].shape:
            raise ModelFileError(f"config.json: optimiser array {spec['key'][:100]!r} with shape {spec['shape']} "
                                 f"does not fit any of the network's {len(params)} parameters.")


def _state_names(optimizer_config):
    """The state arrays this optimiser keeps per parameter, found by taking one step on a dummy parameter."""
    dummy = Parameter(np.zeros(1), "dummy")
    dummy.grad = np.ones(1)
    probe = optimizers.from_config([dummy], optimizer_config)
    probe.step()
    return set(probe.state[0])


def _restore_optimizer(network, spec, arrays):
    try:
        optimizer = optimizers.from_config(network.parameters(), spec["config"])
        optimizer.load_state_dict({"iterations": spec["iterations"], "arrays": arrays})
        needed = _state_names(spec["config"])
    except (TypeError, ValueError, KeyError, IndexError) as error:
        raise ModelFileError(f"The optimiser state does not fit the network: {str(error)[:300]}") from None
    for index, state in enumerate(optimizer.state):
        if state and set(state) != needed:  # a partial state would fail at the next step, far from the file
            raise ModelFileError(f"Optimiser state for parameter {index} holds {sorted(state)}, expected "
                                 f"{sorted(needed)} (or nothing).")
    return optimizer


def _load(filepath, custom_layers):
    from .network import Network

    with zipfile.ZipFile(filepath) as archive:
        _check_archive(archive, MEMBERS, "The model file")
        config = _parse_config(_read_member(archive, "config.json", MAX_CONFIG_BYTES))
        network = Network(_build_layers(config["layers"], config["weights"], custom_layers), dtype=config["dtype"])
        network.metadata = config.get("metadata", {})
        _check_network(network, config)
        weights = _read_member(archive, "weights.npz", _member_limit(config["weights"]))
        _assign_weights(network, _read_arrays(weights, config["weights"], "weights.npz"))
        spec = config.get("optimizer")
        if spec is not None:
            _check_optimizer_specs(network, spec["arrays"])
            data = _read_member(archive, "optimizer.npz", _member_limit(spec["arrays"]))
            network.optimizer = _restore_optimizer(network, spec, _read_arrays(data, spec["arrays"], "optimizer.npz"))
    network.trained = True
    return network


def load_network(filepath: str | os.PathLike[str], custom_layers: dict[str, type[Layer]] | None = None) -> Network:
    """A new Network from a model file; ModelFileError for anything but a valid scratchcnn model.

    custom_layers: {class name: Layer subclass} for the layers of your own the file names (Keras's custom_objects).
    """
    custom_layers = _check_custom_layers(custom_layers)
    if not os.path.isfile(filepath):
        raise FileNotFoundError(f"No model file at {filepath!r}.")
    try:
        return _load(filepath, custom_layers)
    except ModelFileError:
        raise
    except zipfile.BadZipFile as error:
        message = f"{filepath!r} is not a scratchcnn model file (not a valid zip archive: {error})."
        raise ModelFileError(message) from None
    except Exception as error:  # truncated streams, bad compression, corrupt headers, ...
        raise ModelFileError(f"{filepath!r} is damaged and cannot be read: {type(error).__name__}: {error}") from None


def load_model(filepath: str | os.PathLike[str], custom_layers: dict[str, type[Layer]] | None = None) -> Network:
    """Load a model file written by Network.save_model and return a new Network (on the fast engine).

    A model with layers of your own needs their classes: `load_model(path, custom_layers={"Scale": Scale})`.
    """
    return load_network(filepath, custom_layers)


# -- weights only -----------------------------------------------------------------
# A weights file: a zip of manifest.json (format, the layers' class names, every array's key, shape and dtype)
# and weights.npz (the arrays, keyed '<layer index>.<name>' as in the model file). It holds no layer configs
# and no optimiser: the code that builds the network supplies those, as with PyTorch's state_dict.
WEIGHTS_FORMAT_NAME = "scratchcnn.weights"
WEIGHTS_MEMBERS = ("manifest.json", "weights.npz")


def save_weights(network: Network, filepath: str | os.PathLike[str]) -> None:
    """Write the network's parameters and buffers to filepath atomically (a temporary file, then a rename).

    A network without layers, or holding NaN or inf, is refused with ValueError before anything is written.
    """
    if not network.layers:
        raise ValueError(f"Refusing to save {filepath!r}: the network has no layers.")
    weights = _network_arrays(network)
    _refuse_non_finite(weights, "weight", filepath)
    manifest = {"format": WEIGHTS_FORMAT_NAME, "format_version": FORMAT_VERSION, "library_version": __version__,
                "dtype": str(network.dtype), "layers": [layer.name for layer in network.layers],
                "weights": _array_specs(weights)}
    _write_zip_atomically(filepath, {"manifest.json": json.dumps(manifest, indent=1), "weights.npz": _npz_bytes(weights)})


def load_weights(network: Network, filepath: str | os.PathLike[str]) -> Network:
    """Copy the arrays of a weights file (or of a model file) into `network`; returns the network.

    As PyTorch's load_state_dict (strict), the file must describe exactly the network's layers and arrays:
    the same layer classes in the same order, the same array names, the same shapes (dtypes may differ: the
    values take the network's dtype). Anything else raises ValueError naming the first layer or array that
    differs, with both shapes; a damaged file raises ModelFileError. On any error the network is left as it
    was. The network then counts as trained, so a seed passed to train() does not re-draw these weights.
    """
    if not os.path.isfile(filepath):
        raise FileNotFoundError(f"No weights file at {filepath!r}.")
    try:
        arrays = _read_weights(network, filepath)
    except ValueError:  # ModelFileError included
        raise
    except zipfile.BadZipFile as error:
        raise ModelFileError(f"{filepath!r} is not a scratchcnn weights file (not a valid zip archive: {error}).") from None
    except Exception as error:  # truncated streams, bad compression, corrupt headers, ...
        raise ModelFileError(f"{filepath!r} is damaged and cannot be read: {type(error).__name__}: {error}") from None
    before = network.get_weights()
    try:
        _assign_weights(network, arrays)
    except BaseException:
        network.set_weights(before)
        raise
    network.trained = True
    return network


def _read_weights(network, filepath):
    """{key: array} from a weights or model file, after checking that its layers and arrays match the network's."""
    with zipfile.ZipFile(filepath) as archive:
        is_model = "config.json" in archive.namelist()
        _check_archive(archive, MEMBERS if is_model else WEIGHTS_MEMBERS, "The weights file")
        if is_model:
            config = _parse_config(_read_member(archive, "config.json", MAX_CONFIG_BYTES))
            layer_names = [str(entry.get("class_name")) if isinstance(entry, dict) else "?" for entry in config["layers"]]
        else:
            config = _parse_manifest(_read_member(archive, "manifest.json", MAX_CONFIG_BYTES, "The weights file"))
            layer_names = config["layers"]
        _match_network(network, layer_names, config["weights"], filepath)
        data = _read_member(archive, "weights.npz", _member_limit(config["weights"]), "The weights file")
        arrays = _read_arrays(data, config["weights"], "weights.npz", "config.json" if is_model else "manifest.json")
    negative = [key for key, value in arrays.items() if key.endswith(".running_var") and np.any(value < 0)]
    if negative:
        raise ModelFileError(f"weights.npz: buffer {negative[0]} holds negative variances; refusing broken weights.")
    return arrays


def _parse_manifest(data):
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ModelFileError(f"manifest.json does not parse as JSON: {str(error)[:200]}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != WEIGHTS_FORMAT_NAME:
        raise ModelFileError(f"manifest.json is not a scratchcnn weights manifest (format must be "
                             f"{WEIGHTS_FORMAT_NAME!r}).")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"Unknown weights format version {str(manifest.get('format_version'))[:20]!r}; this "
                             f"scratchcnn ({__version__}) reads version {FORMAT_VERSION}.")
    layers = manifest.get("layers")
    if not (isinstance(layers, list) and all(isinstance(name, str) for name in layers)):
        raise ModelFileError(f"manifest.json: 'layers' must be a list of layer class names. Received: {str(layers)[:200]}")
    _check_specs(manifest.get("weights"), "weights")
    return manifest


def _layer_index(key):
    """The layer index of a '<layer index>.<name>' key (-1 for a malformed key, to be reported first)."""
    index = key.split(".", 1)[0]
    return int(index) if index.isdecimal() else -1


def _match_network(network, layer_names, specs, filepath):
    """ValueError naming the first layer or array where the file and the network differ."""
    for index, (theirs, layer) in enumerate(zip(layer_names, network.layers)):
        if theirs != layer.name:
            raise ValueError(f"The weights in {filepath!r} do not fit the network: layer {index} is a {theirs} in "
                             f"the file and a {layer.name} in the network.")
    if len(layer_names) != len(network.layers):
        shorter = "network" if len(layer_names) > len(network.layers) else "file"
        first_missing = min(len(layer_names), len(network.layers))
        raise ValueError(f"The weights in {filepath!r} do not fit the network: the file has {len(layer_names)} "
                         f"layers, the network {len(network.layers)} (layer {first_missing} is missing from the "
                         f"{shorter}).")
    declared = {spec["key"]: tuple(spec["shape"]) for spec in specs}
    expected = {key: tuple(value.shape) for key, value in _network_arrays(network).items()}
    keys = list(expected) + [key for key in declared if key not in expected]  # the network's order: weight, bias
    for key in sorted(keys, key=_layer_index):  # a stable sort: layer by layer, each in that order
        if declared.get(key) == expected.get(key):
            continue
        index, _, name = key.partition(".")
        where = (f"layer {index} ({network.layers[int(index)].name}) array {name!r}"
                 if index.isdecimal() and int(index) < len(network.layers) else f"array {key!r}")
        if key not in declared:
            problem = f"the file has no such array, the network's has shape {expected[key]}"
        elif key not in expected:
            problem = f"the file has one of shape {declared[key]}, the network has no such array"
        else:
            problem = f"the file's has shape {declared[key]}, the network's {expected[key]}"
        raise ValueError(f"The weights in {filepath!r} do not fit the network: {where}: {problem}.")
