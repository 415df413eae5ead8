"""ImageFolderBatches: a folder of images read one batch at a time, for data larger than memory.

Like Keras's PyDataset: ``len(batches)`` is the number of batches and ``batches[i]`` is batch i,
``(X float32 (B, C, H, W) in [0, 1], y int64 (B,))``, decoded when it is asked for. A background
thread decodes the next batches while the caller works on this one, so reading batches in order
(``for X, y in batches`` or ``batches[0], batches[1], ...``) rarely waits; asking for another batch
restarts it there. The thread holds at most ``prefetch`` decoded batches, stops at the end of the
epoch, and is stopped by ``close()``, by leaving a ``with`` block, or when the object is garbage
collected. An error in the thread (a damaged image) is raised in the caller, naming the file.
"""
from __future__ import annotations

import os
import queue
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import Any

import numpy as np

from numpy.typing import ArrayLike

from ..checks import check_int

_POLL_SECONDS = 0.1  # how often a waiting thread looks at its stop flag
# What Pillow raises for a file it cannot read as an image (plus its DecompressionBombError, added on import).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError)


class ImageDecodeError(ValueError):
    """An image file of a lazily read folder that could not be decoded; the message names the file."""


class ImageFolderBatches:
    """Batches of decoded images: ``len()`` batches, ``[i] -> (X (B, C, H, W) float32, y (B,) int64)``.

    Attributes: ``class_names``, ``input_shape`` (C, H, W), ``num_samples``, ``batch_size``,
    ``epoch``, ``labels`` (every sample's label, in file order), ``files``.

    With ``shuffle``, each epoch reads the samples in its own order: the permutation drawn from
    ``numpy.random.default_rng([seed, epoch])`` for an integer seed (so epoch k's order is the same in
    every run and after a resume), or the next permutation of ``seed`` when it is a Generator.
    ``on_epoch_end()`` (Keras's hook) moves to the next epoch; ``set_epoch(k)`` to epoch k.
    """

    def __init__(self, files: Iterable[str | os.PathLike[str]], labels: ArrayLike, class_names: Iterable[str],
                 size: Sequence[int], mode: str, batch_size: int = 32, shuffle: bool = False,
                 seed: np.random.Generator | int = 0, prefetch: int = 2) -> None:
        self.files = [str(file) for file in files]
        self.labels = np.asarray(labels, dtype=np.int64)
        if len(self.files) != len(self.labels):
            raise ValueError(f"Received {len(self.files)} files and {len(self.labels)} labels, expected as many "
                             "labels as files.")
        self.class_names = list(class_names)
        self.input_shape = (1 if mode == "L" else 3, int(size[0]), int(size[1]))
        self.num_samples = len(self.files)
        self.batch_size = check_int("batch_size", batch_size)
        self.prefetch = check_int("prefetch", prefetch)
        if not isinstance(shuffle, bool):
            raise ValueError(f"Received an invalid value for shuffle, expected True or False. Received: shuffle={shuffle!r}")
        if not (isinstance(seed, np.random.Generator) or (isinstance(seed, (int, np.integer))
                                                          and not isinstance(seed, bool) and seed >= 0)):
            raise ValueError("Received an invalid value for seed, expected a non-negative integer or a "
                             f"numpy Generator. Received: seed={seed!r}")
        self.shuffle, self.seed = shuffle, seed
        # Only the module-level decoder and these arrays go to the thread, never self: a thread that held self
        # would keep an abandoned object alive, and its finalizer from ever stopping the thread.
        self._decode = partial(_decode_batch, tuple(self.files), self.labels, self.input_shape[1:], mode)
        # the running prefetch stream, shared with the finalizer
        self._current: dict[str, _Stream | None] = {"stream": None}
        self._finalizer = weakref.finalize(self, _stop_stream, self._current)
        self.set_epoch(0)

    # -- the batch source -----------------------------------------------------------
    def __len__(self) -> int:
        return -(-self.num_samples // self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"Received a batch index of type {type(index).__name__}, expected an integer.")
        if not 0 <= index < len(self):
            raise IndexError(f"Received batch index {index}, expected 0 to {len(self) - 1} ({len(self)} batches).")
        stream = self._current["stream"]
        if stream is None or stream.next_index != index:
            _stop_stream(self._current)
            stream = self._current["stream"] = _Stream(self._decode, self._batch_indices(), int(index), self.prefetch)
        try:
            return stream.take()
        except BaseException:
            _stop_stream(self._current)
            raise

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for index in range(len(self)):
            yield self[index]

    def batch_indices(self, index: int) -> np.ndarray:
        """The sample indices (into ``files`` and ``labels``) of batch ``index`` in this epoch's order."""
        return self._batch_indices()[index]

    def _batch_indices(self) -> list[np.ndarray]:
        return [self._order[start:start + self.batch_size] for start in range(0, self.num_samples, self.batch_size)]

    # -- epochs -------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Read the samples in epoch ``epoch``'s order from now on (the file order without shuffle)."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"Received an invalid value for epoch, expected an integer >= 0. Received: epoch={epoch!r}")
        self.epoch = int(epoch)
        if not self.shuffle:
            self._order = np.arange(self.num_samples)
        elif isinstance(self.seed, np.random.Generator):
            self._order = self.seed.permutation(self.num_samples)
        else:
            self._order = np.random.default_rng([self.seed, self.epoch]).permutation(self.num_samples)
        _stop_stream(self._current)  # batches decoded ahead belong to the old order

    def on_epoch_end(self) -> None:
        """Keras's hook at the end of an epoch: move on to the next epoch's order."""
        self.set_epoch(self.epoch + 1)

    # -- the thread ---------------------------------------------------------------
    def close(self) -> None:
        """Stop the prefetch thread (waiting for it); the object can still be read, restarting it."""
        _stop_stream(self._current, wait=True)

    def __enter__(self) -> ImageFolderBatches:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def prefetching(self) -> bool:
        """Whether a prefetch thread is running now."""
        stream = self._current["stream"]
        return stream is not None and stream.thread.is_alive()

    def __repr__(self) -> str:
        return (f"ImageFolderBatches({self.num_samples} images in {len(self.class_names)} classes, input_shape="
                f"{self.input_shape}, {len(self)} batches of {self.batch_size}, shuffle={self.shuffle})")


# (batch index, the batch or None, the error that decoding it raised or None), as the thread hands it over
_Item = tuple[int, Any, BaseException | None]


class _Stream:
    """A daemon thread decoding batches start, start + 1, ... into a queue of at most `depth` batches."""

    def __init__(self, decode: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], batches: list[np.ndarray],
                 start: int, depth: int) -> None:
        self.next_index = start
        self.queue: queue.Queue[_Item] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=_produce, args=(decode, batches, start, self.queue, self.stop),
                                       name="scratchcnn-image-prefetch", daemon=True)
        self.thread.start()

    def take(self) -> tuple[np.ndarray, np.ndarray]:
        """The next batch, in order; the thread's exception if decoding it failed."""
        while True:
            try:
                index, batch, error = self.queue.get(timeout=_POLL_SECONDS)
                break
            except queue.Empty:
                if not self.thread.is_alive() and self.queue.empty():
                    raise RuntimeError("The image prefetch thread ended without producing the next batch.") from None
        if error is not None:
            raise error
        self.next_index = index + 1
        return batch


def _produce(decode: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], batches: list[np.ndarray], start: int,
             out: queue.Queue[_Item], stop: threading.Event) -> None:
    """The thread's work: decode batches in order, hand each over, and end at the last one, an error, or a stop."""
    for index in range(start, len(batches)):
        if stop.is_set():
            return
        item: _Item
        try:
            item = (index, decode(batches[index]), None)
        except BaseException as error:  # handed to the caller, who raises it
            item = (index, None, error)
        while not stop.is_set():
            try:
                out.put(item, timeout=_POLL_SECONDS)
                break
            except queue.Full:
                continue
        if item[2] is not None:
            return


def _stop_stream(current: dict[str, _Stream | None], wait: bool = False) -> None:
    stream, current["stream"] = current["stream"], None
    if stream is not None:
        stream.stop.set()
        if wait:
            stream.thread.join()


def _decode_batch(files: Sequence[str], labels: np.ndarray, size: Sequence[int], mode: str, indices: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The images files[indices] -> float32 (B, C, H, W) in [0, 1], and labels[indices] (B,)."""
    from PIL import Image

    from .image_folder import _decode  # the eager loader's decoding, so both give the same pixels

    height, width = size
    batch = np.empty((len(indices), height, width, 1 if mode == "L" else 3), dtype=np.uint8)  # (B, H, W, C)
    for row, index in enumerate(indices):
        try:
            batch[row] = _decode(Image, files[index], size, mode)
        except (*_DECODE_ERRORS, Image.DecompressionBombError) as error:
            raise ImageDecodeError(f"Could not decode the image file '{files[index]}': {type(error).__name__}: "
                                   f"{error}") from error
    images = batch.transpose(0, 3, 1, 2).astype(np.float32)  # (B, C, H, W)
    images /= 255.0
    return images, labels[indices]
