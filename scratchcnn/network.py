"""Network: the report's sequential model, trained with mini-batches, optimisers and callbacks."""
import math
import warnings

import numpy as np

from . import losses, optimizers, parallel, training
from . import metrics as metrics_module
from .backend import xp
from .engine import Passes, Plan, check_engine
from .engine.threads import TrainingShards, predict_pieces
from .initializers import as_generator, as_seed
from .inputs import all_finite, as_float_array, check_int, describe_shape, prepare_targets
from .layers import Layer
from .layers.base import BuiltinLayer
from .tta import averaged_outputs, check_tta

PREDICT_KEEP_BYTES = 32 << 20  # a layer's inference buffers past this are freed at the end of predict
_DEFAULT_LEARNING_RATES = {"sgd": 0.01, "adam": 0.001, "rmsprop": 0.001}  # Keras's


class Network:
    """A stack of layers applied in order: (N, *input_shape) -> (N, *output_shape).

    The report's API (`add`, `summary`, `train`, `evaluate`, `save_model`,
    `load_model`) plus `predict` and Keras-style training options.
    """

    def __init__(self, layers=None, dtype="float32", engine="fast"):
        self.engine = engine          # 'fast' or 'reference' (see the property)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"Received an invalid value for dtype, expected 'float32' or 'float64'. Received: dtype={dtype!r}")
        self.layers = []
        self.optimizer = None
        self.trained = False          # once trained or loaded, a seed no longer re-draws the weights
        self.stop_training = False    # callbacks set this to end training after the current epoch
        self.metadata = {}            # JSON-serialisable notes saved with the model (input shape, class names)
        self._unbatched = False       # whether the last public forward() took a single sample
        for layer in layers or []:
            self.add(layer)

    # -- building -------------------------------------------------------------
    def add(self, layer):
        """Append a layer; its parameters take the network's dtype."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Network.add expects a scratchcnn Layer. Received: {type(layer).__name__}")
        self.layers.append(layer.astype(self.dtype))
        self.optimizer = None  # the parameter list changed
        self._plans = {}
        return self

    def parameters(self):
        return [param for layer in self.layers for param in layer.parameters()]

    def count_params(self):
        return sum(param.size for param in self.parameters())

    def count_buffers(self):
        """Non-trainable values (e.g. BatchNorm's running statistics)."""
        return sum(int(value.size) for layer in self.layers for value in layer.buffers().values())

    def initialize(self, seed=None):
        """Re-draw every layer's initial weights from one seeded generator."""
        rng = as_generator(seed)
        for layer in self.layers:
            layer.reset_parameters(rng)
        return self

    def output_shapes(self, input_shape):
        """Per-sample (input, output) shape of every layer; ValueError naming the first layer that does not chain."""
        self._require_layers()
        shapes, shape = [], tuple(input_shape)
        for index, layer in enumerate(self.layers):
            try:
                out = tuple(layer.output_shape(shape))
            except ValueError as error:
                raise ValueError(f"Layer {index} ({layer!r}) does not chain: {error}") from None
            shapes.append((shape, out))
            shape = out
        return shapes

    def summary(self, sample=None, input_shape=None, print_fn=print):
        """Print (and return) a table of every layer's input and output shape and parameter count."""
        from .summary import summary_table

        self._require_layers()
        if input_shape is None:
            if sample is None:
                raise ValueError("Network.summary needs a sample (one input or a batch) or input_shape=(C, H, W).")
            sample = as_float_array(sample, name="sample")
            input_shape = sample.shape if sample.ndim == self._sample_ndim() else sample.shape[1:]
        input_shape = tuple(input_shape)
        if not input_shape or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0
                                      for d in input_shape):
            raise ValueError(f"Received an invalid value for input_shape, expected positive integers such as "
                             f"(1, 28, 28). Received: input_shape={input_shape!r}")
        table = summary_table(self, input_shape)
        if print_fn is not None:
            print_fn(table)
        return table

    def astype(self, dtype):
        self.dtype = np.dtype(dtype)
        for layer in self.layers:
            layer.astype(self.dtype)
        return self

    # -- the engine and its plans --------------------------------------------
    @property
    def engine(self):
        """'fast' (the default: scratchcnn.functional, threads, scratch memory) or 'reference' (scratchcnn.reference,
        one thread: every layer's textbook math, to step through in a debugger). Not saved with the model."""
        return self._engine

    @engine.setter
    def engine(self, engine):
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
    def forward(self, x, training=False):
        """x (N, *input_shape), or one sample, -> outputs (N, *output_shape), checked against every layer."""
        x = self._prepare_inputs(x, "x", allow_unbatched=True)
        self._unbatched = x.ndim == self._sample_ndim()
        batch = x[None] if self._unbatched else x
        self._passes = Passes(self.layers, self._plan(batch.shape[1:]))
        out = self._passes.forward(batch, training)
        return out[0] if self._unbatched else out

    def __call__(self, x, training=False):
        """network(x) is network.forward(x): outputs (N, *output_shape) for x (N, *input_shape), or one sample."""
        return self.forward(x, training)

    def backward(self, grad_output, from_logits=False):
        """Back-propagate d loss / d output of the last forward (or, with from_logits, d loss / d the last layer's
        pre-activation); sets every parameter's .grad and returns d loss / d input."""
        if getattr(self, "_passes", None) is None:
            raise RuntimeError("Network.backward needs a forward pass first: call network.forward(x) before it.")
        grad_output = as_float_array(grad_output, name="grad_output")
        grad_input = self._passes.backward(grad_output[None] if self._unbatched else grad_output, from_logits)
        return grad_input[0] if (self._unbatched and grad_input is not None) else grad_input

    def predict(self, X, batch_size=256, tta=None):
        """Outputs for X (N, *input_shape), computed batch by batch so memory stays flat for a large X.

        tta='flip' averages each image's outputs with its horizontal mirror's (scratchcnn/tta.py)."""
        batch_size, tta = check_int("batch_size", batch_size), check_tta(tta)
        X = self._prepare_inputs(X, "X", allow_unbatched=True, check_values=False)
        unbatched = X.ndim == self._sample_ndim()
        outputs = averaged_outputs(lambda images: self._predict_batches(images, batch_size, "X"),
                                   X[None] if unbatched else X, tta)
        return outputs[0] if unbatched else outputs

    def _predict_batches(self, X, batch_size, name=None):
        """Outputs for a shape-checked batch X, batch_size samples at a time, spread over the threads
        (engine/threads.py); with `name`, each piece of X is checked for NaN and inf just before it runs."""
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

    def free_scratch(self):
        """Let go of the scratch memory that the fast engine keeps for the next call.

        predict's pieces write their columns, and the layer outputs of up to 16 MiB
        (functional/workspace.py), into buffers the plan keeps (each thread its own), and
        the next call reuses them: memory the kernel has already mapped, so no page
        faults. predict lets go of a layer's buffers when they pass PREDICT_KEEP_BYTES;
        this returns the rest.
        """
        self._plans = {}

    def evaluate(self, X, y=None, loss_fn=None, batch_size=256, *, metrics=None, return_dict=False, tta=None):
        """(outputs, loss, accuracy) on X (N, *input_shape) and labels y, as in the report.

        `loss_fn` is a loss function or its name ('categorical_crossentropy', 'mse', ...); None
        takes compile()'s. accuracy is None for a regression loss (mse, mae). With
        return_dict=True: {'loss': ..., and each metric's name: value} (metrics=None: accuracy for
        a classification loss, none for regression). X may be a batch source (see train), y then None.
        tta='flip' scores the outputs averaged with those of the mirrored images (see predict).
        """
        loss_fn = self._compiled_loss(loss_fn)[0]
        batch_size, tta = check_int("batch_size", batch_size), check_tta(tta)
        if training.is_batch_source(X):
            X, y = self._gather_source(X, y)
        else:
            X = self._prepare_inputs(X, "X", check_values=False)
        outputs = averaged_outputs(lambda images: self._predict_batches(images, batch_size, "X"), X, tta)
        y = prepare_targets(y, outputs.shape[-1] if outputs.ndim > 1 else 1, len(outputs), self.dtype)
        loss = float(loss_fn(y, outputs))
        classification = loss_fn in losses.CLASSIFICATION or not any(loss_fn is fn for fn, _ in losses.LOSSES.values())
        if not return_dict:
            return outputs, loss, (metrics_module.accuracy(y, outputs) if classification else None)
        chosen = self._metrics(metrics, loss_fn)
        return {"loss": loss, **{metric.name: metric.total(y, outputs) / len(outputs) for metric in chosen}}

    # -- training -------------------------------------------------------------
    def train(self, X, y, epochs, learning_rate, loss_fn, loss_fn_derivative=None, log_file="default_log.txt",
              val_X=None, val_y=None, *, batch_size=1, optimizer="sgd", shuffle=True, seed=None, verbose=1,
              callbacks=None, initial_epoch=0, validation_split=0.0, validation_data=None, augment=None,
              checkpoint=None, metrics=None, class_names=None):
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
        """
        loss_fn, loss_fn_derivative = losses.resolve(loss_fn, loss_fn_derivative)
        if validation_data is not None:
            if val_X is not None:
                raise ValueError("Received both validation_data and val_X, expected one of them.")
            val_X, val_y = self._validation_pair(validation_data)
        data, validation = self._training_data(X, y, val_X, val_y, validation_split)
        settings = training.Settings(check_int("epochs", epochs), check_int("batch_size", batch_size))
        settings.initial_epoch = check_int("initial_epoch", initial_epoch, minimum=0)
        if verbose not in (0, 1, 2):
            raise ValueError(f"Received an invalid value for verbose, expected 0, 1 or 2. Received: verbose={verbose!r}")
        if not isinstance(shuffle, (bool, np.bool_)):
            raise ValueError(f"Received an invalid value for shuffle, expected True or False. Received: shuffle={shuffle!r}")
        if augment is not None and not callable(augment):
            raise ValueError(f"Received an augment that is not callable, expected augment(x_batch, rng). Received: {augment!r}")
        settings.shuffle, settings.augment = bool(shuffle), augment
        self._check_loss(loss_fn, loss_fn_derivative, data)
        loss = losses.Loss(loss_fn, loss_fn_derivative, getattr(self.layers[-1], "activation", None))
        settings.metrics = tuple(self._metrics(metrics, loss_fn))
        settings.seed = int(np.random.SeedSequence().entropy % 2**63) if seed is None else as_seed(seed)
        self._record_metadata(data, class_names)
        if not self.trained:
            self.initialize(settings.seed)
        self.optimizer = self._make_optimizer(optimizer, learning_rate)
        callbacks = training.make_callbacks(self, callbacks, verbose, log_file, checkpoint, settings.epochs,
                                            data.steps(settings.batch_size), settings.initial_epoch,
                                            validation is not None)
        shards = self._plan(data.sample_shape, "train", training.thread_count(self, loss, settings.batch_size))
        return training.fit(self, data, validation, loss, settings, callbacks, shards)

    def compile(self, optimizer="rmsprop", loss="categorical_crossentropy", metrics=None, learning_rate=None):
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
        self._compiled = {"optimizer": optimizer, "learning_rate": learning_rate, "loss": (loss_fn, derivative),
                          "metrics": [metrics_module.get(metric) for metric in (metrics or [])]}
        return self

    def fit(self, x, y=None, batch_size=32, epochs=1, verbose=1, callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0, *, seed=None, augment=None, checkpoint=None,
            class_names=None, log_file=None):
        """Keras's spelling of train(): after compile(), train on x and y for `epochs`; returns a History."""
        if getattr(self, "_compiled", None) is None:
            raise RuntimeError("Network.fit needs compile() first, e.g. network.compile(optimizer='adam', "
                               "loss='categorical_crossentropy', metrics=['accuracy']).")
        compiled = self._compiled
        return self.train(x, y, epochs, compiled["learning_rate"], *compiled["loss"], log_file=log_file,
                          batch_size=batch_size, optimizer=compiled["optimizer"], shuffle=shuffle, seed=seed,
                          verbose=verbose, callbacks=callbacks, initial_epoch=initial_epoch,
                          validation_split=validation_split, validation_data=validation_data, augment=augment,
                          checkpoint=checkpoint, metrics=compiled["metrics"] or None, class_names=class_names)

    # -- weights --------------------------------------------------------------
    def get_weights(self):
        """Copies of every parameter and buffer, layer by layer: a list of arrays."""
        return [value.copy() for layer in self.layers
                for value in [p.value for p in layer.parameters()] + list(layer.buffers().values())]

    def set_weights(self, weights):
        """Restore arrays from get_weights(); shapes must match."""
        slots = []
        for layer in self.layers:
            slots += [(layer, p, None) for p in layer.parameters()] + [(layer, None, n) for n in layer.buffers()]
        if len(weights) != len(slots):
            raise ValueError(f"Received {len(weights)} arrays, expected {len(slots)} (one per parameter and buffer).")
        for (layer, param, buffer), value in zip(slots, weights):
            expected = param.shape if param is not None else layer.buffers()[buffer].shape
            if tuple(value.shape) != tuple(expected):
                raise ValueError(f"Received an array of shape {tuple(value.shape)} for {layer.name}, expected {tuple(expected)}.")
            if param is not None:
                param.value = xp.array(value, dtype=param.value.dtype)
            else:
                layer.set_buffer(buffer, xp.array(value, dtype=self.dtype))

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
        if isinstance(self.optimizer, cls):  # keep its state (momentum, Adam moments) across train() calls
            self.optimizer.lr = float(learning_rate)
            return self.optimizer
        return cls(self.parameters(), lr=learning_rate)

    # -- validation at the edge -----------------------------------------------
    def _require_layers(self):
        if not self.layers:
            raise ValueError("The network has no layers: add some with network.add(layer) first.")

    def _output_dim(self, input_shape):
        """Number of output units for per-sample inputs of input_shape."""
        output_shape = self.output_shapes(input_shape)[-1][1]
        if len(output_shape) != 1:
            raise ValueError(f"The network's output has per-sample shape {output_shape}, expected a flat (units,) "
                             "output to compare with labels: end it with Flatten/Dense.")
        return output_shape[0]

    def _prepare_inputs(self, X, name, allow_unbatched=False, check_values=True):
        """X as a float array of the network's dtype, its shape checked against every layer; with
        check_values, a ValueError if it holds NaN or inf (predict checks its pieces as it runs them)."""
        self._require_layers()
        X = as_float_array(X, name=name, dtype=self.dtype)
        first = self.layers[0]
        sample_ndim = self._sample_ndim()
        if sample_ndim is None:  # only rank-agnostic layers (Dropout, BatchNorm, ...): any batched input
            sample_ndim = X.ndim - 1
        if allow_unbatched and X.ndim == sample_ndim:  # one sample: check it as a batch of one
            return self._prepare_inputs(X[None], name, check_values=check_values)[0]
        if X.ndim != sample_ndim + 1:
            raise ValueError(
                f"Received {name} of shape {tuple(X.shape)}, expected a batch of rank {sample_ndim + 1}: "
                f"{describe_shape(self._first_layer_shape())} for the first layer {first!r}.")
        if len(X) == 0:
            raise ValueError(f"Received an empty {name} (0 samples), expected at least one sample.")
        try:
            self.output_shapes(X.shape[1:])
        except ValueError as error:
            raise ValueError(f"Received {name} of shape {tuple(X.shape)}, which does not fit the network: {error}") from None
        if check_values and not parallel.all_finite(X):
            raise ValueError(f"Received NaN or inf in {name}, expected finite numbers.")
        return X

    def _sample_ndim(self):
        """Rank of one input sample: that of the first layer that fixes it (Dropout and BatchNorm take any)."""
        return next((layer.sample_ndim for layer in self.layers if getattr(layer, "sample_ndim", None) is not None), None)

    def _first_layer_shape(self):
        first = self.layers[0]
        if hasattr(first, "depth"):
            return ("C=" + str(first.depth), "H", "W")
        if hasattr(first, "input_dim"):
            return (first.input_dim,)
        return ("C", "H", "W")

    def _training_data(self, X, y, val_X, val_y, validation_split):
        """(training.Arrays or training.Source, validation (X, y) or None), holding out the last validation_split
        of X when no validation data is given."""
        if not (isinstance(validation_split, (int, float)) and not isinstance(validation_split, bool)
                and 0 <= validation_split < 1):
            raise ValueError(f"Received an invalid value for validation_split, expected a fraction in [0, 1). "
                             f"Received: validation_split={validation_split!r}")
        validation = None
        if val_X is not None:
            validation = (val_X, val_y) if training.is_batch_source(val_X) else \
                self._prepare_data(val_X, val_y, "val_X", "val_y")
        if training.is_batch_source(X):
            if y is not None:
                raise ValueError("Received a batch source as X together with y, expected the source alone: "
                                 "source[i] returns (X_batch, y_batch).")
            if validation_split:
                raise ValueError("validation_split cannot split a batch source; pass validation_data=(X, y) or a "
                                 "second source instead.")
            if len(X) == 0:
                raise ValueError("Received a batch source with no batches (len 0), expected at least one.")
            return training.Source(X, lambda xb, yb: self._prepare_data(xb, yb, "a batch's X", "a batch's y")), \
                validation
        X, y = self._prepare_data(X, y, "X", "y")
        if validation is None and validation_split:
            cut = len(X) - int(round(len(X) * validation_split))
            if cut < 1 or cut == len(X):
                raise ValueError(f"validation_split={validation_split} leaves {cut} of {len(X)} samples for training; "
                                 "expected both parts to be non-empty.")
            X, y, validation = X[:cut], y[:cut], (X[cut:], y[cut:])
        return training.Arrays(X, y), validation

    @staticmethod
    def _validation_pair(validation_data):
        if training.is_batch_source(validation_data):
            return validation_data, None
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("Received an invalid value for validation_data, expected a pair (X, y) or a batch "
                             f"source. Received: a {type(validation_data).__name__}"
                             f"{f' of length {len(validation_data)}' if hasattr(validation_data, '__len__') else ''}")
        return validation_data[0], validation_data[1]

    def _gather_source(self, source, y):
        """Every batch of a batch source, checked and joined: (X, y) for evaluate."""
        if y is not None:
            raise ValueError("Received a batch source as X together with y, expected the source alone.")
        parts = [self._prepare_data(*source[i], "a batch's X", "a batch's y") for i in range(len(source))]
        if not parts:
            raise ValueError("Received a batch source with no batches (len 0), expected at least one.")
        return xp.concatenate([x for x, _ in parts]), xp.concatenate([t for _, t in parts])

    def _prepare_data(self, X, y, x_name, y_name):
        if y is None:
            raise ValueError(f"Received {x_name} without {y_name}: labels are needed.")
        unscaled = _looks_unscaled(X)
        X = self._prepare_inputs(X, x_name)
        if unscaled:
            warnings.warn(f"{x_name} looks unscaled ({unscaled}); networks train best on inputs scaled to about "
                          "[0, 1], e.g. X / 255 for 8-bit images.", UserWarning, stacklevel=4)
        return X, prepare_targets(y, self._output_dim(X.shape[1:]), len(X), self.dtype, name=y_name)

    def _compiled_loss(self, loss_fn):
        """(loss, derivative) of `loss_fn` (a function or a name), or compile()'s when None."""
        if loss_fn is None:
            if getattr(self, "_compiled", None) is None:
                raise ValueError("Received no loss_fn, and compile() named none: pass loss_fn, e.g. "
                                 "'categorical_crossentropy'.")
            return self._compiled["loss"]
        if isinstance(loss_fn, str):
            return losses.get(loss_fn)
        if not callable(loss_fn):
            raise ValueError(f"Received a loss_fn that is not callable, expected e.g. categorical_crossentropy or its "
                             f"name. Received: loss_fn={loss_fn!r}")
        return loss_fn, None

    @staticmethod
    def _metrics(metrics, loss_fn):
        """The Metrics a run reports: those asked for, else accuracy for a classification loss (none for regression)."""
        if metrics is None:
            classification = loss_fn in losses.CLASSIFICATION
            return [metrics_module.get("accuracy")] if classification else []
        if isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics):
            metrics = [metrics]
        chosen = [metrics_module.get(metric) for metric in metrics]
        names = [metric.name for metric in chosen]
        if len(set(names)) != len(names) or "loss" in names:
            raise ValueError(f"Received metrics with repeated names (or one named 'loss'): {names}.")
        return chosen

    def _record_metadata(self, data, class_names):
        """The input shape, and class names when known, for the model file (the CLI reads them)."""
        self.metadata.setdefault("input_shape", [int(d) for d in data.sample_shape])
        names = class_names if class_names is not None else getattr(getattr(data, "source", None), "class_names", None)
        if names is not None:
            names = [str(name) for name in names]
            outputs = self._output_dim(tuple(data.sample_shape))
            if len(names) != max(outputs, 2):
                raise ValueError(f"Received {len(names)} class names for a network of {outputs} output unit(s), "
                                 f"expected {max(outputs, 2)}.")
            self.metadata["class_names"] = names

    def _check_loss(self, loss_fn, loss_fn_derivative, data):
        y = getattr(data, "y", None)  # a batch source's labels are checked batch by batch
        if not callable(loss_fn) or not callable(loss_fn_derivative):
            raise ValueError(
                f"Received a loss_fn or loss_fn_derivative that is not callable. Received: {loss_fn!r}, {loss_fn_derivative!r}")
        derivatives = {loss: derivative for loss, derivative in losses.LOSSES.values()}
        if loss_fn in derivatives and loss_fn_derivative in derivatives.values() \
                and derivatives[loss_fn] is not loss_fn_derivative:
            raise ValueError(f"Received loss_fn={loss_fn.__name__} with loss_fn_derivative={loss_fn_derivative.__name__}, "
                             f"expected its own derivative {derivatives[loss_fn].__name__}.")
        activation = getattr(self.layers[-1], "activation", None)
        outputs = self._output_dim(tuple(data.sample_shape))
        if loss_fn is losses.bce_loss and activation == "softmax":
            raise ValueError(
                f"Received loss_fn=bce_loss after a {outputs}-way softmax, expected categorical_crossentropy "
                "(or a sigmoid output layer for binary cross-entropy).")
        if loss_fn is losses.categorical_crossentropy and outputs == 1:
            raise ValueError("Received loss_fn=categorical_crossentropy for a single output unit (its loss is always 0), "
                             "expected bce_loss with a sigmoid output, or more output classes.")
        if loss_fn is losses.bce_loss and y is not None and (y.min() < 0 or y.max() > 1):
            raise ValueError("Received labels outside [0, 1] for bce_loss, expected 0-1 targets.")

    # -- saving ---------------------------------------------------------------
    def save_model(self, filepath):
        """Write the layers, weights and optimiser state to one zip file, atomically."""
        from .saving import save_network

        save_network(self, filepath)

    def save_weights(self, filepath):
        """Write the parameters and buffers alone (no layer configs, no optimiser) to a weights file, atomically."""
        from .saving import save_weights

        save_weights(self, filepath)

    def load_weights(self, filepath):
        """Copy a weights file's (or a model file's) arrays into this network, whose layers must match exactly (a
        ValueError naming the first mismatch, the network left unchanged); returns self."""
        from .saving import load_weights

        return load_weights(self, filepath)

    def load_model(self, filepath, custom_layers=None):
        """Replace this network's layers, weights and optimiser with the file's; returns self."""
        from .saving import load_network

        loaded = load_network(filepath, custom_layers)
        engine = self.engine  # the engine is this network's choice, not the file's
        self.__dict__.update(loaded.__dict__)
        self.engine = engine
        return self

    def __getstate__(self):  # copies and pickles leave the plans (scratch memory, thread replicas) behind
        state = dict(self.__dict__)
        state["_plans"], state["_passes"] = {}, None
        return state

    def __repr__(self):
        return f"Network({len(self.layers)} layers, {self.count_params():,} parameters)"


def _looks_unscaled(X):
    """A short description when X looks like raw pixel values (uint8, or values far outside [0, 1]), else ''."""
    dtype = getattr(X, "dtype", None)
    if dtype is not None and dtype == np.uint8:
        return "dtype uint8"
    try:
        array = np.asarray(X, dtype=np.float64) if dtype is None else X
        largest = float(np.max(np.abs(array))) if np.size(array) and np.issubdtype(array.dtype, np.number) else 0.0
    except (TypeError, ValueError):
        return ""  # not numbers: the input checks say so
    return f"values up to {largest:g}" if np.isfinite(largest) and largest > 10 else ""
