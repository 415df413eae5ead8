"""scratchcnn: a convolutional-neural-network library written from scratch on NumPy."""
__version__ = "0.1.0"

from . import callbacks, functional, initializers, losses, metrics, optimizers, schedules  # noqa: E402
from .augmentation import Augmentation  # noqa: E402
from .gradcheck import check_gradients  # noqa: E402
from .callbacks import (Callback, CSVLogger, EarlyStopping, History, LearningRateScheduler,  # noqa: E402
                        ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN)
from .layers import ConvLayer, Dense, Flatten, Layer, MultiClassDense, Parameter, PoolingLayer  # noqa: E402
from .layers import Activation, BatchNorm, Dropout, GlobalAveragePooling, Residual  # noqa: E402
from .network import Network  # noqa: E402
from .profiler import profile  # noqa: E402
from .optimizers import SGD, Adam, RMSprop  # noqa: E402
from .parallel import get_num_threads, set_num_threads  # noqa: E402
from .saving import ModelFileError, load_model, load_weights, save_weights  # noqa: E402

__all__ = ["Network", "ConvLayer", "PoolingLayer", "Flatten", "Dense", "MultiClassDense", "Layer", "Parameter",
           "Dropout", "BatchNorm", "Activation", "GlobalAveragePooling", "Residual",
           "SGD", "Adam", "RMSprop", "Callback", "History", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau",
           "LearningRateScheduler", "CSVLogger", "TerminateOnNaN", "Augmentation", "check_gradients", "profile", "get_num_threads", "set_num_threads", "ModelFileError", "load_model", "load_weights", "save_weights",
           "callbacks", "functional", "initializers", "losses", "metrics", "optimizers", "schedules", "__version__"]
