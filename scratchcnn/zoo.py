"""The report's networks and a Keras-style convnet, ready to train. Shapes in the docstrings are per sample.

build(name, input_shape, num_classes) makes one by name for a data set's shape (the command line's --net).
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

from .layers import (Activation, BatchNorm, ConvLayer, Dense, Dropout, Flatten, GlobalAveragePooling, MultiClassDense,
                     PoolingLayer, Residual)
from .checks import check_int
from .network import Network


def xor_net() -> Network:
    """The report's 3-bit XOR net: (3,) -> Dense 4 tanh -> Dense 3 tanh -> Dense 1 sigmoid."""
    return Network([Dense(3, 4, activation="tanh"), Dense(4, 3, activation="tanh"), Dense(3, 1, activation="sigmoid")])


def four_bit_net() -> Network:
    """The report's 4-bit 3-class net: (4,) -> Dense 4 relu -> Dense 3 relu -> softmax 3."""
    return Network([Dense(4, 4), Dense(4, 3), MultiClassDense(3, 3)])


def report_mnist_net() -> Network:
    """Listing 10: (1, 28, 28) -> Conv 6x6x16 (16, 23, 23) -> MaxPool (16, 11, 11) -> 1936 -> 160 -> softmax 10."""
    return Network([ConvLayer(6, 1, 16), PoolingLayer(), Flatten(), Dense(1936, 160), MultiClassDense(160, 10)])


def report_complex_net() -> Network:
    """Listing 9: Conv 4x4x16 -> Conv 6x6x32 -> Pool -> Conv 8x8x64 -> 576 -> 320 -> 128 -> softmax 10."""
    return Network([ConvLayer(4, 1, 16), ConvLayer(6, 16, 32), PoolingLayer(), ConvLayer(8, 32, 64), Flatten(),
                    Dense(576, 320), Dense(320, 128), MultiClassDense(128, 10)])


def report_catsdogs_net() -> Network:
    """Listing 13 on (3, 50, 50): Conv 10x10x16 stride 2 (16, 21, 21) -> Pool (16, 10, 10) -> 1600 -> 160 -> sigmoid 1.

    The report's text gives the convolution and the 1600 features; the 160-unit
    hidden layer mirrors listing 10 (our reconstruction).
    """
    return Network([ConvLayer(10, 3, 16, stride=2), PoolingLayer(), Flatten(), Dense(1600, 160),
                    Dense(160, 1, activation="sigmoid")])


def mnist_convnet(num_classes: int = 10, depth: int = 1, size: int = 28, dropout: float = 0.0) -> Network:
    """Keras's MNIST convnet, channels-first: Conv 3x3 32 pad 1 -> Pool -> Conv 3x3 64 pad 1 -> Pool -> 128 -> softmax.

    With dropout > 0, Dropout(dropout) comes before and after the 128-unit layer.
    """
    features = 64 * (size // 4) ** 2
    head = [Flatten(), Dense(features, 128), MultiClassDense(128, num_classes)]
    if dropout:
        head = [Flatten(), Dropout(dropout), Dense(features, 128), Dropout(dropout), MultiClassDense(128, num_classes)]
    return Network([ConvLayer(3, depth, 32, padding=1), PoolingLayer(), ConvLayer(3, 32, 64, padding=1), PoolingLayer(),
                    *head])


def lean_mnist_convnet(num_classes: int = 10, depth: int = 1, size: int = 28, widths: tuple[int, int] = (32, 64),
                       hidden: int = 128, dropout: float = 0.0) -> Network:
    """A convnet that trains fast on digits: Conv 5x5 ReLU (no padding) -> Pool -> Conv 3x3 pad 1 -> BatchNorm -> ReLU
    -> Pool -> hidden -> softmax; (depth, 28, 28) -> (widths[0], 24, 24) -> (, 12, 12) -> (widths[1], 6, 6) -> ...

    The first convolution reads one channel, so a 5x5 kernel costs little more than a 3x3 one, and without
    padding it leaves smaller maps for everything after it; BatchNorm sits only on the smaller maps of the second
    stage, where it costs a quarter of what it would on the first. With dropout > 0, Dropout(dropout) comes
    before and after the hidden layer.
    """
    first, second = widths
    features = second * ((size - 4) // 4) ** 2
    head = [Dense(features, hidden), MultiClassDense(hidden, num_classes)]
    if dropout:
        head = [Dropout(dropout), head[0], Dropout(dropout), head[1]]
    return Network([ConvLayer(5, depth, first), PoolingLayer(),
                    ConvLayer(3, first, second, padding=1, activation="linear"), BatchNorm(second), Activation("relu"),
                    PoolingLayer(), Flatten(), *head])


def _classifier_head(features: int, num_classes: int) -> Dense | MultiClassDense:
    """sigmoid 1 for two classes (binary cross-entropy), softmax num_classes for more."""
    if check_int("num_classes", num_classes, minimum=2) == 2:
        return Dense(features, 1, activation="sigmoid")
    return MultiClassDense(features, num_classes)


def small_photo_convnet(depth: int = 3, size: int = 64, num_classes: int = 2) -> Network:
    """A deeper net for photos: three Conv 3x3 + Pool stages (32, 64, 128 filters) -> 128 -> sigmoid 1
    (two classes) or softmax num_classes."""
    features = 128 * (size // 8) ** 2
    return Network([ConvLayer(3, depth, 32, padding=1), PoolingLayer(), ConvLayer(3, 32, 64, padding=1), PoolingLayer(),
                    ConvLayer(3, 64, 128, padding=1), PoolingLayer(), Flatten(), Dense(features, 128),
                    _classifier_head(128, num_classes)])


def batchnorm_photo_convnet(depth: int = 3, widths: Sequence[int] = (32, 64, 128, 256), dropout: float = 0.3,
                            num_classes: int = 2) -> Network:
    """Conv 3x3 -> BatchNorm -> ReLU stages of `widths` filters, a 2x2 max-pool between stages, then global
    average pooling -> Dropout -> sigmoid 1: (depth, H, W) -> (1,), for photos of any size; with
    num_classes > 2, softmax num_classes: (depth, H, W) -> (num_classes,).

    The global average pooling head has widths[-1] + 1 weights, where small_photo_convnet's
    Flatten -> Dense 128 head on 64x64 photos has over a million (and that net overfits).
    """
    layers, channels = [], depth
    for stage, width in enumerate(widths):
        # The convolution's bias is redundant before BatchNorm's shift, but harmless; linear so BN sees the raw sums.
        layers += [ConvLayer(3, channels, width, padding=1, activation="linear"), BatchNorm(width), Activation("relu")]
        if stage < len(widths) - 1:
            layers.append(PoolingLayer())
        channels = width
    head = [Dropout(dropout)] if dropout else []
    return Network([*layers, GlobalAveragePooling(), *head, _classifier_head(channels, num_classes)])


def basic_block(channels_in: int, channels_out: int, stride: int = 1) -> Residual:
    """A ResNet basic block: Conv 3x3 -> BatchNorm -> ReLU -> Conv 3x3 -> BatchNorm, plus the input, then ReLU:
    (channels_in, H, W) -> (channels_out, H / stride, W / stride). When the shape changes, the shortcut is a 1x1
    convolution with the stride, and BatchNorm (He et al.'s projection shortcut)."""
    shortcut = None
    if stride != 1 or channels_in != channels_out:
        shortcut = [ConvLayer(1, channels_in, channels_out, stride=stride, activation="linear"), BatchNorm(channels_out)]
    body = [ConvLayer(3, channels_in, channels_out, stride=stride, padding=1, activation="linear"),
            BatchNorm(channels_out), Activation("relu"),
            ConvLayer(3, channels_out, channels_out, padding=1, activation="linear"), BatchNorm(channels_out)]
    return Residual(body, shortcut=shortcut, activation="relu")


def residual_photo_convnet(depth: int = 3, widths: tuple[int, ...] = (32, 64, 128, 256), blocks: int = 1,
                           dropout: float = 0.2, num_classes: int = 2) -> Network:
    """A small ResNet for photos of any size: Conv 3x3 ReLU -> 2x2 max-pool, then `blocks` basic blocks per stage
    of `widths` filters, each stage after the first halving the image in its first block, then global average
    pooling -> Dropout -> sigmoid 1 (two classes) or softmax num_classes. (depth, H, W) -> (1,) or (num_classes,).

    The stem's convolution has no BatchNorm: on the full-size maps it would cost more than the convolution.
    """
    layers, channels = [ConvLayer(3, depth, widths[0], padding=1), PoolingLayer()], widths[0]
    for stage, width in enumerate(widths):
        for index in range(check_int("blocks", blocks)):
            layers.append(basic_block(channels, width, stride=2 if stage > 0 and index == 0 else 1))
            channels = width
    head = [Dropout(dropout)] if dropout else []
    return Network([*layers, GlobalAveragePooling(), *head, _classifier_head(channels, num_classes)])


# -- building a zoo network by name, for data of a given shape ---------------------------
NETWORKS: dict[str, Callable[..., Network]] = {function.__name__: function for function in (
    xor_net, four_bit_net, report_mnist_net, report_complex_net, report_catsdogs_net, mnist_convnet,
    lean_mnist_convnet, small_photo_convnet, batchnorm_photo_convnet, residual_photo_convnet)}


def build(name: str, input_shape: Sequence[int], num_classes: int) -> Network:
    """The zoo network `name` for samples of input_shape (C, H, W) in num_classes classes.

    The function gets depth=C, size=H and num_classes where it takes them (size only for square
    images); the network must then take (C, H, W) and give num_classes outputs (or one sigmoid
    unit for two classes). ValueError otherwise, naming the zoo networks that do fit.
    """
    if name not in NETWORKS:
        raise ValueError(f"Received an invalid value for name, expected one of {sorted(NETWORKS)}. Received: name={name!r}")
    network = _try_build(name, tuple(input_shape), num_classes)
    if network is None:
        fitting = suitable(input_shape, num_classes)
        raise ValueError(f"The zoo network {name!r} does not fit {'x'.join(map(str, input_shape))} images in "
                         f"{num_classes} classes; " + (f"those that do: {', '.join(fitting)}." if fitting else
                                                       "none of the zoo's networks does."))
    return network


def suitable(input_shape: Sequence[int], num_classes: int) -> list[str]:
    """The names of the zoo networks that build() can make for input_shape (C, H, W) and num_classes."""
    return [name for name in sorted(NETWORKS) if _try_build(name, tuple(input_shape), num_classes) is not None]


def _try_build(name: str, input_shape: tuple[int, ...], num_classes: int) -> Network | None:
    """NETWORKS[name] given the data's arguments it takes, or None if it does not take input_shape or fit the classes."""
    function = NETWORKS[name]
    parameters = inspect.signature(function).parameters
    channels, height, width = input_shape
    given = {"depth": channels, "size": height, "num_classes": num_classes}
    if "size" in parameters and height != width:
        return None  # its layer sizes assume square images
    try:
        network = function(**{key: value for key, value in given.items() if key in parameters})
        output = network.output_shapes(input_shape)[-1][1]
    except (TypeError, ValueError):
        return None
    return network if output == (num_classes,) or (num_classes == 2 and output == (1,)) else None
