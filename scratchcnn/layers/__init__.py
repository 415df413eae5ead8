"""Layers: each owns its Parameters and calls the pure math in scratchcnn.functional."""
from .activation import Activation
from .base import ActivatedLayer, Layer, Parameter
from .conv import ConvLayer
from .dense import Dense, MultiClassDense
from .flatten import Flatten
from .global_pooling import GlobalAveragePooling
from .pooling import PoolingLayer
from .regularization import BatchNorm, Dropout
from .residual import Residual

LAYER_CLASSES = {cls.__name__: cls for cls in (ConvLayer, PoolingLayer, Flatten, Dense, MultiClassDense,
                                               Dropout, BatchNorm, Activation, GlobalAveragePooling,
                                               Residual)}

__all__ = ["Layer", "ActivatedLayer", "Parameter", "ConvLayer", "PoolingLayer", "Flatten", "Dense",
           "MultiClassDense", "Dropout", "BatchNorm", "Activation", "GlobalAveragePooling", "Residual",
           "LAYER_CLASSES"]
