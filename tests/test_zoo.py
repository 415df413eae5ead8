"""The zoo's batchnorm_photo_convnet: its layers and shapes, any photo size, and a saved copy predicting alike."""
import numpy as np

from scratchcnn import (Activation, BatchNorm, ConvLayer, Dense, Dropout, GlobalAveragePooling, PoolingLayer,
                        load_model, zoo)
from scratchcnn.losses import bce_loss, bce_loss_derivative


def test_batchnorm_photo_convnet_layers_shapes_and_parameter_count():
    network = zoo.batchnorm_photo_convnet()
    stage = [ConvLayer, BatchNorm, Activation]
    expected = [*stage, PoolingLayer, *stage, PoolingLayer, *stage, PoolingLayer, *stage, GlobalAveragePooling,
                Dropout, Dense]
    assert [type(layer) for layer in network.layers] == expected
    shapes = [output for _, output in network.output_shapes((3, 64, 64))]
    assert shapes[3] == (32, 32, 32) and shapes[-4] == (256, 8, 8) and shapes[-3] == (256,) and shapes[-1] == (1,)
    assert all(layer.activation == "linear" for layer in network.layers if isinstance(layer, ConvLayer))
    convs = 3 * 9 * 32 + 32 + 32 * 9 * 64 + 64 + 64 * 9 * 128 + 128 + 128 * 9 * 256 + 256
    assert sum(param.size for param in network.parameters()) == convs + 2 * (32 + 64 + 128 + 256) + 256 + 1


def test_batchnorm_photo_convnet_takes_any_photo_size_and_its_options():
    network = zoo.batchnorm_photo_convnet(depth=1, widths=(4, 8), dropout=0.0)
    assert not any(isinstance(layer, Dropout) for layer in network.layers)
    assert network.output_shapes((1, 20, 14))[-1][1] == (1,)
    assert network.predict(np.random.default_rng(0).random((3, 1, 20, 14), dtype=np.float32)).shape == (3, 1)


def test_batchnorm_photo_convnet_trains_and_its_saved_copy_predicts_alike(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((16, 3, 16, 16), dtype=np.float32)
    y = (X[:, 0].mean(axis=(1, 2)) > X[:, 2].mean(axis=(1, 2))).astype(np.float32)
    network = zoo.batchnorm_photo_convnet(widths=(4, 8, 8))
    network.train(X, y, 2, 0.01, bce_loss, bce_loss_derivative, log_file=None, batch_size=8, optimizer="adam",
                  seed=0, verbose=0)
    network.save_model(str(tmp_path / "photo.model"))
    np.testing.assert_array_equal(load_model(str(tmp_path / "photo.model")).predict(X), network.predict(X))


def test_the_photo_convnets_end_in_sigmoid_for_two_classes_and_softmax_for_more():
    from scratchcnn import MultiClassDense
    import pytest

    for make in (zoo.batchnorm_photo_convnet, lambda **options: zoo.small_photo_convnet(size=32, **options)):
        assert make().layers[-1].activation == "sigmoid" and make().output_shapes((3, 32, 32))[-1][1] == (1,)
        network = make(num_classes=5)
        assert isinstance(network.layers[-1], MultiClassDense) and network.output_shapes((3, 32, 32))[-1][1] == (5,)
        with pytest.raises(ValueError, match="Received: num_classes=1"):
            make(num_classes=1)


def test_lean_mnist_convnet_layers_shapes_and_parameter_count():
    from scratchcnn import Flatten, MultiClassDense

    network = zoo.lean_mnist_convnet(widths=(16, 32))
    assert [type(layer) for layer in network.layers] == [ConvLayer, PoolingLayer, ConvLayer, BatchNorm, Activation,
                                                          PoolingLayer, Flatten, Dense, MultiClassDense]
    shapes = [output for _, output in network.output_shapes((1, 28, 28))]
    assert shapes[0] == (16, 24, 24) and shapes[5] == (32, 6, 6) and shapes[-1] == (10,)
    convs = 16 * 25 + 16 + 32 * 16 * 9 + 32
    assert network.count_params() == convs + 2 * 32 + (32 * 36 + 1) * 128 + 129 * 10
    with_dropout = zoo.lean_mnist_convnet(dropout=0.25)
    assert [type(layer) for layer in with_dropout.layers[-4:]] == [Dropout, Dense, Dropout, MultiClassDense]


def test_residual_photo_convnet_stages_blocks_and_any_photo_size():
    from scratchcnn import Residual

    network = zoo.residual_photo_convnet(widths=(8, 16, 32), blocks=2)
    blocks = [layer for layer in network.layers if isinstance(layer, Residual)]
    assert len(blocks) == 6 and [block.shortcut is None for block in blocks] == [True, True, False, True, False, True]
    assert blocks[2].shortcut[0].stride == 2 and blocks[2].body[0].stride == 2
    shapes = [output for _, output in network.output_shapes((3, 64, 48))]
    assert shapes[1] == (8, 32, 24) and shapes[-4] == (32, 8, 6) and shapes[-1] == (1,)
    assert zoo.residual_photo_convnet(num_classes=4).output_shapes((3, 20, 20))[-1][1] == (4,)
    assert "residual_photo_convnet" in zoo.suitable((3, 64, 64), 2)
    X = np.random.default_rng(0).random((8, 3, 16, 16), dtype=np.float32)
    small = zoo.residual_photo_convnet(widths=(4, 8), dropout=0.0)
    small.train(X, np.arange(8) % 2, 1, 0.01, bce_loss, bce_loss_derivative, log_file=None, batch_size=4,
                optimizer="adam", seed=0, verbose=0)
    assert small.predict(X).shape == (8, 1)
