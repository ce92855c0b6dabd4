"""Steer a running run through its folder: `python main.py control RUNDIR pause|resume|step|stop|save`
and `... set key=value ...`, for a headless run, a torchrun job's rank 0, or a run another studio trains.

The sender validates a command as the app's form does (only the live settings, core's messages),
writes it atomically as control/commands/<id>.json, and waits for control/acks/<id>.json. In the
training process a reader thread looks at the folder a few times a second (never the training
loop itself, so no step pays for a file-system call) and hands each command to the run's
`Control`, which applies it at the next step boundary, as the app's buttons do. A command for a
run that is not alive is refused; a run that ends before it reads a command leaves the sender a
clear answer, and stale commands are cleared when a run folder is opened again.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from core import heartbeat
from core.atomic import atomic_write
from core.config import Config, ConfigError, load_config
from core.control import LIVE_SETTINGS, Control, SaveDone

COMMANDS = ("pause", "resume", "step", "stop", "save", "set")
POLL_S = 0.25  # how often the reader looks for commands
SAVE_WAIT_S = 10.0  # how long a 'save' waits for the trainer's next step boundary (send waits 15 s)
FOLDER = "control"


class ChannelError(ValueError):
    """A command that cannot be sent or was refused; the message says why."""


@dataclass(frozen=True)
class Ack:
    id: str
    command: str
    ok: bool
    message: str
    step: int
    time: float = field(default_factory=time.time)


def _dirs(run_dir: Path) -> tuple[Path, Path]:
    return run_dir / FOLDER / "commands", run_dir / FOLDER / "acks"


def check_command(command: str, values: dict, config: Config) -> None:
    """Refuse what the form would refuse: unknown commands, settings that cannot change while
    training, values that break the config's rules (core's messages, naming the field)."""
    if command not in COMMANDS:
        raise ChannelError(f"{command!r}: not a command; use one of {', '.join(COMMANDS)}")
    if command != "set":
        if values:
            raise ChannelError(f"{command} takes no settings (only set does)")
        return
    if not values:
        raise ChannelError("set needs at least one key=value, e.g. set optim.lr_g=0.0001")
    Control().change(config, **values)  # the same check the app's live edits go through


def send(run_dir: str | Path, command: str, values: dict | None = None, wait_s: float = 15.0) -> Ack:
    """Validate, write the command, and wait for the run's acknowledgement."""
    run_dir = Path(run_dir)
    values = dict(values or {})
    if not (run_dir / "config.json").is_file():
        raise ChannelError(f"{run_dir}: not a run folder (no config.json)")
    beat = heartbeat.read(run_dir)
    if beat is None or not beat.alive():
        state = f"its heartbeat says {beat.state} at step {beat.step:,}" if beat else "it has no heartbeat"
        raise ChannelError(f"{run_dir} is not running ({state}); start it with python main.py resume {run_dir}")
    try:
        check_command(command, values, load_config(run_dir / "config.json"))
    except (ConfigError, ValueError) as e:
        raise ChannelError(str(e)) from None
    commands, acks = _dirs(run_dir)
    commands.mkdir(parents=True, exist_ok=True)
    ident = f"{time.time_ns()}-{os.getpid()}-{secrets.token_hex(3)}"
    body = json.dumps({"id": ident, "command": command, "values": values, "time": time.time()})
    atomic_write(commands / f"{ident}.json", lambda tmp: Path(tmp).write_text(body))
    deadline = time.monotonic() + wait_s
    ack_file = acks / f"{ident}.json"
    while time.monotonic() < deadline:
        ack = _read_ack(ack_file)
        if ack is not None:
            return ack
        beat = heartbeat.read(run_dir)
        if beat is not None and not beat.alive():
            (commands / f"{ident}.json").unlink(missing_ok=True)
            raise ChannelError(f"{run_dir} ended before it read the command (its heartbeat says {beat.state} at "
                               f"step {beat.step:,}); nothing was done")
        time.sleep(POLL_S / 2)  # another process: waiting on the file system is all there is
    raise ChannelError(f"{run_dir} did not answer within {wait_s:.0f} s; the command stays queued and runs when "
                       "the trainer reads it (a run busy with a long quality reading answers late)")


def _read_ack(path: Path) -> Ack | None:
    try:
        return Ack(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def clear(run_dir: str | Path) -> None:
    """Forget commands left from an earlier process (a run folder being opened again)."""
    for folder in _dirs(Path(run_dir)):
        for p in folder.glob("*.json") if folder.is_dir() else []:
            p.unlink(missing_ok=True)


class ChannelReader:
    """The training process's side: a thread that hands the folder's commands to `control`.

    `config` returns the run's current config (for validation); `step` its current step;
    `on_save` asks for the run folder's own checkpoint and generator (the 'save' command)."""

    def __init__(self, run_dir: str | Path, control: Control, config: Callable[[], Config],
                 step: Callable[[], int], on_save: Callable[[], SaveDone]):
        self.commands, self.acks = _dirs(Path(run_dir))
        self.control, self.config, self.step, self.on_save = control, config, step, on_save
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gan-studio-control-channel", daemon=True)

    def start(self) -> ChannelReader:
        self.commands.mkdir(parents=True, exist_ok=True)
        self.acks.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            self.poll()

    def poll(self) -> list[Ack]:
        """Handle every waiting command, oldest first (the names start with the time)."""
        done = []
        try:
            names = sorted(p for p in os.listdir(self.commands) if p.endswith(".json") and not p.startswith("."))
        except OSError:
            return done
        for name in names:
            path = self.commands / name
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                ident, command, values = str(raw["id"]), str(raw["command"]), dict(raw.get("values") or {})
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                path.unlink(missing_ok=True)  # not a command of ours (or half a file from a crash): dropped
                continue
            ack = self._apply(ident, command, values)
            atomic_write(self.acks / f"{ident}.json", lambda tmp: Path(tmp).write_text(json.dumps(asdict(ack))))
            path.unlink(missing_ok=True)
            done.append(ack)
        return done

    def _apply(self, ident: str, command: str, values: dict) -> Ack:
        step = self.step()
        try:
            check_command(command, values, self.config())
        except (ConfigError, ValueError) as e:
            return Ack(ident, command, False, str(e), step)
        c = self.control
        if command == "pause":
            c.pause()
        elif command == "resume":
            c.resume()
        elif command == "step":
            c.step_once()
        elif command == "stop":
            c.stop()
        elif command == "save":
            # Acked once written, so a sender that copies the files next gets these, not older ones.
            done, deadline = self.on_save(), time.monotonic() + SAVE_WAIT_S
            while not done.wait(POLL_S):
                if self._stop.is_set() or time.monotonic() > deadline:
                    return Ack(ident, command, False, f"asked, but not saved within {SAVE_WAIT_S:.0f} s (the run "
                               "saves at its next step boundary; a long quality reading delays it)", self.step())
            if done.error:
                return Ack(ident, command, False, done.error, done.step)
            return Ack(ident, command, True, f"saved at step {done.step:,}", done.step)
        else:
            c.change(self.config(), **values)
        what = ", ".join(f"{k} = {v}" for k, v in values.items()) if values else command
        return Ack(ident, command, True, f"{what}: applied at the next step boundary (now at step {step:,})", step)


__all__ = ["COMMANDS", "LIVE_SETTINGS", "Ack", "ChannelError", "ChannelReader", "check_command", "clear", "send"]
