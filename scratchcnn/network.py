"""Network: the report's sequential model, trained with mini-batches, optimisers and callbacks."""
import numpy as np

from . import losses, metrics, optimizers
from .backend import xp
from .callbacks import Callback, History, LogFile, ProgressBar
from .initializers import as_generator
from .inputs import as_float_array, check_int, describe_shape, prepare_targets
from .layers import Layer


class Network:
    """A stack of layers applied in order: (N, *input_shape) -> (N, *output_shape).

    The report's API (`add`, `summary`, `train`, `evaluate`, `save_model`,
    `load_model`) plus `predict` and Keras-style training options.
    """

    def __init__(self, layers=None, dtype="float32"):
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"Received an invalid value for dtype, expected 'float32' or 'float64'. Received: dtype={dtype!r}")
        self.layers = []
        self.optimizer = None
        self.trained = False          # once trained or loaded, a seed no longer re-draws the weights
        self.stop_training = False    # callbacks set this to end training after the current epoch
        self.metadata = {}            # JSON-serialisable notes saved with the model (input shape, class names)
        for layer in layers or []:
            self.add(layer)

    # -- building -------------------------------------------------------------
    def add(self, layer):
        """Append a layer; its parameters take the network's dtype."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Network.add expects a scratchcnn Layer. Received: {type(layer).__name__}")
        self.layers.append(layer.astype(self.dtype))
        self.optimizer = None  # the parameter list changed
        return self

    def parameters(self):
        return [param for layer in self.layers for param in layer.parameters()]

    def count_params(self):
        return sum(param.size for param in self.parameters())

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

        if input_shape is None:
            if sample is None:
                raise ValueError("Network.summary needs a sample (one input or a batch) or input_shape=(C, H, W).")
            sample = as_float_array(sample, name="sample")
            input_shape = sample.shape if sample.ndim == self.layers[0].sample_ndim else sample.shape[1:]
        table = summary_table(self, tuple(input_shape))
        if print_fn is not None:
            print_fn(table)
        return table

    def astype(self, dtype):
        self.dtype = np.dtype(dtype)
        for layer in self.layers:
            layer.astype(self.dtype)
        return self

    # -- forward and backward -------------------------------------------------
    def forward(self, x, training=False):
        """x (N, *input_shape) -> outputs (N, *output_shape); every layer checks its input."""
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def backward(self, grad_output, from_logits=False):
        """Back-propagate d loss / d output (or d loss / d logits of the last layer, with from_logits)."""
        layers = self.layers
        if from_logits:
            grad_output = layers[-1].backward_preactivation(grad_output)
            layers = layers[:-1]
        for layer in reversed(layers):
            grad_output = layer.backward(grad_output)
        return grad_output

    # The training loop and predict check their input once, at the edge, then call the
    # layers' batch methods directly: per-sample SGD runs thousands of steps a second.
    def _forward_batch(self, x, training):
        for layer in self.layers:
            x = layer._forward(x, training)
        return x

    def _backward_batch(self, grad_output, from_logits=False):
        layers = self.layers
        if from_logits:
            grad_output = layers[-1].backward_preactivation(grad_output)
            layers = layers[:-1]
        for layer in reversed(layers):
            grad_output = layer._backward(grad_output)
        return grad_output

    def predict(self, X, batch_size=256):
        """Outputs for X (N, *input_shape), computed batch by batch so memory stays flat for a large X."""
        batch_size = check_int("batch_size", batch_size)
        X = self._prepare_inputs(X, "X", allow_unbatched=True)
        if X.ndim == self.layers[0].sample_ndim:
            return self.predict(X[None], batch_size)[0]
        outputs = None
        for start in range(0, len(X), batch_size):
            out = self._forward_batch(X[start:start + batch_size], training=False)
            if outputs is None:
                outputs = xp.empty((len(X), *out.shape[1:]), dtype=out.dtype)
            outputs[start:start + len(out)] = out
        return outputs

    def evaluate(self, X, y, loss_fn, batch_size=256):
        """(outputs, loss, accuracy) on X and labels y, as in the report."""
        outputs = self.predict(X, batch_size=batch_size)
        y = prepare_targets(y, outputs.shape[-1] if outputs.ndim > 1 else 1, len(outputs), self.dtype)
        return outputs, float(loss_fn(y, outputs)), metrics.accuracy(y, outputs)

    # -- training -------------------------------------------------------------
    def train(self, X, y, epochs, learning_rate, loss_fn, loss_fn_derivative, log_file="default_log.txt",
              val_X=None, val_y=None, *, batch_size=1, optimizer="sgd", shuffle=True, seed=None, verbose=1,
              callbacks=None, initial_epoch=0):
        """Train on X (N, *input_shape) and labels y; returns a History.

        The positional arguments are the report's. `batch_size` defaults to 1 (the
        report's per-sample SGD); `optimizer` is 'sgd', 'adam' or an Optimizer over
        `network.parameters()`; `seed` fixes the initial weights (of a network not
        trained yet), the shuffling and any dropout; `verbose` 0/1/2 is silent, a
        progress bar, or one line per epoch. `log_file=None` writes no log.
        """
        X, y = self._prepare_data(X, y, "X", "y")
        validation = self._prepare_data(val_X, val_y, "val_X", "val_y") if val_X is not None else None
        epochs, batch_size = check_int("epochs", epochs), check_int("batch_size", batch_size)
        initial_epoch = check_int("initial_epoch", initial_epoch, minimum=0)
        if verbose not in (0, 1, 2):
            raise ValueError(f"Received an invalid value for verbose, expected 0, 1 or 2. Received: verbose={verbose!r}")
        self._check_loss(loss_fn, loss_fn_derivative, y)
        seed = int(np.random.SeedSequence().entropy % 2**63) if seed is None else seed
        if not self.trained:
            self.initialize(seed)
        self.optimizer = self._make_optimizer(optimizer, learning_rate)
        output_gradient = losses.fused_gradient(loss_fn, loss_fn_derivative, getattr(self.layers[-1], "activation", None))
        steps = -(-len(X) // batch_size)
        history = History()
        hooks = [history, *(callbacks or [])]
        if verbose:
            hooks.append(ProgressBar(epochs, steps, verbose))
        if log_file is not None:
            hooks.append(LogFile(log_file, epochs, append=initial_epoch > 0))
        for hook in hooks:
            if not isinstance(hook, Callback):
                raise TypeError(f"callbacks must be scratchcnn Callback objects. Received: {type(hook).__name__}")
            hook.set_network(self)
        self.stop_training = False
        self.trained = True
        self._set_first_layer_input_grad(False)
        try:
            for hook in hooks:
                hook.on_train_begin({})
            for epoch in range(initial_epoch, epochs):
                for hook in hooks:
                    hook.on_epoch_begin(epoch, {})
                rng = np.random.default_rng([seed, epoch])  # per epoch, so a resumed run shuffles alike
                order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
                logs = self._train_epoch(X, y, order, batch_size, loss_fn, loss_fn_derivative, output_gradient, hooks)
                if validation is not None:
                    _, val_loss, val_accuracy = self.evaluate(*validation, loss_fn)
                    logs.update(val_loss=val_loss, val_accuracy=val_accuracy)
                for hook in hooks:
                    hook.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
        finally:
            self._set_first_layer_input_grad(True)
            for hook in hooks:
                hook.on_train_end({})
        return history

    def _train_epoch(self, X, y, order, batch_size, loss_fn, loss_fn_derivative, output_gradient, hooks):
        """One pass over the data in `order`; returns the epoch's mean loss and accuracy."""
        total_loss, total_correct, seen = 0.0, 0.0, 0
        for batch, start in enumerate(range(0, len(order), batch_size)):
            index = order[start:start + batch_size]
            x_batch, y_batch = X[index], y[index]
            out = self._forward_batch(x_batch, training=True)
            if output_gradient is not None:
                self._backward_batch(output_gradient(y_batch, out), from_logits=True)
            else:
                self._backward_batch(loss_fn_derivative(y_batch, out))
            self.optimizer.step()
            total_loss += float(loss_fn(y_batch, out)) * len(index)
            total_correct += metrics.count_correct(y_batch, out)
            seen += len(index)
            logs = {"loss": total_loss / seen, "accuracy": total_correct / seen}
            for hook in hooks:
                hook.on_batch_end(batch, logs)
        return logs

    def _make_optimizer(self, optimizer, learning_rate):
        if isinstance(optimizer, optimizers.Optimizer):
            if learning_rate is not None:
                optimizer.lr = float(learning_rate)
            return optimizer
        names = {"sgd": optimizers.SGD, "adam": optimizers.Adam}
        if not isinstance(optimizer, str) or optimizer.lower() not in names:
            raise ValueError(
                f"Received an invalid value for optimizer, expected 'sgd', 'adam' or an Optimizer. Received: optimizer={optimizer!r}")
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

    def _prepare_inputs(self, X, name, allow_unbatched=False):
        self._require_layers()
        X = as_float_array(X, name=name, dtype=self.dtype)
        first = self.layers[0]
        sample_ndim = first.sample_ndim
        if allow_unbatched and X.ndim == sample_ndim:
            self.output_shapes(X.shape)
            return X
        if X.ndim != sample_ndim + 1:
            raise ValueError(
                f"Received {name} of shape {tuple(X.shape)}, expected a batch of rank {sample_ndim + 1}: "
                f"{describe_shape(self._first_layer_shape())} for the first layer {first!r}.")
        if len(X) == 0:
            raise ValueError(f"Received an empty {name} (0 samples), expected at least one sample.")
        self.output_shapes(X.shape[1:])
        if not np.all(np.isfinite(X)):
            raise ValueError(f"Received NaN or inf in {name}, expected finite numbers.")
        return X

    def _first_layer_shape(self):
        first = self.layers[0]
        if hasattr(first, "depth"):
            return ("C=" + str(first.depth), "H", "W")
        if hasattr(first, "input_dim"):
            return (first.input_dim,)
        return ("C", "H", "W")

    def _prepare_data(self, X, y, x_name, y_name):
        if y is None:
            raise ValueError(f"Received {x_name} without {y_name}: labels are needed.")
        X = self._prepare_inputs(X, x_name)
        return X, prepare_targets(y, self._output_dim(X.shape[1:]), len(X), self.dtype, name=y_name)

    def _check_loss(self, loss_fn, loss_fn_derivative, y):
        if not callable(loss_fn) or not callable(loss_fn_derivative):
            raise ValueError(
                f"Received a loss_fn or loss_fn_derivative that is not callable. Received: {loss_fn!r}, {loss_fn_derivative!r}")
        activation = getattr(self.layers[-1], "activation", None)
        outputs = y.shape[1]
        if loss_fn is losses.bce_loss and activation == "softmax":
            raise ValueError(
                f"Received loss_fn=bce_loss after a {outputs}-way softmax, expected categorical_crossentropy "
                "(or a sigmoid output layer for binary cross-entropy).")
        if loss_fn is losses.categorical_crossentropy and outputs == 1:
            raise ValueError("Received loss_fn=categorical_crossentropy for a single output unit (its loss is always 0), "
                             "expected bce_loss with a sigmoid output, or more output classes.")
        if loss_fn is losses.bce_loss and (y.min() < 0 or y.max() > 1):
            raise ValueError("Received labels outside [0, 1] for bce_loss, expected 0-1 targets.")

    def _set_first_layer_input_grad(self, needed):
        if self.layers:
            self.layers[0].need_input_grad = needed

    # -- saving ---------------------------------------------------------------
    def save_model(self, filepath):
        """Write the layers, weights and optimiser state to one zip file, atomically."""
        from .saving import save_network

        save_network(self, filepath)

    def load_model(self, filepath):
        """Replace this network's layers, weights and optimiser with the file's; returns self."""
        from .saving import load_network

        loaded = load_network(filepath)
        self.__dict__.update(loaded.__dict__)
        return self

    def __repr__(self):
        return f"Network({len(self.layers)} layers, {self.count_params():,} parameters)"
