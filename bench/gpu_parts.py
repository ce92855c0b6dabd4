"""Which code runs each part of bench/gpu_suite.py, inside the part's own process."""

from __future__ import annotations

import argparse

from bench.gpu_rows import Rows


def run(part: str, args: argparse.Namespace, rows: Rows) -> int:
    if part in ("tests", "resume"):
        from bench import gpu_checks as module
    elif part in ("speed", "tutorial", "studio"):
        from bench import gpu_speed as module  # type: ignore[no-redef]
    else:
        from bench import gpu_quality as module  # type: ignore[no-redef]
    return getattr(module, part)(args, rows) or 0
