"""The run library's view of a runs folder: every run in it, read from its small files.

Cheap by design (it lists a folder that may hold hundreds of runs, on every refresh):
no torch import and no checkpoint loading, only config.json, run.json, heartbeat.json,
generator.json, quality.csv and folder listings (core/runs/folder.py and core/runs/heartbeat.py,
both torch-free).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.bounded_read import FileRefused, load_json, read_lines
from core.config import Config, ConfigError, DataConfig
from core.runs import heartbeat
from core.runs.folder import (
    RUN_FILES,
    SAMPLE,
    SWEEP_RECORD,
    RunFolder,
    checkpoint_path,
    kept_checkpoints,
    read_lineage,
    run_files,
    saved_step,
)
from core.runs.heartbeat import LIVE_STATES, Heartbeat

STATES = ("finished", "stopped", "running elsewhere", "running here", "damaged")
LOSS_SERIES = ("g_loss", "d_loss", "d_real", "d_fake")
# Quality readings, best first: (file, as RunFolder names it; column; label). A later reading (e.g. an FID
# written to fid.csv) goes first in this list; the first file with readings gives the run's best value and its label.
QUALITY_SOURCES = (("quality", "frechet", "FD"),)
DATASET_NAMES = {"bundled": "bundled MNIST", "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST",
                 "cifar10": "CIFAR-10"}


class RunDeleteError(ValueError):
    """A run folder that may not be deleted; the message says why and what to do."""


@dataclass(frozen=True)
class RunInfo:
    """One run folder as the library lists it. Everything but path, name and state may be unknown
    (empty, 0 or None) for a damaged folder."""

    path: Path
    name: str
    state: str  # one of STATES
    reason: str = ""  # why a run is "damaged", or how a "stopped" one ended when it did not say
    preset: str = ""
    dataset: str = ""  # in words: "bundled MNIST · 28 px"
    steps_done: int = 0
    steps_planned: int = 0
    best_quality: float | None = None  # lowest reading (lower is better), None without readings
    best_quality_label: str = ""  # "FD 3.2"
    host: str = ""  # who trains it, when running elsewhere: "host, process 123"
    thumbnail: Path | None = None  # the newest samples/step_NNNNNN.png
    parent: Path | None = None  # the run it was forked from
    fork_step: int | None = None
    kept_steps: tuple[int, ...] = ()  # checkpoints/step_NNNNNN.pt, oldest first
    kept_bytes: int = 0  # disk the kept checkpoints take beyond checkpoints/last.pt (hard links count once)
    disk_bytes: int = 0  # the whole folder (hard links count once)
    created: float = 0.0  # seconds since the epoch
    resumable: bool = False  # checkpoints/last.pt exists
    title: str = ""  # the name a person gave the run (run.json "name"; core/runs/notes.py)
    notes: str = ""  # their line of notes on it (run.json "notes")
    sweep: str = ""  # a sweep's trial: the name of the sweep folder it is listed under
    trial: int | None = None  # a sweep's trial: its number (run.json "sweep" record)

    @property
    def parent_name(self) -> str:
        return self.parent.name if self.parent else ""

    @property
    def shown_name(self) -> str:
        """The run's name, or its folder's when it was given none; a trial's after its sweep's:
        "lr-sweep ▸ trial 3"."""
        own = self.title or self.name
        if self.trial is not None and (not self.title or self.title.endswith(f" trial {self.trial}")):
            own = f"trial {self.trial}"  # the sweep's own name for it ("lr trial 3") says the sweep twice
        return f"{self.sweep} ▸ {own}" if self.sweep else own

    @property
    def running(self) -> bool:
        return self.state in ("running elsewhere", "running here")

    def checkpoint(self, step: int | None = None) -> Path:
        """checkpoints/last.pt, or the kept checkpoint of `step`."""
        return checkpoint_path(self.path, step)


@dataclass(frozen=True)
class RunCurves:
    """A run's readings as arrays: loss readings (metrics.csv) and quality readings (quality.csv)."""

    steps: np.ndarray
    metrics: dict[str, np.ndarray] = field(default_factory=dict)  # column -> values, same length as steps
    quality_steps: np.ndarray = field(default_factory=lambda: np.empty(0))
    frechet: np.ndarray = field(default_factory=lambda: np.empty(0))


# --- listing ---






def scan_runs(root: str | Path, sizes: bool = True) -> list[RunInfo]:
    """Every run under `root`, newest first: the runs directly in it, and the trials of each sweep
    folder in it (SWEEPDIR/trial-NNNN beside SWEEPDIR/sweep.json), listed together in trial order
    where the sweep's newest trial would go. Folders that hold no run (and hidden ones) are skipped;
    a damaged run is listed with state "damaged" and the reason. `sizes`: add up each folder's disk
    use (a stat per file)."""
    groups = []
    for entry in _folders(root):
        if run_files(entry):
            groups.append([read_run(entry, sizes)])
        elif (entry / SWEEP_RECORD).is_file():
            trials = [replace(read_run(t, sizes), sweep=entry.name) for t in _folders(entry) if run_files(t)]
            if trials:
                groups.append(sorted(trials, key=lambda r: (r.trial is None, r.trial or 0, r.name)))
    groups.sort(key=lambda runs: max((r.created, r.name) for r in runs), reverse=True)
    return [run for runs in groups for run in runs]


def _folders(path: str | Path) -> list[Path]:
    """The folders in `path`, hidden ones left out; none when it cannot be listed."""
    try:
        return [Path(e.path) for e in os.scandir(path) if not e.name.startswith(".") and e.is_dir()]
    except OSError:
        return []


def read_run(path: str | Path, sizes: bool = True) -> RunInfo:
    """One run folder; never raises for a damaged one (state "damaged", reason says what is wrong)."""
    path = Path(path)
    try:
        return _read_run(path, sizes)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
        return RunInfo(path, path.name, "damaged", reason=f"could not be read ({type(e).__name__}: {e})",
                       created=_mtime(path))


def _read_run(path: Path, sizes: bool) -> RunInfo:
    lineage = read_lineage(path)
    parent = Path(lineage["parent"]) if isinstance(lineage.get("parent"), str) else None
    fork_step = lineage.get("fork_step") if isinstance(lineage.get("fork_step"), int) else None
    kept = kept_checkpoints(path)
    kept_bytes, disk_bytes = _disk_use(path, kept) if sizes else (0, 0)
    best, label = best_quality(path)
    common: dict[str, Any] = dict(
        parent=parent, fork_step=fork_step, kept_steps=tuple(kept), kept_bytes=kept_bytes,
        disk_bytes=disk_bytes, created=_created(path, lineage), thumbnail=newest_sample(path),
        best_quality=best, best_quality_label=label,
        resumable=RunFolder(path).last_checkpoint.is_file(),
        title=_text(lineage.get("name")), notes=_text(lineage.get("notes")), trial=_trial(lineage))
    if common["trial"] is not None and (path.parent / SWEEP_RECORD).is_file():  # read alone too (an overlay)
        common["sweep"] = path.parent.name
    config, problem = _config(path)
    beat = heartbeat.read(path)
    live = _live_state(beat)
    done = max(saved_step(path) or 0, _beat_int(beat, "step"))
    if config is None:
        return RunInfo(path, path.name, live or "damaged", reason=problem, host=_host(beat, live),
                       steps_done=done, **common)
    planned = max(config.run.steps, _beat_int(beat, "total_steps")) if live else config.run.steps
    info: dict[str, Any] = dict(preset=config.preset, dataset=describe_dataset(config.data), steps_done=done,
                                steps_planned=planned, **common)
    if live:
        return RunInfo(path, path.name, live, host=_host(beat, live), **info)
    if not common["resumable"] and not kept:
        return RunInfo(path, path.name, "damaged", reason="it has no checkpoint (checkpoints/last.pt is "
                       "missing): it can be neither resumed nor forked", **info)
    state, reason = _ended(beat, done, planned)
    return RunInfo(path, path.name, state, reason=reason, **info)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _trial(lineage: dict) -> int | None:
    """A sweep trial's number, from its run.json "sweep" record (core/sweeps/runner.py writes it)."""
    record = lineage.get("sweep")
    number = record.get("trial") if isinstance(record, dict) else None
    return number if isinstance(number, int) and not isinstance(number, bool) else None


def _ended(beat: Heartbeat | None, done: int, planned: int) -> tuple[str, str]:
    """(state, reason) of a run no process trains."""
    said = beat.state if beat else None
    if said == "finished" or (said is None and done >= planned):
        return "finished", ""
    if said in LIVE_STATES:
        return "stopped", "its process ended without stopping it (closed or crashed)"
    return "stopped", ""


def _config(path: Path) -> tuple[Config | None, str]:
    """(config, "") or (None, why it cannot be read)."""
    file = RunFolder(path).config
    try:  # within core/bounded_read.py's bounds: a FIFO, a device or a 1 GiB file in its place is refused
        raw = load_json(file, what="config file")
    except FileNotFoundError:
        return None, "config.json is missing"
    except FileRefused as e:  # not JSON, or not a file to read
        damaged = e.reason.startswith("not valid JSON")
        return None, f"config.json is {e.reason}" if damaged else f"config.json cannot be read ({e.reason})"
    except OSError as e:
        return None, f"config.json cannot be read ({e.strerror or e})"
    except ValueError as e:
        return None, f"config.json is not valid JSON ({e})"
    try:
        return Config.from_dict(raw), ""
    except ConfigError as e:
        return None, f"config.json: {e}"


def describe_dataset(data: DataConfig) -> str:
    """The run's images in words: 'bundled MNIST · 28 px', 'folder cats · 64 px colour'."""
    if data.dataset == "folder":
        name = f"folder {Path(data.folder).name}"
    else:
        name = DATASET_NAMES.get(data.dataset, data.dataset)
    return f"{name} · {data.image_size} px" + (" colour" if data.channels == 3 else "")






def newest_sample(run_dir: str | Path) -> Path | None:
    """The newest sample grid, samples/step_NNNNNN.png, or None."""
    samples = RunFolder(run_dir).samples
    try:
        names = os.listdir(samples)
    except OSError:
        return None
    steps = [(int(m.group(1)), n) for n in names if (m := SAMPLE.fullmatch(n))]
    return samples / max(steps)[1] if steps else None


def best_quality(run_dir: str | Path) -> tuple[float | None, str]:
    """(lowest reading, its label such as 'FD 3.2 at 6,000': the step of the run's best moment), or
    (None, '') for a run without readings."""
    run = RunFolder(run_dir)
    for name, column, label in QUALITY_SOURCES:
        steps, values = _csv_columns(getattr(run, name), column)
        finite = np.isfinite(values)
        steps, values = steps[finite], values[finite]
        if len(values):
            at = int(np.argmin(values))  # the first of equal lows: when the run first got there
            best = float(values[at])
            return best, f"{label} {best:.3g} at {int(steps[at]):,}"
    return None, ""


def _created(path: Path, lineage: dict) -> float:
    text = lineage.get("created")
    if isinstance(text, str):
        try:
            return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z").timestamp()
        except ValueError:
            pass
    return _mtime(RunFolder(path).config) or _mtime(path)  # runs from before run.json existed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _disk_use(path: Path, kept: list[int]) -> tuple[int, int]:
    """(bytes the kept checkpoints add, bytes of the whole folder); a file with several hard links
    (a kept checkpoint is a link to the last.pt of its step) counts once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                st = os.stat(os.path.join(folder, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    counted = {_inode(checkpoint_path(path))} - {None}  # what last.pt takes is not the kept ones' doing
    extra = 0
    for step in kept:
        file = checkpoint_path(path, step)
        inode = _inode(file)
        if inode is not None and inode not in counted:
            counted.add(inode)
            extra += _size(file)
    return extra, total


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# --- heartbeat ---






def _live_state(beat: Heartbeat | None) -> str:
    """"running here" (this process trains it), "running elsewhere", or "" (nobody trains it)."""
    if beat is None or not beat.alive():
        return ""
    here = beat.host == socket.gethostname() and beat.pid == os.getpid()
    return "running here" if here else "running elsewhere"


def _beat_int(beat: Heartbeat | None, key: str) -> int:
    return int(getattr(beat, key)) if beat else 0


def _host(beat: Heartbeat | None, live: str) -> str:
    return beat.where() if beat is not None and live == "running elsewhere" else ""




# --- curves ---


def read_curves(run_dir: str | Path) -> RunCurves:
    """The run's loss readings (metrics.csv) and Frechet distances (quality.csv) as arrays; empty
    arrays for what is missing. A half-written last row (a run being written) is left out."""
    run = RunFolder(run_dir)
    steps, metrics = _metrics(run.metrics)
    q_steps, frechet = _csv_columns(run.quality, "frechet")
    return RunCurves(steps, metrics, q_steps, frechet)


def _metrics(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    text = _whole_lines(path)
    if not text:
        return np.empty(0), {}
    header, _, body = text.partition("\n")
    columns = [c.strip() for c in header.split(",")]
    if "step" not in columns:
        return np.empty(0), {}
    try:  # numpy's C reader: a million rows in about a second
        table = np.loadtxt(io.StringIO(body), delimiter=",", ndmin=2, dtype=float)
        if table.shape[1] != len(columns):
            raise ValueError("column count")
    except ValueError:  # a damaged row somewhere: the slow reader skips it
        table = _rows(body, len(columns))
    data = {c: table[:, i] for i, c in enumerate(columns)}
    return data.pop("step"), data


def _rows(body: str, width: int) -> np.ndarray:
    rows = []
    for row in csv.reader(io.StringIO(body)):
        try:
            values = [float(v) for v in row]
        except ValueError:
            continue
        if len(values) == width:
            rows.append(values)
    return np.asarray(rows, dtype=float).reshape(-1, width)


def _csv_columns(path: Path, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values of `column`) from a small CSV with a header; bad rows are skipped."""
    steps, values = [], []
    for row in csv.DictReader(io.StringIO(_whole_lines(path))):
        try:
            step, value = int(row["step"]), float(row[column])
        except (KeyError, TypeError, ValueError):
            continue
        steps.append(step)
        values.append(value)
    return np.asarray(steps, dtype=float), np.asarray(values, dtype=float)


def _whole_lines(path: Path) -> str:
    """The file's text up to its last newline ('' when missing or unreadable), a line at a time within
    core/bounded_read.py's cap: a line longer than any row is left out unread."""
    try:
        return "".join(line for line in read_lines(path, what="run's row file") if line.endswith("\n"))
    except OSError:
        return ""


# --- deleting ---


def delete_run(path: str | Path) -> None:
    """Remove a run folder. Refuses (RunDeleteError) a folder that holds no run, and a run some
    process trains (this one or another, on this machine or another)."""
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        raise RunDeleteError(f"{path} is not a run folder (it is missing, a file or a link); nothing was deleted")
    if not run_files(path):
        raise RunDeleteError(f"{path} holds no run (none of {', '.join(RUN_FILES[:4])}, ...); nothing was deleted. "
                             "Delete other folders in the file manager.")
    beat = heartbeat.read(path)
    live = _live_state(beat)
    if live == "running here":
        raise RunDeleteError(f"{path.name} is training in this window; stop it first, then delete it")
    if live:
        assert beat is not None  # a live state comes from a heartbeat
        raise RunDeleteError(f"{path.name} is being trained ({beat.where()}); stop it there "
                             "first, then delete it")
    shutil.rmtree(path)
