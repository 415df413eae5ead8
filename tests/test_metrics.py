"""Tests for scratchcnn.metrics: hand-computed examples first, scikit-learn as an optional oracle."""
import numpy as np
import pytest

from scratchcnn.metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    precision_recall_fscore_support,
    to_class_indices,
)

# A hand-worked 3-class example (9 samples).
#
#                 predicted
#                 0   1   2    support (row sums)
#   true 0        2   1   1    4
#   true 1        1   1   0    2
#   true 2        0   1   2    3
#   predicted     3   3   3    (column sums)
#
# precision = TP / column sum = [2/3, 1/3, 2/3]
# recall    = TP / row sum    = [2/4, 1/2, 2/3]
# F1        = 2TP / (row + column sum) = [4/7, 2/5, 4/6]
# accuracy  = trace / N = 5/9
HAND_TRUE = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2])
HAND_PRED = np.array([0, 0, 1, 2, 1, 0, 2, 2, 1])
HAND_CONFUSION = np.array([[2, 1, 1], [1, 1, 0], [0, 1, 2]])
HAND_PRECISION = np.array([2 / 3, 1 / 3, 2 / 3])
HAND_RECALL = np.array([1 / 2, 1 / 2, 2 / 3])
HAND_F1 = np.array([4 / 7, 2 / 5, 2 / 3])
HAND_SUPPORT = np.array([4, 2, 3])


def one_hot(labels, num_classes):
    return np.eye(num_classes)[labels]


def soft_probabilities(labels, num_classes, seed=0):
    """Rows that sum to one and whose arg-max is ``labels``."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0.0, 0.4, size=(len(labels), num_classes))
    scores = noise + one_hot(labels, num_classes)
    return scores / scores.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------- to_class_indices

@pytest.mark.parametrize(
    "y, expected",
    [
        (np.array([0, 2, 1]), [0, 2, 1]),  # integer labels stay as they are
        (np.array([[0, 2, 1]]).T, [0, 2, 1]),  # (N, 1) integer labels
        (np.array([0.0, 2.0, 1.0]), [0, 2, 1]),  # whole-number floats above 1 are labels
        (np.array([0.2, 0.5, 0.7, 0.49]), [0, 1, 1, 0]),  # probabilities: value >= 0.5 -> 1
        (np.array([[0.2], [0.5], [0.9]]), [0, 1, 1]),  # (N, 1) sigmoid outputs
        (np.array([0.0, 1.0, 1.0]), [0, 1, 1]),  # 0/1 float targets
        (np.array([True, False]), [1, 0]),
        (np.array([[0, 1, 0], [1, 0, 0]]), [1, 0]),  # one-hot rows
        (np.array([[0.1, 0.3, 0.6], [0.7, 0.2, 0.1]]), [2, 0]),  # probability rows
        ([1, 0, 3], [1, 0, 3]),  # plain lists work too
    ],
)
def test_to_class_indices_forms(y, expected):
    indices = to_class_indices(y)
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices, expected)


@pytest.mark.parametrize(
    "y, message",
    [
        (np.zeros((2, 3, 4)), "y.shape=(2, 3, 4)"),
        (np.zeros((3, 0)), "y.shape=(3, 0)"),
        (np.float64(0.7), "y.shape=()"),
        (np.array(["a", "b"]), "numeric"),
        (np.array([0, -1, 2]), "min(y)=-1"),
        (np.array([-0.3, 0.5]), "ambiguous"),  # logits, not probabilities
        (np.array([1.5, 0.2]), "ambiguous"),
        (np.array([0.5, np.nan]), "non-finite"),
    ],
)
def test_to_class_indices_rejects_bad_input(y, message):
    with pytest.raises(ValueError) as error:
        to_class_indices(y)
    assert message in str(error.value)


# ---------------------------------------------------------------- accuracy

def test_accuracy_hand_example():
    assert accuracy(HAND_TRUE, HAND_PRED) == pytest.approx(5 / 9)


def test_accuracy_one_hot_and_integer_targets_agree():
    predictions = soft_probabilities(HAND_PRED, 3)
    assert accuracy(one_hot(HAND_TRUE, 3), predictions) == pytest.approx(5 / 9)
    assert accuracy(HAND_TRUE, predictions) == pytest.approx(5 / 9)
    assert accuracy(HAND_TRUE, one_hot(HAND_PRED, 3)) == pytest.approx(5 / 9)


def test_accuracy_binary_thresholds_at_one_half():
    y_true = np.array([1, 0, 1, 1, 0])
    probabilities = np.array([0.9, 0.4, 0.5, 0.2, 0.7])  # -> [1, 0, 1, 0, 1]: 3 of 5 right
    assert accuracy(y_true, probabilities) == pytest.approx(0.6)
    assert accuracy(y_true[:, None].astype(float), probabilities[:, None]) == pytest.approx(0.6)


def test_accuracy_returns_python_float():
    assert isinstance(accuracy([0, 1], [0, 1]), float)


def test_accuracy_length_mismatch_names_both_shapes():
    with pytest.raises(ValueError) as error:
        accuracy(np.zeros(4, dtype=int), np.zeros((3, 2)))
    assert "y_true.shape=(4,)" in str(error.value)
    assert "y_pred.shape=(3, 2)" in str(error.value)


def test_accuracy_empty_input_raises():
    with pytest.raises(ValueError, match="at least one sample"):
        accuracy(np.array([], dtype=int), np.array([], dtype=int))


# ---------------------------------------------------------------- confusion matrix

def test_confusion_matrix_hand_example():
    matrix = confusion_matrix(HAND_TRUE, HAND_PRED)
    assert matrix.dtype == np.int64
    np.testing.assert_array_equal(matrix, HAND_CONFUSION)


def test_confusion_matrix_same_from_one_hot_and_probabilities():
    matrix = confusion_matrix(one_hot(HAND_TRUE, 3), soft_probabilities(HAND_PRED, 3))
    np.testing.assert_array_equal(matrix, HAND_CONFUSION)


def test_confusion_matrix_binary_probabilities():
    y_true = np.array([1, 0, 1, 1, 0])
    probabilities = np.array([[0.9], [0.4], [0.5], [0.2], [0.7]])
    np.testing.assert_array_equal(confusion_matrix(y_true, probabilities), [[1, 1], [1, 2]])


def test_confusion_matrix_binary_column_implies_two_classes():
    # Every prediction is class 0, but a (N, 1) column is still a two-class problem.
    matrix = confusion_matrix(np.zeros(3, dtype=int), np.full((3, 1), 0.1))
    np.testing.assert_array_equal(matrix, [[3, 0], [0, 0]])


def test_confusion_matrix_width_of_one_hot_sets_num_classes():
    # Class 3 never occurs, yet the one-hot width says there are 4 classes.
    matrix = confusion_matrix(one_hot([0, 1, 2], 4), [0, 1, 1])
    assert matrix.shape == (4, 4)
    np.testing.assert_array_equal(matrix[3], 0)


def test_confusion_matrix_explicit_num_classes_pads():
    matrix = confusion_matrix([0, 1], [0, 0], num_classes=4)
    expected = np.zeros((4, 4), dtype=int)
    expected[0, 0] = expected[1, 0] = 1
    np.testing.assert_array_equal(matrix, expected)


def test_confusion_matrix_matches_a_counting_loop():
    rng = np.random.default_rng(3)
    y_true, y_pred = rng.integers(0, 6, 500), rng.integers(0, 6, 500)
    expected = np.zeros((6, 6), dtype=int)
    for t, p in zip(y_true, y_pred):
        expected[t, p] += 1
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, num_classes=6), expected)


@pytest.mark.parametrize("num_classes", [0, -2, 2.0, True, "3"])
def test_confusion_matrix_rejects_bad_num_classes(num_classes):
    with pytest.raises(ValueError, match=r"expected a positive integer\. Received: num_classes="):
        confusion_matrix([0, 1], [1, 0], num_classes=num_classes)


def test_confusion_matrix_rejects_index_beyond_num_classes():
    with pytest.raises(ValueError, match=r"largest index=5, num_classes=3"):
        confusion_matrix([0, 1, 5], [0, 1, 2], num_classes=3)


# ---------------------------------------------------------------- precision / recall / F1

def test_precision_recall_fscore_support_hand_example():
    precision, recall, f1, support = precision_recall_fscore_support(HAND_TRUE, HAND_PRED)
    np.testing.assert_allclose(precision, HAND_PRECISION)
    np.testing.assert_allclose(recall, HAND_RECALL)
    np.testing.assert_allclose(f1, HAND_F1)
    np.testing.assert_array_equal(support, HAND_SUPPORT)
    assert support.dtype == np.int64


def test_precision_recall_fscore_support_binary():
    # Confusion [[1, 1], [1, 2]]: class 1 precision 2/3, recall 2/3; class 0 precision 1/2, recall 1/2.
    y_true = np.array([1, 0, 1, 1, 0])
    probabilities = np.array([0.9, 0.4, 0.5, 0.2, 0.7])
    precision, recall, f1, support = precision_recall_fscore_support(y_true, probabilities)
    np.testing.assert_allclose(precision, [1 / 2, 2 / 3])
    np.testing.assert_allclose(recall, [1 / 2, 2 / 3])
    np.testing.assert_allclose(f1, [1 / 2, 2 / 3])
    np.testing.assert_array_equal(support, [2, 3])


def test_zero_division_gives_zero():
    # Class 1 occurs but is never predicted (precision 0/0); class 2 never occurs at all (0/0 everywhere).
    y_true = np.array([0, 0, 1])
    y_pred = np.array([0, 0, 0])
    with np.errstate(all="raise"):  # no hidden 0/0 division warnings either
        precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, num_classes=3)
    np.testing.assert_allclose(precision, [2 / 3, 0.0, 0.0])
    np.testing.assert_allclose(recall, [1.0, 0.0, 0.0])
    np.testing.assert_allclose(f1, [0.8, 0.0, 0.0])
    np.testing.assert_array_equal(support, [2, 1, 0])


# ---------------------------------------------------------------- classification report

# Averages of the hand example, worked out:
#   macro precision = (2/3 + 1/3 + 2/3) / 3 = 5/9 = 0.556     weighted = (4*2/3 + 2*1/3 + 3*2/3) / 9 = 16/27 = 0.593
#   macro recall    = (1/2 + 1/2 + 2/3) / 3 = 5/9 = 0.556     weighted = 5/9 = 0.556 (always the accuracy)
#   macro F1        = (4/7 + 2/5 + 2/3) / 3 = 0.546           weighted = (4*4/7 + 2*2/5 + 3*2/3) / 9 = 0.565
HAND_REPORT = (
    "              precision    recall  f1-score   support\n"
    "\n"
    "         cat       0.67      0.50      0.57         4\n"
    "         dog       0.33      0.50      0.40         2\n"
    "        bird       0.67      0.67      0.67         3\n"
    "\n"
    "    accuracy                           0.56         9\n"
    "   macro avg       0.56      0.56      0.55         9\n"
    "weighted avg       0.59      0.56      0.57         9\n"
)


def test_classification_report_hand_example_exact():
    report = classification_report(HAND_TRUE, HAND_PRED, class_names=["cat", "dog", "bird"])
    assert report == HAND_REPORT


def test_classification_report_from_one_hot_and_probabilities():
    report = classification_report(
        one_hot(HAND_TRUE, 3), soft_probabilities(HAND_PRED, 3), class_names=["cat", "dog", "bird"]
    )
    assert report == HAND_REPORT


def test_classification_report_default_names_and_digits():
    report = classification_report(HAND_TRUE, HAND_PRED, digits=3)
    lines = report.splitlines()
    assert lines[2] == "           0      0.667     0.500     0.571         4"
    assert lines[-1] == "weighted avg      0.593     0.556     0.565         9"


def test_classification_report_long_name_widens_first_column():
    names = ["a", "a-very-long-class-name", "c"]
    lines = classification_report(HAND_TRUE, HAND_PRED, class_names=names).splitlines()
    assert lines[0] == " " * len(names[1]) + "  precision    recall  f1-score   support"
    assert lines[3] == "a-very-long-class-name       0.33      0.50      0.40         2"
    assert lines[-1] == " " * 10 + "weighted avg       0.59      0.56      0.57         9"


def test_classification_report_extra_class_name_adds_empty_row():
    report = classification_report(HAND_TRUE, HAND_PRED, class_names=["cat", "dog", "bird", "fish"])
    assert "        fish       0.00      0.00      0.00         0\n" in report


def test_classification_report_too_few_class_names():
    with pytest.raises(ValueError, match=r"expected at least 3\. Received: len\(class_names\)=2"):
        classification_report(HAND_TRUE, HAND_PRED, class_names=["cat", "dog"])


@pytest.mark.parametrize("digits", [-1, 1.5, None])
def test_classification_report_rejects_bad_digits(digits):
    with pytest.raises(ValueError, match="Received: digits="):
        classification_report(HAND_TRUE, HAND_PRED, digits=digits)


# ---------------------------------------------------------------- scikit-learn as an oracle

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_scikit_learn_on_random_labels(seed):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    num_classes = 5
    y_true = rng.integers(0, num_classes, 300)
    # Skew predictions so that some classes are rarely or never predicted.
    y_pred = rng.choice(num_classes, 300, p=[0.4, 0.3, 0.2, 0.1, 0.0])
    labels = list(range(num_classes))

    assert accuracy(y_true, y_pred) == pytest.approx(sklearn_metrics.accuracy_score(y_true, y_pred))
    np.testing.assert_array_equal(
        confusion_matrix(y_true, y_pred, num_classes=num_classes),
        sklearn_metrics.confusion_matrix(y_true, y_pred, labels=labels),
    )
    ours = precision_recall_fscore_support(y_true, y_pred, num_classes=num_classes)
    theirs = sklearn_metrics.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    for our_values, their_values in zip(ours, theirs):
        np.testing.assert_allclose(our_values, their_values)
    names = ["zero", "one", "two", "three", "four"]
    for digits in (2, 4):
        expected = sklearn_metrics.classification_report(
            y_true, y_pred, labels=labels, target_names=names, digits=digits, zero_division=0
        )
        assert classification_report(y_true, y_pred, class_names=names, digits=digits) == expected
