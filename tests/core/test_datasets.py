"""Datasets: the bundled sample, image folders, the offline fallback, batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core import events as ev
from core.config import DataConfig
from core.data import datasets as data
from core.data.batches import Batches, StreamingBatches, make_batches
from core.data.datasets import DataError, ImageSet, load_bundled, load_dataset
from core.training.trainer import train

from .conftest import tiny, write_png


def test_bundled_sample():
    ds = load_bundled()
    assert len(ds) == 5000
    assert ds.images.dtype == torch.uint8 and ds.images.shape == (5000, 1, 28, 28)
    assert ds.labels.dtype == torch.int64
    assert torch.bincount(ds.labels, minlength=10).tolist() == [500] * 10
    assert ds.images.max() > 200 and ds.images.min() == 0  # real digits, not blank
    assert ds.notes == ()


def test_bundled_resized_for_a_32px_model():
    ds = load_dataset(DataConfig(dataset="bundled", image_size=32))
    assert ds.images.shape == (5000, 1, 32, 32) and ds.images.dtype == torch.uint8


@pytest.fixture
def mixed_folder(tmp_path):
    folder = tmp_path / "pics"
    (folder / "sub").mkdir(parents=True)
    write_png(folder / "a.png", size=(40, 30), mode="RGB", seed=1)
    write_png(folder / "b.png", size=(16, 16), mode="L", seed=2)
    write_png(folder / "sub" / "c.png", size=(28, 50), mode="RGB", seed=3)
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "readme.txt").write_text("not an image")
    return folder


@pytest.mark.parametrize("channels", [1, 3])
def test_folder_dataset(mixed_folder, channels):
    ds = load_dataset(DataConfig(dataset="folder", folder=str(mixed_folder), image_size=24, channels=channels))
    assert ds.images.shape == (3, channels, 24, 24) and ds.images.dtype == np.uint8  # memory-mapped
    assert ds.labels is None
    assert len(ds.notes) == 1 and "Skipped 2 unreadable" in ds.notes[0]


def test_folder_grayscale_pixels_survive(tmp_path):
    from PIL import Image
    folder = tmp_path / "flat"
    folder.mkdir()
    Image.new("L", (28, 28), 200).save(folder / "g.png")
    Image.new("RGB", (28, 28), (255, 0, 0)).save(folder / "r.png")
    gray = load_dataset(DataConfig(dataset="folder", folder=str(folder), image_size=28, channels=1))
    rgb = load_dataset(DataConfig(dataset="folder", folder=str(folder), image_size=28, channels=3))
    assert gray.notes == () and rgb.notes == ()
    assert (gray.images[0] == 200).all()  # sorted: g.png first
    assert rgb.images[1, :, 5, 5].tolist() == [255, 0, 0]
    assert rgb.images[0, :, 5, 5].tolist() == [200, 200, 200]


def test_empty_and_missing_folder_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(dataset="folder", folder=str(tmp_path / "empty")))
    assert "no images found" in str(info.value) and "empty" in str(info.value)
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(dataset="folder", folder=str(tmp_path / "missing")))
    assert "no such folder" in str(info.value) and "missing" in str(info.value)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_text("garbage")
    with pytest.raises(DataError, match="none of the 1 image files could be read"):
        load_dataset(DataConfig(dataset="folder", folder=str(tmp_path / "bad")))


def test_skipped_files_are_a_notice_in_training(mixed_folder, recorder):
    train(tiny(**{"data.dataset": "folder", "data.folder": str(mixed_folder), "run.steps": 1}),
          on_event=recorder)
    assert recorder.errors() == []
    assert any("Skipped 2 unreadable" in n.message for n in recorder.of(ev.Notice))


def _offline(config):
    raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")


def test_mnist_offline_falls_back_to_the_bundled_sample(monkeypatch, recorder, tmp_path):
    monkeypatch.setattr(data, "_torchvision", _offline)
    ds = load_dataset(DataConfig(dataset="mnist", cache_dir=str(tmp_path)))
    assert len(ds) == 5000 and ds.name == "bundled MNIST sample"
    assert "could not be downloaded" in ds.notes[0] and "bundled" in ds.notes[0]
    train(tiny(**{"data.dataset": "mnist", "data.cache_dir": str(tmp_path), "run.steps": 1}), on_event=recorder)
    assert recorder.errors() == []
    (notice,) = [n for n in recorder.of(ev.Notice) if "MNIST" in n.message]  # the other: the default's clusters
    assert "MNIST could not be downloaded" in notice.message and "Error downloading" in notice.message
    assert recorder.of(ev.Started)[0].dataset == "bundled MNIST sample"


@pytest.mark.parametrize("name, channels, size", [("fashion-mnist", 1, 28), ("cifar10", 3, 32)])
def test_other_downloads_offline_are_refused(monkeypatch, tmp_path, name, channels, size):
    monkeypatch.setattr(data, "_torchvision", _offline)
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(dataset=name, channels=channels, image_size=size, cache_dir=str(tmp_path)))
    message = str(info.value)
    assert repr(name) in message and "Error downloading" in message and str(tmp_path) in message


def _toy(n=10, labels=True):
    images = torch.arange(n * 4, dtype=torch.float).remainder(256).to(torch.uint8).view(n, 1, 2, 2)
    images[0] = 0
    images[1] = 255
    return ImageSet(images, torch.arange(n) if labels else None, "toy")


def _batches(output, n=10, batch=4, labels=True, seed=0):
    return Batches(_toy(n, labels), batch, torch.device("cpu"), output, seed)


@pytest.mark.parametrize("output, lo, hi", [("tanh", -1.0, 1.0), ("sigmoid", 0.0, 1.0)])
def test_batches_scale_to_the_generator_range(output, lo, hi):
    b = _batches(output, n=10, batch=10)
    x, y = b.next()
    assert x.dtype == torch.float32 and x.shape == (10, 1, 2, 2)
    assert x.min().item() == lo and x.max().item() == hi  # 0 -> lo, 255 -> hi
    assert sorted(y.tolist()) == list(range(10))  # one epoch: every image once


def test_batches_epochs_and_state():
    b = _batches("tanh", n=10, batch=4)
    seen = [b.next()[1] for _ in range(2)]
    assert b.epoch == 0 and b.progress == pytest.approx(0.8)
    assert len(set(torch.cat(seen).tolist())) == 8  # no repeats within an epoch
    state = b.state_dict()
    copy = _batches("tanh", n=10, batch=4)
    copy.load_state_dict(state)
    for _ in range(3):  # crosses into the next epoch identically
        assert torch.equal(b.next()[1], copy.next()[1])
    assert b.epoch == 2  # 10 images, 4 a batch: the remainder of 2 is left out each epoch
    with pytest.raises(DataError, match="10 images"):
        _batches("tanh", n=12).load_state_dict(state)
    other = _batches("tanh", n=10, batch=4, seed=1)
    assert not all(torch.equal(_batches("tanh", n=10, batch=4).next()[1], other.next()[1]) for _ in range(3))


def test_batch_larger_than_dataset_is_clamped():
    b = _batches("tanh", n=3, batch=64)
    assert b.next()[0].shape[0] == 3


def test_ranks_take_their_slices_of_the_global_batch():
    whole = _batches("tanh", n=10, batch=4)
    ranks = [Batches(_toy(10), 2, torch.device("cpu"), "tanh", 0, rank=r, world=2) for r in range(2)]
    for _ in range(5):  # across epoch ends too
        assert torch.equal(whole.next()[1], torch.cat([r.next()[1] for r in ranks]))


def _memmap(tmp_path, n=37):
    arr = np.lib.format.open_memmap(tmp_path / "images.npy", mode="w+", dtype=np.uint8, shape=(n, 3, 4, 4))
    arr[:] = np.random.default_rng(0).integers(0, 256, arr.shape, dtype=np.uint8)
    arr.flush()
    return ImageSet(np.load(tmp_path / "images.npy", mmap_mode="r"), None, "mapped")


def test_streamed_batches_equal_resident_ones_and_resume(tmp_path):
    ds = _memmap(tmp_path)
    resident = make_batches(ds, 8, torch.device("cpu"), "tanh", 3, stream="off")
    streamed = make_batches(ds, 8, torch.device("cpu"), "tanh", 3, stream="on")
    assert type(resident) is Batches and type(streamed) is StreamingBatches
    try:
        for _ in range(12):  # three epochs of 4 batches (37 images: 5 left out each time)
            a, b = resident.next()[0], streamed.next()[0]
            assert torch.equal(a, b)
        state = streamed.state_dict()
        assert state == resident.state_dict() and state["epoch"] == 2
        again = make_batches(ds, 8, torch.device("cpu"), "tanh", 3, stream="on")
        again.load_state_dict(state)
        for _ in range(6):
            assert torch.equal(resident.next()[0], again.next()[0])
        again.close()
    finally:
        streamed.close()


def test_auto_streams_only_what_does_not_fit(tmp_path, monkeypatch):
    from core.data import batches

    ds = _memmap(tmp_path)
    assert type(make_batches(ds, 8, torch.device("cpu"), "tanh", 0)) is Batches
    monkeypatch.setattr(batches, "available_memory", lambda: ds.images.nbytes)  # would take all of it
    streamed = make_batches(ds, 8, torch.device("cpu"), "tanh", 0)
    assert type(streamed) is StreamingBatches
    streamed.close()
    assert type(make_batches(_toy(), 8, torch.device("cpu"), "tanh", 0, stream="on")) is Batches  # a tensor


def test_a_read_error_in_the_prefetcher_reaches_the_step(tmp_path):
    ds = _memmap(tmp_path)
    streamed = StreamingBatches(ds, 8, torch.device("cpu"), "tanh", 0)
    streamed.images = None  # reading from it fails on the prefetch thread
    with pytest.raises(DataError, match="could not read images"):
        streamed.next()
    streamed.close()
