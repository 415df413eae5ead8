"""Export a trained Network to an ONNX file, for onnxruntime and the other ONNX runtimes.

    from scratchcnn.onnx_export import export_onnx
    export_onnx(network, "mnist.onnx")            # input shape from network.metadata['input_shape']

The graph is written here, node by node, with the `onnx` package's helpers only (it is
the protobuf writer and the checker): one small converter per built-in layer class.
The graph's input `input` is (N, C, H, W) float32, or (N, F) for a network of Dense
layers, with a dynamic batch dimension N; its output is `probabilities`. The per-sample
input shape and the class names travel in the model's metadata_props as JSON strings.
"""
import json
import math
import os
import tempfile
from typing import Any

import numpy as np

from .layers import (Activation, BatchNorm, ConvLayer, Dense, Dropout, Flatten, GlobalAveragePooling,
                     MultiClassDense, PoolingLayer)

OPSET = 17        # onnxruntime has run opset 17 since 1.13
IR_VERSION = 8    # the IR version that opset 17 came with: readable by every runtime that knows the opset
INPUT_NAME, OUTPUT_NAME = "input", "probabilities"
_ACTIVATION_OPS: dict[str, tuple[str, dict[str, Any]]] = {"relu": ("Relu", {}), "leakyrelu": ("LeakyRelu", {"alpha": 0.01}), "sigmoid": ("Sigmoid", {}),
                   "tanh": ("Tanh", {}), "softmax": ("Softmax", {"axis": -1})}


def _import_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as error:
        raise ImportError(f'ONNX export needs the onnx package ({error}): pip install "scratchcnn[onnx]"') from None
    return onnx, helper, numpy_helper


class _Graph:
    """The nodes and weights of the graph being built, and the name of the tensor the next layer reads."""

    def __init__(self, helper, numpy_helper):
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.initializers = [], []
        self.current = INPUT_NAME

    def weight(self, name, array):
        """Add a float32 constant; returns its name."""
        self.initializers.append(self.numpy_helper.from_array(np.asarray(array, dtype=np.float32), name))
        return name

    def node(self, op_type, prefix, inputs=(), **attributes):
        """Add op_type reading the current tensor (then `inputs`); its output becomes the current tensor."""
        output = f"{prefix}/{op_type.lower()}"
        self.nodes.append(self.helper.make_node(op_type, [self.current, *inputs], [output], name=output,
                                                **attributes))
        self.current = output

    def activation(self, name, prefix):
        if name != "linear":
            op_type, attributes = _ACTIVATION_OPS[name]
            self.node(op_type, prefix, **attributes)


# -- one converter per layer class: (graph, layer, prefix), prefix naming its tensors -----------------------------
def _conv(graph, layer, prefix):
    if layer.activation == "softmax":
        raise ValueError(f"{prefix} has activation='softmax', which cannot be exported: scratchcnn takes it over "
                         "the last axis (W) of each feature map row, which no ONNX convolution output means. "
                         "Export a linear ConvLayer, then Flatten and Activation('softmax').")
    (ph, pw), strides, kernel = layer.pads, layer.strides, layer.kernel_size  # (rows, columns) each
    inputs = (graph.weight(f"{prefix}/weight", layer.weight.value), graph.weight(f"{prefix}/bias", layer.bias.value))
    graph.node("Conv", prefix, inputs, kernel_shape=list(kernel), strides=list(strides), pads=[ph, pw, ph, pw])
    graph.activation(layer.activation, prefix)


def _pool(graph, layer, prefix):
    op_type = "MaxPool" if layer.mode == "max" else "AveragePool"
    graph.node(op_type, prefix, kernel_shape=[layer.size] * 2, strides=[layer.stride] * 2, ceil_mode=0)


def _flatten(graph, layer, prefix):
    graph.node("Flatten", prefix, axis=1)  # (N, C, H, W) -> (N, C*H*W), row-major like ours and torch's


def _dense(graph, layer, prefix):
    # Gemm computes A @ B + C: our weight (in, out) is B as it stands.
    inputs = (graph.weight(f"{prefix}/weight", layer.weight.value), graph.weight(f"{prefix}/bias", layer.bias.value))
    graph.node("Gemm", prefix, inputs)
    graph.activation(layer.activation, prefix)


def _batchnorm(graph, layer, prefix):
    # Inference form: the running statistics, for (N, F) and (N, C, H, W) inputs alike.
    inputs = [graph.weight(f"{prefix}/{name}", value) for name, value in
              (("weight", layer.weight.value), ("bias", layer.bias.value),
               ("running_mean", layer.running_mean), ("running_var", layer.running_var))]
    graph.node("BatchNormalization", prefix, inputs, epsilon=layer.eps)


def _dropout(graph, layer, prefix):
    """Dropout is the identity at inference: it leaves no node."""


def _global_average_pooling(graph, layer, prefix):
    graph.node("GlobalAveragePool", prefix)  # (N, C, 1, 1)
    graph.node("Flatten", prefix, axis=1)    # (N, C)


def _activation(graph, layer, prefix):
    graph.activation(layer.activation, prefix)


_CONVERTERS = {ConvLayer: _conv, PoolingLayer: _pool, Flatten: _flatten, Dense: _dense, MultiClassDense: _dense,
               BatchNorm: _batchnorm, Dropout: _dropout, GlobalAveragePooling: _global_average_pooling,
               Activation: _activation}


def _input_shape(network, input_shape):
    shape = network.metadata.get("input_shape") if input_shape is None else input_shape
    if shape is None:
        raise ValueError("The network does not record its input shape (network.metadata['input_shape']): "
                         "pass input_shape=(C, H, W), or (F,) for a network of Dense layers.")
    try:
        valid = len(shape) in (1, 3) and all(int(v) == v and v > 0 and not isinstance(v, bool) for v in shape)
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(f"Received an invalid input shape, expected (C, H, W) or (F,) of positive integers. "
                         f"Received: input_shape={shape!r}")
    return tuple(int(v) for v in shape)


def _build_graph(network, shape, helper, numpy_helper):
    """The graph's nodes and weights, and the per-sample output shape; ValueError for a layer it cannot take."""
    graph = _Graph(helper, numpy_helper)
    for index, layer in enumerate(network.layers):
        prefix = f"{index}_{type(layer).__name__}"
        converter = _CONVERTERS.get(type(layer))  # exact classes: a subclass may compute something else
        if converter is None:
            raise ValueError(f"Layer {index} ({type(layer).__name__}) cannot be exported to ONNX: only the built-in "
                             f"layers can ({', '.join(cls.__name__ for cls in _CONVERTERS)}).")
        try:
            next_shape = tuple(layer.output_shape(shape))
        except ValueError as error:
            raise ValueError(f"Layer {index} ({type(layer).__name__}) does not fit the input shape {shape}: "
                             f"{error}") from None
        converter(graph, layer, prefix)
        shape = next_shape
    # The last tensor takes the output's name; a graph whose layers left no node (only Dropout) gets an Identity.
    if graph.nodes and graph.nodes[-1].output[0] == graph.current:
        graph.nodes[-1].output[0] = OUTPUT_NAME
    else:
        graph.node("Identity", "output")
        graph.nodes[-1].output[0] = OUTPUT_NAME
    return graph, shape


def _class_names(network, output_shape):
    names = network.metadata.get("class_names")
    if names is not None:
        return [str(name) for name in names]
    units = math.prod(output_shape)
    return ["0", "1"] if units == 1 else [str(i) for i in range(units)]


def build_onnx_model(network, input_shape=None):
    """The network as an onnx.ModelProto (checked); see export_onnx."""
    onnx, helper, numpy_helper = _import_onnx()
    if not network.layers:
        raise ValueError("The network has no layers: there is nothing to export.")
    shape = _input_shape(network, input_shape)
    graph, output_shape = _build_graph(network, shape, helper, numpy_helper)
    float32 = onnx.TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info(INPUT_NAME, float32, ["N", *shape])]
    outputs = [helper.make_tensor_value_info(OUTPUT_NAME, float32, ["N", *output_shape])]
    model = helper.make_model(helper.make_graph(graph.nodes, "scratchcnn", inputs, outputs, graph.initializers),
                              opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
                              producer_name="scratchcnn", producer_version=_version())
    helper.set_model_props(model, {"input_shape": json.dumps(list(shape)),
                                   "class_names": json.dumps(_class_names(network, output_shape))})
    onnx.checker.check_model(model, full_check=True)
    return model


def export_onnx(network, path, input_shape=None):
    """Write `network` to the ONNX file `path` (atomically: no partial file on error); returns the path.

    input_shape: the per-sample shape (C, H, W), or (F,) for a network of Dense layers;
    default network.metadata['input_shape']. ValueError for a layer that is not one of
    the built-in ones (it names the layer and its index) or a missing input shape.
    """
    model = build_onnx_model(network, input_shape)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".onnx-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(model.SerializeToString())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def _version():
    from . import __version__

    return __version__
