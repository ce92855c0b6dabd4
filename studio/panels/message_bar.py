"""An in-window message bar: errors and notices readable, never a crash.

Non-modal on purpose: training keeps running while a message is shown, and a
burst of messages does not stack dialogs.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QStyle, QToolButton, QWidget

from studio.widgets.elided_label import WrappedLabel

# The style's own pictures: a text glyph (⛔, ℹ) is an empty box where the font lacks it.
ICONS = {"error": QStyle.SP_MessageBoxCritical, "warning": QStyle.SP_MessageBoxWarning,
         "success": QStyle.SP_DialogApplyButton, "info": QStyle.SP_MessageBoxInformation}


class MessageBar(QFrame):
    shown = Signal(str, str)  # level, text

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, objectName="messageBar")
        self.level = ""
        self.history: list[tuple[str, str]] = []
        self.icon = QLabel(objectName="messageIcon")
        self.text = WrappedLabel(objectName="messageText")  # a long path never pushes the × off the window
        # Plain text always: messages carry paths and sub-folder names, which a "<b>" would turn into markup.
        self.text.setTextFormat(Qt.PlainText)
        self.text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        close = QToolButton(text="✕", objectName="messageClose", autoRaise=True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.icon)
        layout.addWidget(self.text, 1)
        layout.addWidget(close, 0, Qt.AlignTop)
        self.hide()

    def show_message(self, text: str, level: str = "error") -> None:
        """level: error, warning, info or success."""
        self.level = level
        self.history.append((level, text))
        side = self.style().pixelMetric(QStyle.PM_SmallIconSize)
        self.icon.setPixmap(self.style().standardIcon(ICONS.get(level, ICONS["info"])).pixmap(side, side))
        self.text.setText(text)
        self.text.setToolTip(text)  # a path too long for the bar is cut at its edge
        self.setProperty("level", level)
        self.style().unpolish(self)
        self.style().polish(self)
        self.show()
        self.shown.emit(level, text)

    def dismiss(self) -> None:
        self.hide()
        self.level = ""

    @property
    def message(self) -> str:
        return self.text.text() if self.isVisible() else ""
