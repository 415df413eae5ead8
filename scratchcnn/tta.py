"""Test-time augmentation: a prediction averaged over an image and its transformed copies.

"flip" averages the outputs for each image and its horizontal mirror (x[..., ::-1]): for
photos, whose mirror shows the same class, it is a cheap ensemble of two views. Not for
digits or text, whose mirror images are other shapes.
"""
import numpy as np

TTA_MODES = (None, "flip")


def check_tta(tta):
    """tta if it is None or 'flip', else ValueError saying what was received."""
    if not (tta is None or (isinstance(tta, str) and tta in TTA_MODES)):
        raise ValueError(f"Received an invalid value for tta, expected None or 'flip'. Received: tta={tta!r}")
    return tta


def averaged_outputs(predict, X, tta):
    """predict(X) (outputs (N, ...)) for images X (N, C, H, W), averaged over the views `tta` names."""
    if check_tta(tta) is None:
        return predict(X)
    if X.ndim != 4:
        raise ValueError(f"Received tta='flip' for inputs of shape {tuple(X.shape)}, expected images (N, C, H, W) "
                         "to mirror left-right.")
    outputs = predict(X)
    mirrored = predict(np.ascontiguousarray(X[..., ::-1]))                  # (N, C, H, W) mirrored along W
    outputs += mirrored
    outputs *= outputs.dtype.type(0.5)
    return outputs
