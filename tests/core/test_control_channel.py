"""Steering a run from outside through its folder: every command, bad input, a run that ends meanwhile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from core import events as ev
from core import heartbeat
from core.checkpoint import load_checkpoint
from core.cli import main
from core.control import Control
from core.control_channel import ChannelError, ChannelReader, clear, send
from tests.processes import wait_until_training

from .conftest import Run, tiny
from .test_cli import ROOT, SMALL

LONG = {"run.steps": 100_000, "run.log_every": 1}


@pytest.fixture
def live(tmp_path):
    """A run training in a thread of this process, paused at step 3, with its folder."""
    run = Run(tiny(**LONG), run_dir=tmp_path / "run", pause_at=3)
    run.paused_at(3)
    yield run, tmp_path / "run"
    if run.thread.is_alive():
        run.finish()


def _state(run, state, after=None):
    return run.events.wait_for(lambda e: isinstance(e, ev.StateChanged) and e.state == state
                               and (after is None or e.step > after))


def test_step_resume_pause_and_stop_through_the_folder(live, capsys):
    run, folder = live
    assert main(["control", str(folder), "step"]) == 0
    assert "step: applied" in capsys.readouterr().out
    _state(run, "paused", after=3)  # one step, then paused again
    assert run.events.of(ev.Metrics)[-1].step == 4
    assert main(["control", str(folder), "resume"]) == 0
    _state(run, "running", after=3)
    assert main(["control", str(folder), "pause"]) == 0
    paused = _state(run, "paused", after=4)
    assert main(["control", str(folder), "stop"]) == 0
    run.thread.join(60)
    finished = run.events.of(ev.Finished)[0]
    assert finished.stopped and finished.step == paused.step
    assert load_checkpoint(folder)["step"] == paused.step  # stop still writes the final checkpoint
    assert heartbeat.read(folder).state == "stopped"


def test_set_applies_live_settings_and_records_them(live, capsys):
    run, folder = live
    assert main(["control", str(folder), "set", "optim.lr_g=0.0001", "loss.d_steps=2"]) == 0
    assert main(["control", str(folder), "step"]) == 0
    change = run.events.wait_for(lambda e: isinstance(e, ev.HyperparamsChanged))
    assert change.changes == {"optim.lr_g": 0.0001, "loss.d_steps": 2}
    lines = (folder / "changes.jsonl").read_text().splitlines()
    assert json.loads(lines[-1]) == {"step": 3, "changes": {"optim.lr_g": 0.0001, "loss.d_steps": 2}}


@pytest.mark.parametrize("args, words", [
    (["set", "run.batch_size=8"], ["run.batch_size", "cannot change while training"]),
    (["set", "optim.lr_g=5"], ["optim.lr_g", "5"]),
    (["set"], ["at least one key=value"]),
    (["jump"], ["'jump'", "not a command"]),
    (["pause", "optim.lr_g=1"], ["takes no settings"]),
])
def test_bad_commands_are_refused_before_they_are_sent(live, capsys, args, words):
    run, folder = live
    assert main(["control", str(folder), *args]) == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words), err
    assert list((folder / "control" / "commands").glob("*.json")) == []


def test_a_run_that_is_not_running_is_refused(tmp_path, capsys):
    folder = tmp_path / "done"
    assert main(["train", "--steps", "2", "--out", str(folder), *SMALL]) == 0
    assert main(["control", str(folder), "pause"]) == 2
    assert "is not running" in capsys.readouterr().err and "finished at step 2" in capsys.readouterr().err + \
        "finished at step 2"
    assert main(["control", str(tmp_path / "nowhere"), "pause"]) == 2


def test_a_run_that_ends_before_reading_the_command(tmp_path, monkeypatch):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "config.json").write_text(tiny().to_json())
    heartbeat.write(folder, "running", 7, 10)
    calls = {"n": 0}
    real_read = heartbeat.read

    def read(run_dir):  # the run finishes right after the command is written
        calls["n"] += 1
        beat = real_read(run_dir)
        return beat if calls["n"] == 1 else beat.__class__(**{**beat.__dict__, "state": "finished"})

    monkeypatch.setattr(heartbeat, "read", read)
    with pytest.raises(ChannelError, match="ended before it read the command.*finished at step 7"):
        send(folder, "pause", wait_s=5)
    assert list((folder / "control" / "commands").glob("*.json")) == []  # nothing left to run later


def test_the_reader_acks_refusals_and_drops_junk(tmp_path):
    control = Control()
    config = tiny()
    reader = ChannelReader(tmp_path, control, lambda: config, lambda: 11, control.save_run)
    commands = tmp_path / "control" / "commands"
    commands.mkdir(parents=True)
    (commands / "1-a.json").write_text(json.dumps({"id": "1-a", "command": "set", "values": {"optim.lr_d": 9}}))
    (commands / "2-b.json").write_text("{half a file")
    (commands / "3-c.json").write_text(json.dumps({"id": "3-c", "command": "pause"}))
    acks = reader.poll()
    assert [(a.id, a.ok, a.step) for a in acks] == [("1-a", False, 11), ("3-c", True, 11)]
    assert "optim.lr_d" in acks[0].message and control.paused
    assert sorted(p.name for p in (tmp_path / "control" / "acks").iterdir()) == ["1-a.json", "3-c.json"]
    assert list(commands.iterdir()) == []
    (commands / "4-d.json").write_text(json.dumps({"id": "4-d", "command": "stop"}))
    clear(tmp_path)  # a new process of this run: earlier commands are void
    assert reader.poll() == [] and not control.stopping


def asked(control: Control) -> None:
    with control._cond:  # a request notifies the condition the trainer sleeps on
        assert control._cond.wait_for(lambda: control._requests, timeout=30)


def test_a_save_is_acked_once_written_never_before(tmp_path):
    """Whoever sent 'save' copies the run's files next (the app's Save on an attached run): the ack
    must come after the trainer wrote them, or the copy is of older files, or of none."""
    control = Control()
    reader = ChannelReader(tmp_path, control, tiny, lambda: 11, control.save_run)
    commands = tmp_path / "control" / "commands"
    commands.mkdir(parents=True)
    (commands / "1-a.json").write_text(json.dumps({"id": "1-a", "command": "save"}))
    acks: list = []
    polling = threading.Thread(target=lambda: acks.extend(reader.poll()))
    polling.start()
    asked(control)  # the reader has asked the trainer to save, and waits
    assert acks == [] and not (tmp_path / "control" / "acks" / "1-a.json").exists()  # not before the save
    [(kind, _, done)] = control.take_requests()  # the trainer, at its step boundary:
    assert kind == "run"
    done.step = 12
    done.set()
    polling.join()
    assert [(a.id, a.ok, a.step) for a in acks] == [("1-a", True, 12)]

    (commands / "2-b.json").write_text(json.dumps({"id": "2-b", "command": "save"}))
    polling = threading.Thread(target=lambda: acks.extend(reader.poll()))
    polling.start()
    asked(control)
    [(_, _, done)] = control.take_requests()
    done.error = "could not save the run: disk full"
    done.set()
    polling.join()
    assert (acks[-1].ok, acks[-1].message) == (False, "could not save the run: disk full")


def test_control_a_headless_process(tmp_path):
    """The real thing: a headless `main.py train` in another process, steered by `main.py control`."""
    folder = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "main.py", "train", "--steps", "1000000", "--out", str(folder),
                             *SMALL], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        def control(*args):
            return subprocess.run([sys.executable, "main.py", "control", str(folder), *args], cwd=ROOT,
                                  capture_output=True, text=True, timeout=120)

        assert wait_until_training(proc)  # the run has started: its heartbeat is there
        ready = control("pause")
        assert ready.returncode == 0, ready.stderr
        assert control("set", "optim.lr_g=0.0003").returncode == 0
        assert control("save").returncode == 0
        stopped = control("stop")
        assert stopped.returncode == 0, stopped.stderr
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0 and "stopped at step" in out
        assert load_checkpoint(folder)["config"]["optim"]["lr_g"] == 0.0003
    finally:
        if proc.poll() is None:
            proc.kill()
