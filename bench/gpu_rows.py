"""The rows a GPU-suite part records (bench/gpu_suite.py): one JSON object a line, written as each is
measured, so the rows before a hang or a timeout survive the part's process."""

from __future__ import annotations

import json
import math
from pathlib import Path


class Rows:
    def __init__(self, path: Path):
        self.path = path

    def add(self, **row) -> dict:
        # strict JSON: a figure that could not be had (NaN) is null
        row = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)  # into the part's log too
        return row

    def skip(self, reason: str) -> None:
        """The part does not apply here (no picture folder, say): one line saying why."""
        self.add(skipped=reason)


def read_rows(path: Path) -> list[dict]:
    """The rows a part wrote; a line cut short by a kill is dropped."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
