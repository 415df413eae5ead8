"""Augmentation: random crop (a zero-filled shift), horizontal flip, seeding, and its use in Network.train."""
import numpy as np
import pytest

from scratchcnn import Augmentation, ConvLayer, Flatten, MultiClassDense, Network
from scratchcnn.augmentation import random_crop, random_horizontal_flip
from scratchcnn.losses import categorical_crossentropy, categorical_crossentropy_derivative

CCE = (categorical_crossentropy, categorical_crossentropy_derivative)


def images(n=6, c=2, h=5, w=7, seed=0):
    """(n, c, h, w) float32 images of distinct positive values, so a zero can only come from padding."""
    return (np.random.default_rng(seed).permutation(n * c * h * w).reshape(n, c, h, w) + 1).astype(np.float32)


def shifted(image, dy, dx):
    """image (C, H, W) moved down by dy and right by dx (negative: up / left), zero-filled: the reference shift."""
    out = np.zeros_like(image)
    _, h, w = image.shape
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


class FixedOffsets:
    """A stand-in generator whose integers() returns the given (dy, dx) offsets into the padded image."""

    def __init__(self, dy, dx):
        self.offsets = np.array([dy, dx])

    def integers(self, low, high, size):
        assert size[0] == 2 and low == 0
        return np.broadcast_to(self.offsets[:, None], size)


def test_crop_is_a_zero_filled_shift_hand_computed():
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)  # [[0 1 2] [3 4 5] [6 7 8]]
    # Padding 1, window at (dy=0, dx=2) of the padded 5x5: the image moves down 1 and left 1.
    out = random_crop(x, 1, FixedOffsets(0, 2))
    np.testing.assert_array_equal(out[0, 0], [[0, 0, 0],
                                              [1, 2, 0],
                                              [4, 5, 0]])
    # The centred window (dy=dx=padding) is the identity.
    np.testing.assert_array_equal(random_crop(x, 1, FixedOffsets(1, 1)), x)


def test_crop_shifts_every_image_by_at_most_padding_pixels():
    x = images(n=300)
    out = random_crop(x, 2, np.random.default_rng(3))
    assert out.shape == x.shape and out.dtype == x.dtype
    seen = set()
    for image, result in zip(x, out):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if np.array_equal(result, shifted(image, dy, dx))]
        assert len(matches) == 1, "every output is exactly one shift of its image"
        seen.add(matches[0])
    assert len(seen) == 25  # the offsets really are drawn, over the whole range


def test_flip_mirrors_left_right():
    x = images()
    np.testing.assert_array_equal(random_horizontal_flip(x, np.random.default_rng(0), probability=1.0), x[..., ::-1])
    np.testing.assert_array_equal(random_horizontal_flip(x, np.random.default_rng(0), probability=0.0), x)
    out = random_horizontal_flip(images(n=32), np.random.default_rng(0))
    flipped = [np.array_equal(o, i[..., ::-1]) for o, i in zip(out, images(n=32))]
    kept = [np.array_equal(o, i) for o, i in zip(out, images(n=32))]
    assert all(f != k for f, k in zip(flipped, kept))  # each image is either mirrored or untouched
    assert 0 < sum(flipped) < 32


@pytest.mark.parametrize("augment", [Augmentation(crop_padding=2), Augmentation(horizontal_flip=True),
                                     Augmentation(crop_padding=1, horizontal_flip=True)])
def test_augmentation_is_deterministic_under_a_seed_and_keeps_the_shape(augment):
    x = images(n=16)
    first = augment(x, np.random.default_rng(7))
    assert first.shape == x.shape and first.dtype == x.dtype
    np.testing.assert_array_equal(first, augment(x, np.random.default_rng(7)))
    assert not np.array_equal(first, augment(x, np.random.default_rng(8)))
    assert not np.array_equal(first, x)


def test_augmentation_with_nothing_switched_on_is_the_identity():
    x = images()
    assert np.array_equal(Augmentation()(x, np.random.default_rng(0)), x)


def test_augmentation_does_not_change_its_input():
    x = images()
    before = x.copy()
    Augmentation(crop_padding=2, horizontal_flip=True)(x, np.random.default_rng(0))
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("crop_padding", [-1, 1.5, True])
def test_augmentation_refuses_an_invalid_crop_padding(crop_padding):
    with pytest.raises(ValueError, match="invalid value for crop_padding"):
        Augmentation(crop_padding=crop_padding)


def test_augmentation_refuses_batches_that_are_not_images():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        Augmentation(horizontal_flip=True)(np.zeros((4, 10), np.float32), np.random.default_rng(0))


# -- inside Network.train -----------------------------------------------------------------
def conv_net():
    """(N, 1, 6, 6) -> (N, 3)."""
    return Network([ConvLayer(3, 1, 2, activation="tanh"), Flatten(), MultiClassDense(2 * 4 * 4, 3)])


def image_data(count=12):
    rng = np.random.default_rng(0)
    return rng.normal(size=(count, 1, 6, 6)).astype(np.float32), rng.integers(0, 3, size=count)


def trained_weights(seed, augment):
    network = conv_net()
    network.train(*image_data(), 2, 0.1, *CCE, log_file=None, batch_size=4, seed=seed, verbose=0, augment=augment)
    return network.get_weights()


def same_weights(first, second):
    return all(np.array_equal(a, b) for a, b in zip(first, second))


def test_training_with_augmentation_is_deterministic_under_the_seed():
    augment = Augmentation(crop_padding=1, horizontal_flip=True)
    assert same_weights(trained_weights(5, augment), trained_weights(5, augment))
    assert not same_weights(trained_weights(5, augment), trained_weights(5, None))  # the batches were augmented


def test_training_augmentation_draws_differ_between_seeds_and_epochs():
    """The batches a recording augment sees: fixed by the seed, fresh every epoch."""
    def recorded(seed):
        batches = []

        def record(x_batch, rng):
            out = Augmentation(crop_padding=1, horizontal_flip=True)(x_batch, rng)
            batches.append(out)
            return out
        network = conv_net()
        network.train(*image_data(), 2, 0.1, *CCE, log_file=None, batch_size=12, shuffle=False, seed=seed,
                      verbose=0, augment=record)
        return batches

    first, again, other = recorded(1), recorded(1), recorded(2)
    assert len(first) == 2
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[0], first[1])  # unshuffled, so only the augmentation differs
