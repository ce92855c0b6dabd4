"""How often each sub-folder is drawn: the picture reading's groups made inside a folder's sub-folders,
the shares added up per sub-folder (core/quality/kinds_drawn.py), kept in quality.csv and said by the CLI."""

from __future__ import annotations

import math

import torch

from core import events as ev
from core.cli import quality_line
from core.quality.kinds_drawn import kinds_drawn
from core.quality.picture_reading import PictureReading
from core.runs.folder import RunFolder, quality_from_row, read_rows
from core.runs.writer import RunDir
from tests.core.test_picture_reading import shapes


def _two_kinds(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Shapes on dark backgrounds (kind 0) and the same inverted, light backgrounds (kind 1), a third of them."""
    pictures = shapes(n, seed)
    kinds = (torch.arange(n) % 3 == 0).long()
    pictures[kinds == 1] = 255 - pictures[kinds == 1]
    return pictures, kinds


def _reading(q_hist, q_ref, group_kinds, names=("cats", "dogs")) -> ev.Quality:
    return ev.Quality(1000, 5.0, tuple(q_hist), (), False, None, float("nan"), tuple(q_ref), tuple(group_kinds),
                      tuple(names))


def test_the_groups_are_made_inside_the_sub_folders_and_the_shares_add_up_per_sub_folder():
    folder, kinds = _two_kinds(600, seed=0)
    reading = PictureReading(folder, groups=6, kinds=kinds, kind_names=("dark", "light"))
    assert sorted(reading.group_kinds) == [0, 0, 0, 0, 1, 1]  # 400 and 200 pictures: 4 groups and 2
    held_out, held_kinds = _two_kinds(300, seed=1)
    healthy = kinds_drawn(_from(reading.score(held_out)))
    assert healthy is not None and healthy.names == ("dark", "light") and not healthy.under
    assert math.isclose(sum(healthy.drawn), 1.0) and math.isclose(sum(healthy.folder), 1.0)
    assert abs(healthy.folder[1] - 1 / 3) < 0.05 and abs(healthy.drawn[1] - 1 / 3) < 0.08
    # A generator drawing the light kind at a tenth of its share: said, by name.
    light, dark = held_out[held_kinds == 1], held_out[held_kinds == 0]
    few = kinds_drawn(_from(reading.score(torch.cat([dark, light[:5]]))))
    assert few is not None and few.under == (1,) and few.ratio(1) < 0.2
    assert "light at 0.1" in few.words() or "light at 0.0" in few.words()


def _from(r) -> ev.Quality:
    return ev.Quality(1, r.frechet, r.shares, r.missing, r.collapse, None, float("nan"), r.folder_shares,
                      r.group_kinds, r.kind_names)


def test_without_sub_folders_or_with_one_the_groups_are_the_whole_folders():
    folder, kinds = _two_kinds(200, seed=2)
    assert PictureReading(folder, groups=4).group_kinds == ()
    one = PictureReading(folder, groups=4, kinds=torch.zeros(200, dtype=torch.long), kind_names=("a", "b"))
    assert one.group_kinds == () and one.kind_names == ()
    # Fewer groups asked for than sub-folders: one each all the same.
    three = torch.arange(200) % 3
    assert sorted(PictureReading(folder, groups=2, kinds=three, kind_names=("a", "b", "c")).group_kinds) == [0, 1, 2]
    # No coverage asked for (a tiny folder): none made for the kinds either.
    assert PictureReading(folder, groups=0, kinds=kinds, kind_names=("a", "b")).centres is None


def test_the_rule_half_its_share_the_least_drawn_first_and_what_is_not_a_kinds_reading():
    q = _reading([0.1, 0.2, 0.05, 0.65], [0.2, 0.2, 0.3, 0.3], [0, 0, 1, 1])
    k = kinds_drawn(q)
    assert k is not None and all(map(math.isclose, k.drawn, (0.3, 0.7))) and all(map(math.isclose, k.folder, (0.4, 0.6)))
    assert k.under == () and math.isclose(k.ratio(0), 0.75)  # 0.3 of 0.4: three quarters, not under half
    assert kinds_drawn(_reading([0.05, 0.0, 0.3, 0.65], [0.2, 0.2, 0.3, 0.3], [0, 0, 1, 1])).under == (0,)
    two_under = kinds_drawn(_reading([0.01, 0.02, 0.97], [0.3, 0.3, 0.4], [0, 1, 2], ("a", "b", "c")))
    assert two_under.under == (0, 1) and two_under.words().startswith("3 sub-folders; under half their share: a at 0.03")
    assert kinds_drawn(_reading([0.5, 0.5], [0.5, 0.5], [0, 1])).words() == \
        "2 sub-folders, each drawn at half its share or more"
    assert kinds_drawn(_reading([0.5, 0.5], [0.5, 0.5], [0, 2])) is None  # a group's kind out of range
    assert kinds_drawn(_reading([0.5, 0.5], [0.5, 0.5], [0])) is None  # lengths disagree
    assert kinds_drawn(_reading([0.5, 0.5], [0.5, 0.5], [0, 0], ("only",))) is None
    assert kinds_drawn(ev.Quality(1, 2.0, (0.1,) * 10, (), False, None, 0.9)) is None  # digits


def test_the_sub_folders_are_kept_in_quality_csv_and_read_back_and_an_older_row_has_none(tmp_path):
    odd = ("drakes", 'a "quoted", comma name', "<b>bold</b>")
    q = _reading([0.2, 0.3, 0.5], [0.3, 0.3, 0.4], [0, 1, 2], odd)
    folder = RunFolder(tmp_path)
    older = "step,frechet,accuracy,confidence,collapse,missing_classes,histogram,reference\n" \
            "500,9.0,,nan,False,,0.5000 0.5000,0.5000 0.5000\n"
    folder.quality.write_text(older)  # a run from before: its header lacks the new columns
    RunDir(tmp_path).write_quality(q)
    first, second = read_rows(folder.quality, quality_from_row)
    assert first.kind_names == () and first.group_kinds == () and kinds_drawn(first) is None
    assert second.step == 1000 and second.kind_names == ()  # appended under the older header: read by it
    fresh = RunFolder(tmp_path / "new")
    fresh.path.mkdir()
    RunDir(fresh.path).write_quality(q)
    (kept,) = read_rows(fresh.quality, quality_from_row)
    assert kept.kind_names == odd and kept.group_kinds == (0, 1, 2) and kinds_drawn(kept).names == odd
    damaged = quality_from_row({**_row(fresh), "kind_names": "[1, 2"})
    assert damaged.kind_names == () and kinds_drawn(damaged) is None


def _row(folder: RunFolder) -> dict:
    import csv
    with open(folder.quality, newline="") as f:
        return next(csv.DictReader(f))


def test_the_cli_says_which_sub_folders_are_drawn_under_half_their_share():
    line = quality_line(_reading([0.02, 0.98], [0.4, 0.6], [0, 1], ("elves", "orcs")))
    assert line == "Fréchet distance (picture reading) 5.00; 2 sub-folders; under half their share: elves at 0.05"
    assert quality_line(_reading([0.5, 0.5], [0.5, 0.5], [])) == "Fréchet distance (picture reading) 5.00"


def test_a_run_on_a_folder_of_sub_folders_reads_each_one_and_keeps_them(tmp_path):
    from core.control import Control
    from core.training.trainer import train
    from tests.core.conftest import Recorder, tiny, write_png

    folder = tmp_path / "pictures"
    for kind, n in (("cats", 12), ("dogs", 24)):
        (folder / kind).mkdir(parents=True)
        for i in range(n):
            write_png(folder / kind / f"{i:02d}.png", size=(32, 32), mode="RGB", seed=i + 100 * len(kind) + n)
    config = tiny("folder", **{"data.folder": str(folder), "data.image_size": 32, "data.cache_dir": str(tmp_path / "c"),
                               "model.g_hidden": [8], "model.d_hidden": [8], "run.steps": 2, "run.quality_every": 2,
                               "run.quality_samples": 32, "run.fid_every": 0, "model.clusters": 0})
    events = Recorder()
    train(config, Control(), events, tmp_path / "run")
    (q,) = events.of(ev.Quality)
    assert q.kind_names == ("cats", "dogs") and sorted(set(q.group_kinds)) == [0, 1]
    drawn = kinds_drawn(q)
    assert drawn is not None and math.isclose(sum(drawn.folder), 1.0) and math.isclose(sum(drawn.drawn), 1.0)
    (kept,) = read_rows(RunFolder(tmp_path / "run").quality, quality_from_row)
    assert kept.kind_names == q.kind_names and kept.group_kinds == q.group_kinds
