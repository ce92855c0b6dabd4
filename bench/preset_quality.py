"""Preset quality on the bundled digits: each preset trains 5,000 steps of batch 64
on the CPU with three seeds, then the bundled digit classifier (core/quality/digits.py)
scores 1,000 samples of the saved generator.

Reports, per seed: the Fréchet distance in the classifier's features on those 1,000
samples (real digits score about 1) and the run's own reading at its last step (512
samples), the rarest and the commonest class's share of the 1,000 (1/10 is even), the
share drawn as the requested class (conditional presets) and the wall time of the
whole run (grids, readings and checkpoints included) with all cores.

    python bench/preset_quality.py [--presets default conditional mlp] [--seeds 0 1 2] [--steps 5000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from bench.common import record  # noqa: E402
from core import events as ev  # noqa: E402
from core.config import parse_overrides  # noqa: E402
from core.presets import preset  # noqa: E402
from core.quality.digits import QualityProbe  # noqa: E402
from core.sharing.export import generate, load_generator  # noqa: E402
from core.training.trainer import train  # noqa: E402

SCORED = 1000


def run(name: str, seed: int, steps: int, out: Path, probe: QualityProbe, more: dict | None = None) -> dict:
    cfg = preset(name).with_values(**{**(more or {}), "run.steps": steps, "run.quality_every": steps, "run.seed": seed})
    got: dict = {}

    def on_event(e):
        if isinstance(e, ev.Quality):
            got["run_fd"] = e.frechet
        elif isinstance(e, ev.ErrorEvent):
            raise SystemExit(f"{name}: {e.message}")

    folder = out / f"{name}-seed{seed}"
    t0 = time.perf_counter()
    train(cfg, on_event=on_event, run_dir=folder)
    got["wall"] = time.perf_counter() - t0
    G, gcfg, _ = load_generator(folder)
    with torch.no_grad():
        images = generate(G, gcfg, SCORED, seed=123)  # a conditional G draws every class in turn
    requested = torch.arange(SCORED) % gcfg.model.num_classes if gcfg.model.conditional else None
    r = probe.evaluate(images, requested)
    got.update(fd=r.frechet, histogram=r.histogram, accuracy=r.accuracy)
    return got


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--presets", nargs="+", default=["default", "conditional", "mlp"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--keep", help="keep the run folders here (default: a temporary folder)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting on top of each preset (repeatable): to measure what one change does")
    args = p.parse_args()
    more = parse_overrides(args.set)
    probe = QualityProbe.load()
    lines = [f"| preset | seed | FD ({SCORED} samples) | FD (run's reading) | rarest class | commonest class "
             "| drawn as requested | wall |", "|---|---|---|---|---|---|---|---|"]
    summary = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep or tmp)
        for name in args.presets:
            fds, walls = [], []
            for seed in args.seeds:
                r = run(name, seed, args.steps, out, probe, more)
                h = r["histogram"]
                lo, hi = min(range(10), key=h.__getitem__), max(range(10), key=h.__getitem__)
                acc = f"{r['accuracy']:.1%}" if r["accuracy"] is not None else "—"
                lines.append(f"| {name} | {seed} | {r['fd']:.2f} | {r.get('run_fd', float('nan')):.2f} | "
                             f"{lo}: {h[lo]:.1%} | {hi}: {h[hi]:.1%} | {acc} | {r['wall']:.0f} s |")
                print(lines[-1], flush=True)
                fds.append(r["fd"])
                walls.append(r["wall"])
            summary.append(f"- {name}: FD mean {statistics.mean(fds):.2f} (max {max(fds):.2f}), "
                           f"wall mean {statistics.mean(walls):.0f} s")
    lines += ["", *summary, "",
              f"{args.steps} steps, batch 64, bundled 5,000 digits, each preset's own settings"
              f"{' with ' + ', '.join(args.set) if args.set else ''} (EMA samples where "
              f"the preset keeps an EMA). {SCORED} samples of the saved generator (noise seed 123) are scored; the "
              "run's reading is its own 512-sample reading at the last step. Wall time is the whole run, one run at "
              "a time."]
    seeds = ("three seeds" if len(args.seeds) == 3 else
             f"seed{'s' if len(args.seeds) > 1 else ''} {', '.join(map(str, args.seeds))}")
    title = f"Preset quality after training on the bundled digits ({seeds})"
    record(title + (f", with {', '.join(args.set)}" if args.set else ""), lines)


if __name__ == "__main__":
    main()
