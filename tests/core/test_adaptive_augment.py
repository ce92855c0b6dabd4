"""Adaptive augmentation (StyleGAN2-ADA's rule): the chance of augmenting follows how sure D is of the
real pictures; a partial strength augments only some pictures; the state survives a checkpoint."""

from __future__ import annotations

import math

import torch

from core import events as ev
from core.data.datasets import ImageSet
from core.presets import PRESETS
from core.runs.folder import RunFolder, read_csv
from core.training.augment import AdaptiveStrength, diff_augment
from core.training.session import Session
from core.training.trainer import train
from tests.core.conftest import Recorder

CPU = torch.device("cpu")


def _steps(ada: AdaptiveStrength, d_real: torch.Tensor, steps: int) -> None:
    for _ in range(steps):
        ada.observe(d_real)


def test_a_too_sure_discriminator_strengthens_the_augmentation():
    ada = AdaptiveStrength(target=0.6, device=CPU)
    sure = torch.full((64,), 3.0)  # every real picture called real: r_t = 1 > 0.6
    _steps(ada, sure, AdaptiveStrength.INTERVAL)
    first = ada.p
    assert first > 0 and ada.last_r == 1.0
    _steps(ada, sure, 10 * AdaptiveStrength.INTERVAL)
    assert ada.p > first  # keeps rising while D stays too sure


def test_an_unsure_discriminator_weakens_it_down_to_none():
    ada = AdaptiveStrength(target=0.6, device=CPU, p=0.01)
    unsure = torch.tensor([1.0, -1.0] * 32)  # half called real: r_t = 0 < 0.6
    _steps(ada, unsure, AdaptiveStrength.INTERVAL)
    assert 0 <= ada.p < 0.01 and ada.last_r == 0.0
    _steps(ada, unsure, 100 * AdaptiveStrength.INTERVAL)
    assert ada.p == 0.0  # never below none


def test_it_moves_only_once_an_interval():
    ada = AdaptiveStrength(target=0.6, device=CPU)
    _steps(ada, torch.ones(8), AdaptiveStrength.INTERVAL - 1)
    assert ada.p == 0.0 and math.isnan(ada.last_r)


def test_its_state_round_trips_mid_interval():
    ada = AdaptiveStrength(target=0.6, device=CPU)
    _steps(ada, torch.ones(8), AdaptiveStrength.INTERVAL + 1)
    again = AdaptiveStrength(target=0.6, device=CPU)
    again.load_state_dict(ada.state_dict())
    _steps(ada, torch.ones(8), 3)
    _steps(again, torch.ones(8), 3)
    assert again.p == ada.p and again.state_dict() == ada.state_dict()


def test_a_partial_strength_augments_some_pictures_and_leaves_the_rest():
    x = torch.rand(200, 3, 16, 16) * 2 - 1
    g = torch.Generator().manual_seed(0)
    assert diff_augment(x, ("color", "translation", "cutout"), g, p=0.0) is x
    y = diff_augment(x, ("cutout",), g, p=0.3)
    changed = (y != x).flatten(1).any(1).float().mean().item()
    assert 0.15 < changed < 0.45  # about 30% of the pictures, the others untouched
    full = diff_augment(x, ("cutout",), g, p=1.0)
    assert (full != x).flatten(1).any(1).all()


def test_a_partial_strength_passes_gradients_to_every_picture():
    x = (torch.rand(32, 3, 8, 8) * 2 - 1).requires_grad_()
    diff_augment(x, ("color", "translation"), torch.Generator().manual_seed(1), p=0.5).sum().backward()
    assert x.grad is not None and (x.grad.flatten(1).abs().sum(1) > 0).all()


def _folder_config(tmp_path, **more):
    values = {"data.folder": str(tmp_path), "model.g_hidden": [8], "model.d_hidden": [8], "model.z_dim": 8,
              "run.batch_size": 8, "run.device": "cpu", "run.quality_every": 0, "run.fid_every": 0,
              "run.sample_every": 1000, "run.checkpoint_every": 0, "run.keep_every": 0, "run.log_every": 4,
              "data.image_size": 32, "model.clusters": 0, **more}
    return PRESETS["folder"].with_values(**values)


def test_auto_is_adaptive_for_a_small_folder_and_the_session_keeps_its_strength(tmp_path):
    images = torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    s = Session(_folder_config(tmp_path), ImageSet(images, None, "pictures"), CPU)
    assert s.ada is not None and s.augment_strength() == 0.0
    s.ada.p = 0.25
    state = s.state_dict()
    t = Session(_folder_config(tmp_path), ImageSet(images, None, "pictures"), CPU)
    t.load_state_dict(state)
    assert t.augment_strength() == 0.25
    on = Session(_folder_config(tmp_path, **{"data.augment": "on"}), ImageSet(images, None, "pictures"), CPU)
    assert on.ada is None and math.isnan(on.augment_strength()) and on.augment


def test_the_strength_is_reported_and_written_to_metrics_csv(tmp_path, rgb_folder):
    run = tmp_path / "run"
    recorder = Recorder()
    train(_folder_config(rgb_folder, **{"run.steps": 8, "data.cache_dir": str(tmp_path / "cache")}), on_event=recorder,
          run_dir=run)
    metrics = recorder.of(ev.Metrics)
    assert metrics and all(0.0 <= m.augment <= 1.0 for m in metrics)
    rows = read_csv(RunFolder(run).metrics, None)
    assert [float(r["augment"]) for r in rows] == [m.augment for m in metrics]
