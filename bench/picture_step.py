"""The own-pictures step against the machine's limit: images/s and achieved FLOP/s of the `folder`
preset's training step, as it was at issue #27's start (bench/pictures.py's BEFORE) and as it is, beside the machine's own
convolution throughput (fp32 and bf16) measured in the same run, and where the step's time goes.

Each variant is a child process that builds a Session on synthetic 64 px pictures (speed does not
depend on what they show), warms up, counts one step's FLOPs with torch's FlopCounterMode and times
--steps steps; variants alternate within every round and the median over rounds is reported. The
machine's convolution throughput is the best of a few wide convolutions' forward + backward (the
kind of work a step is made of, at sizes the CPU runs well), timed in a child of each round too.
Adaptive augmentation's cost follows its strength p: "now" is timed at --p (the strength the
preset's run reached in bench/pictures.py), and at p = 0 and 1.

    python bench/picture_step.py [--rounds 3] [--steps 20] [--threads 2] [--p 0.3] [--profile]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import median, record, run_child  # noqa: E402

WARMUP = 5
PICTURES = 1000


def _session(variant: str, p: float | None):
    import torch

    from bench.pictures import BEFORE
    from core.config import Config
    from core.data.datasets import ImageSet
    from core.presets import preset
    from core.training.session import Session

    base = {"data.folder": "/synthetic", "run.device": "cpu"}
    name, _, precision = variant.partition(":")  # "now:fp32" forces a precision; else auto's choice
    if precision:
        base["run.precision"] = precision
    config = (Config.from_dict(BEFORE) if name == "before" else preset("folder")).with_values(**base)
    images = torch.randint(0, 256, (PICTURES, 3, 64, 64), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    s = Session(config, ImageSet(images, None, "synthetic"), torch.device("cpu"))
    if s.ada is not None and p is not None:
        s.ada.p = p
        s.ada.observe = lambda d_real: None  # held at p while timed
    return s


def step_child(variant: str, p: float | None, steps: int, profile: bool) -> dict:
    import time

    from torch.utils.flop_counter import FlopCounterMode

    s = _session(variant, p)
    for _ in range(WARMUP):
        s.train_step()
    with FlopCounterMode(display=False) as counter:
        s.train_step()
    flops = counter.get_total_flops()
    t0 = time.perf_counter()
    for _ in range(steps):
        s.train_step()
    seconds = (time.perf_counter() - t0) / steps
    out = {"images_per_s": s.config.run.batch_size / seconds, "gflop_per_s": flops / seconds / 1e9,
           "gflop_per_step": flops / 1e9, "bf16": s.precision.bf16}
    if profile:
        out["profile"] = _profile(s)
    return out


def _profile(s) -> dict:
    """Share of the step's CPU time by kind of operation (self time of aten ops)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(5):
            s.train_step()
    kinds: dict[str, float] = {}
    for e in prof.key_averages():
        if not e.key.startswith("aten::"):
            continue
        name = e.key[6:]
        kind = ("convolution" if "convolution" in name else
                "augmentation (gather, index, where)" if name in ("gather", "scatter_add_", "index_select",
                                                                  "index_copy", "index_add_", "nonzero") else
                "activations" if "relu" in name or "tanh" in name else
                "normalisation" if "batch_norm" in name or "norm" in name else
                "optimizer" if "adam" in name else
                "matmul (linear, spectral norm)" if name in ("mm", "addmm", "mv", "addmv_", "bmm", "linear") else
                "copies and fills" if name in ("copy_", "fill_", "zero_", "empty", "cat", "contiguous",
                                               "clone", "empty_strided") else
                "other elementwise and reductions")
        kinds[kind] = kinds.get(kind, 0.0) + e.self_cpu_time_total
    total = sum(kinds.values()) or 1.0
    return {k: v / total for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])}


def peak_child(seconds: float = 1.0) -> dict:
    """The best convolution forward + backward throughput among a few wide shapes, fp32 and bf16; each
    shape timed for about `seconds` (bf16 without native support runs ~10x slower: a single pass)."""
    import time

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    best = {}
    for dtype in (torch.float32, torch.bfloat16):
        rates = []
        for channels, side in ((128, 32), (256, 16)):
            x = torch.randn(16, channels, side, side, dtype=dtype).to(memory_format=torch.channels_last)
            x.requires_grad_()
            conv = torch.nn.Conv2d(channels, channels, 3, padding=1).to(dtype).to(memory_format=torch.channels_last)
            with FlopCounterMode(display=False) as counter:  # also the warm-up
                conv(x).sum().backward()
            reps, t0 = 0, time.perf_counter()
            while reps == 0 or time.perf_counter() - t0 < seconds:
                conv(x).sum().backward()
                reps += 1
            rates.append(counter.get_total_flops() * reps / (time.perf_counter() - t0) / 1e9)
        best[str(dtype).split(".")[1]] = max(rates)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--p", type=float, default=0.3, help="adaptive augmentation's strength for 'now'")
    p.add_argument("--profile", action="store_true", help="also break the step's time down by kind of op")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        import torch

        torch.set_num_threads(args.threads)
        spec = json.loads(args.child)
        result = peak_child() if spec["kind"] == "peak" else step_child(spec["variant"], spec.get("p"), args.steps,
                                                                        spec.get("profile", False))
        print(json.dumps(result))
        return

    variants = {f"before (G 16, D 16; p = {args.p:g})": {"variant": "before", "p": args.p},
                f"now (G 32, D 16; p = {args.p:g})": {"variant": "now", "p": args.p},
                "now, p = 0": {"variant": "now", "p": 0.0},
                f"now in fp32 (p = {args.p:g})": {"variant": "now:fp32", "p": args.p}}
    results: dict[str, list[dict]] = {name: [] for name in [*variants, "peak"]}
    for r in range(args.rounds):
        for name, spec in [*variants.items(), ("peak", {"kind": "peak"})]:
            spec = {"kind": "step", **spec, "profile": args.profile and r == 0}
            cmd = [sys.executable, __file__, "--child", json.dumps(spec), "--threads", str(args.threads),
                   "--steps", str(args.steps)]
            results[name].append(run_child(cmd, name, timeout=1800))
            print(f"round {r + 1}: {name}: {json.dumps(results[name][-1])[:200]}", flush=True)
    fp32 = median([x["float32"] for x in results["peak"]])
    bf16 = median([x["bfloat16"] for x in results["peak"]])
    first = next(iter(variants))
    base = median([x["images_per_s"] for x in results[first]])
    lines = [f"Machine's convolution throughput (best of three wide 3x3 convolutions, forward + backward, "
             f"channels-last, median of {args.rounds} rounds): fp32 {fp32:,.1f} GFLOP/s, bf16 {bf16:,.1f} GFLOP/s.",
             "", "| step | precision (auto's choice) | images/s | vs before | GFLOP a step | achieved GFLOP/s | "
             "of fp32 conv | of bf16 conv | of the peak at its precision |", "|---|---|---|---|---|---|---|---|---|"]
    for name in variants:
        ips = median([x["images_per_s"] for x in results[name]])
        rate = median([x["gflop_per_s"] for x in results[name]])
        per = results[name][0]["gflop_per_step"]
        used = results[name][0].get("bf16")
        lines.append(f"| {name} | {'bf16' if used else 'fp32'} | {ips:,.0f} | {ips / base:.2f}x | {per:.2f} | "
                     f"{rate:,.1f} | {rate / fp32:.0%} | {rate / bf16:.0%} | {rate / (bf16 if used else fp32):.0%} |")
    if args.profile:
        for name in variants:
            prof = results[name][0].get("profile") or {}
            lines.append("")
            lines.append(f"Where the time of '{name}' goes (aten self time, one round): "
                         + ", ".join(f"{k} {v:.0%}" for k, v in prof.items()))
    lines += ["", f"Synthetic 64 px pictures ({PICTURES}), batch 64, {args.threads} torch threads, {args.steps} "
              f"timed steps after {WARMUP}; variants alternate within each round."]
    record("Own pictures: the folder step against the machine's convolution throughput", lines)


if __name__ == "__main__":
    main()
