"""Nothing resizes or overlaps when the mouse moves: the loss plot's hover readout and status tips."""

from __future__ import annotations

from PySide6.QtCore import QPointF
from PySide6.QtGui import QStatusTipEvent
from PySide6.QtWidgets import QApplication

from core import events as ev


def _metrics(step: int) -> ev.Metrics:
    return ev.Metrics(step, step / 78, 2.19512345 + step, 0.123456789, 0.8454321, 0.05032123, 3000.0, 2e-4, 2e-4)


def test_hover_readout_keeps_the_splitter_and_window_sizes(qtbot, window):
    window.resize(1360, 860)
    for step in range(50, 2001, 50):
        window.loss_plots.add_metrics(_metrics(step))
    plot = window.loss_plots.plots[0]
    qtbot.waitUntil(lambda: plot.vb.viewRange()[0][1] >= 2000, timeout=5_000)  # drawn and auto-ranged
    QApplication.processEvents()
    sizes, width = window.splitter.sizes(), window.width()

    (_, _), (bottom, top) = plot.vb.viewRange()
    inside = plot.vb.mapViewToScene(QPointF(400, (bottom + top) / 2))
    window.loss_plots._mouse_moved((inside,))  # what the scene's mouse-move proxy calls
    text = window.loss_plots.hover.text()
    assert "step <b>400</b>" in text and ">G " in text and ">D 0.1235<" in text and ">D(G(z)) 0.05032<" in text
    QApplication.processEvents()
    assert window.splitter.sizes() == sizes
    assert window.width() == width
    assert window.gallery.view.width() >= sizes[1] - 2


def test_status_tips_go_to_the_note_not_over_the_figures(qtbot, window):
    status = window.status
    status.started(350, 5000, "cpu", "bundled MNIST sample", 5000, 64)
    status.metrics(_metrics(350))
    QApplication.processEvents()
    figures = [w.geometry() for w in (status.step, status.epoch, status.speed, status.eta)]
    tip = "Start training with the settings on the left (Ctrl+Return) " * 3
    QApplication.sendEvent(window, QStatusTipEvent(tip))
    QApplication.processEvents()
    assert status.note.text() == tip
    assert window.statusBar().currentMessage() == ""  # Qt's own message would cover the fields
    assert [w.geometry() for w in (status.step, status.epoch, status.speed, status.eta)] == figures
    assert status.state.isVisible() and status.note.geometry().right() < status.step.geometry().left()
    QApplication.sendEvent(window, QStatusTipEvent(""))
    assert status.note.text() == ""
