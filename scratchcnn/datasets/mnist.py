"""MNIST handwritten digits (LeCun, Cortes, Burges; CC BY-SA 3.0), vendored in ``data/``.

``load_data`` mirrors ``keras.datasets.mnist.load_data``; ``load_mnist`` is the small,
stratified, ready-to-train subset used in the original report.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import idx
from ..checks import check_int, check_seed
from ._idx_folder import (
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    check_image_label_pair,
    find_idx_file,
)
from ._split import check_split, stratified_split

DATA_DIR = Path(__file__).resolve().parent / "data"
NUM_CLASSES = 10

# SHA-256 and size in bytes of the official files, *after* decompression.
OFFICIAL_SHA256 = {
    TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
OFFICIAL_SIZES = {
    TRAIN_IMAGES: 16 + 60000 * 28 * 28,
    TRAIN_LABELS: 8 + 60000,
    TEST_IMAGES: 16 + 10000 * 28 * 28,
    TEST_LABELS: 8 + 10000,
}


def load_data(path: str | os.PathLike[str] | None = None
              ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST as ``(x_train, y_train), (x_test, y_test)``, like Keras.

    Args:
        path: a folder holding the four files under their standard names, each
            gzipped (``.gz``) or not. ``None`` reads the copy shipped with scratchcnn.

    Returns:
        x_train (60000, 28, 28) uint8, y_train (60000,) uint8,
        x_test (10000, 28, 28) uint8, y_test (10000,) uint8.

    The shipped files are always checked against the official SHA-256. Files in a
    user folder are checked when their size is the official one (so a damaged
    official file is caught); other files are only checked for a valid structure.
    """
    folder = DATA_DIR if path is None else Path(path)
    arrays = {name: _read(folder, name, always_verify=path is None) for name in OFFICIAL_SHA256}
    train = (arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS])
    test = (arrays[TEST_IMAGES], arrays[TEST_LABELS])
    check_image_label_pair(*train, folder / TRAIN_IMAGES, folder / TRAIN_LABELS)
    check_image_label_pair(*test, folder / TEST_IMAGES, folder / TEST_LABELS)
    return train, test


def _read(folder: Path, name: str, always_verify: bool) -> np.ndarray:
    """Read one IDX file, verifying its checksum when it claims to be the official one."""
    file = find_idx_file(folder, name)
    data = idx.load_bytes(file)
    array = idx.parse_idx(data, source=str(file))
    if always_verify or len(data) == OFFICIAL_SIZES[name]:
        idx.verify_sha256(data, OFFICIAL_SHA256[name], source=str(file))
    return array


def load_mnist(num_samples_per_class: int = 30, split: Sequence[float] = (0.7, 0.2, 0.1), seed: int | None = 0,
               path: str | os.PathLike[str] | None = None) -> tuple[np.ndarray, ...]:
    """A small, class-balanced MNIST subset, split and ready to train on.

    Draws ``num_samples_per_class`` images of each digit from the official training
    set, then splits every digit's images into train/test/val by ``split``.
    Defaults give 210 train, 60 test and 30 val images. Same seed, same result.

    Returns:
        ``train_images, train_labels, test_images, test_labels, val_images, val_labels``;
        images float32 in [0, 1], shape (N, 1, 28, 28); labels one-hot float32, (N, 10).
    """
    num_samples_per_class = check_int("num_samples_per_class", num_samples_per_class)
    split = check_split(split)
    rng = np.random.default_rng(check_seed(seed))
    (images, labels), _ = load_data(path)
    chosen = _draw_per_class(labels, num_samples_per_class, rng)  # indices into the training set
    outputs = []
    for part in stratified_split(labels[chosen], split, rng):
        outputs += [_to_unit_float(images[chosen[part]]), _one_hot(labels[chosen[part]])]
    return tuple(outputs)


def _draw_per_class(labels: np.ndarray, num_samples_per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``num_samples_per_class`` distinct images of each digit, drawn by ``rng``."""
    if labels.size and labels.max() >= NUM_CLASSES:
        raise ValueError(f"Expected MNIST labels 0 to 9. Received: a label {labels.max()}")
    members = [np.flatnonzero(labels == digit) for digit in range(NUM_CLASSES)]
    available = min(len(indices) for indices in members)
    if num_samples_per_class > available:
        digit = int(np.argmin([len(indices) for indices in members]))
        raise ValueError(
            f"Received an invalid value for num_samples_per_class, expected at most {available} "
            f"(the training set has {available} images of digit {digit}). "
            f"Received: num_samples_per_class={num_samples_per_class}"
        )
    drawn = [rng.choice(indices, num_samples_per_class, replace=False) for indices in members]
    return np.concatenate(drawn)


def _to_unit_float(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) in [0, 1]."""
    return (images.astype(np.float32) / 255.0)[:, np.newaxis, :, :]


def _one_hot(labels: np.ndarray) -> np.ndarray:
    """Integer labels (N,) -> one-hot float32 (N, 10)."""
    return np.eye(NUM_CLASSES, dtype=np.float32)[labels]
