"""Labels and inputs at the edge: one-hot, integer classes, 0-1 binary targets; accuracy; clear errors."""
import numpy as np
import pytest

from scratchcnn import ConvLayer, Dense, Flatten, MultiClassDense, Network
from scratchcnn.losses import (bce_loss, bce_loss_derivative, categorical_crossentropy,
                               categorical_crossentropy_derivative)

CCE = (categorical_crossentropy, categorical_crossentropy_derivative)
BCE = (bce_loss, bce_loss_derivative)


def classifier():
    return Network([Dense(4, 6, activation="tanh"), MultiClassDense(6, 3)])


def binary_classifier():
    return Network([Dense(4, 5, activation="tanh"), Dense(5, 1, activation="sigmoid")])


def points(count=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(count, 4)).astype(np.float32), rng.integers(0, 3, size=count)


def trained_weights(make, X, y, loss):
    network = make()
    history = network.train(X, y, 2, 0.1, *loss, log_file=None, batch_size=3, seed=4, verbose=0)
    return [param.value for param in network.parameters()], history.history


def assert_same_training(first, second):
    (weights_a, history_a), (weights_b, history_b) = first, second
    assert all(np.array_equal(a, b) for a, b in zip(weights_a, weights_b))
    assert history_a == history_b


# -- accepted label forms -------------------------------------------------------
def test_integer_class_labels_train_exactly_like_one_hot_rows():
    X, labels = points()
    one_hot = np.eye(3, dtype=np.float32)[labels]
    reference = trained_weights(classifier, X, one_hot, CCE)
    for same_labels in [labels, labels.tolist(), labels.reshape(-1, 1), one_hot.tolist(), labels.astype(np.float64)]:
        assert_same_training(reference, trained_weights(classifier, X, same_labels, CCE))


def test_binary_targets_as_column_flat_list_or_bool_train_alike():
    X, labels = points()
    targets = (labels > 0).astype(np.float32)
    reference = trained_weights(binary_classifier, X, targets.reshape(-1, 1), BCE)
    for same_targets in [targets, targets.tolist(), targets.astype(bool), targets.astype(np.int64)]:
        assert_same_training(reference, trained_weights(binary_classifier, X, same_targets, BCE))


def test_evaluate_accepts_integer_labels_and_one_hot_alike():
    X, labels = points()
    network = classifier().initialize(0)
    out_a, loss_a, accuracy_a = network.evaluate(X, labels, categorical_crossentropy)
    out_b, loss_b, accuracy_b = network.evaluate(X, np.eye(3)[labels], categorical_crossentropy)
    assert np.array_equal(out_a, out_b) and loss_a == loss_b and accuracy_a == accuracy_b


# -- accuracy -------------------------------------------------------------------
def test_multiclass_accuracy_is_argmax_agreement():
    """Weights set by hand: sample i predicts the class of its largest feature."""
    network = Network([MultiClassDense(3, 3)])
    network.layers[0].weight.value[...] = 5 * np.eye(3)
    network.layers[0].bias.value[...] = 0
    X = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0.2]], dtype=np.float32)  # predicts 0, 1, 2, 1
    out, _, accuracy = network.evaluate(X, [0, 1, 1, 2], categorical_crossentropy)
    assert out.argmax(axis=1).tolist() == [0, 1, 2, 1]
    assert accuracy == 0.5
    _, _, accuracy = network.evaluate(X, [0, 1, 2, 1], categorical_crossentropy)
    assert accuracy == 1.0


def test_binary_accuracy_thresholds_the_probability_at_one_half():
    """sigmoid(x) with weight 1 and bias 0: outputs below 0.5 for x < 0, above for x > 0."""
    network = Network([Dense(1, 1, activation="sigmoid")])
    network.layers[0].weight.value[...] = 1
    network.layers[0].bias.value[...] = 0
    X = np.array([[-2.0], [-0.1], [0.1], [2.0]], dtype=np.float32)
    for targets, expected in [([0, 0, 1, 1], 1.0), ([0, 1, 1, 1], 0.75), ([1, 1, 0, 0], 0.0),
                              ([[0], [1], [0], [1]], 0.5)]:
        _, _, accuracy = network.evaluate(X, targets, bce_loss)
        assert accuracy == expected, targets


def test_training_accuracy_counts_argmax_agreement():
    """One full-batch epoch without shuffling: the logged accuracy is that of the starting weights."""
    X, labels = points(count=30, seed=3)
    predicted = classifier().initialize(8).predict(X).argmax(axis=1)
    history = classifier().train(X, labels, 1, 0.1, *CCE, log_file=None, batch_size=30, shuffle=False, seed=8,
                                 verbose=0)
    assert history.history["accuracy"] == [np.mean(predicted == labels)]


# -- errors that say what was expected and what was received --------------------
def train(network, X, y, loss=CCE, **options):
    return network.train(X, y, 1, 0.1, *loss, log_file=None, verbose=0, **options)


def test_one_hot_labels_of_the_wrong_width_are_refused():
    X, labels = points(count=6)
    with pytest.raises(ValueError, match=r"\(6, 4\).*expected \(6, 3\)"):
        train(classifier(), X, np.eye(4)[labels % 4])


def test_class_labels_out_of_range_are_refused():
    X, _ = points(count=4)
    with pytest.raises(ValueError, match=r"from 0 to 3.*\[0, 2\]"):
        train(classifier(), X, [0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"from -1 to 2.*\[0, 2\]"):
        train(classifier(), X, [-1, 0, 1, 2])
    with pytest.raises(ValueError, match=r"non-integer"):
        train(classifier(), X, [0, 1.5, 2, 1])


def test_binary_targets_outside_zero_one_are_refused():
    X, _ = points(count=4)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        train(binary_classifier(), X, [0, 1, 2, 1], loss=BCE)


def test_binary_labels_of_the_wrong_width_are_refused():
    X, labels = points(count=4)
    with pytest.raises(ValueError, match=r"\(4, 2\).*expected \(4, 1\)"):
        train(binary_classifier(), X, np.eye(2)[labels % 2], loss=BCE)


def test_label_count_must_match_sample_count():
    X, labels = points(count=6)
    with pytest.raises(ValueError, match=r"Received 5 labels for y.*\(6\)"):
        train(classifier(), X, labels[:5])
    with pytest.raises(ValueError, match=r"Received 2 labels for val_y.*\(3\)"):
        train(classifier(), X, labels, val_X=X[:3], val_y=labels[:2])
    with pytest.raises(ValueError, match=r"5 labels.*\(6\)"):
        classifier().evaluate(X, labels[:5], categorical_crossentropy)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_inputs_are_refused_naming_the_array(bad):
    X, labels = points(count=6)
    X[2, 1] = bad
    with pytest.raises(ValueError, match=r"NaN or inf in X"):
        train(classifier(), X, labels)
    with pytest.raises(ValueError, match=r"NaN or inf in val_X"):
        train(classifier(), X[3:], labels[3:], val_X=X, val_y=labels)
    with pytest.raises(ValueError, match=r"NaN or inf"):
        classifier().predict(X)


def test_non_finite_labels_are_refused():
    X, _ = points(count=3)
    with pytest.raises(ValueError, match=r"NaN or inf in y"):
        train(binary_classifier(), X, [0.0, np.nan, 1.0], loss=BCE)


def test_inputs_of_the_wrong_shape_name_the_expected_shape():
    X, labels = points(count=6)
    with pytest.raises(ValueError, match=r"Layer 0.*\(5,\).*expected \(4,\)"):
        train(classifier(), np.zeros((6, 5)), labels)
    conv = Network([ConvLayer(3, 1, 2), Flatten(), MultiClassDense(2 * 4 * 4, 3)])
    with pytest.raises(ValueError, match=r"Received X of shape \(6, 6, 6\).*\(N, C=1, H, W\)"):
        train(conv, np.zeros((6, 6, 6)), labels)


def test_ragged_nested_lists_are_refused():
    with pytest.raises(ValueError, match="ragged"):
        train(classifier(), [[0, 0, 0, 0], [1, 1, 1]], [0, 1])


def test_validation_inputs_without_labels_are_refused():
    X, labels = points(count=6)
    with pytest.raises(ValueError, match="val_X without val_y"):
        train(classifier(), X, labels, val_X=X)


def test_loss_that_cannot_fit_the_output_layer_is_refused():
    X, labels = points(count=4)
    with pytest.raises(ValueError, match="bce_loss.*softmax"):
        train(classifier(), X, labels, loss=BCE)
    with pytest.raises(ValueError, match="categorical_crossentropy.*single output"):
        train(binary_classifier(), X, labels % 2)
