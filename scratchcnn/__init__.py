"""scratchcnn: a convolutional-neural-network library written from scratch on NumPy."""
__version__ = "0.1.0"

from . import callbacks, functional, initializers, losses, metrics, optimizers  # noqa: E402
from .callbacks import Callback, History  # noqa: E402
from .layers import ConvLayer, Dense, Flatten, Layer, MultiClassDense, Parameter, PoolingLayer  # noqa: E402
from .network import Network  # noqa: E402
from .optimizers import SGD, Adam  # noqa: E402
from .saving import ModelFileError, load_model  # noqa: E402

__all__ = ["Network", "ConvLayer", "PoolingLayer", "Flatten", "Dense", "MultiClassDense", "Layer", "Parameter",
           "SGD", "Adam", "Callback", "History", "ModelFileError", "load_model", "callbacks", "functional",
           "initializers", "losses", "metrics", "optimizers", "__version__"]
