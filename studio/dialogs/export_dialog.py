"""Export samples: how many, as what, which class, which seed, where.

The dialog only collects choices; the window writes the files on a
background thread through core.sharing.export and names the path written in the message bar (no second dialog).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.atomic import free_path
from studio.dialogs.folder_dialog import choose_folder
from studio.widgets.elided_label import WrappedLabel

KINDS = (("grid", "One grid image (.png)"), ("pngs", "Individual PNG files"), ("npy", "NumPy array (.npy)"))


@dataclass(frozen=True)
class ExportRequest:
    n: int
    kind: str  # grid, pngs, npy
    label: int | None
    seed: int
    folder: str
    target: str = ""  # the exact file (or folder) to write, as the dialog named it; "" for out's free name

    @property
    def written(self) -> Path:
        """What is written: the target the dialog named, else `out` or, beside an earlier export of that
        name (kept), out-2, out-3, ..."""
        return Path(self.target) if self.target else free_path(self.out)

    @property
    def out(self) -> Path:
        """What core.export_samples writes to: a file for grid/npy, a folder for pngs."""
        folder = Path(self.folder)
        suffix = f"_class{self.label}" if self.label is not None else ""
        if self.kind == "grid":
            return folder / f"samples_seed{self.seed}{suffix}.png"
        if self.kind == "npy":
            return folder / f"samples_seed{self.seed}{suffix}.npy"
        return folder / f"samples_seed{self.seed}{suffix}"


class ExportDialog(QDialog):
    def __init__(self, parent: QWidget | None, source: str, conditional: bool, num_classes: int = 10,
                 folder: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Export samples")
        self.setMinimumWidth(460)
        self.n = QSpinBox(objectName="exportCount", minimum=1, maximum=100_000, value=64)
        self.n.setToolTip("How many images to generate.")
        self.kind = QComboBox(objectName="exportKind")
        for key, text in KINDS:
            self.kind.addItem(text, key)
        self.label = QComboBox(objectName="exportClass")
        self.label.addItem("Every class in turn", None)
        for c in range(num_classes):
            self.label.addItem(f"Class {c}", c)
        self.label.setEnabled(conditional)
        self.label.setToolTip("A conditional generator can draw one chosen class." if conditional
                              else "This generator is not conditional: it cannot draw a chosen class.")
        self.seed = QSpinBox(objectName="exportSeed", minimum=0, maximum=2**31 - 1, value=0)
        self.seed.setToolTip("The same seed gives the same images again.")
        self.folder = QLineEdit(folder, objectName="exportFolder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        self.preview = WrappedLabel(objectName="exportPreview")  # a long path wraps or is cut, never widens

        form = QFormLayout()
        generator = WrappedLabel(source, objectName="exportSource")
        generator.setToolTip(source)
        form.addRow("Generator", generator)
        form.addRow("How many", self.n)
        form.addRow("Save as", self.kind)
        form.addRow("Class", self.label)
        form.addRow("Seed", self.seed)
        form.addRow("Folder", row)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok = buttons.button(QDialogButtonBox.Ok)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.preview)
        layout.addWidget(buttons)
        for w in (self.kind.currentIndexChanged, self.label.currentIndexChanged, self.seed.valueChanged,
                  self.folder.textChanged):
            w.connect(self._update)
        self._update()

    def request(self) -> ExportRequest:
        """The choices, with the file they write named now: the one the preview shows."""
        plain = ExportRequest(self.n.value(), self.kind.currentData(), self.label.currentData(),
                              self.seed.value(), self.folder.text().strip())
        return replace(plain, target=str(plain.written))

    def _update(self, *_) -> None:
        ok = bool(self.folder.text().strip())
        self.ok.setEnabled(ok)
        request = self.request()
        kept = f" ({request.out.name} is there already: it is kept)" if request.written != request.out else ""
        self.preview.setText(f"Will write: {request.written}{kept}" if ok else "Choose a folder.")
        self.preview.setToolTip(self.preview.text())

    def _browse(self) -> None:
        folder = choose_folder(self, "Export samples to", self.folder.text())
        if folder:
            self.folder.setText(folder)
