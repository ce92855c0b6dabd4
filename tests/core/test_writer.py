"""RunDir, the run folder's writer: a resume cuts the row files back atomically; appends leave no half row."""

from __future__ import annotations

import csv
import errno
import json
import os
from pathlib import Path

import pytest

from core.atomic import DiskFull
from core.events import ImageQuality, Metrics
from core.runs.writer import RunDir

from .conftest import tiny


def _metrics(step: int) -> Metrics:
    return Metrics(step, step / 10, 0.7, 1.3, 0.5, 0.4, 1000.0, 2e-4, 2e-4)


def _steps(path: Path) -> list[int]:
    with path.open(newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.tmp"))


@pytest.fixture
def run(tmp_path):
    """A run folder with metrics, FID readings and live changes up to step 6."""
    run = RunDir(tmp_path / "run")
    run.start(tiny(), None)
    for step in range(1, 7):
        run.write_metrics(_metrics(step))
        run.write_fid(ImageQuality(step, 50.0 - step, 0.01, 0.001, 100, "torchvision", 1.0))
    run.write_change(2, {"optim.lr_g": 1e-4})
    run.write_change(5, {"optim.lr_d": 1e-4})
    return run


def test_a_resume_cuts_every_row_file_back_to_the_checkpoint(run):
    with (run.path / "metrics.csv").open("a", newline="") as f:
        f.write("7,0.7,0.1")  # a row a full disk cut short: never kept
    RunDir(run.path).start(tiny(), resumed_at=3)
    assert _steps(run.path / "metrics.csv") == [1, 2, 3]
    assert _steps(run.path / "fid.csv") == [1, 2, 3]
    lines = (run.path / "changes.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [2]
    assert _temps(run.path) == []


def test_a_resume_with_nothing_to_drop_leaves_the_files_alone(run):
    before = {name: (run.path / name).stat().st_ino for name in ("metrics.csv", "fid.csv", "changes.jsonl")}
    RunDir(run.path).start(tiny(), resumed_at=6)
    assert {name: (run.path / name).stat().st_ino for name in before} == before  # not even rewritten


def test_a_rewrite_that_fails_part_way_keeps_the_file_whole(run, monkeypatch):
    before = (run.path / "metrics.csv").read_bytes()
    real = Path.write_bytes

    def half_then_full(self, data):  # the disk fills halfway through the kept rows
        real(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", half_then_full)
    with pytest.raises(DiskFull, match="the disk is full .*metrics.csv"):
        RunDir(run.path).start(tiny(), resumed_at=3)
    assert (run.path / "metrics.csv").read_bytes() == before
    assert _temps(run.path) == []


def test_an_append_that_fails_part_way_leaves_no_half_row(run, monkeypatch):
    before = (run.path / "metrics.csv").read_bytes()
    real, calls = os.write, []

    def half_then_full(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(DiskFull, match=r"metrics.csv\): the row of step 7 was not written"):
        run.write_metrics(_metrics(7))
    monkeypatch.undo()
    assert len(calls) == 2  # half the row was on disk before it was cut off again
    assert (run.path / "metrics.csv").read_bytes() == before
    run.write_metrics(_metrics(7))  # space again: the row goes on where it belongs
    assert _steps(run.path / "metrics.csv") == [1, 2, 3, 4, 5, 6, 7]


def test_a_readings_file_emptied_by_a_failed_first_write_gets_its_header(tmp_path, monkeypatch):
    run = RunDir(tmp_path / "run")
    run.start(tiny(), None)

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(DiskFull):
        run.write_fid(ImageQuality(1, 40.0, 0.01, 0.001, 100, "torchvision", 1.0))
    monkeypatch.undo()
    assert (run.path / "fid.csv").read_bytes() == b""
    run.write_fid(ImageQuality(2, 40.0, 0.01, 0.001, 100, "torchvision", 1.0))
    assert _steps(run.path / "fid.csv") == [2]
