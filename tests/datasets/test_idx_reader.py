"""read_idx: round trips, and a clear ValueError for every kind of damaged file."""
import gzip
import hashlib

import numpy as np
import pytest

from scratchcnn.datasets import read_idx


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("name", ["data-idx", "data-idx.gz"])
def test_round_trip_every_dtype_raw_and_gzipped(write_idx, dtype, name):
    array = (np.arange(2 * 3 * 4) - 7).reshape(2, 3, 4).astype(dtype)
    result = read_idx(write_idx(name, array))
    assert result.dtype == np.dtype(dtype)  # native byte order, not '>'
    assert result.dtype.isnative
    np.testing.assert_array_equal(result, array)


def test_result_is_a_writable_copy(write_idx):
    result = read_idx(write_idx("labels-idx1-ubyte", np.arange(5, dtype=np.uint8)))
    result[0] = 9
    assert result[0] == 9


def test_gzip_is_detected_from_content_without_gz_suffix(write_idx):
    path = write_idx("labels-idx1-ubyte", np.array([3, 1, 4], dtype=np.uint8), gz=True)
    np.testing.assert_array_equal(read_idx(path), [3, 1, 4])


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here.gz")


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_data_names_file_and_sizes(write_idx, encode_idx, gz):
    data = encode_idx(np.zeros((10, 28, 28), dtype=np.uint8))[:-100]
    path = write_idx("cut-idx3-ubyte", data, gz=gz)
    with pytest.raises(ValueError) as info:
        read_idx(path)
    message = str(info.value)
    assert "cut-idx3-ubyte" in message and "truncated" in message
    assert "Expected 7856 bytes" in message and "Received: 7756 bytes" in message


def test_trailing_bytes_are_rejected(write_idx, encode_idx):
    path = write_idx("long-idx1-ubyte", encode_idx(np.zeros(4, dtype=np.uint8)) + b"\x00")
    with pytest.raises(ValueError, match="trailing bytes.*Expected 12 bytes.*Received: 13 bytes"):
        read_idx(path)


def test_truncated_header_is_rejected(write_idx):
    path = write_idx("short-idx3-ubyte", bytes([0, 0, 8, 3, 0, 0, 0, 10]))
    with pytest.raises(ValueError, match="short-idx3-ubyte.*truncated.*16-byte header.*Received: 8 bytes"):
        read_idx(path)


@pytest.mark.parametrize("content", [b"", b"\x00\x00"])
def test_empty_or_tiny_file_is_rejected(write_idx, content):
    with pytest.raises(ValueError, match=f"tiny.*at least a 4-byte header.*Received: {len(content)} bytes"):
        read_idx(write_idx("tiny", content))


def test_wrong_magic_is_rejected(write_idx):
    path = write_idx("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match=r"photo\.png.*magic.*Received: magic=89504e47"):
        read_idx(path)


def test_unknown_dtype_code_is_rejected(write_idx):
    path = write_idx("odd-idx1", bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 5]))
    with pytest.raises(ValueError, match="Received: magic=00000701"):
        read_idx(path)


def test_corrupt_gzip_is_rejected(tmp_path, encode_idx):
    packed = bytearray(gzip.compress(encode_idx(np.arange(1000, dtype=np.int32))))
    packed[len(packed) // 2] ^= 0xFF  # damage the deflate stream
    path = tmp_path / "bad-idx1-ubyte.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(ValueError, match=r"Invalid gzip file '.*bad-idx1-ubyte\.gz'"):
        read_idx(path)


def test_cut_gzip_is_rejected(tmp_path, encode_idx):
    packed = gzip.compress(encode_idx(np.arange(1000, dtype=np.int32)))
    path = tmp_path / "cut-idx1-ubyte.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError, match=r"Invalid gzip file .*cut-idx1-ubyte\.gz.*truncated or corrupt"):
        read_idx(path)


def test_gz_name_without_gzip_content_is_rejected(write_idx):
    path = write_idx("plain-idx1-ubyte.gz", np.zeros(3, dtype=np.uint8), gz=False)
    with pytest.raises(ValueError, match=r"plain-idx1-ubyte\.gz.*gzip magic bytes 1f8b.*Received: 0000"):
        read_idx(path)


def test_checksum_full_prefix_and_uppercase_accepted(write_idx, encode_idx):
    data = encode_idx(np.arange(6, dtype=np.uint8))
    digest = hashlib.sha256(data).hexdigest()
    path = write_idx("ok-idx1-ubyte.gz", data)
    for expected in (digest, digest[:16], digest[:16].upper()):
        np.testing.assert_array_equal(read_idx(path, expected_sha256=expected), np.arange(6))


@pytest.mark.parametrize("gz", [False, True])
def test_checksum_mismatch_names_file_and_both_digests(write_idx, encode_idx, gz):
    data = encode_idx(np.arange(6, dtype=np.uint8))
    digest = hashlib.sha256(data).hexdigest()
    wrong = ("0" if digest[0] != "0" else "1") + digest[1:16]
    path = write_idx("sum-idx1-ubyte", data, gz=gz)
    with pytest.raises(ValueError) as info:
        read_idx(path, expected_sha256=wrong)
    message = str(info.value)
    assert "SHA-256 mismatch" in message and "sum-idx1-ubyte" in message
    assert f"Expected: {wrong}" in message and f"Received: {digest[:16]}" in message


def test_checksum_is_of_decompressed_bytes(write_idx, encode_idx):
    data = encode_idx(np.arange(6, dtype=np.uint8))
    path = write_idx("sum-idx1-ubyte.gz", data)
    compressed_digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        read_idx(path, expected_sha256=compressed_digest)


@pytest.mark.parametrize("bad", ["", "xyz", "0x12", "a" * 65, 123])
def test_invalid_expected_sha256_argument(write_idx, bad):
    path = write_idx("x-idx1-ubyte", np.arange(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="invalid value for expected_sha256.*Received: expected_sha256="):
        read_idx(path, expected_sha256=bad)
