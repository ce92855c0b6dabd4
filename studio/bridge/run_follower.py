"""Attach to a run another process trains (a headless run, a torchrun job, a run on another machine
whose folder is mounted here): read its folder as it grows and report it as the trainer would.

A `RunFollower` lives on its own QThread. A QFileSystemWatcher wakes it when the folder changes,
and a timer polls too, because change notification does not reach across network file systems.
Each poll reads only what was appended to metrics.csv, quality.csv, fid.csv and changes.jsonl
since the last one, lists new sample grids, and reads heartbeat.json; it reports plain events
(the same kinds the trainer sends) and never touches a widget.

Metrics rows carry the wall-clock time core wrote in metrics.csv's `time` column; rows of older
runs without one get the time they were read at when they were appended after attaching, and the
backlog none.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QFileSystemWatcher, QTimer, Signal, Slot

from core import events as ev
from core.runs import heartbeat
from core.runs.folder import (
    FID_COLUMNS,
    METRIC_COLUMNS,
    QUALITY_COLUMNS,
    RunFolder,
    image_quality_from_row,
    metrics_from_row,
    quality_from_row,
)
from studio.bridge import qthreads
from studio.model.event_signals import EventSignals

POLL_MS = 1000  # the fallback where file-system notification does not arrive (network mounts)


def grid_columns(width: int, image_size: int) -> int:
    """Samples a row in a grid `width` px wide of `image_size` px samples (core.sharing.export.grid_image's
    2-pixel gaps), or 0 when the width does not fit that layout."""
    pitch = image_size + 2
    return (width - 2) // pitch if image_size > 0 and width > 2 and (width - 2) % pitch == 0 else 0


class _Tail:
    """New complete lines of a growing text file since the last read; restarts if the file shrank
    (a resumed run rewrites its CSVs from the checkpoint's step)."""

    def __init__(self, path: Path):
        self.path, self.offset, self.header = path, 0, None

    def read(self) -> tuple[list[str], bool]:
        try:
            size = self.path.stat().st_size
        except OSError:
            return [], False
        restarted = size < self.offset
        if restarted:
            self.offset, self.header = 0, None
        if size == self.offset:
            return [], restarted
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read(size - self.offset)
        complete = data[:data.rfind(b"\n") + 1]  # a line still being written waits for the next poll
        self.offset += len(complete)
        lines = complete.decode("utf-8", "replace").splitlines()
        if self.header is None and lines and self.path.suffix == ".csv":
            self.header, lines = lines[0], lines[1:]
        return lines, restarted

    def rows(self, columns: list[str]) -> tuple[list[dict], bool]:
        lines, restarted = self.read()
        return list(csv.DictReader(io.StringIO("\n".join(lines)), fieldnames=columns)) if lines else [], restarted


class RunFollower(EventSignals):
    """Reports a run folder's progress: call start() on its thread (the session does).

    Its events go out on the table's signals (studio/event_signals.py), as the trainer's do: Started from
    config.json and the heartbeat, the newest grid as Samples when new ones appeared, Finished when the
    run ended or its process died. Metrics alone come batched, on `metrics_rows`.
    """

    metrics_rows = Signal(list)  # [ev.Metrics]: everything new since the last poll, at once
    beat = Signal(object)  # core.runs.heartbeat.Heartbeat (None when there is none)

    def __init__(self, run_dir: str | Path):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.folder = RunFolder(self.run_dir)
        self._tails = {name: _Tail(getattr(self.folder, name)) for name in ("metrics", "quality", "fid", "changes")}
        self._grids: set[int] = set()
        self._image_size = 0  # config.data.image_size: a grid's layout, so a click can pick a sample
        self._backlog = True  # the first read: rows written before attaching, at unknown times
        self._state = ""
        self._ended = False
        self._timer: QTimer | None = None
        self._watcher: QFileSystemWatcher | None = None

    @Slot()
    def start(self) -> None:
        """On the follower's thread: first read everything there is, then follow."""
        self._watcher = QFileSystemWatcher([str(self.run_dir), str(self.folder.samples)], self)
        self._watcher.directoryChanged.connect(self.poll)
        self._watcher.fileChanged.connect(self.poll)
        self._timer = QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._timer.start()
        beat = heartbeat.read(self.run_dir)
        try:
            config = json.loads(self.folder.config.read_text(encoding="utf-8"))
            config.pop("world_size", None)
        except (OSError, ValueError) as e:
            self.report(ev.ErrorEvent(0, f"{self.run_dir}: cannot read its config.json ({e})"))
            config = {}
        size = config.get("data", {}).get("image_size", 0) if isinstance(config.get("data"), dict) else 0
        self._image_size = size if isinstance(size, int) else 0
        where = "elsewhere"
        if beat is not None:
            more = f" (+{beat.world_size - 1} more ranks)" if beat.world_size > 1 else ""
            where = f"{beat.host}, process {beat.pid}{more}"
        self.report(ev.Started(beat.step if beat else 0, beat.total_steps if beat else 0,
                               f"attached: {where}", config.get("data", {}).get("dataset", "?"), 0, config))
        self.poll()

    @Slot()
    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        if self._watcher is not None:
            self._watcher.deleteLater()
            self._watcher = None
        qthreads.end_this_thread()

    @Slot()
    def poll(self) -> None:
        if self._ended:
            return
        try:
            self._read_files()
            self._read_heartbeat()
        except Exception as e:  # a half-written file on a network mount, say: reported, following goes on
            self.report(ev.ErrorEvent(0, f"while following {self.run_dir}: {type(e).__name__}: {e}"))

    def _read_files(self) -> None:
        rows, restarted = self._tails["metrics"].rows(METRIC_COLUMNS)
        if restarted:
            self._grids.clear()
            self.report(ev.Notice(f"{self.run_dir.name} was resumed from an earlier step: its curves start over "
                                  "from there."))
        # Appended since the last poll (at most POLL_MS ago, or at a change notice): about now.
        now = math.nan if self._backlog or restarted else time.time()
        self._backlog = False
        metrics = [_timed(metrics_from_row(r), now) for r in rows]
        if metrics:
            self.metrics_rows.emit(metrics)
        for row in self._tails["quality"].rows(QUALITY_COLUMNS)[0]:
            self.report(quality_from_row(row))
        for row in self._tails["fid"].rows(FID_COLUMNS)[0]:
            self.report(image_quality_from_row(row))
        for line in self._tails["changes"].read()[0]:
            change = json.loads(line)
            self.report(ev.HyperparamsChanged(int(change["step"]), change["changes"]))
        self._read_grids()

    def _read_grids(self) -> None:
        steps = set(self.folder.sample_steps())  # none when samples/ cannot be listed
        new = steps - self._grids
        if not new:
            return
        self._grids |= new
        newest = max(new)
        image = _read_png(self.folder.sample(newest))
        if image is not None:
            self.report(ev.Samples(newest, image, grid_columns(image.shape[1], self._image_size)))

    def _read_heartbeat(self) -> None:
        beat = heartbeat.read(self.run_dir)
        self.beat.emit(beat)
        if beat is None:
            return
        alive = beat.alive()
        state = beat.state if alive or not beat.live_state else "lost"
        if state != self._state:
            self._state = state
            self.report(ev.StateChanged(state, beat.step))
        if not alive:
            self._ended = True
            self._read_files()  # the last rows and grids the run wrote
            self.report(ev.Finished(beat.step, beat.state != "finished", str(self.run_dir)))


def _timed(m: ev.Metrics, now: float) -> ev.Metrics:
    """The row with a time: its own (core writes one since it has a `time` column) or `now`."""
    return m if math.isfinite(m.time) else dataclasses.replace(m, time=now)


def _read_png(path: Path) -> np.ndarray | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB")).copy()
    except (OSError, ValueError):
        return None  # written atomically by the trainer, but a network mount may show it late
