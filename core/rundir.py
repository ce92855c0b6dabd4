"""The run folder both the CLI and the studio write:

runs/<name>/config.json, metrics.csv, samples/step_000500.png,
checkpoints/last.pt, generator.safetensors, generator.json
"""

from __future__ import annotations

import csv
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from core.checkpoint import save_checkpoint
from core.config import Config, save_config
from core.events import Metrics, Quality
from core.export import save_generator, write_png

METRIC_COLUMNS = [f.name for f in dataclasses.fields(Metrics)]
QUALITY_COLUMNS = ["step", "frechet", "accuracy", "confidence", "collapse", "missing_classes", "histogram"]


def new_run_path(root: str | Path = "runs", name: str = "") -> Path:
    return Path(root) / (name or time.strftime("%Y%m%d-%H%M%S"))


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoints" / "last.pt"

    def start(self, config: Config, resumed_at: int | None) -> None:
        (self.path / "samples").mkdir(parents=True, exist_ok=True)
        save_config(config, self.path / "config.json")
        for name, columns in (("metrics.csv", METRIC_COLUMNS), ("quality.csv", QUALITY_COLUMNS)):
            self._restart_csv(self.path / name, columns, resumed_at)

    @staticmethod
    def _restart_csv(path: Path, columns: list[str], resumed_at: int | None) -> None:
        rows = []
        if resumed_at is not None and path.exists():
            # Rows written after the checkpoint will be written again: drop them.
            with path.open(newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resumed_at]
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            writer.writerows(rows)

    def write_metrics(self, m: Metrics) -> None:
        with (self.path / "metrics.csv").open("a", newline="") as f:
            csv.DictWriter(f, METRIC_COLUMNS).writerow(dataclasses.asdict(m))

    def write_quality(self, q: Quality) -> None:
        row = {c: getattr(q, c) for c in QUALITY_COLUMNS}
        row["missing_classes"] = " ".join(map(str, q.missing_classes))
        row["histogram"] = " ".join(f"{h:.4f}" for h in q.histogram)
        with (self.path / "quality.csv").open("a", newline="") as f:
            csv.DictWriter(f, QUALITY_COLUMNS).writerow(row)

    def write_samples(self, step: int, grid: np.ndarray) -> Path:
        path = self.path / "samples" / f"step_{step:06d}.png"
        write_png(grid, path)
        return path

    def save(self, state: dict, generator: torch.nn.Module, config: Config, step: int) -> Path:
        save_checkpoint(state, self.checkpoint_path)
        save_generator(generator, config, self.path, step)
        return self.checkpoint_path
