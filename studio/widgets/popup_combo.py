"""A combo box that says when its list is about to open (to fill in what is worth measuring only then)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox


class PopupCombo(QComboBox):
    popup_opening = Signal()

    def showPopup(self) -> None:  # noqa: N802 (Qt's name)
        self.popup_opening.emit()
        super().showPopup()
