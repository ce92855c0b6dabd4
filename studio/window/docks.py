"""The window's docks: the form on the left; the explorer, the run library and the sweep on the right,
tabbed into one column, so that one of them at a time shares the screen with the plots and the gallery.

Each right-hand panel is one registration (`add_right`). A dock's panel scrolls inside it and never
widens the window: with the form (its own minimum) and the central area's budget, everything fits
1366 px. The docks' toggle actions go into the View menu with their shortcuts.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QFrame, QMainWindow, QScrollArea, QTabWidget, QVBoxLayout, QWidget

DOCK_MIN_WIDTH = 200  # px: the most a right-hand dock insists on (narrower than its panel, it scrolls)


class Docks:
    def __init__(self, window: QMainWindow):
        self.window = window
        self.right: list[QDockWidget] = []
        self.shortcuts: dict[QDockWidget, str] = {}
        window.setDockOptions(QMainWindow.AnimatedDocks | QMainWindow.AllowTabbedDocks)
        window.setTabPosition(Qt.RightDockWidgetArea, QTabWidget.North)

    def add_left(self, title: str, name: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self.window, objectName=name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.window.addDockWidget(Qt.LeftDockWidgetArea, dock)
        return dock

    def add_right(self, title: str, name: str, panel: QWidget, shortcut: str) -> QDockWidget:
        """A right-hand panel: hidden until asked for (View menu; the saved layout may show it), tabbed
        with the others; when shown it comes to the front and takes its room from the plots."""
        dock = QDockWidget(title, self.window, objectName=name)
        dock.setWidget(scrolling(panel))
        self.window.addDockWidget(Qt.RightDockWidgetArea, dock)
        if self.right:
            self.window.tabifyDockWidget(self.right[0], dock)
        dock.hide()
        dock.visibilityChanged.connect(
            lambda on, d=dock: on and QTimer.singleShot(0, self.window, lambda: self._give_room(d)))
        self.right.append(dock)
        self.shortcuts[dock] = shortcut
        return dock

    def _give_room(self, dock: QDockWidget) -> None:
        """A dock just shown, narrower than its panel wants, gets the room from the plots (resizeDocks
        never resizes the window); below that it scrolls its panel."""
        area = dock.widget()
        want = area.widget().minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width()
        room = self.window.width() // 3  # the plots and the gallery keep the rest
        want = min(want, room)
        if dock.isVisible() and not dock.isFloating() and dock.width() < want:
            self.window.resizeDocks([dock], [want], Qt.Horizontal)


def scrolling(panel: QWidget) -> QScrollArea:
    """A dock's panel in a scroll area: a dock narrower or shorter than the panel scrolls it, and
    never widens the window (nothing widens the window)."""
    area = QScrollArea(widgetResizable=True, frameShape=QFrame.NoFrame)
    area.setWidget(panel)
    area.setMinimumWidth(min(panel.minimumSizeHint().width(), DOCK_MIN_WIDTH))
    return area


class Budgeted(QWidget):
    """The central area: its content may want more, but it asks the window for no more than `width` px,
    so a long title or banner squeezes (elides, wraps, scrolls) instead of widening the window."""

    def __init__(self, width: int, parent: QWidget | None = None):
        super().__init__(parent)
        self._width = width

    def minimumSizeHint(self):
        hint = super().minimumSizeHint()
        hint.setWidth(min(hint.width(), self._width))
        return hint


def stacked(*widgets: QWidget) -> QWidget:
    box = QWidget(objectName="configBox")
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    for i, widget in enumerate(widgets):
        layout.addWidget(widget, 1 if i == len(widgets) - 1 else 0)
    return box
