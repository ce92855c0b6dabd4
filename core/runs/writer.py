"""The trainer's writer of the run folder both the CLI and the studio use (the layout and its
torch-free readers are in core/runs/folder.py)."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
import secrets
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from core.atomic import DiskFull, atomic_write, is_disk_full, remove_stale_temps
from core.bounded_read import loads_json, read_bytes, read_lines
from core.config import Config
from core.events import HyperparamsChanged, ImageQuality, Metrics, Quality, Samples
from core.runs.checkpoint import save_checkpoint
from core.runs.folder import (
    BEST_KEY,
    FID_COLUMNS,
    METRIC_COLUMNS,
    QUALITY_COLUMNS,
    RunFolder,
    best_record,
    check_new_run_folder,
    read_csv,
)
from core.sharing.export import save_generator, write_png


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.folder = RunFolder(self.path)
        self.saved_step: int | None = None  # the step checkpoints/last.pt holds (None: none written yet)
        self.failed_step: int | None = None  # the step whose save failed for want of space

    @property
    def checkpoint_path(self) -> Path:
        return self.folder.last_checkpoint

    def start(self, config: Config, resumed_at: int | None, lineage: dict | None = None,
              world_size: int = 1) -> None:
        """A new run claims a folder that holds none (RunFolderError otherwise) and records where it
        came from in run.json (`lineage`: parent and fork step of a fork); a resumed run first
        clears the temp files an interrupted save left behind."""
        if resumed_at is None:
            check_new_run_folder(self.path)
        self.folder.refuse_linked_folders()  # the writer's own check, whoever claimed the folder
        if resumed_at is not None:
            self.remove_stale_temps()
        self.folder.samples.mkdir(parents=True, exist_ok=True)
        # config.json stays a loadable config (load_config ignores world_size) and says how many
        # processes trained the run.
        text = json.dumps({**config.to_dict(), "world_size": world_size}, indent=2) + "\n"
        atomic_write(self.folder.config, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        if resumed_at is None or not self.folder.run_json.exists():
            record = {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "parent": None, "fork_step": None,
                      **(lineage or {})}
            atomic_write(self.folder.run_json, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2)))
        self._restart_csv(self.folder.metrics, METRIC_COLUMNS, resumed_at)
        # Readings files appear with their first reading (a digit run has no fid.csv, a folder run no
        # quality.csv); a resumed run's are cut back to its checkpoint like the metrics.
        for path, columns in ((self.folder.quality, QUALITY_COLUMNS), (self.folder.fid, FID_COLUMNS)):
            if resumed_at is not None and path.exists():
                self._restart_csv(path, columns, resumed_at)
        self._restart_changes(resumed_at)
        self._restart_best(resumed_at)
        self.saved_step = resumed_at  # a run resumes from its last.pt

    def record(self, event: object) -> None:
        """The run folder as an event sink: each kind of event it keeps goes to its own file (metrics,
        readings, changes, grids); any other event marked `recorded` (core/events.py) to events.jsonl, from
        which core/runs/history.py replays it. Kinds it does not keep are ignored."""
        kind = type(event)
        if isinstance(event, Metrics):
            self.write_metrics(event)
        elif isinstance(event, Quality):
            self.write_quality(event)
        elif isinstance(event, ImageQuality):
            self.write_fid(event)
        elif isinstance(event, HyperparamsChanged):
            self.write_change(event.step, event.changes)
        elif isinstance(event, Samples):
            self.write_samples(event.step, event.grid)
        elif getattr(event, "recorded", False) and dataclasses.is_dataclass(event) and not isinstance(event, type):
            line = json.dumps({"event": kind.__name__, **dataclasses.asdict(event)}) + "\n"
            _append(self.folder.events, line, f"the {kind.__name__} of step {getattr(event, 'step', 0):,}")

    # Resuming cuts these files back to the checkpoint's step by writing the kept rows to a temp file
    # and moving it into place: a failure part-way (a full disk) leaves the file as it was.
    def _restart_changes(self, resumed_at: int | None) -> None:
        for path in (self.folder.changes, self.folder.events):
            self._restart_lines(path, resumed_at)

    def _restart_best(self, resumed_at: int | None) -> None:
        """best/ from after the checkpoint a run resumes from goes, as its readings do: the steps after it
        are trained again, and their best with them."""
        best = self.folder.best
        if resumed_at is None or not best.is_dir() or best.is_symlink():
            return
        record = best_record(self.path)
        if record is None or record["step"] > resumed_at:
            shutil.rmtree(best)

    @staticmethod
    def _restart_lines(path: Path, resumed_at: int | None) -> None:
        kept = []
        if resumed_at is not None and path.exists():
            for line in read_lines(path, what=f"run's {path.name}"):  # an over-long line skipped, never held
                try:
                    if loads_json(line)["step"] <= resumed_at:
                        kept.append(line.rstrip("\r\n"))
                except (ValueError, KeyError, TypeError):
                    pass
        _rewrite(path, "".join(f"{line}\n" for line in kept))

    @staticmethod
    def _restart_csv(path: Path, columns: list[str], resumed_at: int | None) -> None:
        rows = []
        if resumed_at is not None and path.exists():
            # Rows written after the checkpoint will be written again: drop them (and a row a full disk cut).
            # read_csv: a file without its header is read by its columns (DictReader would take a row for it).
            rows = [r for r in read_csv(path, columns) if (step := _step(r)) is not None and step <= resumed_at]
        _rewrite(path, _csv_text(columns, rows, header=True))

    def write_metrics(self, m: Metrics) -> None:
        _append(self.folder.metrics, _csv_text(METRIC_COLUMNS, [dataclasses.asdict(m)]),
                f"the row of step {m.step:,}", _csv_text(METRIC_COLUMNS, [], header=True))

    def write_quality(self, q: Quality) -> None:
        row = {c: getattr(q, c) for c in QUALITY_COLUMNS}
        row["missing_classes"] = " ".join(map(str, q.missing_classes))
        row["histogram"] = " ".join(f"{h:.4f}" for h in q.histogram)
        row["reference"] = " ".join(f"{h:.4f}" for h in q.reference)
        row["group_kinds"] = " ".join(map(str, q.group_kinds))
        row["kind_names"] = json.dumps(list(q.kind_names)) if q.kind_names else ""
        self._append_reading(self.folder.quality, QUALITY_COLUMNS, row, q.step)

    def write_change(self, step: int, changes: dict) -> None:
        """Live changes, one JSON line each (changes.jsonl): an attached studio marks them on its plots."""
        _append(self.folder.changes, json.dumps({"step": step, "changes": changes}) + "\n",
                f"the change at step {step:,}")

    def write_fid(self, q: ImageQuality) -> None:
        self._append_reading(self.folder.fid, FID_COLUMNS, dataclasses.asdict(q), q.step)

    @staticmethod
    def _append_reading(path: Path, columns: list[str], row: dict, step: int) -> None:
        # A new file gets its header and first row in one write: a follower never sees half.
        _append(path, _csv_text(columns, [row]), f"the reading of step {step:,}", _csv_text(columns, [], header=True))

    def write_samples(self, step: int, grid: np.ndarray) -> Path:
        path = self.folder.sample(step)
        atomic_write(path, lambda tmp: write_png(grid, tmp))  # a watcher never reads half a PNG
        return path

    def save(self, state: dict, generator: torch.nn.Module, config: Config, step: int, keep: bool = False) -> Path:
        """The latest checkpoint and generator; with `keep`, the checkpoint is also kept as
        checkpoints/step_NNNNNN.pt (and the oldest kept ones beyond run.keep_last go).

        A save that fails for want of space raises DiskFull saying what was not written and which
        step the run folder still holds (the old last.pt stays whole: every file is written atomically)."""
        self.failed_step = None
        try:
            save_checkpoint(state, self.checkpoint_path)
        except Exception as e:
            if not is_disk_full(e):
                raise
            kept = (f"the last one kept is step {self.saved_step:,} (checkpoints/last.pt)"
                    if self.saved_step is not None else "no checkpoint of this run was written before")
            raise self._full(step, f"the checkpoint at step {step:,} was not written; {kept}") from e
        self.saved_step = step
        try:
            save_generator(generator, config, self.path, step)
            if keep:
                self._keep(step, config.run.keep_last)
        except Exception as e:
            if not is_disk_full(e):
                raise
            what = e.path.relative_to(self.path) if isinstance(e, DiskFull) and e.path.is_relative_to(self.path) \
                else "the generator"
            raise self._full(step, f"{what} of step {step:,} was not written; the checkpoint at step {step:,} "
                             "was (checkpoints/last.pt)") from e
        return self.checkpoint_path

    def save_best(self, state: dict, generator: torch.nn.Module, config: Config, step: int, reading: str,
                  value: float) -> None:
        """The run's best moment so far into best/: its checkpoint (to fork from), then its generator, each
        file written whole (atomically) over the last best's. The generator's own metadata names its step
        and reading (core.runs.folder.best_record), so a kill between the files never mislabels it."""
        save_checkpoint(state, self.folder.best_checkpoint)
        record = {"step": step, "reading": reading, "value": value}
        save_generator(generator, config, self.folder.best, step, {BEST_KEY: record})

    def _full(self, step: int, lost: str) -> DiskFull:
        self.failed_step = step
        return DiskFull(self.path, f"the disk is full ({self.path}): {lost}")

    def _keep(self, step: int, keep_last: int) -> None:
        kept = self.folder.kept_checkpoint(step)
        tmp = kept.with_name(f".{kept.name}.{secrets.token_hex(4)}.tmp")  # remove_stale_temps' naming
        try:
            try:
                os.link(self.checkpoint_path, tmp)  # the same bytes, no copy: last.pt is replaced, not rewritten
            except OSError:
                shutil.copyfile(self.checkpoint_path, tmp)  # a file system without hard links
            os.replace(tmp, kept)
        except BaseException as e:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            if isinstance(e, OSError) and is_disk_full(e):
                raise DiskFull(kept) from e
            raise
        steps = self.folder.kept_steps()
        for old in steps[:-keep_last] if keep_last else []:
            self.folder.kept_checkpoint(old).unlink(missing_ok=True)

    def remove_stale_temps(self) -> list[Path]:
        """Temp files of interrupted saves (ours, by name) in the folder, checkpoints/ and samples/."""
        f = self.folder
        return [p for folder in (f.path, f.checkpoints, f.samples, f.best) for p in remove_stale_temps(folder)]


def _step(row: dict) -> int | None:
    """A whole row's step; None for a row cut short (a full disk) or one that is not ours."""
    if None in row or None in row.values():
        return None
    try:
        return int(row["step"])
    except (KeyError, ValueError):
        return None


def _csv_text(columns: list[str], rows: list[dict], header: bool = False) -> str:
    text = io.StringIO()
    writer = csv.DictWriter(text, columns)
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def _rewrite(path: Path, text: str) -> None:
    """`path` holds `text` afterwards; written atomically, and not at all when it holds it already."""
    data = text.encode("utf-8")
    try:  # read within the new text's size: a longer file (a 1 GiB line appended) differs unread
        if read_bytes(path, len(data)) == data:
            return
    except OSError:
        pass  # missing or unreadable: written
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def _append(path: Path, text: str, what: str, header: str = "") -> None:
    """Add `text` at the end of `path` (`header` first when the file is new or empty). A write that
    fails part-way is cut back off, so no half row is left for a follower or a resume to read."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        start = os.fstat(fd).st_size
        data = memoryview(((header if start == 0 else "") + text).encode("utf-8"))
        try:
            while data:
                data = data[os.write(fd, data):]
        except OSError as e:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            if is_disk_full(e):
                raise DiskFull(path, f"the disk is full ({path}): {what} was not written") from e
            raise
    finally:
        os.close(fd)
