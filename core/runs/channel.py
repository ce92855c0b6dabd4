"""Steer a running run through its folder: `python main.py control RUNDIR pause|resume|step|stop|save`
and `... set key=value ...`, for a headless run, a torchrun job's rank 0, or a run another studio trains.

The sender validates a command as the app's form does (only the live settings, core's messages),
writes it atomically as control/commands/<id>.json, and waits for control/acks/<id>.json. In the
training process a reader thread looks at the folder a few times a second (never the training
loop itself, so no step pays for a file-system call) and hands each command to the run's
`Control`, which applies it at the next step boundary, as the app's buttons do. A command for a
run that is not alive is refused; a run that ends before it reads a command leaves the sender a
clear answer, and stale commands are cleared when a run folder is opened again.

Anyone who can drop a file into control/commands (a shared folder: the point of attaching) talks to
the trainer, so nothing in a command file becomes a path: the acknowledgement is named after the
command file's own name, and only when that is a plain token. The folders are opened one level at a
time relative to the run folder without following links (a linked control/ is refused, never read or
cleared through), and a command file is opened without following links or waiting (a FIFO), checked
to be a regular file, and read up to MAX_BYTES (core/bounded_read.py). A bad file costs one notice
while it stays as it is (known by its name, inode and modification time, and not opened again), never
the reader thread.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import stat
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from core.bounded_read import FileRefused, loads_json, read_bytes
from core.commands import suggest
from core.config import Config, ConfigError, load_config
from core.control import LIVE_SETTINGS, Control, SaveDone
from core.runs import heartbeat
from core.runs.folder import RunFolder

COMMANDS = ("pause", "resume", "step", "stop", "save", "set")
POLL_S = 0.25  # how often the reader looks for commands
SAVE_WAIT_S = 10.0  # how long a 'save' waits for the trainer's next step boundary (send waits 15 s)
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # a command's id and its files' names: never a path
MAX_BYTES = 64 * 1024  # a command is a few hundred bytes: a bigger file is not one, and is not read
# A sender reads its ack within a fraction of a second of it being written, so old acks serve nobody;
# the newest few stay for a person looking at the folder. Ages are counted from the newest ack's
# time, both the file server's clock: a network folder's clock need not agree with this machine's.
ACK_KEEP = 100
ACK_KEEP_S = 600.0

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW


class ChannelError(ValueError):
    """A command that cannot be sent or was refused; the message says why."""


class _Unusable(OSError):
    """The channel's folders cannot be used safely (a link, not a folder); the message says why."""


class _Bad(ValueError):
    """A file in control/commands that is not a command; the message says why."""


@dataclass(frozen=True)
class Ack:
    id: str
    command: str
    ok: bool
    message: str
    step: int
    time: float = field(default_factory=time.time)


def _dirs(run_dir: Path) -> tuple[Path, Path]:
    run = RunFolder(run_dir)
    return run.commands, run.acks


def new_id() -> str:
    """A command's id: sorts by time, unique across processes, and a plain token (checked, not assumed)."""
    ident = f"{time.time_ns()}-{os.getpid()}-{secrets.token_hex(3)}"
    assert TOKEN.fullmatch(ident), ident
    return ident


class _Channel:
    """The run folder's control/commands and control/acks, opened as directory descriptors one level
    at a time without following links, so no name inside them can lead outside the run folder, and a
    folder swapped for a link between a check and a write is not followed either."""

    def __init__(self, run_dir: Path, create: bool = False):
        self.run_dir, self.create = run_dir, create
        self._fds: list[int] = []

    def __enter__(self) -> _Channel:
        try:
            top = os.open(self.run_dir, _DIR_FLAGS & ~_NOFOLLOW)  # the folder the person chose: followed
            self._fds.append(top)
            run = RunFolder(self.run_dir)  # opened one name at a time: control/, then commands/ and acks/ in it
            control = self._open(top, run.control.name, run.control)
            self.commands = self._open(control, run.commands.name, run.commands)
            self.acks = self._open(control, run.acks.name, run.acks)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        while self._fds:
            os.close(self._fds.pop())

    def _open(self, parent: int, name: str, where: Path) -> int:
        if self.create:
            try:
                os.mkdir(name, dir_fd=parent)  # never through a link: an existing one is just 'exists'
            except FileExistsError:
                pass
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except OSError as e:
            if e.errno not in (errno.ENOTDIR, errno.ELOOP):
                raise
            kind = "a symbolic link" if _is_link(name, parent) else "not a folder"
            raise _Unusable(f"{where} is {kind}: this run takes no commands through it and clears nothing "
                            f"in it; make it a plain folder inside the run folder (or remove it)") from None
        self._fds.append(fd)
        return fd


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _read_small(name: str | Path, dir_fd: int | None = None) -> bytes:
    """A small regular file's bytes, opened without following a link or waiting on a FIFO or a device."""
    try:
        return read_bytes(name, MAX_BYTES, "command", dir_fd=dir_fd, follow_links=False)
    except FileRefused as e:  # a link, a folder, a FIFO, a device, too big
        raise _Bad(e.reason) from None


def _write_json(folder: int, ident: str, data: dict) -> None:
    """Write <ident>.json whole or not at all inside an open folder (temp names as core.atomic's, so
    its clean-up knows them); the mode is 0666 less the umask, as atomic_write's."""
    name = f"{ident}.json"
    tmp = f".{name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666, dir_fd=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(json.dumps(data).encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=folder)
        except OSError:
            pass
        raise


def _our_files(folder: int) -> list[tuple[str, os.stat_result]]:
    """The channel's own files in an open folder: regular '<token>.json' files (links, folders and
    other names are left alone), with their lstat."""
    found = []
    for name in os.listdir(folder):
        if name.endswith(".json") and TOKEN.fullmatch(name[:-5]):
            try:
                info = os.stat(name, dir_fd=folder, follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                found.append((name, info))
    return found


def _prune_acks(acks: int, keep: str) -> None:
    """Drop acks beyond the newest ACK_KEEP, or ACK_KEEP_S older than the newest; never `keep`."""
    files = sorted(_our_files(acks), key=lambda f: f[1].st_mtime, reverse=True)
    if not files:
        return
    newest = files[0][1].st_mtime
    for i, (name, info) in enumerate(files):
        if name != keep and (i >= ACK_KEEP or newest - info.st_mtime > ACK_KEEP_S):
            try:
                os.unlink(name, dir_fd=acks)
            except OSError:
                pass  # gone already, or not ours to remove


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
    if not RunFolder(run_dir).config.is_file():
        raise ChannelError(f"{run_dir}: not a run folder (no config.json)")
    beat, why = heartbeat.read_with_reason(run_dir)
    if beat is None or not beat.alive():
        state = (f"its heartbeat says {beat.state} at step {beat.step:,}" if beat else
                 f"its heartbeat cannot be read: {why}" if why else "it has no heartbeat")
        raise ChannelError(f"{run_dir} is not running ({state}); start it with {suggest('resume', run_dir)}")
    try:
        check_command(command, values, load_config(RunFolder(run_dir).config))
    except (ConfigError, ValueError) as e:
        raise ChannelError(str(e)) from None
    ident = new_id()
    try:  # the run reads nothing through a link, so a command is never written through one
        with _Channel(run_dir, create=True) as channel:
            _write_json(channel.commands, ident, {"id": ident, "command": command, "values": values,
                                                  "time": time.time()})
    except _Unusable as e:
        raise ChannelError(str(e)) from None
    except OSError as e:
        raise ChannelError(f"{RunFolder(run_dir).control}: cannot write the command ({e.strerror or e})") from None
    commands, acks = _dirs(run_dir)
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
        return Ack(**json.loads(_read_small(path)))
    except (OSError, ValueError, TypeError):
        return None


def clear(run_dir: str | Path) -> str | None:
    """Forget commands and acks left from an earlier process (a run folder being opened again).
    Removes only the channel's own regular files inside the run folder; returns a notice (once, for the
    caller to show) when control/ or a folder in it is a link or not a folder, and then removes nothing."""
    try:
        with _Channel(Path(run_dir)) as channel:
            for folder in (channel.commands, channel.acks):
                for name, _ in _our_files(folder):
                    try:
                        os.unlink(name, dir_fd=folder)
                    except OSError:
                        pass
    except _Unusable as e:
        return str(e)
    except OSError:
        pass  # no channel yet (a new run), or an unreadable one: the reader says which when it starts
    return None


def _say(message: str) -> None:
    sys.stderr.write(f"note: {message}\n")  # the default listener: a headless run's stderr


class ChannelReader:
    """The training process's side: a thread that hands the folder's commands to `control`.

    `config` returns the run's current config (for validation); `step` its current step;
    `on_save` asks for the run folder's own checkpoint and generator (the 'save' command);
    `notice` gets one line per bad file or unusable folder (once each; stderr by default)."""

    def __init__(self, run_dir: str | Path, control: Control, config: Callable[[], Config],
                 step: Callable[[], int], on_save: Callable[[], SaveDone],
                 notice: Callable[[str], None] | None = None):
        self.run_dir = Path(run_dir)
        self.commands, self.acks = _dirs(self.run_dir)
        self.control, self.config, self.step, self.on_save = control, config, step, on_save
        self.notice = notice or _say
        self._said: set[str] = set()  # the folder's troubles already noticed: one line each, not one per poll
        # The bad files already noticed, by name: (device, inode, modification time). Each is said once and
        # not opened again while it stays as it was; names gone from the folder are forgotten, so this
        # holds no more than the folder does (forgetting by count made 1,500 junk folders repeat forever).
        self._bad: dict[str, tuple[int, int, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gan-studio-control-channel", daemon=True)

    def start(self) -> ChannelReader:
        try:
            with _Channel(self.run_dir, create=True):
                pass
        except OSError as e:  # said once; the run trains on without a channel until it is fixed
            self._say_once(str(e) if isinstance(e, _Unusable) else f"{RunFolder(self.run_dir).control}: cannot be used "
                           f"({e.strerror or e}); this run takes no commands")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self.poll()
            except Exception as e:  # a bad day on the file system must not end the channel for good
                self._say_once(f"{RunFolder(self.run_dir).control}: reading commands failed ({e}); trying again")

    def _say_once(self, message: str) -> None:
        if message not in self._said:
            if len(self._said) > 1000:  # a flood of junk files: forget, rather than grow without end
                self._said.clear()
            self._said.add(message)
            try:
                self.notice(message)
            except Exception:
                pass  # the listener's trouble: the reader goes on

    def poll(self) -> list[Ack]:
        """Handle every waiting command, oldest first (the names start with the time)."""
        done: list[Ack] = []
        try:
            with _Channel(self.run_dir, create=True) as channel:  # a folder removed meanwhile comes back
                names = sorted(p for p in os.listdir(channel.commands) if p.endswith(".json") and not p.startswith("."))
                present = set(names)
                self._bad = {name: known for name, known in self._bad.items() if name in present}
                for name in names:
                    if self._stop.is_set():
                        break
                    identity = _identity(channel.commands, name)
                    if identity is not None and self._bad.get(name) == identity:
                        continue  # said already, and unchanged since
                    try:
                        ack = self._handle(channel, name)
                    except _Bad as e:  # a folder, a FIFO, a link: not ours to remove; said once, then passed over
                        self._say_bad(name, identity, f"{self.commands / _shown(name)}: skipped: {e}")
                        continue
                    except Exception as e:  # one bad file: one line, and on to the next
                        self._say_bad(name, identity, f"{self.commands / _shown(name)}: skipped ({e})")
                        continue
                    if ack is not None:
                        done.append(ack)
        except _Unusable as e:
            self._say_once(str(e))
        except OSError:
            pass  # no folder right now (being cleared or replaced): looked at again next time
        return done

    def _say_bad(self, name: str, identity: tuple[int, int, int] | None, message: str) -> None:
        if identity is None:  # gone meanwhile, or cannot be looked at: said by message, once
            self._say_once(message)
            return
        self._bad[name] = identity
        try:
            self.notice(message)
        except Exception:
            pass  # the listener's trouble: the reader goes on

    def _handle(self, channel: _Channel, name: str) -> Ack | None:
        stem = name[:-5]
        try:
            data = _read_small(name, channel.commands)
        except FileNotFoundError:
            return None  # taken by a sender that gave up, or by a clear
        if not TOKEN.fullmatch(stem):  # no ack can be named after it: dropped, nothing written
            self._drop(channel, name, "its name is not a command id (letters, digits, _ and -, at most 64)")
            return None
        try:
            raw = loads_json(data.decode("utf-8"))
        except ValueError:  # not JSON, nested too deep (or half a file from a crash): nobody to answer
            self._drop(channel, name, "not a JSON command")
            return None
        os.unlink(name, dir_fd=channel.commands)  # taken first: a file that cannot be removed never runs twice
        command = raw.get("command") if isinstance(raw, dict) else None
        if not isinstance(command, str) or not isinstance(raw.get("values") or {}, dict):
            ack = Ack(stem, str(command), False, 'refused: not a command (expected {"id": ID, "command": '
                      'NAME, "values": {...}})', self.step())
        elif raw.get("id", stem) != stem:
            ack = Ack(stem, command, False, "refused: the id inside the command is not its file's name "
                      "(write control/commands/<id>.json with that plain id inside)", self.step())
        else:
            ack = self._apply(stem, command, dict(raw.get("values") or {}))
        _write_json(channel.acks, stem, asdict(ack))
        _prune_acks(channel.acks, keep=f"{stem}.json")
        return ack

    def _drop(self, channel: _Channel, name: str, why: str) -> None:
        os.unlink(name, dir_fd=channel.commands)
        self._say_once(f"{self.commands / _shown(name)}: dropped: {why}")

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


def _identity(folder: int, name: str) -> tuple[int, int, int] | None:
    """(device, inode, modification time) of a name in an open folder, not following a link; None if gone."""
    try:
        info = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except OSError:
        return None
    return info.st_dev, info.st_ino, info.st_mtime_ns


def _shown(name: str) -> str:
    """A file name fit for one line of a message: printable, and not 300 characters long."""
    shown = name.encode("ascii", "backslashreplace").decode()
    return shown if len(shown) <= 80 else f"{shown[:60]}…{shown[-12:]}"


__all__ = ["COMMANDS", "LIVE_SETTINGS", "MAX_BYTES", "TOKEN", "Ack", "ChannelError", "ChannelReader",
           "check_command", "clear", "new_id", "send"]
