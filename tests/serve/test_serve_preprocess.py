"""The server's preprocessing: MNIST-style digits, photos, JSON arrays, and images that cannot be read."""
import io

import numpy as np
import pytest

from scratchcnn.datasets import mnist
from scratchcnn.serve.preprocess import (MAX_PIXELS, InputError, array_to_sample, decode_image, image_to_sample,
                                         ink_map, input_kind, mnist_digit)

Image = pytest.importorskip("PIL.Image")
ImageDraw = pytest.importorskip("PIL.ImageDraw")


def _png(image, format="PNG"):
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def _stroke(ink=255, background=0, mode="L", box=(60, 30, 110, 230), width=20):
    """A 280x280 drawing: one thick stroke (a '1') well off the centre."""
    image = Image.new(mode, (280, 280), background)
    ImageDraw.Draw(image).line([box[:2], box[2:]], fill=ink, width=width)
    return image


def _ink_box(digit):
    rows, cols = np.nonzero(digit > 0.1)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def _centre_of_mass(digit):
    rows, cols = np.indices(digit.shape)
    return (rows * digit).sum() / digit.sum(), (cols * digit).sum() / digit.sum()


def test_input_kinds():
    assert input_kind((1, 28, 28)) == "digit"
    assert input_kind((3, 64, 64)) == "image" and input_kind((1, 32, 32)) == "image"
    assert input_kind((3,)) == "array" and input_kind((4, 8, 8)) == "array"


def test_a_digit_is_scaled_into_20x20_and_centred_by_its_mass():
    digit = image_to_sample(_png(_stroke()), (1, 28, 28))
    assert digit.shape == (1, 28, 28) and digit.dtype == np.float32
    assert 0 <= digit.min() and digit.max() == pytest.approx(1, abs=0.02)
    assert max(_ink_box(digit[0])) in (19, 20)              # the longer side fills the 20-pixel box
    row, col = _centre_of_mass(digit[0])
    assert abs(row - 14) <= 0.5 + 1e-6 and abs(col - 14) <= 0.5 + 1e-6  # MNIST's centre


def test_the_aspect_ratio_is_kept():
    wide = mnist_digit(np.pad(np.ones((10, 100), np.float32), 50))
    height, width = _ink_box(wide)
    assert width == 20 and height == 2


def test_black_on_white_and_transparent_drawings_give_the_same_digit():
    white_on_black = image_to_sample(_png(_stroke()), (1, 28, 28))
    black_on_white = image_to_sample(_png(_stroke(ink=0, background=255)), (1, 28, 28))
    transparent = image_to_sample(_png(_stroke(ink=(20, 20, 200, 255), background=(0, 0, 0, 0), mode="RGBA")),
                                  (1, 28, 28))
    np.testing.assert_allclose(black_on_white, white_on_black, atol=1e-6)
    np.testing.assert_allclose(transparent, white_on_black, atol=1e-6)


def test_a_blank_drawing_is_all_zeros():
    assert not image_to_sample(_png(Image.new("L", (280, 280), 255)), (1, 28, 28)).any()
    assert not mnist_digit(np.zeros((50, 50), np.float32)).any()


def test_an_mnist_digit_drawn_large_comes_back_close_to_itself():
    (_, _), (x_test, _) = mnist.load_data()
    for original in x_test[:5]:
        large = Image.fromarray(original).resize((280, 280), Image.Resampling.BILINEAR)
        again = image_to_sample(_png(large), (1, 28, 28))[0]
        original = original.astype(np.float32) / 255
        assert np.corrcoef(again.ravel(), original.ravel())[0, 1] > 0.9


def test_photos_are_resized_to_the_model_input():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    sample = image_to_sample(_png(Image.fromarray(pixels)), (3, 20, 30))
    expected = np.asarray(Image.fromarray(pixels).resize((30, 20), Image.Resampling.BILINEAR), np.float32) / 255
    np.testing.assert_allclose(sample, expected.transpose(2, 0, 1))
    gray = image_to_sample(_png(Image.fromarray(pixels), "JPEG"), (1, 16, 16))
    assert gray.shape == (1, 16, 16) and 0 <= gray.min() and gray.max() <= 1
    assert ink_map(Image.fromarray(pixels)).shape == (40, 60)


def test_array_models_refuse_images():
    with pytest.raises(InputError, match="takes arrays") as caught:
        image_to_sample(_png(_stroke()), (3,))
    assert caught.value.status == 415


@pytest.mark.parametrize("data, status, message", [
    (b"", 400, "empty"),
    (b"hello, not an image", 422, "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, 422, "not an image"),
])
def test_unreadable_files(data, status, message):
    with pytest.raises(InputError, match=message) as caught:
        decode_image(data)
    assert caught.value.status == status


def test_a_truncated_image_is_refused():
    data = _png(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)))
    with pytest.raises(InputError, match="truncated"):
        decode_image(data[:len(data) // 2])


def test_an_image_with_too_many_pixels_is_refused_before_decoding():
    side = int(np.sqrt(MAX_PIXELS)) + 1
    with pytest.raises(InputError, match="pixels") as caught:
        decode_image(_png(Image.new("1", (side, side))))
    assert caught.value.status == 413


def test_arrays_of_the_input_shape():
    x = array_to_sample([[[0, 1.5], [2, 3]]], (1, 2, 2))
    assert x.dtype == np.float32 and x.tolist() == [[[0, 1.5], [2, 3]]]


@pytest.mark.parametrize("value, message", [
    ([[0, 1]], r"input\[0\]\[0\] is a number, expected a list of 2"),
    ([[0, 1], [2, 3]], r"input is a list of 2, expected a list of 1 \(the model's per-sample input shape"),
    ([[[0, 1], [2]]], r"input\[0\]\[1\] is a list of 1, expected a list of 2"),
    ([[[0, 1], [2, 3]], [[0, 1], [2, 3]]], r"input is a list of 2, expected a list of 1"),
    ([[[0, "1"], [2, 3]]], r"input\[0\]\[0\]\[1\] is a string, expected a number"),
    ([[[0, True], [2, 3]]], r"is a boolean"),
    ([[[0, None], [2, 3]]], r"is null"),
    ([[[0, {}], [2, 3]]], r"is an object"),
    ("not a list", r"input is a string"),
    ([[[0, float("nan")], [2, 3]]], "NaN or infinity"),
    ([[[0, float("inf")], [2, 3]]], "NaN or infinity"),
    ([[[0, 10 ** 400], [2, 3]]], "float32 cannot hold"),
])
def test_arrays_that_do_not_fit(value, message):
    with pytest.raises(InputError, match=message):
        array_to_sample(value, (1, 2, 2))
