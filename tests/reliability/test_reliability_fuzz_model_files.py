"""Fuzzing the loader: every mutation of a valid model file loads as a working model or raises ModelFileError.

Mutations: truncating the file, flipping bytes in it (anywhere, or in the zip's headers),
removing, duplicating, swapping and renaming members, flipping or truncating a member's
content and re-zipping it (so the CRC passes and the damage reaches the parsers), the same
for the arrays inside weights.npz and optimizer.npz, and replacing or deleting a value
anywhere in config.json (with random JSON, or a number nudged). Anything but
ModelFileError, a hang (over HANG_SECONDS), or a loaded model whose predictions are not
finite and (N, 3) fails the test. The test prints how many files it tried, by mutation.
"""
import io
import json
import signal
import time
import zipfile
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scratchcnn
from scratchcnn import ModelFileError

FUZZ_EXAMPLES = 2500  # about 20 s on an idle 2-core machine, 35 s on a busy one
HANG_SECONDS = 10  # a case takes milliseconds; this only has to tell a hang from a busy machine
INPUT_SHAPE = (1, 8, 8)  # conftest's model: (N, 1, 8, 8) -> (N, 3)
NUM_CLASSES = 3
MEMBER_NAMES = ("config.json", "weights.npz", "optimizer.npz")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    | st.integers(-2, 40) | st.sampled_from(["relu", "tanh", "sigmoid", "softmax", "linear", "avg", "max", "float64",
                                             "float32", "Dense", "ConvLayer", "BatchNorm", "Adam", "SGD"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=8)


# -- the file's anatomy ----------------------------------------------------------------
def members_of(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def zip_of(members, compression=zipfile.ZIP_DEFLATED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


def structural_offsets(zip_data, npy_headers=False):
    """Byte offsets of the zip's local headers and central directory (and each .npy header, for an .npz)."""
    offsets = []
    with zipfile.ZipFile(io.BytesIO(zip_data)) as archive:
        infos = archive.infolist()
        for info in infos:
            header = 30 + len(info.filename.encode()) + len(info.extra)
            offsets += range(info.header_offset, info.header_offset + header)
            if npy_headers:  # stored members: the .npy header follows the zip header
                start = info.header_offset + header
                header_length = int.from_bytes(zip_data[start + 8:start + 10], "little")
                offsets += range(start, start + 10 + header_length)
        central = archive.start_dir
    return offsets + list(range(central, len(zip_data)))


def json_paths(value, path=()):
    """Every path into a JSON value, as tuples of keys and indices."""
    if path:
        yield path
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from json_paths(child, path + (key,))


class Anatomy:
    """What the mutators draw from: the valid file, its members, the structural bytes, the config's paths."""

    def __init__(self, data):
        self.data = data
        self.members = members_of(data)
        self.positions = st.integers(0, len(data) - 1) | st.sampled_from(structural_offsets(data))
        self.member_positions = {name: st.sampled_from(range(len(content)) if name == "config.json"
                                                       else structural_offsets(content, npy_headers=True))
                                 for name, content in self.members}
        self.config = json.loads(dict(self.members)["config.json"])
        self.paths = list(json_paths(self.config))


# -- mutators: (anatomy, draw) -> bytes ----------------------------------------------------
def flip(data, positions, draw):
    flips = draw(st.lists(st.tuples(positions, st.integers(1, 255)), min_size=1, max_size=6))
    mutated = bytearray(data)
    for offset, mask in flips:
        mutated[offset] ^= mask
    return bytes(mutated)


def truncate_file(a, draw):
    return a.data[:draw(st.integers(0, len(a.data) - 1))]


def flip_file_bytes(a, draw):
    return flip(a.data, a.positions, draw)


def reshuffle_members(a, draw):
    """Remove, duplicate, swap or rename members."""
    members = list(a.members)
    action = draw(st.sampled_from(["remove", "duplicate", "swap", "rename"]))
    i = draw(st.integers(0, len(members) - 1))
    if action == "remove":
        del members[i]
    elif action == "duplicate":
        members.insert(draw(st.integers(0, len(members))), (members[i][0], draw(st.sampled_from([c for _, c in members]))))
    elif action == "swap":
        j = draw(st.integers(0, len(members) - 1))
        members[i], members[j] = (members[i][0], members[j][1]), (members[j][0], members[i][1])
    else:
        members[i] = (draw(st.sampled_from([*MEMBER_NAMES, "weights.npy", "../config.json", "CONFIG.JSON"])), members[i][1])
    with _quiet():
        return zip_of(members)


def damage_member_content(a, draw):
    """Flip or cut one member's content, then re-zip it so the CRC is right and the damage reaches the parsers."""
    i = draw(st.integers(0, len(a.members) - 1))
    name, content = a.members[i]
    if draw(st.booleans()):
        content = flip(content, a.member_positions[name], draw)
    else:
        content = content[:draw(st.integers(0, len(content) - 1))]
    return zip_of([*a.members[:i], (name, content), *a.members[i + 1:]])


def reshuffle_arrays(a, draw):
    """Remove, duplicate or swap the .npy entries inside weights.npz or optimizer.npz."""
    i = draw(st.sampled_from([k for k, (name, _) in enumerate(a.members) if name.endswith(".npz")]))
    entries = members_of(a.members[i][1])
    j, k = draw(st.integers(0, len(entries) - 1)), draw(st.integers(0, len(entries) - 1))
    action = draw(st.sampled_from(["remove", "duplicate", "swap"]))
    if action == "remove":
        del entries[j]
    elif action == "duplicate":
        entries.append((entries[j][0], entries[k][1]))
    else:
        entries[j], entries[k] = (entries[j][0], entries[k][1]), (entries[k][0], entries[j][1])
    with _quiet():
        inner = zip_of(entries, compression=zipfile.ZIP_STORED)
    return zip_of([*a.members[:i], (a.members[i][0], inner), *a.members[i + 1:]])


def edit_config(a, draw):
    """Replace (or delete) the value at a random path of config.json with random JSON."""
    config = json.loads(json.dumps(a.config))
    path = draw(st.sampled_from(a.paths))
    parent = config
    for key in path[:-1]:
        parent = parent[key]
    value, choice = parent[path[-1]], draw(st.integers(0, 3))
    if choice == 0:
        del parent[path[-1]]
    elif choice == 1 and isinstance(value, int) and not isinstance(value, bool):
        parent[path[-1]] = value + draw(st.integers(-2, 2))  # near misses reach the deeper checks
    elif choice == 1 and isinstance(value, float):
        parent[path[-1]] = value * draw(st.sampled_from([0.0, 0.5, 2.0, 1e3, -1.0]))
    else:
        parent[path[-1]] = draw(json_values)
    members = [(name, json.dumps(config).encode() if name == "config.json" else content) for name, content in a.members]
    return zip_of(members)


MUTATORS = {f.__name__: f for f in (truncate_file, flip_file_bytes, reshuffle_members, damage_member_content,
                                    reshuffle_arrays, edit_config)}


class _quiet:
    """Silence zipfile's duplicate-name warning: duplicates are what some mutations want."""

    def __enter__(self):
        import warnings
        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        return self._catch.__exit__(*exc)


# -- the oracle -------------------------------------------------------------------------------
class Hang(BaseException):
    """Not an Exception, so the loader's catch-all cannot turn a hang into a ModelFileError."""


def _alarm(signum, frame):
    raise Hang(f"loading or predicting took over {HANG_SECONDS} s")


def outcome(path):
    """'refused' for ModelFileError, 'loaded' for a working model; anything else propagates."""
    try:
        network = scratchcnn.load_model(str(path))
    except ModelFileError:
        return "refused"
    shape = tuple(network.metadata.get("input_shape") or INPUT_SHAPE)  # null: the file records no shape
    X = np.random.default_rng(0).normal(size=(2, *shape)).astype(np.float32)
    predictions = network.predict(X)
    assert predictions.shape == (2, NUM_CLASSES), predictions.shape
    assert np.all(np.isfinite(predictions)), predictions
    return "loaded"


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="the hang guard needs SIGALRM")
def test_mutated_model_files_load_correctly_or_raise_model_file_error(model_bytes, tmp_path, record_property):
    anatomy = Anatomy(model_bytes)
    path = tmp_path / "fuzzed.model"
    tally, slowest = Counter(), [0.0]

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # timing-based checks must not fail a busy machine
    @given(data=st.data())
    def fuzz(data):
        kind = data.draw(st.sampled_from(sorted(MUTATORS)), label="mutation")
        path.write_bytes(MUTATORS[kind](anatomy, data.draw))
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
        start = time.perf_counter()
        try:
            tally[kind, outcome(path)] += 1
            slowest[0] = max(slowest[0], time.perf_counter() - start)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    fuzz()
    total = sum(tally.values())
    summary = ", ".join(f"{kind}/{result}: {count}" for (kind, result), count in sorted(tally.items()))
    print(f"\nfuzzed {total} model files (slowest {slowest[0]:.3f} s): {summary}")
    record_property("fuzz_cases", total)
    assert total >= 0.9 * FUZZ_EXAMPLES  # hypothesis may skip a few draws it has already tried
    for kind in MUTATORS:  # each mutation ran, and the fuzz reached both outcomes
        assert tally[kind, "refused"] + tally[kind, "loaded"] > 0, kind
    assert sum(n for (_, result), n in tally.items() if result == "loaded") > 0
