"""One process trains a run folder: an exclusive lock on <run>/control/lock, held for the run's life.

The trainer (and the CLI, before it loads a checkpoint) claims the folder before anything is
loaded or written; a second process is refused at once, whatever the heartbeat says. The lock is
flock(2) on a file that is never removed (removing it would let a waiter lock the old file while a
newcomer locks a new one), so the kernel frees it when the process ends, however it ends.

Network file systems: Linux's NFS client turns flock into a POSIX lock that the server grants
across machines (NFSv4, or v3 with lockd); a mount with `nolock`, and some SMB or sshfs mounts,
lock per machine only. A file system that refuses locks (ENOLCK) trains unlocked, with a notice.
For another machine the heartbeat is the second guard: a live heartbeat from another host
refuses, unless the person takes the run over.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import time
from pathlib import Path

from core.commands import suggest
from core.runs import heartbeat
from core.runs.folder import RunFolder, RunFolderError

try:
    import fcntl
    _HAS_FLOCK = True
except ImportError:  # Windows: no flock; the heartbeat alone guards the folder
    _HAS_FLOCK = False

_UNSUPPORTED = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)  # the file system cannot lock


class RunBusyError(RunFolderError):
    """Another process trains this run folder; the message says who and what to do instead."""


class RunLock:
    """A held claim on a run folder; release() (or leaving a `with` block) gives it up."""

    def __init__(self, run_dir: Path, fd: int | None, note: str = ""):
        self.run_dir, self._fd, self.note = run_dir, fd, note  # note: why the folder is not locked

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # who held it is no longer true
        except OSError:
            pass
        os.close(fd)  # closing drops the flock

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def claim(run_dir: str | Path, take_over: bool = False) -> RunLock:
    """Take the run folder for this process (creating the folder if it is missing), or raise
    RunBusyError: its lock is held, or (unless `take_over`) another machine's heartbeat is alive."""
    run_dir = Path(run_dir)
    path = RunFolder(run_dir).lock
    path.parent.mkdir(parents=True, exist_ok=True)
    if not _HAS_FLOCK:
        lock = RunLock(run_dir, None)
    else:
        fd = _open_lock_file(run_dir)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunBusyError(busy_message(run_dir)) from None
            if e.errno not in _UNSUPPORTED:
                raise
            lock = RunLock(run_dir, None, f"{path}: this file system cannot lock files ({e.strerror}), so two "
                           "processes started on this run at the same moment would not be told apart; the "
                           "heartbeat is the only guard")
        else:
            lock = RunLock(run_dir, fd)
            _write_holder(fd)
    beat = heartbeat.read(run_dir)
    if beat is not None and beat.host != socket.gethostname() and beat.alive() and not take_over:
        lock.release()  # this machine's lock says nothing about another machine's process
        raise RunBusyError(remote_message(run_dir, beat))
    return lock


def _open_lock_file(run_dir: Path) -> int:
    """control/lock, opened without following a link at either level (a linked control/ or lock would
    have the holder's line written, and truncated, outside the run) and never a FIFO or a device.
    Not inherited by programs this process starts (os.open's default), so the lock ends with us."""
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    lock = RunFolder(run_dir).lock
    try:
        folder = os.open(lock.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | nofollow)
        try:
            fd = os.open(lock.name, os.O_RDWR | os.O_CREAT | nofollow | getattr(os, "O_NONBLOCK", 0), 0o666,
                         dir_fd=folder)
        finally:
            os.close(folder)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise RunFolderError(f"{lock}: a symbolic link or not a plain file, so this run cannot be "
                                 "claimed; make control/ a plain folder inside the run folder") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise RunFolderError(f"{lock}: not a plain file, so this run cannot be claimed; remove it")
    return fd


def busy_message(run_dir: Path) -> str:
    who = holder(run_dir)
    return (f"{run_dir} is being trained by another process ({who or 'its process id is not written yet'}); "
            f"attach to it in the app or use `{suggest('control', run_dir, '...')}`")


def remote_message(run_dir: Path, beat: heartbeat.Heartbeat) -> str:
    age = beat.age_s()
    ago = f"{age:,.0f} s ago" if age >= 0 else f"{-age:,.0f} s ahead of this machine's clock"
    return (f"{run_dir} is being trained on {beat.host} (pid {beat.pid}; its heartbeat says {beat.state} at step "
            f"{beat.step:,}, written {ago}); attach to it in the app or use `{suggest('control', run_dir, '...')}`. "
            f"If that process is gone (its machine crashed or lost the folder), take the run over: "
            f"{suggest('resume', run_dir, '--take-over')} (without it, the run counts as dead "
            f"{beat.stale_after_s:,.0f} s after its last heartbeat)")


def holder(run_dir: str | Path) -> str:
    """"pid N on host H" of the process holding the lock, as it wrote it ("" if unknown)."""
    try:
        raw = json.loads(RunFolder(run_dir).lock.read_text(encoding="utf-8"))
        return f"pid {int(raw['pid'])} on host {str(raw['host'])}"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def _write_holder(fd: int) -> None:
    text = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}).encode()
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, text, 0)
    except OSError:
        pass  # the lock holds without it; a refused process then names no pid
