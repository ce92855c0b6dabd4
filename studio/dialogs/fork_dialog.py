"""Confirm a fork: the parent's settings, and which of the form's differences the fork takes.

A fork starts from its parent's settings (core.runs.fork.run_settings: config.json with the live
changes made up to the fork step). The form may hold another run's settings, so each setting
in which it differs is listed as "key: parent value → form value", unticked: the fork trains
with the parent's settings exactly unless the person ticks a difference. The total steps are
asked for on their own (a fork's own choice).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.config import Config
from core.runs.fork import FIXED, default_fork_steps, differences
from studio.widgets import field_input

MAX_STEPS = 10_000_000  # run.steps' own limit (core/config.py)


def fmt(value) -> str:
    """A setting's value as the form writes it: 0.0002, (0.5, 0.999), hinge."""
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(fmt(v) for v in value) + ")"
    return f"{value:g}" if isinstance(value, float) else str(value)


def change_line(key: str, old, new) -> str:
    return f"{key}: {fmt(old)} → {fmt(new)}"


class ForkSettingsDialog(QDialog):
    """The fork of `parent_name` at `step`; changes() is what the person confirmed."""

    def __init__(self, parent_name: str, step: int | None, parent_config: Config, wanted: Config | None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.parent_config = parent_config
        at = f"step {step:,}" if step is not None else "its latest checkpoint"
        self.setWindowTitle(f"Fork {parent_name}")
        intro = QLabel(f"A new run from {parent_name} at {at}. It starts with the parent's settings (below); "
                       "tick a difference to change it in the fork. The parent is only read.", wordWrap=True)
        self.list = QListWidget(objectName="forkChanges")
        self.fixed: list[str] = []
        self._new: dict = {}  # key -> the form's value
        found = differences(parent_config, wanted) if wanted is not None else {}
        found.pop("run.steps", None)  # asked for below
        # What the fork may take first; the model and images (never taken) after, greyed.
        for key, (old, new) in sorted(found.items(), key=lambda kv: (kv[0].startswith(FIXED), kv[0])):
            item = QListWidgetItem(change_line(key, old, new))
            item.setData(Qt.UserRole, key)
            self._new[key] = new
            if key.startswith(FIXED):
                self.fixed.append(key)
                item.setFlags(Qt.NoItemFlags)  # shown, never taken
                item.setText(item.text() + "  (kept: a fork has its parent's model and images)")
            else:
                item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsUserCheckable)
                item.setCheckState(Qt.Unchecked)
            self.list.addItem(item)
        self.list.setVisible(bool(found))
        none = QLabel("The form holds the parent's settings: the fork trains with them.", wordWrap=True)
        none.setVisible(not found)
        take_all = QPushButton("Tick all", objectName="forkTickAll")
        take_none = QPushButton("Tick none", objectName="forkTickNone")
        take_all.clicked.connect(lambda: self.tick_all(True))
        take_none.clicked.connect(lambda: self.tick_all(False))
        for b in (take_all, take_none):
            b.setVisible(bool(found) and len(self.fixed) < len(found))
            b.setAutoDefault(False)
        ticks = QHBoxLayout()
        ticks.addWidget(take_all)
        ticks.addWidget(take_none)
        ticks.addStretch(1)

        self.steps = QSpinBox(objectName="forkSteps")
        first = (step or 0) + 1
        self.steps.setRange(first, MAX_STEPS)
        self.steps.setGroupSeparatorShown(True)
        self.steps.setValue(max(first, default_fork_steps(parent_config, step or 0)))
        self.steps.setToolTip("The fork's total steps; its count goes on from the fork step.")
        form = QFormLayout()
        form.addRow("Train to step", self.steps)

        self.settings_text = QPlainTextEdit(objectName="forkParentSettings", readOnly=True)
        self.settings_text.setPlainText(settings_text(parent_config))
        self.settings_text.setMaximumHeight(170)
        self.settings_text.setToolTip("The parent's settings at the fork step; the fork starts with these.")

        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Fork")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        if found:
            layout.addWidget(QLabel("Where the Hyperparameters form differs from the parent:"))
        layout.addWidget(self.list, 1)
        layout.addWidget(none)
        layout.addLayout(ticks)
        layout.addLayout(form)
        layout.addWidget(QLabel("The parent's settings:"))
        layout.addWidget(self.settings_text)
        layout.addWidget(buttons)
        self.resize(560, 520 if found else 380)
        self._guard = field_input.FieldInput(self)
        field_input.install(self, self._guard)

    def items(self) -> list[QListWidgetItem]:
        return [self.list.item(i) for i in range(self.list.count())]

    def tick_all(self, on: bool) -> None:
        for item in self.items():
            if item.flags() & Qt.ItemIsUserCheckable:
                item.setCheckState(Qt.Checked if on else Qt.Unchecked)

    def tick(self, key: str, on: bool = True) -> None:
        for item in self.items():
            if item.data(Qt.UserRole) == key and item.flags() & Qt.ItemIsUserCheckable:
                item.setCheckState(Qt.Checked if on else Qt.Unchecked)

    def listed(self) -> list[str]:
        """The differences shown, in order ('section.field')."""
        return [item.data(Qt.UserRole) for item in self.items()]

    def changes(self) -> dict:
        """What the fork changes: the ticked differences and its total steps."""
        out = {}
        for item in self.items():
            if item.flags() & Qt.ItemIsUserCheckable and item.checkState() == Qt.Checked:
                key = item.data(Qt.UserRole)
                out[key] = self._new[key]
        out["run.steps"] = self.steps.value()
        return out


def settings_text(config: Config) -> str:
    """Every setting, one 'section.field = value' a line."""
    lines = [f"preset = {config.preset}"]
    for section, values in config.to_dict().items():
        if isinstance(values, dict):
            lines += [f"{section}.{name} = {fmt(value)}" for name, value in values.items()]
    return "\n".join(lines)
