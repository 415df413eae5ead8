"""Callbacks: hooks the training loop calls, with Keras's names. History is one of them."""
from __future__ import annotations

import inspect
import math
import numbers
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any, Literal

from .checks import check_int

if TYPE_CHECKING:
    import numpy as np
    from tqdm.auto import tqdm

    from .network import Network
    from .optimizers import Optimizer


class Callback:
    """Base class. `self.network` is set before training; `logs` is a dict of the latest figures."""

    network: Network = None  # type: ignore[assignment]  # None until set_network, which training calls first

    def set_network(self, network: Network) -> None:
        self.network = network

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        pass

    def on_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        pass

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        pass


class History(Callback):
    """Records every epoch's logs: `.history` maps 'loss', 'accuracy', 'val_loss', ... to lists; `.epoch` lists epochs.

    `.elapsed` lists the seconds from the start of training to the end of each epoch (time to accuracy); it is
    kept apart from `.history`, which holds only what the same seed reproduces exactly.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.elapsed: list[float] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            if key == "elapsed":
                self.elapsed.append(value)
            else:
                self.history.setdefault(key, []).append(value)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"


def _shown(logs: dict[str, float]) -> list[str]:
    """The figures a log line shows: the loss and every metric, training ones first, then validation ones."""
    keys = [key for key in logs if key not in ("lr", "time", "elapsed") and not key.startswith("val_")]
    return keys + [key for key in logs if key.startswith("val_")]


def _label(key: str) -> str:
    """'loss' -> 'Loss', 'val_accuracy' -> 'Val Accuracy', 'mae' -> 'MAE', 'top_5_accuracy' -> 'Top 5 Accuracy'."""
    words = key.split("_")
    return " ".join(word.upper() if word in ("mae", "mse") else word.capitalize() for word in words)


def _format_logs(logs: dict[str, float]) -> str:
    return ", ".join(f"{_label(key)}: {logs[key]:.4f}" for key in _shown(logs))


class LogFile(Callback):
    """Writes the report's log: `HH:MM:SS :Epoch 3/100, Loss: 0.4123, Accuracy: 0.8800, Time: 61.2 s` and the
    total time (Time: the seconds since training began, when the loop logs them).

    Each line is flushed as it is written, so a crash loses no finished epoch.
    """

    def __init__(self, path: str | os.PathLike[str], epochs: int, append: bool = False) -> None:
        self.path, self.epochs, self.append = path, epochs, append
        self._file: IO[str] | None = None
        self._start: float | None = None

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self._file = open(self.path, "a" if self.append else "w", encoding="utf-8")
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        line = f"{time.strftime('%H:%M:%S')} :Epoch {epoch + 1}/{self.epochs}, {_format_logs(logs or {})}"
        if "elapsed" in (logs or {}):  # time-to-accuracy can be read off the log
            line += f", Time: {logs['elapsed']:.1f} s"  # type: ignore[index]
        self._file.write(line + "\n")  # type: ignore[union-attr]  # on_train_begin opened it
        self._file.flush()  # type: ignore[union-attr]

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        if self._file is None:
            return
        elapsed = int(round(time.perf_counter() - self._start))  # type: ignore[operator]  # set with _file
        hours, rest = divmod(elapsed, 3600)
        self._file.write(f"Total Training Time: {hours}:{rest // 60:02d}:{rest % 60:02d}\n")
        self._file.close()
        self._file = None


class ProgressBar(Callback):
    """verbose=1: a tqdm bar per epoch with loss, accuracy and ETA. verbose=2: one plain line per epoch."""

    def __init__(self, epochs: int, steps_per_epoch: int, verbose: int = 1, stream: IO[str] | None = None) -> None:
        self.epochs, self.steps, self.verbose = epochs, steps_per_epoch, verbose
        self.stream = stream
        self._bar: tqdm | None = None
        self._start: float | None = None

    def _out(self) -> IO[str]:
        return self.stream if self.stream is not None else sys.stdout

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self._start = time.perf_counter()
        if self.verbose == 1:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.steps, desc=f"Epoch {epoch + 1}/{self.epochs}", unit="batch",
                             file=self._out(), leave=True, dynamic_ncols=True, mininterval=0.2)

    def on_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        if self._bar is not None:
            self._bar.update(1)
            if batch % 10 == 0 or batch == self.steps - 1:
                self._bar.set_postfix({key: f"{logs[key]:.4f}" for key in _shown(logs)}, refresh=False)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        seconds = time.perf_counter() - self._start  # type: ignore[operator]  # on_epoch_begin set it
        if self._bar is not None:
            shown = _shown(logs or {})
            self._bar.set_postfix({k: f"{logs[k]:.4f}" for k in shown if k in (logs or {})},  # type: ignore[index]
                                  refresh=True)
            self._bar.close()
            self._bar = None
        elif self.verbose == 2:
            print(f"Epoch {epoch + 1}/{self.epochs} - {seconds:.1f}s - {_format_logs(logs or {})}",
                  file=self._out(), flush=True)

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _improvement_test(monitor: str, mode: str, min_delta: float) -> tuple[Callable[[float, float], bool], float]:
    """(better, worst): better(current, best) -> bool for mode 'min'/'max'/'auto' (auto: max for accuracies).

    `worst` (+inf or -inf) is the starting best that every finite value improves on, as in Keras: a NaN never is best.
    """
    if not isinstance(monitor, str) or not monitor:
        raise ValueError(f"Received an invalid value for monitor, expected the name of a logged figure such as "
                         f"'val_loss'. Received: monitor={monitor!r}")
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"Received an invalid value for mode, expected 'auto', 'min' or 'max'. Received: mode={mode!r}")
    if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or not math.isfinite(min_delta):
        raise ValueError(f"Received an invalid value for min_delta, expected a number. Received: min_delta={min_delta!r}")
    if mode == "max" or (mode == "auto" and "acc" in monitor):
        return (lambda current, best: current > best + abs(min_delta)), -math.inf
    return (lambda current, best: current < best - abs(min_delta)), math.inf


def _check_verbose(verbose: int) -> int:
    if not isinstance(verbose, numbers.Integral) or verbose not in (0, 1):  # True and False are 1 and 0
        raise ValueError(f"Received an invalid value for verbose, expected 0 (silent) or 1 (a line when the callback "
                         f"acts). Received: verbose={verbose!r}")
    return int(verbose)


def _say(message: str) -> None:
    """Print a callback's message on its own line, clear of a running progress bar (tqdm.write moves it aside)."""
    from tqdm.auto import tqdm

    tqdm.write(message, file=sys.stdout)


class MonitorCallback(Callback):
    """A callback that watches one figure of the logs, `monitor`, such as 'val_loss'.

    check_monitor(has_validation) is called before the first epoch: a val_* monitor without validation
    data warns there, once, and the callback then carries on without acting (as Keras does). A monitor
    missing from the logs for any other reason raises ValueError at the end of the epoch.
    """

    monitor = "val_loss"
    _monitor_unavailable = False

    def check_monitor(self, has_validation: bool) -> bool:
        """Warn (RuntimeWarning) if `monitor` is a validation figure and there is no validation data; returns
        whether the monitor will be available."""
        self._monitor_unavailable = self._uses_monitor() and self.monitor.startswith("val_") and not has_validation
        if self._monitor_unavailable:
            warnings.warn(f"{type(self).__name__} monitors {self.monitor!r}, but training has no validation data "
                          "(pass validation_data=(X, y), val_X and val_y, or validation_split): it will do nothing.", RuntimeWarning,
                          stacklevel=3)
        return not self._monitor_unavailable

    def _uses_monitor(self) -> bool:
        return True

    def _current(self, logs: dict[str, float] | None) -> float | None:
        """The monitored value, or None when check_monitor found that it cannot be there."""
        if self.monitor in (logs or {}):
            return logs[self.monitor]  # type: ignore[index]  # not None: it holds the monitor
        if self._monitor_unavailable:
            return None
        raise ValueError(f"{type(self).__name__} monitors {self.monitor!r}, but the logs hold only "
                         f"{sorted(logs or {})}. Pass validation data for val_* metrics.")


def check_monitors(callbacks: Iterable[Callback], has_validation: bool) -> None:
    """Before the first epoch: warn about every callback whose val_* monitor cannot be there without validation data."""
    for callback in callbacks:
        if isinstance(callback, MonitorCallback):
            callback.check_monitor(has_validation)


class EarlyStopping(MonitorCallback):
    """Stop when `monitor` has not improved by min_delta for `patience` epochs; optionally restore the best weights.

    As in Keras, the best weights are put back at the end of training whether or not it stopped early.
    verbose=1 prints a line when it stops training and when it restores weights.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, mode: str = "auto",
                 restore_best_weights: bool = False, verbose: int = 0) -> None:
        self.monitor, self.restore_best_weights = monitor, restore_best_weights
        self.patience = check_int("patience", patience, minimum=0)
        self.verbose = _check_verbose(verbose)
        self._better, self._worst = _improvement_test(monitor, mode, min_delta)
        self.on_train_begin()

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self.best: float
        self.wait: int
        self.stopped_epoch: int | None
        self.best_epoch: int | None
        self.best_weights: list[np.ndarray] | None
        self.best, self.wait, self.stopped_epoch, self.best_epoch, self.best_weights = self._worst, 0, None, None, None

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        current = self._current(logs)
        if current is None:
            return
        improved = self._better(current, self.best)
        if improved or self.best_epoch is None:  # until something improves (a NaN), the first epoch is the best
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.network.get_weights()
        if improved:
            self.best, self.wait = current, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.network.stop_training = True

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        if self.verbose and self.stopped_epoch is not None:
            _say(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                _say("Restoring model weights from the end of the best epoch: "
                     f"{self.best_epoch + 1}.")  # type: ignore[operator]  # set with best_weights
            self.network.set_weights(self.best_weights)


class ModelCheckpoint(MonitorCallback):
    """Save the model after each epoch (atomically), or only when `monitor` improves with save_best_only.

    `filepath` may hold format fields: 'ckpt-{epoch:02d}-{val_loss:.3f}.model' (epoch counts from 1).
    With save_weights_only, only the weights are written (saving.save_weights: load them with
    saving.load_weights into a network built alike). As in Keras, the best value seen is kept across
    train() calls. verbose=1 prints a line for every epoch's decision.
    """

    def __init__(self, filepath: str | os.PathLike[str], monitor: str = "val_loss", save_best_only: bool = False,
                 mode: str = "auto", save_weights_only: bool = False, verbose: int = 0) -> None:
        if not isinstance(filepath, (str, os.PathLike)) or not os.fspath(filepath):
            raise ValueError(f"Received an invalid value for filepath, expected a file path. Received: filepath={filepath!r}")
        for name, value in (("save_best_only", save_best_only), ("save_weights_only", save_weights_only)):
            if not isinstance(value, bool):
                raise ValueError(f"Received an invalid value for {name}, expected True or False. Received: {name}={value!r}")
        self.filepath, self.monitor, self.save_best_only = os.fspath(filepath), monitor, save_best_only
        self.save_weights_only, self.verbose = save_weights_only, _check_verbose(verbose)
        self._better, self.best = _improvement_test(monitor, mode, 0.0)

    def _uses_monitor(self) -> bool:
        return self.save_best_only  # saving after every epoch never reads the monitor

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        what = "weights" if self.save_weights_only else "model"
        if self.save_best_only:
            current = self._current(logs)
            if current is None:
                return
            if not self._better(current, self.best):
                if self.verbose:
                    _say(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            path = self.filepath.format(epoch=epoch + 1, **logs)
            if self.verbose:
                _say(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, "
                     f"saving {what} to {path}")
            self.best = current
        else:
            path = self.filepath.format(epoch=epoch + 1, **logs)
            if self.verbose:
                _say(f"Epoch {epoch + 1}: saving {what} to {path}")
        if self.save_weights_only:
            from .saving import save_weights

            save_weights(self.network, path)
            return
        self.network.metadata["epochs_completed"] = epoch + 1
        self.network.save_model(path)


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the optimiser's lr by `factor` after `patience` epochs without improvement, down to min_lr.

    After a reduction, `cooldown` epochs pass before epochs without improvement count again (Keras's rule:
    the counter is decremented first, so the last cooldown epoch already counts). verbose=1 prints a line
    at each reduction.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, mode: str = "auto",
                 min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0, verbose: int = 0) -> None:
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < 1:
            raise ValueError(f"Received an invalid value for factor, expected a number in (0, 1). Received: factor={factor!r}")
        if isinstance(min_lr, bool) or not isinstance(min_lr, (int, float)) or not 0 <= min_lr < math.inf:
            raise ValueError(f"Received an invalid value for min_lr, expected a number >= 0. Received: min_lr={min_lr!r}")
        self.monitor, self.factor, self.min_lr = monitor, float(factor), float(min_lr)
        self.patience = check_int("patience", patience, minimum=0)
        self.cooldown = check_int("cooldown", cooldown, minimum=0)
        self.verbose = _check_verbose(verbose)
        self._better, self._worst = _improvement_test(monitor, mode, min_delta)
        self.on_train_begin()

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self.best: float
        self.wait: int
        self.cooldown_left: int
        self.best, self.wait, self.cooldown_left = self._worst, 0, 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        current = self._current(logs)
        if current is None:
            return
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if self._better(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_left == 0:  # epochs inside the cooldown do not count towards patience
            self.wait += 1
            optimizer: Optimizer = self.network.optimizer  # type: ignore[assignment]  # training has one
            if self.wait >= self.patience and optimizer.lr > self.min_lr:  # never raise an lr below min_lr
                optimizer.lr = max(optimizer.lr * self.factor, self.min_lr)
                self.cooldown_left, self.wait = self.cooldown, 0
                if self.verbose:
                    _say(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {optimizer.lr:.6g}.")


class LearningRateScheduler(Callback):
    """Set the lr at the start of each epoch to schedule(epoch, lr), or schedule(epoch) (epoch counts from 0).

    With steps_per_epoch (the batches in an epoch), the lr is set before every batch instead, to
    schedule(epoch + batch / steps_per_epoch, lr): a fractional epoch, for warm-ups and one-cycle
    schedules that move within an epoch.
    """

    def __init__(self, schedule: Callable[..., float], steps_per_epoch: int | None = None) -> None:
        if not callable(schedule):
            raise ValueError(f"Received a schedule that is not callable. Received: schedule={schedule!r}")
        self.schedule = schedule
        self.steps_per_epoch = None if steps_per_epoch is None else check_int("steps_per_epoch", steps_per_epoch)
        self._takes_lr = _accepts_two_arguments(schedule)
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self._epoch = epoch
        self._set(epoch)

    def on_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        if self.steps_per_epoch is not None and batch + 1 < self.steps_per_epoch:  # the lr of the next batch
            self._set(self._epoch + (batch + 1) / self.steps_per_epoch)

    def _set(self, epoch: float) -> None:
        optimizer: Optimizer = self.network.optimizer  # type: ignore[assignment]  # training has one
        lr = float(self.schedule(epoch, optimizer.lr) if self._takes_lr else self.schedule(epoch))
        if not 0 <= lr < math.inf:
            raise ValueError(f"The schedule returned lr={lr!r} for epoch {epoch}, expected a finite number >= 0.")
        optimizer.lr = lr


def _accepts_two_arguments(function: Callable[..., Any]) -> bool:
    """Whether function(epoch, lr) can be called; Keras also accepts the older one-argument schedule(epoch)."""
    try:
        inspect.signature(function).bind(0, 0.0)
    except TypeError:
        return False
    except ValueError:  # no introspectable signature (some builtins): assume the two-argument form
        return True
    return True


class CSVLogger(Callback):
    """Append one CSV row per epoch (epoch, then the logs' keys in sorted order) to `filename`."""

    def __init__(self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False) -> None:
        self.filename, self.separator, self.append = filename, separator, append
        self._file: IO[str] | None = None
        self._keys: list[str] | Literal[False] | None = None  # False: the header is already in the file

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        has_rows = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", encoding="utf-8")
        self._keys = None if not has_rows else False  # False: header already written

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        if not self._keys:
            keys = sorted(logs)
            if self._keys is None:
                self._file.write(self.separator.join(["epoch", *keys]) + "\n")  # type: ignore[union-attr]
            self._keys = keys
        self._file.write(  # type: ignore[union-attr]  # on_train_begin opened it
            self.separator.join([str(epoch), *(repr(float(logs.get(k, float("nan")))) for k in self._keys)]) + "\n")
        self._file.flush()  # type: ignore[union-attr]

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or inf."""

    def on_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.network.stop_training = True
