"""The size estimate: counted on the meta device, and too-big widths refused before anything is allocated."""

from __future__ import annotations

import pytest
import torch

from core.cli import main
from core.config import ConfigError
from core.models import build_discriminator, build_generator
from core.models import size as model_size
from core.presets import preset
from core.runs.checkpoint import estimated_bytes
from core.training import session as session_module

from .conftest import tiny


@pytest.mark.parametrize("name", ["default", "mlp", "conditional"])
def test_counts_match_the_built_models(name):
    config = tiny(name)
    size = model_size.estimate(config)
    assert size.g_params == sum(t.numel() for t in build_generator(config).state_dict().values())
    d = sum(t.numel() for t in build_discriminator(config).state_dict().values())
    # Spectral norm's two vectors a layer are left out of the count (default's D has it)
    assert size.d_params == d if not config.model.d_spectral_norm else 0.9 * d < size.d_params < d
    assert size.activation_bytes > 0
    assert size.training_bytes > 4 * 4 * size.params  # weights, gradients, two moments at least
    assert estimated_bytes(config) == size.checkpoint_bytes
    assert model_size.parameters_and_memory(config) == (size.params, size.training_bytes)


def test_the_wider_side_is_named():
    assert model_size.estimate(tiny(**{"model.g_hidden": [256]})).dominant == "model.g_hidden"
    assert model_size.estimate(tiny(**{"model.d_hidden": [256]})).dominant == "model.d_hidden"


def test_free_memory_is_known_on_the_cpu():
    assert model_size.available_bytes(torch.device("cpu")) > 0


def test_too_wide_a_generator_is_refused_naming_the_setting():
    config = preset("default").with_values(**{"model.g_hidden": [8192], "run.device": "cpu"})
    with pytest.raises(ConfigError, match=r"^model\.g_hidden = \[8192\]: .* M parameters; training needs about "
                                          r"[\d.,]+ GB but cpu has 1\.0 GB free"):
        model_size.check_fits(config, torch.device("cpu"), free=10**9)


def test_the_cli_refuses_it_before_allocating(tmp_path, capsys, monkeypatch):
    """`train --set model.g_hidden=[8192]` would allocate ~9 GB: one line, no model built, nothing saved."""
    monkeypatch.setattr(model_size, "available_bytes", lambda device: 16 * 10**9)

    def never(*args, **kwargs):
        raise AssertionError("a model was built")

    monkeypatch.setattr(session_module, "build_generator", never)
    out = tmp_path / "run"
    assert main(["train", "--set", "model.g_hidden=[8192]", "--set", "run.device=cpu", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "model.g_hidden = [8192]" in errors[0] and "16.0 GB free" in errors[0]
    assert "Traceback" not in err
    assert not out.exists()  # refused before the folder was made: nothing trained, saved or claimed
