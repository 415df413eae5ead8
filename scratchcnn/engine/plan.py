"""The execution plan: how each layer of a network runs, decided once per network, input shape and engine.

On the reference engine every layer computes all of its output with scratchcnn.reference.
On the fast engine (scratchcnn.functional) the plan also settles, from the layers'
neighbours, what the network's outputs and gradients do not depend on:

Cropping. A 2 x 2 max pooling of 21 rows reads rows 0-19: its floor drops the last one.
A convolution without padding before it then need not compute that row, nor read the
input rows only that row needs: it gets the leading part of its input (a view) that
produces exactly the rows and columns the pooling reads, and the backward pass pads that
part's gradient back to the whole input with zeros (the pixels left out reach no output
that matters). For the report's cats/dogs net the convolution computes 20 x 20 outputs
instead of 21 x 21, and its Winograd tiles of 4 rows cover them exactly.

ReLU after max pooling. The two commute (max(relu(a), relu(b)) = relu(max(a, b)), and
the gradients agree: a window whose maximum is positive routes to the same element, one
whose maximum is not gets none either way). So a ReLU layer followed by max pooling
leaves its activation to the pooling, which applies it to a quarter of the values and
compares raw values, which rarely tie (ReLU's zeros always do), so its backward pass
takes its one-winner path (functional/pool.py).

Residual blocks. A Residual's body and shortcut are sequences of layers with plans of their
own (LayerPlan.inner), made by the same rules: a convolution before a pooling inside the body
crops, a ReLU before a max pooling inside it is deferred. Nothing crosses the block's edges:
its input feeds two sequences, and its output is a sum, so no neighbour outside it is fused
with a layer inside it. Its own activation (after the sum) is deferred to a max pooling after
the block as any layer's is.
"""
from ..functional import output_size
from ..functional.workspace import Workspace
from ..layers.base import ActivatedLayer, BuiltinLayer, LayerPlan
from ..layers.conv import ConvLayer
from ..layers.pooling import PoolingLayer
from ..layers.residual import Residual, inner_shapes

ENGINES = ("fast", "reference")


def check_engine(engine):
    if engine not in ENGINES:
        raise ValueError(f"Received an invalid value for engine, expected 'fast' or 'reference'. Received: engine={engine!r}")
    return engine


class Plan:
    """A LayerPlan for each layer, and the crops: crops[i] is (rows, cols) of layer i's input it reads, or None.

    input_shapes[i] is layer i's per-sample input shape; the passes pad a cropped layer's
    input gradient back to it.
    """

    def __init__(self, layers, input_shapes, engine="fast", training=False, need_input_grad=None):
        """need_input_grad: whether the first layer computes its input gradient; None: not in training (nothing
        needs the gradient of the data), else yes. A Residual's sequences take the block's own."""
        self.engine = check_engine(engine)
        self.input_shapes = input_shapes
        self.crops = [None] * len(layers)
        if engine == "reference":
            self.layers = [LayerPlan(reference=True) for _ in layers]
        else:
            self.layers = [LayerPlan(workspaces={True: Workspace(), False: Workspace()}) for _ in layers]
            for index, (layer, after) in enumerate(zip(layers, [*layers[1:], None])):
                if defers_relu(layer, after):
                    self.layers[index].defer_activation = True
                    self.layers[index + 1].relu_after_max = True
                self.crops[index] = crop(layer, after, input_shapes[index])
            if layers:
                self.layers[0].need_input_grad = not training if need_input_grad is None else need_input_grad
        for layer, layer_plan, input_shape in zip(layers, self.layers, input_shapes):
            if isinstance(layer, Residual):
                layer_plan.inner = {name: Plan(sequence, sequence_input_shapes(sequence, input_shape), engine,
                                               training, layer_plan.need_input_grad)
                                    for name, sequence in layer.sequences().items()}

    def copy(self):
        """The same plan with scratch memory of its own (for another thread's replicas of the layers)."""
        twin = Plan.__new__(Plan)
        twin.engine, twin.input_shapes, twin.crops = self.engine, self.input_shapes, self.crops
        twin.layers = []
        for own in self.layers:
            layer_plan: LayerPlan = LayerPlan(own.reference, own.defer_activation, own.relu_after_max, own.need_input_grad,
                                   None if own.workspaces is None else {True: Workspace(), False: Workspace()})
            if own.inner is not None:
                layer_plan.inner = {name: inner.copy() for name, inner in own.inner.items()}
            twin.layers.append(layer_plan)
        return twin

    def workspaces(self):
        own = [workspace for layer_plan in self.layers for workspace in (layer_plan.workspaces or {}).values()]
        inner = [workspace for layer_plan in self.layers for plan in (layer_plan.inner or {}).values()
                 for workspace in plan.workspaces()]
        return own + inner

    def walk(self, layers):
        """(layer, its LayerPlan, its per-sample input shape) for every layer, those inside Residual blocks
        included (depth first, in order): how the thread split finds Dropout and BatchNorm layers."""
        for layer, layer_plan, input_shape in zip(layers, self.layers, self.input_shapes):
            yield layer, layer_plan, input_shape
            for name, sequence in (layer.sequences().items() if isinstance(layer, Residual) else ()):
                yield from layer_plan.inner[name].walk(sequence)


def sequence_input_shapes(layers, input_shape):
    """The per-sample input shape of each layer of a sequence fed input_shape."""
    return [shape_in for shape_in, _ in inner_shapes(layers, input_shape)]


def defers_relu(layer, after):
    """Whether built-in `layer` leaves its ReLU to `after`: a max pooling."""
    return (isinstance(layer, ActivatedLayer) and layer.activation == "relu"
            and isinstance(after, PoolingLayer) and after.mode == "max")


def crop(layer, after, input_shape):
    """(rows, cols) of the input a convolution needs for exactly the outputs the pooling after it reads, or None
    when that is the whole input (or the layers are not an unpadded convolution before a pooling: with padding
    the crop would move the bottom and right zeros)."""
    if not (isinstance(layer, ConvLayer) and isinstance(after, PoolingLayer)) or any(layer.pads):
        return None
    _, out_rows, out_cols = layer.output_shape(input_shape)
    read = [(output_size(length, after.size, after.stride) - 1) * after.stride + after.size
            for length in (out_rows, out_cols)]                       # the pooling windows' reach
    needed = tuple((length - 1) * stride + k for length, stride, k in zip(read, layer.strides, layer.kernel_size))
    return None if needed == tuple(input_shape[1:]) else needed


def is_builtin(layer):
    return isinstance(layer, BuiltinLayer)
