"""Network: the report's sequential model, trained with mini-batches, optimisers and callbacks."""
from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import losses, network_data, optimizers, parallel, training
from . import metrics as metrics_module
from .backend import xp
from .engine import Passes, Plan, check_engine
from .engine.threads import TrainingShards, predict_pieces
from .initializers import as_generator
from .inputs import all_finite, as_float_array, prepare_targets
from .checks import check_int, check_seed
from .callbacks import Callback, History
from .layers import Layer
from .layers.base import BuiltinLayer, Parameter
from .tta import averaged_outputs, check_tta

Seed = Union[int, np.random.Generator, None]
LossArgument = Union[str, Callable]                            # a loss's name or function
MetricsArgument = Union[str, Callable, Sequence[Any], None]    # names, Metrics or functions
PREDICT_KEEP_BYTES = 32 << 20  # a layer's inference buffers past this are freed at the end of predict
_DEFAULT_LEARNING_RATES = {"sgd": 0.01, "adam": 0.001, "rmsprop": 0.001}  # Keras's


class Network:
    """A stack of layers applied in order: (N, *input_shape) -> (N, *output_shape).

    The report's API (`add`, `summary`, `train`, `evaluate`, `save_model`,
    `load_model`) plus `predict` and Keras-style training options.
    """

    def __init__(self, layers: Iterable[Layer] | None = None, dtype: DTypeLike = "float32", engine: str = "fast"
                 ) -> None:
        self.engine = engine          # 'fast' or 'reference' (see the property)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"Received an invalid value for dtype, expected 'float32' or 'float64'. Received: dtype={dtype!r}")
        self.layers: list[Layer] = []
        self.optimizer: optimizers.Optimizer | None = None
        self.trained = False          # once trained or loaded, a seed no longer re-draws the weights
        self.stop_training = False    # callbacks set this to end training after the current epoch
        self.stop_reason: str | None = None  # why the last run stopped (a NaN, Ctrl-C, a callback), or None
        self.metadata: dict[str, Any] = {}  # JSON-serialisable notes saved with the model (input shape, class names)
        self._compiled: Compiled | None = None  # what compile() chose, for fit()
        self._unbatched = False       # whether the last public forward() took a single sample
        for layer in layers or []:
            self.add(layer)

    # -- building -------------------------------------------------------------
    def add(self, layer: Layer) -> Network:
        """Append a layer; its parameters take the network's dtype."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Network.add expects a scratchcnn Layer. Received: {type(layer).__name__}")
        self.layers.append(layer.astype(self.dtype))
        self.optimizer = None  # the parameter list changed
        self._plans: dict[tuple, Any] = {}
        return self

    def parameters(self) -> list[Parameter]:
        return [param for layer in self.layers for param in layer.parameters()]

    def count_params(self) -> int:
        return sum(param.size for param in self.parameters())

    def count_buffers(self) -> int:
        """Non-trainable values (e.g. BatchNorm's running statistics)."""
        return sum(int(value.size) for layer in self.layers for value in layer.buffers().values())

    def initialize(self, seed: Seed = None) -> Network:
        """Re-draw every layer's initial weights from one seeded generator."""
        rng = as_generator(seed)
        for layer in self.layers:
            layer.reset_parameters(rng)
        return self

    def build(self, input_shape: Sequence[int]) -> Network:
        """Create the weights of the layers that learn their input size (Dense(units), ConvLayer(k, num_filters=n),
        BatchNorm()) for per-sample inputs of input_shape; train, predict and summary do it on first use."""
        self.output_shapes(input_shape)
        return self

    def output_shapes(self, input_shape: Sequence[int]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """Per-sample (input, output) shape of every layer; ValueError naming the first layer that does not chain.

        A layer not built yet (see build) is built here, for the input shape it gets."""
        network_data.require_layers(self)
        shapes, shape = [], tuple(input_shape)
        for index, layer in enumerate(self.layers):
            try:
                if not layer.built:
                    layer.build(shape)
                    layer.astype(self.dtype)
                    self.optimizer, self._plans = None, {}  # the parameter list changed
                out = tuple(layer.output_shape(shape))
            except ValueError as error:
                raise ValueError(f"Layer {index} ({layer!r}) does not chain: {error}") from None
            shapes.append((shape, out))
            shape = out
        return shapes

    def summary(self, sample: ArrayLike | None = None, input_shape: Sequence[int] | None = None,
                print_fn: Callable[[str], object] | None = print) -> str | None:
        """Print a table of every layer's input and output shape and parameter count (as Keras, returning None);
        with print_fn=None, return the table instead."""
        from .summary import summary_table

        network_data.require_layers(self)
        if input_shape is None:
            if sample is None:
                raise ValueError("Network.summary needs a sample (one input or a batch) or input_shape=(C, H, W).")
            sample = as_float_array(sample, name="sample")
            input_shape = sample.shape if sample.ndim == network_data.sample_ndim(self) else sample.shape[1:]
        input_shape = tuple(input_shape)
        if not input_shape or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0
                                      for d in input_shape):
            raise ValueError(f"Received an invalid value for input_shape, expected positive integers such as "
                             f"(1, 28, 28). Received: input_shape={input_shape!r}")
        table = summary_table(self, input_shape)
        if print_fn is None:
            return table
        print_fn(table)
        return None

    def astype(self, dtype: DTypeLike) -> Network:
        self.dtype = np.dtype(dtype)
        for layer in self.layers:
            layer.astype(self.dtype)
        return self

    # -- the engine and its plans --------------------------------------------
    @property
    def engine(self) -> str:
        """'fast' (the default: scratchcnn.functional, threads, scratch memory) or 'reference' (scratchcnn.reference,
        one thread: every layer's textbook math, to step through in a debugger). Not saved with the model."""
        return self._engine

    @engine.setter
    def engine(self, engine: str) -> None:
        self._engine = check_engine(engine)
        self._plans = {}

    def _plan(self, sample_shape, kind="run", threads=1):
        """The execution plan for per-sample inputs of sample_shape, made once and kept (with its scratch memory):
        kind 'run' (forward, backward, predict) or 'train' (the TrainingShards of a training run on threads)."""
        key = (kind, tuple(sample_shape), threads, tuple(map(id, self.layers)))
        plan = self._plans.get(key)
        if plan is None:
            input_shapes = [shape_in for shape_in, _ in self.output_shapes(sample_shape)]
            plan = Plan(self.layers, input_shapes, self.engine, training=kind == "train")
            if kind == "train":
                plan = TrainingShards(self.layers, plan, threads)
            self._plans = {k: v for k, v in self._plans.items() if k[3] == key[3]}  # forget removed layers' plans
            self._plans[key] = plan
        return plan

    # -- forward and backward -------------------------------------------------
    def forward(self, x: ArrayLike, training: bool = False) -> np.ndarray:
        """x (N, *input_shape), or one sample, -> outputs (N, *output_shape), checked against every layer."""
        checked = network_data.check_inputs(self, x, "x", allow_unbatched=True)
        self._unbatched = checked.ndim == network_data.sample_ndim(self)
        batch = checked[None] if self._unbatched else checked
        self._passes = Passes(self.layers, self._plan(batch.shape[1:]))
        out = self._passes.forward(batch, training)
        return out[0] if self._unbatched else out

    def __call__(self, x: ArrayLike, training: bool = False) -> np.ndarray:
        """network(x) is network.forward(x): outputs (N, *output_shape) for x (N, *input_shape), or one sample."""
        return self.forward(x, training)

    def backward(self, grad_output: ArrayLike, from_logits: bool = False) -> np.ndarray | None:
        """Back-propagate d loss / d output of the last forward (or, with from_logits, d loss / d the last layer's
        pre-activation); sets every parameter's .grad and returns d loss / d input."""
        if getattr(self, "_passes", None) is None:
            raise RuntimeError("Network.backward needs a forward pass first: call network.forward(x) before it.")
        grad_output = as_float_array(grad_output, name="grad_output")
        grad_input = self._passes.backward(grad_output[None] if self._unbatched else grad_output, from_logits)
        return grad_input[0] if (self._unbatched and grad_input is not None) else grad_input

    def predict(self, X: ArrayLike, batch_size: int = 256, distributed: Any = False, tta: str | None = None
                ) -> np.ndarray:
        """Outputs for X (N, *input_shape), computed batch by batch so memory stays flat for a large X.

        tta='flip' averages each image's outputs with its horizontal mirror's (scratchcnn/tta.py).
        With distributed=True (every process of an MPI job calls it with the same X), each
        process computes its share of the rows and every one returns all the outputs.
        """
        batch_size, tta = check_int("batch_size", batch_size), check_tta(tta)
        checked = network_data.check_inputs(self, X, "X", allow_unbatched=True, check_values=False)
        unbatched = checked.ndim == network_data.sample_ndim(self)
        outputs = averaged_outputs(lambda images: self._predict_batches(images, batch_size, "X", distributed),
                                   checked[None] if unbatched else checked, tta)
        return outputs[0] if unbatched else outputs

    def _predict_batches(self, X, batch_size, name=None, distributed=False):
        """Outputs for a shape-checked batch X, batch_size samples at a time, spread over the threads
        (engine/threads.py); with `name`, each piece of X is checked for NaN and inf just before it runs."""
        if distributed:  # each process of an MPI job computes its rows; all of them get every output
            from .distributed import connect
            return connect(distributed).gather_rows(X, lambda rows: self._predict_batches(rows, batch_size, name),
                                                    self.output_shapes(X.shape[1:])[-1][1], self.dtype)
        outputs = xp.empty((len(X), *self.output_shapes(X.shape[1:])[-1][1]), dtype=self.dtype)
        threads = 1
        if self.engine == "fast" and all(isinstance(layer, BuiltinLayer) for layer in self.layers):
            threads = len(parallel.shard_bounds(min(len(X), batch_size), math.prod(X.shape[1:])))
        plan = self._plan(X.shape[1:])

        def check_piece(piece):
            if not all_finite(piece):
                raise ValueError(f"Received NaN or inf in {name}, expected finite numbers.")

        predict_pieces(Passes(self.layers, plan), X, outputs, batch_size, threads,
                       check_piece if name is not None else None)
        for workspace in plan.workspaces():  # kept for the next call (see free_scratch), unless large
            if workspace.nbytes > PREDICT_KEEP_BYTES:
                workspace.clear()
        return outputs

    def free_scratch(self) -> None:
        """Let go of the scratch memory that the fast engine keeps for the next call.

        predict's pieces write their columns, and the layer outputs of up to 16 MiB
        (functional/workspace.py), into buffers the plan keeps (each thread its own), and
        the next call reuses them: memory the kernel has already mapped, so no page
        faults. predict lets go of a layer's buffers when they pass PREDICT_KEEP_BYTES;
        this returns the rest.
        """
        self._plans = {}

    def evaluate(self, X: Any, y: ArrayLike | None = None, loss_fn: LossArgument | None = None, batch_size: int = 256,
                 *, metrics: MetricsArgument = None, return_dict: bool = False, distributed: Any = False,
                 tta: str | None = None) -> tuple[np.ndarray, float, float | None] | dict[str, float]:
        """(outputs, loss, accuracy) on X (N, *input_shape) and labels y, as in the report.

        `loss_fn` is a loss function or its name ('categorical_crossentropy', 'mse', ...); None
        takes compile()'s. accuracy is None for a regression loss (mse, mae). With
        return_dict=True: {'loss': ..., and each metric's name: value} (metrics=None: compile()'s, else
        accuracy for a classification loss, none for regression). X may be a batch source (see train), y then None.
        tta='flip' scores the outputs averaged with those of the mirrored images (see predict).
        distributed=True splits the rows over the processes of an MPI job, as predict does.
        """
        loss_fn = network_data.compiled_loss(self, loss_fn)[0]
        batch_size, tta = check_int("batch_size", batch_size), check_tta(tta)
        if training.is_batch_source(X):
            X, y = network_data.gather_source(self, X, y)
        else:
            if y is None:
                raise ValueError("Received X without y: evaluate needs the labels (or a batch source as X).")
            X = network_data.check_inputs(self, X, "X", check_values=False)
        outputs = averaged_outputs(lambda images: self._predict_batches(images, batch_size, "X", distributed), X, tta)
        y = prepare_targets(y, outputs.shape[-1] if outputs.ndim > 1 else 1, len(outputs), self.dtype)
        loss = float(loss_fn(y, outputs))
        classification = loss_fn in losses.CLASSIFICATION or not any(loss_fn is fn for fn, _ in losses.LOSSES.values())
        if not return_dict:
            return outputs, loss, (metrics_module.accuracy(y, outputs) if classification else None)
        if metrics is None and self._compiled is not None:
            metrics = self._compiled.metrics
        chosen = network_data.chosen_metrics(metrics, loss_fn)
        return {"loss": loss, **{metric.name: metric.total(y, outputs) / len(outputs) for metric in chosen}}

    # -- training -------------------------------------------------------------
    def train(self, X: Any, y: ArrayLike | None, epochs: int, learning_rate: float | None, loss_fn: LossArgument,
              loss_fn_derivative: Callable | None = None, log_file: str | None = "default_log.txt",
              val_X: Any = None, val_y: ArrayLike | None = None, *, batch_size: int = 1,
              optimizer: str | optimizers.Optimizer = "sgd", shuffle: bool = True, seed: int | None = None,
              verbose: int = 1, callbacks: Sequence[Callback] | None = None, initial_epoch: int = 0,
              validation_split: float = 0.0, validation_data: Any = None,
              augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
              checkpoint: str | os.PathLike | None = None, metrics: MetricsArgument = None,
              class_names: Sequence[str] | None = None, distributed: Any = False) -> History:
        """Train on X (N, *input_shape) and labels y; returns a History. The loop is scratchcnn/training.py.

        The positional arguments are the report's; `loss_fn` may also be a loss's name
        ('categorical_crossentropy', 'bce_loss', 'mse', 'mae'), its derivative then looked up.
        `batch_size` defaults to 1 (the report's per-sample SGD); `optimizer` is 'sgd',
        'adam', 'rmsprop' or an Optimizer; `seed` fixes the initial weights (of a network not
        trained yet), the shuffling, dropout and augmentation; `verbose` 0/1/2 is silent, a
        progress bar, or one line per epoch; `log_file=None` writes no log. Validation data
        is `validation_data=(X, y)` (or val_X, val_y), else `validation_split` holds out the
        last fraction of X (before shuffling, as Keras does). `metrics`: names or Metrics
        reported beside the loss (default: accuracy for a classification loss, none for
        regression). `augment(x_batch, rng)` transforms each training batch;
        `checkpoint=path` saves the model atomically after every epoch; `initial_epoch=k`
        resumes a loaded model at epoch k exactly where it stopped.

        X may instead be a batch source (y None): anything with len() batches and
        source[i] -> (X_batch, y_batch), such as load_image_folder(..., lazy=True); it
        batches and shuffles itself, and data that does not fit in memory trains batch by batch.

        The first run records the input shape (and `class_names`, when given or known from
        the source) in network.metadata, so the CLI can use the saved model.

        A NaN or inf loss stops training with a warning naming the epoch and batch,
        and puts back the weights and optimiser state of the last complete epoch;
        so does Ctrl-C (KeyboardInterrupt). `network.stop_reason` says why it stopped.

        `distributed=True` trains on every process of an MPI job (`mpiexec -n N python script.py`, each
        process with the same arguments and data): `batch_size` is the whole step's, and each process
        takes its share of the rows (docs/distributed.md).
        """
        world = None
        if distributed:  # from here on, an error on this process ends every process of the job (distributed/)
            from .distributed import connect
            world = connect(distributed)
        loss_fn, loss_fn_derivative = losses.resolve(loss_fn, loss_fn_derivative)
        if validation_data is not None:
            if val_X is not None:
                raise ValueError("Received both validation_data and val_X, expected one of them.")
            val_X, val_y = network_data.validation_pair(validation_data)
        data, validation = network_data.training_data(self, X, y, val_X, val_y, validation_split)
        settings = training.Settings(check_int("epochs", epochs), check_int("batch_size", batch_size))
        settings.initial_epoch = check_int("initial_epoch", initial_epoch, minimum=0)
        if verbose not in (0, 1, 2):
            raise ValueError(f"Received an invalid value for verbose, expected 0, 1 or 2. Received: verbose={verbose!r}")
        if not isinstance(shuffle, (bool, np.bool_)):
            raise ValueError(f"Received an invalid value for shuffle, expected True or False. Received: shuffle={shuffle!r}")
        if augment is not None and not callable(augment):
            raise ValueError(f"Received an augment that is not callable, expected augment(x_batch, rng). Received: {augment!r}")
        settings.shuffle, settings.augment = bool(shuffle), augment
        network_data.check_loss(self, loss_fn, loss_fn_derivative, data)
        loss = losses.Loss(loss_fn, loss_fn_derivative, getattr(self.layers[-1], "activation", None))
        settings.metrics = tuple(network_data.chosen_metrics(metrics, loss_fn))
        settings.seed = _fresh_seed() if seed is None else int(check_seed(seed, allow_none=False) or 0)
        if world is not None and seed is None:
            settings.seed = world.broadcast(settings.seed)  # process 0's draw, for every process
        network_data.record_metadata(self, data, class_names)
        if not self.trained:
            self.initialize(settings.seed)
        self.optimizer = self._make_optimizer(optimizer, learning_rate)
        callbacks = training.make_callbacks(self, callbacks, verbose, log_file, checkpoint, settings.epochs,
                                            data.steps(settings.batch_size), settings.initial_epoch,
                                            validation is not None)
        if world is not None:
            from .distributed.training import fit
            return fit(world, self, data, validation, loss, settings, callbacks)
        shards = self._plan(data.sample_shape, "train", training.thread_count(self, loss, settings.batch_size))
        return training.fit(self, data, validation, loss, settings, callbacks, shards)

    def compile(self, optimizer: str | optimizers.Optimizer = "rmsprop", loss: LossArgument = "categorical_crossentropy",
                metrics: MetricsArgument = None, learning_rate: float | None = None) -> Network:
        """Keras's spelling: choose the optimiser ('sgd', 'adam', 'rmsprop' or an Optimizer), the loss (a name or a
        loss function) and the metrics for fit() and evaluate(); returns self.

        A named optimiser takes Keras's default learning rate (sgd 0.01, adam and rmsprop 0.001) unless
        `learning_rate` is given."""
        loss_fn, derivative = losses.resolve(loss)
        if isinstance(optimizer, str):
            name = optimizer.lower()
            if name not in _DEFAULT_LEARNING_RATES:
                raise ValueError(f"Received an invalid value for optimizer, expected 'sgd', 'adam', 'rmsprop' or an "
                                 f"Optimizer. Received: optimizer={optimizer!r}")
            learning_rate = _DEFAULT_LEARNING_RATES[name] if learning_rate is None else learning_rate
        elif not isinstance(optimizer, optimizers.Optimizer):
            raise ValueError(f"Received an invalid value for optimizer, expected 'sgd', 'adam', 'rmsprop' or an "
                             f"Optimizer. Received: optimizer={optimizer!r}")
        if learning_rate is not None:
            optimizers.check_learning_rate(learning_rate)
        chosen = None if metrics is None else network_data.chosen_metrics(metrics, loss_fn)
        self._compiled = Compiled(optimizer, learning_rate, (loss_fn, derivative), chosen)
        return self

    def fit(self, x: Any, y: ArrayLike | None = None, batch_size: int = 32, epochs: int = 1, verbose: int = 1,
            callbacks: Sequence[Callback] | None = None, validation_split: float = 0.0, validation_data: Any = None,
            shuffle: bool = True, initial_epoch: int = 0, *, seed: int | None = None,
            augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
            checkpoint: str | os.PathLike | None = None, class_names: Sequence[str] | None = None,
            log_file: str | None = None) -> History:
        """Keras's spelling of train(): after compile(), train on x and y for `epochs`; returns a History."""
        compiled = self._compiled
        if compiled is None:
            raise RuntimeError("Network.fit needs compile() first, e.g. network.compile(optimizer='adam', "
                               "loss='categorical_crossentropy', metrics=['accuracy']).")
        loss_fn, derivative = compiled.loss
        return self.train(x, y, epochs, compiled.learning_rate, loss_fn, derivative, log_file=log_file,
                          batch_size=batch_size, optimizer=compiled.optimizer, shuffle=shuffle, seed=seed,
                          verbose=verbose, callbacks=callbacks, initial_epoch=initial_epoch,
                          validation_split=validation_split, validation_data=validation_data, augment=augment,
                          checkpoint=checkpoint, metrics=compiled.metrics, class_names=class_names)

    # -- weights --------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter and buffer, layer by layer: a list of arrays."""
        return [value.copy() for layer in self.layers
                for value in [p.value for p in layer.parameters()] + list(layer.buffers().values())]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Restore arrays from get_weights(); shapes must match."""
        slots: list[tuple[Layer, Parameter | str]] = []  # a parameter, or a buffer's name
        for layer in self.layers:
            slots += [(layer, p) for p in layer.parameters()] + [(layer, name) for name in layer.buffers()]
        if len(weights) != len(slots):
            raise ValueError(f"Received {len(weights)} arrays, expected {len(slots)} (one per parameter and buffer).")
        for (layer, slot), value in zip(slots, weights):
            expected = slot.shape if isinstance(slot, Parameter) else layer.buffers()[slot].shape
            if tuple(value.shape) != tuple(expected):
                raise ValueError(f"Received an array of shape {tuple(value.shape)} for {layer.name}, expected {tuple(expected)}.")
            if isinstance(slot, Parameter):
                slot.value = xp.array(value, dtype=slot.value.dtype)
            else:
                layer.set_buffer(slot, xp.array(value, dtype=self.dtype))

    def _make_optimizer(self, optimizer, learning_rate):
        if learning_rate is not None:
            optimizers.check_learning_rate(learning_rate)
        if isinstance(optimizer, optimizers.Optimizer):
            if learning_rate is not None:
                optimizer.lr = float(learning_rate)
            return optimizer
        names = optimizers.OPTIMIZER_NAMES
        if not isinstance(optimizer, str) or names.get(optimizer.lower()) is None:
            raise ValueError(f"Received an invalid value for optimizer, expected 'sgd', 'adam', 'rmsprop' or an "
                             f"Optimizer. Received: optimizer={optimizer!r}")
        cls = names[optimizer.lower()]
        if learning_rate is None:
            raise ValueError("Received learning_rate=None, expected a positive learning rate for a named optimizer.")
        current = self.optimizer
        if isinstance(current, cls):  # keep its state (momentum, Adam moments) across train() calls
            current.lr = float(learning_rate)
            return current
        return cls(self.parameters(), lr=learning_rate)

    # -- saving ---------------------------------------------------------------
    def save_model(self, filepath: str | os.PathLike) -> None:
        """Write the layers, weights and optimiser state to one zip file, atomically."""
        from .saving import save_network

        save_network(self, filepath)

    def save_weights(self, filepath: str | os.PathLike) -> None:
        """Write the parameters and buffers alone (no layer configs, no optimiser) to a weights file, atomically."""
        from .saving import save_weights

        save_weights(self, filepath)

    def load_weights(self, filepath: str | os.PathLike) -> Network:
        """Copy a weights file's (or a model file's) arrays into this network, whose layers must match exactly (a
        ValueError naming the first mismatch, the network left unchanged); returns self."""
        from .saving import load_weights

        return load_weights(self, filepath)

    def load_model(self, filepath: str | os.PathLike, custom_layers: dict[str, type[Layer]] | None = None
                   ) -> Network:
        """Replace this network's layers, weights and optimiser with the file's; returns self (the report's call).

        A network whose own layers differ from the file's gets a warning saying so: `load_weights(path)` loads
        the arrays into this architecture instead, refusing a mismatch.
        """
        from .saving import load_network

        loaded = load_network(filepath, custom_layers)
        ours = [(layer.name, layer.get_config()) for layer in self.layers]
        if ours and ours != [(layer.name, layer.get_config()) for layer in loaded.layers]:
            warnings.warn(f"load_model replaced this network's {len(ours)} layers with the {len(loaded.layers)} "
                          f"layers of {str(filepath)!r}; network.load_weights(path) loads the weights into this "
                          "architecture and refuses a mismatch.", UserWarning, stacklevel=2)
        engine, compiled = self.engine, self._compiled  # this network's choices, not the file's
        self.__dict__.update(loaded.__dict__)
        self.engine, self._compiled = engine, compiled
        return self

    def __getstate__(self):  # copies and pickles leave the plans (scratch memory, thread replicas) behind
        state = dict(self.__dict__)
        state["_plans"], state["_passes"] = {}, None
        return state

    def __repr__(self):
        return f"Network({len(self.layers)} layers, {self.count_params():,} parameters)"


@dataclass
class Compiled:
    """What compile() chose: the optimiser (a name or an Optimizer), its learning rate, (loss, derivative), and the
    metrics (None: the loss's default)."""

    optimizer: str | optimizers.Optimizer
    learning_rate: float | None
    loss: tuple[Callable, Callable]
    metrics: list[metrics_module.Metric] | None


def _fresh_seed() -> int:
    """A seed from the operating system's entropy (train(seed=None)), recorded so the run can be told apart."""
    return int(np.random.SeedSequence().generate_state(2, np.uint64)[0] % 2**63)
