"""The report's networks and a Keras-style convnet, ready to train. Shapes in the docstrings are per sample."""
from .layers import (Activation, BatchNorm, ConvLayer, Dense, Dropout, Flatten, GlobalAveragePooling, MultiClassDense,
                     PoolingLayer)
from .network import Network


def xor_net():
    """The report's 3-bit XOR net: (3,) -> Dense 4 tanh -> Dense 3 tanh -> Dense 1 sigmoid."""
    return Network([Dense(3, 4, activation="tanh"), Dense(4, 3, activation="tanh"), Dense(3, 1, activation="sigmoid")])


def four_bit_net():
    """The report's 4-bit 3-class net: (4,) -> Dense 4 relu -> Dense 3 relu -> softmax 3."""
    return Network([Dense(4, 4), Dense(4, 3), MultiClassDense(3, 3)])


def report_mnist_net():
    """Listing 10: (1, 28, 28) -> Conv 6x6x16 (16, 23, 23) -> MaxPool (16, 11, 11) -> 1936 -> 160 -> softmax 10."""
    return Network([ConvLayer(6, 1, 16), PoolingLayer(), Flatten(), Dense(1936, 160), MultiClassDense(160, 10)])


def report_complex_net():
    """Listing 9: Conv 4x4x16 -> Conv 6x6x32 -> Pool -> Conv 8x8x64 -> 576 -> 320 -> 128 -> softmax 10."""
    return Network([ConvLayer(4, 1, 16), ConvLayer(6, 16, 32), PoolingLayer(), ConvLayer(8, 32, 64), Flatten(),
                    Dense(576, 320), Dense(320, 128), MultiClassDense(128, 10)])


def report_catsdogs_net():
    """Listing 13 on (3, 50, 50): Conv 10x10x16 stride 2 (16, 21, 21) -> Pool (16, 10, 10) -> 1600 -> 160 -> sigmoid 1.

    The report's text gives the convolution and the 1600 features; the 160-unit
    hidden layer mirrors listing 10 (our reconstruction).
    """
    return Network([ConvLayer(10, 3, 16, stride=2), PoolingLayer(), Flatten(), Dense(1600, 160),
                    Dense(160, 1, activation="sigmoid")])


def mnist_convnet(num_classes=10, depth=1, size=28, dropout=0.0):
    """Keras's MNIST convnet, channels-first: Conv 3x3 32 pad 1 -> Pool -> Conv 3x3 64 pad 1 -> Pool -> 128 -> softmax.

    With dropout > 0, Dropout(dropout) comes before and after the 128-unit layer.
    """
    features = 64 * (size // 4) ** 2
    head = [Flatten(), Dense(features, 128), MultiClassDense(128, num_classes)]
    if dropout:
        head = [Flatten(), Dropout(dropout), Dense(features, 128), Dropout(dropout), MultiClassDense(128, num_classes)]
    return Network([ConvLayer(3, depth, 32, padding=1), PoolingLayer(), ConvLayer(3, 32, 64, padding=1), PoolingLayer(),
                    *head])


def small_photo_convnet(depth=3, size=64):
    """A deeper net for photos: three Conv 3x3 + Pool stages (32, 64, 128 filters) -> 128 -> sigmoid 1."""
    features = 128 * (size // 8) ** 2
    return Network([ConvLayer(3, depth, 32, padding=1), PoolingLayer(), ConvLayer(3, 32, 64, padding=1), PoolingLayer(),
                    ConvLayer(3, 64, 128, padding=1), PoolingLayer(), Flatten(), Dense(features, 128),
                    Dense(128, 1, activation="sigmoid")])


def batchnorm_photo_convnet(depth=3, widths=(32, 64, 128, 256), dropout=0.3):
    """Conv 3x3 -> BatchNorm -> ReLU stages of `widths` filters, a 2x2 max-pool between stages, then global
    average pooling -> Dropout -> sigmoid 1: (depth, H, W) -> (1,), for photos of any size.

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
    return Network([*layers, GlobalAveragePooling(), *head, Dense(channels, 1, activation="sigmoid")])
