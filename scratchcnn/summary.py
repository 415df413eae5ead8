"""The summary table: every layer's input and output shape and parameter count, as in the report."""


def _row(cells, widths):
    return "".join(str(cell).ljust(width) for cell, width in zip(cells, widths)).rstrip()


def summary_table(network, input_shape):
    """A Keras-style text table for `network` fed per-sample inputs of `input_shape`."""
    shapes = network.output_shapes(input_shape)
    header = ("Layer name", "Input shape", "Output shape", "Param #")
    rows = [(layer.name, str(shape_in), str(shape_out), f"{sum(p.size for p in layer.parameters()):,}")
            for layer, (shape_in, shape_out) in zip(network.layers, shapes)]
    widths = [max(len(r[i]) for r in [header, *rows]) + 4 for i in range(4)]
    total = network.count_params()
    rule = "_" * sum(widths)
    lines = [f'Model: "{type(network).__name__}"', rule, _row(header, widths), "=" * sum(widths)]
    lines += [_row(row, widths) for row in rows]
    lines += ["=" * sum(widths), f"Total params: {total:,}", f"Trainable params: {total:,}",
              "Non-trainable params: 0", rule]
    return "\n".join(lines)
