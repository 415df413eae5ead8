"""The summary table: every layer's input and output shape and parameter count, as in the report."""


def _row(cells, widths):
    return "".join(str(cell).ljust(width) for cell, width in zip(cells, widths)).rstrip()


def summary_table(network, input_shape):
    """A Keras-style text table for `network` fed per-sample inputs of `input_shape`."""
    shapes = network.output_shapes(input_shape)
    header = ("Layer name", "Input shape", "Output shape", "Param #")
    rows = [(layer.name, str(shape_in), str(shape_out), f"{sum(p.size for p in layer.parameters()) + sum(int(b.size) for b in layer.buffers().values()):,}")
            for layer, (shape_in, shape_out) in zip(network.layers, shapes)]
    widths = [max(len(r[i]) for r in [header, *rows]) + 4 for i in range(4)]
    trainable, fixed = network.count_params(), network.count_buffers()
    rule = "_" * sum(widths)
    lines = [f'Model: "{type(network).__name__}"', rule, _row(header, widths), "=" * sum(widths)]
    lines += [_row(row, widths) for row in rows]
    lines += ["=" * sum(widths), f"Total params: {trainable + fixed:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {fixed:,}", rule]
    return "\n".join(lines)
