"""Short background jobs (load a generator, export samples) off the GUI thread.

Same pattern as the trainer's worker: a QObject moved to a QThread, results
and errors back as signals. Jobs are plain functions returning plain data.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot


class _Job(QObject):
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[], object]):
        super().__init__()
        self.fn = fn

    @Slot()
    def run(self) -> None:
        try:
            result = self.fn()
        except (ValueError, OSError) as e:  # core's errors are ValueErrors with readable messages
            self.failed.emit(str(e))
        except Exception as e:  # anything else: still a message, never a dead thread
            self.failed.emit(f"{type(e).__name__}: {e}")
        else:
            self.done.emit(result)
        finally:
            QThread.currentThread().quit()


class JobRunner(QObject):
    """Runs one job at a time per call; keeps threads alive until they finish."""

    idle = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._running: list[tuple[QThread, _Job]] = []

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def submit(self, fn: Callable[[], object], on_done: Callable[[object], None],
               on_failed: Callable[[str], None]) -> None:
        thread, job = QThread(), _Job(fn)
        thread.setObjectName("gan-studio-job")
        job.moveToThread(thread)
        job.done.connect(on_done)  # queued to the GUI thread: the callables touch widgets
        job.failed.connect(on_failed)
        thread.started.connect(job.run)
        thread.finished.connect(self._reap)
        self._running.append((thread, job))
        thread.start()

    @Slot()
    def _reap(self) -> None:
        for pair in [p for p in self._running if p[0].isFinished()]:
            self._running.remove(pair)
            pair[1].deleteLater()
            pair[0].deleteLater()
        if not self._running:
            self.idle.emit()

    def wait_all(self, timeout_ms: int = 30_000) -> None:
        for thread, _ in list(self._running):
            thread.wait(timeout_ms)
        self._reap()
