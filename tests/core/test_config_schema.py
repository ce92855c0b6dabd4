"""The config's schema as data (core/config_schema.py, core.config.SCHEMA): it covers every field, and what
it says (choices, bounds, live) is exactly what the validators accept; one registry of the losses."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from core import control
from core.config import LIVE_SETTINGS, LOSS_KINDS, SCHEMA, SECTION_TYPES, Config, ConfigError
from core.runs import channel

ROOT = Path(__file__).resolve().parents[2]
BASE = Config()


def _section(key: str, value):
    """The field's section built with `value` alone (the section's own rules, not the config's cross-field ones)."""
    section, name = key.split(".", 1)
    return SECTION_TYPES[section](**{name: value})


def _refused(key: str, value) -> str:
    with pytest.raises(ConfigError) as refused:
        _section(key, value)
    assert str(refused.value).startswith(f"{key}"), refused.value
    return str(refused.value)


def test_the_schema_covers_every_field_in_the_configs_order():
    keys = [f"{s}.{f.name}" for s, t in SECTION_TYPES.items() for f in fields(t)]
    assert list(SCHEMA) == keys
    labels = [setting.label for setting in SCHEMA.values()]
    assert all(labels) and len(set(labels)) == len(labels)  # a label of its own for each
    for key, setting in SCHEMA.items():
        assert setting.key == key and setting.help, key
        section, name = key.split(".", 1)
        assert setting.default == getattr(getattr(BASE, section), name), key
        setting.check(key, setting.default)  # the default is allowed


@pytest.mark.parametrize("key", [k for k, s in SCHEMA.items() if s.kind in ("choice", "bool")])
def test_every_choice_passes_and_a_value_outside_fails(key):
    setting = SCHEMA[key]
    assert setting.options
    for option in setting.options:
        assert getattr(_section(key, option), key.split(".", 1)[1]) == option
        assert setting.name_of(option)
    outside = "yes" if setting.kind == "bool" else "not-an-option"
    assert repr(outside) in _refused(key, outside)


@pytest.mark.parametrize("key", [k for k, s in SCHEMA.items() if s.kind in ("int", "float")])
def test_numeric_bounds_are_the_validators(key):
    setting = SCHEMA[key]
    low, high = setting.low, setting.high
    assert low is not None and high is not None and low < high
    _section(key, low)
    _section(key, high)
    if setting.kind == "int":
        below, above = low - 1, high + 1
        assert isinstance(low, int) and isinstance(high, int)
    else:
        below, above = math.nextafter(low, -math.inf), math.nextafter(high, math.inf)
        _section(key, (low + high) / 2)
    for outside in (below, above):
        assert f"from {low:g} to {high:g}" in _refused(key, outside)
    if setting.kind == "int":
        _refused(key, low + 0.5)  # a whole number, not in between
    for word in setting.words:
        _section(key, word)
    if setting.words:
        _refused(key, "many")


@pytest.mark.parametrize("key", [k for k, s in SCHEMA.items() if s.kind == "list"])
def test_list_lengths_and_item_bounds_are_the_validators(key):
    setting = SCHEMA[key]
    least, most = setting.length
    item = setting.low if setting.item == "int" else setting.high
    _section(key, (item,) * least)
    _section(key, (setting.low,) * most)
    _refused(key, (item,) * (least - 1))
    _refused(key, (item,) * (most + 1))
    step = 1 if setting.item == "int" else 1e-9
    assert f"{key}[0]" in _refused(key, (setting.low - step,) * least)
    assert f"{key}[0]" in _refused(key, (setting.high + step,) * least)


def test_live_settings_are_the_schemas_live_fields():
    live = tuple(key for key, setting in SCHEMA.items() if setting.live)
    assert LIVE_SETTINGS == live
    assert set(live) == {"optim.lr_g", "optim.lr_d", "optim.betas_g", "optim.betas_d", "loss.d_steps",
                         "loss.label_smoothing"}
    assert control.LIVE_SETTINGS is LIVE_SETTINGS and channel.LIVE_SETTINGS is LIVE_SETTINGS
    with pytest.raises(ValueError, match="cannot change while training"):
        control.Control().change(BASE, **{"model.z_dim": 8})


def test_one_loss_registry():
    from core.training.losses import LOSSES

    assert list(LOSSES) == list(LOSS_KINDS) == list(SCHEMA["loss.kind"].choices)
    for name, (shown, about) in LOSS_KINDS.items():
        assert LOSSES[name].name == name and shown and about
        assert SCHEMA["loss.kind"].name_of(name) == shown and SCHEMA["loss.kind"].choice_help[name] == about
        assert f"'{name}'" in SCHEMA["loss.kind"].help  # loss.kind's help names each


def test_a_loss_named_in_one_registry_only_is_refused_at_import():
    code = ("import core.config as c\nc.LOSS_KINDS = {**c.LOSS_KINDS, 'relativistic': ('R', 'r')}\n"
            "try:\n    import core.training.losses\nexcept ImportError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "relativistic" in done.stdout and "differ" in done.stdout, done.stdout + done.stderr


def test_what_a_setting_takes_in_plain_words():
    assert SCHEMA["data.image_size"].allowed() == "a whole number from 8 to 256"
    assert SCHEMA["optim.lr_g"].allowed() == "a number from 1e-07 to 1"
    assert SCHEMA["model.clusters"].allowed() == "a whole number from 0 to 100, or auto"
    assert SCHEMA["loss.kind"].allowed() == "one of bce, minimax, lsgan, hinge, wgan-gp, rpgan"
    assert SCHEMA["model.g_hidden"].allowed() == "a list of 1 to 8 whole numbers, each from 1 to 8192"
    assert SCHEMA["optim.betas_g"].allowed() == "two numbers, each from 0 to 0.9999"
    assert SCHEMA["run.tensorboard"].allowed() == "true or false"
    assert SCHEMA["optim.lr_g"].log and not SCHEMA["loss.label_smoothing"].log
