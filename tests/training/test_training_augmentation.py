"""Augmentation: random crop (a zero-filled shift), horizontal flip, random resized crop, brightness/contrast
jitter, seeding, and its use in Network.train."""
import numpy as np
import pytest
import torch

from scratchcnn import Augmentation, ConvLayer, Flatten, MultiClassDense, Network
from scratchcnn.augmentation import (random_boxes, random_brightness_contrast, random_crop, random_horizontal_flip,
                                     random_resized_crop, resize_boxes)
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
                                     Augmentation(crop_padding=1, horizontal_flip=True),
                                     Augmentation(crop_scale=(0.3, 1.0)), Augmentation(brightness=0.2),
                                     Augmentation(contrast=0.3),
                                     Augmentation(crop_scale=(0.5, 0.9), horizontal_flip=True, brightness=0.1,
                                                  contrast=0.1)])
def test_augmentation_is_deterministic_under_a_seed_and_keeps_the_shape(augment):
    x = images(n=16)
    first = augment(x, np.random.default_rng(7))
    assert first.shape == x.shape and first.dtype == x.dtype
    np.testing.assert_array_equal(first, augment(x, np.random.default_rng(7)))
    assert not np.array_equal(first, augment(x, np.random.default_rng(8)))
    assert not np.array_equal(first, x)


def torch_crop_resize(image, top, left, height, width):
    """The reference: crop image (C, H, W) to the box, then PyTorch's bilinear resize back to (H, W)."""
    crop = torch.from_numpy(np.ascontiguousarray(image[None, :, top:top + height, left:left + width]))
    size = image.shape[1:]
    return torch.nn.functional.interpolate(crop.double(), size=size, mode="bilinear", align_corners=False)[0].numpy()


def test_resize_boxes_of_the_whole_image_is_the_identity():
    x = images(n=3)
    n, _, h, w = x.shape
    whole = (np.zeros(n, np.intp), np.zeros(n, np.intp), np.full(n, h), np.full(n, w))
    np.testing.assert_array_equal(resize_boxes(x, *whole), x)


def test_resize_boxes_hand_computed_zoom():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    # The 2x2 box at row 1, column 2 is [[6, 7], [10, 11]]; doubled bilinearly (align_corners=False) its rows are
    # 6 + [0, .25, .75, 1] and the row steps are 4 * [0, .25, .75, 1].
    out = resize_boxes(x, np.array([1]), np.array([2]), np.array([2]), np.array([2]))
    steps = np.array([0, 0.25, 0.75, 1])
    np.testing.assert_allclose(out[0, 0], 6 + steps[None, :] + 4 * steps[:, None])


@pytest.mark.parametrize("scale,ratio", [((0.2, 1.0), (3 / 4, 4 / 3)), ((0.5, 0.5), (1.0, 1.0)),
                                         ((0.05, 0.3), (0.5, 2.0))])
def test_random_resized_crop_is_a_resized_crop_of_its_own_image(scale, ratio):
    x = images(n=20, c=3, h=12, w=10)
    out = random_resized_crop(x, scale, np.random.default_rng(4), ratio)
    assert out.shape == x.shape and out.dtype == x.dtype
    boxes = random_boxes(20, 12, 10, scale, ratio, np.random.default_rng(4))  # the same draws
    for image, result, (top, left, height, width) in zip(x, out, zip(*boxes)):
        assert 0 <= top and top + height <= 12 and 0 <= left and left + width <= 10
        np.testing.assert_allclose(result, torch_crop_resize(image, top, left, height, width), rtol=1e-5)
        assert result.min() >= image[:, top:top + height, left:left + width].min()  # values from the box only
        assert result.max() <= image[:, top:top + height, left:left + width].max()


def test_random_boxes_cover_the_asked_area_and_aspect():
    top, left, height, width = random_boxes(2000, 64, 64, (0.25, 0.75), (0.5, 2.0), np.random.default_rng(0))
    area = height * width / 64 ** 2
    assert np.all((top >= 0) & (left >= 0) & (top + height <= 64) & (left + width <= 64))
    assert 0.2 < area.min() < 0.27 and 0.7 < area.max() < 0.8  # whole pixels: a little slack either side
    aspect = width / height
    assert 0.45 < aspect.min() < 0.55 and 1.8 < aspect.max() < 2.2
    assert len(set(zip(top, left))) > 500  # the position really is drawn


def test_brightness_scales_each_image_within_the_range():
    x = images(n=50)
    out = random_brightness_contrast(x, 0.2, 0.0, np.random.default_rng(1))
    gain = out / x                                                               # N,C,H,W
    np.testing.assert_allclose(gain, gain[:, :1, :1, :1] * np.ones_like(gain), rtol=1e-4)  # one factor per image
    assert 0.8 <= gain.min() and gain.max() <= 1.2 and gain.max() - gain.min() > 0.2


def test_contrast_stretches_each_image_about_its_mean():
    x = images(n=50)
    out = random_brightness_contrast(x, 0.0, 0.3, np.random.default_rng(1))
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3), keepdims=True), mean, rtol=1e-5)
    stretch = ((out - mean) * (x - mean)).sum(axis=(1, 2, 3)) / ((x - mean) ** 2).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(out - mean, stretch[:, None, None, None] * (x - mean), rtol=1e-4, atol=1e-3)
    assert 0.7 <= stretch.min() and stretch.max() <= 1.3 and stretch.max() - stretch.min() > 0.3


def test_the_shift_and_flip_draws_are_unchanged_by_the_new_options():
    """Recipes seeded before crop_scale, brightness and contrast existed augment exactly as they did."""
    x = images(n=16)
    rng = np.random.default_rng(3)
    expected = random_horizontal_flip(random_crop(x, 2, rng), rng)
    np.testing.assert_array_equal(Augmentation(crop_padding=2, horizontal_flip=True)(x, np.random.default_rng(3)),
                                  expected)


def test_augmentation_repr_lists_its_options():
    unchanged = "Augmentation(crop_padding=4, horizontal_flip=True)"
    assert repr(Augmentation(crop_padding=4, horizontal_flip=True)) == unchanged
    text = repr(Augmentation(crop_scale=(0.5, 1), crop_ratio=(1, 1), brightness=0.1, contrast=0.2))
    assert text == ("Augmentation(crop_padding=0, horizontal_flip=False, crop_scale=(0.5, 1.0), crop_ratio=(1.0, 1.0), "
                    "brightness=0.1, contrast=0.2)")


@pytest.mark.parametrize("crop_scale", [(0, 1), (0.8, 0.5), (0.5, 1.5), (0.5,), 0.5, "a", (True, 1)])
def test_augmentation_refuses_an_invalid_crop_scale(crop_scale):
    with pytest.raises(ValueError, match="invalid value for crop_scale.*Received: crop_scale="):
        Augmentation(crop_scale=crop_scale)


@pytest.mark.parametrize("crop_ratio", [(0, 1), (2, 1), (-1, 1), (1, float("inf")), None, "wide"])
def test_augmentation_refuses_an_invalid_crop_ratio(crop_ratio):
    with pytest.raises(ValueError, match="invalid value for crop_ratio.*Received: crop_ratio="):
        Augmentation(crop_scale=(0.5, 1), crop_ratio=crop_ratio)


@pytest.mark.parametrize("name", ["brightness", "contrast"])
@pytest.mark.parametrize("value", [-0.1, 1.0, 2, True, "0.2", None])
def test_augmentation_refuses_an_invalid_jitter(name, value):
    with pytest.raises(ValueError, match=f"invalid value for {name}, expected a number in \\[0, 1\\)"):
        Augmentation(**{name: value})


def test_augmentation_with_nothing_switched_on_is_the_identity():
    x = images()
    assert np.array_equal(Augmentation()(x, np.random.default_rng(0)), x)


def test_augmentation_does_not_change_its_input():
    x = images()
    before = x.copy()
    Augmentation(crop_padding=2, horizontal_flip=True)(x, np.random.default_rng(0))
    Augmentation(crop_scale=(0.3, 0.8), brightness=0.2, contrast=0.2)(x, np.random.default_rng(0))
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


@pytest.mark.parametrize("options", [dict(crop_padding=2, horizontal_flip=True),
                                     dict(crop_scale=(0.5, 1.0), brightness=0.2, contrast=0.2)])
def test_augmenting_parts_of_a_batch_with_its_draws_is_augmenting_the_batch(options):
    augment, x = Augmentation(**options), images(n=7)
    whole = augment(x, np.random.default_rng(5))
    parts = [augment(x[start:stop], np.random.default_rng(5), part=(start, 7)) for start, stop in [(0, 2), (2, 4), (4, 7)]]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
