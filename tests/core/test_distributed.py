"""One run over several processes (torch.distributed, gloo on the CPU): N ranks of batch B train
exactly as one process of batch N x B, rank 0 alone writes, and torchrun runs it end to end."""

from __future__ import annotations

import csv
import os
import re
import signal
import socket
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp

from core import events as ev
from core.config import load_config
from core.presets import PRESETS
from core.runs import heartbeat
from core.runs.checkpoint import load_checkpoint
from core.training.trainer import train
from tests.processes import wait_until_training

from .test_cli import ROOT, SMALL

# No BatchNorm or dropout (their statistics are per rank), fp32, one thread per rank.
PLAIN = {"model.g_hidden": [32, 64], "model.d_hidden": [64, 32], "model.g_norm": False, "model.d_dropout": 0.0,
         "run.precision": "fp32", "run.threads": 1, "run.device": "cpu", "run.steps": 20, "run.log_every": 5,
         "run.sample_every": 1000, "run.quality_every": 0, "run.checkpoint_every": 0, "run.ema": 0.9}


def _config(batch: int):
    return PRESETS["mlp"].with_values(**{**PLAIN, "run.batch_size": batch})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, world: int, port: int, run_dir: str, batch: int) -> None:
    os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
                       "LOCAL_WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    errors = []
    train(_config(batch), on_event=lambda e: errors.append(e) if isinstance(e, ev.ErrorEvent) else None,
          run_dir=run_dir)
    assert not errors, errors


def _metrics(run_dir):
    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def test_two_ranks_of_batch_b_match_one_process_of_batch_2b(tmp_path):
    whole = train(_config(16), run_dir=tmp_path / "one")
    mp.start_processes(_rank, args=(2, _free_port(), str(tmp_path / "two"), 8), nprocs=2, start_method="spawn")
    two = load_checkpoint(tmp_path / "two")
    assert two["step"] == 20
    for name, module in (("generator", whole.G), ("discriminator", whole.D), ("ema", whole.ema)):
        mine = module.state_dict()
        for key, value in two[name].items():
            assert torch.allclose(value, mine[key], atol=1e-5), (name, key)
    one_rows, two_rows = _metrics(tmp_path / "one"), _metrics(tmp_path / "two")
    assert [r["step"] for r in two_rows] == [5, 10, 15, 20]  # each row once, from rank 0 alone
    for a, b in zip(one_rows, two_rows):
        for key in ("g_loss", "d_loss", "d_real", "d_fake"):
            assert a[key] == pytest.approx(b[key], abs=1e-5)
    assert load_config(tmp_path / "two" / "config.json").run.batch_size == 8


def test_torchrun_end_to_end_then_resume_in_one_process(tmp_path):
    run = tmp_path / "ddp"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    out = subprocess.run([*torchrun, "main.py", "train", "--steps", "6", "--out", str(run), *SMALL,
                          "--set", "run.threads=1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("finished at step 6") == 1  # rank 0 reports; rank 1 stays quiet
    import json
    assert json.loads((run / "config.json").read_text())["world_size"] == 2
    with open(run / "metrics.csv", newline="") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [2, 4, 6]  # never twice
    state = load_checkpoint(run)
    assert state["step"] == 6 and not any(k.startswith("module.") for k in state["generator"])
    # a torchrun run resumes in a single process (plain state dicts)
    again = subprocess.run([sys.executable, "main.py", "resume", str(run), "--steps", "8"], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert load_checkpoint(run)["step"] == 8


def test_torchrun_rank_0_takes_commands_and_the_other_rank_follows(tmp_path):
    run = tmp_path / "steered"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    proc = subprocess.Popen([*torchrun, "main.py", "train", "--steps", "1000000", "--out", str(run), *SMALL,
                             "--set", "run.threads=1"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def control(*args):
        return subprocess.run([sys.executable, "main.py", "control", str(run), *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)

    try:
        assert wait_until_training(proc)  # rank 0 started: its heartbeat is there
        assert control("pause").returncode == 0
        changed = control("set", "optim.lr_d=0.0003")
        assert changed.returncode == 0, changed.stderr
        assert control("step").returncode == 0
        stopped = control("stop")
        assert stopped.returncode == 0, stopped.stderr
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0 and out.count("stopped at step") == 1
    finally:
        if proc.poll() is None:
            proc.kill()
    state = load_checkpoint(run)
    assert state["config"]["optim"]["lr_d"] == 0.0003
    assert all(g["lr"] == 0.0003 for g in state["opt_d"]["param_groups"])
    import json
    change = json.loads((run / "changes.jsonl").read_text().splitlines()[-1])
    assert change["changes"] == {"optim.lr_d": 0.0003}


def test_a_stop_signal_to_the_launcher_stops_every_rank_and_it_exits_0(tmp_path):
    """Plain torchrun exits 1 with a traceback after a SIGTERM however well its ranks stopped (its agent
    re-raises the signal); `main.py torchrun` passes the signal on and exits as its ranks did."""
    run, log = tmp_path / "signalled", tmp_path / "stderr.txt"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "main.py", "torchrun", "--standalone", "--nproc-per-node", "2",
                                 "train", "--steps", "1000000", "--out", str(run), *SMALL, "--set", "run.threads=1",
                                 "--set", "run.checkpoint_every=0"], cwd=ROOT, stdout=subprocess.PIPE, stderr=err,
                                text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            assert wait_until_training(proc)
            proc.send_signal(signal.SIGTERM)  # to the launcher alone: the ranks run in sessions of their own
            out, _ = proc.communicate(timeout=180)
        finally:
            if proc.poll() is None:
                proc.kill()
    stderr = log.read_text()
    assert proc.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr and "SignalException" not in stderr
    (step,) = map(int, re.findall(r"stopped at step (\d+); run folder", out))
    assert load_checkpoint(run)["step"] == step  # the final save, by rank 0 at the step every rank stopped at
    beat = heartbeat.read(run)
    assert (beat.state, beat.step) == ("stopped", step)
