"""load_image_folder and list_classes on small folders of images written by Pillow."""
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from scratchcnn.datasets import list_classes, load_image_folder

Image = pytest.importorskip("PIL.Image")

CATSDOGS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "catsdogs" / "train"
RED, BLUE = (220, 20, 20), (20, 20, 220)


def _write_images(folder, color, count, fmt="JPEG", suffix=".jpg"):
    """Write ``count`` solid-colour images of varying size into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        size = (30 + 3 * i, 20 + 2 * i)  # (width, height), aspect ratios vary
        Image.new("RGB", size, color).save(folder / f"img{i:02d}{suffix}", fmt)


@pytest.fixture
def pets(tmp_path):
    """cats/ (10 red JPEGs), dogs/ (10 blue PNGs)."""
    _write_images(tmp_path / "cats", RED, 10)
    _write_images(tmp_path / "dogs", BLUE, 10, fmt="PNG", suffix=".png")
    return tmp_path


def test_list_classes_is_sorted_and_ignores_hidden(pets):
    (pets / ".cache").mkdir()
    (pets / "ants").mkdir()
    assert list_classes(pets) == ["ants", "cats", "dogs"]


def test_no_split_returns_everything_in_folder_order(pets):
    images, labels, class_names = load_image_folder(pets, size=(12, 16), split=None)
    assert class_names == ["cats", "dogs"]
    assert images.shape == (20, 3, 12, 16) and images.dtype == np.float32
    assert labels.dtype == np.int64 and labels.tolist() == [0] * 10 + [1] * 10
    assert 0.0 <= images.min() and images.max() <= 1.0
    np.testing.assert_allclose(images[labels == 0].mean(axis=(0, 2, 3)), np.array(RED) / 255, atol=0.02)
    np.testing.assert_allclose(images[labels == 1].mean(axis=(0, 2, 3)), np.array(BLUE) / 255, atol=0.02)


def test_grayscale_has_one_channel_with_luminance(pets):
    images, labels, _ = load_image_folder(pets, size=(8, 8), color="grayscale", split=None)
    assert images.shape == (20, 1, 8, 8)
    red_luma = (0.299 * RED[0] + 0.587 * RED[1] + 0.114 * RED[2]) / 255
    np.testing.assert_allclose(images[labels == 0].mean(), red_luma, atol=0.02)


def test_split_sizes_are_stratified_and_partition_the_data(pets):
    everything, _, _ = load_image_folder(pets, size=(6, 6), split=None)
    *parts, class_names = load_image_folder(pets, size=(6, 6), split=(0.8, 0.1, 0.1), seed=0)
    train_x, train_y, test_x, test_y, val_x, val_y = parts
    assert class_names == ["cats", "dogs"]
    assert (len(train_x), len(test_x), len(val_x)) == (16, 2, 2)
    for labels, per_class in ((train_y, 8), (test_y, 1), (val_y, 1)):
        assert np.bincount(labels, minlength=2).tolist() == [per_class, per_class]
    # Together the parts are exactly the whole folder, each image once.
    joined = np.concatenate([train_x, test_x, val_x])
    assert sorted(map(bytes, joined)) == sorted(map(bytes, everything))


def test_split_is_seeded_and_shuffled(pets):
    first = load_image_folder(pets, size=(6, 6), seed=3)
    second = load_image_folder(pets, size=(6, 6), seed=3)
    for a, b in zip(first[:6], second[:6]):
        np.testing.assert_array_equal(a, b)
    train_labels = [load_image_folder(pets, size=(6, 6), seed=s)[1].tolist() for s in range(4)]
    assert any(labels != sorted(labels) for labels in train_labels)  # classes interleaved
    assert len({tuple(labels) for labels in train_labels}) > 1  # and the order depends on the seed


def test_corrupt_file_is_skipped_and_reported_by_name(pets):
    (pets / "cats" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    good = (pets / "dogs" / "img00.png").read_bytes()
    (pets / "dogs" / "cut.png").write_bytes(good[: len(good) // 2])
    with pytest.warns(UserWarning) as record:
        images, labels, _ = load_image_folder(pets, size=(6, 6), split=None)
    assert len(record) == 1
    message = str(record[0].message)
    assert "Skipped 2 file(s)" in message and "cats/broken.jpg" in message and "dogs/cut.png" in message
    assert len(images) == 20 and np.bincount(labels).tolist() == [10, 10]


def test_hidden_files_are_ignored_silently(pets):
    (pets / "cats" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        images, _, _ = load_image_folder(pets, size=(6, 6), split=None)
    assert len(images) == 20


def test_kaggle_nested_layout(tmp_path):
    inner = tmp_path / "training_set" / "training_set"
    _write_images(inner / "cats", RED, 3)
    _write_images(inner / "dogs", BLUE, 4)
    outer = tmp_path / "training_set"
    assert list_classes(outer) == ["cats", "dogs"]
    images, labels, class_names = load_image_folder(outer, size=(5, 5), split=None)
    assert class_names == ["cats", "dogs"] and labels.tolist() == [0] * 3 + [1] * 4


def test_single_class_folder_is_not_descended_into(tmp_path):
    _write_images(tmp_path / "cats", RED, 2)
    images, labels, class_names = load_image_folder(tmp_path, size=(5, 5), split=None)
    assert class_names == ["cats"] and labels.tolist() == [0, 0]


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="expected one sub-folder per class.*Received: no sub-folders"):
        load_image_folder(tmp_path)


def test_folder_of_loose_images_is_an_error(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"no sub-folders \(1 file\(s\) directly inside\)"):
        list_classes(tmp_path)


def test_class_folders_without_images_is_an_error(tmp_path):
    (tmp_path / "cats").mkdir()
    (tmp_path / "dogs").mkdir()
    (tmp_path / "dogs" / "notes.txt").write_text("no images here")
    with pytest.warns(UserWarning, match="dogs/notes.txt"):
        with pytest.raises(ValueError, match=r"expected at least one decodable image.*\['cats', 'dogs'\]"):
            load_image_folder(tmp_path)


def test_missing_path_and_file_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="Image folder not found.*nowhere"):
        load_image_folder(tmp_path / "nowhere")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match="Received: a file"):
        list_classes(tmp_path / "file.txt")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"size": (0, 5)}, r"expected two positive integers \(height, width\). Received: size=\(0, 5\)"),
        ({"size": 50}, "Received: size=50"),
        ({"size": (5.0, 5)}, r"Received: size=\(5.0, 5\)"),
        ({"color": "RGB"}, "expected 'rgb' or 'grayscale'. Received: color='RGB'"),
        ({"split": (0.8, 0.2)}, r"fractions \(train, test, val\) summing to 1. Received: split=\(0.8, 0.2\)"),
        ({"seed": -1}, "Received: seed=-1"),
    ],
)
def test_invalid_arguments(pets, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_image_folder(pets, **kwargs)


def test_missing_pillow_says_how_to_install(pets, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)  # makes `from PIL import Image` fail
    with pytest.raises(ImportError, match=r"pip install scratchcnn\[images\]"):
        load_image_folder(pets)
    assert list_classes(pets) == ["cats", "dogs"]  # listing needs no Pillow


@pytest.mark.skipif(not CATSDOGS.is_dir(), reason="shared cats/dogs photos not present")
def test_real_cats_and_dogs_photos():
    train_x, train_y, test_x, test_y, val_x, val_y, class_names = load_image_folder(CATSDOGS, size=(32, 32))
    assert class_names == ["cats", "dogs"]
    assert train_x.shape == (1600, 3, 32, 32)
    assert test_x.shape == val_x.shape == (200, 3, 32, 32)
    assert np.bincount(train_y).tolist() == [800, 800] and np.bincount(val_y).tolist() == [100, 100]
    assert 0.3 < train_x.mean() < 0.7 and train_x.std() > 0.1  # real photos, not blank
