"""The run folder's heartbeat: who trains it, where, and whether that process is alive.

The trainer rewrites `heartbeat.json` (atomically) on every state change and every
INTERVAL_S seconds while it runs or waits paused, so anyone who can read the folder (the
app on the same machine, another machine over a network mount) can tell a live run from
one that ended or died: a heartbeat older than a few intervals, or whose process is gone
from this machine, belongs to a dead run.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from core.atomic import atomic_write

FILE = "heartbeat.json"
INTERVAL_S = 5.0  # seconds between heartbeats while the run is alive
STALE_AFTER = 3  # intervals without a beat before a run counts as dead
CLOCK_SLACK_S = 30.0  # another machine's clock may differ this much
LIVE_STATES = ("loading", "running", "paused")


@dataclass(frozen=True)
class Heartbeat:
    state: str  # loading, running, paused, stopped, finished
    step: int
    total_steps: int
    pid: int
    host: str
    time: float  # seconds since the epoch, on the writer's clock
    interval: float = INTERVAL_S
    world_size: int = 1  # processes training the run (torchrun's ranks)

    @property
    def live_state(self) -> bool:
        return self.state in LIVE_STATES

    def alive(self, now: float | None = None) -> bool:
        """The writing process is (as far as can be told) still training this run."""
        if not self.live_state:
            return False
        if self.host == socket.gethostname() and not _pid_alive(self.pid):
            return False
        now = time.time() if now is None else now
        return now - self.time <= STALE_AFTER * self.interval + CLOCK_SLACK_S

    def where(self) -> str:
        return f"{self.host}, process {self.pid}"


def write(run_dir: str | Path, state: str, step: int, total_steps: int, world_size: int = 1) -> Heartbeat:
    beat = Heartbeat(state, step, total_steps, os.getpid(), socket.gethostname(), time.time(),
                     world_size=world_size)
    atomic_write(Path(run_dir) / FILE, lambda tmp: Path(tmp).write_text(json.dumps(asdict(beat))))
    return beat


def read(run_dir: str | Path) -> Heartbeat | None:
    """The folder's last heartbeat, or None (no run, an older run, or a damaged file)."""
    try:
        raw = json.loads((Path(run_dir) / FILE).read_text(encoding="utf-8"))
        return Heartbeat(**{k: raw[k] for k in Heartbeat.__dataclass_fields__ if k in raw})
    except (OSError, ValueError, TypeError):
        return None


def running_elsewhere(run_dir: str | Path) -> Heartbeat | None:
    """The heartbeat of a live run that another process writes (not this one), or None."""
    beat = read(run_dir)
    if beat is None or not beat.alive():
        return None
    if beat.host == socket.gethostname() and beat.pid == os.getpid():
        return None
    return beat


class Beater:
    """The trainer's side: beat() on state changes, maybe_beat() between steps (a clock read,
    and a write only every INTERVAL_S)."""

    def __init__(self, run_dir: str | Path, total_steps: int, world_size: int = 1):
        self.run_dir, self.total, self.world = Path(run_dir), total_steps, world_size
        self.state, self.step = "loading", 0
        self._next = 0.0

    def beat(self, state: str | None = None, step: int | None = None) -> None:
        self.state = state or self.state
        self.step = self.step if step is None else step
        write(self.run_dir, self.state, self.step, self.total, self.world)
        self._next = time.monotonic() + INTERVAL_S

    def maybe_beat(self, step: int) -> None:
        if time.monotonic() >= self._next:
            self.beat(step=step)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    except OSError:
        return False
    return True
