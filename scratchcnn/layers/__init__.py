"""Layers: each owns its Parameters and calls the pure math in scratchcnn.functional."""
from .base import ActivatedLayer, Layer, Parameter
from .conv import ConvLayer
from .dense import Dense, MultiClassDense
from .flatten import Flatten
from .pooling import PoolingLayer

LAYER_CLASSES = {cls.__name__: cls for cls in (ConvLayer, PoolingLayer, Flatten, Dense, MultiClassDense)}

__all__ = ["Layer", "ActivatedLayer", "Parameter", "ConvLayer", "PoolingLayer", "Flatten", "Dense",
           "MultiClassDense", "LAYER_CLASSES"]
