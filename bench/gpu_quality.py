"""The GPU suite's quality parts (bench/gpu_suite.py): what minutes on the device give.

digits    the default preset for 5,000 steps on the bundled digits as a person would train it (its own
          settings, run.precision = auto), with its digit Frechet distance readings; digits-grid.png
pictures  the folder preset on --pictures DIR for --folder-minutes of training (decoding and clustering
          not counted): its picture readings (core/quality/picture_reading.py: the Frechet distance in a
          fixed random network's features, every run.quality_every steps; no FID, whose weights the GPU
          machine cannot fetch); pictures-grid.png
"""

from __future__ import annotations

import argparse
import math
import threading
import time
from pathlib import Path

from bench.gpu_rows import Rows

# The CPU's figure to read the device's next to (docs/benchmarks.md, "Preset quality", 2 AMD EPYC cores):
# the run's own 512-sample reading at step 5,000 was 1.8 to 2.3 over three seeds, in about 95 s a run.
CPU_DIGITS = "CPU (2 cores, docs/benchmarks.md): FD 1.8-2.3 at 5,000 steps, ~95 s"


def _save_grid(grid, path: Path) -> None:
    from PIL import Image

    Image.fromarray(grid).save(path)


def digits(args: argparse.Namespace, rows: Rows) -> int:
    from core import events as ev
    from core.presets import preset
    from core.training.trainer import train

    steps = 100 if args.tiny else 5000
    every = 50 if args.tiny else 1000
    config = preset("default").with_values(**{
        "run.device": args.device, "run.steps": steps, "run.quality_every": every, "run.sample_every": steps,
        "run.checkpoint_every": 0, "run.keep_every": 0})
    marks: dict[str, float] = {}
    errors: list[str] = []
    grids = []

    def on_event(e) -> None:
        if isinstance(e, ev.Started):
            marks["started"] = time.perf_counter()
        elif isinstance(e, ev.Quality):
            rows.add(step=e.step, frechet=e.frechet, seconds=time.perf_counter() - marks["started"],
                     missing_classes=list(e.missing_classes))
        elif isinstance(e, ev.Samples):
            grids.append(e.grid)
        elif isinstance(e, ev.ErrorEvent):
            errors.append(e.message)

    began = time.perf_counter()
    session = train(config, on_event=on_event)
    ended = time.perf_counter()
    if errors or session is None:
        rows.add(error=(errors or ["the run did not start"])[0][:300])
        return 1
    if grids:
        _save_grid(grids[-1], args.out / "digits-grid.png")
    rows.add(final=True, steps=session.step, seconds=ended - marks.get("started", began), whole_s=ended - began,
             steps_per_s=session.step / max(ended - marks.get("started", began), 1e-9),
             grid="digits-grid.png" if grids else "", reference=CPU_DIGITS)
    return 0


def pictures(args: argparse.Namespace, rows: Rows) -> int:
    from core import events as ev
    from core.control import Control
    from core.presets import preset
    from core.training.trainer import train

    if args.pictures is None:
        rows.skip("no --pictures DIR")
        return 0
    # What the part may spend: its limit less the set-up (decoding, clustering) and the final grid.
    seconds = 10.0 if args.tiny else min(args.folder_minutes * 60, max(args.part_seconds - 60, 5))
    kind = args.device.split(":")[0]  # the preset for the device it trains on (its widths follow it)
    config = preset("folder", kind).with_values(**{
        "data.folder": str(args.pictures), "data.cache_dir": str(args.scratch / "picture-cache"),
        "run.device": args.device, "run.steps": 10**7, "run.sample_every": 10**6, "run.checkpoint_every": 0,
        "run.keep_every": 0, "run.fid_every": 0, "run.log_every": 100,
        **({"run.quality_every": 10, "run.quality_samples": 64} if args.tiny else {})})
    control = Control()
    marks: dict[str, float] = {}
    rates: list[float] = []
    errors: list[str] = []
    augment: list[float] = []
    timer = threading.Timer(seconds, control.stop)  # training time only: started once the data is loaded

    def on_event(e) -> None:
        if isinstance(e, ev.Started):
            marks["started"] = time.perf_counter()
            marks["pictures"] = e.dataset_size
            timer.start()
        elif isinstance(e, ev.Metrics):
            rates.append(e.images_per_s)
            augment.append(e.augment)
        elif isinstance(e, ev.Quality):
            rows.add(step=e.step, frechet=e.frechet, missing=list(e.missing_classes),
                     seconds=time.perf_counter() - marks["started"])
        elif isinstance(e, ev.ErrorEvent):
            errors.append(e.message)

    began = time.perf_counter()
    try:
        session = train(config, control, on_event)
    finally:
        timer.cancel()
    ended = time.perf_counter()
    if errors or session is None:
        rows.add(error=(errors or ["the run did not start"])[0][:300])
        return 1
    _save_grid(session.render_grid(), args.out / "pictures-grid.png")
    trained = ended - marks["started"]
    rows.add(final=True, pictures=marks["pictures"], steps=session.step, minutes=trained / 60, load_s=marks["started"] - began,
             images_per_s=session.step * config.run.batch_size / trained,
             tick_images_per_s=(sum(rates[1:]) / len(rates[1:])) if len(rates) > 1 else math.nan,
             augment_p=augment[-1] if augment else math.nan, grid="pictures-grid.png")
    return 0
