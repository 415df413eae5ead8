"""Residual: a block of layers with a shortcut around it, out = activation(body(x) + shortcut(x)) (He et al., 2016)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .base import ActivatedLayer, BuiltinLayer, Layer, Parameter


class Residual(ActivatedLayer):
    """(N, *shape) -> (N, *body output shape): activation(body(x) + shortcut(x)), so a Network stays a sequence.

    `body` is a list of built-in layers; `shortcut` is None (the identity: the body must keep
    the input's shape) or a list of built-in layers that maps the input to the body's output
    shape, e.g. [ConvLayer(1, 64, 128, stride=2, activation="linear")] when the body halves the
    image and widens it. A ResNet basic block:

        Residual([ConvLayer(3, 64, 64, padding=1, activation="linear"), BatchNorm(64), Activation("relu"),
                  ConvLayer(3, 64, 64, padding=1, activation="linear"), BatchNorm(64)], activation="relu")

    Backward: the gradient of the sum reaches both branches, and the input's gradient is the
    sum of theirs, d body / dx + d shortcut / dx (the identity's is the gradient itself).

    In a network each sequence runs by its own plan (`LayerPlan.inner`, made by engine/plan.py:
    the fast engine crops and defers ReLUs inside the body as it does outside); the thread split
    reaches the Dropout and BatchNorm layers inside it. Parameters, buffers, configs and
    summaries list the body's layers first, then the shortcut's.
    """

    def __init__(self, body: Sequence[Layer], shortcut: Sequence[Layer] | None = None,
                 activation: str | None = "relu") -> None:
        super().__init__(activation)
        self.body = _check_sequence("body", body)
        self.shortcut = None if shortcut is None else _check_sequence("shortcut", shortcut)
        if self.activation == "softmax":
            raise ValueError("Received activation='softmax' for a Residual, expected an element-wise activation "
                             "(relu, leakyrelu, sigmoid, tanh or linear).")
        self.sample_ndim = next((layer.sample_ndim for layer in self.body if layer.sample_ndim is not None), None)
        self._passes: Any = None

    def sequences(self) -> dict[str, list[Layer]]:
        """{'body': layers} and, with a shortcut, {'shortcut': layers}: the sequences a plan is made for."""
        return {"body": self.body} if self.shortcut is None else {"body": self.body, "shortcut": self.shortcut}

    # -- shapes ------------------------------------------------------------------------------------
    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        input_shape = tuple(input_shape)
        body = _chain("body", self.body, input_shape)
        shortcut = input_shape if self.shortcut is None else _chain("shortcut", self.shortcut, input_shape)
        if body != shortcut:
            what = "the identity shortcut passes the input on" if self.shortcut is None else "its shortcut gives"
            raise ValueError(f"Residual's body gives a per-sample output of shape {body} for an input of shape "
                             f"{input_shape}, but {what} as {shortcut}: the two are added, so they must match "
                             "(give a shortcut, e.g. a 1x1 ConvLayer with the body's stride and output channels).")
        return body

    # -- forward and backward ----------------------------------------------------------------------
    def _linear_forward(self, x, training, plan):
        from ..engine.passes import Passes  # the engine imports the layers

        plans: Any = plan.inner if plan.inner is not None else self._solo_plans(x.shape[1:], plan)
        self._passes = {name: Passes(sequence, plans[name]) for name, sequence in self.sequences().items()}
        body = self._passes["body"].forward(x, training)
        shortcut = x if self.shortcut is None else self._passes["shortcut"].forward(x, training)
        return body + shortcut                                                # a fresh array: (N, *shape)

    def _linear_backward(self, grad_z, plan):
        grad_body = self._passes["body"].backward(grad_z)
        if self.shortcut is None:
            grad_shortcut = grad_z
        else:
            grad_shortcut = self._passes["shortcut"].backward(grad_z)
        if grad_body is None:  # the network's first layer in training: no input gradient is needed
            return None
        return grad_body + grad_shortcut

    def _solo_plans(self, input_shape, plan):
        """The sequences' plans for a call outside a network (on the plan's engine)."""
        from ..engine.plan import Plan, sequence_input_shapes

        engine = "reference" if plan.reference else "fast"
        return {name: Plan(sequence, sequence_input_shapes(sequence, input_shape), engine)
                for name, sequence in self.sequences().items()}

    # -- parameters, buffers, configs --------------------------------------------------------------
    def _inner_layers(self):
        """(prefix, layer) for every layer of the body, then of the shortcut: 'body.0.', ..., 'shortcut.0.'."""
        return [(f"{name}.{index}.", layer) for name, sequence in self.sequences().items()
                for index, layer in enumerate(sequence)]

    def parameters(self) -> list[Parameter]:
        return [param for _, layer in self._inner_layers() for param in layer.parameters()]

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        return [(prefix + name, param) for prefix, layer in self._inner_layers() for name, param in
                layer.named_parameters()]

    def reset_parameters(self, rng: np.random.Generator | int | None = None) -> None:
        from .. import initializers

        rng = initializers.as_generator(rng)
        for _, layer in self._inner_layers():
            layer.reset_parameters(rng)

    def buffers(self) -> dict[str, np.ndarray]:
        return {prefix + name: value for prefix, layer in self._inner_layers() for name, value in layer.buffers().items()}

    def set_buffer(self, name: str, value: np.ndarray) -> None:
        for prefix, layer in self._inner_layers():
            if name.startswith(prefix):
                return layer.set_buffer(name[len(prefix):], value)
        raise KeyError(f"{self.name} has no buffer {name!r}")

    def astype(self, dtype: Any) -> Residual:
        for _, layer in self._inner_layers():
            layer.astype(dtype)
        return self

    def get_config(self) -> dict[str, Any]:
        return {"body": _configs(self.body), "shortcut": None if self.shortcut is None else _configs(self.shortcut),
                "activation": self.activation}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Residual:
        """Rebuild from get_config(): the inner layers from their {'class_name', 'config'} entries."""
        config = dict(config)
        for name in ("body", "shortcut"):
            if config.get(name) is not None:
                config[name] = _layers_from_configs(name, config[name])
        return cls(**config)

    def __repr__(self):
        shortcut = "" if self.shortcut is None else f", shortcut={self.shortcut!r}"
        return f"Residual({self.body!r}{shortcut}, activation={self.activation!r})"


def _check_sequence(name, layers):
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError(f"Received an invalid value for {name}, expected a non-empty list of layers. "
                         f"Received: {name}={layers!r}")
    for index, layer in enumerate(layers):
        if not isinstance(layer, BuiltinLayer):
            raise ValueError(f"Received {type(layer).__name__} at {name}[{index}], expected a built-in scratchcnn "
                             "layer: a Residual runs its layers on both engines and across threads.")
    return list(layers)


def _chain(name, layers, shape):
    """The per-sample output shape of a sequence, or a ValueError naming the layer that does not fit."""
    for index, layer in enumerate(layers):
        try:
            shape = tuple(layer.output_shape(shape))
        except ValueError as error:
            raise ValueError(f"Residual's {name}[{index}] ({layer!r}) does not chain: {error}") from None
    return shape


def inner_shapes(layers, input_shape):
    """[(input shape, output shape)] of each layer of a sequence fed per-sample input_shape."""
    shapes, shape = [], tuple(input_shape)
    for layer in layers:
        out = tuple(layer.output_shape(shape))
        shapes.append((shape, out))
        shape = out
    return shapes


def _configs(layers):
    return [{"class_name": layer.name, "config": layer.get_config()} for layer in layers]


def _layers_from_configs(name, entries):
    from . import LAYER_CLASSES

    if not isinstance(entries, list) or not entries:
        raise ValueError(f"Received an invalid Residual {name}, expected a non-empty list of "
                         f"{{'class_name': ..., 'config': {{...}}}} entries. Received: {str(entries)[:200]}")
    layers = []
    for index, entry in enumerate(entries):
        class_name = entry.get("class_name") if isinstance(entry, dict) else None
        if class_name not in LAYER_CLASSES or not isinstance(entry.get("config"), dict):
            raise ValueError(f"Residual {name}[{index}] must be a built-in layer's {{'class_name', 'config'}}, "
                             f"one of {sorted(LAYER_CLASSES)}. Received: {str(entry)[:200]}")
        layers.append(LAYER_CLASSES[class_name].from_config(entry["config"]))
    return layers
