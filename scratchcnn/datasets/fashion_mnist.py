"""Fashion-MNIST (Zalando Research; MIT licence), read from the Debian package's folder.

Not shipped with scratchcnn: ``apt-get install -y dataset-fashion-mnist`` puts the four
IDX files in ``/usr/share/datasets/fashion-mnist/``.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .idx import read_idx
from ._idx_folder import (
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    check_image_label_pair,
    find_idx_file,
)

DEFAULT_PATH = "/usr/share/datasets/fashion-mnist/"
INSTALL_HINT = (
    "Install Fashion-MNIST with `apt-get install -y dataset-fashion-mnist`, or pass the folder "
    "holding its four IDX files as path."
)

# Label index -> name, in the dataset's own order.
CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def load_data(path: str | os.PathLike[str] = DEFAULT_PATH
              ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load Fashion-MNIST as ``(x_train, y_train), (x_test, y_test)``, like Keras.

    Args:
        path: folder with the four files under their standard names
            (``train-images-idx3-ubyte`` and so on), gzipped (``.gz``) or not.

    Returns:
        x_train (60000, 28, 28) uint8, y_train (60000,) uint8,
        x_test (10000, 28, 28) uint8, y_test (10000,) uint8. Label i is ``CLASS_NAMES[i]``.
    """
    folder = Path(path)
    train = _read_pair(folder, TRAIN_IMAGES, TRAIN_LABELS)
    test = _read_pair(folder, TEST_IMAGES, TEST_LABELS)
    return train, test


def _read_pair(folder: Path, images_name: str, labels_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Read and cross-check one (images, labels) pair of IDX files."""
    images_path = find_idx_file(folder, images_name, hint=INSTALL_HINT)
    labels_path = find_idx_file(folder, labels_name, hint=INSTALL_HINT)
    images, labels = read_idx(images_path), read_idx(labels_path)
    check_image_label_pair(images, labels, images_path, labels_path)
    return images, labels
