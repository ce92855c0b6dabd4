"""A run folder's past, read as events for the app to show: a run opened to look at, a resumed run
(or a fork's parent) up to the step it goes on from. Only reads; torch-free (the app reads it on a
job thread while the GUI waits for nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.config import Config, ConfigError
from core.events import HyperparamsChanged, ImageQuality, Metrics, Quality
from core.runs.folder import (
    RunFolder,
    checkpoint_path,
    image_quality_from_row,
    last_checkpoint_step,
    metrics_from_row,
    quality_from_row,
    read_rows,
    sample_steps,
)


@dataclass(frozen=True)
class RunHistory:
    """What a run folder holds of its past, as events: for a run opened, resumed or forked."""

    run_dir: Path
    metrics: list = field(default_factory=list)  # ev.Metrics
    samples: list[int] | None = None  # steps of samples/step_NNNNNN.png (None: not asked for)
    quality: list = field(default_factory=list)  # ev.Quality
    image_quality: list = field(default_factory=list)  # ev.ImageQuality
    changes: list = field(default_factory=list)  # ev.HyperparamsChanged (changes.jsonl): the plots' markers
    recorded: list = field(default_factory=list)  # any other event a run keeps (events.jsonl)

    def events(self) -> list:
        """Everything of the past that a live run reports as it happens, oldest first: the app shows a
        run's history through the same handlers as its live events (grids aside: listed in `samples`)."""
        order = {HyperparamsChanged: 0, Metrics: 1, Quality: 2, ImageQuality: 3}
        kept = [*self.metrics, *self.changes, *self.quality, *self.image_quality, *self.recorded]
        return sorted(kept, key=lambda e: (e.step, order.get(type(e), 9)))


@dataclass(frozen=True)
class RunView:
    """A run opened to look at: its settings (None, and `problem`, when config.json cannot be read)."""

    history: RunHistory
    config: Config | None
    problem: str
    name: str
    step: int
    resumable: bool


def or_none(read, *args):
    """read(*args), or None when the folder cannot be read (the run then shows without its past)."""
    try:
        return read(*args)
    except (OSError, ValueError):
        return None


def read_history(run_dir: Path, up_to: int | None = None, samples: bool = True) -> RunHistory:
    """Only reads (metrics.csv, quality.csv, fid.csv, a listing of samples/)."""
    run = RunFolder(run_dir)
    return RunHistory(run_dir, read_rows(run.metrics, metrics_from_row, up_to),
                      sample_steps(run_dir, up_to) if samples else None,
                      read_rows(run.quality, quality_from_row, up_to),
                      read_rows(run.fid, image_quality_from_row, up_to),
                      read_changes(run_dir, up_to), read_recorded(run_dir, up_to))


def read_changes(run_dir: Path, up_to: int | None = None) -> list:
    """The live changes a run made (changes.jsonl), as the events that reported them; damaged lines skipped."""
    from core.bounded_read import loads_json, read_lines

    path = RunFolder(run_dir).changes
    try:
        lines = list(read_lines(path, what="run's changes.jsonl")) if path.is_file() else []
    except (OSError, ValueError):
        return []
    changes = []
    for line in lines:
        try:
            record = loads_json(line)
            step, values = int(record["step"]), dict(record["changes"])
        except (ValueError, KeyError, TypeError):
            continue
        if values and (up_to is None or step <= up_to):
            changes.append(HyperparamsChanged(step, values))
    return changes


def read_view(run_dir: Path) -> RunView:
    """A run to show, read without writing a byte: settings, name, history, latest step."""
    from core.runs.fork import run_settings
    from core.runs.notes import read_names

    history = read_history(run_dir)
    try:
        config, problem = run_settings(run_dir), ""
    except ConfigError as e:
        config, problem = None, str(e)
    steps = [m.step for m in history.metrics] + (history.samples or [])
    step = last_checkpoint_step(run_dir)
    return RunView(history, config, problem, read_names(run_dir)[0],
                   step if step is not None else max(steps, default=0), checkpoint_path(run_dir).is_file())


def read_recorded(run_dir: Path, up_to: int | None = None) -> list:
    """The events a run kept in events.jsonl (core/runs/writer.py record), rebuilt as the events they were.
    Only types core/events.py marks `recorded` are rebuilt; a damaged line, or an event of a type this
    version does not know, is skipped."""
    import dataclasses

    from core import events as ev
    from core.bounded_read import loads_json, read_lines

    path = RunFolder(run_dir).events
    if not path.is_file():
        return []
    kept = []
    try:
        lines = list(read_lines(path, what="run's events.jsonl"))
    except (OSError, ValueError):  # not a regular file, or not readable: the run shows without them
        return []
    for line in lines:
        try:
            record = loads_json(line)
            kind = getattr(ev, str(record.pop("event")), None)
            if not (isinstance(kind, type) and dataclasses.is_dataclass(kind) and getattr(kind, "recorded", False)):
                continue
            event = kind(**record)
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        if up_to is None or getattr(event, "step", 0) <= up_to:
            kept.append(event)
    return kept
