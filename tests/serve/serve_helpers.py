"""Helpers of the serving tests: small seeded models, a TestClient, and drawings as PNG bytes."""
import io
import warnings

from scratchcnn import zoo


def digit_network(seed=0):
    """mnist_convnet with seeded weights, recording its input shape and class names like a recipe's model."""
    network = zoo.mnist_convnet().initialize(seed)
    network.metadata = {"input_shape": [1, 28, 28], "class_names": [str(i) for i in range(10)]}
    return network


def make_client(app):
    with warnings.catch_warnings():  # newer Starlettes would rather run their TestClient on httpx2
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient
    return TestClient(app, raise_server_exceptions=False)


def stroke_png(size=280, width=20):
    """A 280x280 white-on-black PNG of one slanted stroke, as the page's canvas sends it."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (size, size), 0)
    ImageDraw.Draw(image).line([(150, 40), (120, 240)], fill=255, width=width)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
