"""Classification metrics written with NumPy: accuracy, confusion matrix, per-class scores, report.

Every function accepts targets and predictions in any of the forms a network produces or a
dataset stores, and reduces them to integer class indices with ``to_class_indices`` first:

* ``(N, K)`` with ``K > 1``: one-hot rows or class probabilities -> arg-max of each row.
* ``(N,)`` or ``(N, 1)`` of an integer or boolean dtype: class labels, kept as they are.
* ``(N,)`` or ``(N, 1)`` of a float dtype:
    - every value in ``[0, 1]``: binary probabilities (or 0/1 targets) -> ``value >= 0.5``;
    - otherwise every value a non-negative whole number (e.g. ``[0., 2., 1.]``): class labels;
    - anything else (negative values, logits, ``1.5``) is ambiguous and raises ``ValueError``.

The confusion matrix follows scikit-learn's convention: rows are true classes, columns are
predicted classes. Scores whose denominator is zero are reported as 0.0 (scikit-learn's
``zero_division=0``).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

BINARY_THRESHOLD = 0.5
_REPORT_HEADERS = ("precision", "recall", "f1-score", "support")
_REPORT_COLUMN_WIDTH = 9
_LONGEST_SUMMARY_NAME = "weighted avg"


def to_class_indices(y: ArrayLike) -> np.ndarray:
    """Reduce targets or predictions to integer class indices.

    Args:
        y: ``(N, K)`` one-hot or probability rows, ``(N,)``/``(N, 1)`` binary probabilities,
            or ``(N,)``/``(N, 1)`` integer class labels (see the module docstring for the rule).

    Returns:
        int64 array ``(N,)``.
    """
    array = np.asarray(y)
    if array.ndim not in (1, 2) or (array.ndim == 2 and array.shape[1] == 0):
        raise ValueError(
            "Received an invalid shape for y, expected (N,), (N, 1) or (N, K) with K > 1. "
            f"Received: y.shape={array.shape}"
        )
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"Received an invalid dtype for y, expected a numeric array. Received: y.dtype={array.dtype}"
        )
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise ValueError("Received non-finite values (nan or inf) in y, expected finite numbers.")
    if array.ndim == 2 and array.shape[1] > 1:
        return np.argmax(array, axis=1).astype(np.int64)  # (N,)
    return _column_to_indices(array.reshape(-1))


def _column_to_indices(column: np.ndarray) -> np.ndarray:
    """Apply the labels-or-threshold rule to a flat ``(N,)`` column."""
    if column.dtype.kind in "biu":
        if column.size and column.min() < 0:
            raise ValueError(
                "Received negative class labels, expected integers >= 0. "
                f"Received: min(y)={column.min()}"
            )
        return column.astype(np.int64)
    if np.all((column >= 0.0) & (column <= 1.0)):
        return (column >= BINARY_THRESHOLD).astype(np.int64)  # binary probabilities
    if np.all((column >= 0.0) & (column == np.round(column))):
        return column.astype(np.int64)  # whole-number float labels such as [0., 2., 1.]
    raise ValueError(
        "Received an ambiguous float column y: it is neither probabilities in [0, 1] nor "
        "non-negative whole-number class labels (apply a sigmoid to logits first). "
        f"Received: min(y)={column.min()}, max(y)={column.max()}"
    )


def _paired_indices(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert both inputs to class indices and check they describe the same non-empty batch."""
    true_shape, pred_shape = np.shape(y_true), np.shape(y_pred)
    true_indices, pred_indices = to_class_indices(y_true), to_class_indices(y_pred)
    if true_indices.shape != pred_indices.shape:
        raise ValueError(
            "Received y_true and y_pred with different numbers of samples, expected the same N. "
            f"Received: y_true.shape={true_shape}, y_pred.shape={pred_shape}"
        )
    if true_indices.size == 0:
        raise ValueError(
            "Received empty y_true and y_pred, expected at least one sample. "
            f"Received: y_true.shape={true_shape}, y_pred.shape={pred_shape}"
        )
    return true_indices, pred_indices


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of samples whose predicted class equals the true class.

    Args:
        y_true: targets, ``(N, K)`` one-hot or ``(N,)`` labels (or binary ``(N,)``/``(N, 1)``).
        y_pred: predictions, ``(N, K)`` probabilities or any form ``to_class_indices`` accepts.

    Returns:
        float in ``[0, 1]``.
    """
    true_indices, pred_indices = _paired_indices(y_true, y_pred)
    return float(np.mean(true_indices == pred_indices))


def _check_num_classes(num_classes: int) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(
            "Received an invalid value for num_classes, expected a positive integer. "
            f"Received: num_classes={num_classes!r}"
        )


def _infer_num_classes(y_true: ArrayLike, y_pred: ArrayLike, true_indices: np.ndarray, pred_indices: np.ndarray) -> int:
    """Number of classes implied by the inputs: their widths and their largest index.

    A ``(N, K)`` input implies ``K`` classes even if some never occur; a ``(N, 1)`` input is
    a binary column and implies 2.
    """
    num_classes = int(max(true_indices.max(), pred_indices.max())) + 1
    for y in (y_true, y_pred):
        shape = np.shape(y)
        if len(shape) == 2:
            num_classes = max(num_classes, shape[1] if shape[1] > 1 else 2)
    return num_classes


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None) -> np.ndarray:
    """Count samples per (true class, predicted class) pair.

    Args:
        y_true, y_pred: any form ``to_class_indices`` accepts, with the same ``N``.
        num_classes: ``K``; inferred from the inputs when None.

    Returns:
        int64 ``(K, K)``; entry ``[i, j]`` counts samples of true class ``i`` predicted as ``j``.
    """
    true_indices, pred_indices = _paired_indices(y_true, y_pred)
    if num_classes is None:
        num_classes = _infer_num_classes(y_true, y_pred, true_indices, pred_indices)
    _check_num_classes(num_classes)
    largest = int(max(true_indices.max(), pred_indices.max()))
    if largest >= num_classes:
        raise ValueError(
            f"Received a class index outside range(num_classes), expected indices < {num_classes}. "
            f"Received: largest index={largest}, num_classes={num_classes}"
        )
    # Each (true, pred) pair maps to one cell of the flattened K*K matrix.
    flat_cells = true_indices * num_classes + pred_indices  # (N,)
    counts = np.bincount(flat_cells, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


def _safe_divide(numerator: ArrayLike, denominator: ArrayLike) -> np.ndarray:
    """Element-wise division that yields 0.0 where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    return np.divide(numerator, denominator, out=out, where=denominator != 0)


def _scores_from_confusion(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 and support from a ``(K, K)`` confusion matrix."""
    true_positives = np.diag(matrix)  # (K,)
    predicted_counts = matrix.sum(axis=0)  # (K,) column sums: how often each class was predicted
    support = matrix.sum(axis=1)  # (K,) row sums: how often each class truly occurs
    precision = _safe_divide(true_positives, predicted_counts)
    recall = _safe_divide(true_positives, support)
    # F1 = 2TP / (2TP + FP + FN), the harmonic mean of precision and recall without 0/0 cases.
    f1 = _safe_divide(2 * true_positives, predicted_counts + support)
    return precision, recall, f1, support.astype(np.int64)


def precision_recall_fscore_support(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None
                                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 score and support.

    Precision_k = TP_k / (TP_k + FP_k), recall_k = TP_k / (TP_k + FN_k),
    F1_k = 2 TP_k / (2 TP_k + FP_k + FN_k), support_k = number of true samples of class k.
    A zero denominator gives 0.0.

    Returns:
        ``(precision, recall, f1, support)``: three float64 ``(K,)`` arrays and one int64 ``(K,)``.
    """
    matrix = confusion_matrix(y_true, y_pred, num_classes=num_classes)
    return _scores_from_confusion(matrix)


def _report_row(name: str, cells: Sequence[str], name_width: int) -> str:
    """One report line: the name right-aligned, then each cell right-aligned in its column."""
    return name.rjust(name_width) + " " + "".join(" " + cell.rjust(_REPORT_COLUMN_WIDTH) for cell in cells)


def _report_matrix_and_names(y_true: ArrayLike, y_pred: ArrayLike, class_names: Sequence[object] | None
                             ) -> tuple[np.ndarray, list[str]]:
    """The confusion matrix and the row names of a report; ``class_names`` fixes ``K`` when given."""
    if class_names is None:
        matrix = confusion_matrix(y_true, y_pred)
        return matrix, [str(k) for k in range(len(matrix))]
    names = [str(name) for name in class_names]
    true_indices, pred_indices = _paired_indices(y_true, y_pred)
    largest = int(max(true_indices.max(), pred_indices.max()))
    if largest >= len(names):
        raise ValueError(
            "Received too few class_names for the class indices in the data, expected at least "
            f"{largest + 1}. Received: len(class_names)={len(names)}"
        )
    return confusion_matrix(true_indices, pred_indices, num_classes=len(names)), names


def _format_report(matrix: np.ndarray, names: list[str], digits: int) -> str:
    """Lay out the scores of a ``(K, K)`` confusion matrix as scikit-learn's report does."""
    precision, recall, f1, support = _scores_from_confusion(matrix)
    total = int(support.sum())
    name_width = max(max(len(name) for name in names), len(_LONGEST_SUMMARY_NAME), digits)

    def cells(*scores: float) -> list[str]:
        return [f"{score:.{digits}f}" for score in scores]

    lines = [_report_row("", _REPORT_HEADERS, name_width), ""]
    for k, name in enumerate(names):
        lines.append(_report_row(name, cells(precision[k], recall[k], f1[k]) + [str(support[k])], name_width))
    lines.append("")
    overall_accuracy = np.trace(matrix) / total
    lines.append(_report_row("accuracy", ["", ""] + cells(overall_accuracy) + [str(total)], name_width))
    macro = [np.mean(score) for score in (precision, recall, f1)]
    lines.append(_report_row("macro avg", cells(*macro) + [str(total)], name_width))
    weighted = [np.average(score, weights=support) for score in (precision, recall, f1)]
    lines.append(_report_row("weighted avg", cells(*weighted) + [str(total)], name_width))
    return "\n".join(lines) + "\n"


def classification_report(y_true: ArrayLike, y_pred: ArrayLike, class_names: Sequence[object] | None = None,
                          digits: int = 2) -> str:
    """A text table of per-class precision, recall, F1 and support, in scikit-learn's layout.

    Args:
        y_true, y_pred: any form ``to_class_indices`` accepts, with the same ``N``.
        class_names: optional names, one per class; their count fixes ``K``. Defaults to "0", "1", ...
        digits: decimal places of the scores.

    Returns:
        str: a header, one row per class, then ``accuracy``, ``macro avg`` and ``weighted avg`` rows.
    """
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) or digits < 0:
        raise ValueError(
            f"Received an invalid value for digits, expected a non-negative integer. Received: digits={digits!r}"
        )
    matrix, names = _report_matrix_and_names(y_true, y_pred, class_names)
    return _format_report(matrix, names, digits)


def count_correct(y_true: np.ndarray, y_pred: np.ndarray) -> int:
    """Correct predictions in a batch whose targets are already (N, K) like y_pred: the training loop's fast path.

    K > 1: arg-max agreement; K == 1: both sides thresholded at 0.5.
    """
    if y_pred.shape[1] > 1:
        return int((y_pred.argmax(axis=1) == y_true.argmax(axis=1)).sum())
    return int(((y_pred >= BINARY_THRESHOLD) == (y_true >= BINARY_THRESHOLD)).sum())


# -- the figures a training run reports, batch by batch ------------------------------
class Metric:
    """A figure reported during training and evaluation: `total(y_true, y_pred)` sums it over a batch's rows
    (targets already (N, K) like the outputs), so an epoch's value is the exact mean over its samples."""

    def __init__(self, name: str, total: Callable[[np.ndarray, np.ndarray], float]) -> None:
        self.name, self.total = name, total

    def __repr__(self) -> str:
        return f"Metric({self.name!r})"


class TopKAccuracy(Metric):
    """Whether the true class is among the k most probable ones: `TopKAccuracy(k=5)`, reported as 'top_5_accuracy'."""

    def __init__(self, k: int = 5) -> None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"Received an invalid value for k, expected a positive integer. Received: k={k!r}")
        self.k = int(k)
        super().__init__(f"top_{self.k}_accuracy", self._total)

    def _total(self, y_true: np.ndarray, y_pred: np.ndarray) -> int:
        if y_pred.shape[1] < 2:
            raise ValueError(f"{self.name} needs (N, K) class probabilities with K > 1, received outputs of shape "
                             f"{tuple(y_pred.shape)}.")
        true_scores = y_pred[np.arange(len(y_pred)), y_true.argmax(axis=1)]
        higher = (y_pred > true_scores[:, None]).sum(axis=1)  # classes ranked above the true one
        return int((higher < self.k).sum())


def _absolute_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.abs(y_pred - y_true).reshape(len(y_pred), -1).mean(axis=1).sum())


def _squared_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(((y_pred - y_true) ** 2).reshape(len(y_pred), -1).mean(axis=1).sum())


_NAMED: dict[str, Callable[[], Metric]] = {
    "accuracy": lambda: Metric("accuracy", count_correct),
    "acc": lambda: Metric("accuracy", count_correct),
    "mae": lambda: Metric("mae", _absolute_error),
    "mean_absolute_error": lambda: Metric("mae", _absolute_error),
    "mse": lambda: Metric("mse", _squared_error),
    "mean_squared_error": lambda: Metric("mse", _squared_error),
    "top_k_accuracy": lambda: TopKAccuracy(5),
    "top_k_categorical_accuracy": lambda: TopKAccuracy(5),
}


def get(metric: str | Metric | Callable[[np.ndarray, np.ndarray], float]) -> Metric:
    """A Metric from a name ('accuracy', 'mae', 'mse', 'top_k_accuracy'), a Metric, or a function
    fn(y_true, y_pred) -> the batch's mean (reported under the function's name)."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str) and metric.lower() in _NAMED:
        return _NAMED[metric.lower()]()
    if callable(metric) and not isinstance(metric, str):
        return Metric(getattr(metric, "__name__", "metric"), lambda y, p: float(metric(y, p)) * len(p))
    raise ValueError(f"Received an unknown metric, expected one of {sorted(set(_NAMED))}, a scratchcnn.metrics.Metric "
                     f"or a function metric(y_true, y_pred). Received: metric={metric!r}")
