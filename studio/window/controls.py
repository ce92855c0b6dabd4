"""The run's actions (Start, Pause/Resume, Step, Stop, Save, Open, Export) and their shortcuts.

Kept as QActions so the toolbar, the menus and the keyboard share one
enabled-state, set from the trainer's reported state (never guessed).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QToolBar, QWidget


def _action(parent: QObject, text: str, tip: str, shortcut=None, name: str = "") -> QAction:
    action = QAction(text, parent)
    action.setObjectName(name)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.WindowShortcut)
        tip = f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.NativeText)})"
    action.setToolTip(tip)
    action.setStatusTip(tip)
    return action


class Controls(QObject):
    def __init__(self, window: QWidget):
        super().__init__(window)
        a = _action
        self.start = a(window, "▶  Start", "Start training with the settings on the left", "Ctrl+Return", "start")
        self.pause = a(window, "❚❚  Pause", "Pause or resume training at the next step", Qt.Key_Space, "pause")
        self.step = a(window, "↦  Step", "Run exactly one step, then pause", "Ctrl+Right", "step")
        self.stop = a(window, "■  Stop", "Stop training; the run folder keeps a checkpoint to resume from",
                      "Ctrl+.", "stop")
        self.save_generator = a(window, "Save generator…", "Save the generator (safetensors + json)",
                                QKeySequence.Save, "saveGenerator")
        self.save_checkpoint = a(window, "Save checkpoint…", "Save the full training state to resume later",
                                 "Ctrl+Shift+S", "saveCheckpoint")
        self.open_run = a(window, "Open run or checkpoint…", "Show a run (its folder's config.json, or a checkpoint): "
                          "nothing in it changes; Resume trains it on", QKeySequence.Open, "openRun")
        self.open_generator = a(window, "Open generator…", "Load a saved generator and sample from it",
                                "Ctrl+G", "openGenerator")
        self.export = a(window, "Export samples…", "Write samples as a grid, PNG files or .npy", "Ctrl+E",
                        "export")
        self.resample = a(window, "New samples", "Draw a fresh grid from the loaded generator", "Ctrl+R",
                          "resample")
        self.quit = a(window, "Quit", "Close GAN Studio", QKeySequence.Quit, "quit")
        for action in self.all():
            window.addAction(action)  # shortcuts work wherever focus is in the window

    def all(self) -> list[QAction]:
        return [self.start, self.pause, self.step, self.stop, self.save_generator, self.save_checkpoint,
                self.open_run, self.open_generator, self.export, self.resample, self.quit]

    def toolbar(self, parent: QWidget) -> QToolBar:
        bar = QToolBar("Training", parent)
        bar.setObjectName("trainingToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonTextOnly)
        for action in (self.start, self.pause, self.step, self.stop):
            bar.addAction(action)
        bar.addSeparator()
        for action in (self.save_generator, self.save_checkpoint, self.export):
            bar.addAction(action)
        bar.addSeparator()
        for action in (self.open_run, self.open_generator):
            bar.addAction(action)
        return bar

    def set_state(self, state: str, form_valid: bool, has_generator: bool, has_checkpoint: bool,
                  loaded_generator: bool) -> None:
        """state: idle, loading, running, paused, stopping (and finished/stopped = idle)."""
        training = state in ("loading", "running", "paused", "stopping")
        live = state in ("running", "paused")
        self.start.setEnabled(not training and form_valid)
        self.pause.setEnabled(live)
        self.pause.setText("▶  Resume" if state == "paused" else "❚❚  Pause")
        self.step.setEnabled(live)
        self.stop.setEnabled(state in ("loading", "running", "paused"))
        self.save_generator.setEnabled(live or (not training and has_generator))
        self.save_checkpoint.setEnabled(live or (not training and has_checkpoint))
        self.open_run.setEnabled(not training)
        self.open_generator.setEnabled(not training)
        self.export.setEnabled(live or (not training and (has_generator or loaded_generator)))
        self.resample.setEnabled(not training and loaded_generator)
