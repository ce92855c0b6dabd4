"""The app's memory over a long run: the real window takes the events of a 20,000-step run at 128 px
(a 64-sample RGB grid every 50 steps: 400 grids of 3.3 MB, a loss reading every 10 steps), through
the same session signals the trainer's events arrive on, and its resident memory (RSS) is read at
the start, as the grids arrive, and after scrubbing the whole timeline back (older grids are read
from the run folder's PNGs). No training runs, so the figures are the window's own.

Two variants in child processes: the gallery as it is (newest grids up to studio.panels.gallery.MEMORY_BUDGET
in RAM) and, for comparison, every grid kept in RAM.

    python bench/gallery_memory.py [--steps 20000] [--size 128] [--grid-every 50]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(args) -> dict:
    import numpy as np

    import studio.panels.gallery as gallery
    from bench.gui import open_window
    from core import events as ev
    from core.presets import preset
    from core.sharing.export import write_png

    if args.keep_all:
        gallery.MEMORY_BUDGET = 2**62
    app, window, tmp = open_window()
    run = tmp / "runs" / "long"
    (run / "samples").mkdir(parents=True)
    config = preset("folder").with_values(**{"data.folder": "pictures", "data.image_size": args.size,
                                             "run.steps": args.steps})
    window.gallery.reset(run, "Samples · long")
    s = window.session
    s.started.emit(ev.Started(0, args.steps, "cpu", "folder pictures", 300, config.to_dict()))
    app.processEvents()
    rng = np.random.default_rng(0)
    side = 8 * args.size + 9 * 2  # make_grid: 8 x 8 samples, 2-px gaps
    base = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    start = rss_mb()
    trace = []
    for step in range(10, args.steps + 1, 10):
        s.metrics.emit(ev.Metrics(step, step / 5, 1.0, 1.0, 0.5, 0.5, 1000.0, 2e-4, 2e-4))
        if step % args.grid_every == 0:
            grid = np.roll(base, step, axis=1)  # a new grid each time, as training makes
            write_png(grid, run / "samples" / f"step_{step:06d}.png")
            s.samples.emit(ev.Samples(step, grid, 8))
            app.processEvents()
            if step % (args.grid_every * 50) == 0:
                trace.append((step, round(rss_mb(), 1)))
    app.processEvents()
    end = rss_mb()
    t = time.perf_counter()
    for i in range(len(window.gallery.steps)):  # scrub back through every grid
        window.gallery.slider.setValue(i)
    scrub_s = time.perf_counter() - t
    after_scrub = rss_mb()
    grids = len(window.gallery.steps)
    in_ram = len(window.gallery._cache)
    window.close()
    return {"start": start, "end": end, "after_scrub": after_scrub, "trace": trace, "grids": grids,
            "in_ram": in_ram, "scrub_ms_per_grid": 1000 * scrub_s / max(1, grids), "grid_mb": base.nbytes / 2**20}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--grid-every", type=int, default=50)
    p.add_argument("--keep-all", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    results = {}
    for name, extra in (("gallery as shipped (newest grids up to its memory budget)", []),
                        ("every grid kept in RAM (for comparison)", ["--keep-all"])):
        out = subprocess.run([sys.executable, __file__, "--child", "--steps", str(args.steps), "--size",
                              str(args.size), "--grid-every", str(args.grid_every), *extra],
                             capture_output=True, text=True, check=True)
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
        print(name, results[name], flush=True)
    from bench.common import record

    lines = ["| gallery | RSS at start | RSS after the run | after scrubbing back | grids in RAM / in the timeline "
             "| scrub, ms a grid |", "|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['start']:.0f} MB | {r['end']:.0f} MB | {r['after_scrub']:.0f} MB | "
                     f"{r['in_ram']} / {r['grids']} | {r['scrub_ms_per_grid']:.1f} |")
    shipped = next(iter(results.values()))
    lines += ["", f"The real window fed the events of a {args.steps:,}-step run at {args.size} px: a 64-sample RGB grid "
              f"({shipped['grid_mb']:.1f} MB) every {args.grid_every} steps, a loss reading every 10 steps; RSS "
              f"every {args.grid_every * 50:,} steps: {shipped['trace']}. Older grids are read back from the run "
              "folder's PNGs when scrubbed to (the scrub column is that cost, on the GUI thread)."]
    record("Gallery memory over a long run", lines)


if __name__ == "__main__":
    main()
