"""Experiments: load data, train a recipe, and leave a model, pictures and a report in an output folder."""
import os
import time
from contextlib import nullcontext

from .. import losses, optimizers
from ..callbacks import LearningRateScheduler
from ..checks import check_int
from .artifacts import write_pictures, write_report, write_results
from .folder import train_folder
from .recipes import RECIPES, Data, Recipe

__all__ = ["RECIPES", "Data", "Recipe", "run_experiment", "train_folder"]


def run_experiment(name, out_dir, epochs=None, batch_size=None, learning_rate=None, seed=0, data_path=None,
                   verbose=1, limit=None, optimizer=None, print_fn=print, distributed=False):
    """Run the recipe `name`, writing everything to out_dir; returns the results dict.

    `limit` keeps only the first `limit` samples of each split: a quick trial run.
    `distributed=True`: one of the processes of an MPI job that all run it alike
    (docs/distributed.md); process 0 prints and writes every file.
    """
    world = None
    if distributed:  # only process 0 prints and writes; the others train and evaluate their rows
        from ..distributed import connect
        world = connect(distributed)
        print_fn = print_fn if world.rank == 0 else (lambda *args, **kwargs: None)
    if name not in RECIPES:
        raise ValueError(f"Received an unknown experiment, expected one of {sorted(RECIPES)}. Received: {name!r}")
    recipe = RECIPES[name]
    chosen = _check_settings(epochs, batch_size, learning_rate, optimizer)
    if limit is not None:
        check_int("limit", limit)
    epochs, batch_size, learning_rate, optimizer = (getattr(recipe, key) if value is None else value
                                                    for key, value in chosen.items())
    data = recipe.load(data_path, seed)
    if limit is not None:
        data = data.head(limit)
    if world is None or world.rank == 0:
        os.makedirs(out_dir, exist_ok=True)
    network = recipe.build(data)
    network.metadata = {"input_shape": list(data.train_x.shape[1:]), "class_names": list(data.class_names),
                        "experiment": name}
    print_fn(f"{name}: {recipe.description}\nTraining: {recipe.settings(**chosen)}\nData: {data.note}")
    network.summary(input_shape=data.train_x.shape[1:], print_fn=print_fn)
    loss_fn, loss_derivative = losses.get(recipe.loss)
    callbacks = _schedule_callbacks(recipe, epochs, learning_rate, -(-len(data.train_x) // batch_size))
    options = recipe.optimizer_options if optimizer == recipe.optimizer else {}
    start, cpu_start = time.perf_counter(), time.process_time()
    history = network.train(
        data.train_x, data.train_y, epochs, learning_rate, loss_fn, loss_derivative,
        log_file=os.path.join(out_dir, "train_log.txt"), val_X=data.val_x, val_y=data.val_y,
        batch_size=batch_size, seed=seed, verbose=verbose, augment=recipe.augment, callbacks=callbacks,
        optimizer=optimizers.OPTIMIZER_NAMES[optimizer](network.parameters(), lr=learning_rate, **options),
        distributed=distributed)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    model_path = os.path.join(out_dir, f"{name}.model")
    test_outputs, test_loss, test_accuracy = network.evaluate(data.test_x, data.test_y, loss_fn, tta=recipe.tta,
                                                              distributed=distributed)
    results = None  # process 0 writes; the others wait to hear that it could
    with world.agree("Writing the model, report and pictures on process 0") if world else nullcontext():
        if world is None or world.rank == 0:
            results = _write_results(name, recipe, out_dir, network, model_path, data, history, test_outputs,
                                     test_loss, test_accuracy, seconds, cpu_seconds, seed, print_fn)
    return results


def _write_results(name, recipe, out_dir, network, model_path, data, history, test_outputs, test_loss, test_accuracy,
                   seconds, cpu_seconds, seed, print_fn):
    """Save the model, the classification report, the pictures and results.json; print the report; the results."""
    network.save_model(model_path)
    report_path, report_text = write_report(out_dir, data, test_outputs)
    pictures = write_pictures(out_dir, history, data, test_outputs, print_fn)
    results = {"experiment": name, "test_accuracy": test_accuracy, "test_loss": test_loss, "tta": recipe.tta,
               "train_seconds": round(seconds, 1), "train_cpu_seconds": round(cpu_seconds, 2),
               "epochs": len(history.epoch), "seed": seed,
               "train_samples": int(len(data.train_x)), "test_samples": int(len(data.test_x)),
               "report": recipe.report_result, "files": [model_path, report_path, *pictures],
               "per_epoch": _per_epoch(history)}
    write_results(out_dir, results)
    print_fn(report_text)
    print_fn(f"Test accuracy: {test_accuracy:.4f} (loss {test_loss:.4f}{', flip-averaged' if recipe.tta else ''}) "
             f"after {seconds:.1f} s of training ({cpu_seconds:.0f} CPU-seconds) "
             f"[{recipe.report_result or 'no report figure'}]")
    print_fn(f"Model, log, report and pictures are in {os.path.abspath(out_dir)}/")
    return results


def _schedule_callbacks(recipe, epochs, learning_rate, steps_per_epoch):
    """The recipe's LearningRateScheduler, made for this run's epochs and learning rate (so --epochs and --lr reshape
    it), set before every batch for a per-batch schedule; None without a schedule."""
    if recipe.schedule is None:
        return None
    steps = steps_per_epoch if recipe.schedule_per_batch else None
    return [LearningRateScheduler(recipe.schedule(epochs, learning_rate), steps_per_epoch=steps)]


def _per_epoch(history):
    """Each epoch's figures for results.json: 'elapsed' (seconds since training began), the lr, losses, accuracies."""
    keys = [key for key in ("lr", "loss", "accuracy", "val_loss", "val_accuracy") if key in history.history]
    return {"elapsed": [float(value) for value in history.elapsed],
            **{key: [float(value) for value in history.history[key]] for key in keys}}


def _check_settings(epochs, batch_size, learning_rate, optimizer):
    """The training settings given (None: the recipe's), validated: 0 or less is an error, never "the default"."""
    if optimizer is not None and (not isinstance(optimizer, str) or optimizer.lower() not in optimizers.OPTIMIZER_NAMES):
        raise ValueError(f"Received an invalid value for optimizer, expected one of "
                         f"{sorted(optimizers.OPTIMIZER_NAMES)}. Received: optimizer={optimizer!r}")
    return {"epochs": None if epochs is None else check_int("epochs", epochs),
            "batch_size": None if batch_size is None else check_int("batch_size", batch_size),
            "learning_rate": None if learning_rate is None else optimizers.check_learning_rate(learning_rate),
            "optimizer": None if optimizer is None else optimizer.lower()}
