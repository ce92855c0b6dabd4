"""A folder chooser that takes a new folder's name: Qt's own chooser (the one used where the desktop
offers none, as under a bare X server) answered a typed name that did not exist yet with
"Directory not found", so saving into a new folder took a detour through a file manager."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox, QWidget


class FolderDialog(QFileDialog):
    """Folders only. A name typed for a folder that does not exist is made when the person accepts
    (one level, inside a folder that exists: a mistyped path makes no tree of folders)."""

    def __init__(self, parent: QWidget | None, caption: str, start: str = ""):
        super().__init__(parent, caption, start)
        self.setFileMode(QFileDialog.Directory)
        self.setOption(QFileDialog.ShowDirsOnly, True)
        self.made: Path | None = None  # the folder this dialog made, if any

    def accept(self) -> None:
        chosen = self.selectedFiles()
        path = Path(chosen[0]) if chosen else None
        if path is not None and not path.exists() and path.parent.is_dir():
            try:
                path.mkdir()
            except OSError as e:
                QMessageBox.warning(self, self.windowTitle(), f"{path} could not be made: {e.strerror or e}")
                return
            self.made = path
        super().accept()


def choose_folder(parent: QWidget | None, caption: str, start: str = "") -> str:
    """The folder a person chose or named (made if new), or "" when they cancelled."""
    dialog = FolderDialog(parent, caption, start)
    if dialog.exec() != QDialog.Accepted:
        return ""
    chosen = dialog.selectedFiles()
    return chosen[0] if chosen else ""
