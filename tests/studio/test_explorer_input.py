"""The latent explorer's fields follow the form's rule: the wheel changes a spin box, combo or slider only
when it has focus, and Enter leaves a spin box."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QWidget

from studio.panels.explorer_panel import ExplorerPanel


def _wheel(widget: QWidget, notches: int = -1) -> None:
    """One wheel notch over the middle of `widget` (negative: towards the user)."""
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, 120 * notches),
                        Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def _focus(qtbot, window: QWidget, widget: QWidget) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    widget.setFocus(Qt.MouseFocusReason)
    qtbot.waitUntil(widget.hasFocus, timeout=5_000)


def test_a_wheel_over_an_unfocused_explorer_field_changes_nothing(qtbot):
    panel = ExplorerPanel()
    qtbot.addWidget(panel)
    panel.resize(420, 600)
    panel.show()
    qtbot.waitExposed(panel)
    fields = {"steps": panel.steps, "seed A": panel.a.seed, "path": panel.mode, "truncation": panel.truncation}
    before = {name: (w.currentIndex() if name == "path" else w.value()) for name, w in fields.items()}
    for name, widget in fields.items():
        assert widget.focusPolicy() == Qt.StrongFocus, name  # a click or Tab focuses it, never the wheel
        assert not widget.hasFocus(), name
        _wheel(widget)
        _wheel(widget, notches=1)
    after = {name: (w.currentIndex() if name == "path" else w.value()) for name, w in fields.items()}
    assert after == before
    assert panel.psi_label.text() == "ψ 1.00"

    _focus(qtbot, panel, panel.truncation)  # focused: the wheel is the person's choice
    _wheel(panel.truncation)
    assert panel.truncation.value() < 100 and panel.psi_label.text() != "ψ 1.00"
    _focus(qtbot, panel, panel.steps)
    _wheel(panel.steps)
    assert panel.steps.value() == before["steps"] - 1
    qtbot.keyClick(panel.steps, Qt.Key_Return)  # Enter leaves the field
    qtbot.waitUntil(lambda: not panel.steps.hasFocus(), timeout=5_000)
