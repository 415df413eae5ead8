"""The command line on any image folder: train --data --net, predict over files and folders, evaluate, summary and
explain on such models, and the one-line errors (exit 2) for what a user can get wrong."""
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import scratchcnn
from scratchcnn.cli import main
from scratchcnn.experiments import run_experiment

Image = pytest.importorskip("PIL.Image")
pytest.importorskip("matplotlib")

COLOURS = {"birds": 1, "cats": 0, "dogs": 2}  # the channel that is bright in each class's photos


def write_photos(root, classes=("birds", "cats", "dogs"), per_class=6, seed=0):
    rng = np.random.default_rng(seed)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, size=(20, 24, 3), dtype=np.uint8)
            pixels[..., COLOURS[name]] += 150
            Image.fromarray(pixels).save(root / name / f"{name}{i}.png")
    return root


def run(capsys, *argv):
    """(exit status, stdout, stderr) of the command."""
    status = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def train_args(data, out, *extra):
    return [str(arg) for arg in ["train", "--data", data, "--net", "batchnorm_photo_convnet", "--size", "12",
                                 "--epochs", "2", "--out", out, "--verbose", "0", *extra]]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained on a three-class folder: (photos folder, model path)."""
    root = tmp_path_factory.mktemp("folder")
    photos = write_photos(root / "photos")
    assert main(train_args(photos, root / "out")) == 0
    return photos, root / "out" / "photos.model"


# -- train --data FOLDER --net NET -----------------------------------------------------------------------------
def test_train_on_a_folder_saves_a_model_with_its_input_shape_class_names_log_and_report(trained):
    photos, model = trained
    network = scratchcnn.load_model(str(model))
    assert network.metadata["input_shape"] == [3, 12, 12]
    assert network.metadata["class_names"] == ["birds", "cats", "dogs"]
    assert network.layers[-1].activation == "softmax" and network.layers[-1].output_dim == 3  # 3 classes: softmax
    out = model.parent
    results = json.loads((out / "results.json").read_text())
    assert results["epochs"] == 2 and results["train_samples"] + results["validation_samples"] == 18
    assert (out / "report.txt").exists() and (out / "curves.png").exists()
    assert len((out / "train_log.txt").read_text().splitlines()) == 3


@pytest.mark.slow
def test_two_classes_train_a_sigmoid_unit_with_binary_cross_entropy(tmp_path, capsys):
    photos = write_photos(tmp_path / "pets", classes=("cats", "dogs"))
    status, out, _ = run(capsys, *train_args(photos, tmp_path / "out", "--size", "10x14", "--color", "gray",
                                             "--optimizer", "rmsprop", "--validation-split", "0.5", "--augment"))
    assert status == 0
    assert "sigmoid + binary cross-entropy" in out and "rmsprop" in out and "augmented" in out
    network = scratchcnn.load_model(str(tmp_path / "out" / "pets.model"))
    assert network.metadata["input_shape"] == [1, 10, 14] and network.layers[-1].activation == "sigmoid"
    assert isinstance(network.optimizer, scratchcnn.RMSprop)
    assert json.loads((tmp_path / "out" / "results.json").read_text())["validation_samples"] == 6


@pytest.mark.slow
def test_a_model_file_as_net_trains_further_from_its_weights(trained, tmp_path, capsys):
    photos, model = trained
    status, out, _ = run(capsys, "train", "--data", photos, "--net", model, "--epochs", "1", "--lr", "1e-9",
                         "--out", tmp_path, "--verbose", "0")
    assert status == 0 and "3x12x12" not in out  # its size and colour came from the model
    before, after = scratchcnn.load_model(str(model)), scratchcnn.load_model(str(tmp_path / "photos.model"))
    assert after.metadata["input_shape"] == [3, 12, 12]
    for a, b in zip(before.get_weights()[:2], after.get_weights()[:2]):
        np.testing.assert_allclose(a, b, atol=1e-6)  # lr 1e-9: still the model's weights, not new ones


@pytest.mark.slow
@pytest.mark.parametrize("wrap", [lambda layers: layers, lambda layers: {"layers": layers, "dtype": "float32"}],
                         ids=["list", "object"])
def test_a_json_network_config_as_net(trained, tmp_path, capsys, wrap):
    photos, model = trained
    with zipfile.ZipFile(model) as archive:
        layers = json.loads(archive.read("config.json"))["layers"]
    config = tmp_path / "net.json"
    config.write_text(json.dumps(wrap(layers)))
    status, _, _ = run(capsys, *train_args(photos, tmp_path / "out")[:4], config, "--size", "12", "--epochs", "1",
                       "--out", tmp_path / "out", "--verbose", "0")
    assert status == 0
    assert [layer.name for layer in scratchcnn.load_model(str(tmp_path / "out" / "photos.model")).layers] == [
        entry["class_name"] for entry in layers]


@pytest.mark.parametrize("net, message", [
    ("resnet", "Received: --net='resnet'. Zoo networks for 3x12x12 images in 3 classes: batchnorm_photo_convnet, "
               "lean_mnist_convnet, mnist_convnet, residual_photo_convnet, small_photo_convnet."),
    ("report_catsdogs_net", "'report_catsdogs_net' does not fit 3x12x12 images in 3 classes; those that do:"),
])
def test_a_net_that_is_not_there_or_does_not_fit_lists_the_zoo_networks_that_do(trained, tmp_path, capsys, net,
                                                                                message):
    status, _, err = run(capsys, "train", "--data", trained[0], "--net", net, "--size", "12", "--out", tmp_path)
    assert status == 2 and message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("options, message", [
    (["--epochs", "0"], "argument --epochs: invalid value, expected a positive integer. Received: --epochs=0"),
    (["--epochs", "-3"], "Received: --epochs=-3"),
    (["--lr", "0"], "argument --lr: invalid value, expected a positive number. Received: --lr=0"),
    (["--lr", "nan"], "Received: --lr=nan"),
    (["--batch-size", "0"], "Received: --batch-size=0"),
    (["--validation-split", "1"], "expected a fraction in [0, 1). Received: --validation-split=1"),
    (["--size", "64x0"], "Received: --size=64x0"),
    (["--size", "big"], "Received: --size=big"),
    (["--optimizer", "adagrad"], "invalid choice: 'adagrad'"),
])
def test_bad_training_values_are_errors_not_defaults(trained, tmp_path, capsys, options, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--data", str(trained[0]), "--net", "batchnorm_photo_convnet", "--out", str(tmp_path), *options])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    with pytest.raises(SystemExit):  # and the same for a recipe
        main(["train", "xor", "--out", str(tmp_path), *options])
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("argv, message", [
    (["train"], "Received no recipe, expected a recipe (scratchcnn train RECIPE) or an image folder and a network"),
    (["train", "--data", "PHOTOS"], "Received no recipe"),
    (["train", "xor", "--net", "mnist_convnet", "--size", "28"], "Received --net, --size with the recipe 'xor'"),
])
def test_train_needs_a_recipe_or_a_folder_and_a_net(trained, capsys, argv, message):
    status, _, err = run(capsys, *[str(trained[0]) if arg == "PHOTOS" else arg for arg in argv])
    assert status == 2 and message in err and len(err.splitlines()) == 1


def test_folders_and_configs_that_cannot_train_say_why(tmp_path, capsys):
    single = write_photos(tmp_path / "single", classes=("cats",))
    status, _, err = run(capsys, "train", "--data", single, "--net", "mnist_convnet", "--out", tmp_path / "o")
    assert status == 2 and "1 class sub-folder ['cats'], expected at least two classes" in err
    photos = write_photos(tmp_path / "photos", classes=("cats", "dogs"))
    (tmp_path / "bad.json").write_text('[{"class_name": "Conv2D", "config": {}}]')
    status, _, err = run(capsys, "train", "--data", photos, "--net", tmp_path / "bad.json", "--out", tmp_path / "o")
    assert status == 2 and "Layer 0 has unknown class 'Conv2D'" in err
    (tmp_path / "broken.json").write_text('{"layers": [')
    status, _, err = run(capsys, "train", "--data", photos, "--net", tmp_path / "broken.json", "--out", tmp_path / "o")
    assert status == 2 and "neither a model file nor a JSON network config" in err


def test_a_model_file_whose_input_does_not_fit_the_size_asked_for(trained, tmp_path, capsys):
    photos, model = trained
    network = scratchcnn.zoo.mnist_convnet(num_classes=3, depth=3, size=12)
    network.metadata = {"input_shape": [3, 12, 12]}
    network.save_model(str(tmp_path / "square.model"))
    status, _, err = run(capsys, "train", "--data", photos, "--net", tmp_path / "square.model", "--size", "16",
                         "--out", tmp_path / "o")
    assert status == 2 and "does not take the folder's 3x16x16 images (set --size and --color to its input)" in err


# -- run_experiment: 0 is an error, and the printed settings show what was overridden --------------------------
@pytest.mark.parametrize("option, value", [("epochs", 0), ("epochs", -1), ("learning_rate", 0), ("batch_size", 0),
                                           ("learning_rate", -0.5), ("optimizer", "adagrad")])
def test_run_experiment_refuses_zero_and_negative_settings(tmp_path, option, value):
    with pytest.raises(ValueError, match=f"Received: .*{value!r}"):
        run_experiment("xor", str(tmp_path / "out"), verbose=0, print_fn=lambda *a: None, **{option: value})
    assert not (tmp_path / "out").exists()


def test_run_experiment_prints_the_settings_it_trains_with(tmp_path):
    printed = []
    results = run_experiment("xor", str(tmp_path), epochs=3, batch_size=5, optimizer="rmsprop", learning_rate=0.01,
                             verbose=0, print_fn=printed.append)
    assert "Training: 3 epochs (recipe: 4000 epochs), batch size 5 (recipe: batch size 1), rmsprop (recipe: sgd), " \
           "lr 0.01" in printed[0]
    assert results["epochs"] == 3
    assert isinstance(scratchcnn.load_model(str(tmp_path / "xor.model")).optimizer, scratchcnn.RMSprop)


# -- predict ---------------------------------------------------------------------------------------------------
def test_predict_takes_files_and_folders_and_skips_unreadable_files_with_one_line_each(trained, tmp_path, capsys):
    photos, model = trained
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "notes.txt").write_text("hello")
    status, out, err = run(capsys, "predict", model, photos / "cats", photos / "dogs" / "dogs0.png",
                           tmp_path / "broken.png", tmp_path / "notes.txt", tmp_path / "missing.png")
    assert status == 0
    lines = out.splitlines()
    assert len(lines) == 7 and lines[-1].startswith(f"{photos / 'dogs' / 'dogs0.png'}: ")
    assert all(line.split(": ")[1].split(" ")[0] in ("birds", "cats", "dogs") for line in lines)
    warnings = err.splitlines()
    assert len(warnings) == 3 and all(line.startswith("scratchcnn: warning: skipped ") for line in warnings)
    assert "missing.png: no such file or folder" in warnings[0]
    assert "broken.png: not a readable image" in warnings[1] and "notes.txt: not a readable image" in warnings[2]
    assert "Traceback" not in err


def test_predict_decodes_and_predicts_in_chunks(trained, capsys, monkeypatch):
    photos, model = trained
    sizes = []
    predict = scratchcnn.Network.predict
    monkeypatch.setattr(scratchcnn.Network, "predict", lambda self, X, **kw: sizes.append(len(X)) or predict(self, X))
    assert main(["predict", str(model), str(photos), "--batch-size", "5"]) == 0
    assert sizes == [5, 5, 5, 3] and len(capsys.readouterr().out.splitlines()) == 18


def test_predict_into_a_pipe_closed_early_ends_quietly(trained):
    photos, model = trained
    files = [str(photos / "cats" / "cats0.png")] * 3000  # far more output than a pipe's buffer holds
    process = subprocess.Popen([sys.executable, "-m", "scratchcnn", "predict", str(model), *files],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    first = [process.stdout.readline() for _ in range(3)]
    process.stdout.close()  # as `| head -3` does
    _, err = process.communicate(timeout=120)
    assert all(line.startswith(files[0].encode()) for line in first)
    assert process.returncode == 1 and b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()


def _env():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))


# -- evaluate, summary, explain on a folder-trained model ------------------------------------------------------
def test_evaluate_a_folder_model_on_a_folder_prints_the_classification_report(trained, tmp_path, capsys):
    photos, model = trained
    status, out, _ = run(capsys, "evaluate", model, "--data", photos)
    assert status == 0 and "precision" in out and "birds" in out and "(18 images)" in out
    subset = tmp_path / "subset"  # two of the model's three classes, one image in a nested folder
    (subset / "dogs" / "deeper").mkdir(parents=True)
    (subset / "dogs" / "deeper" / "d.png").write_bytes((photos / "dogs" / "dogs1.png").read_bytes())
    (subset / "birds").mkdir()
    (subset / "birds" / "b.png").write_bytes((photos / "birds" / "birds1.png").read_bytes())
    status, out, _ = run(capsys, "evaluate", model, "--data", subset)
    assert status == 0 and "(2 images)" in out
    (tmp_path / "other" / "horses").mkdir(parents=True)
    (tmp_path / "other" / "horses" / "h.png").write_bytes((photos / "dogs" / "dogs1.png").read_bytes())
    status, _, err = run(capsys, "evaluate", model, "--data", tmp_path / "other")
    assert status == 2 and "sub-folders ['horses'] are not among the model's classes ['birds', 'cats', 'dogs']" in err
    status, _, err = run(capsys, "evaluate", model)
    assert status == 2 and "not made by a recipe: pass --data FOLDER" in err


def test_summary_of_a_folder_model_and_of_one_without_an_input_shape(trained, tmp_path, capsys):
    status, out, _ = run(capsys, "summary", trained[1])
    assert status == 0 and "(3, 12, 12)" in out
    scratchcnn.zoo.xor_net().save_model(str(tmp_path / "xor.model"))
    status, _, err = run(capsys, "summary", tmp_path / "xor.model")
    assert status == 2 and "does not record its input shape: pass --input-shape C,H,W" in err


def test_explain_writes_a_saliency_map_and_a_grad_cam(trained, tmp_path, capsys):
    photos, model = trained
    status, out, _ = run(capsys, "explain", model, photos / "cats" / "cats1.png", "--out", tmp_path, "--class", "dogs")
    assert status == 0 and out.splitlines() == [f"Wrote {tmp_path / 'saliency.png'}", f"Wrote {tmp_path / 'grad_cam.png'}"]
    for name in ("saliency.png", "grad_cam.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run(capsys, "explain", model, photos / "cats" / "cats1.png", "--out", tmp_path, "--class", "2")[0] == 0
    status, _, err = run(capsys, "explain", model, photos / "cats" / "cats1.png", "--class", "horses")
    assert status == 2 and "expected a class index from 0 to 2 or one of the model's class names" in err


def test_explain_a_model_without_a_convolution_writes_the_saliency_map_only(tmp_path, capsys):
    network = scratchcnn.Network([scratchcnn.Flatten(), scratchcnn.Dense(64, 2, activation="linear"),
                                  scratchcnn.MultiClassDense(2, 2)]).initialize(0)
    network.metadata = {"input_shape": [1, 8, 8], "class_names": ["a", "b"]}
    network.save_model(str(tmp_path / "flat.model"))
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "x.png")
    status, out, err = run(capsys, "explain", tmp_path / "flat.model", tmp_path / "x.png", "--out", tmp_path)
    assert status == 0 and (tmp_path / "saliency.png").exists() and not (tmp_path / "grad_cam.png").exists()
    assert err.startswith("scratchcnn: warning: no Grad-CAM: Received a network without a ConvLayer")


@pytest.mark.parametrize("command", [["predict", "MODEL", "IMAGE"], ["evaluate", "MODEL", "--data", "FOLDER"],
                                     ["summary", "MODEL"], ["explain", "MODEL", "IMAGE"]])
def test_a_damaged_model_file_is_one_line_and_exit_2(trained, tmp_path, capsys, command):
    photos, _ = trained
    damaged = tmp_path / "damaged.model"
    damaged.write_bytes(b"PK\x03\x04 not a zip after all")
    replace = {"MODEL": damaged, "IMAGE": photos / "cats" / "cats0.png", "FOLDER": photos}
    status, out, err = run(capsys, *[replace.get(arg, arg) for arg in command])
    assert status == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith("scratchcnn: error: ") and "damaged.model" in err
