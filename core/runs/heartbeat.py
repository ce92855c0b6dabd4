"""The run folder's heartbeat: who trains it, where, and whether that process is alive.

The trainer rewrites `heartbeat.json` (atomically) on every state change and every
INTERVAL_S seconds while it runs or waits paused, so anyone who can read the folder (the
app on the same machine, another machine over a network mount) can tell a live run from
one that ended or died: a heartbeat older than a few intervals, or whose process is gone
from this machine, belongs to a dead run. On this machine the run's lock (core/runs/lock.py) is
the truth about who trains it; the heartbeat tells other machines, and the app, the same.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from core.atomic import atomic_write
from core.bounded_read import FileRefused, KiB, loads_json, read_text
from core.runs.folder import RunFolder

FILE = RunFolder(".").heartbeat.name  # the file's name, for messages about a heartbeat read from elsewhere
INTERVAL_S = 5.0  # seconds between heartbeats while the run is alive
STALE_AFTER = 3  # intervals without a beat before a run counts as dead
CLOCK_SLACK_S = 30.0  # another machine's clock may differ this much
MAX_INTERVAL_S = 60.0  # a heartbeat claiming a longer interval is judged by this one: never alive forever
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
        return now - self.time <= self.stale_after_s

    @property
    def stale_after_s(self) -> float:
        """Seconds without a beat after which this run counts as dead."""
        return STALE_AFTER * min(self.interval, MAX_INTERVAL_S) + CLOCK_SLACK_S

    def age_s(self, now: float | None = None) -> float:
        """Seconds since the last beat, on this machine's clock (negative: the writer's clock is ahead)."""
        return (time.time() if now is None else now) - self.time

    def where(self) -> str:
        return f"{self.host}, process {self.pid}"


class HeartbeatError(ValueError):
    """A heartbeat.json that cannot be read; the message names the file and the cause."""


# Each field's check: (the types it may have, a test of the value, what it must be, in words).
_FIELDS = {
    "state": ((str,), lambda v: bool(v), "a state name"),
    "step": ((int,), lambda v: v >= 0, "a whole number, 0 or more"),
    "total_steps": ((int,), lambda v: v >= 0, "a whole number, 0 or more"),
    "pid": ((int,), lambda v: v > 0, "a process id (a whole number above 0)"),
    "host": ((str,), lambda v: True, "a host name"),
    "time": ((int, float), math.isfinite, "a time in seconds"),
    "interval": ((int, float), lambda v: math.isfinite(v) and v > 0, "a number of seconds above 0"),
    "world_size": ((int,), lambda v: v >= 1, "a whole number, 1 or more"),
}


def parse(raw: object, path: str | Path = FILE) -> Heartbeat:
    """A heartbeat from the file's JSON; HeartbeatError naming the file and the first bad field."""
    if not isinstance(raw, dict):
        raise HeartbeatError(f"{path}: not a heartbeat (a JSON object was expected)")
    values = {}
    for name, (types, ok, words) in _FIELDS.items():
        if name not in raw:
            if Heartbeat.__dataclass_fields__[name].default is not dataclasses.MISSING:
                continue  # written by an older version
            raise HeartbeatError(f"{path}: {name} is missing")
        value = raw[name]
        try:
            good = not isinstance(value, bool) and isinstance(value, types) and ok(value)
        except OverflowError:  # a whole number too large for a float
            good = False
        if not good:
            raise HeartbeatError(f"{path}: {name} is {value!r:.60}, not {words}")
        values[name] = value
    return Heartbeat(**values)


def write(run_dir: str | Path, state: str, step: int, total_steps: int, world_size: int = 1) -> Heartbeat:
    beat = Heartbeat(state, step, total_steps, os.getpid(), socket.gethostname(), time.time(),
                     world_size=world_size)
    atomic_write(RunFolder(run_dir).heartbeat, lambda tmp: Path(tmp).write_text(json.dumps(asdict(beat))))
    return beat


def read(run_dir: str | Path) -> Heartbeat | None:
    """The folder's last heartbeat, or None (no run, an older run, or a damaged file: a dead run)."""
    return read_with_reason(run_dir)[0]


def read_with_reason(run_dir: str | Path) -> tuple[Heartbeat | None, str]:
    """(the heartbeat, "") or (None, why it cannot be read: one line naming the file; "" when there is none)."""
    path = RunFolder(run_dir).heartbeat
    try:  # a few hundred bytes: a regular file of at most 64 KiB (core/bounded_read.py)
        text = read_text(path, 64 * KiB, "heartbeat")
    except FileNotFoundError:
        return None, ""
    except FileRefused as e:  # a FIFO or device in its place, too big, not UTF-8
        return None, f"{path}: unreadable ({e.reason})"
    except OSError as e:
        return None, f"{path}: unreadable ({getattr(e, 'strerror', None) or e})"
    try:
        return parse(loads_json(text), path), ""  # nesting bounded: a ValueError, not a RecursionError
    except HeartbeatError as e:
        return None, str(e)
    except ValueError as e:
        return None, f"{path}: damaged ({e})"


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
    except (OSError, OverflowError):  # OverflowError: no process has such an id
        return False
    return True
