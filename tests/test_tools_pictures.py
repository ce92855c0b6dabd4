"""The picture-set tools behind bench/pictures.py: the crawl tiles cut into families, the family
classifier's API, and the bench's pinned "before" recipe and examples' DCGAN (tiny, seconds)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tools import make_crawl_pictures as mcp
from tools import picture_classifier as pc

T = mcp.TILE


def _sheet(path: Path, tiles: dict[tuple[int, int], np.ndarray], rows: int, cols: int, extra: int = 0) -> None:
    """An RGBA sheet of rows x cols tiles (transparent where not given), `extra` px of part-tile below."""
    sheet = np.zeros((rows * T + extra, cols * T, 4), dtype=np.uint8)
    for (r, c), tile in tiles.items():
        sheet[r * T:(r + 1) * T, c * T:(c + 1) * T] = tile
    Image.fromarray(sheet, "RGBA").save(path)


def _solid(rgb, alpha=255, opaque_pixels=T * T) -> np.ndarray:
    tile = np.zeros((T, T, 4), dtype=np.uint8)
    tile.reshape(-1, 4)[:opaque_pixels] = [*rgb, alpha]
    return tile


@pytest.fixture
def tiles(tmp_path) -> Path:
    folder = tmp_path / "tiles"
    folder.mkdir()
    checker = _solid((0, 200, 0))
    checker[::2, ::2, :3] = (255, 255, 0)  # a pattern, to see nearest-neighbour upscaling keep it
    for i, name in enumerate(mcp.SHEETS):
        own = _solid((10 * i + 5, 7, 9))
        sheet = {(0, 0): own, (1, 1): _solid((1, 2, 3), opaque_pixels=20)}  # 20 px < 5%: left out
        if name == "feat":
            sheet[(0, 1)] = checker
            sheet[(1, 0)] = _solid((255, 0, 0), alpha=128)  # half see-through red: composited on black
        if name == "wall":
            sheet[(1, 0)] = checker  # the same tile as feat's: dropped
        _sheet(folder / f"{name}.png", sheet, 2, 2, extra=10)  # the 10 px part-row is not a tile
    return folder


def test_crawl_pictures_families_tiles_and_duplicates(tiles, tmp_path):
    out = tmp_path / "out"
    counts = mcp.make_pictures(out, tiles, size=64, version="9.9-1", command="make it")
    assert counts == {"feat": 3, "floor": 1, "gui": 1, "main": 1, "player": 1, "wall": 1}
    assert sorted(p.name for p in (out / "feat").iterdir()) == ["feat_00_00.png", "feat_00_01.png", "feat_01_00.png"]
    assert [p.name for p in (out / "wall").iterdir()] == ["wall_00_00.png"]  # its copy of feat's tile dropped
    checker = np.asarray(Image.open(out / "feat" / "feat_00_01.png"))
    assert checker.shape == (64, 64, 3)
    assert (checker[0:2, 0:2] == (255, 255, 0)).all() and (checker[0:2, 2:4] == (0, 200, 0)).all()  # 2x2 blocks
    red = np.asarray(Image.open(out / "feat" / "feat_01_00.png"))
    assert tuple(red[0, 0]) == (128, 0, 0)
    source = (out / "SOURCE.md").read_text()
    assert "crawl-tiles-data" in source and "9.9-1" in source and "CC0" in source and "make it" in source
    assert "1 tiles identical" in source
    again = tmp_path / "again"
    mcp.make_pictures(again, tiles, size=64, version="9.9-1", command="make it")
    for p in out.rglob("*.png"):  # deterministic
        assert (again / p.relative_to(out)).read_bytes() == p.read_bytes()


def test_crawl_pictures_refusals(tiles, tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert mcp.main([str(out), "--tiles", str(tiles)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert (out / "mine.txt").read_text() == "keep"
    assert mcp.main([str(tmp_path / "new"), "--tiles", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "apt-get install -y crawl-tiles-data" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists()


@pytest.fixture
def families(tmp_path) -> Path:
    """Three families of six 64 px pictures: red, green and blue squares at a few places."""
    root = tmp_path / "pictures"
    for k, name in enumerate(("blue", "green", "red")):
        (root / name).mkdir(parents=True)
        for i in range(6):
            a = np.zeros((64, 64, 3), dtype=np.uint8)
            a[4 * i:4 * i + 30, 8:40, 2 - k] = 200
            Image.fromarray(a).save(root / name / f"{i}.png")
    (root / "SOURCE.md").write_text("not a picture")
    return root


def test_classifier_api(families, tmp_path):
    x, y, names = pc.read_folder(families)
    assert x.shape == (18, 3, 64, 64) and x.dtype == torch.uint8 and names == ["blue", "green", "red"]
    train, test = pc.split(y, seed=0)
    assert torch.bincount(y[test]).tolist() == [1, 1, 1] and len(train) + len(test) == 18  # stratified
    assert torch.equal(pc.split(y, seed=0)[1], test)  # deterministic
    path = tmp_path / "clf.safetensors"
    report = pc.train_classifier(families, path, seed=0, epochs=1, log=lambda _: None)
    assert report["families"] == names and report["held_out"] == 3
    assert 0 <= report["held_out_accuracy"] <= 1 and set(report["per_family"]) == set(names)
    assert torch.tensor(report["confusion"]).sum() == 3
    clf = pc.load_classifier(path)
    assert clf.families == names
    ids = clf.predict(x)
    assert ids.shape == (18,) and ids.dtype == torch.long and 0 <= int(ids.min()) and int(ids.max()) < 3
    assert torch.equal(clf.predict(x.float() / 255), ids)  # floats in [0, 1] read as the uint8
    assert clf.features(x).shape == (18, pc.FEATURES)


def test_classifier_refuses_one_family(tmp_path):
    (tmp_path / "only").mkdir()
    Image.new("RGB", (64, 64)).save(tmp_path / "only" / "a.png")
    with pytest.raises(pc.ClassifierError, match="at least two families"):
        pc.read_folder(tmp_path)


def test_bench_before_recipe_builds(families, tmp_path):
    from bench.pictures import BEFORE, trainer_config

    args = argparse.Namespace(device="cpu", threads=1, seed=3)
    config = trainer_config("before", families, tmp_path / "work", args)
    assert config.model.g_hidden == (16,) and config.optim.lr_g == BEFORE["optim"]["lr_g"] == 4e-4
    assert config.model.arch == "dcgan" and config.data.augment == "auto"  # the recipe of #27's start
    assert config.data.folder == str(families) and config.run.threads == 1 and config.run.seed == 3


def test_bench_variant_arm_is_the_preset_with_its_settings(families, tmp_path):
    import json

    from bench.pictures import trainer_config
    from core.presets import preset

    work = tmp_path / "work"
    work.mkdir()
    (work / "variants.json").write_text(json.dumps({"wide": {"model.d_hidden": [48]}}))
    args = argparse.Namespace(device="cpu", threads=1, seed=3)
    config = trainer_config("wide", families, work, args)
    assert config.model.d_hidden == (48,)
    assert config.model.g_hidden == preset("folder").model.g_hidden
    assert trainer_config("folder", families, work, args).model.d_hidden == preset("folder").model.d_hidden


def test_examples_dcgan_tiny():
    from bench.examples_dcgan import ExamplesLoop, draw

    torch.manual_seed(0)
    loop = ExamplesLoop(width=2)
    before = [p.detach().clone() for p in loop.G.parameters()]
    loop.step(torch.rand(4, 3, 64, 64) * 2 - 1)
    assert any(not torch.equal(a, b) for a, b in zip(before, loop.G.parameters()))
    images = draw(loop.G, 5, seed=1, batch=4)
    assert images.shape == (5, 3, 64, 64) and images.dtype == torch.uint8
    assert torch.equal(draw(loop.G, 5, seed=1, batch=4), images)


def test_stamp_pictures_on_white_in_square_boxes_without_duplicates(tmp_path, capsys):
    from tools import make_stamp_pictures as msp

    stamps = tmp_path / "stamps"
    for i, family in enumerate(msp.FAMILIES):
        (stamps / family / "sub").mkdir(parents=True)
        stamp = np.zeros((40, 20, 4), dtype=np.uint8)  # a tall stamp: its box is centred in a square
        stamp[5:35, 5:15] = (10 * i, 0, 0, 255)
        Image.fromarray(stamp, "RGBA").save(stamps / family / "sub" / "a.png")
        Image.fromarray(np.zeros((8, 8, 4), dtype=np.uint8), "RGBA").save(stamps / family / "empty.png")
    dup = stamps / msp.FAMILIES[1] / "copy.png"  # the same pixels as the first family's
    dup.write_bytes((stamps / msp.FAMILIES[0] / "sub" / "a.png").read_bytes())
    (stamps / msp.FAMILIES[0] / "sub" / "a.png").rename(stamps / msp.FAMILIES[0] / "sub" / "b.png")
    out = tmp_path / "out"
    counts = msp.make_pictures(out, stamps, size=32, version="1-1", command="make them")
    assert counts == {f: 1 for f in msp.FAMILIES}  # empty ones skipped, the copy dropped
    first = np.asarray(Image.open(out / msp.FAMILIES[0] / "sub_b.png"))
    assert first.shape == (32, 32, 3)
    assert tuple(first[0, 0]) == (255, 255, 255) and tuple(first[16, 16]) == (0, 0, 0)  # on white, centred
    source = (out / "SOURCE.md").read_text()
    assert "tuxpaint-stamps-default" in source and "1-1" in source and "GPL-2" in source and "1 identical" in source
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("keep")
    assert msp.main([str(busy), "--stamps", str(stamps)]) == 2
    assert "not an empty folder" in capsys.readouterr().err and (busy / "mine.txt").read_text() == "keep"
    assert msp.main([str(tmp_path / "new"), "--stamps", str(tmp_path / "nowhere")]) == 2
    assert "apt-get install tuxpaint-stamps-default" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
