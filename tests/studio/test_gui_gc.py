"""Cycles that hold Qt objects are freed on the GUI thread, whatever thread allocates."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QObject

from studio import gui_gc


def _cycle_holding_a_qobject(freed_on: list[str]) -> None:
    holder = QObject()
    holder.me = holder  # a reference cycle: only the cycle collector frees it
    weakref.finalize(holder, lambda: freed_on.append(threading.current_thread().name))


def _allocate_on_a_thread() -> list:
    """Enough new containers, kept, to cross the young generation's threshold many times over."""
    kept = []
    worker = threading.Thread(target=lambda: kept.extend([i] for i in range(20 * gc.get_threshold()[0])),
                              name="allocating-worker")
    worker.start()
    worker.join()
    return kept


def test_a_thread_that_allocates_never_frees_qt_cycles(qtbot):
    assert not gc.isenabled()  # the suite runs with the collector installed, as the app does
    freed_on: list[str] = []
    _cycle_holding_a_qobject(freed_on)
    kept = _allocate_on_a_thread()
    assert freed_on == []  # the worker crossed the thresholds but collected nothing
    qtbot.waitUntil(lambda: freed_on == ["MainThread"], timeout=5_000)  # the GUI thread's timer did
    del kept


def test_without_it_the_allocating_thread_would_free_them(qapp):
    """The reason for gui_gc: the interpreter's own collection runs on the allocating thread."""
    gc.collect()  # here first: what earlier tests left (closed windows) must not be freed on the worker
    gui_gc.uninstall()
    gc.enable()
    try:
        freed_on: list[str] = []
        _cycle_holding_a_qobject(freed_on)
        _allocate_on_a_thread()
        assert freed_on == ["allocating-worker"]  # Qt objects freed off the GUI thread
    finally:
        gui_gc.install(qapp)  # as the suite had it (and gc back on when the session ends)
    assert not gc.isenabled() and gui_gc._installed._was_enabled


def test_collect_due_follows_the_interpreters_thresholds(qapp):
    collector = gui_gc.install(qapp)
    gc.collect()
    assert collector.collect_due() == 0  # nothing is due right after a full collection
    freed_on: list[str] = []
    _cycle_holding_a_qobject(freed_on)
    keep = [[i] for i in range(collector.thresholds[0] + 1)]  # past generation 0's threshold, here
    assert collector.collect_due() >= 1 and freed_on == ["MainThread"]
    del keep
