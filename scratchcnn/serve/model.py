"""The network the web app serves: its input shape, class names, predictions and feature maps."""
import base64
import io
import json
import threading

import numpy as np

from ..layers import ConvLayer, PoolingLayer
from .preprocess import InputError, input_kind


class ServedModel:
    """A Network with what the web app shows about it; one computation at a time.

    A layer keeps scratch buffers and caches from call to call, so two requests must
    not run the same network at once: every computation holds the model's lock.
    """

    def __init__(self, network, input_shape=None):
        shape = network.metadata.get("input_shape") if input_shape is None else input_shape
        if not shape:
            raise ValueError("The network does not record its input shape (network.metadata['input_shape']): "
                             "pass input_shape=(C, H, W), or (F,) for a network of Dense layers.")
        self.network = network
        self.input_shape = tuple(int(v) for v in shape)
        self.kind = input_kind(self.input_shape)
        self.layer_shapes = _layer_shapes(network.layers, self.input_shape)
        units = int(np.prod(self.layer_shapes[-1]))
        self.class_names = _class_names(network.metadata.get("class_names"), units)
        self._lock = threading.Lock()

    def describe(self):
        """The model as GET /api/model reports it."""
        layers = [{"index": i, "name": type(layer).__name__, "config": _json_config(layer), "output_shape": list(shape)}
                  for i, (layer, shape) in enumerate(zip(self.network.layers, self.layer_shapes))]
        return {"input_shape": list(self.input_shape), "input_kind": self.kind, "class_names": self.class_names,
                "layers": layers}

    def predict(self, x):
        """One sample (input_shape) -> {"class", "index", "probabilities"}, from network.predict."""
        with self._lock:
            out = self.network.predict(x[None])[0]
        return self._prediction(out)

    def activations(self, x):
        """One sample -> the prediction, the input as an image, and each convolution and pooling layer's
        feature maps as one grid image (the layers run one by one, layer.forward at inference)."""
        maps = []
        with self._lock:
            out = self.network.predict(x[None])[0]
            h = x[None]
            for index, layer in enumerate(self.network.layers):
                h = layer.forward(h, training=False)
                if isinstance(layer, (ConvLayer, PoolingLayer)):
                    maps.append(_feature_maps(index, layer, h[0]))
        sample = {"shape": list(x.shape), "values": np.round(x, 5).tolist()}
        if x.ndim == 3:
            sample["image"] = png_data_url(_input_picture(x))
        return {"prediction": self._prediction(out), "input": sample, "layers": maps}

    def _prediction(self, out):
        out = np.asarray(out, dtype=np.float64).ravel()
        if not np.isfinite(out).all():
            raise InputError("The network's output is not finite for this input.")
        probabilities = np.array([1 - out[0], out[0]]) if out.size == 1 else out  # one sigmoid unit: P(class 1)
        index = int(np.argmax(probabilities))
        return {"class": self.class_names[index], "index": index,
                "probabilities": {name: float(p) for name, p in zip(self.class_names, probabilities)}}


def _layer_shapes(layers, shape):
    shapes = []
    for index, layer in enumerate(layers):
        try:
            shape = tuple(layer.output_shape(shape))
        except ValueError as error:
            raise ValueError(f"Layer {index} ({type(layer).__name__}) does not fit the input shape: {error}") from None
        shapes.append(shape)
    if not shapes:
        raise ValueError("The network has no layers: there is nothing to serve.")
    return shapes


def _class_names(names, units):
    """The recorded names when they fit the output (a sigmoid unit has two classes), else "0", "1", ..."""
    count = 2 if units == 1 else units
    if names is not None and len(names) == count:
        return [str(name) for name in names]
    return [str(i) for i in range(count)]


def _json_config(layer):
    config = layer.get_config()
    try:
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError):
        return {"repr": repr(layer)}
    return config


def _feature_maps(index, layer, maps):
    grid, rows, columns = feature_grid(maps)
    return {"index": index, "name": type(layer).__name__, "shape": list(maps.shape), "rows": rows, "columns": columns,
            "image": png_data_url(grid)}


def feature_grid(maps, gap=1):
    """(C, H, W) feature maps -> a (rows*(H+gap)-gap, columns*(W+gap)-gap) uint8 grid, each map stretched from
    its own minimum (black) to its maximum (white): patterns show even in weak channels. Gaps are mid-grey."""
    channels, height, width = maps.shape
    columns = int(np.ceil(np.sqrt(channels)))
    rows = -(-channels // columns)
    grid = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap), 96, dtype=np.uint8)
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    scaled = np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0) * 255  # (C, H, W)
    scaled = np.nan_to_num(scaled).round().astype(np.uint8)
    for c in range(channels):
        r, q = divmod(c, columns)
        grid[r * (height + gap):r * (height + gap) + height, q * (width + gap):q * (width + gap) + width] = scaled[c]
    return grid, rows, columns


def _input_picture(x):
    """(C, H, W) sample in [0, 1] -> (H, W) or (H, W, 3) uint8; other channel counts show the first channel."""
    picture = np.clip(np.nan_to_num(x), 0, 1) * 255
    picture = picture.transpose(1, 2, 0) if x.shape[0] == 3 else picture[0]
    return picture.round().astype(np.uint8)


def png_data_url(pixels):
    """uint8 (H, W) or (H, W, 3) -> "data:image/png;base64,..."."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
