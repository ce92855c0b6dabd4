"""Helpers for tests that start `main.py` in another process."""

from __future__ import annotations

import subprocess


def wait_until_training(proc: subprocess.Popen, max_lines: int = 20) -> bool:
    """Read the CLI's output until its 'training ...' line (notes about the data may come first); by
    then the run owns its folder and its heartbeat is there."""
    for _ in range(max_lines):
        line = proc.stdout.readline()
        if line.startswith("training "):
            return True
        if not line:
            return False
    return False
