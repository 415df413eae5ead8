"""The summary table: the report's shape tables, per-layer and total parameter counts, chain errors.

Expected parameter counts are computed here from the layer shapes (weights + biases),
never read back from the library.
"""
import re

import numpy as np
import pytest

from scratchcnn import ConvLayer, Dense, Flatten, MultiClassDense, Network, PoolingLayer
from scratchcnn.losses import categorical_crossentropy, categorical_crossentropy_derivative


def conv_params(filter_size, depth, num_filters):
    return num_filters * depth * filter_size * filter_size + num_filters


def dense_params(input_dim, output_dim):
    return input_dim * output_dim + output_dim


# name -> (layers factory, per-sample input shape, [(layer name, input shape, output shape, parameter count)])
REPORT_NETWORKS = {
    "xor": (
        lambda: [Dense(3, 4, activation="tanh"), Dense(4, 3, activation="tanh"), Dense(3, 1, activation="sigmoid")],
        (3,),
        [("Dense", (3,), (4,), dense_params(3, 4)),
         ("Dense", (4,), (3,), dense_params(4, 3)),
         ("Dense", (3,), (1,), dense_params(3, 1))],
    ),
    "four_bit": (
        lambda: [Dense(4, 4, activation="relu"), Dense(4, 3, activation="relu"), MultiClassDense(3, 3)],
        (4,),
        [("Dense", (4,), (4,), dense_params(4, 4)),
         ("Dense", (4,), (3,), dense_params(4, 3)),
         ("MultiClassDense", (3,), (3,), dense_params(3, 3))],
    ),
    "listing10_mnist": (
        lambda: [ConvLayer(6, 1, 16), PoolingLayer(), Flatten(), Dense(input_dim=1936, output_dim=160, activation="relu"),
                 MultiClassDense(160, num_classes=10)],
        (1, 28, 28),
        [("ConvLayer", (1, 28, 28), (16, 23, 23), conv_params(6, 1, 16)),
         ("PoolingLayer", (16, 23, 23), (16, 11, 11), 0),
         ("Flatten", (16, 11, 11), (1936,), 0),
         ("Dense", (1936,), (160,), dense_params(1936, 160)),
         ("MultiClassDense", (160,), (10,), dense_params(160, 10))],
    ),
    "listing13_cats_dogs": (  # the hidden width 160 is our reconstruction of the report
        lambda: [ConvLayer(10, 3, 16, stride=2), PoolingLayer(), Flatten(), Dense(1600, 160),
                 Dense(160, 1, activation="sigmoid")],
        (3, 50, 50),
        [("ConvLayer", (3, 50, 50), (16, 21, 21), conv_params(10, 3, 16)),
         ("PoolingLayer", (16, 21, 21), (16, 10, 10), 0),
         ("Flatten", (16, 10, 10), (1600,), 0),
         ("Dense", (1600,), (160,), dense_params(1600, 160)),
         ("Dense", (160,), (1,), dense_params(160, 1))],
    ),
    "listing9_complex": (
        lambda: [ConvLayer(4, 1, 16), ConvLayer(6, 16, 32), PoolingLayer(), ConvLayer(8, 32, 64), Flatten(),
                 Dense(576, 320), Dense(320, 128), MultiClassDense(128, 10)],
        (1, 28, 28),
        [("ConvLayer", (1, 28, 28), (16, 25, 25), conv_params(4, 1, 16)),
         ("ConvLayer", (16, 25, 25), (32, 20, 20), conv_params(6, 16, 32)),
         ("PoolingLayer", (32, 20, 20), (32, 10, 10), 0),
         ("ConvLayer", (32, 10, 10), (64, 3, 3), conv_params(8, 32, 64)),
         ("Flatten", (64, 3, 3), (576,), 0),
         ("Dense", (576,), (320,), dense_params(576, 320)),
         ("Dense", (320,), (128,), dense_params(320, 128)),
         ("MultiClassDense", (128,), (10,), dense_params(128, 10))],
    ),
}


def build(name):
    network = Network()
    for layer in REPORT_NETWORKS[name][0]():
        network.add(layer)
    return network


def table_rows(table):
    """The layer rows of a summary table, each split into its cells (cells are separated by 2+ spaces)."""
    lines = table.splitlines()
    double_rules = [i for i, line in enumerate(lines) if line and set(line) == {"="}]
    assert len(double_rules) == 2, table
    return [re.split(r"\s{2,}", line.strip()) for line in lines[double_rules[0] + 1:double_rules[1]]]


@pytest.mark.parametrize("name", list(REPORT_NETWORKS))
def test_summary_reproduces_the_reports_shape_table(name):
    _, input_shape, expected = REPORT_NETWORKS[name]
    table = build(name).summary(input_shape=input_shape, print_fn=None)
    assert table_rows(table) == [[layer, str(shape_in), str(shape_out), f"{count:,}"]
                                 for layer, shape_in, shape_out, count in expected]
    total = sum(count for *_, count in expected)
    assert f"Total params: {total:,}" in table.splitlines()
    assert f"Trainable params: {total:,}" in table.splitlines()


def test_total_params_of_the_report_networks_written_out():
    """The same totals, added up by hand once, with the thousands separator the report uses."""
    expected = {"xor": "35", "four_bit": "47", "listing10_mnist": "312,122", "listing13_cats_dogs": "261,137",
                "listing9_complex": "376,890"}
    for name, total in expected.items():
        table = build(name).summary(input_shape=REPORT_NETWORKS[name][1], print_fn=None)
        assert f"Total params: {total}" in table, name


def test_summary_header_and_shapes_are_tuples_without_batch_axis():
    table = build("listing10_mnist").summary(input_shape=(1, 28, 28), print_fn=None)
    header = re.split(r"\s{2,}", table.splitlines()[2].strip())
    assert header == ["Layer name", "Input shape", "Output shape", "Param #"]
    assert "None" not in table and "(N," not in table


@pytest.mark.parametrize("name", ["xor", "listing10_mnist"])
def test_summary_accepts_one_sample_a_batch_a_nested_list_or_input_shape(name):
    input_shape = REPORT_NETWORKS[name][1]
    network = build(name)
    batch = np.random.default_rng(0).random((2, *input_shape)).astype(np.float32)
    reference = network.summary(input_shape=input_shape, print_fn=None)
    assert network.summary(batch[0], print_fn=None) == reference
    assert network.summary(batch, print_fn=None) == reference
    assert network.summary(batch[0].tolist(), print_fn=None) == reference
    assert network.summary(batch.tolist(), print_fn=None) == reference


def test_summary_prints_the_table_and_returns_it_only_when_not_printing(capsys):
    network = build("xor")
    table = network.summary([0.0, 1.0, 1.0], print_fn=None)
    assert capsys.readouterr().out == ""
    assert network.summary([0.0, 1.0, 1.0]) is None  # the report's call: one sample, default print_fn=print
    assert capsys.readouterr().out == table + "\n"  # printed once (a notebook does not echo it a second time)
    printed = []
    assert network.summary([0.0, 1.0, 1.0], print_fn=printed.append) is None
    assert printed == [table]


def test_summary_of_the_report_call_on_a_mnist_image_as_nested_list():
    image = np.zeros((1, 28, 28)).tolist()  # train_images[0] of the report's 4-D list
    table = build("listing10_mnist").summary(image, print_fn=None)
    assert [row[2] for row in table_rows(table)] == ["(16, 23, 23)", "(16, 11, 11)", "(1936,)", "(160,)", "(10,)"]


def test_chain_error_names_the_layer_the_received_and_the_expected_shape():
    network = Network()
    for layer in [ConvLayer(10, 3, 16, stride=2), PoolingLayer(), Flatten(), Dense(input_dim=1936, output_dim=160),
                  MultiClassDense(160, 2)]:
        network.add(layer)
    with pytest.raises(ValueError) as error:
        network.summary(input_shape=(3, 50, 50), print_fn=None)
    message = str(error.value)
    assert "Layer 3" in message and "Dense" in message
    assert "(1600,)" in message  # what Flatten hands over
    assert "1936" in message  # what the Dense layer expects
    # Training refuses the same network at the edge, with the same diagnosis.
    X = np.zeros((2, 3, 50, 50), dtype=np.float32)
    with pytest.raises(ValueError, match=r"Layer 3 .*\(1600,\).*1936"):
        network.train(X, [0, 1], 1, 0.1, categorical_crossentropy, categorical_crossentropy_derivative,
                      log_file=None, verbose=0)


def test_chain_error_on_a_wrong_image_depth_names_the_first_layer():
    network = build("listing10_mnist")
    with pytest.raises(ValueError, match=r"Layer 0 .*ConvLayer.*\(3, 28, 28\).*depth=1"):
        network.summary(input_shape=(3, 28, 28), print_fn=None)


def test_summary_without_sample_or_shape_says_what_it_needs():
    with pytest.raises(ValueError, match="sample"):
        build("xor").summary(print_fn=None)


def test_summary_of_an_empty_network_says_it_has_no_layers():
    with pytest.raises(ValueError, match="no layers"):
        Network().summary(input_shape=(3,), print_fn=None)


def test_summary_of_an_empty_network_given_a_sample_says_it_has_no_layers():
    with pytest.raises(ValueError, match="no layers"):
        Network().summary([0.0, 1.0, 1.0], print_fn=None)
