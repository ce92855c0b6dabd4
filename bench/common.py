"""Shared by the benchmarks: the machine's description and the results file."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return (f"{cpu}, {cores} cores{gpu}; Python {platform.python_version()}, torch {torch.__version__}, "
            f"{platform.system()} {platform.release()}")


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=RESULTS.parent.parent).stdout.strip()
    except OSError:
        return "?"


def record(title: str, lines: list[str]) -> None:
    """Print the figures and append them, dated, with the machine, to docs/benchmarks.md."""
    block = [f"### {title}", "", f"{time.strftime('%Y-%m-%d %H:%M')} · commit {commit()} · {machine()}",
             f"`python {' '.join(sys.argv)}`", "", *lines, ""]
    text = "\n".join(block)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmarks\n\nAppended by the scripts in `bench/`; newest last. Ratios are "
                           "measured side by side in one run.\n\n")
    with RESULTS.open("a") as f:
        f.write(text + "\n")


def median(values: list[float]) -> float:
    return statistics.median(values)


def run_child(cmd: list[str], label: str, timeout: float) -> dict:
    """Run a benchmark's child process (offscreen Qt unless told otherwise) and return the JSON
    object of the last stdout line that starts with '{'."""
    import json

    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    if p.returncode or not lines:
        raise SystemExit(f"{label} child failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return json.loads(lines[-1])
