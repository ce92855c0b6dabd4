"""Training steps per second on the CPU: this checkout against another commit, side by side.

Each measurement is a child process that builds a preset's Session on the bundled digits with a
fixed number of torch threads, warms up, and times `--steps` calls of `train_step()` (no grids, readings
or saves: the step itself). Checkouts alternate within every round; the median over rounds is reported,
with the ratio new / old per preset. The other commit is checked out into a temporary git worktree.

    python bench/step_speed.py --against 286af73 [--presets default] [--set model.d_mbstd=true]
                               [--threads 2] [--rounds 3] [--steps 300] [--whole-run]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import median, record, run_child  # noqa: E402

WHOLE_RUN = """
import json, sys, tempfile, time
sys.path.insert(0, sys.argv[1])
from core.presets import preset
try:
    from core.training.trainer import train
except ImportError:  # a commit from before core/ had subpackages
    from core.trainer import train
name, values, threads, steps = sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
config = preset(name).with_values(**{**values, "run.device": "cpu", "run.steps": steps, "run.threads": threads})
with tempfile.TemporaryDirectory() as tmp:
    t0 = time.perf_counter()
    train(config, run_dir=f"{tmp}/run")
    print(json.dumps({"steps_per_s": steps / (time.perf_counter() - t0)}))
"""

CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import torch
from core.presets import preset
try:
    from core.data.datasets import load_dataset
    from core.training.session import Session
except ImportError:  # a commit from before core/ had subpackages
    from core.data import load_dataset
    from core.session import Session
name, values, threads, steps = sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
config = preset(name).with_values(**{**values, "run.device": "cpu", "run.quality_every": 0})
dataset = load_dataset(config.data, lambda done, total: None, lambda: False)
session = Session(config, dataset, torch.device("cpu"))
for _ in range(max(20, steps // 10)):
    session.train_step()
t0 = time.perf_counter()
for _ in range(steps):
    session.train_step()
session.read_metrics()
print(json.dumps({"steps_per_s": steps / (time.perf_counter() - t0)}))
"""


def parse_values(pairs: list[str]) -> dict:
    values = {}
    for pair in pairs:
        key, _, text = pair.partition("=")
        try:
            values[key] = json.loads(text)
        except json.JSONDecodeError:
            values[key] = text
    return values


def measure(root: Path, name: str, values: dict, threads: int, steps: int, whole: bool) -> float:
    code = WHOLE_RUN if whole else CHILD
    cmd = [sys.executable, "-c", code, str(root), name, json.dumps(values), str(threads), str(steps)]
    return run_child(cmd, f"{name} at {root}", timeout=1200)["steps_per_s"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--against", required=True, help="the commit to compare with (any git revision)")
    p.add_argument("--presets", nargs="+", default=["default"])
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="settings on top of each preset")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--whole-run", action="store_true",
                   help="time whole runs (core.training.trainer.train into a temporary folder: data, grids, readings and "
                        "checkpoints included) instead of the step alone; steps/s is then --steps / wall time")
    args = p.parse_args()
    values = parse_values(args.set)
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), args.against], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            rates: dict[tuple[str, str], list[float]] = {}
            for _ in range(args.rounds):
                for name in args.presets:
                    for label, root in (("old", old), ("new", ROOT)):
                        rates.setdefault((name, label), []).append(
                            measure(root, name, values, args.threads, args.steps, args.whole_run))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, capture_output=True)
    settings = " ".join(args.set) or "—"
    what = "whole runs (data, grids, readings, checkpoints)" if args.whole_run else "the training step alone"
    lines = [f"Against {args.against}; settings on top: {settings}; {args.threads} threads, {args.steps} steps "
             f"of {what}, {args.rounds} rounds (median; each round's figures in brackets).", "",
             "| preset | steps/s at the commit | steps/s now | now / commit |", "|---|---|---|---|"]
    for name in args.presets:
        a, b = rates[(name, "old")], rates[(name, "new")]
        lines.append(f"| {name} | {median(a):.1f} ({', '.join(f'{r:.1f}' for r in a)}) | "
                     f"{median(b):.1f} ({', '.join(f'{r:.1f}' for r in b)}) | {median(b) / median(a):.2f}× |")
    record("Training steps per second, against an earlier commit", lines)


if __name__ == "__main__":
    main()
