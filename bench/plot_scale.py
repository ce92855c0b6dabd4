"""Loss-plot redraw time at a million points per curve.

The studio's real LossPlots widget (two plots, eight curves: raw and smoothed
G/D loss and D(x)/D(G(z))) is filled with N readings per curve and timed on
the GUI thread for two kinds of frame:

- live tick: what the 25 Hz redraw timer costs while training, with the view
  following the data (x auto-range on): one new reading on every curve, then
  `_redraw()` (setData on every curve)
  + a synchronous `repaint()` of the plot's viewport (where the scene paints);
- pan: the person has zoomed to a quarter of the run (x auto-range off), the
  view moves a little: `setXRange` (+ the studio's re-slice of its buffers for
  the new range) + `repaint()`.

Configurations, alternating within each round: pyqtgraph's defaults (every
point handed to setData and drawn, antialias off), pyqtgraph's own peak
auto-downsampling + clipToView with antialias on (the studio's first version),
and the studio as it ships (LossPlots slices the visible range and reduces it
to a min/max bucket per two pixel columns before setData, keeping the reduced
buckets between ticks; smoothed curves antialiased as studio.app.apply_theme
sets, the faint raw band not; ticks and grid at the major level only). The median over frames is reported.

    python bench/plot_scale.py [--points 1000000] [--frames 15] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402

CONFIGS = {  # reduce: who cuts a million points down to what the view shows
    "pyqtgraph defaults": {"reduce": "none", "antialias": False},
    "pyqtgraph peak downsampling + clipToView, antialias on": {"reduce": "pyqtgraph", "antialias": True},
    "studio settings (own clip + min/max per 2 px, antialias on)": {"reduce": "studio", "antialias": True},
}
STUDIO = "studio settings (own clip + min/max per 2 px, antialias on)"


def readings(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """n noisy readings per curve (+ spare room), raw and smoothed by the studio's own Buffer at the
    smoothing slider's default position, so the smoothed curve is as noisy as in the app."""
    from studio.panels.loss_plots import Buffer

    rng = np.random.default_rng(0)
    room = n + 10_000
    steps = np.arange(1, room + 1, dtype=float) * 10
    out = []
    for i in range(4):
        base = 0.7 + 0.3 * np.sin(steps / (5e5 + i * 1e5)) + 0.15 * rng.standard_normal(room)
        b = Buffer()
        b.data, b.smooth, b.n = base, np.empty(room), room
        b.set_weight(0.60)  # LossPlots' default slider position
        out.append((base, b.smooth))
    return [(steps, steps)] + out


def fill(plots, n: int, data) -> None:
    """n readings per curve, straight into the widget's buffers (as a long run leaves them); the
    spare capacity holds the readings each live tick appends."""
    for buffer, (raw, smooth) in zip((plots.steps, *plots.series.values()), data):
        buffer.data, buffer.smooth, buffer.n = raw.copy(), smooth.copy(), n
    plots._dirty = True


def append_reading(plots) -> None:
    """One more reading on every curve (the values are already in the spare capacity)."""
    for buffer in (plots.steps, *plots.series.values()):
        buffer.n += 1


def make(config: dict, n: int, data):
    from studio.panels.loss_plots import LossPlots

    pg.setConfigOptions(antialias=config["antialias"])  # curves read it when created
    plots = LossPlots()
    plots.timer.stop()  # frames are driven by hand here
    plots.reduce = config["reduce"]
    if config["reduce"] != "studio":  # hand pyqtgraph every point, as a plain setData would
        plots._visible = lambda plot: (0, plots.steps.n, 1)
        for plot in plots.plots:  # and pyqtgraph's own grid, raw curves antialiased with the rest
            for side in ("left", "bottom"):
                plot.getAxis(side).setStyle(maxTickLevel=2)
        for item in plots.raw_curves.values():
            item.setData(antialias=config["antialias"])
    if config["reduce"] == "pyqtgraph":
        for item in list(plots.raw_curves.values()) + list(plots.curves.values()):
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)
    plots.resize(900, 700)
    plots.show()
    fill(plots, n, data)
    return plots


def live_tick(plots, app) -> float:
    append_reading(plots)
    t = time.perf_counter()
    plots._dirty = True
    plots._redraw()
    plots.graphics.viewport().repaint()  # the view paints its scene in the viewport
    return (time.perf_counter() - t) * 1000


def pan(plots, app, frame: int, n_steps: float) -> float:
    width = n_steps / 4
    left = n_steps / 3 + frame * width / 50
    t = time.perf_counter()
    plots.plots[0].setXRange(left, left + width, padding=0)  # both plots: x is linked
    if plots.reduce == "studio":  # the studio re-slices its buffers for the new range
        plots._redraw()
    plots.graphics.viewport().repaint()
    return (time.perf_counter() - t) * 1000


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--points", type=int, default=1_000_000, help="readings per curve")
    p.add_argument("--frames", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()

    from bench.common import median, record
    from studio.app import create_app

    app = create_app([])
    data = readings(args.points)
    widgets = {name: make(c, args.points, data) for name, c in CONFIGS.items()}
    for w in widgets.values():  # first paint and auto-range out of the way
        live_tick(w, app)
        app.processEvents()
    live = {name: [] for name in CONFIGS}
    panned = {name: [] for name in CONFIGS}
    n_steps = args.points * 10
    for r in range(args.rounds):
        for name, w in widgets.items():
            w.raise_()
            for plot in w.plots:
                plot.enableAutoRange()
            app.processEvents()
            live[name] += [live_tick(w, app) for _ in range(args.frames)]
            w.plots[0].setXRange(n_steps / 3, n_steps / 3 + n_steps / 4, padding=0)  # auto-range off
            app.processEvents()
            panned[name] += [pan(w, app, f, n_steps) for f in range(args.frames)]
            print(f"round {r + 1} {name}: live tick {median(live[name][-args.frames:]):.1f} ms, "
                  f"pan {median(panned[name][-args.frames:]):.1f} ms", flush=True)

    studio = STUDIO
    lines = ["| configuration | live tick (median) | live tick p90 | pan (median) | pan p90 |", "|---|---|---|---|---|"]
    for name in CONFIGS:
        lines.append(f"| {name} | {median(live[name]):.1f} ms | {np.percentile(live[name], 90):.1f} ms | "
                     f"{median(panned[name]):.1f} ms | {np.percentile(panned[name], 90):.1f} ms |")
    worst = max(median(live[studio]), median(panned[studio]))
    lines += ["", f"**Studio settings at {args.points:,} points per curve: live tick "
              f"{median(live[studio]):.1f} ms ({median(live['pyqtgraph defaults']) / median(live[studio]):.1f}× faster "
              f"than defaults), pan {median(panned[studio]):.1f} ms "
              f"({median(panned['pyqtgraph defaults']) / median(panned[studio]):.1f}× faster); target < 15 ms: "
              f"{'met' if worst < 15 else 'missed'}.**", "",
              f"The real studio.panels.loss_plots.LossPlots (2 plots, 8 curves of {args.points:,} points each), 900×700, "
              f"{os.environ.get('QT_QPA_PLATFORM', 'native')} platform (raster). Live tick = one new reading + `_redraw()` (setData on "
              f"all 8 curves, x auto-range on) + a synchronous `repaint()`; pan = `setXRange` over a quarter of the run "
              f"+ `repaint()`. {args.frames} frames × {args.rounds} rounds per configuration, configurations "
              f"alternating. 1-minute load average at the end: {os.getloadavg()[0]:.1f}."]
    record(f"Loss plot redraw at {args.points:,} points per curve", lines)


if __name__ == "__main__":
    main()
