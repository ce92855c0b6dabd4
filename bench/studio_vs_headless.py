"""Training speed with the studio open vs the same run headless.

The default preset (bundled digits, batch 64) trains in a child process, either
headless (core.training.trainer.train, no Qt imported) or inside the real main window
(offscreen platform; loss plots, gallery, status bar all live). Children run
one at a time, variants alternating within each round, so every variant sees
the same machine state; the median over rounds is reported.

Speed is steps/s over the Metrics ticks after a warm-up: each tick's
images_per_s is the trainer's own wall-clock rate since the previous tick
(measured on the trainer thread, so GUI-side queueing delays do not enter),
and dataset loading and model set-up are excluded.

Variants: headless at every thread count from 1 to the core count, the studio
as the app runs it (run.threads = 0: core.training.threads.ThreadTuner picks between all
cores and all but one by measuring), at all cores and at all cores but one. The headline ratio is the app's
configuration over the best headless one. The studio children run no latency
probe (bench/responsiveness.py measures that) unless --probe.

    python bench/studio_vs_headless.py [--steps 400] [--warmup 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _config(steps: int, threads: int):
    from core.presets import preset

    # The default preset as the app runs it; no periodic checkpoints (a full-state write
    # every 1000 steps would only add disk noise to both sides).
    return preset("default").with_values(**{"run.steps": steps, "run.threads": threads,
                                            "run.checkpoint_every": 0, "run.device": "cpu"})


def _rate(ticks: list[tuple[int, float]], warmup: int, log_every: int, batch: int) -> float:
    """steps/s over the ticks after the warm-up, from the trainer's per-tick rates."""
    timed = [(step, ips) for step, ips in ticks if step > warmup]
    prev = [warmup] + [s for s, _ in timed[:-1]]
    seconds = sum((s - p) * batch / ips for (s, ips), p in zip(timed, prev))
    return (timed[-1][0] - warmup) / seconds


def child_headless(args) -> dict:
    import tempfile

    import torch

    from core import events as ev
    from core.training.trainer import train

    cfg = _config(args.warmup + args.steps, args.threads)
    ticks = []

    def on_event(e):
        if isinstance(e, ev.Metrics):
            ticks.append((e.step, e.images_per_s))
        elif isinstance(e, ev.ErrorEvent):
            raise SystemExit(e.message)

    with tempfile.TemporaryDirectory() as tmp:  # a run folder, as the studio writes one
        train(cfg, on_event=on_event, run_dir=Path(tmp) / "run", gui=False)
    assert "PySide6" not in sys.modules
    return {"steps_per_s": _rate(ticks, args.warmup, cfg.run.log_every, cfg.run.batch_size),
            "threads": torch.get_num_threads()}


def child_studio(args) -> dict:
    from bench.gui import LatencyProbe, open_window

    app, window, tmp = open_window()
    cfg = _config(args.warmup + args.steps, args.threads)
    ticks, out = [], {}
    probe = LatencyProbe() if args.probe else None  # its 100 wake-ups a second are not the app's
    from PySide6.QtCore import QTimer

    def on_metrics(m):
        ticks.append((m.step, m.images_per_s))

    def on_finished(_):
        import torch

        out.update(steps_per_s=_rate(ticks, args.warmup, cfg.run.log_every, cfg.run.batch_size),
                   threads=torch.get_num_threads())
        if probe:
            probe.stop()
            out["latency"] = probe.report()
        QTimer.singleShot(200, lambda: (window.close(), app.quit()))

    window.session.metrics.connect(on_metrics)
    if probe:
        window.session.started.connect(lambda _: probe.start())
    window.run_finished.connect(on_finished)
    QTimer.singleShot(100, lambda: window.start_training(cfg, tmp / "runs" / "bench"))
    app.exec()
    return out


def run_child(kind: str, threads: int, args) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--threads", str(threads), "--steps", str(args.steps),
           "--warmup", str(args.warmup)] + (["--probe"] if args.probe else [])
    from bench import common
    return common.run_child(cmd, kind, args.timeout)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=400, help="timed steps after the warm-up")
    p.add_argument("--warmup", type=int, default=50, help="a multiple of the preset's log_every (50)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--timeout", type=int, default=300, help="seconds allowed to one child")
    p.add_argument("--child", choices=("headless", "studio"))
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--busy", action="store_true", help="keep one core busy with another process throughout (a "
                   "browser, a compile): how the thread counts hold up when the machine is not the trainer's alone")
    p.add_argument("--probe", action="store_true", help="run bench/responsiveness.py's latency probe in the studio "
                   "children too (100 GUI wake-ups a second: slows training a little)")
    args = p.parse_args()
    if args.child:
        result = (child_headless if args.child == "headless" else child_studio)(args)
        print(json.dumps(result), flush=True)
        return

    cores = len(os.sched_getaffinity(0))
    app_threads = 0  # the app's default: the thread tuner
    variants = [("headless", n) for n in range(1, cores + 1)]
    variants += [("studio", n) for n in sorted({app_threads, cores, max(1, cores - 1)})]
    results: dict[tuple, list[float]] = {v: [] for v in variants}
    latency: dict[tuple, list[dict]] = {v: [] for v in variants}
    burner = None
    if args.busy:
        import multiprocessing

        burner = multiprocessing.Process(target=_burn, daemon=True)
        burner.start()
    load = [os.getloadavg()[0]]
    t0 = time.perf_counter()
    try:
        _rounds(args, variants, results, latency, load)
    finally:
        if burner:
            burner.terminate()
    _report(args, variants, results, latency, load, t0, app_threads)


def _burn() -> None:
    while True:
        pass


def _rounds(args, variants, results, latency, load) -> None:
    for r in range(args.rounds):
        order = variants if r % 2 == 0 else variants[::-1]  # alternate the order too
        for v in order:
            out = run_child(*v, args)
            results[v].append(out["steps_per_s"])
            if "latency" in out:
                latency[v].append(out["latency"])
            print(f"round {r + 1} {v[0]} {v[1]} thread(s): {out['steps_per_s']:.2f} steps/s"
                  + (f", GUI p99 lateness {out['latency']['p99_ms']:.1f} ms" if "latency" in out else ""),
                  flush=True)
        load.append(os.getloadavg()[0])


def _report(args, variants, results, latency, load, t0, app_threads) -> None:
    from bench.common import median, record

    def name(v):
        threads = "auto threads" if v[1] == 0 else f"{v[1]} thread{'s' if v[1] > 1 else ''}"
        return f"{v[0]}, {threads}" + (" (app default)" if v == ("studio", app_threads) else "")

    best = max((v for v in variants if v[0] == "headless"), key=lambda v: median(results[v]))
    base = median(results[best])
    lines = ["| variant | steps/s (median) | rounds | × best headless | GUI p99 lateness |", "|---|---|---|---|---|"]
    lines[0:2] = lines[0:2] if args.probe else ["| variant | steps/s (median) | rounds | × best headless |", "|---|---|---|---|"]
    for v in variants:
        m = median(results[v])
        lat = f"{median([x['p99_ms'] for x in latency[v]]):.1f} ms" if latency[v] else ""
        lines.append(f"| {name(v)} | {m:.2f} | {', '.join(f'{x:.2f}' for x in results[v])} | {m / base:.2f}× |"
                     + (f" {lat} |" if args.probe else ""))
    app_ratio = median(results[("studio", app_threads)]) / base
    lines += ["", f"**Studio as the app runs it (run.threads = 0: the thread tuner) vs the best headless "
              f"configuration ({name(best)}): {app_ratio:.2f}×** (target ≥ 0.95×: "
              f"{'met' if app_ratio >= 0.95 else 'missed'}).", "",
              f"Default preset (DCGAN 32 channels, bundled digits, batch 64, log every 50 steps, samples every 250, "
              f"quality every 500), {args.steps} timed steps after {args.warmup} warm-up steps, {args.rounds} rounds "
              f"of alternating child processes, {time.perf_counter() - t0:.0f} s in all. 1-minute load average "
              f"during the run: {', '.join(f'{x:.1f}' for x in load)}"
              + (" (one core kept busy by a spinning process throughout)" if args.busy else "")
              + f"; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}."]
    record("Studio vs headless training speed" + (", one core busy" if args.busy else ""), lines)


if __name__ == "__main__":
    main()
