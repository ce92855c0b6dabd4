"""Python's cycle collector, run on the GUI thread only.

The collector runs on whichever thread happens to allocate when a threshold is crossed: often the
trainer's or a job's thread. A cycle that holds Qt objects (a closed window, a removed plot item)
is then destroyed off the GUI thread, which Qt does not allow: in the test suite whole closed
windows were freed on trainer threads, and one run hung for good. So while the app runs,
automatic collection is off and a timer on the GUI thread collects whatever generation is due,
by the interpreter's own thresholds (the pattern calibre and qutebrowser use).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500  # garbage waits at most this long; a young-generation pass takes about a millisecond


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject, interval_ms: int = INTERVAL_MS):
        super().__init__(parent)  # lives on the thread of its parent: the application's
        self.thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.collect_due)
        self.timer.start(interval_ms)

    def collect_due(self) -> int:
        """Collect the oldest generation whose count passed its threshold (as the interpreter would)."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self.thresholds[generation]:
                return gc.collect(generation)
        return 0

    def uninstall(self) -> None:
        self.timer.stop()
        if self._was_enabled:
            gc.enable()


_installed: GuiThreadCollector | None = None


def install(app: QObject) -> GuiThreadCollector:
    """Once per process, from the GUI thread, after the QApplication exists."""
    global _installed
    if _installed is None:
        _installed = GuiThreadCollector(app)
    return _installed


def uninstall() -> None:
    global _installed
    if _installed is not None:
        _installed.uninstall()
        _installed = None
