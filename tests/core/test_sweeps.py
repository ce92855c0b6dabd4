"""A sweep's search space (core/sweeps/space.py): the SPACE.toml format, its refusals (one line naming
the file and the setting, before any trial starts), and the Control a trial trains under."""

from __future__ import annotations

import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest

from core.cli import main
from core.config import Config
from core.control import Control
from core.presets import PRESETS
from core.sweeps.space import (
    Param,
    Space,
    SpaceError,
    from_optuna,
    load_space,
    parse_space,
    space_to_toml,
    to_optuna,
    validate_space,
)
from core.sweeps.study import optuna
from core.sweeps.trial_control import TrialControl

ROOT = Path(__file__).resolve().parents[2]
BASE = PRESETS["default"]
EXAMPLE = """
[optim.lr_g]
low = 1e-4
high = 1e-3
log = true

[loss.r1_gamma]
choices = [0.0, 1.0, 10]

[loss.d_steps]   # an int range
low = 1
high = 3
"""


def _space_file(tmp_path, text: str):
    path = tmp_path / "space.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_format_reads_float_int_and_choice_ranges(tmp_path):
    space = load_space(_space_file(tmp_path, EXAMPLE), BASE)
    assert space.params == (
        Param("optim.lr_g", "float", 1e-4, 1e-3, True),
        Param("loss.r1_gamma", "choice", choices=(0.0, 1.0, 10.0)),  # a float setting's choices are floats
        Param("loss.d_steps", "int", 1, 3),
    )
    assert space.keys == ("optim.lr_g", "loss.r1_gamma", "loss.d_steps")


def test_flat_keys_and_list_choices_round_trip_through_toml():
    space = parse_space({"model.g_hidden": {"choices": [[16], [32, 16]]}, "optim": {"lr_d": {"low": 1e-5, "high": 1e-3}},
                         "model": {"g_norm": {"choices": [False, True]}, "d_pack": {"low": 1, "high": 2}}}, BASE, "form")
    assert space.params[0] == Param("model.g_hidden", "choice", choices=((16,), (32, 16)))
    text = space_to_toml(space)
    again = parse_space(tomllib.loads(text), BASE, "saved")
    assert again.keys == ("model.g_hidden", "model.g_norm", "model.d_pack", "optim.lr_d")  # by section
    assert sorted(again.params, key=str) == sorted(space.params, key=str)
    assert space_to_toml(again) == text
    assert "[model.g_hidden]\nchoices = [[16], [32, 16]]" in text and "low = 1e-05" in text and "low = 1\n" in text


def test_suggest_draws_config_values_from_an_optuna_trial():
    space = parse_space({"model": {"g_hidden": {"choices": [[16], [32, 16]]}, "d_pack": {"low": 1, "high": 2}},
                         "optim": {"lr_g": {"low": 1e-4, "high": 1e-3, "log": True}}}, BASE, "form")
    study = optuna().create_study()
    study.enqueue_trial({"model.g_hidden": to_optuna((32, 16))})
    values = space.suggest(study.ask())
    assert values["model.g_hidden"] == (32, 16) and values["model.d_pack"] in (1, 2)
    assert 1e-4 <= values["optim.lr_g"] <= 1e-3
    BASE.with_values(**values)  # what a trial's config takes
    assert from_optuna("model.g_hidden", "[16]") == (16,) and from_optuna("loss.kind", "bce") == "bce"


@pytest.mark.parametrize("text, words", [
    ("", "no settings to vary"),
    ("# only a comment\n", "no settings to vary"),
    ("[optim.lr_x]\nlow = 0.1\nhigh = 0.2\n", "optim.lr_x: unknown setting"),
    ("[optim.lr_g]\nlow = 1e-3\nhigh = 1e-4\n", "optim.lr_g: low = 0.001 must be below high = 0.0001"),
    ("[optim.lr_g]\nlow = 1e-3\nhigh = 1e-3\n", "optim.lr_g: low = 0.001 must be below high"),
    ("[loss.r1_gamma]\nlow = 0.0\nhigh = 10.0\nlog = true\n", "loss.r1_gamma: log = true needs low above 0"),
    ("[loss.r1_gamma]\nlow = 1\nhigh = 10\n", "loss.r1_gamma: takes decimals, but low and high are whole numbers"),
    ("[loss.d_steps]\nlow = 1.0\nhigh = 3.0\n", "loss.d_steps: takes whole numbers"),
    ("[optim.lr_g]\nlow = 1e-4\nhigh = 2.0\n", "optim.lr_g = 2.0: must be a number from 1e-07 to 1 (high of optim.lr_g)"),
    ("[loss.d_steps]\nlow = 0\nhigh = 3\n", "loss.d_steps = 0: must be a whole number from 1 to 20 (low of"),
    ('[loss.kind]\nchoices = ["bce", "nope"]\n', "loss.kind = 'nope': must be one of"),
    ("[loss.r1_gamma]\nchoices = [1.0, 1.0]\n", "loss.r1_gamma: 1.0 is listed twice"),
    ("[loss.r1_gamma]\nchoices = []\n", "loss.r1_gamma: no choices"),
    ("[model.g_norm]\nlow = 0\nhigh = 1\n", "model.g_norm: not a number; list its values instead"),
    ("[run.steps]\nlow = 10\nhigh = 20\n", "run.steps: a sweep does not vary it (the trials' length"),
    ('[data.dataset]\nchoices = ["bundled", "mnist"]\n', "data.dataset: a sweep does not vary it"),
    ("[run.quality_every]\nlow = 10\nhigh = 20\n", "run.quality_every: a sweep does not vary it"),
    ("[optim.lr_g]\nlow = 1e-4\nhgih = 1e-3\n", "optim.lr_g: unknown field 'hgih'"),
    ("[optim.lr_g]\nlow = 1e-4\nhigh = 1e-3\nchoices = [1e-4]\n", "optim.lr_g: either choices or a range"),
    ("[optim.lr_g]\nlow = 1e-4\n", "optim.lr_g: needs low and high"),
    ('[optim.lr_g]\nlow = "small"\nhigh = 1e-3\n', "optim.lr_g: low = 'small': must be a number"),
    ("[optim.lr_g]\nlow = 1e-4\nhigh = 1e-3\nlog = 1\n", "optim.lr_g: log = 1: must be true or false"),
    ('[optim.lr_g]\nlow = 1e-4\nhigh = 1e-3\n["optim.lr_g"]\nchoices = [1e-4]\n', "optim.lr_g: named twice"),
    ("[optim]\n", "[optim] names no setting"),
    ("lr = 3\n", "lr = 3: expected a table per setting"),
    ("[optim.lr_g\nlow = 1\n", "not valid TOML"),
])
def test_a_bad_space_is_one_line_naming_the_file_and_setting(tmp_path, text, words):
    path = _space_file(tmp_path, text)
    with pytest.raises(SpaceError) as e:
        load_space(path, BASE)
    message = str(e.value)
    assert message.startswith(f"{path}: ") and words in message, message
    assert "\n" not in message


def test_every_value_of_a_short_int_range_is_tried_against_the_base():
    packed = BASE.with_values(**{"model.d_pack": 4, "run.batch_size": 16})
    with pytest.raises(SpaceError, match=r"run.batch_size = 17: .*a value in the range; list the ones that work"):
        parse_space({"run": {"batch_size": {"low": 16, "high": 20}}}, packed, "space.toml")
    assert parse_space({"run": {"batch_size": {"choices": [16, 32]}}}, packed, "space.toml")


def test_the_panel_validates_a_space_it_built():
    validate_space(Space((Param("optim.lr_g", "float", 1e-4, 1e-3, True),)), BASE)
    with pytest.raises(SpaceError, match=r"^form: optim.lr_g: takes decimals"):
        validate_space(Space((Param("optim.lr_g", "int", 1, 3),)), BASE, "form")
    with pytest.raises(SpaceError, match=r"^form: loss.d_steps: low = 1.5: must be a whole number"):
        validate_space(Space((Param("loss.d_steps", "int", 1.5, 3),)), BASE, "form")
    with pytest.raises(SpaceError, match="kind 'grid'"):
        validate_space(Space((Param("optim.lr_g", "grid", 1e-4, 1e-3),)), BASE)
    with pytest.raises(SpaceError, match="no settings to vary"):
        validate_space(Space(()), Config())


def test_the_cli_refuses_a_bad_space_file_in_one_line_writing_nothing(tmp_path, capsys):
    path = _space_file(tmp_path, "[optim.lr_x]\nlow = 0.1\nhigh = 0.2\n")
    out = tmp_path / "sweep"
    assert main(["sweep", "--space", str(path), "--trials", "2", "--steps", "4", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: optim.lr_x: unknown setting") and err.count("\n") == 1
    assert not out.exists()


def test_a_trial_control_passes_everything_to_the_sweeps_but_its_own_end():
    public = {name for name in vars(Control) if not name.startswith("__")}
    assert public <= set(vars(TrialControl)), "TrialControl must pass every Control call to the sweep's"
    sweep = Control()
    trial = TrialControl(sweep)
    sweep.pause()
    assert trial.paused and not trial.stopping
    trial.resume()  # from the trial's channel: the sweep resumes
    assert not sweep.paused
    other = threading.Thread(target=trial.pause)  # the trial's control channel, a thread of its own
    other.start()
    other.join()
    assert sweep.paused
    sweep.resume()
    trial.pause()  # the trainer itself (a NaN loss): this trial ends, the sweep is not paused
    assert trial.stopping and trial.ended and not sweep.paused and not sweep.stopping
    assert TrialControl(sweep).take_plan()["stop"] is False
    trial.stop()  # stop is the sweep's
    assert sweep.stopping


def test_the_panels_modules_load_without_torch_or_optuna():
    """The sweep panel imports space and study on the GUI thread: torch and Optuna load on its jobs only."""
    code = ("import sys, core.sweeps.space, core.sweeps.study; "
            "print(sorted(m for m in ('torch', 'optuna', 'sqlalchemy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
