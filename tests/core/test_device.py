"""What changes with the device (GAN_STUDIO_TEST_DEVICE; the CPU unless set): a checkpoint crossing
from the device to the CPU and back, and torchrun's process group (NCCL on CUDA, gloo on the CPU).

bench/gpu_suite.py runs these, with every other test marked `device`, on a GPU machine."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from core import events as ev
from core.runs.checkpoint import load_checkpoint
from core.training.trainer import train

from .conftest import DEVICE, Recorder, tiny
from .test_cli import ROOT

pytestmark = pytest.mark.device


def _resumed(config, run, steps: int) -> Recorder:
    events = Recorder()
    train(config.with_values(**{"run.steps": steps}), on_event=events, run_dir=run, checkpoint=load_checkpoint(run))
    assert events.errors() == []
    return events


def test_a_checkpoint_written_on_the_device_resumes_on_the_cpu_and_back(tmp_path):
    config = tiny(**{"model.arch": "dcgan", "run.ema": 0.9, "run.steps": 4})
    run = tmp_path / "run"
    first = Recorder()
    train(config, on_event=first, run_dir=run)
    assert first.errors() == [] and first.of(ev.Started)[0].device.startswith(DEVICE)
    on_cpu = _resumed(config.with_values(**{"run.device": "cpu"}), run, 6)
    back = _resumed(config, run, 8)
    for events, device, steps in ((on_cpu, "cpu", [5, 6]), (back, DEVICE, [7, 8])):
        started = events.of(ev.Started)[0]
        assert started.device.startswith(device) and started.step == steps[0] - 1
        assert [m[0] for m in events.metrics_losses()] == steps
        assert all(math.isfinite(v) for m in events.metrics_losses() for v in m[1:])
        # a generator's state does not cross kinds of device: the noise restarts, and the person is told
        restarted = [n for n in events.of(ev.Notice) if "noise stream restarts" in n.message]
        assert bool(restarted) == (DEVICE != "cpu")
    state = load_checkpoint(run)
    assert state["step"] == 8
    assert all(v.device.type == "cpu" for v in state["generator"].values())


def test_torchrun_one_process_trains_through_the_process_group(tmp_path):
    run = tmp_path / "ddp"
    small = ["--set", "model.g_hidden=[16]", "--set", "model.d_hidden=[16]", "--set", "run.batch_size=8",
             "--set", "run.threads=1", "--set", "run.log_every=2", "--set", "run.sample_every=4",
             "--set", "run.grid_size=4", "--device", DEVICE]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "1"]
    out = subprocess.run([*torchrun, "main.py", "train", "--steps", "4", "--out", str(run), *small], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    backend = "nccl" if torch.device(DEVICE).type == "cuda" else "gloo"
    assert f"torchrun: 1 process over {backend}" in out.stdout, out.stdout[-2000:]
    assert out.stdout.count("finished at step 4") == 1
    state = load_checkpoint(run)
    assert state["step"] == 4 and not any(k.startswith("module.") for k in state["generator"])  # DDP's wrapper unwrapped
