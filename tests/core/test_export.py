"""Generator export and sample files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from core.models import build_generator
from core.sharing.export import ExportError, export_samples, generate, load_generator, save_generator

from .conftest import tiny


@pytest.fixture(scope="module")
def uncond():
    config = tiny(**{"model.z_dim": 8})
    torch.manual_seed(0)
    return build_generator(config).eval(), config


@pytest.fixture(scope="module")
def cond():
    config = tiny("conditional", **{"model.z_dim": 8, "model.g_hidden": [16]})
    torch.manual_seed(0)
    return build_generator(config).eval(), config


@pytest.mark.parametrize("which", ["uncond", "cond"])
def test_save_load_round_trip_gives_identical_outputs(which, request, tmp_path):
    G, config = request.getfixturevalue(which)
    path = save_generator(G, config, tmp_path, step=17)
    assert path == tmp_path / "generator.safetensors"
    meta = json.loads((tmp_path / "generator.json").read_text())
    assert meta["step"] == 17 and meta["format"] == "gan-studio-generator"
    for where in (tmp_path, tmp_path / "generator.safetensors", tmp_path / "generator.json"):
        G2, config2, meta2 = load_generator(where)
        assert config2 == config and meta2["step"] == 17 and not G2.training
        z = torch.randn(5, config.model.z_dim)
        y = torch.arange(5) if config.model.conditional else None
        with torch.no_grad():
            assert torch.equal(G(z, y), G2(z, y))


def test_plain_pytorch_can_read_the_weights(uncond, tmp_path):
    from safetensors.torch import load_file
    G, config = uncond
    save_generator(G, config, tmp_path, 0)
    weights = load_file(str(tmp_path / "generator.safetensors"))
    assert weights.keys() == G.state_dict().keys()


def test_grid_png(uncond, tmp_path):
    G, config = uncond
    (path,) = export_samples(G, config, tmp_path / "grid.png", n=9)
    with Image.open(path) as im:
        assert im.size == (3 * 28 + 4 * 2, 3 * 28 + 4 * 2)


def test_individual_pngs(uncond, tmp_path):
    G, config = uncond
    paths = export_samples(G, config, tmp_path / "many", n=5)
    assert len(paths) == 5 and all(p.parent == tmp_path / "many" for p in paths)
    assert sorted(p.name for p in (tmp_path / "many").iterdir()) == [f"sample_{i:05d}.png" for i in range(5)]
    with Image.open(paths[0]) as im:
        assert im.size == (28, 28)


def test_npy(uncond, tmp_path):
    G, config = uncond
    (path,) = export_samples(G, config, tmp_path / "s.npy", n=6, seed=3)
    arr = np.load(path)
    assert arr.shape == (6, 28, 28, 1) and arr.dtype == np.uint8
    assert np.array_equal(arr, generate(G, config, 6, seed=3).permute(0, 2, 3, 1).numpy())
    # any name: the file is written where asked, and the path returned is that file
    (p2,) = export_samples(G, config, tmp_path / "as_npy.bin", n=2, kind="npy")
    assert p2 == tmp_path / "as_npy.bin" and np.load(p2).shape == (2, 28, 28, 1)


def test_seeds(uncond):
    G, config = uncond
    a, b, c = generate(G, config, 8, seed=1), generate(G, config, 8, seed=1), generate(G, config, 8, seed=2)
    assert a.dtype == torch.uint8 and a.shape == (8, 1, 28, 28)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_chosen_class_for_a_conditional_generator(cond, monkeypatch):
    G, config = cond
    seen = []
    real_forward = type(G).forward

    def forward(self, z, y=None):
        seen.append(y.clone())
        return real_forward(self, z, y)

    monkeypatch.setattr(type(G), "forward", forward)
    three = generate(G, config, 4, seed=0, label=3)
    every = generate(G, config, 12, seed=0)
    assert seen[0].tolist() == [3, 3, 3, 3]
    assert seen[1].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert not torch.equal(three, generate(G, config, 4, seed=0, label=4))
    assert every.shape == (12, 1, 28, 28)
    with pytest.raises(ExportError, match="class = 10"):
        generate(G, config, 4, label=10)


def test_class_for_an_unconditional_generator_refused(uncond, tmp_path):
    G, config = uncond
    with pytest.raises(ExportError, match="not conditional"):
        export_samples(G, config, tmp_path / "x.png", n=4, label=2)
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(ExportError, match="n = 0"):
        generate(G, config, 0)
    with pytest.raises(ExportError, match="kind"):
        export_samples(G, config, tmp_path / "x.png", n=4, kind="gif")


def test_generate_keeps_training_mode(uncond):
    G, config = uncond
    G.train()
    generate(G, config, 2)
    assert G.training
    G.eval()


def test_load_generator_refuses_a_non_safetensors_file(uncond, tmp_path):
    G, config = uncond
    save_generator(G, config, tmp_path, 0)
    (tmp_path / "generator.safetensors").write_bytes(b"this is not safetensors at all")
    with pytest.raises(ExportError, match="not a readable safetensors"):
        load_generator(tmp_path)
    torch.save(G.state_dict(), tmp_path / "generator.safetensors")  # a pickle in disguise
    with pytest.raises(ExportError, match="safetensors"):
        load_generator(tmp_path)


def test_load_generator_refuses_missing_json(uncond, tmp_path):
    G, config = uncond
    save_generator(G, config, tmp_path, 0)
    (tmp_path / "generator.json").unlink()
    with pytest.raises(ExportError, match=r"generator\.json: missing"):
        load_generator(tmp_path / "generator.safetensors")
    with pytest.raises(ExportError, match="missing"):
        load_generator(tmp_path / "elsewhere")


def test_load_generator_refuses_a_bad_description(uncond, tmp_path):
    G, config = uncond
    save_generator(G, config, tmp_path, 0)
    meta = tmp_path / "generator.json"
    meta.write_text("{broken")
    with pytest.raises(ExportError, match="not a valid generator description"):
        load_generator(tmp_path)
    meta.write_text(json.dumps({"format": "something-else", "config": config.to_dict()}))
    with pytest.raises(ExportError, match="not a GAN Studio generator"):
        load_generator(tmp_path)
    bad = config.to_dict()
    bad["model"]["z_dim"] = -3
    meta.write_text(json.dumps({"format": "gan-studio-generator", "config": bad}))
    with pytest.raises(ExportError, match=r"model\.z_dim"):
        load_generator(tmp_path)


def test_load_generator_refuses_weights_that_do_not_match(uncond, tmp_path):
    G, config = uncond
    save_generator(G, config, tmp_path, 0)
    meta = json.loads((tmp_path / "generator.json").read_text())
    meta["config"]["model"]["z_dim"] = 9
    (tmp_path / "generator.json").write_text(json.dumps(meta))
    with pytest.raises(ExportError, match=r"model\.z_dim = 9 in the config; the weights were trained with 8\)"):
        load_generator(tmp_path)
    other = tiny(**{"model.g_hidden": [64, 64], "model.z_dim": 8})
    save_generator(build_generator(other), other, tmp_path / "o", 0)
    (tmp_path / "o" / "generator.json").write_text((tmp_path / "generator.json").read_text())
    with pytest.raises(ExportError, match="in the file but .* for its config.* do not match its weights"):
        load_generator(tmp_path / "o")
