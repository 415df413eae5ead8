"""On-the-fly image augmentation for training batches (N, C, H, W), seeded by the generator the loop passes.

A random crop of a zero-padded image is the same as a random shift of up to
`padding` pixels, so one operation serves for both "random crop with padding"
and "small shifts".
"""
import numpy as np

from .backend import xp
from .inputs import check_int


def random_crop(x, padding, rng):
    """Shift each image by a random (dy, dx) in [-padding, padding], filling with zeros: x (N, C, H, W) -> same shape."""
    n, c, h, w = x.shape
    p = padding
    padded = xp.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))                     # N,C,H+2p,W+2p
    dy, dx = rng.integers(0, 2 * p + 1, size=(2, n))
    rows = xp.asarray(dy[:, None] + np.arange(h))[:, None, :, None]           # N,1,H,1
    cols = xp.asarray(dx[:, None] + np.arange(w))[:, None, None, :]           # N,1,1,W
    return padded[xp.arange(n)[:, None, None, None], xp.arange(c)[None, :, None, None], rows, cols]


def random_horizontal_flip(x, rng, probability=0.5):
    """Mirror each image left-right with the given probability."""
    flip = xp.asarray(rng.random(len(x)) < probability)
    return xp.where(flip[:, None, None, None], x[..., ::-1], x)


class Augmentation:
    """Pass as `network.train(..., augment=Augmentation(crop_padding=2, horizontal_flip=True))`.

    Called as augment(x_batch, rng) -> augmented batch (N, C, H, W); identity when nothing is switched on.
    """

    def __init__(self, crop_padding=0, horizontal_flip=False):
        self.crop_padding = check_int("crop_padding", crop_padding, minimum=0)
        self.horizontal_flip = bool(horizontal_flip)

    def __call__(self, x, rng):
        if x.ndim != 4:
            raise ValueError(f"Augmentation expects image batches (N, C, H, W). Received: shape {tuple(x.shape)}")
        if self.crop_padding:
            x = random_crop(x, self.crop_padding, rng)
        if self.horizontal_flip:
            x = random_horizontal_flip(x, rng)
        return x

    def __repr__(self):
        return f"Augmentation(crop_padding={self.crop_padding}, horizontal_flip={self.horizontal_flip})"
