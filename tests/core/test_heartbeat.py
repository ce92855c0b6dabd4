"""The run folder's heartbeat tells a live run from a finished or dead one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from dataclasses import asdict, replace

import pytest

from core.runs import heartbeat

from .conftest import Run, tiny


def test_a_beat_reads_back_and_a_live_state_is_alive(tmp_path):
    beat = heartbeat.write(tmp_path, "running", 12, 100)
    again = heartbeat.read(tmp_path)
    assert again == beat and again.pid == os.getpid() and again.host == socket.gethostname()
    assert again.alive()
    assert heartbeat.running_elsewhere(tmp_path) is None  # it is this process


def test_stale_finished_and_dead_heartbeats_are_not_alive(tmp_path):
    beat = heartbeat.write(tmp_path, "running", 1, 10)
    stale_at = beat.time + heartbeat.STALE_AFTER * beat.interval + heartbeat.CLOCK_SLACK_S + 1
    assert beat.alive(now=beat.time + beat.interval) and not beat.alive(now=stale_at)
    assert not replace(beat, state="finished").alive()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert not replace(beat, pid=int(dead.stdout)).alive()  # same host, the process is gone
    other_host = replace(beat, host="elsewhere.example", pid=int(dead.stdout))
    assert other_host.alive()  # another machine's process cannot be checked: the clock decides
    assert heartbeat.read(tmp_path / "nothing") is None
    (tmp_path / "heartbeat.json").write_text("{broken")
    assert heartbeat.read(tmp_path) is None


def test_the_trainer_beats_while_running_and_paused_and_says_when_it_ends(tmp_path, monkeypatch):
    beats = []
    beaten = threading.Condition()
    real_write = heartbeat.write

    def write(*args, **kw):
        beat = real_write(*args, **kw)
        with beaten:
            beats.append(beat)
            beaten.notify_all()
        return beat

    monkeypatch.setattr(heartbeat, "write", write)
    monkeypatch.setattr(heartbeat, "INTERVAL_S", 0.01)
    run = Run(tiny(**{"run.steps": 1000}), run_dir=tmp_path / "r", pause_at=3)
    run.paused_at(3)
    beat = heartbeat.read(tmp_path / "r")
    assert beat.state == "paused" and beat.step == 3 and beat.total_steps == 1000
    seen = len(beats)
    with beaten:  # the paused trainer keeps beating on its own, nothing else happening
        assert beaten.wait_for(lambda: len(beats) >= seen + 2, timeout=30)
    assert beats[-1].state == "paused" and beats[-1].time > beat.time
    run.finish()
    end = heartbeat.read(tmp_path / "r")
    assert end.state == "stopped" and not end.alive()


@pytest.mark.parametrize("field, value, words", [
    ("step", "abc", "step is 'abc', not a whole number, 0 or more"),
    ("step", -5, "step is -5, not a whole number"),
    ("interval", "5", "interval is '5', not a number of seconds above 0"),
    ("interval", 0, "interval is 0, not a number of seconds above 0"),
    ("time", None, "time is None, not a time in seconds"),
    ("time", 10**400, "time is 1000"),  # too large for a float
    ("pid", 1.5, "pid is 1.5, not a process id"),
    ("pid", 0, "pid is 0, not a process id"),  # os.kill(0, 0) would find this process group "alive"
    ("host", 7, "host is 7, not a host name"),
    ("world_size", True, "world_size is True, not a whole number, 1 or more"),
])
def test_a_malformed_heartbeat_is_dead_with_one_line_naming_the_file_and_field(tmp_path, field, value, words):
    raw = json.loads(json.dumps(asdict(heartbeat.write(tmp_path, "running", 3, 10))))
    raw[field] = value
    (tmp_path / "heartbeat.json").write_text(json.dumps(raw))
    beat, why = heartbeat.read_with_reason(tmp_path)
    assert beat is None and heartbeat.read(tmp_path) is None and heartbeat.running_elsewhere(tmp_path) is None
    assert why.startswith(f"{tmp_path / 'heartbeat.json'}: {words}") and "\n" not in why


def test_damaged_missing_and_old_heartbeats(tmp_path):
    assert heartbeat.read_with_reason(tmp_path) == (None, "")  # none: no reason to give
    (tmp_path / "heartbeat.json").write_text("[1, 2]")
    assert heartbeat.read_with_reason(tmp_path)[1].endswith("heartbeat.json: not a heartbeat (a JSON object was "
                                                            "expected)")
    (tmp_path / "heartbeat.json").write_text("{broken")
    assert "heartbeat.json: damaged (" in heartbeat.read_with_reason(tmp_path)[1]
    older = {"state": "running", "step": 1, "total_steps": 5, "pid": os.getpid(), "host": "h", "time": 1.0}
    (tmp_path / "heartbeat.json").write_text(json.dumps(older))  # before interval and world_size were written
    assert heartbeat.read(tmp_path) == heartbeat.Heartbeat("running", 1, 5, os.getpid(), "h", 1.0)


def test_control_and_resume_with_a_malformed_heartbeat_give_one_line_or_go_on(tmp_path, capsys):
    from core.cli import main

    from .test_cli import SMALL

    run = tmp_path / "run"
    assert main(["train", "--preset", "mlp", "--steps", "2", "--out", str(run), *SMALL]) == 0
    raw = json.loads((run / "heartbeat.json").read_text())
    (run / "heartbeat.json").write_text(json.dumps({**raw, "state": "running", "step": "2"}))
    capsys.readouterr()
    assert main(["control", str(run), "pause"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{run / 'heartbeat.json'}: step is '2', not a whole number" in err
    assert main(["resume", str(run), "--steps", "4"]) == 0  # nobody holds the lock: a damaged beat blocks nothing
    assert heartbeat.read(run).state == "finished"


def test_an_interval_too_long_is_capped(tmp_path):
    beat = replace(heartbeat.write(tmp_path, "running", 1, 10), host="elsewhere.example", interval=1e12)
    cap = heartbeat.STALE_AFTER * heartbeat.MAX_INTERVAL_S + heartbeat.CLOCK_SLACK_S
    assert beat.alive(now=beat.time + cap - 1) and not beat.alive(now=beat.time + cap + 1)
