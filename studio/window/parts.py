"""What the window's helpers (the opener, the file actions) work with, handed in instead of the window:
nothing holds the window to reach its panels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QWidget

from studio.model.shown_run import ShownRun


@dataclass
class StudioParts:
    model: ShownRun  # the run shown: which, how, its state and events
    session: object  # studio.bridge.worker.TrainingSession: what trains
    jobs: object  # studio.bridge.jobs.JobRunner: work off the GUI thread
    form: object  # studio.panels.config_panel.ConfigPanel: the next run's (or the shown run's) settings
    names: object  # studio.panels.run_names.NameRow: the next run's name and notes
    say: Callable[[str, str], None]  # (text, level) into the message bar
    folders: object  # studio.model.remembered_folders.RememberedFolders
    runs_root: Callable[[], Path]
    dialog_parent: QWidget
