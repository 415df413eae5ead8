"""The `scratchcnn` command: experiment, train, evaluate, predict, summary, profile, explain.

Every error a user can cause ends the command with one line on stderr and exit status 2:
bad options (argparse), missing or damaged files, models that lack what a command needs.
"""
import argparse
import math
import os
import sys
import warnings

import numpy as np

from .checks import check_int
from .distributed import DistributedError
from .experiments import RECIPES, run_experiment
from .optimizers import OPTIMIZER_NAMES

PREDICT_CHUNK = 64  # images decoded, then predicted in one call, at a time


def _default_verbose():
    return 1 if sys.stdout.isatty() else 2


# -- option types: a bad value is argparse's error, naming the option and what it expects ------------------------
def _number_type(option, convert, valid, expected):
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not valid(value):
            raise argparse.ArgumentTypeError(f"invalid value, expected {expected}. Received: {option}={text}")
        return value
    return parse


def _positive_int(option):
    return _number_type(option, int, lambda v: v > 0, "a positive integer")


def _non_negative_int(option):
    return _number_type(option, int, lambda v: v >= 0, "an integer >= 0")


def _positive_float(option):
    return _number_type(option, float, lambda v: math.isfinite(v) and v > 0, "a positive number")


def _fraction(option):
    return _number_type(option, float, lambda v: 0 <= v < 1, "a fraction in [0, 1)")


def _image_size(text):
    """'64' -> (64, 64); '64x48' -> (64, 48): height x width, as the library's (C, H, W)."""
    parts = text.lower().split("x")
    try:
        size = tuple(int(part) for part in parts)
    except ValueError:
        size = ()
    if len(size) == 1:
        size *= 2
    if len(size) != 2 or min(size) < 1:
        raise argparse.ArgumentTypeError(f"invalid value, expected a side (64) or HEIGHTxWIDTH (64x48) in pixels. "
                                         f"Received: --size={text}")
    return size


def _add_training_options(parser):
    parser.add_argument("--out", default=None, help="output folder for the log, model, pictures and report "
                                                   "(default: runs/NAME)")
    parser.add_argument("--epochs", type=_positive_int("--epochs"), default=None,
                        help="number of epochs (default: the recipe's; 10 on a folder)")
    parser.add_argument("--batch-size", type=_positive_int("--batch-size"), default=None,
                        help="mini-batch size (default: the recipe's; 32 on a folder)")
    parser.add_argument("--lr", type=_positive_float("--lr"), default=None,
                        help="learning rate (default: the recipe's; on a folder 0.001, or 0.01 for sgd)")
    parser.add_argument("--seed", type=_non_negative_int("--seed"), default=0,
                        help="seed for data splits, initial weights and shuffling")
    parser.add_argument("--data", default=None, help="data folder: IDX files for mnist/fashion-mnist, or a folder "
                                                     "with one sub-folder of images per class")
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZER_NAMES), default=None,
                        help="optimiser (default: the recipe's; adam on a folder)")
    parser.add_argument("--limit", type=_positive_int("--limit"), default=None,
                        help="keep only the first N samples of each split (a quick trial run)")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                        help="0 silent, 1 progress bar, 2 one line per epoch (default: 1 on a terminal, else 2)")
    parser.add_argument("--distributed", action="store_true",
                        help="one of the processes of an MPI job (mpiexec -n N scratchcnn ...): each takes its share "
                             "of every batch of --batch-size rows; process 0 writes the files (docs/distributed.md)")


def _add_folder_options(parser):
    group = parser.add_argument_group("training on an image folder (--data FOLDER --net NET, no recipe)")
    group.add_argument("--net", default=None, help="a zoo network by name (built for the data's channels, size and "
                                                  "classes), a .model file to train further, or a JSON network "
                                                  "config (a model file's config.json 'layers' list)")
    group.add_argument("--size", type=_image_size, default=None,
                       help="image size: 64 or HEIGHTxWIDTH such as 64x48 (default: the model's, else 64)")
    group.add_argument("--color", choices=("rgb", "gray"), default=None, help="colour mode (default: the "
                                                                              "model's, else rgb)")
    group.add_argument("--augment", action="store_true", help="random resized crops, flips, brightness and "
                                                              "contrast jitter (scratchcnn.augmentation)")
    group.add_argument("--validation-split", type=_fraction("--validation-split"), default=None,
                       help="fraction of each class held out for validation (default 0.1)")


# -- experiment and train --------------------------------------------------------------------------------------
def _experiment(args):
    run_experiment(args.name, args.out or os.path.join("runs", args.name), epochs=args.epochs,
                   batch_size=args.batch_size, learning_rate=args.lr, seed=args.seed, data_path=args.data,
                   verbose=_verbose(args), limit=args.limit, optimizer=args.optimizer, distributed=args.distributed)


def _verbose(args):
    return _default_verbose() if args.verbose is None else args.verbose


def _train(args):
    folder_options = [option for option, value in (("--net", args.net), ("--size", args.size), ("--color", args.color),
                                                   ("--augment", args.augment or None),
                                                   ("--validation-split", args.validation_split)) if value is not None]
    if args.name is not None:
        if folder_options:
            raise ValueError(f"Received {', '.join(folder_options)} with the recipe {args.name!r}, expected "
                             f"{'these options' if len(folder_options) > 1 else 'it'} only for training on a folder: "
                             "scratchcnn train --data FOLDER --net NET (no recipe).")
        return _experiment(args)
    if args.data is None or args.net is None:
        raise ValueError("Received no recipe, expected a recipe (scratchcnn train RECIPE) or an image folder and a "
                         f"network (scratchcnn train --data FOLDER --net NET). Recipes: {', '.join(sorted(RECIPES))}.")
    from .experiments import train_folder

    name = os.path.basename(os.path.normpath(args.data)) or "folder"
    train_folder(args.data, args.net, args.out or os.path.join("runs", name), size=args.size, color=args.color,
                 epochs=10 if args.epochs is None else args.epochs,
                 batch_size=32 if args.batch_size is None else args.batch_size, learning_rate=args.lr,
                 optimizer=args.optimizer or "adam", seed=args.seed,
                 validation_split=0.1 if args.validation_split is None else args.validation_split,
                 augment=args.augment, limit=args.limit, verbose=_verbose(args))


# -- models and images -----------------------------------------------------------------------------------------
def _load(path):
    from .saving import load_model

    return load_model(path)


def _input_shape(network, path):
    """The model's recorded (C, H, W), or ValueError saying that the command needs it."""
    shape = network.metadata.get("input_shape")
    if not (isinstance(shape, list) and len(shape) == 3 and shape[0] in (1, 3)):
        raise ValueError(f"The model file {path!r} does not record an image input shape (C, H, W) with C = 1 or 3 "
                         f"in its metadata. Received: input_shape={shape!r}")
    return tuple(int(d) for d in shape)


def _warn(message):
    print(f"scratchcnn: warning: {message}", file=sys.stderr)


def _decoded_chunks(files, input_shape, chunk=PREDICT_CHUNK):
    """(files, X (B, C, H, W)) for each run of `chunk` readable files; an unreadable file is skipped with a warning."""
    from .datasets import ImageDecodeError, load_image

    channels, height, width = input_shape
    color = "grayscale" if channels == 1 else "rgb"
    for start in range(0, len(files), chunk):
        kept, images = [], []
        for file in files[start:start + chunk]:
            try:
                images.append(load_image(file, (height, width), color))
                kept.append(file)
            except ImageDecodeError as error:
                cause = error.__cause__ or error
                _warn(f"skipped {file}: not a readable image ({type(cause).__name__}: {' '.join(str(cause).split())})")
        if images:
            yield kept, np.stack(images)


def _image_files(paths):
    """Every path that is a file, and the image files under every folder (sorted, recursively)."""
    from .datasets import IMAGE_EXTENSIONS

    files = []
    for path in paths:
        if os.path.isdir(path):
            found = []
            for root, dirs, names in os.walk(path):
                dirs[:] = [name for name in dirs if not name.startswith(".")]  # hidden folders, as the loaders
                found += [os.path.join(root, name) for name in names
                          if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")]
            files += sorted(found)
        elif os.path.exists(path):
            files.append(path)
        else:
            _warn(f"skipped {path}: no such file or folder")
    return files


def _predict(args):
    from . import metrics

    network = _load(args.model)
    input_shape = _input_shape(network, args.model)
    names = network.metadata.get("class_names") or []
    files = _image_files(args.paths)
    if not files:
        raise ValueError(f"Received no image files in {', '.join(args.paths)}, expected image files or folders "
                         "holding some.")
    for kept, X in _decoded_chunks(files, input_shape, args.batch_size):
        outputs = network.predict(X)  # (B, K)
        for file, out, index in zip(kept, outputs, metrics.to_class_indices(outputs)):
            index = int(index)
            confidence = float(out.max()) if len(out) > 1 else float(out[0] if index else 1 - out[0])
            label = names[index] if index < len(names) else str(index)
            print(f"{file}: {label} ({confidence:.3f})")
        sys.stdout.flush()  # results appear chunk by chunk; a closed pipe shows up here


# -- evaluate --------------------------------------------------------------------------------------------------
def _evaluate(args):
    network = _load(args.model)
    if network.metadata.get("experiment") in RECIPES:
        return _evaluate_recipe(network, args)
    if args.data is None:
        raise ValueError(f"The model file {args.model!r} was not made by a recipe: pass --data FOLDER, a folder "
                         "with one sub-folder of images per class.")
    _evaluate_folder(network, args)


def _evaluate_recipe(network, args):
    from . import losses, metrics

    recipe = RECIPES[network.metadata["experiment"]]
    data = recipe.load(args.data, args.seed)
    loss_fn, _ = losses.get(recipe.loss)
    if args.limit is not None:
        data = data.head(args.limit)
    outputs, loss, accuracy = network.evaluate(data.test_x, data.test_y, loss_fn, tta=recipe.tta)
    print(metrics.classification_report(data.test_y, outputs, class_names=data.class_names, digits=4))
    print(f"Test loss: {loss:.4f}  Test accuracy: {accuracy:.4f}  ({len(outputs)} samples)")


def _evaluate_folder(network, args):
    """Every image under --data/<class>/, labelled by its sub-folder's name among the model's class_names."""
    from . import losses, metrics
    from .datasets import list_image_files
    from .inputs import prepare_targets

    input_shape = _input_shape(network, args.model)
    class_names = network.metadata.get("class_names")
    if not (isinstance(class_names, list) and class_names):
        raise ValueError(f"The model file {args.model!r} does not record its class_names, which name the folder's "
                         "sub-folders; evaluate it from Python instead.")
    files, folder_labels, folder_names = list_image_files(args.data)
    unknown = [name for name in folder_names if name not in class_names]
    if unknown:
        raise ValueError(f"The folder's class sub-folders {unknown} are not among the model's classes {class_names}.")
    to_model = {str(file): class_names.index(folder_names[label]) for file, label in zip(files, folder_labels)}
    files = [str(file) for file in files][:args.limit]
    outputs, labels = [], []
    for kept, X in _decoded_chunks(files, input_shape, args.batch_size):
        outputs.append(network.predict(X))
        labels += [to_model[file] for file in kept]
    if not outputs:
        raise ValueError(f"None of the {len(files)} image files under {args.data!r} could be read.")
    outputs, labels = np.concatenate(outputs), np.array(labels)
    targets = prepare_targets(labels, outputs.shape[1], len(labels), np.float32)
    loss_fn = losses.bce_loss if outputs.shape[1] == 1 else losses.categorical_crossentropy
    print(metrics.classification_report(labels, outputs, class_names=class_names, digits=4))
    print(f"Loss: {float(loss_fn(targets, outputs)):.4f}  Accuracy: {metrics.accuracy(targets, outputs):.4f}  "
          f"({len(labels)} images)")


# -- summary, profile, explain ---------------------------------------------------------------------------------
def _summary(args):
    network = _load(args.model)
    shape = network.metadata.get("input_shape")
    if args.input_shape:
        try:
            shape = [int(v) for v in args.input_shape.split(",")]
        except ValueError:
            raise ValueError(f"Received an invalid value for --input-shape, expected integers such as 1,28,28. "
                             f"Received: --input-shape={args.input_shape}") from None
    if not shape:
        raise ValueError(f"The model file {args.model!r} does not record its input shape: pass --input-shape C,H,W")
    network.summary(input_shape=tuple(shape))


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
            raise ValueError(f"The model file {args.target!r} does not record its input shape (C, H, W).")
        X = np.random.default_rng(args.seed).random((args.batch_size, *shape), dtype=np.float32)
    profile(network, X, repeats=args.repeats)


def _explain(args):
    from . import plotting
    from .datasets import load_image

    network = _load(args.model)
    channels, height, width = _input_shape(network, args.model)
    x = load_image(args.image, (height, width), "grayscale" if channels == 1 else "rgb")  # (C, H, W)
    class_index = _class_index(network, args.class_)
    os.makedirs(args.out, exist_ok=True)
    saliency_path = os.path.join(args.out, "saliency.png")
    plotting.plot_saliency(network, x, class_index=class_index, path=saliency_path)
    print(f"Wrote {saliency_path}")
    try:
        grad_cam_path = os.path.join(args.out, "grad_cam.png")
        plotting.plot_grad_cam(network, x, class_index=class_index, path=grad_cam_path)
        print(f"Wrote {grad_cam_path}")
    except ValueError as error:  # no convolution layer: the saliency map is all there is
        _warn(f"no Grad-CAM: {error}")


def _class_index(network, given):
    """--class as an index, or a class name of the model's; None for the predicted class."""
    if given is None:
        return None
    names = [str(name) for name in network.metadata.get("class_names") or []]
    if given in names:
        return names.index(given)
    outputs = network.output_shapes(tuple(network.metadata["input_shape"]))[-1][1][0]
    count = len(names) or (2 if outputs == 1 else outputs)
    if not (given.isdecimal() and int(given) < count):
        listed = f" or one of the model's class names {names}" if names else ""
        raise ValueError(f"Received an invalid value for --class, expected a class index from 0 to {count - 1}"
                         f"{listed}. Received: --class={given}")
    return int(given)


def _export(args):
    from .onnx_export import export_onnx

    shape = [int(v) for v in args.input_shape.split(",")] if args.input_shape else None
    try:
        path = export_onnx(_load(args.model), args.out, input_shape=shape)
    except ImportError as error:
        raise SystemExit(f"scratchcnn: error: {error}") from None
    print(f"Wrote {path}")


def _serve(args):
    shape = [int(v) for v in args.input_shape.split(",")] if args.input_shape else None
    try:
        from .serve import create_app, serve

        app = create_app(_load(args.model), input_shape=shape)
    except ImportError as error:
        raise SystemExit(f"scratchcnn: error: {error}") from None
    serve(app, host=args.host, port=args.port,
          on_listening=lambda url: print(f"Serving {args.model} at {url}/ (Ctrl-C stops it)", flush=True))


def _images(args):
    """The embedded MNIST digits as PNG files in class folders: an image folder to try the other commands on."""
    from PIL import Image

    from .datasets import load_mnist

    images, labels = load_mnist(num_samples_per_class=check_int("--per-class", args.per_class),
                                split=(1.0, 0.0, 0.0), seed=args.seed)[:2]
    written = [0] * 10  # per class: files are <digit>/0000.png, 0001.png, ...
    for image, digit in zip(images, labels.argmax(axis=1)):
        folder = os.path.join(args.out, str(int(digit)))
        os.makedirs(folder, exist_ok=True)
        Image.fromarray((image[0] * 255).round().astype(np.uint8), mode="L").save(
            os.path.join(folder, f"{written[digit]:04d}.png"))
        written[digit] += 1
    print(f"Wrote {len(images)} digits ({args.per_class} per class) into {args.out}/0 ... {args.out}/9")


# -- the parser ------------------------------------------------------------------------------------------------
def build_parser():
    parser = argparse.ArgumentParser(prog="scratchcnn", description="A CNN library written from scratch on NumPy.")
    sub = parser.add_subparsers(dest="command", required=True)
    names = ", ".join(f"{name} ({recipe.description} {recipe.settings()})" for name, recipe in RECIPES.items())
    experiment = sub.add_parser("experiment", help="run one of the report's experiments or a stronger recipe",
                                description=f"Experiments: {names}")
    experiment.add_argument("name", choices=sorted(RECIPES), help="which experiment")
    _add_training_options(experiment)
    experiment.set_defaults(func=_experiment)
    train = sub.add_parser("train", help="train a recipe's network with your own settings, or a network on any "
                                         "image folder (--data FOLDER --net NET)",
                           description="scratchcnn train RECIPE [options], or scratchcnn train --data FOLDER --net NET "
                                       "[options]: a folder with one sub-folder of images per class.")
    train.add_argument("name", nargs="?", choices=sorted(RECIPES), default=None,
                       help="which recipe (leave out to train --net on --data)")
    _add_training_options(train)
    _add_folder_options(train)
    train.set_defaults(func=_train)
    evaluate = sub.add_parser("evaluate", help="evaluate a saved model: a recipe's on its test split, any other on "
                                               "an image folder (--data)")
    evaluate.add_argument("model", help="a .model file written by scratchcnn")
    evaluate.add_argument("--data", default=None, help="data folder: the recipe's, or a folder with one sub-folder "
                                                       "of images per class named as the model's classes")
    evaluate.add_argument("--seed", type=_non_negative_int("--seed"), default=0,
                          help="the seed the experiment's split used")
    evaluate.add_argument("--limit", type=_positive_int("--limit"), default=None,
                          help="evaluate only the first N test samples")
    evaluate.add_argument("--batch-size", type=_positive_int("--batch-size"), default=PREDICT_CHUNK,
                          help=f"images decoded and predicted together on a folder (default {PREDICT_CHUNK})")
    evaluate.set_defaults(func=_evaluate)
    predict = sub.add_parser("predict", help="classify image files and every image in folders")
    predict.add_argument("model", help="a .model file written by scratchcnn")
    predict.add_argument("paths", nargs="+", metavar="path", help="image files or folders of images")
    predict.add_argument("--batch-size", type=_positive_int("--batch-size"), default=PREDICT_CHUNK,
                         help=f"images decoded and predicted together (default {PREDICT_CHUNK})")
    predict.set_defaults(func=_predict)
    prof = sub.add_parser("profile", help="time each layer's forward and backward pass on one batch")
    prof.add_argument("target", help="a recipe name (its network and data) or a .model file (random inputs)")
    prof.add_argument("--batch-size", type=_positive_int("--batch-size"), default=64,
                      help="batch size to time (default 64)")
    prof.add_argument("--repeats", type=_positive_int("--repeats"), default=5,
                      help="timed passes; the median is shown (default 5)")
    prof.add_argument("--data", default=None, help="data folder, for recipes that need one")
    prof.add_argument("--seed", type=_non_negative_int("--seed"), default=0,
                      help="seed for the weights and random inputs")
    prof.set_defaults(func=_profile)
    images = sub.add_parser("images", help="write digits of the embedded MNIST as PNG files, a folder per class "
                                           "(an image folder to try train --data, predict and evaluate on)")
    images.add_argument("out", help="the folder to write (sub-folders 0 to 9)")
    images.add_argument("--per-class", type=int, default=20, help="digits per class (default 20)")
    images.add_argument("--seed", type=int, default=0, help="which digits are drawn")
    images.set_defaults(func=_images)
    summary = sub.add_parser("summary", help="print a saved model's layer table")
    summary.add_argument("model", help="a .model file written by scratchcnn")
    summary.add_argument("--input-shape", default=None, help="per-sample input shape, e.g. 1,28,28")
    summary.set_defaults(func=_summary)
    explain = sub.add_parser("explain", help="saliency map and Grad-CAM of a model's decision on one image")
    explain.add_argument("model", help="a .model file written by scratchcnn (with its input shape)")
    explain.add_argument("image", help="an image file, resized as predict does")
    explain.add_argument("--out", default=".", help="folder for saliency.png and grad_cam.png (default: here)")
    explain.add_argument("--class", dest="class_", default=None, metavar="N",
                         help="the class to explain, by index or name (default: the predicted one)")
    explain.set_defaults(func=_explain)
    export = sub.add_parser("export", help="write a saved model as an ONNX file (needs scratchcnn[onnx])")
    export.add_argument("model", help="a .model file written by scratchcnn")
    export.add_argument("out", help="the .onnx file to write")
    export.add_argument("--input-shape", default=None, help="per-sample input shape, e.g. 1,28,28 "
                                                           "(default: the one the model file records)")
    export.set_defaults(func=_export)
    serve = sub.add_parser("serve", help="a web page and JSON API classifying with a saved model "
                                         "(needs scratchcnn[serve])")
    serve.add_argument("model", help="a .model file written by scratchcnn")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0: any free port)")
    serve.add_argument("--input-shape", default=None, help="per-sample input shape, e.g. 1,28,28 "
                                                          "(default: the one the model file records)")
    serve.set_defaults(func=_serve)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"scratchcnn: warning: {message}", file=sys.stderr if file is None else file)


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning  # the library's warnings without file names and source lines
            args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()  # the reader went away (`| head`): stop without a traceback, and without one at exit
        return 1
    except KeyboardInterrupt:
        print("scratchcnn: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, ImportError, DistributedError) as error:  # ModelFileError is a ValueError
        print(f"scratchcnn: error: {' '.join(str(error).split())}", file=sys.stderr)
        if getattr(args, "distributed", False):  # the other processes of the MPI job may be waiting for this one
            from .distributed import abort
            abort(2)
        return 2
    return 0


def _quiet_stdout():
    """Point stdout at os.devnull, so the interpreter's final flush of a closed pipe raises nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (a test's captured stdout)
        pass


if __name__ == "__main__":
    sys.exit(main())
