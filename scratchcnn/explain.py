"""Which parts of an image a class score depends on: saliency maps and Grad-CAM, by the network's own backward pass.

Both explain the score of one class for one sample x (C, H, W). The score is the last layer's
pre-activation for that class (the logit before softmax or sigmoid) when the last layer has an
activation to skip, as both papers use: a confident softmax output is flat, and its gradient near
zero everywhere. For a single sigmoid unit, class 1's score is the logit z and class 0's is -z.

- saliency_map (Simonyan et al., 2014): |d score / d x|, the largest over the channels: (H, W).
- grad_cam_map (Selvaraju et al., 2017): the feature maps A (K, h, w) of a convolution layer
  weighted by alpha_k = mean over (h, w) of d score / d A_k, summed, passed through ReLU and
  upsampled bilinearly to (H, W).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import ArrayLike

from .layers import ActivatedLayer, ConvLayer
from .metrics import to_class_indices

if TYPE_CHECKING:
    from .layers import Layer
    from .network import Network


def saliency_map(network: Network, x: ArrayLike, class_index: int | None = None) -> np.ndarray:
    """|d score(class_index) / d x| for one sample x (C, H, W), the largest over the channels: (H, W).

    class_index None explains the predicted class.
    """
    x = _check_sample(network, x)
    out = network.forward(x[None])                                   # (1, K)
    grad_score, from_logits = _score_gradient(network.layers[-1], out, class_index)
    grad_input = network.backward(grad_score, from_logits=from_logits)  # (1, C, H, W)
    if grad_input is None:
        raise ValueError("The network's first layer returned no input gradient: a layer of your own at the "
                         "start of the network must return d loss / d input from backward().")
    return np.abs(np.asarray(grad_input[0])).max(axis=0)            # (H, W)


def grad_cam_map(network: Network, x: ArrayLike, layer_index: int | None = None, class_index: int | None = None
                 ) -> np.ndarray:
    """Grad-CAM of one sample x (C, H, W) at layer `layer_index` (default: the last ConvLayer): (H, W), >= 0.

    The layers run one by one (layer.forward with training=False) to the chosen layer, whose output
    A (1, K, h, w) is kept, then on to the scores; a one-hot score gradient goes back through the later
    layers (layer.backward) to d score / d A. class_index None explains the predicted class.
    """
    x = _check_sample(network, x)
    layers = network.layers
    index = _feature_layer(layers, layer_index)
    features = x[None]
    for layer in layers[:index + 1]:
        features = layer.forward(features, training=False)
    if np.ndim(features) != 4:
        raise ValueError(f"Received layer_index={index}, whose layer ({layers[index].name}) gives an output of shape "
                         f"{tuple(np.shape(features))[1:]}, expected feature maps (K, h, w).")
    out = features
    for layer in layers[index + 1:]:
        out = layer.forward(out, training=False)                     # (1, num_outputs)
    grad, from_logits = _score_gradient(layers[-1], out, class_index)
    later = list(layers[index + 1:])
    grad_feature: Any = grad
    if from_logits:  # the output layer is an ActivatedLayer (softmax or sigmoid): skip its activation
        grad_feature = cast(ActivatedLayer, later.pop()).backward_preactivation(grad)
    for layer in reversed(later):
        grad_feature = layer.backward(grad_feature)                  # ends as d score / d A: (1, K, h, w)
    return upsample_bilinear(grad_cam_from_gradients(np.asarray(features[0]), np.asarray(grad_feature[0])),
                             x.shape[1:])


def grad_cam_from_gradients(features: np.ndarray, grad_features: np.ndarray) -> np.ndarray:
    """relu(sum_k alpha_k A_k), alpha_k = mean over (h, w) of dScore/dA_k: features and gradients (K, h, w) -> (h, w)."""
    alpha = grad_features.mean(axis=(1, 2))                          # (K,)
    return np.maximum(np.tensordot(alpha, features, axes=1), 0)      # (h, w)


def upsample_bilinear(image: ArrayLike, size: Sequence[int]) -> np.ndarray:
    """A 2-D array (h, w) resized bilinearly to size (H, W), sampling at pixel centres (align_corners=False)."""
    image = np.asarray(image, dtype=float)
    rows = _sample_points(image.shape[0], size[0])
    cols = _sample_points(image.shape[1], size[1])
    top, bottom, row_weight = rows                                   # (H,) each
    left, right, col_weight = cols                                   # (W,) each
    upper = image[top][:, left] * (1 - col_weight) + image[top][:, right] * col_weight        # (H, W)
    lower = image[bottom][:, left] * (1 - col_weight) + image[bottom][:, right] * col_weight  # (H, W)
    return upper * (1 - row_weight[:, None]) + lower * row_weight[:, None]


def _sample_points(length: int, new_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each output pixel: the two source pixels either side of its centre and the weight of the second."""
    centres = np.clip((np.arange(new_length) + 0.5) * length / new_length - 0.5, 0, length - 1)
    low = np.floor(centres).astype(int)
    high = np.minimum(low + 1, length - 1)
    return low, high, centres - low


# -- checks and the score ---------------------------------------------------------
def _check_sample(network: Network, x: ArrayLike) -> np.ndarray:
    layers = getattr(network, "layers", None)
    if not layers:
        raise ValueError("Received a network without layers, expected a scratchcnn Network to explain. "
                         f"Received: {type(network).__name__}")
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"Received an invalid sample, expected one image (C, H, W) without the batch axis. "
                         f"Received: x.shape={x.shape}")
    return x.astype(network.dtype, copy=False)


def _feature_layer(layers: Sequence[Layer], layer_index: int | None) -> int:
    """The chosen layer's index: layer_index, or that of the last ConvLayer."""
    if layer_index is None:
        convs = [i for i, layer in enumerate(layers) if isinstance(layer, ConvLayer)]
        if not convs:
            raise ValueError("Received a network without a ConvLayer, expected one for Grad-CAM (or pass "
                             "layer_index= a layer whose output is feature maps (K, h, w)).")
        return convs[-1]
    valid = isinstance(layer_index, (int, np.integer)) and not isinstance(layer_index, bool)
    index = int(layer_index) + (len(layers) if valid and layer_index < 0 else 0) if valid else None
    if index is None or not 0 <= index < len(layers) - 1:
        raise ValueError(f"Received an invalid value for layer_index, expected the index of a layer before the "
                         f"last, in [0, {len(layers) - 2}]. Received: layer_index={layer_index!r}")
    return index


def _score_gradient(last_layer: Layer, out: np.ndarray, class_index: int | None) -> tuple[np.ndarray, bool]:
    """(one-hot d score / d (pre-)activation (1, K), from_logits) for the class to explain."""
    if np.ndim(out) != 2:
        raise ValueError(f"The network gives outputs of per-sample shape {tuple(np.shape(out))[1:]}, expected "
                         "class scores (K,) to explain.")
    num_outputs = out.shape[1]
    num_classes = 2 if num_outputs == 1 else num_outputs
    if class_index is None:
        class_index = int(to_class_indices(np.asarray(out))[0])
    elif isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)) \
            or not 0 <= class_index < num_classes:
        raise ValueError(f"Received an invalid value for class_index, expected an integer in [0, {num_classes - 1}] "
                         f"for a network of {num_classes} classes. Received: class_index={class_index!r}")
    grad = np.zeros_like(out)
    if num_outputs == 1:
        grad[0, 0] = 1.0 if class_index == 1 else -1.0              # class 0's score is -z (or 1 - p)
    else:
        grad[0, class_index] = 1.0
    return grad, hasattr(last_layer, "backward_preactivation")
