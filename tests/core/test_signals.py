"""SIGTERM (a scheduler's) and SIGHUP (a closed terminal's) stop a headless run as Ctrl+C does: at the
next step, with a final checkpoint and a "stopped" heartbeat."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys

import pytest

from core import cli
from core.cli import main
from core.runs import heartbeat
from core.runs import lock as run_lock
from core.runs.checkpoint import load_checkpoint
from core.training import trainer
from tests.processes import wait_until_training

from .test_cli import ROOT, SMALL

PROGRESS = re.compile(r"\| *(\d+)/1000000 ")  # tqdm's bar: "  0%|   | 4/1000000 [00:01<...]"


def _trained_steps(proc: subprocess.Popen, at_least: int) -> int:
    """Read the progress bar (stderr) until it shows `at_least` steps done; the count it shows. (The pipe
    in text mode turns tqdm's carriage returns into newlines.)"""
    seen = ""
    while chunk := proc.stderr.read(1):
        seen = (seen + chunk)[-200:]
        if chunk == "\n" and (found := PROGRESS.findall(seen)) and int(found[-1]) >= at_least:
            return int(found[-1])
    raise AssertionError(f"the run ended before step {at_least}: {seen!r}")


def _obeyed(signum: int):
    """For Popen's preexec_fn: the child starts with the signal's default action. An ignored signal is
    inherited through exec, and the CLI keeps it ignored by design (nohup's SIGHUP); pytest started under
    nohup (a CI job in the background) once made this test wait 120 s for a run that rightly never
    stopped."""
    return lambda: signal.signal(signum, signal.SIG_DFL)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_saves_and_says_stopped(tmp_path, signum):
    folder = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "main.py", "train", "--preset", "mlp", "--steps", "1000000",
                             "--out", str(folder), *SMALL, "--set", "run.checkpoint_every=0"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=_obeyed(signum))
    try:
        assert wait_until_training(proc)
        assert _trained_steps(proc, at_least=2) >= 2
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    (step,) = map(int, re.findall(r"stopped at step (\d+); run folder", out))
    assert step >= 2
    assert load_checkpoint(folder)["step"] == step  # the final checkpoint (no periodic ones in this run)
    beat = heartbeat.read(folder)
    assert (beat.state, beat.step) == ("stopped", step) and not beat.alive()
    with open(folder / "metrics.csv", newline="") as f:
        assert int(list(csv.DictReader(f))[-1]["step"]) <= step
    with run_lock.claim(folder):  # the process gave the folder up
        pass


def test_the_previous_handlers_come_back_and_an_ignored_signal_stays_ignored(tmp_path, monkeypatch):
    handlers = {sig: signal.getsignal(sig) for sig in cli.STOP_SIGNALS}
    installed = {}
    real_train = trainer.train

    def train(*args, **kw):  # what the handlers are while the run trains
        installed.update({sig: signal.getsignal(sig) for sig in cli.STOP_SIGNALS})
        return real_train(*args, **kw)

    monkeypatch.setattr(trainer, "train", train)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        assert main(["train", "--preset", "mlp", "--steps", "1", "--out", str(tmp_path / "r"), *SMALL]) == 0
        assert installed[signal.SIGHUP] == signal.SIG_IGN  # closing the terminal does not stop a nohup run
        assert callable(installed[signal.SIGTERM]) and installed[signal.SIGTERM] is not handlers[signal.SIGTERM]
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is handlers[signal.SIGTERM]
        assert signal.getsignal(signal.SIGINT) is handlers[signal.SIGINT]
    finally:
        signal.signal(signal.SIGHUP, handlers[signal.SIGHUP])
