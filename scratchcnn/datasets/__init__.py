"""Data sets for scratchcnn: IDX/MNIST readers, image folders and toy sets.

    from scratchcnn.datasets import mnist, load_mnist
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    train_x, train_y, test_x, test_y, val_x, val_y = load_mnist()
"""
from . import fashion_mnist, mnist
from .idx import read_idx
from .image_batches import ImageDecodeError, ImageFolderBatches
from .image_folder import IMAGE_EXTENSIONS, list_classes, list_image_files, load_image, load_image_folder
from .mnist import load_mnist
from .synthetic import four_bit_dataset, xor_dataset

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageDecodeError",
    "ImageFolderBatches",
    "fashion_mnist",
    "four_bit_dataset",
    "list_classes",
    "list_image_files",
    "load_image",
    "load_image_folder",
    "load_mnist",
    "mnist",
    "read_idx",
    "xor_dataset",
]
