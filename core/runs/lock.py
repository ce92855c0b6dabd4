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
    """A held claim on a run folder; release() (or leaving a `with` block) gives it up, discard() gives it
    up and removes what claiming made."""

    def __init__(self, run_dir: Path, fd: int | None, note: str = "", made: tuple[Path, ...] = ()):
        self.run_dir, self._fd, self.note = run_dir, fd, note  # note: why the folder is not locked
        self.made = made  # what claim() created, in order: folders (the run's, control/) and the lock file

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

    def discard(self) -> None:
        """Give the claim up and remove what claiming made, newest first (the lock file; control/ and the
        run folder when the claim made them and they are empty), so a start refused before the run wrote
        anything leaves the folder as it was found. The lock file goes while it is still held: a process
        that opened it meanwhile finds, once it has the lock, that the file is no longer the folder's
        (claim() checks) and opens the new one."""
        lock = RunFolder(self.run_dir).lock
        for path in reversed(self.made):
            try:
                if path == lock:
                    _unlink_lock(self.run_dir)
                    self.release()
                else:
                    self.release()
                    path.rmdir()  # only when empty: anything put there meanwhile stays
            except OSError:
                pass
        self.release()

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def claim(run_dir: str | Path, take_over: bool = False) -> RunLock:
    """Take the run folder for this process (creating the folder if it is missing), or raise
    RunBusyError: its lock is held, or (unless `take_over`) another machine's heartbeat is alive."""
    run_dir = Path(run_dir)
    RunFolder(run_dir).refuse_linked_folders()  # before anything is made in them
    path = RunFolder(run_dir).lock
    made = [folder for folder in (*reversed(path.parent.parents), path.parent) if not os.path.lexists(folder)]
    path.parent.mkdir(parents=True, exist_ok=True)
    if not os.path.lexists(path):
        made.append(path)
    if not _HAS_FLOCK:
        lock = RunLock(run_dir, None, made=tuple(made))
    else:
        for _ in range(10):  # a lock file removed by discard() as it was opened here: open the new one
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
                               "heartbeat is the only guard", tuple(made))
                break
            if _is_the_folders(run_dir, fd):
                lock = RunLock(run_dir, fd, made=tuple(made))
                _write_holder(fd)
                break
            os.close(fd)
        else:
            raise RunBusyError(busy_message(run_dir))
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


def _is_the_folders(run_dir: Path, fd: int) -> bool:
    """The file open as `fd` is still the run's control/lock (not one removed since it was opened)."""
    try:
        here = os.stat(RunFolder(run_dir).lock, follow_symlinks=False)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)


def _unlink_lock(run_dir: Path) -> None:
    """Remove control/lock, never through a link at either level."""
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    lock = RunFolder(run_dir).lock
    folder = os.open(lock.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | nofollow)
    try:
        os.unlink(lock.name, dir_fd=folder)
    finally:
        os.close(folder)


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
