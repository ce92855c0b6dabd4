"""A writer killed mid-write (kill -9 of `sample` or `export`) leaves its temp file beside the output a
person named; the next write there removes it: ours by name and target, never one a live writer holds."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from core.atomic import atomic_write, remove_stale_temps_of
from core.cli import main

from .test_cli import ROOT, SMALL

# A writer that is killed while it writes: it says where its temp file is, then waits to be killed.
KILLED_MID_WRITE = textwrap.dedent("""
    import sys, threading
    sys.path.insert(0, sys.argv[1])
    from core.atomic import atomic_write

    def write(tmp):
        open(tmp, "wb").write(b"half a file")
        print(tmp, flush=True)
        threading.Event().wait()  # until kill -9

    atomic_write(sys.argv[2], write)
""")


def _age(path, seconds=60):
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_the_temp_file_of_a_killed_writer_goes_with_the_next_write_of_that_file(tmp_path):
    out = tmp_path / "samples.npy"
    writer = subprocess.Popen([sys.executable, "-c", KILLED_MID_WRITE, str(ROOT), str(out)], stdout=subprocess.PIPE,
                              text=True)
    try:
        left = tmp_path / os.path.basename(writer.stdout.readline().strip())
        assert left.is_file() and left.name.startswith(".samples.npy.") and left.name.endswith(".tmp")
        _age(left)
        assert remove_stale_temps_of(out) == []  # its writer is alive and holds it: not stale, whatever its age
    finally:
        writer.kill()  # kill -9: nothing of the writer's runs after this
        writer.wait(60)
    assert left.is_file()
    atomic_write(out, lambda tmp: Path(tmp).write_bytes(b"a whole file"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.npy"]


def test_only_our_temp_files_of_that_target_that_nobody_holds_are_removed(tmp_path):
    out = tmp_path / "grid.png"
    stale, young, held = (tmp_path / f".grid.png.{k}.tmp" for k in ("aaaa1111", "bbbb2222", "cccc3333"))
    other_target, not_ours = tmp_path / ".other.png.dddd4444.tmp", tmp_path / ".grid.png.tmp"
    folder = tmp_path / ".grid.png.eeee5555.tmp"  # a killed atomic_folder's, with what it had written
    folder.mkdir()
    (folder / "sample_00000.png").write_bytes(b"png")
    for p in (stale, young, held, other_target, not_ours):
        p.write_bytes(b"x")
    for p in (stale, held, other_target, not_ours, folder):
        _age(p)
    fd = os.open(held, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a live writer's
        assert sorted(p.name for p in remove_stale_temps_of(out)) == [stale.name, folder.name]
    finally:
        os.close(fd)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (young, held, other_target, not_ours))


def test_sample_cleans_up_after_its_killed_self(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--steps", "1", "--out", str(run), *SMALL]) == 0
    out = tmp_path / "mine"
    out.mkdir()
    left = out / ".samples.npy.0a1b2c3d.tmp"  # what kill -9 of `sample --out mine/samples.npy` left
    left.write_bytes(b"\x93NUMPY half")
    _age(left)
    (out / "notes.txt").write_text("a person's file")
    assert main(["sample", str(run), "--n", "4", "--out", str(out / "samples.npy")]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "samples.npy"]
