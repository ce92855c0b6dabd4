"""A run writes only inside the folder a person chose: a folder of the run replaced by a symbolic link
(samples/ or checkpoints/ to another disk, control/ to another run) is refused, the same way for every
folder, and nothing is written through it; a timelapse takes no grid from outside the run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from core.cli import main
from core.runs.checkpoint import load_checkpoint
from core.runs.folder import RunFolder, RunFolderError
from core.sharing.timelapse import TimelapseError, make_timelapse

from .test_cli import SMALL


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("linked") / "run"
    assert main(["train", "--steps", "3", "--out", str(run), *SMALL, "--set", "run.checkpoint_every=0",
                 "--set", "model.clusters=0"]) == 0
    (run / "tensorboard").mkdir()
    (run / "control" / "commands").mkdir(exist_ok=True)
    (run / "control" / "acks").mkdir(exist_ok=True)
    return run


@pytest.mark.parametrize("linked", ["samples", "checkpoints", "control", "control/commands", "control/acks",
                                    "tensorboard"])
def test_a_linked_folder_of_the_run_is_refused_and_nothing_is_written_through_it(finished_run, tmp_path, capsys,
                                                                                 linked):
    run, outside = tmp_path / "run", tmp_path / "elsewhere"
    shutil.copytree(finished_run, run, symlinks=True)
    shutil.move(run / linked, outside)  # what the folder held, now outside the run, behind a link
    (run / linked).symlink_to(outside, target_is_directory=True)
    before, kept = _tree(outside), _tree(run / "checkpoints") if linked != "checkpoints" else None
    assert main(["resume", str(run), "--steps", "6"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {run / linked}: a symbolic link to {outside}, outside "
                                                   "the run folder") and "Replace the link with a real folder" in err
    assert _tree(outside) == before  # nothing written, replaced or removed there
    assert kept is None or _tree(run / "checkpoints") == kept
    with pytest.raises(RunFolderError, match="a symbolic link"):
        RunFolder(run).refuse_linked_folders()


def test_a_link_to_a_folder_inside_the_run_is_refused_too(finished_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run, symlinks=True)
    (run / "samples").rename(run / "grids")
    (run / "samples").symlink_to("grids", target_is_directory=True)
    assert main(["resume", str(run), "--steps", "6"]) == 2
    err = capsys.readouterr().err
    assert f"{run / 'samples'}: a symbolic link to grids; a run writes only inside its own folder" in err
    assert load_checkpoint(run)["step"] == 3


def test_a_timelapse_takes_no_grid_from_outside_the_run(finished_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run, symlinks=True)
    secret = tmp_path / "private.png"
    Image.new("RGB", (8, 8), "red").save(secret)
    (run / "samples" / "step_000099.png").symlink_to(secret)
    with pytest.raises(TimelapseError, match=r"step_000099.png: a symbolic link to .*private.png, outside the run "
                                             r"folder; a timelapse takes only the run's own grids"):
        make_timelapse(run, tmp_path / "t.gif")
    assert not (tmp_path / "t.gif").exists()
    (run / "samples" / "step_000099.png").unlink()
    shutil.move(run / "samples", tmp_path / "grids")
    (run / "samples").symlink_to(tmp_path / "grids", target_is_directory=True)
    with pytest.raises(TimelapseError, match=r"samples: a symbolic link to .*grids, outside the run folder"):
        make_timelapse(run, tmp_path / "t.gif")
    (run / "samples").unlink()
    shutil.move(tmp_path / "grids", run / "samples")
    assert make_timelapse(run, tmp_path / "t.gif").is_file()  # the run's own grids: made
