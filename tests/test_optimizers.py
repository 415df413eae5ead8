"""Optimisers: ten steps agree with torch.optim in float64; hyperparameters are validated; state round-trips."""
import copy
import json

import numpy as np
import pytest

from scratchcnn import Parameter
from scratchcnn.optimizers import SGD, Adam, RMSprop, from_config

SHAPES = [(3, 4), (5,), (2, 3, 2, 2)]
STEPS = 10

# (name, our optimiser, our kwargs, torch.optim class name, torch kwargs)
CASES = [
    ("SGD", SGD, dict(lr=0.1), "SGD", dict(lr=0.1)),
    ("SGD momentum", SGD, dict(lr=0.1, momentum=0.9), "SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD nesterov", SGD, dict(lr=0.05, momentum=0.9, nesterov=True), "SGD",
     dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD weight_decay", SGD, dict(lr=0.1, weight_decay=0.05), "SGD", dict(lr=0.1, weight_decay=0.05)),
    ("SGD nesterov weight_decay", SGD, dict(lr=0.05, momentum=0.5, nesterov=True, weight_decay=0.1), "SGD",
     dict(lr=0.05, momentum=0.5, nesterov=True, weight_decay=0.1)),
    ("Adam", Adam, dict(lr=0.01), "Adam", dict(lr=0.01)),
    ("Adam betas eps", Adam, dict(lr=0.02, betas=(0.8, 0.99), eps=1e-4), "Adam",
     dict(lr=0.02, betas=(0.8, 0.99), eps=1e-4)),
    ("Adam weight_decay", Adam, dict(lr=0.01, weight_decay=0.1), "Adam", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", Adam, dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), "AdamW",
     dict(lr=0.01, weight_decay=0.1)),
    ("AdamW no weight_decay", Adam, dict(lr=0.01, decoupled_weight_decay=True), "AdamW",
     dict(lr=0.01, weight_decay=0.0)),
    ("RMSprop", RMSprop, dict(lr=0.01), "RMSprop", dict(lr=0.01)),
    ("RMSprop alpha eps", RMSprop, dict(lr=0.02, alpha=0.9, eps=1e-4), "RMSprop", dict(lr=0.02, alpha=0.9, eps=1e-4)),
    ("RMSprop momentum", RMSprop, dict(lr=0.01, momentum=0.9), "RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop centered", RMSprop, dict(lr=0.01, centered=True), "RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop everything", RMSprop, dict(lr=0.005, alpha=0.95, momentum=0.5, centered=True, weight_decay=0.1),
     "RMSprop", dict(lr=0.005, alpha=0.95, momentum=0.5, centered=True, weight_decay=0.1)),
]


def initial_values_and_gradients(seed=0, steps=STEPS):
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=shape) for shape in SHAPES]
    gradients = [[rng.normal(size=shape) for shape in SHAPES] for _ in range(steps)]
    return values, gradients


def run_ours(optimizer, params, gradients):
    for step_gradients in gradients:
        for param, grad in zip(params, step_gradients):
            param.grad = grad.copy()
        optimizer.step()
    return [param.value for param in params]


@pytest.mark.parametrize("name, ours_class, ours_kwargs, torch_name, torch_kwargs", CASES,
                         ids=[case[0] for case in CASES])
def test_matches_torch_optim(torch, relative_errors, name, ours_class, ours_kwargs, torch_name, torch_kwargs):
    values, gradients = initial_values_and_gradients()
    params = [Parameter(value.copy()) for value in values]
    ours = run_ours(ours_class(params, **ours_kwargs), params, gradients)

    tensors = [torch.tensor(value, requires_grad=True) for value in values]
    optimizer = getattr(torch.optim, torch_name)(tensors, **torch_kwargs)
    for step_gradients in gradients:
        for tensor, grad in zip(tensors, step_gradients):
            tensor.grad = torch.tensor(grad)
        optimizer.step()

    for value, ours_value, tensor in zip(values, ours, tensors):
        theirs = tensor.detach().numpy()
        assert not np.allclose(theirs, value)  # the optimiser did move the weights
        error = float(np.abs(ours_value - theirs).max() / np.abs(theirs).max())
        relative_errors[f"optimizer {name}"] = max(relative_errors.get(f"optimizer {name}", 0.0), error)
        assert error <= 1e-6, f"{name}: relative error {error:.2e} against torch.optim.{torch_name}"


@pytest.mark.parametrize("make", [lambda p: SGD(p, lr=0.1, momentum=0.9), lambda p: Adam(p, weight_decay=0.1),
                                  lambda p: Adam(p, weight_decay=0.1, decoupled_weight_decay=True),
                                  lambda p: RMSprop(p, momentum=0.9, centered=True, weight_decay=0.1)])
def test_float32_parameters_stay_float32(make):
    params = [Parameter(np.ones((2, 3), dtype=np.float32))]
    params[0].grad = np.full((2, 3), 0.5, dtype=np.float64)
    make(params).step()
    assert params[0].value.dtype == np.float32
    assert np.all(params[0].value < 1)


def test_zero_grad_clears_every_gradient():
    params = [Parameter(np.ones(3)), Parameter(np.ones((2, 2)))]
    for param in params:
        param.grad = np.ones_like(param.value)
    SGD(params, lr=0.1).zero_grad()
    for param in params:
        assert param.grad.shape == param.value.shape and not param.grad.any()


# ---------------------------------------------------------------------------------------------
# hyperparameter validation
# ---------------------------------------------------------------------------------------------

def one_parameter():
    return [Parameter(np.zeros(3))]


@pytest.mark.parametrize("make, expected_in_message", [
    (lambda: SGD(one_parameter(), lr=0), ["lr", "lr=0"]),
    (lambda: SGD(one_parameter(), lr=-0.1), ["lr", "lr=-0.1"]),
    (lambda: SGD(one_parameter(), lr=float("nan")), ["lr", "nan"]),
    (lambda: SGD(one_parameter(), lr="0.1"), ["lr", "'0.1'"]),
    (lambda: SGD(one_parameter(), lr=0.1, momentum=-0.5), ["momentum", "momentum=-0.5"]),
    (lambda: SGD(one_parameter(), lr=0.1, nesterov=True), ["nesterov", "momentum"]),
    (lambda: SGD(one_parameter(), lr=0.1, weight_decay=-1), ["weight_decay", "weight_decay=-1"]),
    (lambda: Adam(one_parameter(), lr=0), ["lr", "lr=0"]),
    (lambda: Adam(one_parameter(), betas=(1.0, 0.999)), ["betas", "1.0"]),
    (lambda: Adam(one_parameter(), betas=(0.9, 1.5)), ["betas", "1.5"]),
    (lambda: Adam(one_parameter(), betas=(-0.1, 0.999)), ["betas", "-0.1"]),
    (lambda: Adam(one_parameter(), betas=(0.9,)), ["betas", "(0.9,)"]),
    (lambda: Adam(one_parameter(), eps=-1e-8), ["eps", "-1e-08"]),
    (lambda: Adam(one_parameter(), weight_decay=-0.1), ["weight_decay", "-0.1"]),
    (lambda: RMSprop(one_parameter(), lr=0), ["lr", "lr=0"]),
    (lambda: RMSprop(one_parameter(), alpha=1.0), ["alpha", "alpha=1.0"]),
    (lambda: RMSprop(one_parameter(), alpha=-0.5), ["alpha", "alpha=-0.5"]),
    (lambda: RMSprop(one_parameter(), eps=-1.0), ["eps", "eps=-1.0"]),
    (lambda: RMSprop(one_parameter(), momentum=-0.9), ["momentum", "momentum=-0.9"]),
    (lambda: RMSprop(one_parameter(), weight_decay=float("inf")), ["weight_decay", "inf"]),
    (lambda: RMSprop(one_parameter(), centered="yes"), ["centered", "'yes'"]),
], ids=lambda value: None if callable(value) else "-".join(value))
def test_invalid_hyperparameters_raise_value_error(make, expected_in_message):
    with pytest.raises(ValueError) as error:
        make()
    for text in expected_in_message:
        assert text in str(error.value)


@pytest.mark.parametrize("optimizer_class", [SGD, Adam, RMSprop])
def test_empty_parameter_list_raises_value_error(optimizer_class):
    with pytest.raises(ValueError, match="(?i)empty parameter"):
        optimizer_class([], lr=0.1)


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_boundary_hyperparameters_are_accepted(optimizer_class):
    """betas of exactly 0 and momentum/weight_decay of 0 are valid, as in torch.optim."""
    if optimizer_class is SGD:
        SGD(one_parameter(), lr=1e-12, momentum=0.0, weight_decay=0.0)
    else:
        Adam(one_parameter(), lr=1e-12, betas=(0.0, 0.0), eps=0.0, weight_decay=0.0)


def test_numpy_scalar_hyperparameters_are_accepted():
    """A learning rate computed with NumPy (np.float32) is a number > 0 and must be accepted, like np.int64 sizes."""
    assert SGD(one_parameter(), lr=np.float32(0.5)).lr == 0.5
    assert Adam(one_parameter(), lr=np.float32(0.5), betas=(np.float32(0.5), np.float32(0.5))).betas == (0.5, 0.5)


# ---------------------------------------------------------------------------------------------
# state_dict round trip
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, ours_class, ours_kwargs", [case[:3] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_state_dict_round_trip_continues_identically(name, ours_class, ours_kwargs):
    values, gradients = initial_values_and_gradients(seed=1)
    params = [Parameter(value.copy()) for value in values]
    optimizer = ours_class(params, **ours_kwargs)
    run_ours(optimizer, params, gradients[:5])

    # Save (a deep copy, as writing to disk would) and restore into a fresh optimiser over copied weights.
    saved = copy.deepcopy(optimizer.state_dict())
    restored_params = [Parameter(param.value.copy()) for param in params]
    restored = from_config(restored_params, saved["config"])
    restored.load_state_dict(saved)
    assert restored.get_config() == optimizer.get_config()
    assert restored.iterations == 5

    continued = run_ours(optimizer, params, gradients[5:])
    resumed = run_ours(restored, restored_params, gradients[5:])
    for a, b in zip(continued, resumed):
        np.testing.assert_array_equal(a, b)


def test_fresh_optimizer_without_loaded_state_diverges():
    """Guards the round-trip test above: skipping load_state_dict must change the trajectory."""
    values, gradients = initial_values_and_gradients(seed=1)
    params = [Parameter(value.copy()) for value in values]
    optimizer = Adam(params, lr=0.01)
    run_ours(optimizer, params, gradients[:5])
    fresh_params = [Parameter(param.value.copy()) for param in params]
    continued = run_ours(optimizer, params, gradients[5:])
    fresh = run_ours(Adam(fresh_params, lr=0.01), fresh_params, gradients[5:])
    assert not np.allclose(continued[0], fresh[0])


def test_get_config_round_trips_through_json():
    for optimizer in [SGD(one_parameter(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
                      Adam(one_parameter(), lr=0.002, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1,
                           decoupled_weight_decay=True),
                      RMSprop(one_parameter(), lr=0.003, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.5,
                              centered=True)]:
        config = json.loads(json.dumps(optimizer.get_config()))
        rebuilt = from_config(one_parameter(), config)
        assert type(rebuilt) is type(optimizer)
        assert rebuilt.get_config() == optimizer.get_config()


def test_rmsprop_defaults_are_torchs(torch):
    ours = RMSprop(one_parameter())
    theirs = torch.optim.RMSprop([torch.zeros(3, requires_grad=True)]).defaults
    assert (ours.lr, ours.alpha, ours.eps, ours.momentum, ours.centered) == (
        theirs["lr"], theirs["alpha"], theirs["eps"], theirs["momentum"], theirs["centered"])


@pytest.mark.parametrize("options, state_names", [({}, {"square_avg"}), ({"momentum": 0.9}, {"square_avg", "momentum_buffer"}),
                                                  ({"centered": True}, {"square_avg", "grad_avg"})])
def test_rmsprop_state_is_saved_with_the_model_and_training_resumes_identically(tmp_path, options, state_names):
    """The model file keeps RMSprop's per-parameter state, so a loaded model continues exactly as the original."""
    from scratchcnn import Dense, MultiClassDense, Network, load_model
    from scratchcnn.losses import categorical_crossentropy as cce, categorical_crossentropy_derivative as cce_d

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(24, 4)).astype(np.float32), rng.integers(0, 3, size=24)
    network = Network([Dense(4, 5), MultiClassDense(5, 3)])
    network.train(X, y, 2, 0.01, cce, cce_d, log_file=None, batch_size=8, optimizer=RMSprop(network.parameters(),
                  lr=0.01, **options), seed=0, verbose=0)
    network.save_model(str(tmp_path / "rms.model"))
    loaded = load_model(str(tmp_path / "rms.model"))
    assert isinstance(loaded.optimizer, RMSprop) and set(loaded.optimizer.state[0]) == state_names
    assert loaded.optimizer.get_config() == network.optimizer.get_config()
    for net in (network, loaded):
        net.train(X, y, 4, None, cce, cce_d, log_file=None, batch_size=8, optimizer=net.optimizer, seed=0, verbose=0,
                  initial_epoch=2)
    for a, b in zip(network.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
