"""What every experiment leaves in its output folder: model, pictures, classification report, results."""
import json
import os

from .. import metrics


def write_pictures(out_dir, history, data, test_outputs, print_fn=print):
    """curves.png, confusion.png, samples.png (test predictions) and training_samples.png; skipped without matplotlib."""
    try:
        from .. import plotting
    except ImportError:  # pragma: no cover - plotting imports matplotlib lazily
        return []
    paths = {name: os.path.join(out_dir, name) for name in
             ("curves.png", "confusion.png", "samples.png", "training_samples.png")}
    try:
        plotting.plot_history(history, path=paths["curves.png"])
        plotting.plot_confusion_matrix(data.test_y, test_outputs, class_names=data.class_names,
                                       path=paths["confusion.png"])
        if data.test_x.ndim == 4:
            plotting.plot_samples(data.test_x, data.test_y, test_outputs, class_names=data.class_names,
                                  path=paths["samples.png"])
            plotting.plot_samples(data.train_x, data.train_y, class_names=data.class_names,
                                  path=paths["training_samples.png"])
        else:
            del paths["samples.png"], paths["training_samples.png"]
    except ImportError as error:
        print_fn(f"Pictures skipped: {error}")
        return []
    return list(paths.values())


def write_report(out_dir, data, test_outputs):
    """report.txt: per-class precision, recall, F1 and support (scikit-learn's layout), from our metrics."""
    text = metrics.classification_report(data.test_y, test_outputs, class_names=data.class_names, digits=4)
    path = os.path.join(out_dir, "report.txt")
    with open(path, "w", encoding="utf-8") as file:
        file.write(text + "\n")
    return path, text


def write_results(out_dir, results):
    path = os.path.join(out_dir, "results.json")
    with open(path, "w", encoding="utf-8") as file:
        json.dump(results, file, indent=2)
    return path
