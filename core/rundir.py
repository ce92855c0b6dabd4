"""The trainer's writer of the run folder both the CLI and the studio use (the layout and its
torch-free readers are in core/run_folder.py)."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import secrets
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from core.atomic import atomic_write, remove_stale_temps
from core.checkpoint import save_checkpoint
from core.config import Config
from core.run_folder import FID_COLUMNS, METRIC_COLUMNS, QUALITY_COLUMNS, check_new_run_folder, kept_checkpoints
from core.events import ImageQuality, Metrics, Quality
from core.export import save_generator, write_png


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoints" / "last.pt"

    def start(self, config: Config, resumed_at: int | None, lineage: dict | None = None,
              world_size: int = 1) -> None:
        """A new run claims a folder that holds none (RunFolderError otherwise) and records where it
        came from in run.json (`lineage`: parent and fork step of a fork); a resumed run first
        clears the temp files an interrupted save left behind."""
        if resumed_at is None:
            check_new_run_folder(self.path)
        else:
            self.remove_stale_temps()
        (self.path / "samples").mkdir(parents=True, exist_ok=True)
        # config.json stays a loadable config (load_config ignores world_size) and says how many
        # processes trained the run.
        text = json.dumps({**config.to_dict(), "world_size": world_size}, indent=2) + "\n"
        atomic_write(self.path / "config.json", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        if resumed_at is None or not (self.path / "run.json").exists():
            record = {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "parent": None, "fork_step": None,
                      **(lineage or {})}
            atomic_write(self.path / "run.json", lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2)))
        self._restart_csv(self.path / "metrics.csv", METRIC_COLUMNS, resumed_at)
        # Readings files appear with their first reading (a digit run has no fid.csv, a folder run no
        # quality.csv); a resumed run's are cut back to its checkpoint like the metrics.
        for name, columns in (("quality.csv", QUALITY_COLUMNS), ("fid.csv", FID_COLUMNS)):
            if resumed_at is not None and (self.path / name).exists():
                self._restart_csv(self.path / name, columns, resumed_at)
        self._restart_changes(resumed_at)

    def _restart_changes(self, resumed_at: int | None) -> None:
        path = self.path / "changes.jsonl"
        kept = []
        if resumed_at is not None and path.exists():
            for line in path.read_text().splitlines():
                try:
                    if json.loads(line)["step"] <= resumed_at:
                        kept.append(line)
                except (ValueError, KeyError, TypeError):
                    pass
        path.write_text("".join(f"{line}\n" for line in kept))

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
        self._append_reading(self.path / "quality.csv", QUALITY_COLUMNS, row)

    def write_change(self, step: int, changes: dict) -> None:
        """Live changes, one JSON line each (changes.jsonl): an attached studio marks them on its plots."""
        with (self.path / "changes.jsonl").open("a") as f:
            f.write(json.dumps({"step": step, "changes": changes}) + "\n")

    def write_fid(self, q: ImageQuality) -> None:
        self._append_reading(self.path / "fid.csv", FID_COLUMNS, dataclasses.asdict(q))

    @staticmethod
    def _append_reading(path: Path, columns: list[str], row: dict) -> None:
        new = not path.exists()
        with path.open("a", newline="") as f:  # header and first row in one write: a follower never sees half
            writer = csv.DictWriter(f, columns)
            if new:
                writer.writeheader()
            writer.writerow(row)

    def write_samples(self, step: int, grid: np.ndarray) -> Path:
        path = self.path / "samples" / f"step_{step:06d}.png"
        atomic_write(path, lambda tmp: write_png(grid, tmp))  # a watcher never reads half a PNG
        return path

    def save(self, state: dict, generator: torch.nn.Module, config: Config, step: int, keep: bool = False) -> Path:
        """The latest checkpoint and generator; with `keep`, the checkpoint is also kept as
        checkpoints/step_NNNNNN.pt (and the oldest kept ones beyond run.keep_last go)."""
        save_checkpoint(state, self.checkpoint_path)
        save_generator(generator, config, self.path, step)
        if keep:
            self._keep(step, config.run.keep_last)
        return self.checkpoint_path

    def _keep(self, step: int, keep_last: int) -> None:
        kept = self.checkpoint_path.with_name(f"step_{step:06d}.pt")
        tmp = kept.with_name(f".{kept.name}.{secrets.token_hex(4)}.tmp")  # remove_stale_temps' naming
        try:
            os.link(self.checkpoint_path, tmp)  # the same bytes, no copy: last.pt is replaced, not rewritten
        except OSError:
            shutil.copyfile(self.checkpoint_path, tmp)  # a file system without hard links
        os.replace(tmp, kept)
        steps = kept_checkpoints(self.path)
        for old in steps[:-keep_last] if keep_last else []:
            (self.path / "checkpoints" / f"step_{old:06d}.pt").unlink(missing_ok=True)

    def remove_stale_temps(self) -> list[Path]:
        """Temp files of interrupted saves (ours, by name) in the folder, checkpoints/ and samples/."""
        return [p for sub in ("", "checkpoints", "samples") for p in remove_stale_temps(self.path / sub)]
