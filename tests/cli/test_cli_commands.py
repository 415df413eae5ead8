"""Smoke tests of every `scratchcnn` sub-command on tiny data, and of what an experiment leaves behind."""
import dataclasses
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from scratchcnn.cli import main
from scratchcnn.experiments import RECIPES, run_experiment

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    with open(path, "rb") as file:
        return file.read(8) == PNG_SIGNATURE and os.path.getsize(path) > 1000


def test_experiment_xor_writes_model_log_report_pictures_and_results(tmp_path, capsys):
    out = tmp_path / "xor"
    assert main(["experiment", "xor", "--epochs", "30", "--out", str(out), "--verbose", "0"]) == 0
    printed = capsys.readouterr().out
    assert "Test accuracy:" in printed and str(out) in printed
    results = json.loads((out / "results.json").read_text())
    assert results["epochs"] == 30 and 0 <= results["test_accuracy"] <= 1
    log_lines = (out / "train_log.txt").read_text().splitlines()
    assert len(log_lines) == 31 and log_lines[-1].startswith("Total Training Time:")
    report = (out / "report.txt").read_text()
    assert "precision" in report and "accuracy" in report and "macro avg" in report
    for picture in ("curves.png", "confusion.png"):
        assert _is_png(out / picture)
    assert (out / "xor.model").exists()


@pytest.mark.slow
def test_experiment_mnist_limited_then_summary_evaluate_and_predict(tmp_path, capsys):
    out = tmp_path / "mnist"
    assert main(["experiment", "mnist", "--epochs", "1", "--limit", "96", "--batch-size", "32",
                 "--out", str(out), "--verbose", "2"]) == 0
    captured = capsys.readouterr().out
    assert "Epoch 1/1" in captured and "\r" not in captured
    for picture in ("curves.png", "confusion.png", "samples.png", "training_samples.png"):
        assert _is_png(out / picture)
    model = str(out / "mnist.model")

    assert main(["summary", model]) == 0
    table = capsys.readouterr().out
    assert "(1, 28, 28)" in table and "Total params: 315,914" in table

    assert main(["evaluate", model, "--limit", "50"]) == 0
    assert "Test accuracy:" in capsys.readouterr().out

    from PIL import Image

    digits = tmp_path / "digits"
    digits.mkdir()
    from scratchcnn.datasets import mnist

    (_, _), (x_test, y_test) = mnist.load_data()
    for i in range(3):
        Image.fromarray(x_test[i]).save(digits / f"digit{i}.png")
    assert main(["predict", model, str(digits)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(line.split(": ")[1].split(" ")[0] in "0123456789" for line in lines)


def _write_photo_folder(root, per_class=10):
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, channel in (("cats", 0), ("dogs", 2)):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, size=(40, 60, 3), dtype=np.uint8)
            pixels[..., channel] += 150  # cats reddish, dogs bluish: learnable
            Image.fromarray(pixels).save(folder / f"{name}.{i}.jpg")


@pytest.mark.slow
def test_catsdogs_report_on_a_tiny_folder_and_predict_a_file(tmp_path, capsys):
    photos = tmp_path / "photos"
    _write_photo_folder(photos)
    out = tmp_path / "cd"
    assert main(["experiment", "catsdogs-report", "--data", str(photos), "--epochs", "2",
                 "--out", str(out), "--verbose", "0"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["train_samples"] == 16 and results["test_samples"] == 2
    capsys.readouterr()
    assert main(["predict", str(out / "catsdogs-report.model"), str(photos / "cats" / "cats.0.jpg")]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(str(photos / "cats" / "cats.0.jpg")) and ("cats" in line.split(": ")[1] or "dogs" in line)


@pytest.mark.slow
def test_catsdogs_recipe_on_a_tiny_folder(tmp_path, capsys):
    photos = tmp_path / "photos"
    _write_photo_folder(photos)
    out = tmp_path / "cd"
    assert main(["experiment", "catsdogs", "--data", str(photos), "--epochs", "2", "--out", str(out),
                 "--verbose", "2"]) == 0
    printed = capsys.readouterr().out
    assert "Epoch 2/2" in printed and "GlobalAveragePooling" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["epochs"] == 2 and results["train_samples"] == 16 and 0 <= results["test_accuracy"] <= 1


def test_a_recipe_schedule_is_made_for_the_run_and_sets_each_epochs_learning_rate(tmp_path, monkeypatch):
    made, seen = [], []

    def schedule(epochs, learning_rate):
        made.append((epochs, learning_rate))

        def lr_at(epoch, current_lr):
            seen.append(current_lr)  # the optimiser's lr: what the previous epoch trained with
            return learning_rate / (epoch + 1)
        return lr_at
    monkeypatch.setitem(RECIPES, "xor-scheduled", dataclasses.replace(RECIPES["xor"], schedule=schedule))
    run_experiment("xor-scheduled", str(tmp_path), epochs=3, learning_rate=0.5, verbose=0, print_fn=lambda *args: None)
    assert made == [(3, 0.5)]  # built once, from the run's --epochs and --lr rather than the recipe's
    assert seen == [0.5, 0.5, 0.25]


def test_results_and_log_record_the_seconds_at_every_epoch(tmp_path):
    results = run_experiment("xor", str(tmp_path), epochs=4, verbose=0, print_fn=lambda *args: None)
    elapsed = results["per_epoch"]["elapsed"]
    assert len(elapsed) == 4 and all(0 < a <= b for a, b in zip(elapsed, elapsed[1:]))
    assert results["train_seconds"] >= elapsed[-1] - 0.1 and results["train_cpu_seconds"] >= 0
    assert len(results["per_epoch"]["accuracy"]) == 4 and results["tta"] is None
    assert json.loads((tmp_path / "results.json").read_text())["per_epoch"] == results["per_epoch"]
    lines = (tmp_path / "train_log.txt").read_text().splitlines()[:4]
    assert [line.rsplit("Time: ", 1)[1] for line in lines] == [f"{seconds:.1f} s" for seconds in elapsed]


def test_a_per_batch_schedule_and_the_recipes_optimizer_options_and_tta(tmp_path, monkeypatch):
    """schedule_per_batch sets the lr before every batch; optimizer_options reach the recipe's optimiser; tta='flip'
    scores the test split on flip-averaged outputs."""
    from scratchcnn.network import Network
    from scratchcnn.schedules import OneCycle

    evaluated = []
    original = Network.evaluate
    monkeypatch.setattr(Network, "evaluate", lambda self, *args, **kw: evaluated.append(kw.get("tta")) or
                        original(self, *args, **kw))
    recipe = dataclasses.replace(RECIPES["mnist"], schedule=lambda epochs, lr: OneCycle(lr, epochs),
                                 schedule_per_batch=True, optimizer_options={"weight_decay": 0.1}, tta="flip")
    monkeypatch.setitem(RECIPES, "mnist-tried", recipe)
    results = run_experiment("mnist-tried", str(tmp_path), epochs=2, batch_size=32, limit=64, verbose=0,
                             print_fn=lambda *args: None)
    schedule = OneCycle(recipe.learning_rate, 2)
    assert results["per_epoch"]["lr"] == pytest.approx([schedule(0.5), schedule(1.5)])  # the last of 2 steps
    assert evaluated[-1] == "flip" and results["tta"] == "flip" and None in evaluated[:-1]  # validation: plain
    assert results["train_cpu_seconds"] > 0
    config = json.loads(zipfile.ZipFile(tmp_path / "mnist-tried.model").read("config.json"))
    assert config["optimizer"]["config"]["weight_decay"] == 0.1


def test_experiment_that_needs_data_says_so(tmp_path, capsys):
    assert main(["experiment", "catsdogs", "--epochs", "1", "--out", str(tmp_path / "unused")]) == 2
    assert "--data" in capsys.readouterr().err
    assert not (tmp_path / "unused").exists()


def test_profile_prints_every_layer_of_a_recipe(capsys):
    assert main(["profile", "mnist-report", "--batch-size", "4", "--repeats", "1"]) == 0
    table = capsys.readouterr().out
    for layer in ("ConvLayer", "PoolingLayer", "Flatten", "Dense", "MultiClassDense"):
        assert layer in table
    assert "Forward ms" in table and "Backward ms" in table


@pytest.mark.parametrize("command", ["experiment", "train", "evaluate", "predict", "summary", "profile", "explain"])
def test_every_sub_command_documents_its_options(command):
    done = subprocess.run([sys.executable, "-m", "scratchcnn", command, "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    assert "usage: scratchcnn " + command in done.stdout
    if command in ("experiment", "train"):
        for option in ("--out", "--epochs", "--batch-size", "--lr", "--seed", "--data", "--verbose", "--limit"):
            assert option in done.stdout


def test_unknown_experiment_is_refused():
    done = subprocess.run([sys.executable, "-m", "scratchcnn", "experiment", "imagenet"], capture_output=True, text=True)
    assert done.returncode == 2 and "invalid choice" in done.stderr
