"""A run folder's layout and the small facts anyone may read from it without loading a model:
which files make a run, whether a folder can take a new one, which checkpoints it keeps, where
it came from, which run a path means (classify). RunFolder is the one place the layout below is
spelled out: every other module asks it for a run's paths. Torch-free (the run library lists
hundreds of folders with it); core/runs/writer.py is the trainer's writer of the same layout:

runs/<name>/config.json, run.json, metrics.csv, quality.csv, fid.csv, changes.jsonl,
samples/step_000500.png, checkpoints/last.pt (+ kept step_NNNNNN.pt), generator.safetensors,
generator.json, heartbeat.json, control/ (commands, acks, and the lock: core/runs/lock.py), tensorboard/,
best/ (the generator and checkpoint of the run's best reading: generator.safetensors, generator.json, checkpoint.pt)
(quality.csv and fid.csv appear with a run's first reading of that kind, best/ with its first best reading.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import re
import struct
import time
from pathlib import Path
from typing import Any

from core.bounded_read import load_json, read_lines
from core.commands import suggest
from core.events import ImageQuality, Metrics, Quality

# The CSV files' columns (the studio's follower reads what the trainer appends).
METRIC_COLUMNS = [f.name for f in dataclasses.fields(Metrics)]
# reference: the folder's shares of a picture reading (empty for digits); group_kinds and kind_names (a JSON
# list): the groups' sub-folders, where the folder has them. New columns go last: a row appended to an older
# file's header is still read by it (a resume rewrites the header).
QUALITY_COLUMNS = ["step", "frechet", "accuracy", "confidence", "collapse", "missing_classes", "histogram",
                   "reference", "group_kinds", "kind_names"]
FID_COLUMNS = ["step", "fid", "kid", "kid_std", "samples", "network", "seconds"]
# What a run writes at its top level: any of these means the folder holds a run.
RUN_FILES = ("config.json", "run.json", "metrics.csv", "quality.csv", "fid.csv", "checkpoints", "samples",
             "generator.safetensors", "generator.json", "heartbeat.json")
# The rest of the layout: with RUN_FILES, everything a run writes (discard_new_run removes no other name).
RUN_EXTRAS = ("changes.jsonl", "events.jsonl", "control", "tensorboard", "best")
KEPT = re.compile(r"step_(\d+)\.pt")  # checkpoints/step_NNNNNN.pt, kept to fork from
SAMPLE = re.compile(r"step_(\d+)\.png")  # samples/step_NNNNNN.png, a grid of the run's fixed noise
# A sweep's folder holds this record beside its trials' run folders (core/sweeps/study.py's SWEEP_JSON, a layer
# above: the run library finds trials by it).
SWEEP_RECORD = "sweep.json"


class RunFolderError(ValueError):
    """A folder that cannot take a new run; the message says why and what to do instead."""


class RunFolder:
    """Where each file and folder of the run at `path` lives: the one place the layout is spelled out
    (everything else asks this). Only paths: nothing is read, made or checked here, except the
    *_steps listings."""

    __slots__ = ("path",)

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunFolder) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def config(self) -> Path:
        return self.path / "config.json"

    @property
    def run_json(self) -> Path:  # lineage, name and notes (read_lineage, core/runs/notes.py)
        return self.path / "run.json"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def quality(self) -> Path:
        return self.path / "quality.csv"

    @property
    def fid(self) -> Path:
        return self.path / "fid.csv"

    @property
    def changes(self) -> Path:  # the live changes, one JSON line each
        return self.path / "changes.jsonl"

    @property
    def events(self) -> Path:  # other events a run keeps (core/events.py `recorded`), one JSON line each
        return self.path / "events.jsonl"

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    def sample(self, step: int) -> Path:
        """The grid of the run's fixed noise at `step`."""
        return self.samples / f"step_{step:06d}.png"

    def sample_steps(self, up_to: int | None = None) -> list[int]:
        """Steps of the run's sample grids up to `up_to`, oldest first."""
        try:
            names = os.listdir(self.samples)
        except OSError:
            return []
        steps = (int(m.group(1)) for n in names if (m := SAMPLE.fullmatch(n)))
        return sorted(s for s in steps if up_to is None or s <= up_to)

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:  # the latest, that a resume continues
        return self.checkpoints / "last.pt"

    def kept_checkpoint(self, step: int) -> Path:
        """The checkpoint kept at `step` to fork from (run.keep_every)."""
        return self.checkpoints / f"step_{step:06d}.pt"

    def kept_steps(self) -> list[int]:
        """Steps of the kept checkpoints, oldest first."""
        try:
            names = os.listdir(self.checkpoints)
        except OSError:
            return []
        return sorted(int(m.group(1)) for n in names if (m := KEPT.fullmatch(n)))

    @property
    def generator(self) -> Path:  # the saved generator, as core/sharing/export.py writes one anywhere
        return self.path / "generator.safetensors"

    @property
    def generator_json(self) -> Path:
        return self.path / "generator.json"

    @property
    def best(self) -> Path:  # the run's best moment: its generator (as export writes one) and checkpoint
        return self.path / "best"

    @property
    def best_generator(self) -> Path:  # its metadata names the step and reading (best_record)
        return self.best / "generator.safetensors"

    @property
    def best_checkpoint(self) -> Path:  # to fork from the best moment
        return self.best / "checkpoint.pt"

    @property
    def heartbeat(self) -> Path:
        return self.path / "heartbeat.json"

    @property
    def control(self) -> Path:  # the channel's folder (core/runs/channel.py) and the lock's
        return self.path / "control"

    @property
    def commands(self) -> Path:
        return self.control / "commands"

    @property
    def acks(self) -> Path:
        return self.control / "acks"

    @property
    def lock(self) -> Path:
        return self.control / "lock"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def folders(self) -> tuple[Path, ...]:
        """Every folder of the run: what it writes into."""
        return (self.samples, self.checkpoints, self.control, self.commands, self.acks, self.tensorboard, self.best)

    def refuse_linked_folders(self) -> None:
        """RunFolderError naming the first folder of the run that is a symbolic link. A run writes only
        inside the folder a person chose: a link in its place (samples/ to another disk, checkpoints/ to
        another run) is never written through, for every folder alike; the person replaces it with a
        real folder. (Single files that are links are replaced when written, never written through.)"""
        for folder in self.folders:
            if folder.is_symlink():
                try:
                    target = os.readlink(folder)
                except OSError:
                    target = "?"
                inside = folder.resolve().is_relative_to(self.path.resolve())
                raise RunFolderError(
                    f"{folder}: a symbolic link to {target}{'' if inside else ', outside the run folder'}; a run "
                    f"writes only inside its own folder, so it is not followed. Replace the link with a real "
                    f"folder (move what it points to into one) and try again")


RUNS_ENV = "GAN_STUDIO_RUNS"  # the runs folder, when a person wants another than DEFAULT_RUNS_NAME in their home
DEFAULT_RUNS_NAME = "GAN Studio runs"


def default_runs_root() -> Path:
    """Where runs go unless a folder is named: $GAN_STUDIO_RUNS, else "GAN Studio runs" in the home
    folder. One place for the CLI and the app, so a run trained by one shows in the other's library."""
    chosen = os.environ.get(RUNS_ENV, "").strip()
    return Path(chosen).expanduser() if chosen else Path.home() / DEFAULT_RUNS_NAME


def new_run_path(root: str | Path | None = None, name: str = "") -> Path:
    """A new, empty folder under `root` (default_runs_root() when None), made here: `name`, or the date
    and time, with -2, -3, ... added when that is taken. Made, not just looked for, so two runs started
    within one second (two processes, or two windows) never get the same one."""
    root = default_runs_root() if root is None else root
    Path(root).mkdir(parents=True, exist_ok=True)
    base = Path(root) / (name or time.strftime("%Y%m%d-%H%M%S"))
    path, n = base, 1
    while True:
        try:
            path.mkdir()  # atomic: exactly one caller makes a given folder
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")


def run_files(path: str | Path) -> list[str]:
    """The run files in `path` (empty when it holds no run)."""
    path = Path(path)
    return [name for name in RUN_FILES if (path / name).exists()]


def _shown_path(path: Path) -> str:
    """A path fit for one line of a message: a 300-character name shortened in the middle."""
    text = str(path)
    return text if len(text) <= 100 else f"{text[:60]}…{text[-30:]}"


def check_new_run_folder(path: str | Path) -> None:
    """Refuse a folder that already holds a run (or is a file): nothing a person made is replaced."""
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            raise RunFolderError(f"{path} is a file, not a folder; pick a folder for the run")
        found = run_files(path)
    except OSError as e:  # a name longer than the file system allows, a folder that cannot be looked into
        longest = max((len(part.encode()) for part in path.parts), default=0)
        why = (f"the name is too long for this file system ({longest:,} bytes in one part of it)"
               if e.errno == errno.ENAMETOOLONG else f"cannot be looked into ({e.strerror or e})")
        raise RunFolderError(f"{_shown_path(path)}: {why}; choose another folder for the run") from None
    if found:
        step = saved_step(path)
        at = f" at step {step:,}" if step is not None else ""
        raise RunFolderError(
            f"{path} already holds a run{at} ({', '.join(found)}); nothing in it was changed. To train it "
            f"further, resume it ({suggest('resume', path, '--steps', 'N')}, or Open run in the app); for a new "
            "run, choose another folder.")


@dataclasses.dataclass(frozen=True)
class PathMeaning:
    """What a path given to open or resume is: a "run" folder, a "run checkpoint" (a file in a run's
    checkpoints/), or a "loose checkpoint" (any other file: a download, a copy)."""

    kind: str
    run_dir: Path | None  # the run folder ("run", "run checkpoint"); None for a loose checkpoint
    checkpoint: Path | None  # the file ("run checkpoint", "loose checkpoint"); None for a run folder

    @property
    def checkpoint_file(self) -> Path:
        """The checkpoint it stands for: the file, or a run folder's checkpoints/last.pt."""
        if self.checkpoint is not None:
            return self.checkpoint
        assert self.run_dir is not None  # a run folder, then
        return RunFolder(self.run_dir).last_checkpoint

    @property
    def latest(self) -> bool:
        """A run folder or its checkpoints/last.pt: what a resume continues in place (an earlier,
        kept checkpoint of a run is not: continuing it there would discard the later steps)."""
        return self.kind == "run" or (self.kind == "run checkpoint" and self.run_dir is not None
                                      and self.checkpoint == RunFolder(self.run_dir).last_checkpoint)


def classify(path: str | Path) -> PathMeaning:
    """What `path` means to open or resume. A run's config.json stands for its folder; a checkpoint is
    a run's only when the folder above its checkpoints/ (or best/) has a config.json. RunFolderError when the path
    does not exist."""
    path = Path(path)
    if path == RunFolder(path.parent).config:
        path = path.parent
    if not path.exists():
        raise RunFolderError(f"{path}: it does not exist")
    if path.is_dir():
        return PathMeaning("run", path, None)
    run = RunFolder(path.parent.parent)
    if path.parent in (run.checkpoints, run.best) and run.config.is_file():  # best/checkpoint.pt: its best moment
        return PathMeaning("run checkpoint", run.path, path)
    return PathMeaning("loose checkpoint", None, path)


def discard_new_run(path: str | Path) -> list[str]:
    """Delete what a run just started wrote to its folder (its layout's names, and our temp files),
    then the folder when that leaves it empty. Anything else in it (a person's own files) stays, and
    is returned by name. Only for a run this process started; errors leave what they could not remove."""
    import shutil

    from core.atomic import TEMP_NAME

    path = Path(path)
    try:
        names = os.listdir(path)
    except OSError:
        return []
    ours = set(RUN_FILES) | set(RUN_EXTRAS)
    left = []
    for name in names:
        if name not in ours and not TEMP_NAME.match(name):
            left.append(name)
            continue
        entry = path / name
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
    if not left:
        with contextlib.suppress(OSError):
            path.rmdir()
    return sorted(left)


def sample_steps(run_dir: str | Path, up_to: int | None = None) -> list[int]:
    """Steps of the run's samples/step_NNNNNN.png grids up to `up_to`, oldest first."""
    return RunFolder(run_dir).sample_steps(up_to)


def saved_step(path: Path) -> int | None:
    """The step of the run's saved generator (generator.json); None when there is none to read."""
    try:
        return int(load_json(RunFolder(path).generator_json)["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def kept_checkpoints(run_dir: str | Path) -> list[int]:
    """Steps of the checkpoints a run keeps to fork from, oldest first."""
    return RunFolder(run_dir).kept_steps()


def last_checkpoint_step(run_dir: str | Path) -> int | None:
    """The step checkpoints/last.pt holds, read without torch; None when it is not known. A run that
    ended (heartbeat "finished" or "stopped") saved it at its last step; otherwise generator.json,
    written with every checkpoint, says (an export while training may also write it, so a live or
    crashed run's answer is only as good as that)."""
    from core.runs import heartbeat  # imported here: heartbeat's helpers may come to read the layout from this module

    run_dir = Path(run_dir)
    if not checkpoint_path(run_dir).is_file():
        return None
    beat = heartbeat.read(run_dir)
    if beat is not None and beat.state in ("finished", "stopped"):
        return int(beat.step)
    return saved_step(run_dir)


def checkpoint_path(run_dir: str | Path, step: int | None = None) -> Path:
    """A run's checkpoints/last.pt, or its kept checkpoints/step_NNNNNN.pt of `step`."""
    run = RunFolder(run_dir)
    return run.last_checkpoint if step is None else run.kept_checkpoint(step)


BEST_KEY = "best"  # the key of the best generator's record in its safetensors metadata and generator.json


def best_record(run_dir: str | Path) -> dict | None:
    """{'step', 'reading', 'value'} of the generator kept as the run's best (best/generator.safetensors), read
    from the weights file's own metadata without torch: it is written with the weights, so it names the
    weights there whatever happened to the files beside it. None when there is none, or it cannot be read."""
    try:
        with open(RunFolder(run_dir).best_generator, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > 1 << 24:  # a safetensors header is small; this is no such file
                return None
            header = json.loads(f.read(size))
        record = json.loads(header["__metadata__"][BEST_KEY])
        return {"step": int(record["step"]), "reading": str(record["reading"]), "value": float(record["value"])}
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return None


def generator_choices(run_dir: str | Path) -> dict:
    """Which generators a run folder offers, torch-free (`sample --which`, the app's question when they
    differ): {'final': its saved generator's step or None, 'best': best_record or None, 'kept': [steps]}."""
    run = RunFolder(run_dir)
    return {"final": saved_step(run.path) if run.generator.is_file() else None, "best": best_record(run.path),
            "kept": run.kept_steps()}


def read_lineage(run_dir: str | Path) -> dict:
    """run.json: created, parent (a run folder), fork_step; {} for runs from before it existed."""
    try:
        raw = load_json(RunFolder(run_dir).run_json)
        return raw if isinstance(raw, dict) else {}
    except (OSError, ValueError):
        return {}


# --- the CSV rows as events (for whoever reads a run's history: the app, the follower, the library) ---


def metrics_from_row(row: dict) -> Metrics:
    # An empty cell (a column older runs did not write, e.g. time) keeps the field's default.
    values: dict[str, Any] = {k: (int(v) if k == "step" else float(v)) for k, v in row.items()
                              if k in METRIC_COLUMNS and v not in ("", None)}
    return Metrics(**values)


def quality_from_row(row: dict) -> Quality:
    return Quality(step=int(row["step"]), frechet=float(row["frechet"]),
                   histogram=tuple(float(v) for v in (row["histogram"] or "").split()),
                   missing_classes=tuple(int(v) for v in (row["missing_classes"] or "").split()),
                   collapse=(row["collapse"] or "").strip().lower() in ("true", "1"),
                   accuracy=float(row["accuracy"]) if (row["accuracy"] or "").strip() else None,
                   confidence=float(row["confidence"] or "nan"),
                   reference=tuple(float(v) for v in (row.get("reference") or "").split()),
                   group_kinds=tuple(int(v) for v in (row.get("group_kinds") or "").split()),
                   kind_names=_names_cell(row.get("kind_names")))


def _names_cell(cell: str | None) -> tuple[str, ...]:
    """A JSON list of names from a row; anything else (an older row, a damaged cell) is no names."""
    try:
        names = json.loads(cell) if cell else []
    except ValueError:
        return ()
    return tuple(names) if isinstance(names, list) and all(isinstance(n, str) for n in names) else ()


def image_quality_from_row(row: dict) -> ImageQuality:
    return ImageQuality(int(row["step"]), float(row["fid"]), float(row["kid"]), float(row["kid_std"]),
                        int(row["samples"]), row["network"], float(row["seconds"]))


COLUMNS_OF = {metrics_from_row: METRIC_COLUMNS, quality_from_row: QUALITY_COLUMNS,
              image_quality_from_row: FID_COLUMNS}


def read_rows(path: str | Path, parse, up_to: int | None = None) -> list:
    """A run's CSV file as events (parse: one of the *_from_row above), up to step `up_to`; damaged rows
    (bytes that are not UTF-8 text among them) are skipped, a file without its header is read by its
    columns, and a missing file is no rows."""
    out = []
    try:
        rows = read_csv(path, COLUMNS_OF.get(parse))
    except OSError:
        return []
    for row in rows:
        try:
            event = parse(row)
        except (KeyError, ValueError, TypeError, AttributeError):
            continue
        if up_to is None or event.step <= up_to:
            out.append(event)
    return out


def read_csv(path: str | Path, columns: list[str] | None) -> list[dict]:
    """The rows of a run's CSV file as dicts. Bytes that are not UTF-8 text become U+FFFD (the row
    is then the parser's to refuse), and a file whose first line is not its header (it does not
    start with "step") is read as `columns`: csv.DictReader would take its first row for the header.
    Read a line at a time within core/bounded_read.py's cap: a line longer than any row (a 1 GiB line
    appended) is skipped unread, and a FIFO or device in the file's place is refused (an OSError)."""
    import csv
    from itertools import chain

    lines = read_lines(path, what="run's row file")
    head = next(lines, "")
    first = head.split(",", 1)[0].strip().lstrip("\ufeff")
    headed = first == "step" or columns is None
    return list(csv.DictReader(chain([head], lines), fieldnames=None if headed else columns))
