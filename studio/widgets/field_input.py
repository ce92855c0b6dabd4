"""Qt's conventions for form fields: the wheel changes a field only when it has focus, Enter leaves it.

A wheel notch over a combo box or spin box that the pointer merely passes while scrolling the form
would otherwise change its value unnoticed; such a wheel scrolls the form instead. Enter hands focus
back to the window, so the window's one-key shortcuts (Space: pause) work again.

The filter is installed on each field, not on the application: an application-wide filter would
run Python for every event of the app.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QComboBox, QLineEdit, QSlider, QWidget

ENTER_KEYS = (Qt.Key_Return, Qt.Key_Enter)
WHEELED = (QComboBox, QAbstractSpinBox, QSlider)  # fields a wheel notch changes (scroll bars are no field)


def leave_field(widget: QWidget) -> None:
    """Give the focus back to the window (when the field still has it)."""
    if widget.hasFocus():
        widget.window().setFocus(Qt.OtherFocusReason)


def _scroll_area(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea) and parent.viewport().isAncestorOf(widget):
            return parent
        parent = parent.parentWidget()
    return None


class FieldInput(QObject):
    """Event filter for QComboBox / QAbstractSpinBox / QSlider (wheel) and QLineEdit /
    QAbstractSpinBox (Enter)."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Wheel and isinstance(obj, WHEELED) and not obj.hasFocus():
            scroll = _scroll_area(obj)
            if scroll is not None:  # scroll the form the pointer is over, as if the field were not there
                QCoreApplication.sendEvent(scroll.viewport(), event)
            else:
                event.ignore()  # the parent gets it
            return True
        if (kind == QEvent.KeyPress and event.key() in ENTER_KEYS and isinstance(obj, (QLineEdit, QAbstractSpinBox))
                and not event.modifiers() & ~Qt.KeypadModifier):  # Ctrl+Return is a shortcut (Start)
            # After the field has handled Enter (editingFinished, once): moving focus now would emit it twice.
            QTimer.singleShot(0, obj, lambda: leave_field(obj))
        return False


def install(container: QWidget, guard: FieldInput) -> None:
    """Apply `guard` to every combo box, spin box, slider and line edit under `container` (a spin box's
    own line edit excepted: the spin box gets its keys and wheel)."""
    for widget in container.findChildren(QWidget):
        if isinstance(widget, WHEELED):
            widget.setFocusPolicy(Qt.StrongFocus)  # not WheelFocus: a wheel never takes focus
            widget.installEventFilter(guard)
        elif isinstance(widget, QLineEdit) and not isinstance(widget.parentWidget(), (QComboBox, QAbstractSpinBox)):
            widget.installEventFilter(guard)
