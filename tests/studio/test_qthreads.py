"""studio/qthreads.py: an object on its own thread, released once the thread has finished."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QThread, Signal, Slot
from shiboken6 import isValid

from studio.bridge import qthreads


class _Echo(QObject):
    ran_on = Signal(str)  # the name of the QThread the entry slot ran on

    def __init__(self, gate: threading.Event | None = None):
        super().__init__()
        self.gate = gate

    @Slot()
    def run(self) -> None:
        try:
            if self.gate is not None:
                self.gate.wait(10)
            self.ran_on.emit(QThread.currentThread().objectName())
        finally:
            qthreads.end_this_thread()


def test_thread_for_moves_the_object_and_waits_to_be_started(qtbot):
    echo = _Echo()
    thread = qthreads.thread_for(echo, echo.run, "test-echo")
    assert echo.thread() is thread and not thread.isRunning()
    with qtbot.waitSignal(echo.ran_on, timeout=5_000) as blocker:
        thread.start()
    assert blocker.args == ["test-echo"]
    assert qthreads.wait(thread, 5_000) and thread.isFinished()
    qthreads.release(thread, echo)
    qtbot.waitUntil(lambda: not isValid(thread), timeout=5_000)


def test_a_group_releases_each_thread_once_it_has_finished(qtbot):
    group = qthreads.ThreadGroup()
    echo = _Echo()
    seen = []
    echo.ran_on.connect(seen.append)
    with qtbot.waitSignal(group.emptied, timeout=5_000):
        thread = group.start(echo, echo.run, "test-group")
        assert group.busy and group.objects() == [echo]
    assert seen == ["test-group"] and not group.busy and group.objects() == []
    qtbot.waitUntil(lambda: not isValid(thread), timeout=5_000)


def test_wait_all_waits_for_every_thread_and_releases_them_at_once(qtbot):
    group = qthreads.ThreadGroup()
    gate = threading.Event()
    echoes = [_Echo(gate), _Echo(gate)]
    threads = [group.start(e, e.run, f"test-wait-{i}") for i, e in enumerate(echoes)]
    assert all(t.isRunning() for t in threads)  # held at the gate
    emptied = []
    group.emptied.connect(lambda: emptied.append(True))
    gate.set()
    group.wait_all(5_000)
    assert emptied and not group.busy and all(t.isFinished() for t in threads)  # at once, not at a later turn
