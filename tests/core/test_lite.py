"""The lite generator (core/models/lite.py): FastGAN's skip-layer excitation wired between its maps, and its
saved generator drawing what the run drew."""

from __future__ import annotations

import torch

from core.models import build_generator
from core.models.lite import LiteGenerator
from core.sharing.export import generate, load_generator, save_generator
from core.training.trainer import train

from .conftest import tiny


def test_each_large_map_is_gated_by_the_map_two_doublings_smaller():
    torch.manual_seed(0)
    # Training mode: BatchNorm scales each map to unit spread (an untrained G in eval mode draws ~its bias)
    G = LiteGenerator(16, (3, 64, 64), base=4, output="tanh").train()
    # 64 px: maps at 4, 8, 16, 32 px; the 4 px map gates the 16 px one and the 8 px map the 32 px one
    assert [(e.gate[1].in_channels, e.gate[1].out_channels) for e in G.excite] == [(32, 8), (16, 4)]
    z = torch.randn(8, 16)
    before = G(z)
    with torch.no_grad():
        for conv in (G.excite[1].gate[1], G.excite[1].gate[3]):  # another gate for the 32 px map
            conv.weight.fill_(0.1)
    after = G(z)
    assert after.shape == (8, 3, 64, 64) and (before - after).abs().max() > 1e-3


def test_a_lite_runs_saved_generator_draws_what_the_run_drew(tmp_path):
    config = tiny(**{"model.arch": "lite", "run.steps": 3})
    session = train(config, run_dir=tmp_path / "run")
    assert session is not None
    drew = session.ema.module if session.ema else session.G
    save_generator(drew, session.config, tmp_path / "g", session.step)
    G, loaded_config, _ = load_generator(tmp_path / "g")
    assert loaded_config.model.arch == "lite"
    assert isinstance(G.net, LiteGenerator)
    fresh = build_generator(loaded_config)
    assert type(fresh.net) is type(G.net)
    drawn = generate(G, loaded_config, 4, seed=5)
    assert drawn.shape[0] == 4 and torch.equal(drawn, generate(drew, session.config, 4, seed=5))
