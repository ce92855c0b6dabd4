"""What the command line does when a person names nothing: where runs go (the app's library too), what
`train --help` tells about the settings, and commands it suggests that paste into a shell as printed."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from core.cli import build_parser, main
from core.config import field_docs
from core.runs import lock as run_lock
from core.runs.folder import RunFolderError, check_new_run_folder, default_runs_root

from .test_cli import SMALL


def test_train_without_out_writes_in_the_default_runs_folder_not_the_current_one(tmp_path, monkeypatch):
    root = tmp_path / "library"
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(root))
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--steps", "1", *SMALL]) == 0
    (run,) = root.iterdir()
    assert (run / "checkpoints" / "last.pt").is_file()
    assert not (tmp_path / "runs").exists()  # the old default, in whatever folder the shell was in


def test_the_default_runs_folder_is_the_apps_in_the_home_folder_unless_named(tmp_path, monkeypatch):
    monkeypatch.delenv("GAN_STUDIO_RUNS")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_runs_root() == tmp_path / "GAN Studio runs"
    monkeypatch.setenv("GAN_STUDIO_RUNS", "~/elsewhere")
    assert default_runs_root() == tmp_path / "elsewhere"


def test_train_help_lists_every_setting_with_its_help():
    text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    for key, doc in field_docs().items():
        assert f"\n  {key}\n" in text, key
        assert " ".join(doc.split()[:4]) in " ".join(text.split()), key


def test_train_help_shows_each_settings_choices_bounds_default_and_liveness():
    from core.config import SCHEMA

    text = " ".join(build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    for key, setting in SCHEMA.items():
        assert f"{key} {setting.allowed()}; default " in text, key  # the schema's words, right under its key
    assert "loss.kind one of bce, minimax, lsgan, hinge, wgan-gp, rpgan; default bce How D and G" in text
    assert "data.image_size a whole number from 8 to 256; default 28 " in text
    assert "optim.lr_g a number from 1e-07 to 1; default 0.0002; can change while training" in text
    assert "model.g_hidden a list of 1 to 8 whole numbers, each from 1 to 8192; default [256, 512, 1024]" in text


def test_suggested_commands_quote_a_path_with_spaces(tmp_path):
    run = tmp_path / "GAN Studio runs" / "my run"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    with pytest.raises(RunFolderError) as refused:
        check_new_run_folder(run)
    assert f"python main.py resume {shlex.quote(str(run))} --steps N" in str(refused.value)
    with run_lock.claim(run):
        message = run_lock.busy_message(run)
    command = message.split("`")[1]
    assert shlex.split(command)[:4] == ["python", "main.py", "control", str(run)]


def test_the_cli_suggests_a_fork_with_quoted_paths(tmp_path, capsys):
    run = tmp_path / "a run"
    assert main(["train", "--steps", "1", "--out", str(run), *SMALL]) == 0
    capsys.readouterr()
    new = Path(tmp_path / "new run")
    assert main(["resume", str(run), "--out", str(new)]) == 2
    err = capsys.readouterr().err
    assert f"python main.py fork {shlex.quote(str(run))} --out {shlex.quote(str(new))}" in err
