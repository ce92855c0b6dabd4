"""The generator as ONNX: same images as torch under onnxruntime, named inputs, dynamic batch."""

from __future__ import annotations

import copy
import sys

import numpy as np
import pytest
import torch

from core.models import build_generator
from core.presets import preset
from core.sharing.export import ExportError, load_generator, save_generator

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from core.sharing.onnx_export import check_onnx, export_onnx  # noqa: E402  (after the skips: it needs onnx)

TOLERANCE = 1e-4
CONFIGS = {
    # sigmoid output, uniform noise and BatchNorm1d on the output layer too (seed-004's)
    "mlp": ("mlp", {"model.g_hidden": [16, 24], "model.z_dim": 8, "model.g_output": "sigmoid",
                    "model.noise": "uniform", "model.g_output_norm": True}),
    "dcgan28": ("default", {"model.g_hidden": [8], "model.z_dim": 8}),
    "dcgan32": ("dcgan-cifar10", {"model.g_hidden": [8], "model.z_dim": 8}),
    "conditional": ("conditional", {"model.g_hidden": [8], "model.z_dim": 8}),
    # self-conditioned: the cluster is picked from the noise inside the graph (erf, comparisons)
    "clusters": ("default", {"model.g_hidden": [8], "model.z_dim": 8, "model.clusters": 5}),
}


def settled(config):
    """A random G in eval mode whose BatchNorm layers are far from their initial state, so an export
    that used batch statistics (train mode) instead of the running ones would give other images."""
    torch.manual_seed(0)
    G = build_generator(config).train()
    if G.self_conditioned:  # uneven shares, so the cluster picked from the noise matters
        weights = torch.rand(G.num_classes) + 0.1
        G.set_cluster_shares(weights / weights.sum())
    y = torch.randint(0, 10, (16,)) if config.model.conditional else None
    z = torch.randn(16, config.model.z_dim)
    with torch.no_grad():
        for _ in range(3):
            G(z, y)
        norms = [m for m in G.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        for m in norms:  # the DCGAN init keeps activations tiny: push the stats and affine terms further
            m.running_mean.add_(torch.randn_like(m.running_mean) * 0.5)
            m.running_var.mul_(torch.rand_like(m.running_var) * 2 + 0.5)
            m.weight.normal_(1.0, 0.3)
            m.bias.normal_(0.0, 0.3)
        batch_stats = G(z, y)
        G.eval()
        assert norms and (G(z, y) - batch_stats).abs().max() > 10 * TOLERANCE
    return G


@pytest.fixture(scope="module")
def models():
    return {name: (settled(c := preset(p).with_values(**values)), c) for name, (p, values) in CONFIGS.items()}


class Exported(dict):
    """name -> the .onnx file, exported on first use (so each export's time shows on its own test)."""

    def __init__(self, models, folder):
        super().__init__()
        self.models, self.folder = models, folder

    def __missing__(self, name):
        self[name] = export_onnx(self.models[name], self.folder / f"{name}.onnx")
        return self[name]


@pytest.fixture(scope="module")
def exported(models, tmp_path_factory):
    return Exported(models, tmp_path_factory.mktemp("onnx"))


def run_onnx(path, feed) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["images"], feed)[0]


@pytest.mark.parametrize("name", CONFIGS)
def test_onnxruntime_gives_torch_images_at_any_batch_size(name, models, exported):
    G, config = models[name]
    model = onnx.load(exported[name])
    onnx.checker.check_model(model, full_check=True)
    inputs = {i.name: i.type.tensor_type for i in model.graph.input}
    assert list(inputs) == (["noise", "label"] if config.model.conditional else ["noise"])
    assert inputs["noise"].elem_type == onnx.TensorProto.FLOAT
    assert inputs["noise"].shape.dim[0].dim_param and inputs["noise"].shape.dim[1].dim_value == 8
    if config.model.conditional:
        assert inputs["label"].elem_type == onnx.TensorProto.INT64
    assert [o.name for o in model.graph.output] == ["images"]

    for n in (1, 5):
        z = torch.randn(n, 8)
        y = torch.arange(n) % 10
        feed = {"noise": z.numpy()} | ({"label": y.numpy()} if config.model.conditional else {})
        with torch.no_grad():
            expected = G(z, y if config.model.conditional else None).numpy()
        images = run_onnx(exported[name], feed)
        assert images.shape == (n, config.data.channels, config.data.image_size, config.data.image_size)
        assert np.abs(images - expected).max() < TOLERANCE
    assert check_onnx(exported[name], G, config, batch_sizes=(1, 5)) < TOLERANCE


def test_metadata_says_what_goes_in_and_what_comes_out(exported):
    mlp, cond = onnx.load(exported["mlp"]), onnx.load(exported["conditional"])
    props = {p.key: p.value for p in mlp.metadata_props}
    expected = {"format": "gan-studio-generator", "arch": "mlp", "z_dim": "8", "noise": "uniform",
                "conditional": "false", "num_classes": "0", "channels": "1", "height": "28", "width": "28",
                "g_output": "sigmoid", "output_range": "[0, 1]"}
    assert {k: props.get(k) for k in expected} == expected
    assert "step" not in props  # a (G, config) pair carries no step
    assert "in [0, 1]" in mlp.doc_string and "uniform" in mlp.doc_string
    cond_props = {p.key: p.value for p in cond.metadata_props}
    assert cond_props["num_classes"] == "10" and cond_props["output_range"] == "[-1, 1]"
    assert "label (int64" in cond.doc_string and "in [-1, 1]" in cond.doc_string


def test_export_from_a_saved_generator_folder(models, tmp_path):
    G, config = models["conditional"]
    save_generator(G, config, tmp_path, step=1234)
    out = export_onnx(tmp_path, tmp_path / "g.onnx")
    assert {p.key: p.value for p in onnx.load(out).metadata_props}["step"] == "1234"
    loaded, loaded_config, _ = load_generator(tmp_path)
    assert check_onnx(out, loaded, loaded_config) < TOLERANCE


def test_an_existing_file_is_kept_unless_overwrite(models, exported, tmp_path):
    out = tmp_path / "mine.onnx"
    out.write_bytes(exported["mlp"].read_bytes())
    G, config = models["dcgan28"]
    G = copy.deepcopy(G).train()
    with pytest.raises(ExportError, match=r"mine\.onnx already exists.*--overwrite"):
        export_onnx((G, config), out)
    assert out.read_bytes() == exported["mlp"].read_bytes()
    export_onnx((G, config), out, overwrite=True)
    assert G.training, "the caller's generator keeps its mode"
    G.eval()
    assert {p.key: p.value for p in onnx.load(out).metadata_props}["arch"] == "dcgan"
    assert check_onnx(out, G, config) < TOLERANCE
    assert [p.name for p in tmp_path.iterdir()] == ["mine.onnx"]  # no temp file left


def test_check_onnx_sees_a_generator_that_differs(models, exported):
    G, config = models["mlp"]
    changed = copy.deepcopy(G)
    with torch.no_grad():
        changed.net.net[0].weight.mul_(1.5)
    assert check_onnx(exported["mlp"], changed, config) > 1e-3
    cond, cond_config = models["conditional"]
    with pytest.raises(ExportError, match=r"inputs are \['noise'\]"):
        check_onnx(exported["dcgan28"], cond, cond_config)


def test_an_opset_the_exporter_cannot_reach_is_refused(models, tmp_path):
    with pytest.raises(ExportError, match="opset = 13: .* writes opsets 18 to [0-9]+ .*; ask for one of those"):
        export_onnx(models["conditional"], tmp_path / "old.onnx", opset=13)
    assert not (tmp_path / "old.onnx").exists()


def test_readable_errors(models, tmp_path, monkeypatch):
    with pytest.raises(ExportError, match="missing"):
        export_onnx(tmp_path / "no-run", tmp_path / "a.onnx")
    with pytest.raises(ExportError, match="give a run folder"):
        export_onnx(42, tmp_path / "a.onnx")
    with pytest.raises(ExportError, match="no such ONNX file"):
        check_onnx(tmp_path / "a.onnx", *models["mlp"])
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(ExportError, match="pip install onnxruntime"):
        check_onnx(tmp_path / "a.onnx", *models["mlp"])
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    with pytest.raises(ExportError, match="pip install onnxscript"):
        export_onnx(models["mlp"], tmp_path / "a.onnx")


def test_one_rule_says_whether_onnxruntime_matches_torch_for_the_cli_and_the_app():
    from core.sharing.onnx_export import ONNX_TOLERANCE, mismatch

    assert mismatch("g.onnx", ONNX_TOLERANCE) == ""
    line = mismatch("g.onnx", ONNX_TOLERANCE * 10)
    assert line.startswith("g.onnx was written") and "do not rely on it" in line
