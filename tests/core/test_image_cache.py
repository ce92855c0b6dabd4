"""Own-image folders: the scan, the decode-once memory-mapped cache, and the synthetic picture set."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data import image_cache
from core.data.datasets import DataError
from core.data.image_cache import BuildCancelled, cache_key, open_or_build, preview, scan
from tools.make_synthetic_pictures import PictureSetError, main, make_pictures

from .conftest import write_png

PICTURES, BROKEN, SIZE = 24, 3, 32
BROKEN_NAMES = ["broken_text.png", "broken_truncated.jpg", "more/broken_empty.jpg"]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """24 synthetic pictures + 3 broken files, drawn once; copy it before changing it."""
    folder = tmp_path_factory.mktemp("synthetic") / "pictures"
    counts = make_pictures(folder, n=PICTURES, seed=0, broken=BROKEN)
    assert counts == {"written": PICTURES + BROKEN, "pictures": PICTURES, "broken": BROKEN}
    return folder


@pytest.fixture
def own_copy(synthetic, tmp_path):
    folder = tmp_path / "mine"
    shutil.copytree(synthetic, folder)  # copy2: the times are kept, so the key is stable
    return folder


def build(folder, tmp_path, size=SIZE, channels=3, **kw):
    return open_or_build(folder, size, channels, cache_root=tmp_path / "cache", **kw)


# ---- scan ----------------------------------------------------------------------------------------

def test_scan_is_recursive_sorted_and_skips_hidden_and_other_files(tmp_path):
    names = ["b.png", "a.JPG", "sub/c.webp", "sub/deeper/d.gif", "B.tiff",
             ".hidden.png", ".thumbs/e.png", "sub/.cache/f.png", "notes.txt", "sub/readme.md", "g.png.txt"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()  # a folder with an image suffix is not a file
    found = [p.relative_to(tmp_path.resolve()).as_posix() for p in scan(tmp_path)]
    assert found == ["B.tiff", "a.JPG", "b.png", "sub/c.webp", "sub/deeper/d.gif"]


def test_scan_refuses_missing_empty_and_non_folders(tmp_path):
    with pytest.raises(DataError, match="nowhere.*no such folder"):
        scan(tmp_path / "nowhere")
    (tmp_path / "a.png").write_bytes(b"x")
    with pytest.raises(DataError, match="a.png.*not a folder"):
        scan(tmp_path / "a.png")
    empty = tmp_path / "empty"
    (empty / ".hidden").mkdir(parents=True)
    (empty / ".hidden" / "x.png").write_bytes(b"x")
    (empty / "notes.txt").write_text("no pictures here")
    with pytest.raises(DataError, match="empty.*no images found"):
        scan(empty)


# ---- build ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("channels", [3, 1])
def test_build_decodes_every_readable_file(synthetic, tmp_path, channels):
    cache = build(synthetic, tmp_path, channels=channels)
    assert cache.built
    assert cache.images.shape == (PICTURES, channels, SIZE, SIZE) and cache.images.dtype == np.uint8
    assert cache.count == PICTURES and cache.skipped == BROKEN
    assert sorted(cache.skipped_files) == BROKEN_NAMES
    assert cache.nbytes == PICTURES * channels * SIZE * SIZE == cache.path.stat().st_size
    assert "Skipped 3 unreadable" in cache.notes[0]
    assert cache.images.std() > 20  # real pictures, not blank
    with pytest.raises(ValueError):
        cache.images[0, 0, 0, 0] = 1  # read-only: the cache on disk cannot be damaged through it
    meta = json.loads(cache.path.with_suffix(".json").read_text())
    assert meta["count"] == PICTURES and meta["skipped"] == BROKEN and meta["key"] == cache.key
    assert meta["shape"] == [PICTURES, channels, SIZE, SIZE]


def test_output_order_is_file_order(tmp_path):
    """Decoded in parallel, written in the scan's order: image i is file i."""
    folder = tmp_path / "grays"
    folder.mkdir()
    for i in range(12):
        Image.new("L", (20, 30), 10 * i).save(folder / f"g{i:02d}.png")
    (folder / "g05b.png").write_bytes(b"broken")  # skipped files leave no gap
    cache = build(folder, tmp_path, size=8, channels=1, workers=4)
    assert [int(cache.images[i].mean()) for i in range(cache.count)] == [10 * i for i in range(12)]


def test_non_square_pictures_are_centre_cropped(tmp_path):
    folder = tmp_path / "wide"
    folder.mkdir()
    wide = np.zeros((40, 120, 3), np.uint8)
    wide[:] = (0, 0, 255)
    wide[:, 30:90] = (255, 0, 0)  # the centre 40x40 square (columns 40..80) lies inside the red
    Image.fromarray(wide).save(folder / "wide.png")
    Image.fromarray(np.ascontiguousarray(wide.transpose(1, 0, 2))).save(folder / "tall.png")
    cache = build(folder, tmp_path, size=16)
    assert cache.count == 2
    assert (cache.images[:, 0] > 240).all() and (cache.images[:, 2] < 15).all()  # red everywhere, no blue


def test_alpha_is_composited_on_white(tmp_path):
    folder = tmp_path / "alpha"
    folder.mkdir()
    Image.new("RGBA", (30, 30), (0, 0, 0, 0)).save(folder / "clear.png")  # hidden pixels are black
    palette = Image.new("P", (30, 30), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.save(folder / "palette.png", transparency=0)
    for channels in (3, 1):
        cache = build(folder, tmp_path, size=8, channels=channels)
        assert (cache.images == 255).all()


def test_exif_orientation_is_applied(tmp_path):
    folder = tmp_path / "exif"
    folder.mkdir()
    stored = np.zeros((40, 60, 3), np.uint8)
    stored[:, :30] = (255, 0, 0)  # left red, right blue as stored
    stored[:, 30:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to show": left comes to the top
    Image.fromarray(stored).save(folder / "rotated.jpg", quality=95, exif=exif)
    image = build(folder, tmp_path, size=16).images[0].astype(int)
    assert image[0, 1, 8] > 200 and image[2, 1, 8] < 60  # top: red
    assert image[2, 14, 8] > 200 and image[0, 14, 8] < 60  # bottom: blue


def test_sixteen_bit_grayscale_is_scaled_not_clipped(tmp_path):
    folder = tmp_path / "deep"
    folder.mkdir()
    Image.fromarray(np.full((20, 20), 32896, np.uint16)).save(folder / "mid.png")  # 128 * 257
    assert (build(folder, tmp_path, size=8, channels=1).images == 128).all()


def test_all_broken_is_refused(tmp_path):
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "a.png").write_text("not a picture")
    (folder / "b.jpg").write_bytes(b"")
    (folder / "c.gif").write_bytes(b"GIF89a")
    with pytest.raises(DataError, match="junk.*none of the 3 image files could be read"):
        build(folder, tmp_path)
    assert list((tmp_path / "cache").iterdir()) == []  # nothing half-made left behind


def test_not_enough_disk_space_is_refused(synthetic, tmp_path, monkeypatch):
    monkeypatch.setattr(image_cache.shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10**6, 10**6, 1000))
    with pytest.raises(DataError, match="GiB free"):
        build(synthetic, tmp_path)


# ---- reopening and invalidation ----------------------------------------------------------------

def test_unchanged_folder_opens_without_decoding(synthetic, tmp_path, monkeypatch):
    first = build(synthetic, tmp_path)
    pixels = np.array(first.images)

    def no_decoding(*args):
        raise AssertionError("an unchanged folder was decoded again")

    monkeypatch.setattr(image_cache, "_decode", no_decoding)
    again = build(synthetic, tmp_path)
    assert not again.built and again.key == first.key and again.path == first.path
    assert again.skipped == BROKEN and sorted(again.skipped_files) == BROKEN_NAMES
    assert np.array_equal(np.asarray(again.images), pixels)


def test_cache_key_covers_size_channels_and_files(synthetic):
    files = scan(synthetic)
    key = cache_key(synthetic, files, 32, 3)
    assert key == cache_key(synthetic, list(files), 32, 3) and len(key) == 64
    assert len({key, cache_key(synthetic, files, 64, 3), cache_key(synthetic, files, 32, 1),
                cache_key(synthetic, files[1:], 32, 3)}) == 4


def _first_picture(folder) -> Path:
    return next(p for p in scan(folder) if not p.name.startswith("broken"))


def _touch(folder):
    path = _first_picture(folder)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def _add(folder):
    Image.new("RGB", (50, 40), (10, 200, 30)).save(folder / "shapes" / "new.png")


def _remove(folder):
    _first_picture(folder).unlink()


@pytest.mark.parametrize("change, count", [(_touch, PICTURES), (_add, PICTURES + 1), (_remove, PICTURES - 1)])
def test_changed_folder_is_rebuilt_and_its_old_cache_removed(own_copy, synthetic, tmp_path, change, count):
    other = build(synthetic, tmp_path)  # another folder's cache: must survive
    old = build(own_copy, tmp_path)
    other_size = build(own_copy, tmp_path, size=16)  # same files, another size: kept while they are current
    change(own_copy)
    new = build(own_copy, tmp_path)
    assert new.built and new.key != old.key and new.count == count
    assert not old.path.exists() and not old.path.with_suffix(".json").exists()
    assert not other_size.path.exists()  # of the folder's old state too
    assert new.path.parent == old.path.parent
    assert {p.name for p in new.path.parent.iterdir()} == {new.path.name, new.path.with_suffix(".json").name}
    assert other.path.exists() and not build(synthetic, tmp_path).built


def test_other_sizes_of_the_same_files_are_kept(synthetic, tmp_path):
    at_32 = build(synthetic, tmp_path)
    at_16 = build(synthetic, tmp_path, size=16)
    assert at_32.path.exists() and at_16.built
    assert not build(synthetic, tmp_path).built and not build(synthetic, tmp_path, size=16).built


def test_half_built_cache_is_rebuilt(synthetic, tmp_path):
    """A build killed mid-way leaves pixels but no JSON (written last): it is never taken as complete."""
    done = build(synthetic, tmp_path)
    pixels = np.array(done.images)
    meta = done.path.with_suffix(".json")
    meta.unlink()
    with open(done.path, "r+b") as f:
        f.truncate(done.nbytes // 2)
    partial = done.path.parent / f"{done.key}.killed.partial"  # left by a killed run long ago
    partial.write_bytes(b"\0" * 100)
    os.utime(partial, (1, 1))
    fresh = done.path.parent / f"{done.key}.running.partial"  # another process is writing this one now
    fresh.write_bytes(b"\0" * 100)

    again = build(synthetic, tmp_path)
    assert again.built and np.array_equal(np.asarray(again.images), pixels)
    assert meta.exists() and not partial.exists() and fresh.exists()


def test_damaged_json_or_short_pixels_are_rebuilt(synthetic, tmp_path):
    done = build(synthetic, tmp_path)
    done.path.with_suffix(".json").write_text("{not json")
    assert build(synthetic, tmp_path).built
    with open(done.path, "ab") as f:
        f.write(b"\0")  # pixel file of the wrong length
    assert build(synthetic, tmp_path).built


def test_pixels_overwritten_at_the_same_size_are_rebuilt(synthetic, tmp_path):
    done = build(synthetic, tmp_path)
    pixels = np.array(done.images)
    noise = np.random.default_rng(0).integers(0, 256, done.nbytes, dtype=np.uint8)
    done.path.write_bytes(noise.tobytes())  # same length: only the checksum can tell

    again = build(synthetic, tmp_path)
    assert again.built and again.repaired
    assert np.array_equal(np.asarray(again.images), pixels)  # trained on the pictures, not the noise
    assert again.notes[0] == f"picture cache {again.path} did not match its record; rebuilt"
    reopened = build(synthetic, tmp_path)
    assert not reopened.built and not reopened.repaired  # the rebuilt one opens as usual, with nothing to say


def test_the_rebuild_is_told_to_the_person(synthetic, tmp_path):
    from core.data.datasets import load_dataset
    from core.presets import preset

    config = preset("folder").with_values(**{"data.folder": str(synthetic), "data.cache_dir": str(tmp_path),
                                             "data.image_size": SIZE}).data
    pixels = np.array(load_dataset(config).images)
    (u8,) = (tmp_path / "folders").rglob("*.u8")
    u8.write_bytes(bytes(u8.stat().st_size))  # zeros over the pictures, same size
    again = load_dataset(config)
    assert np.array_equal(np.asarray(again.images), pixels)
    assert f"picture cache {u8} did not match its record; rebuilt" in again.notes


def test_a_large_cache_is_checked_by_a_sample_of_its_blocks(tmp_path, monkeypatch):
    """Past SAMPLE_BLOCKS blocks only a sample is read; a damaged block in it is still caught."""
    monkeypatch.setattr(image_cache, "SAMPLE_BLOCKS", 4)
    monkeypatch.setattr(image_cache, "SAMPLE_BLOCK_BYTES", 256)
    folder = tmp_path / "pics"
    folder.mkdir()
    for i in range(3):
        write_png(folder / f"{i}.png", size=(32, 32), mode="RGB", seed=i)
    done = build(folder, tmp_path)  # 3 x 3 x 32 x 32 bytes: far more than 4 x 256
    with open(done.path, "r+b") as f:
        f.seek(done.nbytes - 10)  # inside the last block, which is always sampled
        f.write(b"\x01" * 10)
    assert build(folder, tmp_path).repaired


@pytest.mark.parametrize("shape", [lambda n: [n * 3, 1, SIZE, SIZE], lambda n: [n, 3, SIZE * 2, SIZE // 2],
                                   lambda n: [n, 3, SIZE, SIZE, 1]])
def test_an_edited_shape_in_the_record_is_rebuilt(synthetic, tmp_path, shape):
    """Each edit keeps the byte count, so the pixel file's size alone would accept it."""
    done = build(synthetic, tmp_path)
    meta_path = done.path.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["shape"] = shape(done.count)
    meta_path.write_text(json.dumps(meta))
    again = build(synthetic, tmp_path)
    assert again.built and again.repaired and again.images.shape == (done.count, 3, SIZE, SIZE)


def test_cache_files_get_the_umask_modes(synthetic, tmp_path):
    previous = os.umask(0o022)
    try:
        done = build(synthetic, tmp_path)
    finally:
        os.umask(previous)
    assert done.path.stat().st_mode & 0o777 == 0o644
    assert done.path.with_suffix(".json").stat().st_mode & 0o777 == 0o644


# ---- progress and cancelling -------------------------------------------------------------------

def test_progress_reaches_total(synthetic, tmp_path):
    calls = []
    build(synthetic, tmp_path, progress=lambda done, total: calls.append((done, total)))
    total = PICTURES + BROKEN
    assert calls[-1] == (total, total) and calls[0] == (0, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_progress_is_rate_limited(synthetic, tmp_path, monkeypatch):
    monkeypatch.setattr(image_cache, "_clock", lambda: 100.0)  # time stands still: no call is due
    calls = []
    build(synthetic, tmp_path, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, PICTURES + BROKEN), (PICTURES + BROKEN, PICTURES + BROKEN)]


def test_should_stop_cancels_and_leaves_nothing(synthetic, tmp_path):
    asked = []

    def should_stop():
        asked.append(1)
        return len(asked) > 5

    with pytest.raises(BuildCancelled, match="cancelled") as err:
        build(synthetic, tmp_path, should_stop=should_stop)
    assert isinstance(err.value, DataError)
    assert len(asked) == 6
    assert list((tmp_path / "cache").iterdir()) == []
    assert build(synthetic, tmp_path).built  # and the next run builds it whole


# ---- preview -----------------------------------------------------------------------------------

def test_preview_draws_distinct_pictures_by_seed(synthetic, tmp_path):
    cache = build(synthetic, tmp_path)
    grid = preview(cache, n=8, seed=1)
    assert grid.shape == (8, 3, SIZE, SIZE) and grid.dtype == np.uint8 and not isinstance(grid, np.memmap)
    assert np.array_equal(grid, preview(cache, n=8, seed=1))
    assert not np.array_equal(grid, preview(cache, n=8, seed=2))
    rows = {cache.images[i].tobytes(): i for i in range(cache.count)}
    assert len({rows[g.tobytes()] for g in grid}) == 8  # each one a real picture, none twice
    assert preview(cache, n=100).shape[0] == PICTURES  # never more than there are


# ---- the synthetic picture set -----------------------------------------------------------------

def _contents(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_synthetic_set_is_deterministic_and_varied(synthetic, tmp_path):
    make_pictures(tmp_path / "again", n=PICTURES, seed=0, broken=BROKEN)
    first, again = _contents(synthetic), _contents(tmp_path / "again")
    assert first == again and len(first) == PICTURES + BROKEN
    make_pictures(tmp_path / "other", n=6, seed=1, broken=0)
    by_name = {Path(k).name: v for k, v in first.items()}
    other = {Path(k).name: v for k, v in _contents(tmp_path / "other").items()}
    assert len(other) == 6 and all(v != by_name[name] for name, v in other.items())  # another seed, other pictures
    assert {Path(k).suffix for k in first} == {".png", ".jpg", ".bmp", ".webp", ".gif", ".tif"}
    assert any("/" in k and k.startswith(("shapes/", "more/deeper/")) for k in first)  # some in sub-folders
    sizes, modes, rotated = set(), set(), 0
    for name in first:
        if not name.split("/")[-1].startswith("broken"):
            with Image.open(synthetic / name) as im:
                sizes.add(im.size)
                modes.add(im.mode)
                rotated += bool(im.getexif().get(0x0112))
    assert any(w > h for w, h in sizes) and any(w < h for w, h in sizes)
    assert min(min(s) for s in sizes) >= 30 and max(max(s) for s in sizes) <= 400
    assert modes == {"RGB", "RGBA", "P", "L"} and rotated > 0


def test_synthetic_set_refuses_a_non_empty_folder(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(PictureSetError, match="mine.*not empty"):
        make_pictures(mine, n=2)
    assert [p.name for p in mine.iterdir()] == ["holiday.jpg"] and (mine / "holiday.jpg").read_bytes() == b"precious"
    assert main([str(mine), "--n", "2"]) == 2


def test_synthetic_set_command_line(tmp_path, capsys):
    assert main([str(tmp_path / "out"), "--n", "4", "--seed", "3", "--broken", "1"]) == 0
    assert "wrote 5 files" in capsys.readouterr().out
    assert len(scan(tmp_path / "out")) == 5


@pytest.mark.parametrize("size", [64, 128])
def test_cli_trains_the_folder_preset_and_samples_rgb_arrays(synthetic, tmp_path, size, capsys):
    """The README's command on a mixed folder (sizes, formats, a sub-folder, broken files), then
    `sample --kind npy`: N x H x W x 3 uint8 at the training size."""
    from core.cli import main

    run = tmp_path / "run"
    assert main(["train", "--preset", "folder", "--set", f"data.folder={synthetic}", "--set",
                 f"data.image_size={size}", "--set", f"data.cache_dir={tmp_path / 'cache'}", "--set",
                 "model.g_hidden=[8]", "--set", "model.d_hidden=[8]", "--set", "run.batch_size=4", "--set",
                 "run.threads=1", "--set", "run.fid_every=0", "--steps", "2", "--out", str(run), "--device",
                 "cpu"]) == 0
    assert f"Skipped {BROKEN} unreadable file(s)" in capsys.readouterr().out
    out = tmp_path / "s.npy"
    assert main(["sample", str(run), "--n", "5", "--out", str(out), "--kind", "npy"]) == 0
    images = np.load(out)
    assert images.shape == (5, size, size, 3) and images.dtype == np.uint8


# ---- kinds: the top-level sub-folders ------------------------------------------------------------

def _kinds_folder(tmp_path):
    folder = tmp_path / "kinds"
    for i, relative in enumerate(["a.png", "cats/c1.png", "cats/deep/c2.png", "dogs/d1.png", "dogs/d2.png",
                                  "m.png"]):
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (8, 8), 20 * i).save(folder / relative)
    (folder / "dogs" / "broken.png").write_bytes(b"broken")  # skipped: no kind, no gap
    return folder


def test_each_picture_knows_its_top_level_sub_folder(tmp_path):
    cache = build(_kinds_folder(tmp_path), tmp_path, size=8, channels=1)
    ids, names = cache.kinds()
    assert names == ("", "cats", "dogs")  # "": the pictures lying in the folder itself
    assert ids.tolist() == [0, 1, 1, 2, 2, 0]  # the scan's order: a, cats/..., dogs/..., m
    assert [int(cache.images[i].mean()) for i in range(cache.count)] == [0, 20, 40, 60, 80, 100]


def test_a_record_from_before_kinds_gets_them_from_the_scan(tmp_path):
    folder = _kinds_folder(tmp_path)
    first = build(folder, tmp_path, size=8, channels=1)
    record = first.path.with_suffix(".json")
    meta = json.loads(record.read_text())
    del meta["kinds"]
    record.write_text(json.dumps(meta))
    again = build(folder, tmp_path, size=8, channels=1)
    assert not again.built and not again.repaired
    assert again.kinds()[0].tolist() == first.kinds()[0].tolist()


def test_a_folder_of_one_kind_has_no_kinds(tmp_path):
    folder = tmp_path / "flat"
    (folder / "only").mkdir(parents=True)
    for i in range(3):
        Image.new("L", (8, 8), i).save(folder / "only" / f"{i}.png")
    assert build(folder, tmp_path, size=8, channels=1).kinds() is None
