"""How much the latent explorer slows training: the real window with the explorer closed vs open.

The default preset trains in a child process inside the real main window
(offscreen), as the app runs it (run.threads = 0: the thread tuner). Variants:

- closed: the explorer dock never shown;
- still: the explorer shown from the start with the walk drawn (and re-drawn at every grid) but
  not played;
- walk: the explorer shown from the start, "Follow training" on (a fresh
  snapshot and a re-drawn walk at every new gallery grid), playing a random
  walk of 4 x 4 samples (--side 4, the default; --side 1: one sample) of 40
  frames at 10 frames a second.

Children run one at a time, the variants alternating within each round (and the
order alternating between rounds), so both see the same machine; the median
over rounds is reported. Speed is steps/s from the trainer's own per-tick rates
after a warm-up (bench/studio_vs_headless.py's measure).

    python bench/explorer_overhead.py [--steps 400] [--warmup 50] [--rounds 3] [--sample-every 250] [--side 4]
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

VARIANTS = ("closed", "still", "walk")


def _config(args):
    from bench.studio_vs_headless import _config as app_config

    config = app_config(args.warmup + args.steps, threads=0)
    return config.with_values(**({"run.sample_every": args.sample_every} if args.sample_every else {}))


def child(args) -> dict:
    from PySide6.QtCore import QTimer

    import studio.bridge.explorer_renderer as explorer_renderer
    import studio.panels.explorer_panel as explorer_panel
    from bench.gui import open_window
    from bench.studio_vs_headless import _rate

    app, window, tmp = open_window()
    cfg = _config(args)
    ticks, out, drawn, frames = [], {}, [], []
    panel = window.explorer

    original = explorer_renderer.draw

    def timed_draw(*a, **k):  # runs on the renderer's thread
        t = time.perf_counter()
        result = original(*a, **k)
        drawn.append(time.perf_counter() - t)
        return result

    explorer_renderer.draw = timed_draw

    def open_explorer(_):
        panel.tabs.setCurrentIndex(explorer_panel.WALK)
        panel.walk_side.setCurrentIndex(panel.walk_side.findData(args.side))
        window.explorer_dock.show()
        panel.play_button.setChecked(args.child == "walk")

    def on_finished(_):
        out.update(steps_per_s=_rate(ticks, args.warmup, cfg.run.log_every, cfg.run.batch_size),
                   renders=len(drawn), render_ms=1000 * sum(drawn) / max(1, len(drawn)), frames=len(frames))
        QTimer.singleShot(200, lambda: (window.close(), app.quit()))

    window.session.metrics.connect(lambda m: ticks.append((m.step, m.images_per_s)))
    panel.frame_shown.connect(frames.append)
    if args.child != "closed":
        window.session.started.connect(open_explorer)
    window.run_finished.connect(on_finished)
    QTimer.singleShot(100, lambda: window.start_training(cfg, tmp / "runs" / "bench"))
    app.exec()
    return out


def run_child(variant: str, args) -> dict:
    cmd = [sys.executable, __file__, "--child", variant, "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--sample-every", str(args.sample_every), "--side", str(args.side)]
    from bench import common
    return common.run_child(cmd, variant, args.timeout)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=400, help="timed steps after the warm-up")
    p.add_argument("--warmup", type=int, default=50, help="a multiple of the preset's log_every (50)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sample-every", type=int, default=0, help="steps between gallery grids (0: the preset's "
                   "250); with Follow training each grid brings a snapshot and a re-drawn walk")
    p.add_argument("--side", type=int, choices=(1, 4), default=4, help="the walk shows side x side samples")
    p.add_argument("--timeout", type=int, default=300, help="seconds allowed to one child")
    p.add_argument("--child", choices=VARIANTS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args)), flush=True)
        return

    results: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    load, t0 = [os.getloadavg()[0]], time.perf_counter()
    for r in range(args.rounds):
        for v in (VARIANTS if r % 2 == 0 else VARIANTS[::-1]):
            out = run_child(v, args)
            results[v].append(out)
            print(f"round {r + 1} {v}: {out['steps_per_s']:.2f} steps/s, {out['renders']} renders "
                  f"({out['render_ms']:.0f} ms each), {out['frames']} frames shown", flush=True)
        load.append(os.getloadavg()[0])
    _report(args, results, load, t0)


def _report(args, results, load, t0) -> None:
    from bench.common import median, record

    speed = {v: median([o["steps_per_s"] for o in results[v]]) for v in VARIANTS}
    ratio = speed["walk"] / speed["closed"]
    lines = ["| explorer | steps/s (median) | rounds | renders a run | ms a render (wall) | frames shown |",
             "|---|---|---|---|---|---|"]
    for v in VARIANTS:
        runs = results[v]
        rounds = ", ".join(f"{o['steps_per_s']:.2f}" for o in runs)
        lines.append(f"| {v} | {speed[v]:.2f} | {rounds} | "
                     f"{median([o['renders'] for o in runs]):g} | "
                     f"{median([o['render_ms'] for o in runs]):.0f} | "
                     f"{median([o['frames'] for o in runs]):g} |")
    every = args.sample_every or 250
    drawn = median([o["renders"] for o in results["walk"]])
    lines += ["", f"**Explorer open and animating vs closed: {ratio:.3f}× the steps/s** "
              f"({(ratio - 1) * 100:+.1f}%; target: no more than a few percent slower)."
              + ("" if drawn else " The walk was never drawn in a median run, so this does not measure the "
                 "explorer's cost.") + "", "",
              f"Default preset in the real window (offscreen), run.threads = 0 (the thread tuner), a grid every "
              f"{every} steps; the explorer plays a random walk of {args.side} × {args.side} samples, 40 frames at "
              f"10 frames/s, with Follow training on (a snapshot and a re-drawn walk, {args.side ** 2 * 40} "
              f"images, per grid). {args.steps} timed steps "
              f"after {args.warmup} warm-up steps, {args.rounds} rounds of alternating child processes, "
              f"{time.perf_counter() - t0:.0f} s in all. 1-minute load average during the run: "
              f"{', '.join(f'{x:.1f}' for x in load)}."]
    record("Latent explorer overhead on training", lines)


if __name__ == "__main__":
    main()
