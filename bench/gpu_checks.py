"""The GPU suite's correctness parts (bench/gpu_suite.py): the core tests marked `device`, run on the
device, and whether resume is bitwise exact there.

    python -m bench.gpu_checks probe --device cuda --scratch DIR [--deterministic]   # one resume probe
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.gpu_rows import Rows

ROOT = Path(__file__).resolve().parent.parent
# What --tiny runs of them: the device's own tests (a checkpoint crossing devices, torchrun's process
# group); the others run in CI's pytest anyway.
TINY_TEST_FILES = ("test_device.py",)


def device_test_files(tiny: bool) -> list[str]:
    """tests/core's files that hold a test marked `device`, found by reading them (a new one is found too),
    named explicitly so that pytest imports no other test module (one needing a package the GPU machine
    lacks would stop the collection)."""
    files = sorted(p for p in (ROOT / "tests" / "core").glob("test_*.py") if "pytest.mark.device" in p.read_text())
    if tiny:
        files = [p for p in files if p.name in TINY_TEST_FILES]
    return [str(p.relative_to(ROOT)) for p in files]


def tests(args: argparse.Namespace, rows: Rows) -> int:
    # cuBLAS's deterministic workspace, read when it starts, for the tests that ask for exact kernels
    env = {**os.environ, "GAN_STUDIO_TEST_DEVICE": args.device, "GAN_STUDIO_TEST_ROWS": str(rows.path),
           "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    cmd = [sys.executable, "-m", "pytest", "-m", "device", "-q", "-p", "no:cacheprovider", "-p", "bench.gpu_test_rows",
           "--basetemp", str(args.scratch / "pytest"), *device_test_files(args.tiny)]
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


# --- resume ---

PROBE_STEPS, PROBE_STOP = 20, 10  # R1 at steps 0 and 16: before and after the checkpoint
TINY_STEPS, TINY_STOP = 6, 3


def resume(args: argparse.Namespace, rows: Rows) -> int:
    """Two probes, each in its own process: as a run trains by default, and in torch's deterministic
    mode (set before CUDA starts), which says whether a difference comes from nondeterministic kernels."""
    failed = 0
    for deterministic in (False, True):
        env = dict(os.environ)
        if deterministic:
            env["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"  # cuBLAS's deterministic workspace: read when it starts
        cmd = [sys.executable, "-m", "bench.gpu_checks", "probe", "--device", args.device,
               "--scratch", str(args.scratch / f"probe-{int(deterministic)}")] + (["--deterministic"] if deterministic else [])
        cmd += ["--steps", str(TINY_STEPS), "--stop", str(TINY_STOP)] if args.tiny else []
        p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        sys.stdout.write(p.stdout + p.stderr)
        found = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
        if p.returncode or not found:
            failed = 1
            tail = (p.stderr.strip().splitlines() or ["no output"])[-1][:300]
            rows.add(mode="deterministic" if deterministic else "default", error=tail)
        else:
            rows.add(**found[-1])
    return failed


def _largest_difference(a, b) -> float:
    """The largest |a - b| over two sessions' G, D and optimizer tensors (0.0: bitwise the same)."""
    import torch

    worst = 0.0
    for x, y in ((a.G, b.G), (a.D, b.D)):
        for u, v in zip(x.state_dict().values(), y.state_dict().values()):
            if u.is_floating_point():
                worst = max(worst, float((u.double() - v.double()).abs().max()))
            elif not torch.equal(u, v):
                worst = max(worst, float("inf"))
    return worst


def probe(device: str, scratch: Path, deterministic: bool, steps: int = PROBE_STEPS, stop: int = PROBE_STOP) -> dict:
    import torch

    from core.presets import preset
    from core.runs.checkpoint import load_checkpoint
    from core.training.trainer import train

    if deterministic:
        torch.use_deterministic_algorithms(True)
    config = preset("default").with_values(**{
        "run.device": device, "run.steps": steps, "run.log_every": 5, "run.sample_every": 10**6,
        "run.quality_every": 0, "run.checkpoint_every": 0, "run.keep_every": 0})
    errors: list[str] = []

    def on_event(e) -> None:
        if type(e).__name__ == "ErrorEvent":
            errors.append(e.message)

    whole = train(config, on_event=on_event, run_dir=scratch / "whole")
    again = train(config, on_event=on_event, run_dir=scratch / "again")
    train(config.with_values(**{"run.steps": stop}), on_event=on_event, run_dir=scratch / "resumed")
    resumed = train(config, on_event=on_event, run_dir=scratch / "resumed", checkpoint=load_checkpoint(scratch / "resumed"))
    if errors or whole is None or again is None or resumed is None:
        return {"mode": "deterministic" if deterministic else "default", "error": (errors or ["no session"])[0][:300]}
    twice, resume_diff = _largest_difference(whole, again), _largest_difference(whole, resumed)
    return {"mode": "deterministic" if deterministic else "default", "steps": steps, "stopped_at": stop,
            "same_seed_twice_max_diff": twice, "resume_max_diff": resume_diff,
            "same_seed_twice_bitwise": twice == 0.0, "resume_bitwise": resume_diff == 0.0}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["probe"])
    p.add_argument("--device", required=True)
    p.add_argument("--scratch", type=Path, required=True)
    p.add_argument("--deterministic", action="store_true")
    p.add_argument("--steps", type=int, default=PROBE_STEPS)
    p.add_argument("--stop", type=int, default=PROBE_STOP)
    a = p.parse_args()
    print(json.dumps(probe(a.device, a.scratch, a.deterministic, a.steps, a.stop)), flush=True)


if __name__ == "__main__":
    main()
