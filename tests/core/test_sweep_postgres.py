"""A sweep's study shared through a real PostgreSQL server (tests/core/postgres.py starts a throwaway
one; skipped, with the reason, where the server is not installed): two workers with folders of their own
(two machines), one killed with kill -9 mid-trial and run again; the server stopped and started again
mid-sweep; a wrong password. And, without a server: a trial that trained to its end but whose last
reading never reached the study is settled from its own folder."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import events as ev
from core.cli import main
from core.control import Control
from core.runs.channel import send
from core.runs.checkpoint import load_checkpoint
from core.runs.folder import RunFolder, read_csv
from core.sweeps.runner import run_sweep
from core.sweeps.study import StudyError, optuna, read_trials, trial_dir
from tests.core.conftest import Recorder

from .postgres import Server, why_not
from .test_sweep_runs import SEEDS, TINY, _enqueue, _spec

ROOT = Path(__file__).resolve().parents[2]
STEPS = 60
# Readings at steps 30 and 60, a checkpoint every 10 steps: a trial killed past step 10 continues from one.
SETTINGS = {**TINY, "run.quality_every": 30, "run.checkpoint_every": 10}
BAR = re.compile(rf"\| *(\d+)/{STEPS} ")  # a trial's progress bar (stderr): "| 12/60 [..."


@pytest.fixture(scope="module")
def server():
    if reason := why_not():
        pytest.skip(reason)
    started = Server()
    yield started
    started.close()


def _command(out: Path, storage: str, study: str, trials: int) -> list[str]:
    space = out.parent / "space.toml"
    space.write_text("[optim.lr_g]\nlow = 1e-4\nhigh = 1e-3\nlog = true\n")
    sets = [a for k, v in SETTINGS.items() for a in ("--set", f"{k}={json.dumps(v)}")]
    return [sys.executable, "main.py", "sweep", "--space", str(space), "--trials", str(trials), "--steps",
            str(STEPS), "--out", str(out), "--device", "cpu", "--storage", storage, "--study", study, *sets]


def _start(command: list[str], stdout) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _wait_for_step(proc: subprocess.Popen, step: int) -> None:
    """Read the worker's bar until its trial has trained `step` steps (text mode: tqdm's \\r become \\n)."""
    seen = ""
    while chunk := proc.stderr.read(1):
        seen = (seen + chunk)[-300:]
        if chunk == "\n" and (found := BAR.findall(seen)) and int(found[-1]) >= step:
            return
    raise AssertionError(f"the worker ended before step {step}: {seen!r}")


def _trials_in(out: Path) -> set[int]:
    return {int(p.name.split("-")[1]) for p in out.glob("trial-*")}


def _steps(run_dir: Path) -> list[int]:
    return [int(r["step"]) for r in read_csv(RunFolder(run_dir).metrics, None)]


def test_two_workers_share_a_study_and_a_killed_one_continues_its_trial(server, tmp_path):
    trials, started = 4, time.monotonic()
    a, b = tmp_path / "machine-a", tmp_path / "machine-b"
    a.parent.mkdir(exist_ok=True)
    a_log = tmp_path / "a.txt"
    with open(a_log, "w") as a_out:
        first = _start(_command(a, server.url(), "pair", trials), a_out)
        second = _start(_command(b, server.url(), "pair", trials), subprocess.PIPE)
        try:
            _wait_for_step(first, 12)  # its first trial saved its checkpoint at step 10
            first.kill()  # kill -9, mid-trial
            first.wait(60)
            out, err = second.communicate(timeout=300)
        finally:
            for proc in (first, second):
                if proc.poll() is None:
                    proc.kill()
    assert second.returncode == 0, err[-2000:]
    (killed,) = map(int, re.findall(r"^trial (\d+): ", a_log.read_text(), re.M))
    assert load_checkpoint(trial_dir(a, killed))["step"] >= 10
    assert [r.state for r in read_trials(a, server.url(), "pair") if r.number == killed] == ["running"]

    again = subprocess.run(_command(a, server.url(), "pair", trials), cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert re.findall(r"^trial (\d+): ", again.stdout, re.M) == [str(killed)]  # continued, nothing new drawn
    assert f"sweep pair: {trials} of {trials} trials finished" in again.stdout
    steps = _steps(trial_dir(a, killed))
    assert steps == sorted(set(steps)) and steps[0] == 2 and steps[-1] == STEPS  # from its checkpoint, once

    rows = read_trials(a, server.url(), "pair")
    finished = {r.number for r in rows if r.state in ("complete", "pruned")}
    assert len(finished) == trials
    assert not _trials_in(a) & _trials_in(b), "a trial was trained on both machines"
    assert _trials_in(a) | _trials_in(b) == finished
    print(f"\n[postgres] two workers, one killed and run again: {trials} trials in {time.monotonic() - started:.1f} s")


def test_the_server_stopped_mid_sweep_stops_it_in_one_line_and_the_same_command_continues(server, tmp_path):
    started = time.monotonic()
    out = tmp_path / "sweep"
    out.parent.mkdir(exist_ok=True)
    command = _command(out, server.url(), "restart", 2)
    worker = _start(command, subprocess.PIPE)
    try:
        _wait_for_step(worker, 2)  # training: its heartbeat and channel are up
        send(trial_dir(out, 0), "pause", {}, 60)  # held before its first reading...
        server.stop()  # ...while the server goes away
        send(trial_dir(out, 0), "resume", {}, 60)
        stdout, stderr = worker.communicate(timeout=300)
    finally:
        if worker.poll() is None:
            worker.kill()
        if not (server.folder / f".s.PGSQL.{server.port}").exists():
            server.start()
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert worker.returncode == 2 and len(errors) == 1, stderr[-2000:]
    assert errors[0].startswith("error: the study's storage (postgresql://sweeper:***@/studies")
    assert "run the same command again once the storage answers" in errors[0] and "Traceback" not in stderr
    assert server.password not in stdout + stderr
    kept = load_checkpoint(trial_dir(out, 0))["step"]  # the trial stopped at the reading it could not report

    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "sweep restart: 2 of 2 trials finished (2 complete" in again.stdout
    assert [r.state for r in read_trials(out, server.url(), "restart")] == ["complete", "complete"]
    steps = _steps(trial_dir(out, 0))
    assert steps == sorted(set(steps)) and steps[-1] == STEPS  # continued from step `kept`, none twice
    print(f"\n[postgres] server stopped at trial 0 (checkpoint at step {kept}), restarted, the same command "
          f"continued it: 2 trials in {time.monotonic() - started:.1f} s")


def test_a_wrong_password_is_named_never_printed(server, tmp_path, capsys):
    out = tmp_path / "sweep"
    wrong = "not-the-password-4711"
    argv = _command(out, server.url(password=wrong), "denied", 1)[2:]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --storage postgresql://sweeper:***@/studies")
    assert 'password authentication failed for user "sweeper"' in err and wrong not in err
    assert not out.exists()  # refused before the sweep's folder was made


def test_a_trial_whose_last_reading_never_reached_the_study_is_settled_from_its_folder(tmp_path, monkeypatch):
    out = tmp_path / "lost"
    _enqueue(out, 0)
    real = optuna().trial.Trial.report

    def server_gone_at_the_end(self, value, step):
        if step == 8:  # the last reading: taken and written to quality.csv, never told to the study
            from sqlalchemy.exc import OperationalError
            raise OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))
        return real(self, value, step)

    monkeypatch.setattr(optuna().trial.Trial, "report", server_gone_at_the_end)
    with pytest.raises(StudyError, match="server closed the connection unexpectedly; the sweep stopped"):
        run_sweep(_spec(out, trials=1, space=SEEDS), Control(), Recorder())
    assert load_checkpoint(trial_dir(out, 0))["step"] == 8
    monkeypatch.undo()
    events = Recorder()
    summary = run_sweep(_spec(out, trials=1, space=SEEDS), Control(), events)
    assert [(e.number, e.state, e.step) for e in events.of(ev.TrialFinished)] == [(0, "complete", 8)]
    assert summary.finished == 1 and summary.failed == 0 and not trial_dir(out, 1).exists()
