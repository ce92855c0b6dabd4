"""TensorBoard events in the run folder, read back with tensorboard's own reader; generator snapshots."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core import events as ev
from core.cli import main
from core.models import build_generator
from core.presets import preset
from core.training.trainer import train

from .conftest import Run, tiny
from .test_cli import SMALL


def test_train_with_tensorboard_writes_scalars_grids_and_hparams(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    run = tmp_path / "run"
    assert main(["train", "--steps", "6", "--out", str(run), *SMALL, "--set", "run.tensorboard=true",
                 "--set", "run.quality_every=3"]) == 0
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"loss/G", "loss/D", "D/real", "quality/frechet"} <= set(tags["scalars"])
    assert [e.step for e in acc.Scalars("loss/G")] == [2, 4, 6]
    assert [e.step for e in acc.Scalars("quality/frechet")] == [3, 6]
    assert [e.step for e in acc.Images("samples")] == [3, 6]
    assert "config/text_summary" in tags["tensors"]
    start = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(start).session_start_info.hparams
    assert hparams["optim.lr_g"].number_value == pytest.approx(preset("default").optim.lr_g) and hparams["model.arch"].string_value == "dcgan"


def test_no_tensorboard_folder_unless_asked(tmp_path):
    train(tiny(), run_dir=tmp_path / "run")
    assert not (tmp_path / "run" / "tensorboard").exists()


def test_a_snapshot_is_the_sampling_generator_as_plain_arrays(tmp_path):
    config = tiny(**{"run.steps": 100, "run.ema": 0.9})
    run = Run(config, pause_at=2)
    index = run.paused_at(2)
    run.control.request_snapshot()
    snap = run.events.wait_for(lambda e: isinstance(e, ev.GeneratorSnapshot))
    run.finish()
    assert snap.step == 2 and all(isinstance(v, np.ndarray) for v in snap.weights.values())
    assert snap.fixed_noise.shape == (4, config.model.z_dim) and snap.columns == 2
    G = build_generator(config)
    G.load_state_dict({k: torch.from_numpy(v) for k, v in snap.weights.items()})  # a model any thread can own
    assert index < run.events.events.index(snap)
