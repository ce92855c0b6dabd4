"""The run index: a runs folder listed from its small files, curves as arrays, deleting with care."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from core import events as ev
from core.control import Control
from core.runs import heartbeat
from core.runs import index as ri
from core.runs.fork import prepare_fork
from core.training.trainer import train

from .conftest import tiny

QUICK = {"run.steps": 8, "run.keep_every": 4, "run.sample_every": 4, "run.quality_every": 4,
         "run.quality_samples": 16}


def _created(run: Path, when: str) -> None:
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "created": when}))


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A runs folder: finished, stopped, a fork of the finished one, running elsewhere, damaged, no run."""
    root = tmp_path_factory.mktemp("runs")
    train(tiny(**QUICK), run_dir=root / "finished")

    control = Control()
    train(tiny(**{**QUICK, "run.steps": 50}), control=control, run_dir=root / "stopped",
          on_event=lambda e: isinstance(e, ev.Metrics) and e.step == 2 and control.stop())

    config, checkpoint, lineage = prepare_fork(root / "finished" / "checkpoints" / "step_000004.pt",
                                               {"optim.lr_g": 1e-4})
    train(config, run_dir=root / "fork", checkpoint=checkpoint, lineage=lineage)

    shutil.copytree(root / "finished", root / "elsewhere")
    beat = heartbeat.Heartbeat("running", 6, 8, 4242, "elsewhere.example", time.time())
    (root / "elsewhere" / "heartbeat.json").write_text(json.dumps(asdict(beat)))

    (root / "damaged").mkdir()
    (root / "damaged" / "config.json").write_text("{broken")
    (root / "damaged" / "metrics.csv").write_text("step,g_loss\n")
    (root / "not a run").mkdir()
    (root / "not a run" / "notes.txt").write_text("a person's own folder")
    (root / "loose file.txt").write_text("not a folder")

    for i, name in enumerate(("finished", "stopped", "fork", "elsewhere")):  # one second apart, in this order
        _created(root / name, f"2026-01-01T10:00:0{i}+0000")
    return root


def test_scan_lists_every_run_newest_first_and_skips_other_folders(root):
    runs = ri.scan_runs(root)
    dated = [r.name for r in runs if r.name != "damaged"]  # the damaged one: its folder's time, now
    assert dated == ["elsewhere", "fork", "stopped", "finished"]
    assert {r.name for r in runs} == {"elsewhere", "fork", "stopped", "finished", "damaged"}  # "not a run" skipped
    by_name = {r.name: r for r in runs}

    done = by_name["finished"]
    assert done.state == "finished" and done.reason == ""
    assert (done.steps_done, done.steps_planned) == (8, 8)
    assert done.preset == "default" and done.dataset == "bundled MNIST · 28 px"
    assert done.kept_steps == (4, 8) and done.resumable
    assert done.thumbnail == root / "finished" / "samples" / "step_000008.png"
    steps, frechet = np.loadtxt(root / "finished" / "quality.csv", delimiter=",", skiprows=1, usecols=(0, 1)).T
    assert done.best_quality == pytest.approx(frechet.min())
    assert done.best_quality_label == f"FD {frechet.min():.3g} at {int(steps[frechet.argmin()]):,}"  # its best moment
    assert done.parent is None and done.parent_name == "" and done.fork_step is None
    assert 0 < done.kept_bytes < done.disk_bytes

    stopped = by_name["stopped"]
    assert stopped.state == "stopped" and (stopped.steps_done, stopped.steps_planned) == (2, 50)

    fork = by_name["fork"]
    assert fork.parent == (root / "finished").resolve() and fork.parent_name == "finished"
    assert fork.fork_step == 4 and fork.steps_done == 8 and fork.state == "finished"

    away = by_name["elsewhere"]
    assert away.state == "running elsewhere" and away.host == "elsewhere.example, process 4242"
    assert away.running

    damaged = by_name["damaged"]
    assert damaged.state == "damaged" and "config.json is not valid JSON" in damaged.reason


def test_a_run_trained_by_this_process_is_running_here(root, tmp_path):
    run = tmp_path / "mine"
    shutil.copytree(root / "finished", run)
    heartbeat.write(run, "running", 3, 8)
    info = ri.read_run(run)
    assert info.state == "running here" and info.host == "" and info.running
    heartbeat.write(run, "stopped", 3, 8)
    assert ri.read_run(run).state == "stopped"


def test_damaged_folders_say_what_is_wrong_and_never_raise(root, tmp_path):
    no_config = tmp_path / "no-config"
    shutil.copytree(root / "finished", no_config)
    (no_config / "config.json").unlink()
    assert ri.read_run(no_config).state == "damaged"
    assert ri.read_run(no_config).reason == "config.json is missing"

    bad_value = tmp_path / "bad-value"
    shutil.copytree(root / "finished", bad_value)
    raw = json.loads((bad_value / "config.json").read_text())
    raw["run"]["steps"] = -3
    (bad_value / "config.json").write_text(json.dumps(raw))
    assert "run.steps = -3" in ri.read_run(bad_value).reason

    no_checkpoint = tmp_path / "no-checkpoint"
    shutil.copytree(root / "finished", no_checkpoint)
    shutil.rmtree(no_checkpoint / "checkpoints")
    info = ri.read_run(no_checkpoint)
    assert info.state == "damaged" and "no checkpoint" in info.reason

    junk = tmp_path / "junk"
    shutil.copytree(root / "finished", junk)
    for name in ("run.json", "heartbeat.json", "generator.json", "quality.csv", "metrics.csv"):
        (junk / name).write_bytes(b"\xff\x00 not what it should be")
    info = ri.read_run(junk)
    # Nothing says how far it got: listed as stopped at step 0, still resumable from its checkpoint.
    assert info.state == "stopped" and info.steps_done == 0 and info.resumable
    assert info.best_quality is None and info.parent is None and info.created > 0
    assert len(ri.read_curves(junk).steps) == 0


def test_a_crashed_run_counts_as_stopped_and_says_so(root, tmp_path):
    run = tmp_path / "crashed"
    shutil.copytree(root / "stopped", run)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    beat = heartbeat.Heartbeat("running", 2, 50, int(dead.stdout), socket.gethostname(), time.time())
    (run / "heartbeat.json").write_text(json.dumps(asdict(beat)))
    info = ri.read_run(run)
    assert info.state == "stopped" and "ended without stopping" in info.reason



def test_read_curves_gives_the_csv_readings_as_arrays(root, tmp_path):
    curves = ri.read_curves(root / "finished")
    table = np.loadtxt(root / "finished" / "metrics.csv", delimiter=",", skiprows=1)
    assert list(curves.steps) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert set(ri.LOSS_SERIES) <= set(curves.metrics)
    assert np.array_equal(curves.metrics["g_loss"], table[:, 2])
    assert list(curves.quality_steps) == [4, 8] and len(curves.frechet) == 2

    run = tmp_path / "writing"
    shutil.copytree(root / "finished", run)
    with (run / "metrics.csv").open("a") as f:
        f.write("9,0.1,1.5")  # a row being written right now: no newline yet
    with (run / "quality.csv").open("a") as f:
        f.write("not,a,reading\n")
    curves = ri.read_curves(run)
    assert curves.steps[-1] == 8 and len(curves.frechet) == 2
    with (run / "metrics.csv").open("a") as f:
        f.write("\n10,oops\n")  # a damaged row: the rest still reads
    assert list(ri.read_curves(run).steps) == [1, 2, 3, 4, 5, 6, 7, 8]

    empty = ri.read_curves(tmp_path / "nothing here")
    assert len(empty.steps) == len(empty.frechet) == 0 and empty.metrics == {}


def test_delete_refuses_non_runs_and_live_runs_then_removes(root, tmp_path):
    with pytest.raises(ri.RunDeleteError, match="holds no run"):
        ri.delete_run(root / "not a run")
    with pytest.raises(ValueError, match="not a run folder"):
        ri.delete_run(root / "loose file.txt")
    with pytest.raises(ri.RunDeleteError, match=r"being trained \(elsewhere.example, process 4242\)"):
        ri.delete_run(root / "elsewhere")
    assert (root / "not a run" / "notes.txt").exists() and (root / "elsewhere" / "config.json").exists()

    mine = tmp_path / "mine"
    shutil.copytree(root / "finished", mine)
    heartbeat.write(mine, "running", 3, 8)
    with pytest.raises(ri.RunDeleteError, match="training in this window"):
        ri.delete_run(mine)
    heartbeat.write(mine, "finished", 8, 8)
    ri.delete_run(mine)
    assert not mine.exists()
    link = tmp_path / "link"
    os.symlink(root / "finished", link)
    with pytest.raises(ri.RunDeleteError, match="a link"):
        ri.delete_run(link)
    assert (root / "finished" / "config.json").exists()


def _trial(sweep: Path, number: int, source: Path, created: str, name: str | None = None) -> Path:
    """A trial's run folder as core/sweeps/runner.py leaves it: an ordinary run named "STUDY trial N" with a
    "sweep" record."""
    run = sweep / f"trial-{number:04d}"
    shutil.copytree(source, run)
    record = json.loads((run / "run.json").read_text())
    record.update(created=created, sweep={"study": sweep.name, "trial": number, "values": {"optim.lr_g": 1e-4}},
                  name=name or f"{sweep.name} trial {number}")
    (run / "run.json").write_text(json.dumps(record))
    return run


def test_a_sweeps_trials_are_listed_together_under_its_name(root, tmp_path):
    """The library lists every run, a sweep's trials too (they are ordinary runs in SWEEPDIR/trial-NNNN)."""
    from core.runs.folder import SWEEP_RECORD
    from core.sweeps.study import SWEEP_JSON

    assert SWEEP_RECORD == SWEEP_JSON  # the record the library looks for is the one sweeps write
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(root / "finished", runs / "older")
    _created(runs / "older", "2026-01-01T09:00:00+0000")
    shutil.copytree(root / "stopped", runs / "newer")
    _created(runs / "newer", "2026-01-01T12:00:00+0000")
    sweep = runs / "lr-sweep"
    sweep.mkdir()
    (sweep / SWEEP_RECORD).write_text(json.dumps({"id": "abc", "study": "lr-sweep", "storage": None}))
    for number, hour in ((2, 11), (0, 10), (1, 10)):  # trial 2 is the newest: the sweep goes where it would
        _trial(sweep, number, root / "finished", f"2026-01-01T{hour}:00:0{number}+0000",
               "the good one" if number == 1 else None)  # renamed by its person
    (sweep / "study.db").write_bytes(b"")  # the sweep's own files are not runs
    (runs / "not a sweep" / "run").mkdir(parents=True)  # runs deeper in other folders are not looked for
    shutil.copytree(root / "finished", runs / "not a sweep" / "run", dirs_exist_ok=True)
    (runs / "empty-sweep").mkdir()
    (runs / "empty-sweep" / SWEEP_RECORD).write_text("{}")

    listed = ri.scan_runs(runs)
    assert [r.shown_name for r in listed] == ["newer", "lr-sweep ▸ trial 0", "lr-sweep ▸ the good one",
                                              "lr-sweep ▸ trial 2", "older"]
    trial = listed[1]
    assert trial.path == sweep / "trial-0000" and (trial.sweep, trial.trial) == ("lr-sweep", 0)
    assert trial.state == "finished" and trial.resumable and trial.steps_done == 8
    assert (listed[0].sweep, listed[0].trial) == ("", None)
    alone = ri.read_run(sweep / "trial-0002")  # read on its own (an overlaid run): named as in the list
    assert alone.shown_name == "lr-sweep ▸ trial 2"
