"""A run's name and line of notes: the fields for the next run (above the form) and the Rename dialog.

Both only collect text; core/runs/notes.py checks it and writes run.json.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from core.runs.notes import MAX_NAME, MAX_NOTES, clean_names
from studio.widgets import field_input


def _fields(parent: QWidget, name: str = "", notes: str = "") -> tuple[QLineEdit, QLineEdit]:
    name_edit = QLineEdit(name, parent, objectName="runName", maxLength=MAX_NAME)
    notes_edit = QLineEdit(notes, parent, objectName="runNotes", maxLength=MAX_NOTES)
    return name_edit, notes_edit


class NameRow(QWidget):
    """Name and notes for the next run started in this window (kept in its run.json)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.name, self.notes = _fields(self)
        self.name.setPlaceholderText("optional: shown in the library and the title")
        self.notes.setPlaceholderText("optional: a line about this run")
        self.name.setToolTip("The next run's name (the folder keeps its date and time). Rename a run in the "
                             "Run library.")
        self.notes.setToolTip("A line of notes on the next run; the Run library shows it.")
        form = QFormLayout(self)
        form.setContentsMargins(6, 4, 6, 0)
        form.setVerticalSpacing(2)
        form.addRow("Run name", self.name)
        form.addRow("Notes", self.notes)
        self._guard = field_input.FieldInput(self)
        field_input.install(self, self._guard)

    def set_training(self, training: bool) -> None:
        """While a run trains these fields are not editable: they name the next run, and a name typed
        now would be taken by a fork or the next start, never by the run training (Rename names that)."""
        for edit in (self.name, self.notes):
            edit.setEnabled(not training)
        self.name.setPlaceholderText("for the next run (File ▸ Rename run… for this one)" if training
                                     else "optional: shown in the library and the title")

    def values(self) -> dict:
        """{"name", "notes"} for run.json, or {} when both are empty; ValueError says what is wrong."""
        name, notes = self.name.text(), self.notes.text()
        return clean_names(name, notes) if name.strip() or notes.strip() else {}

    def clear(self) -> None:
        """After a start: the next run gets its own name."""
        self.name.clear()
        self.notes.clear()


class RenameDialog(QDialog):
    """Ask for a run's name and notes; values() after exec()."""

    def __init__(self, folder: str, name: str, notes: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Rename {name or folder}")
        self.name, self.notes = _fields(self, name, notes)
        self.name.setPlaceholderText(folder)
        intro = QLabel(f"The run in {folder}. Only its name and notes (run.json) change; its folder keeps "
                       "its name.", wordWrap=True)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Notes", self.notes)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Rename")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(460, self.sizeHint().height())

    def values(self) -> tuple[str, str]:
        return self.name.text(), self.notes.text()
