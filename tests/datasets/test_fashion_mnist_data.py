"""Fashion-MNIST: class names, install hints, and loading from a folder."""
from pathlib import Path

import numpy as np
import pytest

from scratchcnn.datasets import fashion_mnist

DEBIAN_FOLDER = Path("/usr/share/datasets/fashion-mnist/")


def test_class_names():
    assert len(fashion_mnist.CLASS_NAMES) == 10
    assert fashion_mnist.CLASS_NAMES[0] == "T-shirt/top"
    assert fashion_mnist.CLASS_NAMES[9] == "Ankle boot"


def test_missing_folder_says_how_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install -y dataset-fashion-mnist"):
        fashion_mnist.load_data(path=tmp_path / "absent")


def test_missing_file_says_how_to_install(write_idx, tmp_path):
    write_idx("train-images-idx3-ubyte.gz", np.zeros((2, 28, 28), dtype=np.uint8))
    expected = "train-labels-idx1-ubyte.*apt-get install -y dataset-fashion-mnist"
    with pytest.raises(FileNotFoundError, match=expected):
        fashion_mnist.load_data(path=tmp_path)


def test_loads_gzipped_and_raw_files(write_idx, tmp_path):
    write_idx("train-images-idx3-ubyte.gz", np.full((3, 28, 28), 7, dtype=np.uint8))
    write_idx("train-labels-idx1-ubyte", np.array([0, 9, 4], dtype=np.uint8))
    write_idx("t10k-images-idx3-ubyte", np.zeros((2, 28, 28), dtype=np.uint8))
    write_idx("t10k-labels-idx1-ubyte.gz", np.array([1, 2], dtype=np.uint8))
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(path=tmp_path)
    assert x_train.shape == (3, 28, 28) and (x_train == 7).all()
    assert y_train.tolist() == [0, 9, 4] and y_test.tolist() == [1, 2]
    assert x_test.dtype == np.uint8 and y_test.dtype == np.uint8


def test_labels_must_be_one_dimensional(write_idx, tmp_path):
    write_idx("train-images-idx3-ubyte.gz", np.zeros((2, 28, 28), dtype=np.uint8))
    write_idx("train-labels-idx1-ubyte.gz", np.zeros((2, 28, 28), dtype=np.uint8))
    expected = r"expected uint8 labels of shape \(N,\). Received: dtype=uint8, shape=\(2, 28, 28\)"
    with pytest.raises(ValueError, match=expected):
        fashion_mnist.load_data(path=tmp_path)


@pytest.mark.skipif(not DEBIAN_FOLDER.is_dir(), reason="needs apt-get install -y dataset-fashion-mnist")
def test_debian_package():
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
