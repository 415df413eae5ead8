"""The summary table: every layer's input and output shape and parameter count, as in the report.

A Residual block's row counts all of its layers' values; its body's and shortcut's layers
follow it, indented ('  body: ', '  shortcut: '), each with its own count.
"""
from .layers.residual import Residual, inner_shapes


def _row(cells, widths):
    return "".join(str(cell).ljust(width) for cell, width in zip(cells, widths)).rstrip()


def _count(layer):
    return sum(p.size for p in layer.parameters()) + sum(int(b.size) for b in layer.buffers().values())


def _rows(layer, shape_in, shape_out, indent=""):
    """The layer's row, then, for a Residual, its inner layers' rows, indented."""
    rows = [(indent + layer.name, str(shape_in), str(shape_out), f"{_count(layer):,}")]
    if isinstance(layer, Residual):
        for name, sequence in layer.sequences().items():
            for inner, (inner_in, inner_out) in zip(sequence, inner_shapes(sequence, shape_in)):
                rows += _rows(inner, inner_in, inner_out, indent + f"  {name}: ")
    return rows


def summary_table(network, input_shape):
    """A Keras-style text table for `network` fed per-sample inputs of `input_shape`."""
    shapes = network.output_shapes(input_shape)
    header = ("Layer name", "Input shape", "Output shape", "Param #")
    rows = [row for layer, (shape_in, shape_out) in zip(network.layers, shapes)
            for row in _rows(layer, shape_in, shape_out)]
    widths = [max(len(r[i]) for r in [header, *rows]) + 4 for i in range(4)]
    trainable, fixed = network.count_params(), network.count_buffers()
    rule = "_" * sum(widths)
    lines = [f'Model: "{type(network).__name__}"', rule, _row(header, widths), "=" * sum(widths)]
    lines += [_row(row, widths) for row in rows]
    lines += ["=" * sum(widths), f"Total params: {trainable + fixed:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {fixed:,}", rule]
    return "\n".join(lines)
