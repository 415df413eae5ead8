"""Callbacks: hooks the training loop calls, with Keras's names. History is one of them."""
import sys
import time


class Callback:
    """Base class. `self.network` is set before training; `logs` is a dict of the latest figures."""

    network = None

    def set_network(self, network):
        self.network = network

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


class History(Callback):
    """Records every epoch's logs: `.history` maps 'loss', 'accuracy', 'val_loss', ... to lists; `.epoch` lists epochs."""

    def __init__(self):
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"


def _format_logs(logs, keys=("loss", "accuracy", "val_loss", "val_accuracy")):
    names = {"loss": "Loss", "accuracy": "Accuracy", "val_loss": "Val Loss", "val_accuracy": "Val Accuracy"}
    return ", ".join(f"{names[k]}: {logs[k]:.4f}" for k in keys if k in logs)


class LogFile(Callback):
    """Writes the report's log: `HH:MM:SS :Epoch 3/100, Loss: 0.4123, Accuracy: 0.8800` and the total time.

    Each line is flushed as it is written, so a crash loses no finished epoch.
    """

    def __init__(self, path, epochs, append=False):
        self.path, self.epochs, self.append = path, epochs, append
        self._file = None
        self._start = None

    def on_train_begin(self, logs=None):
        self._file = open(self.path, "a" if self.append else "w", encoding="utf-8")
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        line = f"{time.strftime('%H:%M:%S')} :Epoch {epoch + 1}/{self.epochs}, {_format_logs(logs or {})}"
        self._file.write(line + "\n")
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is None:
            return
        elapsed = int(round(time.perf_counter() - self._start))
        hours, rest = divmod(elapsed, 3600)
        self._file.write(f"Total Training Time: {hours}:{rest // 60:02d}:{rest % 60:02d}\n")
        self._file.close()
        self._file = None


class ProgressBar(Callback):
    """verbose=1: a tqdm bar per epoch with loss, accuracy and ETA. verbose=2: one plain line per epoch."""

    def __init__(self, epochs, steps_per_epoch, verbose=1, stream=None):
        self.epochs, self.steps, self.verbose = epochs, steps_per_epoch, verbose
        self.stream = stream
        self._bar = None
        self._start = None

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        if self.verbose == 1:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.steps, desc=f"Epoch {epoch + 1}/{self.epochs}", unit="batch",
                             file=self._out(), leave=True, dynamic_ncols=True, mininterval=0.2)

    def on_batch_end(self, batch, logs=None):
        if self._bar is not None:
            self._bar.update(1)
            if batch % 10 == 0 or batch == self.steps - 1:
                self._bar.set_postfix(loss=f"{logs['loss']:.4f}", accuracy=f"{logs['accuracy']:.4f}", refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        if self._bar is not None:
            self._bar.set_postfix_str(_format_logs(logs or {}).replace("Val ", "val_"), refresh=True)
            self._bar.close()
            self._bar = None
        elif self.verbose == 2:
            print(f"Epoch {epoch + 1}/{self.epochs} - {seconds:.1f}s - {_format_logs(logs or {})}",
                  file=self._out(), flush=True)

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
