"""The `scratchcnn` command: experiment, train, evaluate, predict, summary, profile."""
import argparse
import os
import sys

import numpy as np

from .distributed import DistributedError
from .experiments import RECIPES, run_experiment


def _default_verbose():
    return 1 if sys.stdout.isatty() else 2


def _add_training_options(parser):
    parser.add_argument("--out", default=None, help="output folder for the log, model, pictures and report "
                                                   "(default: runs/NAME)")
    parser.add_argument("--epochs", type=int, default=None, help="number of epochs (default: the recipe's)")
    parser.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default: the recipe's)")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default: the recipe's)")
    parser.add_argument("--seed", type=int, default=0, help="seed for data splits, initial weights and shuffling")
    parser.add_argument("--data", default=None, help="data folder: IDX files for mnist/fashion-mnist, or a folder "
                                                     "with one sub-folder of images per class for catsdogs")
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default=None,
                        help="optimiser (default: the recipe's)")
    parser.add_argument("--limit", type=int, default=None,
                        help="keep only the first N samples of each split (a quick trial run)")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                        help="0 silent, 1 progress bar, 2 one line per epoch (default: 1 on a terminal, else 2)")
    parser.add_argument("--distributed", action="store_true",
                        help="one of the processes of an MPI job (mpiexec -n N scratchcnn ...): each takes its share "
                             "of every batch of --batch-size rows; process 0 writes the files (docs/distributed.md)")


def _experiment(args):
    run_experiment(args.name, args.out or os.path.join("runs", args.name), epochs=args.epochs,
                   batch_size=args.batch_size, learning_rate=args.lr, seed=args.seed, data_path=args.data,
                   verbose=_default_verbose() if args.verbose is None else args.verbose, limit=args.limit,
                   optimizer=args.optimizer, distributed=args.distributed)


def _load(path):
    from .saving import load_model

    return load_model(path)


def _summary(args):
    network = _load(args.model)
    shape = network.metadata.get("input_shape")
    if args.input_shape:
        shape = [int(v) for v in args.input_shape.split(",")]
    if not shape:
        raise SystemExit("The model file does not record its input shape: pass --input-shape C,H,W")
    network.summary(input_shape=tuple(shape))


def _dataset_for(network, data_path, seed):
    name = network.metadata.get("experiment")
    if name not in RECIPES:
        raise SystemExit("The model file does not name the experiment that made it; evaluate it from Python instead.")
    return RECIPES[name], RECIPES[name].load(data_path, seed)


def _evaluate(args):
    from . import losses, metrics

    network = _load(args.model)
    recipe, data = _dataset_for(network, args.data, args.seed)
    loss_fn, _ = losses.get(recipe.loss)
    if args.limit is not None:
        data = data.head(args.limit)
    outputs, loss, accuracy = network.evaluate(data.test_x, data.test_y, loss_fn)
    print(metrics.classification_report(data.test_y, outputs, class_names=data.class_names, digits=4))
    print(f"Test loss: {loss:.4f}  Test accuracy: {accuracy:.4f}  ({len(outputs)} samples)")


def _image_files(path):
    if os.path.isdir(path):
        return sorted(os.path.join(root, f) for root, _, files in os.walk(path) for f in files
                      if f.lower().endswith((".png", ".jpg", ".jpeg", ".bmp", ".gif")))
    return [path]


def _predict(args):
    from PIL import Image

    from . import metrics

    network = _load(args.model)
    channels, height, width = network.metadata.get("input_shape", [None] * 3)
    if channels is None:
        raise SystemExit("The model file does not record its input shape (C, H, W).")
    names = network.metadata.get("class_names") or []
    for file in _image_files(args.path):
        with Image.open(file) as image:
            image = image.convert("L" if channels == 1 else "RGB").resize((width, height), Image.BILINEAR)
            x = np.asarray(image, dtype=np.float32) / 255
        x = x[None] if channels == 1 else x.transpose(2, 0, 1)
        out = network.predict(x[None])
        index = int(metrics.to_class_indices(out)[0])
        confidence = float(out[0].max()) if out.shape[1] > 1 else float(out[0, 0] if index else 1 - out[0, 0])
        label = names[index] if index < len(names) else str(index)
        print(f"{file}: {label} ({confidence:.3f})")


def _profile(args):
    from .profiler import profile

    if args.target in RECIPES:
        recipe = RECIPES[args.target]
        data = recipe.load(args.data, args.seed)
        network, X = recipe.build(data), data.train_x[:args.batch_size]
        network.initialize(args.seed)
    else:
        network = _load(args.target)
        shape = network.metadata.get("input_shape")
        if not shape:
            raise SystemExit("The model file does not record its input shape (C, H, W).")
        X = np.random.default_rng(args.seed).random((args.batch_size, *shape), dtype=np.float32)
    profile(network, X, repeats=args.repeats)


def build_parser():
    parser = argparse.ArgumentParser(prog="scratchcnn", description="A CNN library written from scratch on NumPy.")
    sub = parser.add_subparsers(dest="command", required=True)
    names = ", ".join(f"{name} ({recipe.description})" for name, recipe in RECIPES.items())
    experiment = sub.add_parser("experiment", help="run one of the report's experiments or a stronger recipe",
                                description=f"Experiments: {names}")
    experiment.add_argument("name", choices=sorted(RECIPES), help="which experiment")
    _add_training_options(experiment)
    experiment.set_defaults(func=_experiment)
    train = sub.add_parser("train", help="train a recipe's network on its data set with your own settings")
    train.add_argument("name", choices=sorted(RECIPES), help="which recipe")
    _add_training_options(train)
    train.set_defaults(func=_experiment)
    evaluate = sub.add_parser("evaluate", help="evaluate a saved model on the test split of its experiment")
    evaluate.add_argument("model", help="a .model file written by scratchcnn")
    evaluate.add_argument("--data", default=None, help="data folder (as for the experiment)")
    evaluate.add_argument("--seed", type=int, default=0, help="the seed the experiment's split used")
    evaluate.add_argument("--limit", type=int, default=None, help="evaluate only the first N test samples")
    evaluate.set_defaults(func=_evaluate)
    predict = sub.add_parser("predict", help="classify an image file or every image in a folder")
    predict.add_argument("model", help="a .model file written by scratchcnn")
    predict.add_argument("path", help="an image file or a folder of images")
    predict.set_defaults(func=_predict)
    prof = sub.add_parser("profile", help="time each layer's forward and backward pass on one batch")
    prof.add_argument("target", help="a recipe name (its network and data) or a .model file (random inputs)")
    prof.add_argument("--batch-size", type=int, default=64, help="batch size to time (default 64)")
    prof.add_argument("--repeats", type=int, default=5, help="timed passes; the median is shown (default 5)")
    prof.add_argument("--data", default=None, help="data folder, for recipes that need one")
    prof.add_argument("--seed", type=int, default=0, help="seed for the weights and random inputs")
    prof.set_defaults(func=_profile)
    summary = sub.add_parser("summary", help="print a saved model's layer table")
    summary.add_argument("model", help="a .model file written by scratchcnn")
    summary.add_argument("--input-shape", default=None, help="per-sample input shape, e.g. 1,28,28")
    summary.set_defaults(func=_summary)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, DistributedError) as error:
        print(f"scratchcnn: error: {error}", file=sys.stderr)
        if getattr(args, "distributed", False):  # the other processes of the MPI job may be waiting for this one
            from .distributed import abort
            abort(2)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
