"""What a client sends -> one sample of the model's input shape: images (MNIST-style for digits) and arrays.

Every failure is an InputError carrying the HTTP status the web app answers with;
nothing here opens a path, it only reads the bytes it is given.
"""
import io

import numpy as np

MAX_PIXELS = 4096 * 4096   # more than any photo the page sends; refused before decoding (a "decompression bomb")
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
FORMAT_NAMES = ", ".join(IMAGE_FORMATS)
DIGIT_SHAPE = (1, 28, 28)
DIGIT_BOX = 20             # MNIST: the digit's bounding box scaled into 20x20, placed in 28x28
INK_THRESHOLD = 0.1        # ink values above it make the bounding box (anti-aliased fringes and noise do not)


class InputError(ValueError):
    """A client's input that cannot become a sample; `status` is the HTTP status to answer with."""

    def __init__(self, message, status=422):
        super().__init__(message)
        self.status = status


def input_kind(input_shape):
    """'digit' for (1, 28, 28) (MNIST preprocessing), 'image' for other (1 or 3, H, W), else 'array'."""
    shape = tuple(input_shape)
    if shape == DIGIT_SHAPE:
        return "digit"
    return "image" if len(shape) == 3 and shape[0] in (1, 3) else "array"


# -- images -------------------------------------------------------------------------------------------------
def decode_image(data):
    """Image file bytes -> a loaded PIL image; InputError for an empty, unknown, truncated or huge one."""
    from PIL import Image

    if not data:
        raise InputError(f"The uploaded file is empty, expected an image file ({FORMAT_NAMES}).", 400)
    try:
        image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except Exception:  # PIL says UnidentifiedImageError, but any failure to read the header is the file's
        raise InputError(f"The uploaded file is not an image of a known format ({FORMAT_NAMES}).") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise InputError(f"The image has {width}x{height} pixels, expected at most {MAX_PIXELS} pixels.", 413)
    try:
        image.load()
    except Exception as error:  # truncated data, broken chunks: the decoder's message says which
        raise InputError(f"The image could not be decoded (truncated or damaged?): {error}") from None
    return image


def image_to_sample(data, input_shape):
    """Image file bytes -> a float32 sample of input_shape in [0, 1]: digit models get the MNIST
    preprocessing (mnist_digit), other image models the image resized to (H, W)."""
    kind = input_kind(input_shape)
    if kind == "array":
        raise InputError(f"This model takes arrays of shape {tuple(input_shape)}, not images: send JSON "
                         '{"input": [...]} instead.', 415)
    image = decode_image(data)
    if kind == "digit":
        return mnist_digit(ink_map(image))[None]                                    # (1, 28, 28)
    channels, height, width = input_shape
    return photo_sample(image, channels, height, width)


def photo_sample(image, channels, height, width):
    """PIL image -> (channels, height, width) float32 in [0, 1], resized bilinearly as `scratchcnn predict` does;
    transparent pixels show the white a page shows behind them."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    image = image.convert("L" if channels == 1 else "RGB").resize((width, height), Image.Resampling.BILINEAR)
    x = np.asarray(image, dtype=np.float32) / 255
    return x[None] if channels == 1 else x.transpose(2, 0, 1)                       # (C, H, W)


def ink_map(image):
    """PIL image -> (H, W) float32, ink 1 and background 0, whatever the drawing's colours.

    A drawing on a transparent background: its opacity is the ink. Otherwise the
    grey levels, turned over when the background (the median of the border) is the
    brighter, and stretched so the background is 0 and the strongest ink 1.
    """
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        alpha = np.asarray(image.convert("RGBA"), dtype=np.float32)[..., 3] / 255
        if alpha.min() < 1:
            return alpha
    gray = np.asarray(image.convert("L"), dtype=np.float32) / 255                  # (H, W)
    background = float(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))
    if background > 0.5:
        gray, background = 1 - gray, 1 - background
    strongest = float(gray.max())
    if strongest - background < 1e-3:  # a blank picture
        return np.zeros_like(gray)
    return np.clip((gray - background) / (strongest - background), 0, 1)


def mnist_digit(ink, box=DIGIT_BOX, size=DIGIT_SHAPE[1]):
    """(H, W) ink map in [0, 1] -> (size, size) float32 as MNIST made its digits: the ink's bounding box
    scaled (aspect kept) to fit box x box, then placed so its centre of mass is the image's centre.
    A blank ink map gives all zeros."""
    from PIL import Image

    rows, cols = np.nonzero(ink > INK_THRESHOLD)
    if len(rows) == 0:
        return np.zeros((size, size), dtype=np.float32)
    crop = np.ascontiguousarray(ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1], dtype=np.float32)
    scale = box / max(crop.shape)
    new_width, new_height = (max(1, round(n * scale)) for n in (crop.shape[1], crop.shape[0]))
    digit = np.asarray(Image.fromarray(crop).resize((new_width, new_height), Image.Resampling.LANCZOS))
    digit = np.clip(digit, 0, 1)                                                    # (h, w), LANCZOS rings a little
    mass = digit.sum()
    centre_row = (digit.sum(axis=1) @ np.arange(new_height)) / mass
    centre_col = (digit.sum(axis=0) @ np.arange(new_width)) / mass
    centre = size / 2  # at pixel (14, 14), where MNIST's digits have theirs (its test set's mean: 13.99, 14.00)
    return _paste(digit, size, round(centre - centre_row), round(centre - centre_col))


def _paste(patch, size, top, left):
    """patch placed with its corner at (top, left) in a (size, size) zero image; what falls outside is cut."""
    out = np.zeros((size, size), dtype=np.float32)
    height, width = patch.shape
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + height, size), min(left + width, size)
    if r0 < r1 and c0 < c1:
        out[r0:r1, c0:c1] = patch[r0 - top:r1 - top, c0 - left:c1 - left]
    return out


# -- arrays ---------------------------------------------------------------------------------------------------
def array_to_sample(value, input_shape):
    """A JSON nested list of input_shape -> float32 array; InputError naming the first element that is wrong."""
    shape = tuple(input_shape)
    _check_nested(value, shape, "input", shape)
    try:
        x = np.asarray(value, dtype=np.float32)
    except (OverflowError, ValueError) as error:  # an integer past float range
        raise InputError(f"input holds a number float32 cannot hold: {error}") from None
    if not np.isfinite(x).all():
        raise InputError("input holds NaN or infinity, expected finite numbers.")
    return x


def _check_nested(value, shape, where, full_shape):
    if not shape:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{where} is {_describe(value)}, expected a number.")
        return
    if not isinstance(value, list) or len(value) != shape[0]:
        got = f"a list of {len(value)}" if isinstance(value, list) else _describe(value)
        raise InputError(f"{where} is {got}, expected a list of {shape[0]} "
                         f"(the model's per-sample input shape is {list(full_shape)}).")
    for i, item in enumerate(value):
        _check_nested(item, shape[1:], f"{where}[{i}]", full_shape)


def _describe(value):
    kind = {dict: "an object", str: "a string", bool: "a boolean", type(None): "null", list: "a list",
            int: "a number", float: "a number"}
    return kind.get(type(value), type(value).__name__)
