"""Which of a run's generators to export or sample from, asked only when its best and its final differ.

A run keeps the generator of its best quality reading (best/) beside its final one, and a generator for
each checkpoint it kept. `ask_which` returns "final" at once when there is nothing to choose (no best
kept, or the best is the final step); otherwise it asks, the best picked first. The answer is what
`sample --which` and `export --which` take (core/sharing/which.py loads it): "best", "final" or a step.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.runs.folder import generator_choices


def differ(offered: dict) -> bool:
    """The run's best generator is not its final one: there is a choice to make."""
    best, final = offered.get("best"), offered.get("final")
    return best is not None and (final is None or best["step"] != final)


class WhichGeneratorDialog(QDialog):
    """The best (picked first), the final, or a kept step's generator; which() is the answer."""

    def __init__(self, offered: dict, what: str = "Export", parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"{what}: which generator?")
        best, final, kept = offered.get("best"), offered.get("final"), list(offered.get("kept") or [])
        intro = QLabel("This run's best quality reading came before its end: its generator of that moment was "
                       "kept beside the final one. Which one?", wordWrap=True)
        self.group = QButtonGroup(self)
        self.best = QRadioButton(f"Best reading: step {best['step']:,} ({best['reading']} {best['value']:.3g})"
                                 if best else "Best reading (none kept)", objectName="whichBest")
        self.best.setEnabled(best is not None)
        self.final = QRadioButton(f"Final: step {final:,}" if final is not None else "Final (none saved)",
                                  objectName="whichFinal")
        self.final.setEnabled(final is not None)
        self.kept = QRadioButton("A kept checkpoint's:", objectName="whichKept")
        self.kept.setEnabled(bool(kept))
        self.steps = QComboBox(objectName="whichStep")
        for step in kept:
            self.steps.addItem(f"step {step:,}", step)
        self.steps.setEnabled(False)
        self.kept.toggled.connect(self.steps.setEnabled)
        for button in (self.best, self.final, self.kept):
            self.group.addButton(button)
        (self.best if best else self.final).setChecked(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for w in (intro, self.best, self.final, self.kept, self.steps, buttons):
            layout.addWidget(w)

    def which(self) -> str | int:
        if self.best.isChecked():
            return "best"
        if self.kept.isChecked() and self.steps.currentIndex() >= 0:
            return int(self.steps.currentData())
        return "final"


def ask_which(run_dir: str | Path | None, what: str = "Export", parent: QWidget | None = None) -> str | int | None:
    """'final' when the run offers no other choice (or `run_dir` is no run folder), else the person's answer;
    None when they cancel."""
    if run_dir is None:
        return "final"
    offered = generator_choices(run_dir)
    if not differ(offered):
        return "final"
    dialog = WhichGeneratorDialog(offered, what, parent)
    return dialog.which() if dialog.exec() == QDialog.Accepted else None
