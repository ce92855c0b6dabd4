"""Never lose a run: no overwrite of a folder that holds one, no temp litter, files with the umask's modes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core import events as ev
from core.cli import main
from core.runs.checkpoint import load_checkpoint
from core.runs.folder import RunFolderError, check_new_run_folder, new_run_path
from core.training.trainer import train

from .conftest import tiny
from .test_cli import ROOT, SMALL


def _tree(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below `folder` with its bytes and modification time."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("safety") / "run"
    assert main(["train", "--steps", "4", "--out", str(run), *SMALL]) == 0
    return run


def test_cli_train_into_a_run_folder_refuses_and_changes_nothing(finished_run, capsys):
    before = _tree(finished_run)
    assert main(["train", "--steps", "2", "--out", str(finished_run), *SMALL]) == 2
    err = capsys.readouterr().err
    assert str(finished_run) in err and "already holds a run at step 4" in err
    assert f"python main.py resume {finished_run}" in err and "--out" in err
    assert _tree(finished_run) == before


def test_trainer_refuses_a_run_folder_and_writes_nothing(finished_run, recorder):
    before = _tree(finished_run)
    assert train(tiny(), on_event=recorder, run_dir=finished_run) is None
    (error,) = recorder.errors()
    assert "already holds a run" in error
    assert recorder.of(ev.Finished)[0].run_dir == ""  # nothing to open afterwards
    assert _tree(finished_run) == before


def test_empty_or_new_folders_are_fine_and_files_are_refused(tmp_path):
    check_new_run_folder(tmp_path / "new")
    (tmp_path / "empty").mkdir()
    check_new_run_folder(tmp_path / "empty")
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunFolderError, match="is a file"):
        check_new_run_folder(tmp_path / "file")


def test_new_run_paths_never_collide(tmp_path):
    first = new_run_path(tmp_path, "run")
    second = new_run_path(tmp_path, "run")  # the same second: the folder is made, not just looked for
    third = new_run_path(tmp_path, "run")
    assert (first.name, second.name, third.name) == ("run", "run-2", "run-3")
    assert all(p.is_dir() and not any(p.iterdir()) for p in (first, second, third))
    dated = [new_run_path(tmp_path / "runs"), new_run_path(tmp_path / "runs")]  # two runs without --out
    assert dated[0] != dated[1] and all(p.is_dir() for p in dated)


KILL_DURING_SAVE = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, sys.argv[2])
    from core.atomic import atomic_write

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(b"x" * 100_000)
            f.flush()
        os.kill(os.getpid(), signal.SIGKILL)  # killed mid-save, as by kill -9

    atomic_write(sys.argv[1], write)
""")


def test_temp_files_of_a_killed_save_are_removed_when_the_run_is_opened_again(finished_run, tmp_path):
    run = tmp_path / "run"
    subprocess.run(["cp", "-a", str(finished_run), str(run)], check=True)
    for target in (run / "checkpoints" / "last.pt", run / "generator.safetensors"):
        killed = subprocess.run([sys.executable, "-c", KILL_DURING_SAVE, str(target), str(ROOT)])
        assert killed.returncode == -9
    litter = sorted(p.name for p in run.rglob(".*.tmp"))
    assert len(litter) == 2 and litter[0].startswith(".generator.safetensors.")
    other = run / ".notes.tmp"  # not our naming: left alone
    other.write_text("mine")
    assert load_checkpoint(run)["step"] == 4  # the kill left the old checkpoint intact

    assert main(["resume", str(run), "--steps", "5"]) == 0
    assert sorted(p.name for p in run.rglob(".*.tmp")) == [".notes.tmp"]
    assert load_checkpoint(run)["step"] == 5


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        assert main(["train", "--steps", "3", "--out", str(tmp_path / "run"), *SMALL]) == 0
    finally:
        os.umask(old)
    run = tmp_path / "run"
    for name in ("generator.safetensors", "generator.json", "checkpoints/last.pt", "config.json",
                 "metrics.csv", "samples/step_000003.png"):
        assert stat.S_IMODE((run / name).stat().st_mode) == mode, name
