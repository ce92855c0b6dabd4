"""Own pictures: images/s of the `folder` preset at 64 and 128 px, with the decoded folder held in
memory (data.stream=off) or read from its memory-mapped cache by the background prefetcher
(data.stream=on), DiffAugment on (as for a folder under 5,000 pictures) and off.

Each variant trains in its own child process on the same synthetic picture set
(tools/make_synthetic_pictures.py, decoded into its cache once before timing); variants
alternate within each round and the median over rounds is reported. The cache file is in the
OS page cache when streamed (a folder larger than RAM would read from disk: the prefetcher
overlaps that with the step, but a slow disk can still limit it).

    python bench/own_images.py [--pictures 1000] [--steps 60] [--rounds 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WARMUP = 10


def child(args) -> dict:
    import time

    from core import events as ev
    from core.presets import preset
    from core.training.trainer import train

    config = preset("folder").with_values(**{
        "data.folder": args.folder, "data.cache_dir": args.cache, "data.image_size": args.size,
        "data.stream": args.stream, "data.augment": args.augment, "run.device": args.device,
        "run.steps": WARMUP + args.steps, "run.log_every": WARMUP + args.steps, "run.sample_every": 10**6,
        "run.checkpoint_every": 0, "run.keep_every": 0, "run.fid_every": 0, "run.quality_every": 0})
    marks = {}

    def on_event(e):
        if isinstance(e, ev.ErrorEvent):
            raise SystemExit(e.message)

    # Time the steps after the warm-up, around the session's own step (grids, readings and saves are off).
    import core.training.trainer as trainer

    real_step = trainer.Session.train_step

    def timed_step(self):
        if self.step == WARMUP:
            marks["t0"] = time.perf_counter()
        real_step(self)
        if self.step == WARMUP + args.steps:
            if self.device.type == "cuda":
                import torch
                torch.cuda.synchronize()
            marks["t1"] = time.perf_counter()
            marks["batches"] = type(self.batches).__name__

    trainer.Session.train_step = timed_step
    train(config, on_event=on_event)
    return {"images_per_s": args.steps * config.run.batch_size / (marks["t1"] - marks["t0"]),
            "batches": marks["batches"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pictures", type=int, default=1000)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    p.add_argument("--device", default="cpu")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    p.add_argument("--cache", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    p.add_argument("--stream", help=argparse.SUPPRESS)
    p.add_argument("--augment", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    from core.data.image_cache import open_or_build
    from tools.make_synthetic_pictures import make_pictures

    tmp = Path(tempfile.mkdtemp(prefix="gan-studio-own-images-"))
    folder, cache = tmp / "pictures", tmp / "cache"
    made = make_pictures(folder, n=args.pictures, seed=0)
    for size in args.sizes:
        open_or_build(folder, size, 3, cache_root=cache / "folders")  # decode once, outside the timing
    variants = [(size, stream, augment) for size in args.sizes for augment in ("on", "off")
                for stream in ("off", "on")]
    rates: dict[tuple, list[float]] = {v: [] for v in variants}
    kinds = {}
    for _ in range(args.rounds):
        for size, stream, augment in variants:
            out = subprocess.run([sys.executable, __file__, "--child", "--folder", str(folder), "--cache", str(cache),
                                  "--size", str(size), "--stream", stream, "--augment", augment, "--steps",
                                  str(args.steps), "--device", args.device],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rates[(size, stream, augment)].append(r["images_per_s"])
            kinds[(size, stream, augment)] = r["batches"]
            print(size, stream, augment, f"{r['images_per_s']:.0f} img/s", flush=True)
    from bench.common import record

    lines = ["| size | DiffAugment | in memory (stream off) | memory-mapped + prefetcher (stream on) | "
             "streamed / in memory |", "|---|---|---|---|---|"]
    for size in args.sizes:
        for augment in ("on", "off"):
            a, b = (statistics.median(rates[(size, s, augment)]) for s in ("off", "on"))
            lines.append(f"| {size} px | {augment} | {a:,.0f} img/s | {b:,.0f} img/s | {b / a:.2f}x |")
    lines += ["", f"The `folder` preset's own model and settings (DCGAN, 16 base channels, SN + minibatch std in D, "
              f"hinge, batch 64) on {made['pictures']:,} synthetic pictures (tools/make_synthetic_pictures.py), "
              f"device {args.device}; {args.steps} timed steps after {WARMUP}, median of {args.rounds} rounds of "
              f"alternating child processes ({', '.join(sorted(set(kinds.values())))} checked per variant). "
              "DiffAugment is what the preset uses for a folder under 5,000 pictures."]
    record(f"Own pictures: folder preset images/s, resident vs memory-mapped ({args.device})", lines)


if __name__ == "__main__":
    main()
