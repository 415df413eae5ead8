"""Training on any image folder (one sub-folder of images per class) with a zoo network, a model file or a config.

The loss follows the classes: a sigmoid unit and binary cross-entropy for two, softmax and
categorical cross-entropy for more (a network ending in a two-way softmax also takes two).
"""
import json
import os
import time
import zipfile
from typing import Any, cast

import numpy as np

from .. import losses, metrics, optimizers, zoo
from ..augmentation import Augmentation
from ..datasets import list_classes, load_image_folder
from ..checks import check_int
from ..network import Network
from ..saving import layers_from_config, load_model
from .artifacts import write_results

DEFAULT_SIZE = (64, 64)
DEFAULT_LEARNING_RATES = {"sgd": 0.01, "adam": 1e-3, "rmsprop": 1e-3}
COLORS = {"rgb": "rgb", "gray": "grayscale", "grayscale": "grayscale"}  # accepted spelling -> load_image_folder's
# --augment: what the catsdogs recipe uses for photos: random resized crops, flips, brightness and contrast jitter.
PHOTO_AUGMENTATION = Augmentation(crop_scale=(0.5, 1.0), horizontal_flip=True, brightness=0.2, contrast=0.2)
_LOSS_NAMES = {"bce_loss": "sigmoid + binary cross-entropy", "categorical_crossentropy": "softmax + categorical cross-entropy"}


def train_folder(data_path, net, out_dir, size=None, color=None, epochs=10, batch_size=32, learning_rate=None,
                 optimizer="adam", seed=0, validation_split=0.1, augment=False, limit=None, verbose=1,
                 print_fn=print):
    """Train `net` on the images under data_path/<class>/, leaving the model, log and report in out_dir.

    Args:
        net: a zoo function's name (built for the data's channels, size and classes), a saved
            .model file (trained further from its weights), or a JSON file of layer configs (a list
            like a model file's config.json 'layers', or an object with such a 'layers' list).
        size: (height, width) the images are resized to; default the .model's input shape, else 64x64.
        color: 'rgb' or 'gray'; default the .model's, else 'rgb'.
        validation_split: the fraction of each class held out for validation (0: none).
        augment: True for PHOTO_AUGMENTATION, or an augment(x_batch, rng) callable.
        limit: keep only the first `limit` training and validation images (a quick trial run).

    Returns:
        The results dict also written to results.json. The model is saved with metadata
        input_shape (C, H, W) and class_names, which predict, evaluate and explain read.
    """
    epochs, batch_size, learning_rate, optimizer = _check_settings(epochs, batch_size, learning_rate, optimizer,
                                                                   validation_split, limit)
    augment = PHOTO_AUGMENTATION if augment is True else (augment or None)
    class_names = list_classes(data_path)
    if len(class_names) < 2:
        raise ValueError(f"Received an image folder with {len(class_names)} class sub-folder {class_names}, expected "
                         f"at least two classes to tell apart. Received: {data_path!r}")
    network, size, color = resolve_network(net, size, color, len(class_names))
    input_shape = (1 if color == "grayscale" else 3, *size)
    loss_name = classifier_loss(network, input_shape, len(class_names))
    train_x, train_y, val_x, val_y = _load(data_path, size, color, validation_split, seed, limit)
    # New metadata, also for a loaded model: what it was trained on last (no recipe name, no epoch count).
    network.metadata = {"input_shape": list(input_shape), "class_names": class_names, "color": color, "net": str(net)}
    print_fn(f"Training {net} on {len(train_x)} images of {data_path} ({len(class_names)} classes: "
             f"{', '.join(class_names)}), {len(val_x)} held out for validation")
    print_fn(f"Training: {epochs} epoch{'s' if epochs > 1 else ''}, batch size {batch_size}, {optimizer}, "
             f"lr {learning_rate:g}, {_LOSS_NAMES[loss_name]}{', augmented' if augment else ''}")
    network.summary(input_shape=input_shape, print_fn=print_fn)
    os.makedirs(out_dir, exist_ok=True)
    loss_fn, loss_derivative = losses.get(loss_name)
    start = time.perf_counter()
    history = network.train(
        train_x, train_y, epochs, learning_rate, loss_fn, loss_derivative, log_file=os.path.join(out_dir, "train_log.txt"),
        val_X=val_x if len(val_x) else None, val_y=val_y if len(val_x) else None, batch_size=batch_size,
        optimizer=optimizer_for(network, optimizer, learning_rate), seed=seed, verbose=verbose, augment=augment)
    results = {"data": str(data_path), "net": str(net), "class_names": class_names, "epochs": len(history.epoch),
               "train_seconds": round(time.perf_counter() - start, 1), "train_samples": int(len(train_x)),
               "validation_samples": int(len(val_x)), "seed": seed}
    return _save_and_report(network, history, data_path, out_dir, (val_x, val_y), loss_fn, results, print_fn)


def _check_settings(epochs, batch_size, learning_rate, optimizer, validation_split, limit):
    """(epochs, batch_size, learning_rate, optimizer name) checked; the optimiser's default lr for None."""
    epochs, batch_size = check_int("epochs", epochs), check_int("batch_size", batch_size)
    if not isinstance(optimizer, str) or optimizer.lower() not in optimizers.OPTIMIZER_NAMES:
        raise ValueError(f"Received an invalid value for optimizer, expected one of "
                         f"{sorted(optimizers.OPTIMIZER_NAMES)}. Received: optimizer={optimizer!r}")
    optimizer = optimizer.lower()
    learning_rate = DEFAULT_LEARNING_RATES[optimizer] if learning_rate is None else \
        optimizers.check_learning_rate(learning_rate)
    if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) \
            or not 0 <= validation_split < 1:
        raise ValueError(f"Received an invalid value for validation_split, expected a fraction in [0, 1). "
                         f"Received: validation_split={validation_split!r}")
    if limit is not None:
        check_int("limit", limit)
    return epochs, batch_size, learning_rate, optimizer


def _save_and_report(network, history, data_path, out_dir, validation, loss_fn, results, print_fn):
    """The model, the validation report and the curves in out_dir, and results.json listing them; returns results."""
    name = os.path.basename(os.path.normpath(str(data_path))) or "model"
    model_path = os.path.join(out_dir, f"{name}.model")
    network.save_model(model_path)
    val_x, val_y = validation
    report = _validation_report(network, val_x, val_y, loss_fn, results["class_names"], out_dir, print_fn)
    results["files"] = [model_path, *report.pop("files", []), *_curves(history, out_dir)]
    results.update(report)
    write_results(out_dir, results)
    print_fn(f"Model, log and report are in {os.path.abspath(out_dir)}/ (model: {model_path})")
    return results


def resolve_network(net, size, color, num_classes):
    """(network, size, color) for --net: a .model file, a JSON config file, or a zoo name built for the data."""
    if color is not None and color not in COLORS:
        raise ValueError(f"Received an invalid value for color, expected 'rgb' or 'gray'. Received: color={color!r}")
    color = None if color is None else COLORS[color]
    network = None
    if isinstance(net, str) and os.path.isfile(net):
        if zipfile.is_zipfile(net):
            network = load_model(net)
            shape = network.metadata.get("input_shape")
            if shape and len(shape) == 3:  # the model's own input, unless the options say otherwise
                size = tuple(shape[1:]) if size is None else size
                color = ("grayscale" if shape[0] == 1 else "rgb") if color is None else color
        else:
            network = network_from_json(net)
    size = DEFAULT_SIZE if size is None else _check_size(size)
    color = "rgb" if color is None else color
    if network is not None:
        return network, size, color
    input_shape = (1 if color == "grayscale" else 3, *size)
    if not isinstance(net, str) or net not in zoo.NETWORKS:
        fitting = zoo.suitable(input_shape, num_classes)
        raise ValueError(
            f"Received an invalid value for --net, expected the name of a zoo network, a .model file or a JSON "
            f"network config. Received: --net={net!r}. Zoo networks for {'x'.join(map(str, input_shape))} images in "
            f"{num_classes} classes: {', '.join(fitting) if fitting else 'none (try another --size or --color)'}.")
    return zoo.build(net, input_shape, num_classes), size, color


def network_from_json(path):
    """A Network from a JSON file: a list of {'class_name', 'config'} layers, or an object with such 'layers'
    (and optionally 'dtype'), as a model file's config.json holds them."""
    try:
        with open(path, encoding="utf-8") as file:
            config = json.load(file)
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"Received --net={path!r}, which is neither a model file nor a JSON network config: "
                         f"{str(error)[:200]}") from None
    layers = config.get("layers") if isinstance(config, dict) else config
    dtype = config.get("dtype", "float32") if isinstance(config, dict) else "float32"
    return Network(layers_from_config(cast(Any, layers)), dtype=dtype)  # layers_from_config checks it


def classifier_loss(network, input_shape, num_classes):
    """'bce_loss' for one sigmoid unit and two classes, 'categorical_crossentropy' for num_classes softmax
    outputs; ValueError if the network does not take input_shape or end so."""
    try:
        output = network.output_shapes(tuple(input_shape))[-1][1]
    except ValueError as error:
        raise ValueError(f"The network does not take the folder's {'x'.join(map(str, input_shape))} images (set "
                         f"--size and --color to its input): {error}") from None
    activation = getattr(network.layers[-1], "activation", None)
    if output == (1,) and num_classes == 2 and activation == "sigmoid":
        return "bce_loss"
    if output == (num_classes,) and activation == "softmax":
        return "categorical_crossentropy"
    expected = "one sigmoid unit or a 2-way softmax" if num_classes == 2 else f"a {num_classes}-way softmax"
    raise ValueError(f"The network ends in {output[0] if len(output) == 1 else output} output(s) with activation "
                     f"{activation!r}; the folder has {num_classes} classes, so it should end in {expected}.")


def optimizer_for(network, name, learning_rate):
    """The network's own optimiser when it is already this kind (a loaded model keeps its state), else a new one."""
    cls = optimizers.OPTIMIZER_NAMES[name]
    current = network.optimizer
    if isinstance(current, cls):
        current.lr = learning_rate
        return current
    return cls(network.parameters(), lr=learning_rate)


def _check_size(size):
    valid = isinstance(size, (tuple, list)) and len(size) == 2 and all(
        isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0 for n in size)
    if not valid:
        raise ValueError(f"Received an invalid value for size, expected (height, width), two positive integers. "
                         f"Received: size={size!r}")
    return int(size[0]), int(size[1])


def _load(data_path, size, color, validation_split, seed, limit):
    """(train_x, train_y, val_x, val_y): the folder split per class, both parts shuffled with the seed."""
    train_x, train_y, _, _, val_x, val_y, _ = load_image_folder(
        data_path, size=size, color=color, split=(1 - validation_split, 0.0, validation_split), seed=seed)
    if limit is not None:
        train_x, train_y, val_x, val_y = train_x[:limit], train_y[:limit], val_x[:limit], val_y[:limit]
    if len(train_x) == 0:
        raise ValueError(f"validation_split={validation_split} leaves no images of {data_path!r} for training.")
    return train_x, train_y, val_x, val_y


def _validation_report(network, val_x, val_y, loss_fn, class_names, out_dir, print_fn):
    if not len(val_x):
        return {}
    outputs, loss, accuracy = network.evaluate(val_x, val_y, loss_fn)
    text = metrics.classification_report(val_y, outputs, class_names=class_names, digits=4)
    path = os.path.join(out_dir, "report.txt")
    with open(path, "w", encoding="utf-8") as file:
        file.write(text + "\n")
    print_fn(text)
    print_fn(f"Validation accuracy: {accuracy:.4f} (loss {loss:.4f}) on {len(val_x)} images")
    return {"validation_accuracy": accuracy, "validation_loss": loss, "files": [path]}


def _curves(history, out_dir):
    """curves.png of the loss and accuracy per epoch, or nothing without matplotlib."""
    try:
        from .. import plotting

        path = os.path.join(out_dir, "curves.png")
        plotting.plot_history(history, path=path)
        return [path]
    except ImportError:
        return []
