"""GUI responsiveness while training runs at full speed in the real window.

A 10 ms QTimer on the GUI thread (bench.gui.LatencyProbe) records how late
each tick fires while the trainer runs in the studio's worker thread; a late
tick is time a click or a resize would have waited. Reported: p50/p99/max
lateness, and what the GUI thread spent its time on (the loss plots' timer
redraw, the metrics and samples slots, and the paint of the plot and gallery
widgets), so a slow p99 can be traced to its cause.

Scenarios, each in its own child process: the default preset as the app runs
it (log every 50 steps, a grid every 250), and a stress run with a metrics
signal every step and a grid every 10 steps.

    python bench/responsiveness.py [--steps 600] [--interval 10] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCENARIOS = {
    "default preset": {},
    "stress: metrics every step, grid every 10": {"run.log_every": 1, "run.sample_every": 10},
}


class Timed:
    """Wraps a bound method or a paintEvent, summing its wall time on the GUI thread."""

    def __init__(self):
        self.calls: dict[str, list[float]] = {}

    def wrap(self, obj, attr: str, label: str) -> None:
        original = getattr(obj, attr)
        calls = self.calls.setdefault(label, [])

        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                calls.append((time.perf_counter() - t) * 1000)

        setattr(obj, attr, timed)

    def report(self) -> dict:
        import numpy as np

        return {k: {"n": len(v), "mean_ms": float(np.mean(v)) if v else 0.0, "max_ms": max(v, default=0.0),
                    "total_ms": float(sum(v))} for k, v in self.calls.items()}


def child(args) -> dict:
    from PySide6.QtCore import QTimer

    from bench.gui import LatencyProbe, open_window
    from core.presets import preset

    app, window, tmp = open_window()
    cfg = preset("default").with_values(**{"run.steps": args.steps, "run.checkpoint_every": 0,
                                           "run.device": "cpu", **SCENARIOS[args.child]})
    timed = Timed()
    plots = window.loss_plots
    # Slots run through Qt's connections, which hold the original bound methods: time what they call.
    timed.wrap(plots, "add_metrics", "metrics slot: loss_plots.add_metrics")
    timed.wrap(window.status, "metrics", "metrics slot: status bar")
    timed.wrap(window.gallery, "add_grid", "samples slot: gallery.add_grid")
    timed.wrap(plots.graphics, "paintEvent", "paint: loss plots")
    grid_view = getattr(window.gallery, "view", None) or getattr(window.gallery, "grid_view", None)
    if grid_view is not None:
        timed.wrap(grid_view, "paintEvent", "paint: gallery grid")
    plots.timer.timeout.disconnect()
    timed.wrap(plots, "_redraw", "timer: loss_plots._redraw (setData when dirty)")
    plots.timer.timeout.connect(plots._redraw)

    probe = LatencyProbe(args.interval)
    out = {}
    state = {"t0": 0.0}

    def on_started(_):
        state["t0"] = time.perf_counter()
        probe.start()

    def on_finished(e):
        probe.stop()
        seconds = time.perf_counter() - state["t0"]
        out.update(probe.report(), steps_per_s=e.step / seconds, points=plots.count, slots=timed.report())
        QTimer.singleShot(200, lambda: (window.close(), app.quit()))

    window.session.started.connect(on_started)
    window.run_finished.connect(on_finished)
    QTimer.singleShot(100, lambda: window.start_training(cfg, tmp / "runs" / "bench"))
    app.exec()
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--interval", type=int, default=10, help="probe timer interval, ms")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--child", choices=tuple(SCENARIOS))
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args)), flush=True)
        return

    from bench.common import median, record

    results: dict[str, list[dict]] = {s: [] for s in SCENARIOS}
    load = [os.getloadavg()[0]]
    for r in range(args.rounds):
        for s in SCENARIOS:
            cmd = [sys.executable, __file__, "--child", s, "--steps", str(args.steps), "--interval", str(args.interval)]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                                  env={**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")})
            lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
            if proc.returncode or not lines:
                raise SystemExit(f"child failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
            out = json.loads(lines[-1])
            results[s].append(out)
            print(f"round {r + 1} {s}: p50 {out['p50_ms']:.2f} ms, p99 {out['p99_ms']:.1f} ms, max "
                  f"{out['max_ms']:.1f} ms, {out['steps_per_s']:.1f} steps/s", flush=True)
            load.append(os.getloadavg()[0])

    lines = ["| scenario | ticks | p50 lateness | p99 lateness | max lateness | steps/s | target p99 < 50 ms |",
             "|---|---|---|---|---|---|---|"]
    for s, runs in results.items():
        m = {k: median([x[k] for x in runs]) for k in ("ticks", "p50_ms", "p99_ms", "max_ms", "steps_per_s")}
        lines.append(f"| {s} | {m['ticks']:.0f} | {m['p50_ms']:.2f} ms | {m['p99_ms']:.1f} ms | {m['max_ms']:.1f} ms "
                     f"| {m['steps_per_s']:.1f} | {'met' if m['p99_ms'] < 50 else 'missed'} |")
    lines += ["", "Where the GUI thread's time went (last round; mean / max per call, ms):", "",
              "| scenario | work | calls | mean | max | total |", "|---|---|---|---|---|---|"]
    for s, runs in results.items():
        for k, v in runs[-1]["slots"].items():
            lines.append(f"| {s} | {k} | {v['n']} | {v['mean_ms']:.2f} | {v['max_ms']:.1f} | {v['total_ms']:.0f} |")
    lines += ["", f"{args.interval} ms probe timer (Qt.PreciseTimer) on the GUI thread of the real main window "
              f"(1440×900, {os.environ.get('QT_QPA_PLATFORM', 'offscreen')} platform), {args.steps} steps of the default "
              f"preset at the app's thread choice (run.threads = 0: the tuner), {args.rounds} round(s); "
              f"plot points at the end: {results[next(iter(SCENARIOS))][-1]['points']:,} (default), "
              f"{results[list(SCENARIOS)[-1]][-1]['points']:,} (stress). 1-minute load average: "
              f"{', '.join(f'{x:.1f}' for x in load)}."]
    record("GUI responsiveness while training", lines)


if __name__ == "__main__":
    main()
