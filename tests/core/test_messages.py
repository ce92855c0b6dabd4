"""Bad input to the headless commands gets one line naming the file and the cause, never a traceback;
Ctrl+C and SIGTERM stop the writing commands with one line and leave no temp files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import zlib
from pathlib import Path

import pytest
import torch

from core.cli import main
from core.runs.folder import METRIC_COLUMNS, metrics_from_row, read_rows
from core.sharing import timelapse

SMALL = ["--set", "model.g_hidden=[16]", "--set", "model.d_hidden=[16]", "--set", "run.batch_size=8",
         "--set", "run.threads=1", "--set", "run.log_every=1", "--set", "run.sample_every=2",
         "--set", "run.grid_size=4", "--device", "cpu"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("messages") / "run"
    assert main(["train", "--steps", "4", "--out", str(run), *SMALL]) == 0
    return run


@pytest.fixture
def run(trained, tmp_path):
    """A copy of the trained run to damage."""
    return Path(shutil.copytree(trained, tmp_path / "run"))


def one_line(capsys) -> str:
    """stderr's only line (a progress bar's carriage-return updates aside)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip() and "step/s" not in line]
    assert len(lines) == 1, err
    return lines[0]


def temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.name.endswith((".tmp", ".partial"))]


def huge_png_header(path: Path, width: int = 20000, height: int = 20000) -> None:
    """A PNG that claims width x height pixels: the header alone, a few bytes on disk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


# ---- timelapse -------------------------------------------------------------------------------------

def test_a_decompression_bomb_in_samples_is_one_line(run, tmp_path, capsys):
    bomb = run / "samples" / "step_000099.png"
    huge_png_header(bomb)
    out = tmp_path / "t.gif"
    assert main(["timelapse", str(run), "--out", str(out)]) == 2
    line = one_line(capsys)
    assert line.startswith(f"error: {bomb}: 400,000,000 pixels, far too large") and "move it out of samples/" in line
    assert not out.exists() and not temp_files(tmp_path)


def test_a_grid_past_pillows_warning_size_is_refused_too(run, tmp_path, capsys, monkeypatch):
    """Between MAX_IMAGE_PIXELS and twice that, Pillow only warns and decodes it."""
    from PIL import Image

    grid = run / "samples" / "step_000002.png"
    with Image.open(grid) as im:
        pixels = im.width * im.height
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pixels - 1)
    assert main(["timelapse", str(run), "--out", str(tmp_path / "t.gif")]) == 2
    assert one_line(capsys).startswith(f"error: {grid}: ")


@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_an_interrupted_mp4_leaves_no_temp_file(run, tmp_path, capsys, monkeypatch, how):
    pytest.importorskip("av")
    real = timelapse.WRITERS[".mp4"]

    def interrupted(frames, path, fps):
        real(frames, path, fps)  # the whole temp file is on disk, about to be moved into place
        assert Path(path).is_file()
        if how == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)  # the CLI's handler raises KeyboardInterrupt here
        raise KeyboardInterrupt

    monkeypatch.setitem(timelapse.WRITERS, ".mp4", interrupted)
    before = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "out" / "t.mp4"
    out.parent.mkdir()
    assert main(["timelapse", str(run), "--out", str(out)]) == 130
    assert one_line(capsys) == "interrupted; nothing written"
    assert list(out.parent.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is before


# ---- metrics.csv -----------------------------------------------------------------------------------

def _damage(path: Path, how: str) -> list[int]:
    """Damage the file; return the steps of the rows a reader can still take."""
    lines = path.read_bytes().splitlines(keepends=True)
    if how == "byte":
        lines[2] = lines[2].replace(b",", b",\xff", 1)  # the second row: its epoch is no number now
        path.write_bytes(b"".join(lines))
        return [1, 3, 4]
    path.write_bytes(b"".join(lines[1:]))  # no header
    return [1, 2, 3, 4]


@pytest.mark.parametrize("how", ["byte", "header"])
def test_a_damaged_metrics_csv_is_read_and_resumed(run, capsys, how):
    path = run / "metrics.csv"
    kept = _damage(path, how)
    assert [m.step for m in read_rows(path, metrics_from_row)] == kept
    assert main(["resume", str(run), "--steps", "5"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(METRIC_COLUMNS)
    assert [m.step for m in read_rows(path, metrics_from_row)] == [*kept, 5]


# ---- export ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("opset", [7, 99])
def test_an_opset_out_of_range_is_one_line_with_the_range(run, tmp_path, capsys, monkeypatch, opset):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    import onnx

    from core.sharing import onnx_export

    class Kept18:  # what the exporter gives when it cannot convert down (test_onnx_export runs it for real)
        model_proto = onnx.helper.make_model(onnx.helper.make_graph([], "g", [], []),
                                             opset_imports=[onnx.helper.make_opsetid("", 18)])

    monkeypatch.setattr(onnx_export, "_export_program", lambda *args: Kept18)
    out = tmp_path / "g.onnx"
    assert main(["export", str(run), "--out", str(out), "--opset", str(opset)]) == 2
    line = one_line(capsys)
    assert line.startswith(f"error: opset = {opset}: ")
    assert f"writes opsets 18 to {onnx.defs.onnx_opset_version()}" in line
    assert not out.exists() and not temp_files(tmp_path)


def test_an_interrupted_export_writes_nothing(run, tmp_path, capsys, monkeypatch):
    pytest.importorskip("onnxscript")
    from core.sharing import onnx_export

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx_export, "_export_program", interrupted)
    assert main(["export", str(run), "--out", str(tmp_path / "g.onnx")]) == 130
    assert one_line(capsys) == "interrupted; nothing written"
    assert list(tmp_path.glob("*.onnx*")) == [] and not temp_files(tmp_path)


# ---- an edited z_dim -------------------------------------------------------------------------------

def test_a_checkpoint_with_an_edited_z_dim_is_one_line(run, capsys):
    path = run / "checkpoints" / "last.pt"
    state = torch.load(path, weights_only=True)
    state["config"]["model"]["z_dim"] = 32  # trained with the default preset's 64
    torch.save(state, path)
    assert main(["resume", str(run), "--steps", "8"]) == 2
    line = one_line(capsys)
    assert line.startswith(f"error: {path}: model.z_dim = 32 in its config, but it was trained with z_dim 64")


def test_a_checkpoint_whose_weights_do_not_fit_its_config_names_the_tensor(run, capsys):
    path = run / "checkpoints" / "last.pt"
    state = torch.load(path, weights_only=True)
    state["config"]["model"]["d_hidden"] = [24]
    torch.save(state, path)
    assert main(["resume", str(run), "--steps", "8"]) == 2
    line = one_line(capsys)
    assert line.startswith(f"error: {path}: discriminator tensor ") and "in the file but" in line
    assert "model settings (model.*)" in line


def test_a_generator_json_with_an_edited_z_dim_is_one_line(run, tmp_path, capsys):
    meta_path = run / "generator.json"
    meta = json.loads(meta_path.read_text())
    meta["config"]["model"]["z_dim"] = 32
    meta_path.write_text(json.dumps(meta))
    assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "s.png")]) == 2
    line = one_line(capsys)
    assert line.startswith(f"error: {run / 'generator.safetensors'}: tensor ")
    assert "(model.z_dim = 32 in the config; the weights were trained with 64)" in line


# ---- sample --n ------------------------------------------------------------------------------------

def test_samples_are_generated_in_chunks(monkeypatch):
    """A forward pass never sees more than SAMPLE_CHUNK noise vectors, and the samples are the same."""
    from core.models import build_generator
    from core.sharing import export

    from .conftest import tiny

    config = tiny("mlp")
    G = build_generator(config)
    whole = export.generate(G, config, 7, seed=1)
    batches = []
    G.register_forward_pre_hook(lambda module, args: batches.append(len(args[0])))
    monkeypatch.setattr(export, "SAMPLE_CHUNK", 3)
    chunked = export.generate(G, config, 7, seed=1)
    assert batches == [3, 3, 1]
    assert chunked.shape == whole.shape and (chunked.int() - whole.int()).abs().max() <= 1


def test_arrays_and_pngs_are_written_chunk_by_chunk(tmp_path, monkeypatch):
    import numpy as np

    from core.models import build_generator
    from core.sharing import export

    from .conftest import tiny

    config = tiny("mlp")
    G = build_generator(config)
    whole = export.generate(G, config, 7, seed=2)
    monkeypatch.setattr(export, "SAMPLE_CHUNK", 3)
    (npy,) = export.export_samples(G, config, tmp_path / "s.npy", 7, seed=2)
    array = np.load(npy)
    assert array.shape == (7, 28, 28, 1)
    assert np.abs(array.astype(int) - whole.permute(0, 2, 3, 1).numpy()).max() <= 1
    pngs = export.export_samples(G, config, tmp_path / "pngs", 7, seed=2)
    assert [p.name for p in pngs] == [f"sample_{i:05d}.png" for i in range(7)] and all(p.is_file() for p in pngs)


def test_a_grid_of_too_many_samples_is_one_line(trained, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["sample", str(trained), "--n", "100000", "--out", str(out)]) == 2
    line = one_line(capsys)
    assert line.startswith("error: n = 100,000: a grid holds at most 4,096 samples") and "FILE.npy" in line
    assert not out.exists()
