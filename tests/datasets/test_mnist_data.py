"""MNIST: the vendored files, load_data from user folders, and the load_mnist subset."""
import gzip
import hashlib

import numpy as np
import pytest

from scratchcnn.datasets import load_mnist, mnist

# First 16 hex of each decompressed file's SHA-256, from shared/data/README.md.
README_PREFIXES = {
    "train-images-idx3-ubyte": "ba891046e6505d7a",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d7",
    "t10k-images-idx3-ubyte": "0fa7898d509279e4",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de3373",
}
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def vendored():
    return mnist.load_data()


def test_vendored_load_data_matches_keras_form(vendored):
    (x_train, y_train), (x_test, y_test) = vendored
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8
    assert np.bincount(y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(y_test).tolist() == TEST_COUNTS
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9] and y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert x_train.max() == 255 and x_train.min() == 0


def test_vendored_files_have_the_official_checksums():
    assert set(mnist.OFFICIAL_SHA256) == set(README_PREFIXES)
    for name, digest in mnist.OFFICIAL_SHA256.items():
        assert digest.startswith(README_PREFIXES[name])
        data = gzip.decompress((mnist.DATA_DIR / f"{name}.gz").read_bytes())
        assert hashlib.sha256(data).hexdigest() == digest
        assert len(data) == mnist.OFFICIAL_SIZES[name]


def test_credits_file_is_shipped():
    credits = (mnist.DATA_DIR / "CREDITS.md").read_text()
    for needed in ("Yann LeCun", "Corinna Cortes", "Burges", "CC BY-SA 3.0"):
        assert needed in credits


def _write_small_mnist(write_idx, folder, num_train=20, num_test=10, gz=True):
    """A valid MNIST-shaped folder with random content (sizes not the official ones)."""
    rng = np.random.default_rng(1)
    suffix = ".gz" if gz else ""
    for prefix, count in (("train", num_train), ("t10k", num_test)):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = np.arange(count, dtype=np.uint8) % 10
        write_idx(f"{prefix}-images-idx3-ubyte{suffix}", images, folder=folder)
        write_idx(f"{prefix}-labels-idx1-ubyte{suffix}", labels, folder=folder)


@pytest.mark.parametrize("gz", [True, False])
def test_user_folder_with_other_files_is_only_validated(write_idx, tmp_path, gz):
    _write_small_mnist(write_idx, tmp_path, gz=gz)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(path=tmp_path)
    assert x_train.shape == (20, 28, 28) and y_train.shape == (20,)
    assert x_test.shape == (10, 28, 28) and y_test.tolist() == list(range(10))


def test_user_folder_file_of_official_size_is_checksummed(write_idx, tmp_path, vendored):
    _write_small_mnist(write_idx, tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    tampered = vendored[1][1].copy()
    tampered[0] = (tampered[0] + 1) % 10  # same size as the official file, one label changed
    write_idx("t10k-labels-idx1-ubyte", tampered, folder=tmp_path)  # raw, uncompressed
    with pytest.raises(ValueError, match="SHA-256 mismatch for '.*t10k-labels-idx1-ubyte'"):
        mnist.load_data(path=tmp_path)


def test_default_folder_is_always_checksummed(write_idx, tmp_path, monkeypatch):
    _write_small_mnist(write_idx, tmp_path)
    monkeypatch.setattr(mnist, "DATA_DIR", tmp_path)  # stand-in for damaged vendored files
    with pytest.raises(ValueError, match="SHA-256 mismatch for '.*train-images-idx3-ubyte.gz'"):
        mnist.load_data()


def test_user_folder_missing_file(write_idx, tmp_path):
    _write_small_mnist(write_idx, tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    expected = "expected 't10k-images-idx3-ubyte.gz' or 't10k-images-idx3-ubyte'"
    with pytest.raises(FileNotFoundError, match=expected):
        mnist.load_data(path=tmp_path)


def test_missing_user_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="Dataset folder not found.*no-such-folder"):
        mnist.load_data(path=tmp_path / "no-such-folder")


def test_image_and_label_counts_must_agree(write_idx, tmp_path):
    _write_small_mnist(write_idx, tmp_path)
    write_idx("train-labels-idx1-ubyte.gz", np.zeros(7, dtype=np.uint8), folder=tmp_path)
    with pytest.raises(ValueError, match="holds 20 images but .* holds 7 labels"):
        mnist.load_data(path=tmp_path)


def test_truncated_user_file_is_an_error(write_idx, encode_idx, tmp_path):
    _write_small_mnist(write_idx, tmp_path)
    data = encode_idx(np.zeros((20, 28, 28), dtype=np.uint8))[:-1]
    write_idx("train-images-idx3-ubyte.gz", data, folder=tmp_path)
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz.*truncated"):
        mnist.load_data(path=tmp_path)


@pytest.fixture(scope="module")
def default_subset():
    return load_mnist()


def test_load_mnist_defaults_sizes_and_types(default_subset):
    train_x, train_y, test_x, test_y, val_x, val_y = default_subset
    assert train_x.shape == (210, 1, 28, 28) and train_y.shape == (210, 10)
    assert test_x.shape == (60, 1, 28, 28) and test_y.shape == (60, 10)
    assert val_x.shape == (30, 1, 28, 28) and val_y.shape == (30, 10)
    for array in default_subset:
        assert array.dtype == np.float32
    for images in (train_x, test_x, val_x):
        assert images.min() == 0.0 and images.max() == 1.0


def test_load_mnist_is_stratified_one_hot_and_shuffled(default_subset):
    _, train_y, _, test_y, _, val_y = default_subset
    for labels, per_class in ((train_y, 21), (test_y, 6), (val_y, 3)):
        assert set(np.unique(labels).tolist()) == {0.0, 1.0}
        assert (labels.sum(axis=1) == 1).all()
        assert labels.sum(axis=0).tolist() == [per_class] * 10
    digits = train_y.argmax(axis=1)
    assert (np.diff(digits) != 0).sum() > 50  # interleaved, not grouped by class


def test_load_mnist_draws_distinct_training_images(default_subset, vendored):
    (x_train, y_train), (x_test, _) = vendored
    train_index = {image.tobytes(): label for image, label in zip(x_train, y_train)}
    test_set = {image.tobytes() for image in x_test}
    drawn = []
    for images, labels in zip(default_subset[0::2], default_subset[1::2]):
        for image, one_hot in zip(images, labels):
            key = np.rint(image[0] * 255).astype(np.uint8).tobytes()
            assert train_index[key] == one_hot.argmax()  # a training image, with its own label
            assert key not in test_set
            drawn.append(key)
    assert len(set(drawn)) == 300  # no image in two parts or twice in one


def test_load_mnist_same_seed_same_result(default_subset):
    again = load_mnist(seed=0)
    for first, second in zip(default_subset, again):
        np.testing.assert_array_equal(first, second)
    other = load_mnist(seed=1)
    assert not np.array_equal(default_subset[0], other[0])


def test_load_mnist_custom_split_and_count():
    train_x, train_y, test_x, test_y, val_x, val_y = load_mnist(4, split=(0.5, 0.5, 0.0), seed=3)
    assert train_x.shape == (20, 1, 28, 28) and test_x.shape == (20, 1, 28, 28)
    assert val_x.shape == (0, 1, 28, 28) and val_y.shape == (0, 10)
    assert train_y.sum(axis=0).tolist() == [2] * 10


def test_load_mnist_from_user_folder(write_idx, tmp_path):
    _write_small_mnist(write_idx, tmp_path, num_train=50)  # 5 images of each digit
    train_x, _, test_x, _, val_x, _ = load_mnist(5, split=(0.6, 0.2, 0.2), path=tmp_path)
    assert (len(train_x), len(test_x), len(val_x)) == (30, 10, 10)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "30", None])
def test_load_mnist_rejects_bad_num_samples(bad):
    expected = (
        "Received an invalid value for num_samples_per_class, expected a positive integer. "
        f"Received: num_samples_per_class={bad!r}"
    )
    with pytest.raises(ValueError) as info:
        load_mnist(num_samples_per_class=bad)
    assert str(info.value) == expected


def test_load_mnist_rejects_more_samples_than_available():
    expected = "expected at most 5421 .*digit 5.*Received: num_samples_per_class=5422"
    with pytest.raises(ValueError, match=expected):
        load_mnist(num_samples_per_class=5422)


@pytest.mark.parametrize(
    "bad", [(0.5, 0.2), (0.7, 0.2, 0.2), (1.2, -0.1, -0.1), (0.5, 0.5, float("nan")), "0.7", None]
)
def test_load_mnist_rejects_bad_split(bad):
    expected = (
        "Received an invalid value for split, expected three non-negative fractions "
        f"(train, test, val) summing to 1. Received: split={bad!r}"
    )
    with pytest.raises(ValueError) as info:
        load_mnist(split=bad)
    assert str(info.value) == expected


def test_load_mnist_split_sum_tolerance():
    train_x, _, test_x, _, val_x, _ = load_mnist(10, split=(0.6, 0.2, 0.2 + 5e-7))
    assert (len(train_x), len(test_x), len(val_x)) == (60, 20, 20)
