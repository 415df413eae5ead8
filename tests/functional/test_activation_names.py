"""activation_name: canonical names, Keras's spellings and any letter case; configs keep the canonical name."""
import json

import numpy as np
import pytest

from scratchcnn import Activation, ConvLayer, Dense, Network, load_model
from scratchcnn.functional import activation_name


@pytest.mark.parametrize("given, canonical", [
    (None, "linear"), ("relu", "relu"), ("ReLU", "relu"), ("leakyrelu", "leakyrelu"), ("LeakyReLU", "leakyrelu"),
    ("leaky_relu", "leakyrelu"), ("Leaky_ReLU", "leakyrelu"), ("SOFTMAX", "softmax"), ("Tanh", "tanh"),
])
def test_activation_name_is_canonical(given, canonical):
    assert activation_name(given) == canonical


@pytest.mark.parametrize("bad", ["leaky relu", "gelu", "", 3, ["relu"]])
def test_unknown_activation_names_what_was_received_and_what_is_accepted(bad):
    with pytest.raises(ValueError) as error:
        activation_name(bad)
    message = str(error.value)
    assert f"Received: activation={bad!r}" in message and "'leakyrelu'" in message and "'leaky_relu'" in message


def test_layers_built_with_an_alias_store_the_canonical_name_and_compute_leaky_relu(tmp_path):
    network = Network([ConvLayer(3, 1, 2, activation="leaky_relu"), Activation("Leaky_ReLU")])
    assert [layer.get_config()["activation" if i == 0 else "name"] for i, layer in enumerate(network.layers)] == [
        "leakyrelu", "leakyrelu"]
    dense = Dense(2, 2, activation="LEAKY_RELU")
    assert json.loads(json.dumps(dense.get_config()))["activation"] == "leakyrelu"
    out = Activation("leaky_relu").forward(np.array([[-2.0, 3.0]]))
    np.testing.assert_allclose(out, [[-0.02, 3.0]])
    network.save_model(str(tmp_path / "leaky.model"))
    assert load_model(str(tmp_path / "leaky.model")).layers[0].activation == "leakyrelu"
