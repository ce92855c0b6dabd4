"""One process trains a run folder: the lock, taken before anything loads, and a loose checkpoint's new folder."""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from core import events as ev
from core.cli import main
from core.runs import heartbeat
from core.runs import lock as run_lock
from core.runs.checkpoint import load_checkpoint
from core.training.trainer import train
from tests.processes import wait_until_training

from .conftest import Run, tiny
from .test_cli import ROOT, SMALL


def _rows(run: Path) -> list[int]:
    with open(run / "metrics.csv", newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("lock") / "run"
    assert main(["train", "--preset", "mlp", "--steps", "4", "--out", str(run), *SMALL]) == 0
    return run


@pytest.fixture
def run(finished_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy


def _busy_line(run: Path) -> str:
    return (f"error: {run} is being trained by another process (pid {os.getpid()} on host {socket.gethostname()}); "
            f"attach to it in the app or use `python main.py control {run} ...`")


def test_a_held_lock_refuses_another_process_before_it_loads_anything(run):
    """The race of issue 18: the heartbeat still says "stopped" (the first process is loading), yet the
    second is refused, and the run's metrics are never written twice."""
    before = _rows(run)
    assert heartbeat.read(run).state == "finished"  # nothing but the lock says the run is taken
    with run_lock.claim(run) as lock:
        assert lock.held
        second = subprocess.run([sys.executable, "main.py", "resume", str(run), "--steps", "8"], cwd=ROOT,
                                capture_output=True, text=True, timeout=300)
    assert second.returncode == 2
    assert second.stderr.strip() == _busy_line(run)  # one line: who, and what to do instead
    assert _rows(run) == before == [2, 4]
    # the lock is gone with its holder: now the resume trains, each row once
    assert main(["resume", str(run), "--steps", "8"]) == 0
    assert _rows(run) == [2, 4, 6, 8]


def test_the_trainer_takes_the_lock_for_in_process_runs(run, recorder):
    first = Run(tiny(**{"run.steps": 1000}), run_dir=run.parent / "fresh", pause_at=2)
    first.paused_at(2)
    assert run_lock.holder(run.parent / "fresh") == f"pid {os.getpid()} on host {socket.gethostname()}"
    state = load_checkpoint(run)
    assert train(tiny(), on_event=recorder, run_dir=run.parent / "fresh", checkpoint=state) is None
    (error,) = recorder.errors()
    assert error == _busy_line(run.parent / "fresh")[len("error: "):]
    assert recorder.of(ev.Finished)[0].run_dir == ""  # it wrote nothing there
    first.finish()
    with run_lock.claim(run.parent / "fresh"):  # given up when the run ended
        pass


def test_the_cli_holds_the_lock_while_it_trains(tmp_path):
    folder = tmp_path / "headless"
    proc = subprocess.Popen([sys.executable, "main.py", "train", "--preset", "mlp", "--steps", "1000000",
                             "--out", str(folder), *SMALL],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert wait_until_training(proc)
        with pytest.raises(run_lock.RunBusyError) as refused:
            run_lock.claim(folder)
        assert f"(pid {proc.pid} on host {socket.gethostname()})" in str(refused.value)
        proc.terminate()  # SIGTERM: stops at the next step and saves (tests/core/test_signals.py)
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    with run_lock.claim(folder):
        pass


def _remote_beat(run: Path, age_s: float, interval: float = heartbeat.INTERVAL_S) -> None:
    beat = {"state": "running", "step": 3, "total_steps": 100, "pid": 4242, "host": "elsewhere.example",
            "time": time.time() - age_s, "interval": interval}
    (run / "heartbeat.json").write_text(json.dumps(beat))


def test_a_live_heartbeat_from_another_machine_refuses_unless_taken_over(run, capsys):
    _remote_beat(run, age_s=20)
    assert main(["resume", str(run), "--steps", "6"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "being trained on elsewhere.example (pid 4242;" in err
    assert "running at step 3, written 20 s ago" in err and f"resume {run} --take-over" in err
    assert _rows(run) == [2, 4]
    assert main(["resume", str(run), "--steps", "6", "--take-over"]) == 0
    assert _rows(run) == [2, 4, 6] and heartbeat.read(run).host == socket.gethostname()


def test_a_heartbeat_claiming_a_huge_interval_goes_stale_all_the_same(run):
    _remote_beat(run, age_s=3600, interval=1e12)  # would be "alive" for 30,000 years
    assert main(["resume", str(run), "--steps", "6"]) == 0
    assert _rows(run) == [2, 4, 6]


def test_on_this_machine_the_lock_decides_not_the_heartbeat(run):
    """A fresh "running" heartbeat whose process id lives on (reused, or a crashed run's) blocks nothing:
    nobody holds the lock, so nobody trains the run."""
    beat = {"state": "running", "step": 4, "total_steps": 100, "pid": os.getppid(), "host": socket.gethostname(),
            "time": time.time()}
    (run / "heartbeat.json").write_text(json.dumps(beat))
    assert heartbeat.read(run).alive()  # what the app sees: it would attach
    assert main(["resume", str(run), "--steps", "6"]) == 0
    assert _rows(run) == [2, 4, 6]


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_loose_checkpoint_resumes_in_a_new_folder_never_its_parent(finished_run, tmp_path, monkeypatch, capsys,
                                                                      runs_root_in_tmp):
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    shutil.copy(finished_run / "checkpoints" / "last.pt", downloads / "model.pt")
    (downloads / "config.json").write_text('{"mine": true}')  # a person's own files, not a run
    (downloads / "metrics.csv").write_text("my,numbers\n1,2\n")
    before = _tree(downloads)
    monkeypatch.chdir(tmp_path)
    assert main(["resume", str(downloads / "model.pt"), "--steps", "6"]) == 0
    out = capsys.readouterr().out
    assert _tree(downloads) == before  # not a byte changed or added beside the file
    (made,) = runs_root_in_tmp.iterdir()  # in the runs folder, as any run started without a folder named
    assert made.name.startswith("model-resumed-")
    assert f"resuming it in a new run folder, {made}" in out  # it says where
    assert load_checkpoint(made)["step"] == 6 and _rows(made) == [6]

    chosen = tmp_path / "chosen"
    assert main(["resume", str(downloads / "model.pt"), "--steps", "6", "--out", str(chosen)]) == 0
    assert load_checkpoint(chosen)["step"] == 6 and _tree(downloads) == before
    assert main(["resume", str(downloads / "model.pt"), "--out", str(chosen)]) == 2  # it holds a run now
    assert "already holds a run" in capsys.readouterr().err


def test_resume_of_a_folder_without_a_checkpoint_writes_nothing(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["resume", str(tmp_path)]) == 2
    assert "nothing to resume (no checkpoints/last.pt)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("step", ["5", -5, 2.0, True])
def test_a_checkpoint_with_a_bad_step_is_refused_in_one_line(run, step, capsys):
    state = load_checkpoint(run)
    state["step"] = step
    torch.save(state, run / "checkpoints" / "last.pt")
    before = _rows(run)
    assert main(["resume", str(run), "--steps", "9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{run / 'checkpoints' / 'last.pt'}: its step is {step!r}, not a whole number 0 or more" in err
    assert _rows(run) == before


def test_the_lock_file_makes_no_run_and_the_library_ignores_it(tmp_path):
    from core.runs.folder import check_new_run_folder, run_files
    from core.runs.index import scan_runs

    folder = tmp_path / "runs" / "new"
    with run_lock.claim(folder):  # a run that has not written anything yet
        assert (folder / "control" / "lock").is_file()
        assert run_files(folder) == [] and scan_runs(tmp_path / "runs") == []
        check_new_run_folder(folder)  # still free for the new run that holds it
        with pytest.raises(run_lock.RunBusyError):
            run_lock.claim(folder)  # flock: a second claim in the same process is refused too
    assert run_lock.holder(folder) == ""  # released: it names nobody


@pytest.mark.parametrize("linked", ["control", "control/lock"])
def test_a_linked_lock_is_refused_and_nothing_outside_is_touched(tmp_path, linked):
    run, outside = tmp_path / "run", tmp_path / "outside"
    outside.mkdir()
    victim = outside / "lock"
    victim.write_text("a person's file")
    run.mkdir()
    if linked == "control":
        (run / "control").symlink_to(outside)
    else:
        (run / "control").mkdir()
        (run / "control" / "lock").symlink_to(victim)
    with pytest.raises(run_lock.RunFolderError, match="symbolic link"):
        run_lock.claim(run)
    assert victim.read_text() == "a person's file"
    assert sorted(p.name for p in outside.iterdir()) == ["lock"]
