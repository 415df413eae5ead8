"""Residual blocks: PyTorch's ResNet block as the oracle, both engines, the thread split, saving, summary, configs."""
import json
import zipfile

import numpy as np
import pytest
from gradient_helpers import leaf, make_close_checker

from scratchcnn import (Activation, BatchNorm, ConvLayer, Dense, Dropout, Flatten, GlobalAveragePooling, Layer,
                        ModelFileError, MultiClassDense, Network, PoolingLayer, Residual, check_gradients, load_model,
                        parallel)
from scratchcnn.engine.threads import replica
from scratchcnn.layers import LAYER_CLASSES


def basic_block(channels_in, channels_out, stride=1, activation="relu"):
    """A ResNet basic block: conv-BN-ReLU-conv-BN, plus the identity or a 1x1 strided conv + BN shortcut."""
    shortcut = None
    if stride != 1 or channels_in != channels_out:
        shortcut = [ConvLayer(1, channels_in, channels_out, stride=stride, activation="linear"), BatchNorm(channels_out)]
    return Residual([ConvLayer(3, channels_in, channels_out, stride=stride, padding=1, activation="linear"),
                     BatchNorm(channels_out), Activation("relu"),
                     ConvLayer(3, channels_out, channels_out, padding=1, activation="linear"), BatchNorm(channels_out)],
                    shortcut=shortcut, activation=activation)


def torch_block(torch, ours):
    """The same block in torch, with our weights copied: (module, [(our Parameter, torch parameter)])."""
    nn = torch.nn

    def convert(layer):
        if isinstance(layer, ConvLayer):
            module = nn.Conv2d(layer.depth, layer.num_filters, layer.filter_size, layer.stride, layer.padding)
        elif isinstance(layer, BatchNorm):
            module = nn.BatchNorm2d(layer.num_features, eps=layer.eps, momentum=layer.momentum)
        else:
            return nn.ReLU()
        module = module.double()  # before the copy, so our float64 weights arrive unrounded
        with torch.no_grad():
            module.weight.copy_(torch.tensor(layer.weight.value))
            module.bias.copy_(torch.tensor(layer.bias.value))
        pairs.extend([(layer.weight, module.weight), (layer.bias, module.bias)])
        return module

    pairs = []
    body = nn.Sequential(*[convert(layer) for layer in ours.body])
    shortcut = nn.Identity() if ours.shortcut is None else nn.Sequential(*[convert(layer) for layer in ours.shortcut])

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.shortcut = body, shortcut

        def forward(self, x):
            return torch.relu(self.body(x) + self.shortcut(x))

    return Block(), pairs


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("channels_in, channels_out, stride", [(4, 4, 1), (3, 6, 2)])
def test_a_resnet_block_matches_torch_outputs_and_every_gradient(torch, relative_errors, engine, channels_in,
                                                                  channels_out, stride):
    close = make_close_checker(relative_errors)
    rng = np.random.default_rng(stride)
    block = basic_block(channels_in, channels_out, stride)
    network = Network([block, GlobalAveragePooling()], dtype="float64", engine=engine).initialize(1)
    for param in network.parameters():  # non-trivial BatchNorm scales and shifts, non-zero biases
        param.value = param.value + rng.normal(scale=0.3, size=param.shape)
    module, pairs = torch_block(torch, block)
    x = rng.normal(size=(5, channels_in, 9, 9))
    out = network.forward(x, training=True)
    upstream = rng.normal(size=out.shape)
    grad_input = network.backward(upstream)

    tx = leaf(torch, x)
    expected = module(tx).mean(dim=(2, 3))
    expected.backward(torch.tensor(upstream))
    close(f"Residual ({engine}) forward", out, expected)
    close(f"Residual ({engine}) grad input", grad_input, tx.grad)
    assert len(pairs) == len(network.parameters())
    for ours, theirs in pairs:
        close(f"Residual ({engine}) grad {ours.name}", ours.grad, theirs.grad)
    torch_buffers = [b for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)
                     for b in (m.running_mean, m.running_var)]
    for ours, theirs in zip(block.buffers().values(), torch_buffers, strict=True):  # running statistics
        close(f"Residual ({engine}) running statistics", ours, theirs)


def test_shapes_that_do_not_add_up_are_named():
    with pytest.raises(ValueError, match=r"body gives .* \(8, 4, 4\) .* identity shortcut .* \(4, 8, 8\)"):
        Residual([ConvLayer(3, 4, 8, stride=2, padding=1)]).output_shape((4, 8, 8))
    block = Residual([ConvLayer(3, 4, 8, padding=1)], shortcut=[ConvLayer(1, 4, 8, stride=2)])
    with pytest.raises(ValueError, match=r"\(8, 8, 8\) .* its shortcut gives .* \(8, 4, 4\)"):
        block.output_shape((4, 8, 8))
    with pytest.raises(ValueError, match=r"body\[1\] .* does not chain"):
        Residual([ConvLayer(3, 4, 8, padding=1), ConvLayer(3, 5, 8, padding=1)]).output_shape((4, 8, 8))
    with pytest.raises(ValueError, match="does not chain"):
        Network([ConvLayer(3, 1, 4, padding=1), Residual([ConvLayer(3, 4, 8, padding=1)])]).output_shapes((1, 6, 6))


def test_invalid_blocks_are_refused():
    class Scale(Layer):
        pass

    for body in ([], None, ConvLayer(3, 4, 4)):
        with pytest.raises(ValueError, match="expected a non-empty list of layers"):
            Residual(body)
    with pytest.raises(ValueError, match=r"Scale at body\[1\], expected a built-in"):
        Residual([ConvLayer(3, 4, 4, padding=1), Scale()])
    with pytest.raises(ValueError, match="element-wise activation"):
        Residual([Dense(4, 4)], activation="softmax")
    with pytest.raises(ValueError, match="activation="):
        Residual([Dense(4, 4)], activation="swish")


def test_a_direct_call_runs_alone_and_takes_one_sample():
    block = basic_block(2, 4, 2).astype(np.float64)
    x = np.random.default_rng(0).normal(size=(2, 6, 6))
    out = block.forward(x)
    assert out.shape == (4, 3, 3) and np.all(out >= 0)
    assert block.backward(np.ones_like(out)).shape == x.shape
    np.testing.assert_allclose(block.forward(x[None])[0], out)


def residual_net(dropout=0.0):
    """A small ResNet: stem, an identity block (with dropout inside), a strided block with a projection, head."""
    body = [ConvLayer(3, 6, 6, padding=1, activation="linear"), BatchNorm(6), Activation("relu"),
            *([Dropout(dropout)] if dropout else []), ConvLayer(3, 6, 6, padding=1, activation="linear"), BatchNorm(6)]
    return [ConvLayer(3, 3, 6, padding=1), Residual(body), basic_block(6, 8, 2), PoolingLayer(),
            GlobalAveragePooling(), MultiClassDense(8, 3)]


def train(layers, engine="fast", threads=1, dtype="float64", epochs=2):
    network = Network(layers, dtype=dtype, engine=engine)
    rng = np.random.default_rng(0)
    X, y = rng.random((64, 3, 10, 10)), rng.integers(0, 3, 64)
    parallel.set_num_threads(threads)
    try:
        history = network.train(X, y, epochs, 0.05, "categorical_crossentropy", log_file=None, batch_size=32,
                                seed=5, verbose=0)
    finally:
        parallel.set_num_threads(None)
    return network, history, X


def test_two_threads_train_as_one_with_batchnorm_and_dropout_inside_the_blocks(monkeypatch):
    from scratchcnn.engine import threads
    shards = []
    original = threads.TrainingShards.run
    monkeypatch.setattr(threads.TrainingShards, "run",
                        lambda self, size, bounds, work: shards.append(len(bounds)) or original(self, size, bounds, work))
    one, one_history, X = train(residual_net(dropout=0.3), threads=1)
    two, two_history, _ = train(residual_net(dropout=0.3), threads=2)
    assert 2 in shards  # the batches really were split
    np.testing.assert_allclose(two_history.history["loss"], one_history.history["loss"], rtol=1e-10)
    for ours, theirs in zip(two.get_weights(), one.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(two.predict(X), one.predict(X), rtol=1e-9, atol=1e-12)


def test_a_replica_shares_the_parameter_values_and_keeps_its_own_gradients_and_caches():
    block = basic_block(2, 4, 2)
    twin = replica(block)
    assert all(a is not b and a.value is b.value for a, b in zip(block.parameters(), twin.parameters(), strict=True))
    assert all(a is not b for a, b in zip(block.body + block.shortcut, twin.body + twin.shortcut))
    x = np.random.default_rng(0).random((3, 2, 6, 6), dtype=np.float32)
    block.forward(x, training=True)
    twin.forward(x[:2], training=True)
    assert block.backward(np.ones((3, 4, 3, 3), np.float32)).shape == (3, 2, 6, 6)  # its own caches
    assert block.body[0].weight.grad is not twin.body[0].weight.grad


def test_the_network_gradient_check_passes_with_dropout_inside_a_block():
    network = Network(residual_net(dropout=0.3), dtype="float64").initialize(0)
    X = np.random.default_rng(1).random((6, 3, 10, 10))
    rows = check_gradients(network, X, np.arange(6) % 3, "categorical_crossentropy", print_fn=None, max_checks=6)
    assert len(rows) == len(network.parameters())
    # A conv bias before BatchNorm has no effect on the loss (analytic and numerical gradients are both ~0)
    assert max(row["max_relative_error"] for row in rows if row["parameter"] != "bias") < 1e-5


def test_parameters_buffers_and_dtype_reach_the_inner_layers():
    block = basic_block(2, 4, 2)
    inner = block.body + block.shortcut
    assert block.parameters() == [p for layer in inner for p in layer.parameters()]
    assert [name for name, _ in block.named_parameters()][:3] == ["body.0.weight", "body.0.bias", "body.1.weight"]
    assert list(block.buffers())[-1] == "shortcut.1.running_var"
    block.set_buffer("shortcut.1.running_mean", np.full(4, 2.0))
    assert np.all(block.shortcut[1].running_mean == 2.0)
    with pytest.raises(KeyError):
        block.set_buffer("body.7.running_mean", np.zeros(4))
    block.astype(np.float64)
    assert all(p.value.dtype == np.float64 for p in block.parameters())
    before = block.body[0].weight.value.copy()
    block.reset_parameters(np.random.default_rng(3))
    assert not np.allclose(before, block.body[0].weight.value)


def test_the_config_round_trips_through_json():
    block = basic_block(2, 4, 2, activation="leakyrelu")
    config = json.loads(json.dumps(block.get_config()))
    assert config["body"][0] == {"class_name": "ConvLayer", "config": block.body[0].get_config()}
    rebuilt = LAYER_CLASSES["Residual"].from_config(config)
    assert rebuilt.get_config() == block.get_config() and rebuilt.activation == "leakyrelu"
    assert Residual.from_config(Residual([Dense(3, 3)]).get_config()).shortcut is None
    with pytest.raises(ValueError, match=r"body\[0\] must be a built-in layer"):
        Residual.from_config({"body": [{"class_name": "Nope", "config": {}}]})


def test_a_residual_model_saves_and_loads(tmp_path):
    network, _, X = train(residual_net(dropout=0.2), epochs=1)
    network.save_model(tmp_path / "res.model")
    loaded = load_model(tmp_path / "res.model")
    np.testing.assert_array_equal(loaded.predict(X), network.predict(X))
    assert loaded.optimizer.get_config() == network.optimizer.get_config()
    network.save_weights(tmp_path / "res.weights")
    fresh = Network(residual_net(dropout=0.2), dtype="float64")
    np.testing.assert_array_equal(fresh.load_weights(tmp_path / "res.weights").predict(X), network.predict(X))


def rewrite_config(source, target, change):
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    change(config)
    members["config.json"] = json.dumps(config)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_the_loader_sizes_the_layers_inside_a_block_before_building_them(tmp_path):
    network = Network(residual_net(), dtype="float32")
    network.save_model(tmp_path / "res.model")

    def inflate(config):  # a hostile file: an inner convolution of 10**6 x 10**6 filters
        config["layers"][1]["config"]["body"][0]["config"].update(depth=10**6, num_filters=10**6)

    rewrite_config(tmp_path / "res.model", tmp_path / "big.model", inflate)
    with pytest.raises(ModelFileError, match=r"Layer 1 \(Residual\) has a config implying [\d,]+ weight values"):
        load_model(tmp_path / "big.model")

    def unsized(config):  # a field the size cannot be read from, before an inner layer that would be built
        config["layers"][2]["config"]["body"][3]["config"]["num_filters"] = "many"

    rewrite_config(tmp_path / "res.model", tmp_path / "odd.model", unsized)
    with pytest.raises(ModelFileError, match=r"body\[3\] \(ConvLayer\) has a config with missing or non-integer"):
        load_model(tmp_path / "odd.model")

    def unknown(config):
        config["layers"][2]["config"]["shortcut"][0]["class_name"] = "Lambda"

    rewrite_config(tmp_path / "res.model", tmp_path / "unknown.model", unknown)
    with pytest.raises(ModelFileError, match=r"shortcut\[0\] must be a built-in layer"):
        load_model(tmp_path / "unknown.model")


def test_the_summary_shows_the_inner_layers_indented():
    network = Network([ConvLayer(3, 3, 4, padding=1), basic_block(4, 8, 2), Flatten(), Dense(8 * 4 * 4, 2)])
    table = network.summary(input_shape=(3, 8, 8), print_fn=None)
    lines = table.splitlines()
    block_row = next(i for i, line in enumerate(lines) if line.startswith("Residual"))
    block_params = sum(p.size for p in network.layers[1].parameters()) + 3 * 8 * 2  # three BatchNorms, 16 buffers each
    assert f"{block_params:,}" in lines[block_row] and "(4, 8, 8)" in lines[block_row]
    assert lines[block_row + 1].split()[:3] == ["body:", "ConvLayer", "(4,"]
    assert lines[block_row + 7].startswith("  shortcut: BatchNorm")
    assert f"Total params: {network.count_params() + network.count_buffers():,}" in table
