"""Config validation and JSON/TOML round-trips."""

from __future__ import annotations

import math

import pytest

from core.config import Config, ConfigError, field_docs, load_config, save_config
from core.presets import PRESETS, preset

BASE = Config()


@pytest.mark.parametrize("key, value, words", [
    ("optim.lr_g", -0.001, ["optim.lr_g", "-0.001"]),
    ("optim.lr_d", 0.0, ["optim.lr_d", "0.0"]),
    ("run.batch_size", 0, ["run.batch_size", "0"]),
    ("model.z_dim", 1_000_000_000, ["model.z_dim", "1000000000"]),
    ("optim.lr_g", math.nan, ["optim.lr_g", "nan"]),
    ("loss.label_smoothing", math.inf, ["loss.label_smoothing", "inf"]),
    ("optim.lr_g", "fast", ["optim.lr_g", "'fast'"]),
    ("run.steps", 2.5, ["run.steps", "2.5"]),
    ("run.steps", True, ["run.steps", "True"]),
    ("data.dataset", "imagenet", ["data.dataset", "'imagenet'"]),
    ("loss.kind", "wasserstein", ["loss.kind", "'wasserstein'"]),
    ("model.g_hidden", [32, 0], ["model.g_hidden[1]", "0"]),
    ("model.g_hidden", [], ["model.g_hidden", "()"]),
    ("optim.betas_g", [0.5], ["optim.betas_g", "(0.5,)"]),
    ("optim.betas_d", [0.5, 1.5], ["optim.betas_d[1]", "1.5"]),
    ("model.g_norm", "yes", ["model.g_norm", "'yes'"]),
    ("data.channels", 2, ["data.channels", "2", "1, 3"]),  # numeric choices are listed too
])
def test_bad_value_names_field_and_value(key, value, words):
    with pytest.raises(ConfigError) as info:
        BASE.with_values(**{key: value})
    for word in words:
        assert word in str(info.value)


def test_unknown_field_and_section_refused():
    with pytest.raises(ConfigError, match=r"optim\.lr_x"):
        BASE.with_values(**{"optim.lr_x": 0.1})
    with pytest.raises(ConfigError, match=r"optimizer\.lr_g"):
        BASE.with_values(**{"optimizer.lr_g": 0.1})
    raw = BASE.to_dict()
    raw["model"]["depth"] = 3
    with pytest.raises(ConfigError, match=r"model\.depth"):
        Config.from_dict(raw)
    raw = BASE.to_dict()
    raw["schedule"] = {}
    with pytest.raises(ConfigError, match="schedule"):
        Config.from_dict(raw)


def test_cross_field_rules():
    for arch in ("dcgan", "resnet"):
        with pytest.raises(ConfigError) as info:
            BASE.with_values(**{"model.arch": arch, "data.image_size": 48})
        assert str(info.value) == f"data.image_size = 48: the {arch} model supports 28, 32, 64 or 128 px"
    with pytest.raises(ConfigError, match=r"model\.d_mbstd"):
        BASE.with_values(**{"model.arch": "mlp", "model.d_mbstd": True})
    with pytest.raises(ConfigError, match=r"data\.augment_policy = 'flip': 'flip' is not an augmentation"):
        BASE.with_values(**{"data.augment_policy": "flip"})
    with pytest.raises(ConfigError) as info:
        BASE.with_values(**{"data.dataset": "cifar10", "data.channels": 1, "data.image_size": 32})
    assert "data.channels" in str(info.value) and "1" in str(info.value) and "cifar10" in str(info.value)
    with pytest.raises(ConfigError, match=r"data\.channels = 3"):
        BASE.with_values(**{"data.channels": 3})
    incomplete = BASE.with_values(**{"data.dataset": "folder"})  # valid: the folder preset before one is chosen
    with pytest.raises(ConfigError, match=r"data\.folder = '': choose the folder"):
        incomplete.require_complete()
    # allowed combinations still build
    for size in (28, 32, 64, 128):
        assert BASE.with_values(**{"model.arch": "dcgan", "data.image_size": size}).data.image_size == size


def test_with_values_keeps_the_original_and_converts_types():
    changed = BASE.with_values(**{"optim.lr_g": 1, "model.g_hidden": [8, 16], "optim.betas_g": [0.0, 0.9]})
    assert changed.optim.lr_g == 1.0 and isinstance(changed.optim.lr_g, float)
    assert changed.model.g_hidden == (8, 16)
    assert changed.optim.betas_g == (0.0, 0.9)
    assert BASE.optim.lr_g == 2e-4 and BASE.model.g_hidden == (256, 512, 1024)


def test_overrides_parse_json_values():
    c = BASE.with_overrides(["optim.lr_g=0.001", "model.g_hidden=[16, 8]", "model.conditional=true",
                             "loss.kind=hinge", "model.g_norm=False"])
    assert c.optim.lr_g == 0.001 and c.model.g_hidden == (16, 8) and c.model.conditional is True
    assert c.loss.kind == "hinge" and c.model.g_norm is False
    with pytest.raises(ConfigError, match="optim.lr_g"):
        BASE.with_overrides(["optim.lr_g"])


@pytest.mark.parametrize("name", list(PRESETS))
def test_json_round_trip_every_preset(tmp_path, name):
    path = tmp_path / "c.json"
    save_config(PRESETS[name], path)
    assert load_config(path) == PRESETS[name]


def test_toml_hand_written(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        'preset = "mine"\n'
        "[model]\narch = \"dcgan\"\nz_dim = 32\ng_hidden = [16]\nconditional = true\n"
        "[loss]\nkind = \"hinge\"\nd_steps = 2\n"
        "[optim]\nlr_g = 1e-3\nbetas_g = [0.0, 0.9]\n"
        "[run]\nsteps = 12\nbatch_size = 8\n", encoding="utf-8")
    c = load_config(path)
    assert c.preset == "mine" and c.model.arch == "dcgan" and c.model.z_dim == 32 and c.model.g_hidden == (16,)
    assert c.model.conditional and c.loss.kind == "hinge" and c.loss.d_steps == 2
    assert c.optim.lr_g == 1e-3 and c.optim.betas_g == (0.0, 0.9)
    assert c.run.steps == 12 and c.run.batch_size == 8
    assert c.data == BASE.data  # sections left out keep their defaults
    # and back through JSON unchanged
    save_config(c, tmp_path / "again.json")
    assert load_config(tmp_path / "again.json") == c


def test_toml_bad_value_names_file_and_field(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[optim]\nlr_g = -1.0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "bad.toml" in str(info.value) and "optim.lr_g" in str(info.value) and "-1.0" in str(info.value)


def test_broken_json_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"run": {"steps": 10,', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and "JSON" in str(info.value)
    with pytest.raises(ConfigError, match="missing.json"):
        load_config(tmp_path / "missing.json")
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ConfigError, match="list.json"):
        load_config(tmp_path / "list.json")


def test_unknown_preset_and_field_docs():
    with pytest.raises(ConfigError, match="'nope'"):
        preset("nope")
    docs = field_docs()
    assert "optim.lr_g" in docs and all(docs.values())
