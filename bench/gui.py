"""Shared by the GUI benchmarks (and tools/screenshot.py): the real window in a
throw-away settings folder, and the event-loop latency probe.

Import this before anything that imports PySide6 widgets: it defaults
QT_QPA_PLATFORM to offscreen so the benchmarks run without a display.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QSettings, Qt, QTimer  # noqa: E402


def temp_settings(prefix: str = "gan-studio-bench-") -> Path:
    """Point QSettings at a fresh temp folder (never the user's); returns the folder."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp / "settings"))
    return tmp


def open_window(width: int = 1440, height: int = 900):
    """QApplication + the real MainWindow, shown; settings and runs in a temp folder.

    Returns (app, window, tmp)."""
    tmp = temp_settings()
    from studio.app import create_app, create_window, make_settings

    app = create_app([])
    window = create_window(make_settings(), runs_root=tmp / "runs")
    window.resize(width, height)
    window.show()
    return app, window, tmp


class LatencyProbe:
    """A QTimer on the GUI thread; lateness = actual interval between ticks - the interval.

    A tick that fires late means the event loop was busy (a redraw, a slot, the
    GIL held by another thread) for that long: it is what a click or a resize
    would have waited."""

    def __init__(self, interval_ms: int = 10):
        self.interval = interval_ms / 1000
        self.samples: list[float] = []  # ms
        self._last: float | None = None
        self.timer = QTimer()
        self.timer.setTimerType(Qt.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.recording = False

    def start(self) -> None:
        self._last = time.perf_counter()
        self.recording = True
        self.timer.start()

    def stop(self) -> None:
        self.recording = False
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.recording and self._last is not None:
            self.samples.append(max(0.0, now - self._last - self.interval) * 1000)
        self._last = now

    def report(self) -> dict:
        a = np.array(self.samples) if self.samples else np.zeros(1)
        return {"ticks": len(self.samples), "p50_ms": float(np.percentile(a, 50)),
                "p99_ms": float(np.percentile(a, 99)), "max_ms": float(a.max())}
