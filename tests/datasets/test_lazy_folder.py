"""load_image_folder(lazy=True): ImageFolderBatches decodes batches on demand with a prefetch thread."""
import gc
import threading
import time
import weakref

import numpy as np
import pytest

from scratchcnn.datasets import ImageDecodeError, ImageFolderBatches, load_image_folder

Image = pytest.importorskip("PIL.Image")

COLOURS = {"ants": (200, 30, 30), "bees": (30, 200, 30), "cows": (30, 30, 200)}


def _write(folder, colour, count, start=0, suffix=".png"):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        pixels = np.zeros((12 + i % 3, 10 + i % 4, 3), dtype=np.uint8)
        pixels[...] = colour
        pixels[0, 0] = (i, i, i)  # every image a little different, so orders can be told apart
        Image.fromarray(pixels).save(folder / f"img{i:03d}{suffix}")


@pytest.fixture
def animals(tmp_path):
    """ants/ 5 images, bees/ 4, cows/ 3 (12 in all)."""
    for (name, colour), count in zip(COLOURS.items(), (5, 4, 3)):
        _write(tmp_path / name, colour, count)
    return tmp_path


def _threads():
    return [thread for thread in threading.enumerate() if thread.name == "scratchcnn-image-prefetch"]


def _wait_for(condition, seconds=5.0):
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        time.sleep(0.01)
    return condition()


def test_batches_have_the_documented_shapes_labels_and_attributes(animals):
    batches = load_image_folder(animals, size=(6, 8), split=None, lazy=True, batch_size=5, shuffle=False)
    assert isinstance(batches, ImageFolderBatches)
    assert (batches.class_names, batches.input_shape, batches.num_samples, len(batches)) == (
        ["ants", "bees", "cows"], (3, 6, 8), 12, 3)
    sizes = []
    for X, y in batches:
        assert X.dtype == np.float32 and X.shape[1:] == (3, 6, 8) and y.dtype == np.int64 and len(X) == len(y)
        sizes.append(len(X))
        for image, label in zip(X, y):  # each image's colour is its class's
            colour = np.array(COLOURS[batches.class_names[label]]) / 255
            np.testing.assert_allclose(image[:, 3, 4], colour, atol=1e-6)
    assert sizes == [5, 5, 2]


def test_without_shuffle_the_batches_are_exactly_the_eager_arrays(animals):
    images, labels, names = load_image_folder(animals, size=(7, 5), color="grayscale", split=None)
    batches = load_image_folder(animals, size=(7, 5), color="grayscale", split=None, lazy=True, batch_size=4,
                                shuffle=False)
    X = np.concatenate([X for X, _ in batches])
    y = np.concatenate([y for _, y in batches])
    assert batches.input_shape == (1, 7, 5)
    np.testing.assert_array_equal(X, images)
    np.testing.assert_array_equal(y, labels)


def test_a_seed_fixes_each_epochs_order_and_every_epoch_reads_each_image_once(animals):
    def epochs(source, count):
        orders = []
        for _ in range(count):
            orders.append(np.concatenate([X[:, 0, 0, 0] for X, _ in source]))  # the pixel naming each image
            source.on_epoch_end()
        return orders

    first = epochs(load_image_folder(animals, size=(4, 4), split=None, lazy=True, batch_size=5, seed=7), 3)
    second = epochs(load_image_folder(animals, size=(4, 4), split=None, lazy=True, batch_size=5, seed=7), 3)
    other = epochs(load_image_folder(animals, size=(4, 4), split=None, lazy=True, batch_size=5, seed=8), 1)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[0], other[0])
    for order in first:
        assert sorted(order) == sorted(first[0])  # a permutation of the same 12 images

    resumed = load_image_folder(animals, size=(4, 4), split=None, lazy=True, batch_size=5, seed=7)
    resumed.set_epoch(2)  # a run resumed at epoch 2 reads it exactly as the first run did
    np.testing.assert_array_equal(np.concatenate([X[:, 0, 0, 0] for X, _ in resumed]), first[2])


def test_a_generator_seed_draws_each_epochs_order_from_the_generator(animals):
    files = [str(p) for p in sorted(animals.glob("*/*.png"))]
    make = lambda rng: ImageFolderBatches(files, np.zeros(len(files)), ["x"], (4, 4), "RGB", batch_size=12,
                                          shuffle=True, seed=rng)
    a, b = make(np.random.default_rng(3)), make(np.random.default_rng(3))
    np.testing.assert_array_equal(a.batch_indices(0), b.batch_indices(0))
    a.on_epoch_end()
    b.on_epoch_end()
    np.testing.assert_array_equal(a.batch_indices(0), b.batch_indices(0))


def test_random_access_restarts_the_prefetch_where_asked(animals):
    batches = load_image_folder(animals, size=(4, 4), split=None, lazy=True, batch_size=3, shuffle=False)
    whole = [X for X, _ in batches]
    for index in (3, 1, 2, 0, 0):
        np.testing.assert_array_equal(batches[index][0], whole[index])
    with pytest.raises(IndexError, match=r"Received batch index 4, expected 0 to 3 \(4 batches\)"):
        batches[4]
    with pytest.raises(TypeError, match="expected an integer"):
        batches["0"]


def test_a_lazy_split_holds_the_same_images_as_the_eager_split(animals):
    eager = load_image_folder(animals, size=(4, 4), split=(0.5, 0.25, 0.25), seed=3)
    train, test, val = load_image_folder(animals, size=(4, 4), split=(0.5, 0.25, 0.25), seed=3, lazy=True,
                                         batch_size=2)
    assert train.shuffle and not test.shuffle and not val.shuffle
    for source, images in ((train, eager[0]), (test, eager[2]), (val, eager[4])):
        assert source.class_names == ["ants", "bees", "cows"]
        lazy_images = np.concatenate([X for X, _ in source])
        assert sorted(map(bytes, lazy_images)) == sorted(map(bytes, images))


def test_images_in_nested_folders_belong_to_their_class_folder(tmp_path):
    _write(tmp_path / "ants", COLOURS["ants"], 2)
    _write(tmp_path / "ants" / "outdoor" / "deeper", COLOURS["ants"], 3, start=10)
    _write(tmp_path / "bees", COLOURS["bees"], 1)
    _write(tmp_path / "bees" / ".thumbnails", COLOURS["cows"], 2, start=20)  # hidden: ignored
    (tmp_path / "bees" / "notes.txt").write_text("not an image")  # the lazy listing reads image files only
    batches = load_image_folder(tmp_path, size=(4, 4), split=None, lazy=True, batch_size=10, shuffle=False)
    assert batches.class_names == ["ants", "bees"] and batches.labels.tolist() == [0] * 5 + [1]
    assert [f.replace(str(tmp_path), "") for f in batches.files[:3]] == [
        "/ants/img000.png", "/ants/img001.png", "/ants/outdoor/deeper/img010.png"]
    with pytest.warns(UserWarning, match="bees/notes.txt"):  # the eager load tries every file, as before
        images, labels, _ = load_image_folder(tmp_path, size=(4, 4), split=None)
    assert labels.tolist() == [0] * 5 + [1]
    np.testing.assert_array_equal(images, batches[0][0])


def test_a_damaged_image_is_raised_in_the_caller_naming_the_file(animals):
    (animals / "bees" / "img001.png").write_bytes(b"\x89PNG\r\n\x1a\n but then nothing")
    batches = load_image_folder(animals, size=(4, 4), split=None, lazy=True, batch_size=4, shuffle=False)
    X, _ = batches[0]  # ants 0-3: fine
    assert len(X) == 4
    with pytest.raises(ImageDecodeError, match=r"Could not decode the image file '.*bees/img001.png'"):
        batches[1]  # ant 4, bees 0-2
    assert _wait_for(lambda: not batches.prefetching)  # the thread stopped at the error
    assert len(batches[2][0]) == 4  # the other batches can still be read
    with pytest.raises(ImageDecodeError):
        batches[1]


def test_the_thread_prefetches_a_bounded_number_of_batches_and_stops_at_the_end(animals):
    batches = load_image_folder(animals, size=(4, 4), split=None, lazy=True, batch_size=1, shuffle=False)
    decoded = []
    decode = batches._decode
    batches._decode = lambda indices: decoded.append(int(indices[0])) or decode(indices)
    batches[0]
    time.sleep(0.5)  # a slow consumer: the thread fills its queue of 2 and waits
    assert batches.prefetching and len(decoded) <= 1 + batches.prefetch + 1
    for index in range(1, len(batches)):
        batches[index]
    assert _wait_for(lambda: not batches.prefetching)  # done: the thread has ended by itself
    assert decoded == list(range(12))


def test_close_and_with_stop_the_thread_midway(animals):
    before = len(_threads())
    batches = load_image_folder(animals, size=(4, 4), split=None, lazy=True, batch_size=1)
    batches[0]
    assert batches.prefetching
    batches.close()
    assert not batches.prefetching and len(_threads()) == before
    with load_image_folder(animals, size=(4, 4), split=None, lazy=True, batch_size=1) as source:
        source[0]
        assert source.prefetching
    assert not source.prefetching and len(_threads()) == before


def test_an_abandoned_source_is_collected_and_its_thread_stops(animals):
    before = len(_threads())
    batches = load_image_folder(animals, size=(4, 4), split=None, lazy=True, batch_size=1)
    batches[0]
    alive = weakref.ref(batches)
    del batches
    gc.collect()
    assert alive() is None  # the thread holds no reference to the source
    assert _wait_for(lambda: len(_threads()) == before)


@pytest.mark.parametrize("options, message", [
    ({"batch_size": 0}, "Received: batch_size=0"),
    ({"shuffle": "yes"}, "Received: shuffle='yes'"),
    ({"lazy": "yes"}, "Received: lazy='yes'"),
    ({"lazy": False, "batch_size": 8}, "without lazy=True"),
    ({"seed": -1}, "Received: seed=-1"),
])
def test_invalid_arguments_name_what_was_received(animals, options, message):
    with pytest.raises(ValueError, match=message):
        load_image_folder(animals, split=None, **{"lazy": True, **options})


def test_a_folder_without_image_files_is_refused(tmp_path):
    (tmp_path / "ants").mkdir()
    (tmp_path / "ants" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"expected at least one image file \(.bmp.*Received: none in \['ants'\]"):
        load_image_folder(tmp_path, split=None, lazy=True)
