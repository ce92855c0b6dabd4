"""Every preset trains; the seed presets reproduce the seed tutorials' models."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from core import events as ev
from core.models import build_discriminator, build_generator
from core.presets import PRESETS
from core.training.trainer import train

from .conftest import DEVICE, tiny


def _layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if not list(m.children())]


def _kinds(module: nn.Module) -> list[str]:
    return [type(m).__name__ for m in _layers(module)]


def _run_config(name: str, tmp_path, rgb_folder):
    """The preset at its own widths (only batch and step count shrunk); cifar10 swapped for a local folder."""
    values = {"run.batch_size": 8, "run.steps": 3, "run.threads": 1, "run.device": DEVICE, "run.log_every": 1,
              "run.sample_every": 3, "run.grid_size": 4, "run.checkpoint_every": 0}
    if PRESETS[name].data.dataset in ("cifar10", "folder"):  # cifar10 needs the network: a local folder
        values.update({"data.dataset": "folder", "data.folder": str(rgb_folder)})
    return PRESETS[name].with_values(**values)


@pytest.mark.device
@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_trains(name, tmp_path, rgb_folder, recorder):
    config = _run_config(name, tmp_path, rgb_folder)
    session = train(config, on_event=recorder)
    assert recorder.errors() == []
    metrics = recorder.of(ev.Metrics)
    assert [m.step for m in metrics] == [1, 2, 3]
    assert all(math.isfinite(v) for m in metrics for v in (m.g_loss, m.d_loss, m.d_real, m.d_fake))
    samples = recorder.of(ev.Samples)
    assert samples and samples[-1].grid.dtype.name == "uint8" and samples[-1].grid.shape[2] == 3
    finished = recorder.of(ev.Finished)
    assert len(finished) == 1 and finished[0].step == 3 and not finished[0].stopped
    # the models are the preset's: same architecture as a fresh build
    assert _kinds(session.G) == _kinds(build_generator(PRESETS[name]).to("cpu"))
    c = PRESETS[name]
    x = session.G(torch.zeros(2, c.model.z_dim, device=DEVICE),
                  torch.tensor([0, 1], device=DEVICE) if c.model.conditional else None)
    assert x.shape == (2, c.data.channels, c.data.image_size, c.data.image_size)


def test_dcgan_cifar10_model_on_rgb(rgb_folder, recorder):
    """The cifar10 preset's own G/D (3 channels, 32x32, z 100) take a step on local RGB images."""
    c = PRESETS["dcgan-cifar10"]
    assert (c.data.channels, c.data.image_size, c.model.z_dim, c.model.arch) == (3, 32, 100, "dcgan")
    session = train(_run_config("dcgan-cifar10", None, rgb_folder), on_event=recorder)
    assert recorder.errors() == []
    assert _kinds(session.G) == _kinds(build_generator(c))
    assert _kinds(session.D) == _kinds(build_discriminator(c))
    assert session.G(torch.zeros(2, 100)).shape == (2, 3, 32, 32)


def test_seed_000_generator():
    c = PRESETS["seed-000"]
    G = build_generator(c)
    assert c.model.z_dim == 10
    layers = _layers(G)
    linears = [m for m in layers if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (10, 128), (128, 256), (256, 512), (512, 1024), (1024, 784)]
    assert _kinds(G) == ["Linear", "BatchNorm1d", "ReLU"] * 4 + ["Linear", "Sigmoid"]
    assert [m.num_features for m in layers if isinstance(m, nn.BatchNorm1d)] == [128, 256, 512, 1024]
    assert c.model.g_output == "sigmoid" and c.loss.kind == "bce"
    assert G(torch.zeros(3, 10)).shape == (3, 1, 28, 28)


def test_seed_001_discriminator_and_generator():
    c = PRESETS["seed-001"]
    D = build_discriminator(c)
    kinds = _kinds(D)
    assert kinds == ["Linear", "LeakyReLU", "Dropout"] * 3 + ["Linear"]  # logits: no output activation
    assert all(m.negative_slope == 0.2 for m in _layers(D) if isinstance(m, nn.LeakyReLU))
    assert all(m.p == 0.3 for m in _layers(D) if isinstance(m, nn.Dropout))
    assert [m.out_features for m in _layers(D) if isinstance(m, nn.Linear)] == [128, 64, 32, 1]
    G = build_generator(c)
    assert "BatchNorm1d" not in _kinds(G) and _kinds(G)[-1] == "Tanh"
    assert c.model.noise == "uniform" and c.model.z_dim == 100 and c.loss.label_smoothing > 0


def test_seed_004_output_batchnorm_and_optimizer():
    c = PRESETS["seed-004"]
    G = build_generator(c)
    kinds = _kinds(G)
    assert kinds[-3:] == ["Linear", "BatchNorm1d", "Tanh"]
    assert _layers(G)[-2].num_features == 784
    assert kinds.count("BatchNorm1d") == 4 and "LeakyReLU" in kinds
    assert c.optim.betas_g == (0.9, 0.999) and c.optim.betas_d == (0.9, 0.999)
    assert c.optim.lr_g == 2e-4 and c.optim.lr_d == 2e-4
    assert c.loss.label_smoothing > 0


@pytest.mark.parametrize("name", ["default", "mlp"])
def test_improved_presets_avoid_the_seeds_weaknesses(name):
    c = PRESETS[name]
    kinds = _kinds(build_generator(c))
    assert kinds[-1] == "Tanh" and "BatchNorm" not in kinds[-2]  # no BatchNorm on G's output
    assert c.model.g_output_norm is False
    assert c.run.ema > 0


def test_mlp_preset_keeps_the_earlier_recipe():
    c = PRESETS["mlp"]
    assert c.optim.betas_g == (0.5, 0.999) and c.optim.betas_d == (0.5, 0.999)
    assert c.loss.kind == "bce" and c.loss.label_smoothing > 0


def test_default_preset_is_the_sngan_trained_self_conditioned_small_dcgan():
    """Pins the default's shape (issue 8): it must not silently slide back to the earlier recipe,
    whose digits scored a Frechet distance about ten times as high with fours at 4% of samples."""
    c = PRESETS["default"]
    assert c.preset == "default" and not c.model.conditional
    assert c.model.clusters == 50  # self-conditioned on k-means clusters, still unconditional: G(z)
    G = build_generator(c)
    assert G.self_conditioned and G(torch.randn(2, c.model.z_dim)).shape == (2, 1, 28, 28)
    assert (c.model.arch, c.model.z_dim, c.model.g_hidden, c.model.d_hidden) == ("dcgan", 64, (32,), (32,))
    assert c.model.d_spectral_norm and c.loss.kind == "hinge" and c.loss.r1_gamma == 1.0
    assert c.optim.betas_g == (0.0, 0.99) and c.optim.betas_d == (0.0, 0.99)
    assert c.optim.lr_g == c.optim.lr_d == 8e-4
    assert c.run.ema == 0.999 and c.run.ema_warmup
    assert (c.run.steps, c.run.batch_size, c.data.dataset) == (5000, 64, "bundled")
    layers = _kinds(build_discriminator(c))
    assert "BatchNorm2d" not in layers  # spectral normalisation replaces D's BatchNorm


def test_conditional_and_dcgan_presets_keep_the_earlier_recipe():
    for name in ("conditional", "dcgan-mnist", "dcgan-cifar10"):
        c = PRESETS[name]
        assert c.loss.kind == "bce" and not c.model.d_spectral_norm, name
        assert c.optim.betas_g == (0.5, 0.999) and c.optim.lr_g == 2e-4, name


def test_default_preset_is_the_small_dcgan():
    assert PRESETS["default"].model.arch == "dcgan" and PRESETS["mlp"].model.arch == "mlp"


def test_trainer_uses_the_configured_optimizer_settings():
    session = train(tiny("seed-004", **{"run.steps": 1}))
    for opt in (session.opt_g, session.opt_d):
        assert isinstance(opt, torch.optim.Adam)
        assert opt.param_groups[0]["betas"] == (0.9, 0.999) and opt.param_groups[0]["lr"] == 2e-4


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_conditional_models_take_labels(arch):
    c = tiny("conditional", **{"model.arch": arch, "model.g_hidden": [16], "model.d_hidden": [16]})
    torch.manual_seed(0)
    G, D = build_generator(c).eval(), build_discriminator(c).eval()
    z = torch.randn(4, c.model.z_dim)
    y0, y1 = torch.zeros(4, dtype=torch.long), torch.full((4,), 7)
    x0, x1 = G(z, y0), G(z, y1)
    assert x0.shape == (4, 1, 28, 28)
    assert not torch.allclose(x0, x1)  # the label changes what G draws
    out0, out1 = D(x0, y0), D(x0, y1)
    assert out0.shape == (4,)
    assert not torch.allclose(out0, out1)  # and what D thinks of an image
    with pytest.raises(TypeError):
        G(z)  # a conditional G needs its labels


@pytest.mark.device
@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_conditional_trains_and_draws_rows_by_class(arch, recorder):
    c = tiny("conditional", **{"model.arch": arch, "model.g_hidden": [16], "model.d_hidden": [16],
                               "run.steps": 3, "run.sample_every": 3})
    train(c, on_event=recorder)
    assert recorder.errors() == []
    samples = recorder.of(ev.Samples)[-1]
    assert samples.row_labels == tuple(range(10)) and samples.columns == 8
    assert samples.grid.shape[0] == 10 * 28 + 11 * 2  # ten rows of 28 px with 2 px gaps


def test_the_folder_presets_widths_follow_the_device_unless_set(monkeypatch, tmp_path):
    """Narrow on a CPU, wide on a GPU (core/presets.py ON_A_GPU); what the person sets is kept; the CLI's
    train and a sweep's base take the kind of device they will train on."""
    from core import cli
    from core.presets import ON_A_GPU, preset
    from core.sweeps.runner import base_config
    from core.training import device as device_module

    cpu, gpu = preset("folder", "cpu"), preset("folder", "cuda")
    assert cpu == PRESETS["folder"]
    assert list(gpu.model.g_hidden) == ON_A_GPU["folder"]["model.g_hidden"] != list(cpu.model.g_hidden)
    assert preset("default", "cuda") == PRESETS["default"]  # a preset without GPU widths stays itself

    monkeypatch.setattr(device_module, "kind_of", lambda name: "cuda" if name in ("auto", "cuda") else name)
    started: list = []
    monkeypatch.setattr(cli, "run_training", lambda config, *a, **k: started.append(config) or 0)
    monkeypatch.setattr(cli, "_check_start", lambda config: None)  # no GPU here to check it against
    folder = tmp_path / "pics"
    folder.mkdir()
    for args in (["--device", "cuda"], ["--device", "cuda", "--set", "model.g_hidden=[24]"], ["--device", "cpu"]):
        assert cli.main(["train", "--preset", "folder", "--set", f"data.folder={folder}", "--out",
                         str(tmp_path / f"run{len(started)}"), *args]) == 0
    assert [list(c.model.g_hidden) for c in started] == [ON_A_GPU["folder"]["model.g_hidden"], [24],
                                                         list(cpu.model.g_hidden)]
    where = {"data.folder": str(folder)}
    assert list(base_config("folder", where, 10, "cuda").model.d_hidden) == ON_A_GPU["folder"]["model.d_hidden"]
    assert base_config("folder", {**where, "model.d_hidden": [8]}, 10, "cuda").model.d_hidden == (8,)
    assert base_config("folder", where, 10, "cpu").model.d_hidden == cpu.model.d_hidden
