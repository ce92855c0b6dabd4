"""A QObject on its own QThread, set up, waited for and freed the same way everywhere.

The object is moved to a new QThread whose `started` calls its entry slot; the slot ends the
thread's event loop itself when its work is done (`end_this_thread`, in a `finally`). The pair is
released (`release`) only after the thread has finished, and from the GUI thread: Qt objects freed
while their thread still ran, or on a thread not the GUI's, are what made the app hang before (see
studio/gui_gc.py). Never terminate() a thread: ask its object to stop, then wait.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot


def thread_for(obj: QObject, entry: Callable[[], None], name: str) -> QThread:
    """A QThread, not started yet, that runs `obj.entry` when it starts; `obj` moves onto it.

    Connect obj's signals before `start()`: they are queued to their receivers' threads."""
    thread = QThread()
    thread.setObjectName(name)  # names the thread in a debugger, and in the tests' leaked-thread report
    obj.moveToThread(thread)
    thread.started.connect(entry)
    return thread


def end_this_thread() -> None:
    """From an entry slot (in its `finally`): the thread's loop ends once the slot returns. Thread-safe."""
    QThread.currentThread().quit()


def wait(thread: QThread, timeout_ms: int | None = None) -> bool:
    """Wait for the thread to finish (without limit when timeout_ms is None); True when it has."""
    return thread.wait() if timeout_ms is None else thread.wait(timeout_ms)


def release(thread: QThread, obj: QObject) -> None:
    """From the GUI thread, once `thread` has finished: both deleted by Qt, not by Python's collector.

    The thread goes at the GUI loop's next turn. The object still belongs to the finished thread,
    whose loop is gone, so its deletion waits there (Qt's rule for deleteLater)."""
    obj.deleteLater()
    thread.deleteLater()


class ThreadGroup(QObject):
    """Short-lived objects, each on its own thread; each pair is released once its thread finishes.

    Lives on the GUI thread: the threads' `finished` is queued to it, so releasing happens there."""

    emptied = Signal()  # the last running thread has finished and been released

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._running: list[tuple[QThread, QObject]] = []

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def objects(self) -> list[QObject]:
        """The objects whose threads have not been released yet."""
        return [obj for _, obj in self._running]

    def start(self, obj: QObject, entry: Callable[[], None], name: str) -> QThread:
        thread = thread_for(obj, entry, name)
        thread.finished.connect(self._release_finished)
        self._running.append((thread, obj))
        thread.start()
        return thread

    @Slot()
    def _release_finished(self) -> None:
        for pair in [p for p in self._running if p[0].isFinished()]:
            self._running.remove(pair)
            release(*pair)
        if not self._running:
            self.emptied.emit()

    def wait_all(self, timeout_ms: int | None = None) -> None:
        """Wait for every thread (each up to timeout_ms), then release the finished ones now."""
        for thread, _ in list(self._running):
            wait(thread, timeout_ms)
        self._release_finished()
