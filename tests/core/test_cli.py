"""The headless CLI and main.py's entry point."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.config import load_config
from core.runs.checkpoint import load_checkpoint
from core.sharing.export import load_generator

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--set", "model.g_hidden=[16]", "--set", "model.d_hidden=[16]", "--set", "run.batch_size=8",
         "--set", "run.threads=1", "--set", "run.log_every=2", "--set", "run.sample_every=3",
         "--set", "run.grid_size=4", "--device", "cpu"]


def _steps(run: Path) -> list[int]:
    with open(run / "metrics.csv", newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--steps", "6", "--out", str(run), *SMALL]) == 0
    return run


def test_train_writes_the_run_folder(trained_run):
    run = trained_run
    config = load_config(run / "config.json")
    assert config.run.steps == 6 and config.model.g_hidden == (16,) and config.run.device == "cpu"
    assert config.preset == "default" and config.run.ema == 0.999  # the preset under the overrides
    assert _steps(run) == [2, 4, 6]
    with open(run / "metrics.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header[:4] == ["step", "epoch", "g_loss", "d_loss"]
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_000003.png", "step_000006.png"]
    with Image.open(run / "samples" / "step_000006.png") as grid:
        assert grid.mode == "RGB"
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 6
    G, gconfig, meta = load_generator(run)
    assert (run / "generator.safetensors").is_file() and meta["step"] == 6 and gconfig == config


def test_train_restores_the_sigint_handler(tmp_path):
    before = signal.getsignal(signal.SIGINT)
    assert main(["train", "--steps", "1", "--out", str(tmp_path / "r"), *SMALL]) == 0
    assert signal.getsignal(signal.SIGINT) is before


def test_resume_continues_and_sample_writes(trained_run, tmp_path, capsys):
    run = tmp_path / "copy"
    import shutil
    shutil.copytree(trained_run, run)
    assert main(["resume", str(run)]) == 0
    assert "is at step 6: it finished its 6 planned steps; nothing to train" in capsys.readouterr().out
    assert main(["resume", str(run), "--steps", "9"]) == 0
    assert "finished at step 9" in capsys.readouterr().out
    assert load_checkpoint(run)["step"] == 9
    assert _steps(run) == [2, 4, 6, 8, 9]
    assert load_config(run / "config.json").run.steps == 9
    assert main(["resume", str(run / "checkpoints" / "last.pt"), "--steps", "10"]) == 0  # the file works too
    assert load_checkpoint(run)["step"] == 10

    out = tmp_path / "s.png"
    assert main(["sample", str(run), "--n", "4", "--out", str(out)]) == 0
    assert "wrote 1 file(s)" in capsys.readouterr().out
    with Image.open(out) as grid:
        assert grid.size == (2 * 28 + 3 * 2,) * 2
    assert main(["sample", str(run / "generator.safetensors"), "--n", "3", "--out", str(tmp_path / "a.npy"),
                 "--seed", "5"]) == 0
    assert np.load(tmp_path / "a.npy").shape == (3, 28, 28, 1)


def test_sample_refusals(trained_run, tmp_path, capsys):
    assert main(["sample", str(trained_run), "--class", "3", "--out", str(tmp_path / "x.png")]) == 2
    assert "not conditional" in capsys.readouterr().err
    assert main(["sample", str(tmp_path / "nowhere")]) == 2
    assert "missing" in capsys.readouterr().err


@pytest.mark.parametrize("args, words", [
    (["--set", "optim.lr_g=-1"], ["optim.lr_g", "-1"]),
    (["--set", "model.z_dim=1000000000"], ["model.z_dim", "1000000000"]),
    (["--set", "loss.kind=nope"], ["loss.kind", "'nope'"]),
    (["--set", "optim.lr_g=fast"], ["optim.lr_g", "'fast'"]),
    (["--set", "model.colour=1"], ["model.colour"]),
    (["--set", "optim.lr_g"], ["optim.lr_g"]),
    (["--steps", "0"], ["run.steps", "0"]),
    (["--preset", "nope"], ["nope"]),
])
def test_bad_settings_exit_2_naming_the_field(tmp_path, capsys, args, words):
    assert main(["train", "--out", str(tmp_path / "r"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    for word in words:
        assert word in err
    assert not (tmp_path / "r").exists()  # refused before anything was written


def test_train_from_a_toml_config(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[model]\narch = "dcgan"\ng_hidden = [8]\nd_hidden = [8]\n'
                   '[loss]\nkind = "hinge"\n[run]\nsteps = 2\nbatch_size = 8\nthreads = 1\nlog_every = 1\n'
                   'device = "cpu"\ngrid_size = 4\n')
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "r")]) == 0
    saved = load_config(tmp_path / "r" / "config.json")
    assert saved.model.arch == "dcgan" and saved.loss.kind == "hinge" and _steps(tmp_path / "r") == [1, 2]


def test_a_failed_run_exits_1(tmp_path, capsys):
    (tmp_path / "nothing").mkdir()  # a folder without pictures: found out only as it loads (a missing one: rc 2)
    code = main(["train", "--out", str(tmp_path / "r"), "--steps", "2", *SMALL, "--set", "data.dataset=folder",
                 "--set", f"data.folder={tmp_path / 'nothing'}"])
    assert code == 1
    assert "no images found" in capsys.readouterr().err


def test_main_py_entry_point(tmp_path):
    run = tmp_path / "run"
    out = subprocess.run([sys.executable, "main.py", "train", "--steps", "2", "--out", str(run), *SMALL],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "finished at step 2" in out.stdout
    assert load_checkpoint(run)["step"] == 2 and (run / "generator.json").is_file()


def test_sample_refuses_to_replace_a_file_unless_asked(trained_run, tmp_path, capsys):
    out = tmp_path / "grid.png"
    out.write_bytes(b"mine")
    assert main(["sample", str(trained_run), "--n", "4", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == b"mine"
    assert main(["sample", str(trained_run), "--n", "4", "--out", str(out), "--overwrite"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_timelapse_and_onnx_export_commands(trained_run, tmp_path, capsys):
    import imageio.v3 as iio
    import onnxruntime as ort

    gif = tmp_path / "run.gif"
    assert main(["timelapse", str(trained_run), "--out", str(gif), "--fps", "4"]) == 0
    assert iio.imread(gif, index=None).shape[0] == 2  # the run's two grids, steps 3 and 6
    assert main(["timelapse", str(trained_run), "--out", str(gif)]) == 2
    assert "already exists" in capsys.readouterr().err

    onnx_file = tmp_path / "g.onnx"
    assert main(["export", str(trained_run), "--format", "onnx", "--out", str(onnx_file)]) == 0
    assert "onnxruntime matches torch" in capsys.readouterr().out
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    images = session.run(["images"], {"noise": np.zeros((3, 64), np.float32)})[0]
    assert images.shape == (3, 1, 28, 28)
