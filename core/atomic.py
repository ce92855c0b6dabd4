"""Files written whole or not at all, with the umask's permissions, and their temp files cleaned up;
a write that fails for want of space says so (DiskFull); a free name beside an existing file (free_path).

Torch-free, so the small-file readers and writers (heartbeat, run library) stay light.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; a temp file is taken for a killed writer's by its age alone
    fcntl = None  # type: ignore[assignment]

# Our temp files: ".<target name>.<8 random characters>.tmp" beside the target (the random part was
# drawn by tempfile.mkstemp before, by secrets now: both are matched, nothing else is).
TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$")
# A temp file (or folder) of a target being written is locked (flock) by its writer for the write's life.
# One unlocked and untouched this long was left by a writer that was killed (kill -9, a power cut): the
# next write of the same target removes it. The age only covers the instant between creating and locking.
STALE_AFTER_S = 2.0
# Where flock is missing (Windows), age alone: a temp file untouched for a day.
STALE_UNLOCKABLE_S = 86_400.0

# Out of space, out of quota, or past a file size limit (ulimit -f): "the disk is full" to a person.
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
# The same failures as other writers word them: torch's zip writer (its RuntimeError drops the errno),
# numpy's tofile (an OSError without one), and safetensors' Rust I/O error.
FULL_MESSAGES = re.compile(r"unexpected pos \d+ vs \d+|PytorchStreamWriter failed|file write failed|"
                           r"\d+ requested and \d+ written|os error (?:%s)\b" % "|".join(map(str, sorted(FULL_ERRNOS))))


class DiskFull(OSError):
    """A write that failed for want of space; str() is one line saying what was full (and, where the
    raiser knows, what was not written and what was kept)."""

    def __init__(self, path: str | Path, message: str | None = None):
        self.path = Path(path)
        super().__init__(errno.ENOSPC, message or f"the disk is full ({self.path})")

    def __str__(self) -> str:
        assert self.strerror is not None  # __init__ always passes a message
        return self.strerror


def is_disk_full(e: BaseException | None) -> bool:
    """`e` (or an exception it was raised from) is a write that failed for want of space."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in FULL_ERRNOS:
            return True
        if isinstance(e, Exception) and FULL_MESSAGES.search(str(e)):
            return True
        e = e.__cause__ or e.__context__
    return False


def free_path(path: str | Path) -> Path:
    """`path`, or the first of path-2, path-3, ... (before the suffix) that does not exist yet: a new
    file beside an earlier one of the same name never replaces it."""
    path = Path(path)
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def atomic_write(path: str | Path, write) -> None:
    """Call write(tmp_path) on a temp file beside `path`, then move it into place,
    so a crash mid-write leaves the old file intact. On any failure the temp file is removed;
    one for want of space is raised as DiskFull naming `path`.

    The file gets mode 0666 less the umask, as any program's files do (a private 0600 temp
    file, or one a library writes privately, would survive the rename and keep a shared run
    folder unreadable)."""
    path = Path(path)
    with _full_as_disk_full(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps_of(path)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        held = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            _lock(held)  # this temp file is in use: no other write of `path` takes it for a stale one
            write(str(tmp))
            os.chmod(tmp, 0o666 & ~_umask())
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):  # the first error is the one to report
                tmp.unlink(missing_ok=True)
            raise
        finally:
            os.close(held)


def atomic_folder(path: str | Path, fill) -> None:
    """Call fill(tmp_folder) on a new temp folder beside `path` (files only), then move it into place,
    so a failure part-way leaves nothing behind; one for want of space is raised as DiskFull naming
    `path`. Into a folder that already holds files, the new files are moved in one by one (renames:
    they take no space), replacing any of the same names: the caller was told to overwrite."""
    path = Path(path)
    with _full_as_disk_full(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps_of(path)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        tmp.mkdir()  # 0777 less the umask, as any folder
        held = os.open(tmp, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            _lock(held)
            fill(tmp)
            if path.is_dir() and any(path.iterdir()):
                for p in sorted(tmp.iterdir()):
                    os.replace(p, path / p.name)
                tmp.rmdir()
            else:
                if path.is_dir():
                    path.rmdir()  # empty: os.replace onto a folder is not portable
                os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            os.close(held)


def _lock(fd: int) -> None:
    if fcntl is not None:
        with contextlib.suppress(OSError):  # a file system that cannot lock: the age guards instead
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def remove_stale_temps_of(path: str | Path) -> list[Path]:
    """Remove the temp files (and folders) an earlier write of `path` left beside it when its writer was
    killed: ours by name, of this target alone, and only when no writer holds them (an unlocked one
    untouched for STALE_AFTER_S; without flock, one a day old). A person's output then cleans up after
    a killed `sample` or `export` on the next write there, as a run folder does when it is opened."""
    path = Path(path)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        found = TEMP_NAME.match(entry.name)
        if found is None or found.group("target") != path.name:
            continue
        try:
            if entry.is_symlink() or now - entry.stat(follow_symlinks=False).st_mtime < STALE_AFTER_S:
                continue
            if _remove_unheld(Path(entry.path), entry.is_dir(follow_symlinks=False), now):
                removed.append(Path(entry.path))
        except OSError:
            pass  # gone meanwhile, or not ours to remove
    return removed


def _remove_unheld(tmp: Path, folder: bool, now: float) -> bool:
    """Remove `tmp` if no writer holds its lock (taking the lock first, so none can start holding it)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(tmp, flags | (getattr(os, "O_DIRECTORY", 0) if folder else 0))
    try:
        if fcntl is None:
            if now - os.fstat(fd).st_mtime < STALE_UNLOCKABLE_S:
                return False
        else:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # its writer is alive
            except OSError:  # a file system that cannot lock: age alone
                if now - os.fstat(fd).st_mtime < STALE_UNLOCKABLE_S:
                    return False
        if folder:
            shutil.rmtree(tmp)
        else:
            tmp.unlink()
        return True
    finally:
        os.close(fd)


@contextlib.contextmanager
def _full_as_disk_full(path: Path):
    try:
        yield
    except DiskFull:
        raise
    except Exception as e:
        if is_disk_full(e):
            raise DiskFull(path) from e
        raise


def _umask() -> int:
    """The process's umask, read without changing it where the OS allows (Linux), since
    setting it to read it back races with other threads creating files."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete the temp files an interrupted atomic_write left in `folder` (ours only, by name);
    return them. Call only where no save is under way (a run folder being opened)."""
    removed: list[Path] = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for p in entries:
        if TEMP_NAME.match(p.name) and p.is_file():
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass  # not ours to fight over: another user's file, or gone already
    return removed
