"""Reader for IDX files, the format MNIST and Fashion-MNIST are shipped in.

An IDX file is a header followed by the raw array, everything big-endian:

    bytes 0-1   zero
    byte  2     dtype code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64)
    byte  3     number of dimensions, ndim
    then        ndim sizes, each a 4-byte unsigned integer
    then        prod(sizes) items of the dtype, in C order

The file may be gzip-compressed. Every check is done on the whole file before an
array is returned, so a damaged file raises instead of giving partial data.
"""
from __future__ import annotations

import gzip
import hashlib
import math
import os
import zlib
from pathlib import Path

import numpy as np

_GZIP_MAGIC = b"\x1f\x8b"

# IDX dtype code -> big-endian NumPy dtype.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike[str], expected_sha256: str | None = None) -> np.ndarray:
    """Read an IDX file (raw or gzipped) into a NumPy array in native byte order.

    Args:
        path: the file; gzip is detected from its first bytes or a ``.gz`` name.
        expected_sha256: optional hex SHA-256 of the *decompressed* bytes, either
            the full 64-character digest or a prefix of it.

    Returns:
        A writable array with the shape and dtype given by the header.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: bad gzip data, not an IDX file, a size that disagrees with the
            header, or a checksum mismatch. The message names the file.
    """
    data = load_bytes(path)
    array = parse_idx(data, source=str(path))
    if expected_sha256 is not None:
        verify_sha256(data, expected_sha256, source=str(path))
    return array


def load_bytes(path: str | os.PathLike[str]) -> bytes:
    """Return the file's bytes, decompressed if it is gzipped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found. Received: path='{path}'")
    raw = path.read_bytes()
    is_gzip = raw[:2] == _GZIP_MAGIC
    if path.suffix == ".gz" and not is_gzip:
        raise ValueError(
            f"Invalid gzip file '{path}': expected the gzip magic bytes 1f8b at the start. "
            f"Received: {raw[:2].hex() or 'an empty file'}"
        )
    if not is_gzip:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        # gzip raises BadGzipFile (an OSError), EOFError when cut short, zlib.error on bad data.
        raise ValueError(f"Invalid gzip file '{path}': it is truncated or corrupt ({error}).") from error


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into an array, checking the header against the data length."""
    dtype, shape = _parse_header(data, source)
    header_size = 4 + 4 * len(shape)
    expected_size = header_size + math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if len(data) != expected_size:
        state = "truncated" if len(data) < expected_size else "has trailing bytes"
        raise ValueError(
            f"Invalid IDX file '{source}': it {state}. Expected {expected_size} bytes for "
            f"shape {shape} of {dtype.name}. Received: {len(data)} bytes"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a copy: writable, native byte order


def _parse_header(data: bytes, source: str) -> tuple[np.dtype, tuple[int, ...]]:
    """Return (big-endian dtype, shape) from the IDX header of ``data``."""
    if len(data) < 4:
        raise ValueError(
            f"Invalid IDX file '{source}': expected at least a 4-byte header. "
            f"Received: {len(data)} bytes"
        )
    zeros, dtype_code, ndim = data[0:2], data[2], data[3]
    if zeros != b"\x00\x00" or dtype_code not in _IDX_DTYPES:
        raise ValueError(
            f"Invalid IDX file '{source}': expected magic 0000 followed by a dtype code in "
            f"{{08, 09, 0b, 0c, 0d, 0e}}. Received: magic={data[0:4].hex()}"
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(
            f"Invalid IDX file '{source}': it is truncated. Expected a {header_size}-byte header "
            f"for ndim={ndim}. Received: {len(data)} bytes"
        )
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    return _IDX_DTYPES[dtype_code], shape


def verify_sha256(data: bytes, expected_sha256: str, source: str = "<bytes>") -> None:
    """Raise ValueError unless the SHA-256 of ``data`` matches ``expected_sha256``.

    ``expected_sha256`` is a hex digest or a prefix of one (case-insensitive).
    """
    expected = _check_sha256_argument(expected_sha256)
    actual = hashlib.sha256(data).hexdigest()
    if not actual.startswith(expected):
        raise ValueError(
            f"SHA-256 mismatch for '{source}': the decompressed file is not the expected one. "
            f"Expected: {expected}. Received: {actual[:len(expected)]} (full digest {actual})"
        )


def _check_sha256_argument(expected_sha256: str) -> str:
    """Return the expected digest in lower case, or raise if it is not a hex string."""
    valid = isinstance(expected_sha256, str) and 0 < len(expected_sha256) <= 64
    if not valid or set(expected_sha256.lower()) - set("0123456789abcdef"):
        raise ValueError(
            "Received an invalid value for expected_sha256, expected a hex string of 1 to 64 "
            f"characters (a SHA-256 digest or its prefix). Received: expected_sha256={expected_sha256!r}"
        )
    return expected_sha256.lower()
