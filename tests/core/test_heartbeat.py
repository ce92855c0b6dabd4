"""The run folder's heartbeat tells a live run from a finished or dead one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from dataclasses import replace

from core import heartbeat

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
