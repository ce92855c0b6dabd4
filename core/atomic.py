"""Files written whole or not at all, with the umask's permissions, and their temp files cleaned up.

Torch-free, so the small-file readers and writers (heartbeat, run library) stay light.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

# Our temp files: ".<target name>.<8 random characters>.tmp" beside the target (the random part was
# drawn by tempfile.mkstemp before, by secrets now: both are matched, nothing else is).
TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$")


def atomic_write(path: str | Path, write) -> None:
    """Call write(tmp_path) on a temp file beside `path`, then move it into place,
    so a crash mid-write leaves the old file intact.

    The file gets mode 0666 less the umask, as any program's files do (a private 0600 temp
    file, or one a library writes privately, would survive the rename and keep a shared run
    folder unreadable)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(str(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
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
    removed = []
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
