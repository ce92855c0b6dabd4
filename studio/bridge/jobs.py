"""Short background jobs (load a generator, export samples) off the GUI thread.

Same pattern as the trainer's worker: a QObject on its own QThread (studio/qthreads.py), results
and errors back as signals. Jobs are plain functions returning plain data.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, Signal, Slot

from studio.bridge import qthreads


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
            qthreads.end_this_thread()


class JobRunner(QObject):
    """Runs one job at a time per call; keeps threads alive until they finish."""

    idle = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._threads = qthreads.ThreadGroup(self)
        self._threads.emptied.connect(self.idle)

    @property
    def busy(self) -> bool:
        return self._threads.busy

    def submit(self, fn: Callable[[], object], on_done: Callable[[object], None],
               on_failed: Callable[[str], None]) -> None:
        job = _Job(fn)
        job.done.connect(on_done)  # queued to the GUI thread: the callables touch widgets
        job.failed.connect(on_failed)
        self._threads.start(job, job.run, "gan-studio-job")

    def wait_all(self, timeout_ms: int = 30_000) -> None:
        self._threads.wait_all(timeout_ms)
