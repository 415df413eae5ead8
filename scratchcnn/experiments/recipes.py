"""The experiments: the report's four (XOR, 4-bit multiclass, MNIST, cats vs dogs) and stronger recipes.

Each recipe is data: how to load its data, which network, and the training settings.
"""
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from .. import zoo
from ..augmentation import Augmentation
from ..datasets import fashion_mnist, four_bit_dataset, load_image_folder, load_mnist, mnist, xor_dataset
from ..schedules import CosineDecay, OneCycle


@dataclass
class Data:
    """Train/validation/test splits: images (N, C, H, W) or features (N, F), labels, class names."""

    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    class_names: list
    note: str = ""

    def head(self, limit):
        """The first `limit` samples of every split."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"Received an invalid value for limit, expected a positive integer. Received: limit={limit!r}")
        return Data(self.train_x[:limit], self.train_y[:limit], self.val_x[:limit], self.val_y[:limit],
                    self.test_x[:limit], self.test_y[:limit], self.class_names,
                    note=self.note + f" (limited to the first {limit} samples of each split)")


@dataclass
class Recipe:
    name: str
    description: str
    load: Callable  # (data_path, seed) -> Data
    build: Callable  # (Data) -> Network
    loss: str
    epochs: int
    learning_rate: float
    batch_size: int
    optimizer: str = "sgd"
    report_result: str = ""
    augment: Optional[Callable] = None  # augment(x_batch, rng), e.g. Augmentation(crop_padding=2)
    schedule: Optional[Callable] = None  # (epochs, learning_rate) -> schedule(epoch, lr) for LearningRateScheduler
    schedule_per_batch: bool = False  # set the lr before every batch, at fractional epochs (warm-ups, one-cycle)
    optimizer_options: dict = field(default_factory=dict)  # e.g. weight_decay, for the recipe's own optimizer
    tta: Optional[str] = None  # the test split's outputs averaged over views (scratchcnn/tta.py), e.g. "flip"

    def settings(self, epochs=None, batch_size=None, learning_rate=None, optimizer=None):
        """'12 epochs, batch size 64, adam, lr 0.001': the recipe's training settings, each given value
        (not None) in its place, marked with the recipe's own."""
        parts: list[tuple[Callable[[Any], str], Any, Any]] = [(_epochs_text, epochs, self.epochs), ("batch size {}".format, batch_size, self.batch_size),
                 (str, optimizer, self.optimizer), ("lr {:g}".format, learning_rate, self.learning_rate)]
        return ", ".join(show(own if given is None else given) + ("" if given is None or given == own else
                                                                   f" (recipe: {show(own)})")
                         for show, given, own in parts)


def _epochs_text(epochs):
    return f"{epochs} epoch{'' if epochs == 1 else 's'}"


def _toy(dataset, num_samples, class_names):
    def load(data_path, seed):
        X, y = dataset(num_samples, seed=seed)
        return Data(X, y, X, y, X, y, class_names, note=f"{num_samples} random rows; the report trains and tests on them")
    return load


def _mnist_report(data_path, seed):
    train_x, train_y, test_x, test_y, val_x, val_y = load_mnist(30, (0.7, 0.2, 0.1), seed=seed, path=data_path)
    return Data(train_x, train_y, val_x, val_y, test_x, test_y, [str(d) for d in range(10)],
                note="30 images per digit from the official training set, split 70/20/10 (210/60/30)")


def _unit_float(images):
    """uint8 (N, H, W) -> float32 (N, 1, H, W) in [0, 1], with one copy."""
    out = images[:, None].astype(np.float32)
    out /= 255
    return out


def _idx_pair(loader, class_names, validation=5000):
    def load(data_path, seed):
        (x_train, y_train), (x_test, y_test) = loader(data_path) if data_path else loader()
        x_train, x_test = _unit_float(x_train), _unit_float(x_test)
        cut = len(x_train) - validation
        return Data(x_train[:cut], y_train[:cut], x_train[cut:], y_train[cut:], x_test, y_test, class_names,
                    note=f"official split: train on {cut}, validate on the last {validation} training images, "
                         f"test on the {len(x_test)} official test images")
    return load


def _photos(size, per_class=None):
    def load(data_path, seed):
        if data_path is None:
            raise ValueError("This experiment needs --data FOLDER: a folder with one sub-folder of photos per class "
                             "(for example the Kaggle cat-and-dog layout).")
        train_x, train_y, test_x, test_y, val_x, val_y, names = load_image_folder(
            data_path, size=size, split=(0.8, 0.1, 0.1), seed=seed)
        note = "split 80/10/10 per class, seeded"
        if per_class is not None:  # the report trained on 140 photos
            rng = np.random.default_rng(seed)
            keep = np.concatenate([rng.permutation(np.flatnonzero(train_y == c))[:per_class] for c in range(len(names))])
            train_x, train_y = train_x[keep], train_y[keep]
            note += f"; training on {len(keep)} photos ({per_class} per class) as in the report"
        return Data(train_x, train_y.astype(np.float32), val_x, val_y.astype(np.float32), test_x,
                    test_y.astype(np.float32), names, note=note)
    return load


RECIPES = {recipe.name: recipe for recipe in [
    Recipe("xor", "The report's 3-bit XOR: Dense 3-4-3-1 (tanh, tanh, sigmoid), BCE.",
           _toy(xor_dataset, 15, ["0", "1"]), lambda data: zoo.xor_net(), "bce_loss", 4000, 0.01, 1,
           report_result="accuracy 1.0"),
    Recipe("multiclass", "The report's 4-bit, 3-class set (class = number of ones, capped at 2): Dense 4-4-3-3.",
           _toy(four_bit_dataset, 25, ["0 ones", "1 one", "2+ ones"]), lambda data: zoo.four_bit_net(),
           "categorical_crossentropy", 8000, 0.2, 1, report_result="accuracy 1.0"),
    Recipe("mnist-report", "The report's MNIST protocol: listing 10 on 300 images.",
           _mnist_report, lambda data: zoo.report_mnist_net(), "categorical_crossentropy", 100, 0.0003, 1,
           report_result="test accuracy 0.82 after 5 h 09 min"),
    Recipe("mnist", "Full MNIST in 8 epochs: a lean convnet (Conv5x5 32-Pool-Conv3x3 64-BatchNorm-Pool-128-10, "
                    "dropout 0.25), random shifts of up to 2 pixels, a one-cycle lr (warm-up over a quarter of the "
                    "run to 0.005, then a cosine down) set before every batch.",
           _idx_pair(mnist.load_data, [str(d) for d in range(10)]),
           lambda data: zoo.lean_mnist_convnet(widths=(32, 64), dropout=0.25), "categorical_crossentropy", 8, 5e-3,
           128, optimizer="adam", augment=Augmentation(crop_padding=2),
           schedule=lambda epochs, lr: OneCycle(lr, epochs, warmup=0.25), schedule_per_batch=True,
           report_result="Keras's reference convnet: 0.992"),
    Recipe("mnist-fast", "Full MNIST in 3 epochs: the lean convnet at half width (Conv5x5 16-Pool-Conv3x3 "
                         "32-BatchNorm-Pool-128-10), no augmentation, the one-cycle lr of mnist.",
           _idx_pair(mnist.load_data, [str(d) for d in range(10)]),
           lambda data: zoo.lean_mnist_convnet(widths=(16, 32)), "categorical_crossentropy", 3, 5e-3, 128,
           optimizer="adam", schedule=lambda epochs, lr: OneCycle(lr, epochs, warmup=0.25), schedule_per_batch=True),
    Recipe("fashion-mnist", "Fashion-MNIST (apt-get install dataset-fashion-mnist) with the same convnet as mnist.",
           _idx_pair(fashion_mnist.load_data, list(fashion_mnist.CLASS_NAMES)),
           lambda data: zoo.mnist_convnet(dropout=0.4), "categorical_crossentropy", 12, 1e-3, 64, optimizer="adam"),
    Recipe("catsdogs-report", "The report's cats vs dogs: listing 13 at 50x50 on 140 photos.",
           _photos((50, 50), per_class=70), lambda data: zoo.report_catsdogs_net(), "bce_loss", 100, 0.0003, 1,
           report_result="accuracy 0.50 after 8 h 21 min"),
    Recipe("catsdogs", "Cats vs dogs, stronger: 64x64 photos, four Conv-BatchNorm-ReLU stages (32-64-128-256, "
                       "max-pools between), global average pooling, dropout 0.3, sigmoid; the lr decays on a cosine to "
                       "1 %; all training photos; random resized crops (50-100 % of the area), flips, brightness and "
                       "contrast jitter of 20 %.",
           _photos((64, 64)), lambda data: zoo.batchnorm_photo_convnet(3), "bce_loss", 50, 2e-3, 32,
           optimizer="adam", augment=Augmentation(crop_scale=(0.5, 1.0), horizontal_flip=True, brightness=0.2,
                                                  contrast=0.2),
           schedule=lambda epochs, lr: CosineDecay(lr, epochs, min_lr=lr / 100)),
]}
