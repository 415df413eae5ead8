"""Load a folder of images with one sub-folder per class (``cats/``, ``dogs/``, ...).

A class's images are every file under its folder, at any depth, as in Keras's
``image_dataset_from_directory``: ``cats/indoor/a.jpg`` is a cat. Hidden files and folders
(names starting with '.') are ignored, and symbolic links to folders are not followed.

Decoding needs Pillow, the optional ``images`` extra: ``pip install scratchcnn[images]``.
"""
from __future__ import annotations

import numbers
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from ..checks import check_int, check_seed
from ._split import check_split, stratified_split

if TYPE_CHECKING:
    from .image_batches import ImageFolderBatches

COLOR_MODES = {"rgb": "RGB", "grayscale": "L"}  # our name -> Pillow mode
# The files a lazy load reads (it cannot skip a file once the batches are counted): Keras's list, and TIFF, WebP.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")


def list_classes(path: str | os.PathLike[str]) -> list[str]:
    """Sorted class names: the sub-folders of ``path`` (or of its single nested folder).

    Hidden folders (starting with '.') are ignored. Class i in ``load_image_folder``
    is ``list_classes(path)[i]``.
    """
    return [folder.name for folder in _class_folders(path)]


@overload
def load_image_folder(path: str | os.PathLike[str], size: Sequence[int] = ..., color: str = ...,
                      split: Sequence[float] = ..., seed: int | None = ..., *, lazy: Literal[False] = ...,
                      batch_size: None = ..., shuffle: None = ...
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]: ...
@overload
def load_image_folder(path: str | os.PathLike[str], size: Sequence[int] = ..., color: str = ..., *, split: None,
                      seed: int | None = ..., lazy: Literal[False] = ..., batch_size: None = ..., shuffle: None = ...
                      ) -> tuple[np.ndarray, np.ndarray, list[str]]: ...
@overload
def load_image_folder(path: str | os.PathLike[str], size: Sequence[int] = ..., color: str = ...,
                      split: Sequence[float] = ..., seed: int | None = ..., *, lazy: Literal[True],
                      batch_size: int | None = ..., shuffle: bool | None = ...
                      ) -> tuple[ImageFolderBatches, ImageFolderBatches, ImageFolderBatches]: ...
@overload
def load_image_folder(path: str | os.PathLike[str], size: Sequence[int] = ..., color: str = ..., *, split: None,
                      seed: int | None = ..., lazy: Literal[True], batch_size: int | None = ...,
                      shuffle: bool | None = ...) -> ImageFolderBatches: ...
@overload
def load_image_folder(path: str | os.PathLike[str], size: Sequence[int] = ..., color: str = ...,
                      split: Sequence[float] | None = ..., seed: int | None = ..., *, lazy: bool = ...,
                      batch_size: int | None = ..., shuffle: bool | None = ...
                      ) -> tuple[Any, ...] | ImageFolderBatches: ...
def load_image_folder(path: str | os.PathLike[str], size: Sequence[int] = (50, 50), color: str = "rgb",
                      split: Sequence[float] | None = (0.8, 0.1, 0.1), seed: int | None = 0, *, lazy: bool = False,
                      batch_size: int | None = None, shuffle: bool | None = None
                      ) -> tuple[Any, ...] | ImageFolderBatches:
    """Decode, resize and label every image under ``path/<class name>/`` (sub-folders included).

    Also accepts the Kaggle nested layout, where ``path`` holds a single folder that
    holds the class folders (``training_set/training_set/cats``). Files that cannot
    be decoded are skipped and listed in one warning.

    Args:
        path: the folder. Class names are the sorted sub-folder names.
        size: (height, width) of the output images; resized bilinearly.
        color: 'rgb' (3 channels) or 'grayscale' (1 channel).
        split: (train, test, val) fractions summing to 1, stratified per class; or None.
        seed: seeds the split and shuffle; same seed, same result.
        lazy: return batch sources (ImageFolderBatches) that decode images when a batch is asked
            for, instead of arrays: for folders larger than memory. Only files with an image
            extension (IMAGE_EXTENSIONS) are listed, and a damaged one raises ImageDecodeError,
            naming it, when its batch is read.
        batch_size: images per batch of a lazy source (default 32).
        shuffle: whether a lazy training source (the only source with split=None) reads each
            epoch in a new seeded order (default True); test and validation sources never do.

    Returns:
        With ``split=None``: ``images, labels, class_names`` in folder order.
        Otherwise: ``train_images, train_labels, test_images, test_labels,
        val_images, val_labels, class_names``, each part shuffled.
        Images are float32 in [0, 1], (N, 3, H, W) or (N, 1, H, W); labels int64 (N,).
        With ``lazy=True``: one ImageFolderBatches with ``split=None``, otherwise the
        ``(train, test, val)`` sources; each has ``class_names``.
    """
    size = _check_size(size)
    mode = _check_color(color)
    split = None if split is None else check_split(split)
    seed = check_seed(seed)
    if lazy is not True and lazy is not False:
        raise ValueError(f"Received an invalid value for lazy, expected True or False. Received: lazy={lazy!r}")
    if not lazy and (batch_size is not None or shuffle is not None):
        raise ValueError("Received batch_size or shuffle without lazy=True, expected them only for a lazy load "
                         f"(the arrays come whole). Received: batch_size={batch_size!r}, shuffle={shuffle!r}")
    class_folders = _class_folders(path)
    class_names = [folder.name for folder in class_folders]
    if lazy:
        return _lazy_sources(class_folders, size, mode, split, seed, batch_size, shuffle)
    images, labels = _load_all(class_folders, size, mode)
    if split is None:
        return images, labels, class_names
    outputs = []
    for part in stratified_split(labels, split, np.random.default_rng(seed)):
        outputs += [images[part], labels[part]]
    return (*outputs, class_names)


def list_image_files(path: str | os.PathLike[str]) -> tuple[list[Path], np.ndarray, list[str]]:
    """``(files, labels, class_names)``: every image file (by extension, IMAGE_EXTENSIONS) under the class
    folders of ``path``, in sorted order, with its class index (int64 (N,)); nothing is decoded."""
    return _image_files(_class_folders(path))


def _image_files(class_folders: Sequence[Path]) -> tuple[list[Path], np.ndarray, list[str]]:
    """list_image_files for class folders already found."""
    files, labels = [], []
    for label, folder in enumerate(class_folders):
        found = [file for file in _class_files(folder) if file.suffix.lower() in IMAGE_EXTENSIONS]
        files += found
        labels += [label] * len(found)
    if not files:
        raise ValueError(
            f"Invalid image folder '{class_folders[0].parent}': expected at least one image file "
            f"({', '.join(IMAGE_EXTENSIONS)}) in its class folders. Received: none in {[f.name for f in class_folders]}"
        )
    return files, np.array(labels, dtype=np.int64), [folder.name for folder in class_folders]


def load_image(file: str | os.PathLike[str], size: Sequence[int] = (50, 50), color: str = "rgb") -> np.ndarray:
    """One image file -> float32 (C, H, W) in [0, 1], decoded as load_image_folder decodes each of its files.

    A file Pillow cannot read raises ImageDecodeError (a ValueError) naming it.
    """
    from .image_batches import ImageDecodeError

    size, mode, Image = _check_size(size), _check_color(color), _import_pillow()
    try:
        array = _decode(Image, file, size, mode)  # (H, W, C) uint8
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as error:
        raise ImageDecodeError(f"Could not decode the image file '{file}': {type(error).__name__}: {error}") from error
    images = array.transpose(2, 0, 1).astype(np.float32)  # (C, H, W)
    images /= 255.0
    return images


def _lazy_sources(class_folders: Sequence[Path], size: tuple[int, int], mode: str, split: tuple[float, ...] | None,
                  seed: int | None, batch_size: int | None, shuffle: bool | None
                  ) -> ImageFolderBatches | tuple[ImageFolderBatches, ImageFolderBatches, ImageFolderBatches]:
    """ImageFolderBatches over the image files of the class folders: one, or (train, test, val)."""
    from .image_batches import ImageFolderBatches

    batch_size = 32 if batch_size is None else check_int("batch_size", batch_size)
    shuffle = True if shuffle is None else shuffle
    files, labels, names = _image_files(class_folders)

    def source(indices: np.ndarray, shuffled: bool) -> ImageFolderBatches:
        return ImageFolderBatches([files[i] for i in indices], labels[indices], names, size, mode,
                                  batch_size=batch_size, shuffle=shuffled,
                                  seed=seed)  # type: ignore[arg-type]  # seed None: ImageFolderBatches refuses it
    if split is None:
        return source(np.arange(len(files)), shuffle)
    train, test, val = stratified_split(labels, split, np.random.default_rng(seed))
    return source(train, shuffle), source(test, False), source(val, False)


def _load_all(class_folders: Sequence[Path], size: tuple[int, int], mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Decode every file of every class folder -> float32 (N, C, H, W), int64 (N,)."""
    Image = _import_pillow()
    decoded, labels, skipped = [], [], []
    for label, folder in enumerate(class_folders):
        for file in _class_files(folder):
            try:
                decoded.append(_decode(Image, file, size, mode))
                labels.append(label)
            except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
                # Pillow signals unreadable or damaged files with any of these.
                skipped.append(file.relative_to(folder.parent).as_posix())
    if skipped:
        warnings.warn(
            f"Skipped {len(skipped)} file(s) that could not be decoded as images: "
            + ", ".join(skipped),
            stacklevel=3,
        )
    if not decoded:
        raise ValueError(
            f"Invalid image folder '{class_folders[0].parent}': expected at least one decodable "
            f"image in its class folders. Received: none in {[f.name for f in class_folders]}"
        )
    images = np.stack(decoded).transpose(0, 3, 1, 2).astype(np.float32)  # (N, H, W, C) uint8 -> (N, C, H, W)
    images /= 255.0
    return images, np.array(labels, dtype=np.int64)


def _class_files(folder: Path) -> list[Path]:
    """Every visible file under a class folder, at any depth, in sorted path order (folder links not followed)."""
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        files += [Path(root) / name for name in sorted(names) if not name.startswith(".")]
    return sorted(files)


def _decode(Image: Any, file: str | os.PathLike[str], size: Sequence[int], mode: str) -> np.ndarray:
    """One image file -> uint8 array (H, W, C), converted to ``mode`` and resized."""
    height, width = size
    with Image.open(file) as image:
        image = image.convert(mode).resize((width, height), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)
    return array[:, :, np.newaxis] if array.ndim == 2 else array


def _class_folders(path: str | os.PathLike[str]) -> list[Path]:
    """The sorted class folders under ``path``, descending once into a Kaggle-style wrapper."""
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"Image folder not found. Received: path='{root}'")
    if not root.is_dir():
        raise NotADirectoryError(f"Expected a folder of class sub-folders. Received: a file, path='{root}'")
    folders = _visible(root.iterdir(), want_dirs=True)
    if len(folders) == 1 and _visible(folders[0].iterdir(), want_dirs=True):
        folders = _visible(folders[0].iterdir(), want_dirs=True)
    if not folders:
        loose = len(_visible(root.iterdir(), want_dirs=False))
        raise ValueError(
            f"Invalid image folder '{root}': expected one sub-folder per class (e.g. cats/, dogs/). "
            f"Received: no sub-folders ({loose} file(s) directly inside)"
        )
    return folders


def _visible(entries: Iterable[Path], want_dirs: bool) -> list[Path]:
    """Sorted entries that are folders (or files) and not hidden."""
    return sorted(
        entry for entry in entries if not entry.name.startswith(".") and entry.is_dir() == want_dirs
    )


def _check_size(size: Sequence[int]) -> tuple[int, int]:
    """Return size as (height, width) ints, or raise if it is not two positive integers."""
    valid = (
        isinstance(size, (tuple, list))
        and len(size) == 2
        # mypy does not count int as a numbers.Integral, so it sees n > 0 compare an int with an Integral
        and all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n > 0  # type: ignore[operator]
                for n in size)
    )
    if not valid:
        raise ValueError(
            "Received an invalid value for size, expected two positive integers (height, width). "
            f"Received: size={size!r}"
        )
    return int(size[0]), int(size[1])


def _check_color(color: str) -> str:
    """Return the Pillow mode for ``color``, or raise if it is not 'rgb' or 'grayscale'."""
    if not isinstance(color, str) or color not in COLOR_MODES:
        raise ValueError(
            f"Received an invalid value for color, expected 'rgb' or 'grayscale'. Received: color={color!r}"
        )
    return COLOR_MODES[color]


def _import_pillow() -> Any:
    """Import Pillow's Image module, or explain how to install it."""
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError(
            "load_image_folder needs Pillow to decode images. Install it with "
            "`pip install scratchcnn[images]` (or `pip install pillow`)."
        ) from error
    return Image
