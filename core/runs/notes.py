"""A run's name and line of notes, kept in its run.json beside the lineage ("name", "notes").

Torch-free (the run library reads them for every run). The name is what a person called the
run; the folder's name (often its start time) is only where it lives, so a run without a name
is shown by its folder name until it gets one.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.atomic import atomic_write
from core.bounded_read import FileRefused, load_json
from core.runs.folder import RunFolder, read_lineage

MAX_NAME = 120  # characters: a name fits a table column and a window title
MAX_NOTES = 500


def clean_names(name: str = "", notes: str = "") -> dict:
    """{"name": ..., "notes": ...} stripped and checked (ValueError with one line saying what is wrong)."""
    out = {}
    for key, value, limit in (("name", name, MAX_NAME), ("notes", notes, MAX_NOTES)):
        if not isinstance(value, str):
            raise ValueError(f"run {key}: must be text")
        value = " ".join(value.split())  # one line: newlines and tabs would break the table and titles
        if len(value) > limit:
            raise ValueError(f"run {key}: {len(value)} characters, at most {limit}")
        out[key] = value
    return out


def read_names(run_dir: str | Path) -> tuple[str, str]:
    """(name, notes) from run.json; empty strings when it says none (or is missing or damaged)."""
    raw = read_lineage(run_dir)
    name, notes = raw.get("name"), raw.get("notes")
    return (name if isinstance(name, str) else ""), (notes if isinstance(notes, str) else "")


def display_name(run_dir: str | Path) -> str:
    """The run's name, or its folder's name when it has none."""
    return read_names(run_dir)[0] or Path(run_dir).name


def write_names(run_dir: str | Path, name: str, notes: str = "") -> dict:
    """Set run.json's name and notes, keeping every other key; written whole or not at all.
    Refuses a folder that holds no run.json or config.json (nothing is made outside a run)."""
    run_dir = Path(run_dir)
    file = RunFolder(run_dir).run_json
    if not file.is_file() and not RunFolder(run_dir).config.is_file():
        raise ValueError(f"{run_dir} holds no run (no run.json or config.json); nothing was written")
    if file.exists():
        try:
            record = load_json(file)  # within bounds: a FIFO or a huge file in its place is refused
        except (OSError, ValueError) as e:
            why = e.reason if isinstance(e, FileRefused) else e
            raise ValueError(f"{file} cannot be read ({why}); it was left as it is") from None
        if not isinstance(record, dict):
            raise ValueError(f"{file} is not a JSON object; it was left as it is")
    else:
        record = {}  # a run from before run.json existed
    record.update(clean_names(name, notes))
    text = json.dumps(record, indent=2)
    atomic_write(file, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return record
