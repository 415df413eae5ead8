"""Finding and checking the four IDX files of an MNIST-style folder."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# Standard file names, shared by MNIST and Fashion-MNIST.
TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"


def find_idx_file(folder: str | os.PathLike[str], name: str, hint: str = "") -> Path:
    """Return the path of ``name`` in ``folder``, gzipped (``name.gz``) or not (``name``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"Dataset folder not found. Received: path='{folder}'. {hint}".rstrip())
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"Missing IDX file in '{folder}': expected '{name}.gz' or '{name}'. {hint}".rstrip()
    )


def check_image_label_pair(images: np.ndarray, labels: np.ndarray, images_path: str | os.PathLike[str],
                           labels_path: str | os.PathLike[str]) -> None:
    """Raise ValueError unless images (N, H, W) and labels (N,) are uint8 and agree on N."""
    if images.ndim != 3 or images.dtype != "uint8":
        raise ValueError(
            f"Invalid image file '{images_path}': expected uint8 images of shape (N, H, W). "
            f"Received: dtype={images.dtype}, shape={images.shape}"
        )
    if labels.ndim != 1 or labels.dtype != "uint8":
        raise ValueError(
            f"Invalid label file '{labels_path}': expected uint8 labels of shape (N,). "
            f"Received: dtype={labels.dtype}, shape={labels.shape}"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"Image and label files disagree: '{images_path}' holds {len(images)} images but "
            f"'{labels_path}' holds {len(labels)} labels."
        )
