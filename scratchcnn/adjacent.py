"""What a layer leaves out, or leaves to the next layer, inside a network's passes.

The network's forward pass prepares each layer with `prepare(before, layer, after, x)`;
a layer called on its own (Layer.forward) does neither of these. The network's outputs
and gradients do not change.

Cropping. A 2 x 2 max pooling of 21 rows reads rows 0-19: its floor drops the last one.
A convolution without padding before it then need not compute that row, nor read the
input rows only that row needs: the layer gets the leading part of its input (a view)
that produces exactly the rows and columns the next layer reads, and the backward pass
pads that part's gradient back to the whole input with zeros (the pixels left out reach
no output that matters). For the report's cats/dogs net the convolution computes 20 x 20
outputs instead of 21 x 21, and its Winograd tiles of 4 rows cover them exactly (5 tiles
instead of 6, the last one three quarters wasted). A layer says which part of its input
it reads with `reads(input_shape)`, and which part of its input a leading block of its
outputs needs with `reads_for_outputs(...)`; the defaults (Layer) say "all of it".

ReLU after max pooling. The two commute (max(relu(a), relu(b)) = relu(max(a, b)), and
the gradients agree: a window whose maximum is positive routes to the same element, one
whose maximum is not gets none either way). So a ReLU layer followed by max pooling
leaves its activation to the pooling, which applies it to a quarter of the values, and
the pooling then compares raw values, which rarely tie (ReLU's zeros always do), so its
backward pass takes its one-product path (functional/pool.py).
"""
from .backend import xp
from .layers.base import ActivatedLayer, Layer
from .layers.pooling import PoolingLayer


def neighbours(layers):
    """(before, layer, after) for each layer in order; None past either end."""
    return zip([None, *layers[:-1]], layers, [*layers[1:], None])


def defers_activation(layer, after):
    """Whether `layer` leaves its activation to `after`: a ReLU before a max pooling."""
    return (isinstance(layer, ActivatedLayer) and layer.activation == "relu"
            and isinstance(after, PoolingLayer) and after.mode == "max")


def prepare(before, layer, after, x):
    """Set up `layer` (between `before` and `after`, each None at an end) for a network pass on the batch x.

    Returns the part of x the layer gets. Records on the layer the full input's (H, W) when
    it crops (None otherwise, for pad_gradient), whether it leaves its activation to `after`,
    and which activation it applies for `before` (None, or "relu").
    """
    layer._defer_activation = defers_activation(layer, after)
    layer._activation_before = "relu" if defers_activation(before, layer) else None
    layer._input_crop = None
    if after is None or x.ndim != 4 or type(after).reads is Layer.reads \
            or type(layer).reads_for_outputs is Layer.reads_for_outputs:
        return x
    needed = after.reads(layer.output_shape(x.shape[1:]))
    crop = None if needed is None else layer.reads_for_outputs(x.shape[1:], *needed)
    if crop is None or tuple(crop) == x.shape[2:]:
        return x
    layer._input_crop = x.shape[2:]
    return x[:, :, :crop[0], :crop[1]]


def pad_gradient(layer, grad_input):
    """The gradient of a cropped input (see prepare), zero-padded back to the whole input's (H, W)."""
    if grad_input is None or layer._input_crop is None:
        return grad_input
    full = xp.zeros((*grad_input.shape[:2], *layer._input_crop), dtype=grad_input.dtype)
    full[:, :, :grad_input.shape[2], :grad_input.shape[3]] = grad_input
    return full
