"""Helpers for the dataset tests: writing small IDX files by hand."""
import gzip
import struct

import numpy as np
import pytest

# NumPy dtype -> IDX dtype code.
IDX_CODES = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D, "float64": 0x0E}


def idx_bytes(array):
    """Encode ``array`` as IDX bytes: magic, big-endian sizes, big-endian data."""
    array = np.asarray(array)
    header = bytes([0, 0, IDX_CODES[array.dtype.name], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.fixture
def encode_idx():
    """Return the ``idx_bytes`` encoder (fixtures avoid importing conftest by name)."""
    return idx_bytes


@pytest.fixture
def write_idx(tmp_path):
    """Return ``write(name, array_or_bytes, gz=...)`` that writes a file in tmp_path."""

    def write(name, content, gz=None, folder=tmp_path):
        data = content if isinstance(content, bytes) else idx_bytes(content)
        gz = name.endswith(".gz") if gz is None else gz
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(data) if gz else data)
        return path

    return write
