"""Kept checkpoints and forks: a new run from any kept moment, the parent untouched."""

from __future__ import annotations

import csv
import json

import pytest

from core import events as ev
from core.cli import main
from core.config import load_config
from core.runs.checkpoint import load_checkpoint
from core.runs.folder import kept_checkpoints, read_lineage
from core.runs.fork import ForkError, prepare_fork
from core.training.trainer import train

from .conftest import tiny
from .test_run_safety import _tree


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    run = tmp_path_factory.mktemp("fork") / "parent"
    config = tiny(**{"run.steps": 8, "run.keep_every": 2, "run.keep_last": 3, "run.sample_every": 2})
    train(config, run_dir=run)
    return run


def _steps(path):
    with open(path, newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


def test_kept_checkpoints_are_pruned_to_keep_last(parent):
    assert kept_checkpoints(parent) == [4, 6, 8]  # step 2 went: keep_last = 3
    assert load_checkpoint(parent / "checkpoints" / "step_000004.pt")["step"] == 4
    assert read_lineage(parent)["parent"] is None


def test_fork_from_a_kept_step_trains_on_with_changes_and_leaves_the_parent(parent, tmp_path, capsys):
    before = _tree(parent)
    out = tmp_path / "child"
    assert main(["fork", str(parent / "checkpoints" / "step_000004.pt"), "--out", str(out), "--set",
                 "optim.lr_g=0.0001", "--steps", "7"]) == 0
    assert "forking" in capsys.readouterr().out
    assert _tree(parent) == before  # the parent's folder was only read
    lineage = read_lineage(out)
    assert lineage["parent"] == str(parent.resolve()) and lineage["fork_step"] == 4
    assert _steps(out / "metrics.csv") == [5, 6, 7]  # the step count goes on from the fork
    config = load_config(out / "config.json")
    assert config.optim.lr_g == 1e-4 and config.run.steps == 7
    assert load_checkpoint(out)["step"] == 7


def test_a_fork_without_changes_continues_exactly_as_the_parent(parent, tmp_path, recorder):
    config, checkpoint, lineage = prepare_fork(parent / "checkpoints" / "step_000006.pt")
    assert config.run.steps == 8
    train(config, on_event=recorder, run_dir=tmp_path / "same", checkpoint=checkpoint, lineage=lineage)
    with open(parent / "metrics.csv", newline="") as f:
        rows = {int(r["step"]): r for r in csv.DictReader(f)}
    for m in recorder.of(ev.Metrics):
        assert float(rows[m.step]["g_loss"]) == pytest.approx(m.g_loss, abs=1e-6)


def test_forks_refuse_model_changes_existing_folders_and_too_few_steps(parent, tmp_path):
    with pytest.raises(ForkError, match="model.z_dim"):
        prepare_fork(parent, {"model.z_dim": 8})
    with pytest.raises(ValueError, match="run.steps = 3"):
        prepare_fork(parent / "checkpoints" / "step_000004.pt", steps=3)
    assert main(["fork", str(parent), "--out", str(parent)]) == 2  # a folder that holds a run


def test_fork_of_a_finished_run_gets_more_steps_by_default(parent):
    config, checkpoint, _ = prepare_fork(parent)
    assert checkpoint["step"] == 8 and config.run.steps == 16


def test_config_json_records_world_size_and_still_loads(parent):
    raw = json.loads((parent / "config.json").read_text())
    assert raw["world_size"] == 1
    assert load_config(parent / "config.json").run.steps == 8


def test_resume_refuses_an_earlier_checkpoint_of_a_run(parent, capsys):
    before = _tree(parent)
    assert main(["resume", str(parent / "checkpoints" / "step_000004.pt"), "--steps", "20"]) == 2
    err = capsys.readouterr().err
    assert "earlier moment" in err and "python main.py fork" in err
    assert _tree(parent) == before


# --- a fork starts from its parent's settings; resume keeps the run's own; names and notes ---


def test_run_settings_are_config_json_with_the_live_changes_made_by_then(parent, tmp_path):
    from core.runs.fork import run_settings

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text((parent / "config.json").read_text())
    (run / "changes.jsonl").write_text('{"step": 3, "changes": {"optim.lr_g": 0.001}}\n'
                                       'not json\n'
                                       '{"step": 6, "changes": {"optim.lr_g": 0.002, "loss.d_steps": 2}}\n')
    assert run_settings(run, 2).optim.lr_g == load_config(run / "config.json").optim.lr_g
    assert run_settings(run, 4).optim.lr_g == 0.001
    end = run_settings(run)
    assert end.optim.lr_g == 0.002 and end.loss.d_steps == 2
    with pytest.raises(ValueError, match="config.json"):
        run_settings(tmp_path / "missing")


def test_checkpoint_step_knows_kept_checkpoints_and_a_finished_runs_last(parent, tmp_path):
    from core.runs.folder import last_checkpoint_step
    from core.runs.fork import checkpoint_step

    assert checkpoint_step(parent / "checkpoints" / "step_000006.pt") == 6
    assert checkpoint_step(parent / "checkpoints" / "last.pt") == 8 == last_checkpoint_step(parent)
    assert last_checkpoint_step(tmp_path) is None  # no checkpoint there


def test_resume_changes_allow_steps_and_live_settings_and_refuse_the_rest(parent):
    from core.runs.fork import resume_changes

    own = load_config(parent / "config.json")
    wanted = own.with_values(**{"run.steps": 20, "optim.lr_d": 1e-3, "loss.kind": "lsgan", "model.z_dim": 8})
    allowed, refused = resume_changes(own, wanted)
    assert allowed == {"run.steps": 20, "optim.lr_d": 1e-3}
    assert set(refused) == {"loss.kind", "model.z_dim"}
    assert "fork" in refused["loss.kind"] and "model" in refused["model.z_dim"]
    assert resume_changes(own, own) == ({}, {})


def test_a_fork_with_no_changes_keeps_a_hinge_parents_settings(tmp_path):
    hinge = tmp_path / "hinge"
    config = tiny(**{"run.steps": 4, "loss.kind": "hinge", "loss.r1_gamma": 1.0, "optim.lr_g": 1e-4,
                     "optim.betas_g": [0.0, 0.9], "loss.label_smoothing": 0.0})
    train(config, run_dir=hinge)
    fork, _, _ = prepare_fork(hinge, changes={"run.steps": 6})
    assert fork.run.steps == 6  # asked for steps are kept, even from a finished parent
    for key in ("loss.kind", "loss.r1_gamma", "optim.lr_g", "optim.betas_g", "loss.label_smoothing"):
        section, name = key.split(".")
        assert getattr(getattr(fork, section), name) == getattr(getattr(config, section), name), key


def test_names_and_notes_go_to_run_json_and_keep_its_other_keys(tmp_path, parent):
    from core.runs.notes import clean_names, display_name, read_names, write_names

    out = tmp_path / "named"
    assert main(["train", "--preset", "default", "--set", "model.g_hidden=[32]", "--set", "model.d_hidden=[32]",
                 "--set", "run.batch_size=16", "--set", "run.threads=1", "--set", "run.checkpoint_every=0",
                 "--steps", "2", "--device", "cpu", "--out", str(out), "--name", "Hinge  baseline",
                 "--notes", "first try\nwith r1"]) == 0
    assert read_names(out) == ("Hinge baseline", "first try with r1")  # one line each
    created = read_lineage(out)["created"]
    write_names(out, "Renamed", "")
    assert read_lineage(out)["created"] == created and read_names(out) == ("Renamed", "")
    assert display_name(out) == "Renamed" and display_name(parent) == "parent"  # no name: the folder's
    with pytest.raises(ValueError, match="run name"):
        clean_names("x" * 500)
    with pytest.raises(ValueError, match="holds no run"):
        write_names(tmp_path / "nothing", "a")
    assert not (tmp_path / "nothing").exists()
