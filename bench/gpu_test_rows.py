"""A pytest plugin for bench/gpu_suite.py's tests part (`-p bench.gpu_test_rows`): one row per test,
written as the test ends (to the file GAN_STUDIO_TEST_ROWS names), so a run stopped at its time limit
still says which tests passed, failed or never ran."""

from __future__ import annotations

import os
from pathlib import Path

from bench.gpu_rows import Rows


def pytest_runtest_logreport(report) -> None:
    path = os.environ.get("GAN_STUDIO_TEST_ROWS")
    if not path:
        return
    # a test's outcome is its call's; a setup that fails or skips is the outcome, and a teardown that fails
    if report.when == "call" or (report.when != "call" and report.outcome != "passed"):
        message = ""
        if report.outcome == "failed":
            message = (report.longreprtext.strip().splitlines() or [""])[-1][:300]
        elif report.outcome == "skipped" and isinstance(report.longrepr, tuple):
            message = str(report.longrepr[2])[:300]
        Rows(Path(path)).add(test=report.nodeid, outcome=report.outcome, when=report.when,
                             seconds=round(report.duration, 2), message=message)
