"""One rule for what resuming a run means (core/runs/resume.py), for the CLI and the app alike: to its
planned steps; a finished run trains nothing more unless a new total is given, and says how."""

from __future__ import annotations

import shlex
import shutil

import pytest

from core.cli import main
from core.runs.checkpoint import load_checkpoint
from core.runs.folder import RunFolderError
from core.runs.resume import plan_resume, resume_plan

from .test_cli import SMALL


def test_the_rule():
    going = plan_resume("r", step=400, planned=1000)
    assert (going.total, going.finished) == (1000, False)
    done = plan_resume("r", step=1000, planned=1000)
    assert done.finished and done.total == 1000 and done.suggested == 2000  # never doubled on its own
    assert "it finished its 1,000 planned steps; nothing to train" in done.message
    assert "python main.py resume r --steps N with N past 1,000 (e.g. 2,000)" in done.message
    more = plan_resume("r", step=1000, planned=1000, total=1500)
    assert (more.total, more.finished) == (1500, False)
    short = plan_resume("r", step=1000, planned=2000, total=800)
    assert short.finished and "--steps 800 is not past the step it reached" in short.message


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("plan") / "a finished run"
    assert main(["train", "--steps", "2", "--out", str(run), *SMALL, "--set", "model.clusters=0"]) == 0
    return run


def test_a_run_folder_read_without_loading_it(finished_run, tmp_path):
    plan = resume_plan(finished_run)
    assert (plan.step, plan.total, plan.finished, plan.suggested) == (2, 2, True, 4)
    assert f"python main.py resume {shlex.quote(str(finished_run))} --steps N" in plan.message  # it pastes
    assert resume_plan(finished_run, total=5).finished is False
    with pytest.raises(RunFolderError, match="nothing to resume"):
        resume_plan(tmp_path)


def test_the_cli_follows_the_rule(finished_run, tmp_path, capsys):
    run = tmp_path / "copy"
    shutil.copytree(finished_run, run)
    assert main(["resume", str(run)]) == 0
    assert capsys.readouterr().out.strip() == resume_plan(run).message
    assert load_checkpoint(run)["step"] == 2  # nothing trained, nothing doubled
    assert main(["resume", str(run), "--steps", "3"]) == 0
    assert load_checkpoint(run)["step"] == 3
