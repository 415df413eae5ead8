"""ONNX export: the checker accepts every graph, and onnxruntime computes what network.predict does."""
import json
import os
import sys

import numpy as np
import pytest

from scratchcnn import (Activation, BatchNorm, ConvLayer, Dense, Dropout, Flatten, GlobalAveragePooling, Layer,
                        MultiClassDense, Network, PoolingLayer, zoo)
from scratchcnn.cli import main
from scratchcnn.onnx_export import build_onnx_model, export_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

BATCH_SIZES = (1, 3, 8)
ZOO = {
    "xor_net": (zoo.xor_net, (3,)),
    "four_bit_net": (zoo.four_bit_net, (4,)),
    "report_mnist_net": (zoo.report_mnist_net, (1, 28, 28)),
    "report_complex_net": (zoo.report_complex_net, (1, 28, 28)),
    "report_catsdogs_net": (zoo.report_catsdogs_net, (3, 50, 50)),
    "mnist_convnet": (lambda: zoo.mnist_convnet(dropout=0.25), (1, 28, 28)),
    "small_photo_convnet": (zoo.small_photo_convnet, (3, 64, 64)),
    "batchnorm_photo_convnet": (zoo.batchnorm_photo_convnet, (3, 32, 32)),
}


def _randomize_batchnorm(network, rng):
    """Non-trivial running statistics and affine parameters, so the exported BatchNormalization is exercised."""
    for layer in network.layers:
        if isinstance(layer, BatchNorm):
            f = layer.num_features
            layer.running_mean = rng.normal(0, 0.5, f).astype(np.float32)
            layer.running_var = rng.uniform(0.3, 2.0, f).astype(np.float32)
            layer.weight.value = rng.normal(1, 0.3, f).astype(np.float32)
            layer.bias.value = rng.normal(0, 0.3, f).astype(np.float32)


def _session(model):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _assert_matches(network, shape, rng, batch_sizes=BATCH_SIZES):
    model = build_onnx_model(network, shape)
    onnx.checker.check_model(model, full_check=True)
    session = _session(model)
    for n in batch_sizes:
        x = rng.random((n, *shape), dtype=np.float32) * 2 - 0.5
        (got,) = session.run(None, {"input": x})
        np.testing.assert_allclose(got, network.predict(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_zoo_network_matches_predict_at_several_batch_sizes(name):
    make, shape = ZOO[name]
    rng = np.random.default_rng(sorted(ZOO).index(name))
    network = make().initialize(7)
    _randomize_batchnorm(network, rng)
    _assert_matches(network, shape, rng)


def _shape_after(layers, shape):
    for layer in layers:
        shape = layer.output_shape(shape)
    return tuple(shape)


def _random_network(rng):
    """A seeded random stack: convolutions and pools of varied kernel, stride, padding and activation, then a
    Flatten or global-average-pooling head, Dense layers and a random ending."""
    activations = ["linear", "relu", "leakyrelu", "sigmoid", "tanh"]
    channels, size = int(rng.integers(1, 4)), int(rng.integers(12, 20))
    shape, layers = (channels, size, size), []
    for _ in range(int(rng.integers(1, 4))):
        layers.append(ConvLayer(int(rng.integers(1, 5)), channels, int(rng.integers(2, 6)),
                                stride=int(rng.integers(1, 3)), padding=int(rng.integers(0, 3)),
                                activation=str(rng.choice(activations))))
        if rng.random() < 0.3:
            layers += [BatchNorm(layers[-1].num_filters), Activation(str(rng.choice(activations)))]
        channels, height, _ = _shape_after(layers, shape)
        pool_size = int(rng.integers(1, 4))
        if rng.random() < 0.6 and height >= pool_size:
            layers.append(PoolingLayer(pool_size, stride=int(rng.integers(1, 4)), mode=str(rng.choice(["max", "avg"]))))
            height = _shape_after(layers, shape)[1]
        if height < 5:
            break
    head = [GlobalAveragePooling()] if rng.random() < 0.3 else [Flatten()]
    layers += head
    (features,) = _shape_after(layers, shape)
    for _ in range(int(rng.integers(0, 3))):
        width = int(rng.integers(3, 12))
        layers.append(Dense(features, width, activation=str(rng.choice(activations))))
        if rng.random() < 0.3:
            layers += [Dropout(0.5), BatchNorm(width)]
        features = width
    ending = rng.integers(0, 3)
    if ending == 0:
        layers.append(MultiClassDense(features, int(rng.integers(2, 7))))
    elif ending == 1:
        layers += [Dense(features, 4, activation="linear"), Activation("softmax")]
    else:
        layers.append(Dense(features, 1, activation=str(rng.choice(activations + ["sigmoid"]))))
    return Network(layers), shape


@pytest.mark.parametrize("seed", range(12))
def test_random_layer_configurations_match_predict(seed):
    rng = np.random.default_rng(100 + seed)
    network, shape = _random_network(rng)
    network.initialize(seed)
    _randomize_batchnorm(network, rng)
    _assert_matches(network, shape, rng, batch_sizes=(1, 5))


@pytest.mark.parametrize("activation", ["linear", "relu", "leakyrelu", "sigmoid", "tanh"])
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_each_conv_activation_and_pool_mode(activation, mode):
    rng = np.random.default_rng(3)
    network = Network([ConvLayer(3, 2, 4, stride=2, padding=1, activation=activation),
                       PoolingLayer(3, stride=2, mode=mode), Flatten(), Dense(16, 3, activation=activation)])
    network.initialize(0)
    _assert_matches(network, (2, 11, 11), rng, batch_sizes=(2,))


def test_graph_has_named_dynamic_input_and_output_and_leaves_dropout_out():
    model = build_onnx_model(zoo.mnist_convnet(dropout=0.5).initialize(0), (1, 28, 28))
    graph = model.graph
    assert [i.name for i in graph.input] == ["input"] and [o.name for o in graph.output] == ["probabilities"]
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and [d.dim_value for d in dims[1:]] == [1, 28, 28]
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert "Dropout" not in {node.op_type for node in graph.node}
    assert model.opset_import[0].version == 17


def test_dense_only_network_takes_a_2d_input():
    model = build_onnx_model(zoo.xor_net().initialize(0), (3,))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and [d.dim_value for d in dims[1:]] == [3]


def test_metadata_records_input_shape_and_class_names(tmp_path):
    network = zoo.report_mnist_net().initialize(0)
    network.metadata = {"input_shape": [1, 28, 28], "class_names": [f"digit {i}" for i in range(10)]}
    path = export_onnx(network, tmp_path / "net.onnx")
    props = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert json.loads(props["input_shape"]) == [1, 28, 28]
    assert json.loads(props["class_names"]) == [f"digit {i}" for i in range(10)]
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert json.loads(session.get_modelmeta().custom_metadata_map["input_shape"]) == [1, 28, 28]


def test_default_class_names_without_metadata():
    props = {p.key: p.value for p in build_onnx_model(zoo.xor_net(), (3,)).metadata_props}
    assert json.loads(props["class_names"]) == ["0", "1"]
    props = {p.key: p.value for p in build_onnx_model(zoo.four_bit_net(), (4,)).metadata_props}
    assert json.loads(props["class_names"]) == ["0", "1", "2"]


class Doubler(Layer):
    """A user's layer: (N, ...) -> 2 x."""

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def _forward(self, x, training):
        return 2 * x


def test_a_custom_layer_is_refused_by_name_and_index_and_no_file_is_left(tmp_path):
    network = Network([Dense(3, 4), Doubler(), Dense(4, 1, activation="sigmoid")])
    target = tmp_path / "net.onnx"
    target.write_bytes(b"the old file")
    with pytest.raises(ValueError, match=r"Layer 1 \(Doubler\) cannot be exported"):
        export_onnx(network, target, input_shape=(3,))
    assert target.read_bytes() == b"the old file" and sorted(os.listdir(tmp_path)) == ["net.onnx"]


def test_softmax_on_a_convolution_is_refused_clearly():
    network = Network([ConvLayer(3, 1, 2, activation="softmax"), Flatten()])
    with pytest.raises(ValueError, match="softmax.*cannot be exported"):
        build_onnx_model(network, (1, 8, 8))


def test_missing_or_invalid_input_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="does not record its input shape"):
        build_onnx_model(zoo.report_mnist_net())
    with pytest.raises(ValueError, match="Received an invalid input shape"):
        build_onnx_model(zoo.report_mnist_net(), (28, 28))
    with pytest.raises(ValueError, match=r"Layer 0 \(ConvLayer\) does not fit"):
        build_onnx_model(zoo.report_mnist_net(), (3, 28, 28))


def test_missing_onnx_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r'pip install "scratchcnn\[onnx\]"'):
        build_onnx_model(zoo.xor_net(), (3,))


def test_cli_export_writes_a_model_onnxruntime_runs(tmp_path, capsys):
    network = zoo.report_catsdogs_net().initialize(0)
    network.metadata = {"input_shape": [3, 50, 50], "class_names": ["cat", "dog"]}
    network.save_model(str(tmp_path / "net.model"))
    out = tmp_path / "net.onnx"
    assert main(["export", str(tmp_path / "net.model"), str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    x = np.random.default_rng(0).random((4, 3, 50, 50), dtype=np.float32)
    (got,) = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x})
    np.testing.assert_allclose(got, network.predict(x), rtol=1e-5, atol=1e-5)


def test_cli_export_without_an_input_shape_fails_cleanly(tmp_path, capsys):
    zoo.xor_net().initialize(0).save_model(str(tmp_path / "xor.model"))
    assert main(["export", str(tmp_path / "xor.model"), str(tmp_path / "xor.onnx")]) == 2
    assert "input shape" in capsys.readouterr().err and not (tmp_path / "xor.onnx").exists()
    assert main(["export", str(tmp_path / "xor.model"), str(tmp_path / "xor.onnx"), "--input-shape", "3"]) == 0
    assert (tmp_path / "xor.onnx").exists()


def test_kernel_pairs_same_padding_and_inferred_sizes_export():
    from scratchcnn import BatchNorm, ConvLayer, Dense, Flatten, Network, PoolingLayer
    network = Network([ConvLayer((3, 5), num_filters=4, stride=(1, 2), padding=(1, 2)), BatchNorm(),
                       ConvLayer(3, num_filters=6, padding="same", stride=2), PoolingLayer(), Flatten(), Dense(5)])
    network.build((2, 13, 14)).initialize(3)
    X = np.random.default_rng(0).random((4, 2, 13, 14), dtype=np.float32)
    model = build_onnx_model(network, input_shape=(2, 13, 14))
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": X})[0], network.predict(X), rtol=1e-5, atol=1e-5)
