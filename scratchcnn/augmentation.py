"""On-the-fly image augmentation for training batches (N, C, H, W), seeded by the generator the loop passes.

A random crop of a zero-padded image is the same as a random shift of up to
`padding` pixels, so one operation serves for both "random crop with padding"
and "small shifts". A random resized crop (torchvision's RandomResizedCrop)
zooms in on a random box and scales it back to the full size; brightness and
contrast jitter rescale each image's values.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from .backend import xp
from .checks import check_int


def random_crop(x: np.ndarray, padding: int, rng: np.random.Generator) -> np.ndarray:
    """Shift each image by a random (dy, dx) in [-padding, padding], filling with zeros: x (N, C, H, W) -> same shape."""
    return shift(x, padding, *rng.integers(0, 2 * padding + 1, size=(2, len(x))))


def shift(x, padding, dy, dx):
    """Image i of x (N, C, H, W) shifted by (dy[i] - padding, dx[i] - padding) pixels, zeros filling in: same shape."""
    n, c, h, w = x.shape
    p = padding
    padded = xp.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))                     # N,C,H+2p,W+2p
    rows = xp.asarray(dy[:, None] + np.arange(h))[:, None, :, None]           # N,1,H,1
    cols = xp.asarray(dx[:, None] + np.arange(w))[:, None, None, :]           # N,1,1,W
    return padded[xp.arange(n)[:, None, None, None], xp.arange(c)[None, :, None, None], rows, cols]


def random_horizontal_flip(x: np.ndarray, rng: np.random.Generator, probability: float = 0.5) -> np.ndarray:
    """Mirror each image left-right with the given probability."""
    return flip_where(x, rng.random(len(x)) < probability)


def flip_where(x, flip):
    """Image i of x (N, C, H, W) mirrored left-right where flip[i] (bool (N,))."""
    return xp.where(xp.asarray(flip)[:, None, None, None], x[..., ::-1], x)


def random_boxes(n: int, h: int, w: int, scale: Sequence[float], ratio: Sequence[float], rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n whole-pixel crop boxes (top, left, height, width), int (N,) each, inside an H x W image.

    Each box covers a fraction of the area drawn uniformly from `scale` and has a
    width / height drawn log-uniformly from `ratio`, both then rounded to whole pixels;
    a side longer than the image is cut to the image (torchvision retries instead),
    and the box lies uniformly at random inside the image.
    """
    area = rng.uniform(scale[0], scale[1], n) * h * w
    aspect = np.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1]), n))
    height = np.clip(np.rint(np.sqrt(area / aspect)), 1, h).astype(np.intp)
    width = np.clip(np.rint(np.sqrt(area * aspect)), 1, w).astype(np.intp)
    top = rng.integers(0, h - height + 1)
    left = rng.integers(0, w - width + 1)
    return top, left, height, width


def resize_boxes(x: np.ndarray, top: np.ndarray, left: np.ndarray, height: np.ndarray, width: np.ndarray
                 ) -> np.ndarray:
    """Crop box i of image i and resize it bilinearly to the full H x W: x (N, C, H, W), int boxes (N,) -> (N, C, H, W).

    The same as cropping x[i, :, top:top+height, left:left+width] and calling PyTorch's
    interpolate(mode='bilinear', align_corners=False): output pixel centres map
    into the box, and samples past its edge clamp to its edge pixels.
    """
    n, c, h, w = x.shape
    rows = (np.arange(h) + 0.5) * (height / h)[:, None] - 0.5                   # N,H sample positions in the box
    cols = (np.arange(w) + 0.5) * (width / w)[:, None] - 0.5                    # N,W
    rows, cols = np.clip(rows, 0, (height - 1)[:, None]), np.clip(cols, 0, (width - 1)[:, None])
    r0, c0 = np.floor(rows).astype(np.intp), np.floor(cols).astype(np.intp)
    r1, c1 = np.minimum(r0 + 1, (height - 1)[:, None]), np.minimum(c0 + 1, (width - 1)[:, None])
    wr = xp.asarray((rows - r0).astype(x.dtype))[:, None, :, None]             # N,1,H,1
    wc = xp.asarray((cols - c0).astype(x.dtype))[:, None, None, :]             # N,1,1,W
    n_idx, c_idx = xp.arange(n)[:, None, None, None], xp.arange(c)[None, :, None, None]

    def gather(r: np.ndarray, col: np.ndarray) -> np.ndarray:  # x at box-relative rows r (N, H), columns col (N, W)
        rows_in_x, cols_in_x = xp.asarray(r + top[:, None]), xp.asarray(col + left[:, None])
        return x[n_idx, c_idx, rows_in_x[:, None, :, None], cols_in_x[:, None, None, :]]

    top_row = gather(r0, c0) * (1 - wc) + gather(r0, c1) * wc
    bottom_row = gather(r1, c0) * (1 - wc) + gather(r1, c1) * wc
    return top_row * (1 - wr) + bottom_row * wr


def random_resized_crop(x: np.ndarray, scale: Sequence[float], rng: np.random.Generator,
                        ratio: Sequence[float] = (3 / 4, 4 / 3)) -> np.ndarray:
    """Zoom each image into a random box (area fraction in `scale`, aspect in `ratio`) resized back: same shape."""
    n, _, h, w = x.shape
    return resize_boxes(x, *random_boxes(n, h, w, scale, ratio, rng))


def random_brightness_contrast(x: np.ndarray, brightness: float, contrast: float, rng: np.random.Generator
                               ) -> np.ndarray:
    """Per image: scale the values by U(1 - brightness, 1 + brightness), then stretch them about the image mean by
    U(1 - contrast, 1 + contrast). Values are not clipped; with both 0 it is the identity."""
    n = len(x)
    return jitter(x, rng.uniform(1 - brightness, 1 + brightness, n), rng.uniform(1 - contrast, 1 + contrast, n))


def jitter(x, gain, stretch):
    """Image i of x (N, C, H, W) scaled by gain[i], then stretched about its mean by stretch[i]."""
    gain = xp.asarray(gain.astype(x.dtype))[:, None, None, None]
    stretch = xp.asarray(stretch.astype(x.dtype))[:, None, None, None]
    x = x * gain
    mean = x.mean(axis=(1, 2, 3), keepdims=True)                                  # N,1,1,1
    return mean + (x - mean) * stretch


def _check_fraction(name: str, value: float) -> float:
    """A number in [0, 1), or ValueError naming it."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 <= value < 1
    if not ok:
        raise ValueError(
            f"Received an invalid value for {name}, expected a number in [0, 1). Received: {name}={value!r}")
    return float(value)


def _check_range(name: str, value: Sequence[float], low: float, high: float) -> tuple[float, float]:
    """A pair (a, b) with low < a <= b <= high, as floats, or ValueError naming it."""
    ok = isinstance(value, (tuple, list)) and len(value) == 2
    ok = ok and all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    if not ok or not low < value[0] <= value[1] <= high:
        bound = "" if high == math.inf else f" <= {high:g}"
        raise ValueError(f"Received an invalid value for {name}, expected a pair of numbers (a, b) with "
                         f"{low:g} < a <= b{bound}. Received: {name}={value!r}")
    return (float(value[0]), float(value[1]))


class Augmentation:
    """Pass as `network.train(..., augment=Augmentation(crop_padding=2, horizontal_flip=True))`.

    Called as augment(x_batch, rng) -> augmented batch (N, C, H, W); identity when nothing is switched on.
    augment(x_rows, rng, part=(start, batch_size)) augments rows start:start+len(x_rows) of a
    batch of batch_size images exactly as augmenting the whole batch would (the random
    numbers are drawn for the whole batch): each process of a distributed run augments its own rows.
    In order: `crop_scale=(a, b)` zooms into a random box covering a to b of the area,
    with width/height in `crop_ratio`, resized back bilinearly; `crop_padding` shifts;
    `horizontal_flip` mirrors; `brightness` and `contrast` jitter each image by up to
    that fraction.
    """

    def __init__(self, crop_padding: int = 0, horizontal_flip: bool = False, crop_scale: Sequence[float] | None = None,
                 crop_ratio: Sequence[float] = (3 / 4, 4 / 3), brightness: float = 0.0, contrast: float = 0.0) -> None:
        self.crop_padding = check_int("crop_padding", crop_padding, minimum=0)
        self.horizontal_flip = bool(horizontal_flip)
        self.crop_scale = None if crop_scale is None else _check_range("crop_scale", crop_scale, 0, 1)
        self.crop_ratio = _check_range("crop_ratio", crop_ratio, 0, math.inf)
        self.brightness = _check_fraction("brightness", brightness)
        self.contrast = _check_fraction("contrast", contrast)

    def __call__(self, x: np.ndarray, rng: np.random.Generator, part: tuple[int, int] | None = None
                 ) -> np.ndarray:
        if x.ndim != 4:
            raise ValueError(f"Augmentation expects image batches (N, C, H, W). Received: shape {tuple(x.shape)}")
        start, n = (0, len(x)) if part is None else part
        mine = slice(start, start + len(x))  # the draws of the whole batch (n images) that are for these rows
        if self.crop_scale is not None:
            boxes = random_boxes(n, x.shape[2], x.shape[3], self.crop_scale, self.crop_ratio, rng)
            x = resize_boxes(x, *(side[mine] for side in boxes))
        if self.crop_padding:
            x = shift(x, self.crop_padding, *rng.integers(0, 2 * self.crop_padding + 1, size=(2, n))[:, mine])
        if self.horizontal_flip:
            x = flip_where(x, rng.random(n)[mine] < 0.5)
        if self.brightness or self.contrast:
            gain = rng.uniform(1 - self.brightness, 1 + self.brightness, n)[mine]
            x = jitter(x, gain, rng.uniform(1 - self.contrast, 1 + self.contrast, n)[mine])
        return x

    def __repr__(self) -> str:
        options = [f"crop_padding={self.crop_padding}", f"horizontal_flip={self.horizontal_flip}"]
        if self.crop_scale is not None:
            options += [f"crop_scale={self.crop_scale}", f"crop_ratio={self.crop_ratio}"]
        if self.brightness or self.contrast:
            options += [f"brightness={self.brightness}", f"contrast={self.contrast}"]
        return f"Augmentation({', '.join(options)})"
