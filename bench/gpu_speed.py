"""The GPU suite's speed parts (bench/gpu_suite.py): the step's speed by preset, size, batch and way of
running it; the engine against a tutorial loop; what the app's thread costs.

Speed does not depend on what the pictures show: the step runs on a Session built on random pictures
(as bench/picture_step.py does), warmed up (a compile happens there, and is timed as such), then timed
over about --seconds-a-row with the device synchronised at both ends.
"""

from __future__ import annotations

import argparse
import gc
import math
import queue
import threading
import time
from pathlib import Path

from bench.gpu_rows import Rows

PRESETS = ("default", "mlp", "folder")
SIZES, BATCHES = (64, 128), (64, 256, 1024)
TINY_SIZES, TINY_BATCHES = (32,), (16,)
PICTURES = 2048  # random pictures a speed row trains on: the same ones for every batch (clustered once)
WARMUP = 5
TIMED_S, TINY_TIMED_S = 0.7, 0.3
# The ways of running the step: (precision, run.compile's way or None, channels-last, cuDNN autotuning).
VARIANTS = {
    "eager fp32": ("fp32", None, True, False),
    "eager bf16": ("bf16", None, True, False),  # what run.precision = auto gives on CUDA: today's default there
    "eager bf16 NCHW": ("bf16", None, False, False),
    "eager bf16 cudnn.benchmark": ("bf16", None, True, True),  # cuDNN times its algorithms per shape: CUDA only
    "compiled bf16": ("bf16", "default", True, False),
    "compiled+graphs bf16": ("bf16", "cudagraphs", True, False),  # CUDA graphs: CUDA only
    "eager fp32 NCHW": ("fp32", None, False, False),  # where bf16 is slow (a CPU without native bf16)
    "compiled fp32": ("fp32", "default", True, False),
}


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_reset(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        try:  # Linux: "5" resets the process's peak resident size (VmHWM)
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass


def _peak_mib(device) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def _pictures(size: int, channels: int):
    import torch

    from core.data.datasets import ImageSet

    images = torch.randint(0, 256, (PICTURES, channels, size, size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(size * 10 + channels))
    return ImageSet(images, None, "random")


def _session(name: str, size: int, batch: int, variant: str, device):
    import torch

    from core.presets import preset
    from core.training import fast_path
    from core.training.session import Session

    precision, way, channels_last, _ = VARIANTS[variant]
    base = preset(name, device.type)  # its widths for this kind of device (core/presets.py ON_A_GPU)
    config = base.with_values(**{"data.dataset": "folder", "data.folder": "/random", "data.image_size": size,
                                 "run.device": device.type, "run.batch_size": batch, "run.precision": precision,
                                 "run.compile": "on" if way else "off"})
    s = Session(config, _pictures(size, base.data.channels), device)
    if way == "cudagraphs":
        s.fast = fast_path.CompiledModels(s.G, s.D, mode="cudagraphs")
    if not channels_last:
        for m in (s.G, s.D):
            m.to(memory_format=torch.contiguous_format)
        s.batches.memory_format = torch.contiguous_format
    return s


def measure(name: str, size: int, batch: int, variant: str, device, seconds: float) -> dict:
    """One row: build, warm up (compiling, for the fast path), then time about `seconds` of steps."""
    import torch
    import torch._dynamo

    _peak_reset(device)
    torch.backends.cudnn.benchmark = VARIANTS[variant][3]
    s = None
    try:
        t0 = time.perf_counter()
        s = _session(name, size, batch, variant, device)
        built = time.perf_counter()
        for _ in range(WARMUP):
            s.train_step()
        _sync(device)
        warm = time.perf_counter()
        calibrate = 3
        for _ in range(calibrate):
            s.train_step()
        _sync(device)
        per_step = (time.perf_counter() - warm) / calibrate
        n = max(5, min(5000, int(seconds / max(per_step, 1e-6))))
        start = time.perf_counter()
        for _ in range(n):
            s.train_step()
        _sync(device)
        elapsed = time.perf_counter() - start
        return {"preset": name, "size": size, "batch": batch, "variant": variant, "steps_per_s": n / elapsed,
                "images_per_s": n * batch / elapsed, "peak_mib": _peak_mib(device), "build_s": built - t0,
                "warmup_s": warm - built, "timed_steps": n,
                "finite": all(math.isfinite(v) for v in s.read_metrics()),
                "compiled": s.fast is not None, "note": " ".join(s.take_notices())[:300]}
    finally:
        del s
        torch.backends.cudnn.benchmark = False
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
        torch._dynamo.reset()  # each compiled row compiles afresh: its warm-up time is its own


def plan(args: argparse.Namespace, device) -> list[tuple[str, int, int, str]]:
    """The rows in the order they are worth: today's default everywhere first, then the fast path where it
    is most likely to matter (the first size, batch 256; a compile takes tens of seconds), NCHW and cuDNN's
    autotuning at batch 256, fp32 everywhere, then the fast path elsewhere."""
    from core.training.precision import native_bf16

    sizes = args.sizes or (TINY_SIZES if args.tiny else SIZES)
    batches = args.batches or (TINY_BATCHES if args.tiny else BATCHES)
    presets = args.presets or PRESETS
    bf16 = native_bf16(device)
    fast = ["compiled bf16" if bf16 else "compiled fp32"] + (["compiled+graphs bf16"] if device.type == "cuda" else [])
    grid = [(p, s, b) for p in presets for s in sizes for b in batches]
    mid = [(p, s, b) for p, s, b in grid if b == (256 if 256 in batches else batches[0])]
    first_mid = [(p, s, b) for p, s, b in mid if s == sizes[0]]
    order: list[tuple[str, int, int, str]] = []
    order += [(p, s, b, "eager bf16" if bf16 else "eager fp32") for p, s, b in grid]
    order += [(p, s, b, v) for v in fast for p, s, b in first_mid]
    order += [(p, s, b, "eager bf16 NCHW" if bf16 else "eager fp32 NCHW") for p, s, b in mid if p != "mlp"]
    if device.type == "cuda":
        order += [(p, s, b, "eager bf16 cudnn.benchmark") for p, s, b in mid if p != "mlp"]
    order += [(p, s, b, "eager fp32") for p, s, b in grid] if bf16 else []
    order += [(p, s, b, v) for p, s, b in grid if (p, s, b) not in first_mid for v in fast]
    return order


def speed(args: argparse.Namespace, rows: Rows) -> int:
    import torch

    from core.training import fast_path

    device = torch.device(args.device)
    if args.tiny and device.type == "cpu":
        fast_path.BACKEND = "aot_eager"  # inductor's C++ build takes minutes on a small CPU: the dry run checks the plumbing
    deadline = time.monotonic() + args.part_seconds - 5
    timed = args.seconds_a_row or (TINY_TIMED_S if args.tiny else TIMED_S)
    last_cost = 0.0
    for name, size, batch, variant in plan(args, device):
        if time.monotonic() + last_cost > deadline:
            rows.add(preset=name, size=size, batch=batch, variant=variant, not_run="out of time")
            continue
        began = time.monotonic()
        try:
            row = measure(name, size, batch, variant, device, timed)
            row["backend"] = fast_path.BACKEND if row["compiled"] else ""
            rows.add(**row)
        except Exception as e:  # one row's failure (out of memory, say) is that row's result
            rows.add(preset=name, size=size, batch=batch, variant=variant,
                     error=f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:300]}")
        last_cost = min(time.monotonic() - began, 60.0)
    return 0


# --- the engine against the tutorial loop ---


def tutorial(args: argparse.Namespace, rows: Rows) -> int:
    import torch

    from bench import engine_vs_tutorial as evt
    from core.presets import preset
    from core.training.precision import native_bf16

    device = torch.device(args.device)
    steps = 20 if args.tiny else 300
    if args.tiny:
        evt.WARMUP = 5
    # bench/engine_vs_tutorial.py's own comparison: the mlp preset's GAN, no dropout or EMA, batch 64
    config = preset("mlp").with_values(**{"run.device": args.device, "run.threads": torch.get_num_threads(),
                                          "model.d_dropout": 0.0, "run.batch_size": 64})
    loops = ["tutorial", "engine fp32"] + (["engine bf16"] if native_bf16(device) else [])
    rounds = 1 if args.tiny else 2
    for r in range(rounds):
        for loop in loops:
            rate = (evt.tutorial_steps_per_s(config, steps, device) if loop == "tutorial"
                    else evt.engine_steps_per_s(config, steps, loop.split()[1]))
            rows.add(loop=loop, round=r + 1, steps_per_s=rate, steps=steps)
    return 0


# --- the app's thread ---

GUI_HZ = 60  # the app's GUI thread takes queued events between frames at about this rate


def _train_rate(config, on_thread: bool) -> tuple[float, int]:
    """steps/s over the Metrics ticks after the first (the trainer's own clock, as the app shows it), and
    how many events the listener got. On a thread: train() as the app's worker runs it, its events queued
    to a consumer that wakes GUI_HZ times a second and takes what is there (a grid copied, as into a QImage)."""
    import numpy as np

    from core import events as ev
    from core.training.trainer import train

    rates: list[float] = []
    count = [0]

    def record(e) -> None:
        count[0] += 1
        if isinstance(e, ev.Metrics):
            rates.append(e.images_per_s)
        elif isinstance(e, ev.Samples):
            np.ascontiguousarray(e.grid[::-1]).tobytes()

    if not on_thread:
        train(config, on_event=record)
    else:
        inbox: queue.Queue = queue.Queue()
        worker = threading.Thread(target=train, args=(config,), kwargs={"on_event": inbox.put})
        worker.start()
        while worker.is_alive() or not inbox.empty():
            time.sleep(1 / GUI_HZ)  # the GUI's frame: events wait for it, as queued signals do
            while not inbox.empty():
                record(inbox.get_nowait())
        worker.join()
    timed = rates[1:] or rates
    return (sum(timed) / len(timed) / config.run.batch_size if timed else math.nan), count[0]


def studio(args: argparse.Namespace, rows: Rows) -> int:
    from core.presets import preset

    steps = 40 if args.tiny else 1000
    config = preset("default").with_values(**{"run.device": args.device, "run.steps": steps, "run.log_every": 10,
                                              "run.sample_every": 20 if args.tiny else 250,
                                              "run.checkpoint_every": 0, "run.quality_every": 0})
    for r in range(1 if args.tiny else 2):
        for on_thread in (False, True):
            rate, events = _train_rate(config, on_thread)
            rows.add(listener="thread at the GUI's rate" if on_thread else "none (inline)", round=r + 1,
                     steps_per_s=rate, events=events, steps=steps)
    return 0
