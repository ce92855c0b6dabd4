"""Steering a run from outside through its folder: every command, bad input, a run that ends meanwhile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from core import events as ev
from core.cli import main
from core.control import Control
from core.runs import channel as control_channel
from core.runs import heartbeat
from core.runs.channel import ChannelError, ChannelReader, clear, send
from core.runs.checkpoint import load_checkpoint
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


# --- a command folder anyone can write to: nothing in it becomes a path, blocks, or ends the reader ---

def _reader(folder, notes=None, control=None):
    control = control or Control()
    notes = [] if notes is None else notes
    return ChannelReader(folder, control, tiny, lambda: 11, control.save_run, notes.append), control, notes


def _command(commands, name, **body):
    commands.mkdir(parents=True, exist_ok=True)
    (commands / name).write_text(json.dumps(body))


def _files(root):
    """Every file below root that is not in a control folder, with its bytes."""
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and "control" not in p.parts}


def _poll(reader):
    """reader.poll() on a thread, so a regression that blocks (a FIFO read) fails instead of hanging."""
    acks: list = []
    polling = threading.Thread(target=lambda: acks.extend(reader.poll()), daemon=True)
    polling.start()
    polling.join(30)  # a guard only: a poll takes milliseconds
    assert not polling.is_alive(), "the reader blocked"
    return acks


def test_ids_that_are_paths_write_nothing_outside_acks(tmp_path):
    run, sibling = tmp_path / "run", tmp_path / "sibling"
    run.mkdir(), sibling.mkdir()
    (run / "config.json").write_text(tiny().to_json())
    (sibling / "generator.json").write_text('{"theirs": true}')
    before = _files(tmp_path)
    reader, control, notes = _reader(run)
    commands = run / "control" / "commands"
    _command(commands, "1-a.json", id="../../config", command="stop")
    _command(commands, "2-b.json", id="../../../sibling/generator", command="stop")
    _command(commands, "3-c.json", id=str(tmp_path / "outside"), command="stop")
    _command(commands, "4 d!.json", id="4 d!", command="stop")  # a name no ack can be named after
    _command(commands, "5-e.json", id="5-e", command="pause")
    acks = _poll(reader)
    assert [(a.id, a.ok) for a in acks] == [("1-a", False), ("2-b", False), ("3-c", False), ("5-e", True)]
    assert all("not its file's name" in a.message for a in acks[:3])
    assert control.paused and not control.stopping  # the refused ones did nothing
    assert _files(tmp_path) == before  # config.json, the sibling's file: same bytes, nothing new
    assert sorted(p.name for p in (run / "control" / "acks").iterdir()) == ["1-a.json", "2-b.json", "3-c.json",
                                                                             "5-e.json"]
    assert list(commands.iterdir()) == []
    assert len(notes) == 1 and "4 d!.json" in notes[0] and "not a command id" in notes[0]


@pytest.mark.parametrize("link", ["control", "control/commands", "control/acks"])
def test_a_linked_channel_folder_is_never_read_written_or_cleared(tmp_path, link):
    run, outside = tmp_path / "run", tmp_path / "outside"
    run.mkdir()
    plain = {"control": [], "control/commands": ["control"], "control/acks": ["control", "control/commands"]}
    for folder in plain[link]:
        (run / folder).mkdir()
    (run / "config.json").write_text(tiny().to_json())
    heartbeat.write(run, "running", 7, 10)  # this process: alive, so send() gets as far as the folder
    _command(outside, "1-a.json", id="1-a", command="stop")
    (outside / "commands").mkdir()
    _command(outside / "commands", "2-b.json", id="2-b", command="stop")
    (outside / "precious.json").write_text("{}")
    (run / link).symlink_to(outside, target_is_directory=True)
    before = _files(outside)
    reader, control, notes = _reader(run)

    note = clear(run)  # a resume: stale commands cleared, but never through a link
    assert note and "symbolic link" in note
    reader.start()
    assert _poll(reader) == [] and _poll(reader) == [] and not control.stopping  # nothing read through it
    reader.stop()
    assert len(notes) == 1 and "symbolic link" in notes[0] and str(run / link) in notes[0]  # said once
    with pytest.raises(ChannelError, match="symbolic link"):
        send(run, "pause", wait_s=1)
    assert _files(outside) == before  # the outside folder: every file there, unchanged, nothing added
    assert sorted(p.name for p in outside.iterdir()) == ["1-a.json", "commands", "precious.json"]


def test_a_fifo_or_a_folder_is_skipped_and_the_next_command_runs(tmp_path):
    reader, control, notes = _reader(tmp_path)
    commands = tmp_path / "control" / "commands"
    commands.mkdir(parents=True)
    os.mkfifo(commands / "1-a.json")  # opening it to read would wait for a writer forever
    (commands / "2-b.json").mkdir()
    _command(commands, "3-c.json", id="3-c", command="pause")
    assert [a.id for a in _poll(reader)] == ["3-c"] and control.paused
    assert _poll(reader) == []
    assert sorted(p.name for p in commands.iterdir()) == ["1-a.json", "2-b.json"]  # not ours to remove
    assert len(notes) == 2 and all("not a regular file" in n for n in notes)  # one line each, not one per poll


def test_the_reader_thread_outlives_bad_files(tmp_path):
    """A folder named d.json killed the reader, and a 300-character id paused the run and then killed it:
    the run could no longer be steered. Now each costs a line, and the next command still runs."""
    reader, control, notes = _reader(tmp_path)
    commands = tmp_path / "control" / "commands"
    commands.mkdir(parents=True)
    (commands / "d.json").mkdir()
    os.mkfifo(commands / "e.json")
    _command(commands, "1-a.json", id="a" * 300, command="pause")
    _command(commands, "2-b.json", command="resume", values=[1, 2])
    (commands / ("x" * 200 + ".json")).write_text("{}")
    (commands / "3-c.json").write_bytes(b"\xff\xfe not text")
    _command(commands, "zz.json", id="zz", command="stop")  # handled last: the names sort
    reader.start()
    try:
        with control._cond:  # stop() notifies the condition the trainer sleeps on
            assert control._cond.wait_for(lambda: control.stopping, timeout=30)
        assert reader._thread.is_alive()
    finally:
        reader.stop()
    assert not control.paused  # the 300-character id was refused, not run
    acks = {p.name: json.loads(p.read_text()) for p in (tmp_path / "control" / "acks").iterdir()}
    assert sorted(acks) == ["1-a.json", "2-b.json", "zz.json"]
    assert (acks["1-a.json"]["id"], acks["1-a.json"]["ok"]) == ("1-a", False)
    assert not acks["2-b.json"]["ok"] and "not a command" in acks["2-b.json"]["message"] and acks["zz.json"]["ok"]
    assert any("x" * 60 + "…" in n and len(n) < 300 for n in notes)  # the long name, shortened
    assert any("d.json" in n for n in notes) and any("e.json" in n for n in notes)


def test_an_oversize_command_is_refused_unread(tmp_path, monkeypatch):
    reader, control, notes = _reader(tmp_path)
    commands = tmp_path / "control" / "commands"
    _command(commands, "1-a.json", id="1-a", command="stop", pad="x" * control_channel.MAX_BYTES)
    _command(commands, "2-b.json", id="2-b", command="pause")
    reads = []
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
    assert [a.id for a in _poll(reader)] == ["2-b"]
    assert not control.stopping and control.paused
    assert max(reads) <= control_channel.MAX_BYTES + 1  # never read whole
    assert len(notes) == 1 and "1-a.json" in notes[0] and "KiB" in notes[0]
    assert not (tmp_path / "control" / "acks" / "1-a.json").exists()


def test_old_acks_are_pruned_and_nothing_else(tmp_path, monkeypatch):
    monkeypatch.setattr(control_channel, "ACK_KEEP", 4)
    reader, control, notes = _reader(tmp_path)
    acks = tmp_path / "control" / "acks"
    acks.mkdir(parents=True)
    now = time.time()
    for i, age in enumerate([5, 10, 20, 30, 40]):  # the newest 4 stay, with the new one: 3 of these
        (acks / f"old-{i}.json").write_text("{}")
        os.utime(acks / f"old-{i}.json", (now - age, now - age))
    (acks / "ancient.json").write_text("{}")
    os.utime(acks / "ancient.json", (now - 3600, now - 3600))
    (acks / "notes.txt").write_text("a person's")
    (acks / "link.json").symlink_to(tmp_path / "config.json")
    _command(tmp_path / "control" / "commands", "1-a.json", id="1-a", command="pause")
    assert [a.id for a in _poll(reader)] == ["1-a"]
    assert sorted(p.name for p in acks.iterdir()) == ["1-a.json", "link.json", "notes.txt", "old-0.json",
                                                      "old-1.json", "old-2.json"]
    monkeypatch.setattr(control_channel, "ACK_KEEP", 100)
    os.utime(acks / "old-0.json", (now - 3600, now - 3600))  # older than ACK_KEEP_S: gone, however few
    _command(tmp_path / "control" / "commands", "2-b.json", id="2-b", command="resume")
    _poll(reader)
    assert "old-0.json" not in {p.name for p in acks.iterdir()} and (acks / "1-a.json").exists()


def test_command_ids_are_plain_tokens():
    assert all(control_channel.TOKEN.fullmatch(control_channel.new_id()) for _ in range(100))


def test_control_speaks_of_its_own_syntax(tmp_path, capsys):
    assert main(["control", str(tmp_path), "set", "optim.lr_g"]) == 2
    err = capsys.readouterr().err
    assert "--set" not in err and "control" in err and "set optim.lr_g=0.0001" in err, err
