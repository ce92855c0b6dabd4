"""The main window: wires the panels to one TrainingSession.

Panels never talk to core; the window turns clicks into session calls and
session signals into panel updates. Anything slow (training, loading a
checkpoint or a generator, exporting) runs on a worker thread.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QFrame, QMainWindow, QMessageBox, QScrollArea, QSplitter,
                               QVBoxLayout, QWidget)

from core import events as ev
from core.config import Config, ConfigError
from studio.config_panel import ConfigPanel
from studio.controls import Controls
from studio.data_preview import DataPreview, FolderPreview
from studio.explorer_panel import ExplorerPanel
from studio.file_actions import FileActions
from studio.fork_dialog import ForkSettingsDialog, change_line
from studio.gallery import Gallery
from studio.jobs import JobRunner
from studio.loss_plots import LossPlots
from studio.message_bar import MessageBar
from studio.quality_panel import QualityPanel
from studio.share_actions import ShareActions
from studio.run_library import RunLibrary
from studio.run_names import NameRow
from studio.status_panel import StatusPanel
from studio.worker import TrainingSession

DEFAULT_RUNS_ROOT = Path.home() / "GAN Studio runs"
_SAMPLE = re.compile(r"step_(\d+)\.png")  # samples/step_NNNNNN.png
STATUS_TIP_MS = 6000  # a hovered action's status tip stays this long at most
DOCK_MIN_WIDTH = 200  # px: the most a right-hand dock insists on (narrower than its panel, it scrolls)


def _fmt(value) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return f"{value:g}" if isinstance(value, float) else str(value)


class MainWindow(QMainWindow):
    run_finished = Signal(object)  # ev.Finished, after the window has updated
    run_viewed = Signal(str)  # a run folder opened to look at, once its history is shown
    history_loaded = Signal(str)  # a resumed run's (or a fork's parent's) history, once it is shown

    def __init__(self, settings: QSettings | None = None, runs_root: str | Path | None = None):
        super().__init__()
        self.settings = settings or QSettings()
        self.setWindowTitle("GAN Studio")
        self.resize(1360, 860)
        root = runs_root or self.settings.value("runs_root", "") or DEFAULT_RUNS_ROOT
        self.runs_root = Path(root)
        self.session = TrainingSession(self)
        self.jobs = JobRunner(self)
        self.state = "idle"  # idle, loading, running, paused, stopping
        self.last_run_dir: Path | None = None  # the run shown now (or last finished)
        self.fresh_run = False  # started in this window (Discard on close may delete it)
        # The run opened to look at (nothing trains it; nothing in it is written) and its own settings,
        # which Resume trains with: the form's edits since it was opened are asked about first.
        self.viewing: Path | None = None
        self.viewed_config: Config | None = None
        self.run_title = ""  # the shown run's name (run.json) or folder name: the window title
        self._view_token = 0  # a newer open (or a start) makes an older open's history moot
        self._history_token = 0
        self._held: list | None = None  # live events that came before the run's history was shown
        self._batch = 1
        self._last_metrics_step = 0
        self._closing = False

        self.config_panel = ConfigPanel(start_folder=self._folder("dataset"))
        self.loss_plots = LossPlots()
        self.gallery = Gallery()
        self.quality_panel = QualityPanel(jobs=self.jobs)
        self.message_bar = MessageBar()
        self.controls = Controls(self)
        self.status = StatusPanel(self.statusBar())
        self.data_preview = DataPreview(self)
        self.files = FileActions(self)
        self.share = ShareActions(self, lambda: self.last_run_dir, self.files.generator_source,
                                  lambda: self._folder("export"), self.jobs)

        self.resume_action = QAction("Resume run", self, objectName="resumeRun")
        self.resume_action.setShortcut(QKeySequence("Ctrl+Shift+R"))
        tip = ("Train the run shown on from its latest checkpoint, with its own settings (edits in the form "
               "are listed and asked about first) (Ctrl+Shift+R)")
        self.resume_action.setToolTip(tip)
        self.resume_action.setStatusTip(tip)
        self.rename_action = QAction("Rename run…", self, objectName="renameRun")
        self.rename_action.setStatusTip("Give the run shown a name and a line of notes (its run.json)")
        self.addActions([self.resume_action, self.rename_action])
        toolbar = self.controls.toolbar(self)
        toolbar.insertAction(self.controls.open_generator, self.resume_action)
        self.addToolBar(toolbar)
        dock = QDockWidget("Hyperparameters", self, objectName="configDock")
        self.names = NameRow()
        form_box = QWidget(objectName="configBox")
        box = QVBoxLayout(form_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(self.names)
        box.addWidget(self.config_panel, 1)
        dock.setWidget(form_box)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(Qt.LeftDockWidgetArea, dock)
        self.explorer = ExplorerPanel(self.session, self.jobs)
        self.explorer_dock = QDockWidget("Latent explorer", self, objectName="explorerDock")
        self.explorer_dock.setWidget(_scrolling(self.explorer))
        self.addDockWidget(Qt.RightDockWidgetArea, self.explorer_dock)
        self.explorer_dock.hide()  # until asked for (View menu); the saved layout may show it
        self.library = RunLibrary(self.settings, lambda: self.runs_root, self.loss_plots, self.quality_panel,
                                  self.jobs, busy=lambda: self.session.active)
        self.library_dock = QDockWidget("Run library", self, objectName="libraryDock")
        self.library_dock.setWidget(_scrolling(self.library))
        self.addDockWidget(Qt.RightDockWidgetArea, self.library_dock)
        self.library_dock.hide()  # until asked for (View ▸ Run library); the window's saved state may show it
        for shown in (self.explorer_dock, self.library_dock):  # once laid out, room from the plots
            shown.visibilityChanged.connect(
                lambda on, d=shown: on and QTimer.singleShot(0, self, lambda: self._give_room(d)))

        self.splitter = QSplitter(Qt.Horizontal, objectName="mainSplitter")
        self.splitter.addWidget(self.loss_plots)
        self.splitter.addWidget(self.gallery)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([520, 480])
        # Sample quality spans the width under plots and gallery: the grid is square, so a row of its
        # own height beside the loss plots leaves it no empty space above or below.
        self.body_splitter = QSplitter(Qt.Vertical, objectName="bodySplitter")
        self.body_splitter.addWidget(self.splitter)
        self.body_splitter.addWidget(self.quality_panel)
        self.body_splitter.setStretchFactor(0, 3)
        self.body_splitter.setStretchFactor(1, 1)
        self.body_splitter.setChildrenCollapsible(False)
        self.body_splitter.setSizes([520, 250])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.setSpacing(6)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.body_splitter, 1)
        self.setCentralWidget(central)
        self._menus()
        self._connect()
        # As built, before the saved layout is restored: what View ▸ Reset layout goes back to.
        self.default_layout = (self.saveState(), self.splitter.saveState(), self.body_splitter.saveState())
        self._restore()
        self._refresh_actions()

    # --- assembly ---

    def _menus(self) -> None:
        c = self.controls
        file_menu = self.menuBar().addMenu("&File")
        for action in (c.open_run, self.resume_action, self.rename_action, c.open_generator, None, c.save_generator, c.save_checkpoint, c.export,
                       self.share.timelapse, self.share.onnx, None, c.quit):
            file_menu.addSeparator() if action is None else file_menu.addAction(action)
        run_menu = self.menuBar().addMenu("&Run")
        for action in (c.start, c.pause, c.step, c.stop, None, c.resample):
            run_menu.addSeparator() if action is None else run_menu.addAction(action)
        view = self.menuBar().addMenu("&View")
        for dock, shortcut in ((self.library_dock, "Ctrl+L"), (self.explorer_dock, "Ctrl+Shift+L")):
            action = dock.toggleViewAction()
            action.setShortcut(shortcut)
            view.addAction(action)
        view.addSeparator()
        reset = view.addAction("Reset layout", self.reset_layout)
        reset.setObjectName("resetLayout")
        reset.setStatusTip("Put the panels back where they were at the first start: the docks, and the "
                           "plots', gallery's and quality panel's sizes")
        self.menuBar().addMenu("&Settings").addAction("Runs folder…", self._choose_runs_root)

    def _connect(self) -> None:
        c, s = self.controls, self.session
        c.start.triggered.connect(lambda: self.start_training())
        c.pause.triggered.connect(self.toggle_pause)
        c.step.triggered.connect(self.step_once)
        c.stop.triggered.connect(self.stop)
        f = self.files
        c.save_generator.triggered.connect(lambda: f.save_generator())
        c.save_checkpoint.triggered.connect(lambda: f.save_checkpoint())
        c.open_run.triggered.connect(lambda: self.open_run())
        self.resume_action.triggered.connect(lambda: self.resume_run())
        self.rename_action.triggered.connect(lambda: self.rename_run())
        c.open_generator.triggered.connect(lambda: f.open_generator())
        c.export.triggered.connect(lambda: f.export_samples())
        c.resample.triggered.connect(lambda: f.resample())
        c.quit.triggered.connect(self.close)
        self.config_panel.validity_changed.connect(lambda *_: self._refresh_actions())
        self.config_panel.validity_changed.connect(lambda *_: self._preview_data())
        self.data_preview.ready.connect(self._on_data_preview)
        self.data_preview.failed.connect(lambda text: self.message_bar.show_message(text, "error"))
        self.data_preview.progress.connect(lambda done, total: self.status.task_progress("Decoding pictures",
                                                                                        done, total))
        self.config_panel.live_change_requested.connect(self.apply_live_change)
        self.config_panel.folder_chosen.connect(lambda f: self._remember_folder("dataset", f))
        s.started.connect(self._on_started)
        s.state_changed.connect(self._on_state)
        s.metrics.connect(self._on_metrics)
        s.samples.connect(self._on_samples)
        s.hyperparams_changed.connect(self._on_hyperparams)
        s.quality.connect(self._on_quality)
        s.quality_off.connect(self._on_quality_off)
        s.image_quality.connect(self._on_image_quality)
        s.progress.connect(self.status.task_progress)
        s.notice.connect(lambda text: self.message_bar.show_message(text, "info"))
        s.error.connect(self._on_error)
        s.saved.connect(self._on_saved)
        s.finished.connect(self._on_finished)
        s.thread_done.connect(self._refresh_actions)
        s.heartbeat.connect(self.status.show_heartbeat)
        self.share.written.connect(lambda path: self.message_bar.show_message(f"Wrote {path}", "success"))
        self.share.failed.connect(lambda text: self.message_bar.show_message(text, "error"))
        self.gallery.cell_picked.connect(self.explorer.pick_cell)
        self.files.generator_loaded.connect(self.explorer.open_file)
        self.files.generator_loaded.connect(self._on_generator_loaded)
        self.library.open_requested.connect(self.open_run)
        self.library.resume_requested.connect(self.resume_run)
        self.library.renamed.connect(self._on_renamed)
        self.library.fork_requested.connect(self.fork_from)
        self.library.message.connect(self.message_bar.show_message)
        self.gallery.fork_requested.connect(self.library.fork_at)
        s.started.connect(lambda e: self.library.run_started(self.last_run_dir, self.fresh_run))
        self.run_finished.connect(lambda e: self.library.refresh())

    def event(self, event) -> bool:
        if event.type() == QEvent.StatusTip:  # hovered actions: into the status panel's note, not over it
            # Gone after a while too: a button disabled under the pointer (Start, once clicked) gets no
            # Leave event, so Qt never sends the empty tip that would clear it.
            self.status.show_note(event.tip(), STATUS_TIP_MS if event.tip() else 0)
            return True
        return super().event(event)

    # --- settings ---

    def _restore(self) -> None:
        s = self.settings
        geometry, state = s.value("window/geometry"), s.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)
        splitter = s.value("window/splitter")
        if isinstance(splitter, QByteArray):
            self.splitter.restoreState(splitter)
        body = s.value("window/bodySplitter")
        if isinstance(body, QByteArray):
            self.body_splitter.restoreState(body)
        text = s.value("config/last", "")
        if text:
            try:
                self.config_panel.set_config(Config.from_dict(json.loads(text)))
            except (ConfigError, ValueError, TypeError):
                pass  # an old or hand-edited setting: keep the default preset

    def _give_room(self, dock: QDockWidget) -> None:
        """A dock just shown, narrower than its panel wants, gets the room from the plots (resizeDocks
        never resizes the window); below that it scrolls its panel."""
        area = dock.widget()
        want = area.widget().minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width()
        if dock.isVisible() and not dock.isFloating() and dock.width() < want:
            self.resizeDocks([dock], [want], Qt.Horizontal)

    def reset_layout(self) -> None:
        """View ▸ Reset layout: the docks and splitters as built (a lost or squeezed dock comes back)."""
        state, splitter, body = self.default_layout
        self.restoreState(state)
        self.splitter.restoreState(splitter)
        self.body_splitter.restoreState(body)

    def _save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("window/splitter", self.splitter.saveState())
        s.setValue("window/bodySplitter", self.body_splitter.saveState())
        config = self.config_panel.current_config()
        if config is not None:
            s.setValue("config/last", config.to_json())
        s.setValue("runs_root", str(self.runs_root))
        s.sync()

    def _folder(self, kind: str) -> str:
        return str(self.settings.value(f"folders/{kind}", "") or "")

    def _remember_folder(self, kind: str, path: str | Path) -> None:
        self.settings.setValue(f"folders/{kind}", str(path))

    def _choose_runs_root(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for new runs", str(self.runs_root))
        if folder:
            self.runs_root = Path(folder)
            self.settings.setValue("runs_root", folder)
            self.library.refresh()
            self.message_bar.show_message(f"New runs will be written to {folder}", "info")

    # --- state ---

    def _set_state(self, state: str) -> None:
        self.state = state
        self.config_panel.set_training(state in ("loading", "running", "paused", "stopping"))
        labels = {"idle": "Ready", "loading": "Loading data…", "running": "Training", "paused": "Paused",
                  "stopping": "Stopping…"}
        self.status.set_state(labels.get(state, state))
        self._refresh_actions()

    def _refresh_actions(self) -> None:
        run = self.last_run_dir
        has_generator = bool(run and (run / "generator.safetensors").is_file())
        has_checkpoint = bool(run and (run / "checkpoints" / "last.pt").is_file())
        self.controls.set_state(self.state, self.config_panel.current_config() is not None, has_generator,
                                has_checkpoint, self.files.loaded_generator is not None)
        self.resume_action.setEnabled(self.state == "idle" and self.viewing is not None and has_checkpoint)
        self.rename_action.setEnabled(run is not None and run.is_dir())
        self.share.refresh(self.state != "idle")

    # --- your pictures, before training ---

    def _preview_data(self) -> None:
        config = self.config_panel.current_config()
        if config is not None and config.data.dataset == "folder" and self.state == "idle" and self._form_edited():
            self.data_preview.request(config.data.folder, config.data.image_size, config.data.channels)

    def _on_data_preview(self, p: FolderPreview) -> None:
        if self.state != "idle" or not self._form_edited():  # a run shown: its grids stay
            return
        skipped = f", {p.skipped:,} skipped" if p.skipped else ""
        self.gallery.show_single(p.grid, f"Your pictures · {p.count:,} found{skipped} · {p.size}×{p.size} px, "
                                 "as the generator will learn them")
        names = f" ({', '.join(p.skipped_files[:5])}{', …' if p.skipped > 5 else ''})" if p.skipped else ""
        self.message_bar.show_message(
            f"Found {p.count:,} pictures in {p.folder}{skipped}{names}. The grid shows them centre-cropped and "
            f"resized to {p.size}×{p.size}, as training will see them.", "warning" if p.skipped else "info")
        self.status.set_state("Ready")
        self.status.progress.setFormat(f"{p.count:,} pictures")

    # --- training ---

    def start_training(self, config: Config | None = None, run_dir: str | Path | None = None) -> Path | None:
        """Start a new run (the form's config unless given); returns its run folder."""
        if self.session.active:
            return None
        if config is None:
            try:
                config = self.config_panel.config()
            except ConfigError as e:
                self.message_bar.show_message(f"Cannot start: {e}", "error")
                return None
        else:
            self.config_panel.set_config(config)
        from core.run_folder import RunFolderError, check_new_run_folder, new_run_path

        names = self._names("start")
        if names is None:
            return None
        path = Path(run_dir) if run_dir else new_run_path(self.runs_root)  # a new run never reuses a folder
        try:
            check_new_run_folder(path)
        except RunFolderError as e:
            self.message_bar.show_message(f"Cannot start: {e}", "error")
            return None
        self._begin(config, path, None, fresh=True, names=names)
        return path

    def _names(self, what: str) -> dict | None:
        """The name row's name and notes for a new run ({} when empty); None (and a message) when refused."""
        try:
            return self.names.values()
        except ValueError as e:
            self.message_bar.show_message(f"Cannot {what}: {e}", "error")
            return None

    def resume_from(self, path: str | Path) -> None:
        """Resume a run folder or a checkpoint file; the checkpoint loads on the worker thread."""
        if self.session.active:
            return
        path = Path(path)
        if path.is_dir() or (path.parent.name == "checkpoints" and path.name == "last.pt"):
            self.resume_run(path if path.is_dir() else path.parent.parent)
            return
        if path.parent.name == "checkpoints":
            # An earlier moment of a run: continuing it in place would discard the run's later steps.
            self.fork_from(path)
            return
        from core.run_folder import new_run_path
        run_dir = new_run_path(self.runs_root, f"{path.stem}-resumed-{time.strftime('%H%M%S')}")
        self.viewing = None
        self._begin(None, run_dir, str(path), fresh=False)  # the checkpoint's own settings

    def resume_run(self, run_dir: str | Path | None = None) -> None:
        """Train a run on from its latest checkpoint with its own settings (the run shown, by default).
        Where the form was edited since the run was opened, the changes a resume may make are listed
        and asked about; the others are named with the reason and left as the run trained."""
        if self.session.active:
            return
        from core.fork import resume_changes, run_settings
        from core.heartbeat import running_elsewhere

        run_dir = Path(run_dir) if run_dir else self.viewing
        if run_dir is None:
            self.message_bar.show_message("Open a run first (File ▸ Open run, or the Run library), then "
                                          "Resume it.", "warning")
            return
        if running_elsewhere(run_dir):
            self.attach(run_dir)  # another process trains it: follow it, never train it twice
            return
        checkpoint = run_dir / "checkpoints" / "last.pt"
        if not checkpoint.is_file():
            self.message_bar.show_message(f"Cannot resume {run_dir.name}: it has no checkpoints/last.pt. Fork it "
                                          "from a kept checkpoint instead (Run library ▸ Fork…).", "error")
            return
        try:
            own = run_settings(run_dir)
        except ConfigError as e:
            self.message_bar.show_message(f"Cannot resume {run_dir.name}: {e}", "error")
            return
        wanted = own
        if self.viewing is not None and self.viewing.resolve() == run_dir.resolve():  # the form shows this run
            wanted = self.config_panel.current_config()
            if wanted is None:
                self.message_bar.show_message(f"Cannot resume: {self.config_panel.error()}", "error")
                return
        allowed, refused = resume_changes(own, wanted)
        if (allowed or refused) and not self._confirm_resume(run_dir, own, wanted, allowed, refused):
            return
        self.viewing = None
        from core.run_notes import display_name

        self._begin(None, run_dir, str(checkpoint), fresh=False, changes=allowed, title=display_name(run_dir))

    def _confirm_resume(self, run_dir: Path, own: Config, wanted: Config, allowed: dict, refused: dict) -> bool:
        from core.fork import differences

        values = differences(own, wanted)
        lines = [f"Resume {run_dir.name} with these changes?", ""] if allowed else \
            [f"Resume {run_dir.name} with the settings it trained with?"]
        lines += [f"    {change_line(key, *values[key])}" for key in allowed]
        if refused:
            lines += ["", "Left as the run trained (a resume cannot change them):"]
            lines += [f"    {change_line(key, *values[key])}: {why}" for key, why in refused.items()]
        answer = QMessageBox.question(self, "Resume with changes?" if allowed else "Resume the run?",
                                      "\n".join(lines), QMessageBox.Ok | QMessageBox.Cancel, QMessageBox.Ok)
        return answer != QMessageBox.Cancel

    def attach(self, run_dir: str | Path) -> None:
        """Follow a run another process trains (headless, torchrun, another machine's mounted folder):
        its curves, grids and readings appear as they are written; the controls steer it through its
        control channel; closing the window leaves it running."""
        if self.session.active:
            return
        run_dir = Path(run_dir)
        self.message_bar.dismiss()
        self.loss_plots.clear()
        self.gallery.reset(run_dir, f"Samples · {run_dir.name} (attached)")
        self.gallery.load_history(run_dir)
        self.quality_panel.reset()
        self.status.reset(attached=True)  # the last run's figures go; the ETA waits for its heartbeats
        self.status.set_quality(None)
        self.library.overlays.set_current(run_dir)  # never overlaid on itself
        self.files.loaded_generator = None
        self.last_run_dir = run_dir
        self.fresh_run = False
        self.viewing = None
        self._view_token += 1
        from core.run_notes import display_name
        self._set_title(display_name(run_dir))
        self._set_state("loading")
        self.session.attach(run_dir)

    def fork_from(self, source: str | Path, run_dir: str | Path | None = None,
                  changes: dict | None = None) -> Path | None:
        """A new run from a run folder's latest checkpoint or a kept one (checkpoints/step_N.pt). It
        starts with the parent's settings; the fork dialog lists where the form differs, and the fork
        takes only the differences the person ticks (`changes`, 'section.field' -> value, instead of
        asking). The parent is only read."""
        if self.session.active:
            return None
        from core.fork import checkpoint_step, parent_of, run_settings
        from core.run_folder import RunFolderError, check_new_run_folder, new_run_path
        from core.run_notes import display_name

        checkpoint, parent = parent_of(source)
        if not checkpoint.is_file():
            self.message_bar.show_message(f"Cannot fork: {checkpoint} does not exist", "error")
            return None
        step = checkpoint_step(checkpoint)
        if changes is None:
            try:
                parent_config = run_settings(parent, step)
            except ConfigError as e:
                self.message_bar.show_message(f"Cannot fork: {e}", "error")
                return None
            dialog = ForkSettingsDialog(display_name(parent), step, parent_config,
                                        self.config_panel.current_config(), self)
            accepted = dialog.exec() == ForkSettingsDialog.Accepted
            changes = dialog.changes()
            dialog.deleteLater()
            if not accepted:
                return None
        names = self._names("fork")
        if names is None:
            return None
        label = str(step) if step is not None else (checkpoint.stem.removeprefix("step_").lstrip("0") or "0")
        path = Path(run_dir) if run_dir else new_run_path(self.runs_root, f"{parent.name}-fork-{label}")
        try:
            check_new_run_folder(path)
        except RunFolderError as e:
            self.message_bar.show_message(f"Cannot fork: {e}", "error")
            return None
        self._begin(None, path, str(checkpoint), fresh=True, fork=True, changes=changes, names=names)
        return path

    def _begin(self, config: Config | None, run_dir: Path, checkpoint: str | None, fresh: bool,
               fork: bool = False, changes: dict | None = None, names: dict | None = None,
               title: str = "") -> None:
        self.viewing = None
        self._view_token += 1  # an open still reading its history: moot now
        self._held = None
        self._set_title(title or (names or {}).get("name") or run_dir.name)
        if names:
            self.names.clear()  # the next run gets its own name
        self.message_bar.dismiss()
        self.loss_plots.clear()
        self.gallery.reset(run_dir, f"Samples · {self.run_title}")
        self.quality_panel.reset()
        self.status.reset()  # the last run's step, epoch, ETA and device go with it
        self.status.set_quality(None)
        self.library.overlays.set_current(run_dir)  # never overlaid on itself
        self.files.loaded_generator = None
        self.last_run_dir = run_dir
        self.fresh_run = fresh
        self._batch = config.run.batch_size if config else 1
        self._set_state("loading")
        self.session.start(config, run_dir, checkpoint, fork, changes, names)

    def toggle_pause(self) -> None:
        if self.state == "paused":
            self.resume()
        elif self.state == "running":
            self.pause()

    def pause(self) -> None:
        self.session.pause()
        self.status.set_state("Pausing…")

    def resume(self) -> None:
        self.session.resume()

    def step_once(self) -> None:
        self.session.step_once()

    def stop(self) -> None:
        if self.session.active:
            self.session.stop()
            self._set_state("stopping")

    def apply_live_change(self, changes: dict) -> bool:
        """Queue hyperparameter changes for the next step boundary; refused with core's message."""
        current = self.session.config
        if current is not None:
            changes = {k: v for k, v in changes.items() if _normal(current, k) != _normal_value(v)}
            if not changes:
                return True
        try:
            self.session.change(**changes)
        except (ConfigError, ValueError, RuntimeError) as e:
            self.config_panel.show_error(str(e))
            self.message_bar.show_message(f"Change refused: {e}", "warning")
            return False
        self.status.show_note("Change queued for the next step boundary", 3000)
        return True

    # --- trainer signals ---

    def _on_started(self, e: ev.Started) -> None:
        config = Config.from_dict(e.config)
        self._batch = config.run.batch_size
        self.config_panel.set_config(config)
        self.config_panel.set_training(True)
        self.quality_panel.expect(config)
        self.status.started(e.step, e.total_steps, e.device, e.dataset, e.dataset_size, config.run.batch_size)
        if self.session.attached:  # its whole history arrives from the follower
            self.message_bar.show_message(f"Attached to {self.last_run_dir.name}, which {e.device.split(': ', 1)[-1]} "
                                          "trains: its progress appears as it is written, the controls steer it, "
                                          "and closing this window leaves it running.", "info")
        elif e.step > 0 and self.last_run_dir is not None:  # resumed or forked: show what came before
            from core.run_folder import read_lineage

            parent = read_lineage(self.last_run_dir).get("parent")
            if parent and self.fresh_run:
                self._load_history(Path(parent), e.step, samples=False)
                self.message_bar.show_message(f"Forked {Path(parent).name} at step {e.step:,} into "
                                              f"{self.last_run_dir.name}; the parent is unchanged.", "info")
            else:
                self._load_history(self.last_run_dir, e.step)
                self.message_bar.show_message(f"Resumed {self.last_run_dir.name} at step {e.step:,} of "
                                              f"{e.total_steps:,}.", "info")

    def _load_history(self, run_dir: Path, up_to: int, samples: bool = True) -> None:
        """The run's readings and grids up to `up_to`, read on a job thread; the live events that
        arrive meanwhile are held and shown after them, in order."""
        self._history_token += 1
        token, self._held = self._history_token, []
        # Callbacks are bound methods: a job's results reach a QObject's method on its (the GUI) thread,
        # where a lambda would run on the job's thread.
        self.jobs.submit(lambda: (token, _or_none(read_history, run_dir, up_to, samples)), self._history_read,
                         self._history_failed)

    def _history_failed(self, text: str) -> None:
        self._history_read((self._history_token, None))

    def _history_read(self, result: tuple) -> None:
        token, history = result
        if token != self._history_token or self._held is None:
            return  # another run started since
        if history is not None:
            self._show_history(history)
        held, self._held = self._held, None
        for handler, event in held:
            handler(event)
        self.history_loaded.emit(str(history.run_dir) if history is not None else "")

    def _show_history(self, h: "RunHistory") -> None:
        for m in h.metrics:
            self.loss_plots.add_metrics(m)
        if h.samples is not None:
            self.gallery.set_history(h.run_dir, h.samples)
        for q in h.quality:
            self.quality_panel.add_quality(q)
        for q in h.image_quality:
            self.quality_panel.add_image_quality(q)
        if h.quality or h.image_quality:
            self.status.set_quality(self.quality_panel.latest)

    def _hold(self, handler, event) -> bool:
        """True when `event` waits for the history being read (then handler(event) comes after it)."""
        if self._held is None:
            return False
        self._held.append((handler, event))
        return True

    def _on_state(self, e: ev.StateChanged) -> None:
        if e.state in ("loading", "running", "paused"):
            if self.state != "stopping":
                self._set_state(e.state)
        if e.state != "loading":
            self.status.set_step(e.step)

    def _on_metrics(self, m: ev.Metrics) -> None:
        if self._hold(self._on_metrics, m):
            return
        self.loss_plots.add_metrics(m)
        self.status.metrics(m)
        self._last_metrics_step = m.step

    def _on_samples(self, s: ev.Samples) -> None:
        if self._hold(self._on_samples, s):
            return
        self.gallery.add_grid(s.step, s.grid, s.row_labels, s.columns)

    def _on_quality(self, q: ev.Quality) -> None:
        if self._hold(self._on_quality, q):
            return
        self.quality_panel.add_quality(q)
        self.status.set_quality(q)

    def _on_image_quality(self, q: ev.ImageQuality) -> None:
        if not self._hold(self._on_image_quality, q):
            self.quality_panel.add_image_quality(q)

    def _on_quality_off(self, reason: str) -> None:
        self.quality_panel.set_off(reason)
        self.status.quality_off(reason)

    def _on_hyperparams(self, e: ev.HyperparamsChanged) -> None:
        if self._hold(self._on_hyperparams, e):
            return
        text = ", ".join(f"{k.split('.', 1)[1]}→{_fmt(v)}" for k, v in e.changes.items())
        self.loss_plots.add_marker(e.step, text)
        for key, value in e.changes.items():  # the form shows what the trainer now uses
            if key in self.config_panel.editors:
                self.config_panel.editors[key].set_value(value)
        self.status.show_note(f"Applied at step {e.step:,}: {text}", 5000)

    def _on_error(self, step: int, message: str) -> None:
        where = f" (step {step:,})" if step else ""
        self.message_bar.show_message(f"{message}{where}", "error")

    def _on_saved(self, step: int, kind: str, path: str) -> None:
        if self.files.on_saved(step, kind, path):  # the snapshot an export waited for
            return
        what = "Generator" if kind == "generator" else "Checkpoint"
        self.message_bar.show_message(f"{what} saved at step {step:,}: {path}", "success")

    def _on_finished(self, e: ev.Finished) -> None:
        self._set_state("idle")
        self.status.idle()
        self.status.set_step(e.step)
        self.status.set_state("Stopped" if e.stopped else "Finished")
        if e.run_dir:
            self.last_run_dir = Path(e.run_dir)
        self._refresh_actions()
        self.run_finished.emit(e)

    def _on_generator_loaded(self, path: str) -> None:
        """A loaded generator of another run is not shown beside the last run's curves and readings."""
        if self.last_run_dir is None or Path(path).resolve().parent != self.last_run_dir.resolve():
            self.loss_plots.clear()
            self.quality_panel.reset()
            self.status.reset()
            self.status.set_state("Generator loaded")
            self.library.overlays.set_current(None)

    # --- open ---

    def open_run(self, path: str | None = None) -> None:
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Open a run (pick its config.json) or a checkpoint",
                                                  self._folder("open") or str(self.runs_root),
                                                  "Checkpoints and runs (*.pt config.json);;All files (*)")
        if not path:
            return
        p = Path(path)
        if p.name == "config.json":
            p = p.parent
        if not p.exists():
            self.message_bar.show_message(f"Cannot open {p}: it does not exist", "error")
            return
        self._remember_folder("open", p.parent if p.is_file() else p)
        from core.heartbeat import running_elsewhere

        if p.is_dir() and running_elsewhere(p):
            self.attach(p)  # another process trains it: follow and steer it, never train it twice
            return
        if p.is_dir():
            self.view_run(p)
            return
        if p.parent.name == "checkpoints":  # a checkpoint of a run: show the run, it says how to go on
            self.view_run(p.parent.parent, p)
            return
        # A loose checkpoint: training it on writes a new run folder, so ask first.
        answer = QMessageBox.question(
            self, "Resume the checkpoint?",
            f"{p} is not inside a run folder. Train it on with its own settings into a new run folder in "
            f"{self.runs_root}? The file itself is only read.", QMessageBox.Ok | QMessageBox.Cancel, QMessageBox.Ok)
        if answer != QMessageBox.Cancel:
            self.resume_from(p)

    def view_run(self, run_dir: str | Path, checkpoint: Path | None = None) -> None:
        """Show a run: its settings in the form, its curves, grids and readings (read on a job thread).
        Nothing in the folder is written; Resume trains it on, Fork starts a new run from it."""
        if self.session.active:
            self.message_bar.show_message("Stop the run in this window first, then open another.", "warning")
            return
        from core.run_notes import display_name

        run_dir = Path(run_dir)
        self._view_token += 1
        token = self._view_token
        self._held = None
        self.message_bar.dismiss()
        self.loss_plots.clear()
        self.gallery.reset(run_dir, f"Samples · {display_name(run_dir)}")
        self.quality_panel.reset()
        self.status.reset()  # the last run's step, epoch, ETA and device go with it
        self.status.set_quality(None)
        self.library.overlays.set_current(run_dir)  # never overlaid on itself
        self.files.loaded_generator = None
        self.last_run_dir = run_dir
        self.fresh_run = False
        self.viewing, self.viewed_config = run_dir, None
        self.status.set_state("Opening…")
        self._refresh_actions()
        self.jobs.submit(lambda: (token, read_view(run_dir), checkpoint), self._show_view, self._view_failed)

    def _show_view(self, result: tuple) -> None:
        token, view, checkpoint = result
        if token != self._view_token or self.session.active:
            return  # opened another, or started something, meanwhile
        self.viewed_config = view.config
        if view.config is not None:
            self.config_panel.set_config(view.config)
            self.quality_panel.expect(view.config)
            self._batch = view.config.run.batch_size
        self._show_history(view.history)
        if view.config is not None:
            self.status.set_total(view.config.run.steps)
        self.status.set_step(view.step)
        self.status.set_state("Viewing")
        self._set_title(view.name or view.history.run_dir.name, "viewing")
        name = view.name or view.history.run_dir.name
        of = f" of {view.config.run.steps:,}" if view.config is not None else ""
        if view.problem:
            self.message_bar.show_message(f"Showing {name}, which cannot be resumed: {view.problem}", "warning")
        else:
            go_on = "Resume (Ctrl+Shift+R) trains it on" if view.resumable else "it has no latest checkpoint"
            picked = ""
            if checkpoint is not None and checkpoint.name != "last.pt":
                picked = f" To train from {checkpoint.name}, use Fork from here… on that step's grid."
            self.message_bar.show_message(f"Showing {name} at step {view.step:,}{of}: nothing in it changes. "
                                          f"{go_on}; Fork… in the Run library starts a new run from it.{picked}",
                                          "info")
        self._refresh_actions()
        self.run_viewed.emit(str(view.history.run_dir))

    def _view_failed(self, text: str) -> None:
        if self.viewing is not None and not self.session.active:
            self.status.set_state("Ready")
            self.message_bar.show_message(f"Cannot open {self.viewing}: {text}", "error")

    def _form_edited(self) -> bool:
        """The form no longer shows the run being viewed (or none is): a preview of its images may show."""
        return self.viewing is None or self.viewed_config is None or \
            self.config_panel.current_config() != self.viewed_config

    def _set_title(self, name: str, note: str = "") -> None:
        self.run_title = name
        self.setWindowTitle(f"GAN Studio — {name}" + (f" ({note})" if note else "") if name else "GAN Studio")

    # --- names ---

    def rename_run(self, run_dir: str | Path | None = None) -> None:
        """Ask for the run's name and notes (the Run library writes them to its run.json)."""
        run_dir = Path(run_dir) if run_dir else self.last_run_dir
        if run_dir is not None:
            self.library.rename_folder(run_dir)

    def _on_renamed(self, run_dir: str, name: str) -> None:
        if self.last_run_dir is not None and Path(run_dir).resolve() == self.last_run_dir.resolve():
            self._set_title(name or self.last_run_dir.name, "viewing" if self.viewing is not None else "")

    # --- closing ---

    def closeEvent(self, event) -> None:
        if self.session.active and not self._closing and not self.session.attached:
            answer = QMessageBox.question(
                self, "Training is running",
                "Stop training and close?\n\nSave keeps the run folder with a checkpoint and the generator "
                "at the current step, so you can resume it later. Discard deletes this run's folder.",
                QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
            if answer == QMessageBox.Cancel:
                event.ignore()
                return
            self._closing = True
            self._stop_for_exit()
            if answer == QMessageBox.Discard and self.fresh_run and self.last_run_dir is not None:
                shutil.rmtree(self.last_run_dir, ignore_errors=True)
        else:
            self._stop_for_exit()
        self.explorer.shutdown()
        self.quality_panel.shutdown()  # a weights download stops at its next chunk
        self.jobs.wait_all()
        self.data_preview.shutdown()
        self.config_panel.shutdown()
        self.loss_plots.timer.stop()
        self._save_settings()
        super().closeEvent(event)

    def _stop_for_exit(self) -> None:
        """Stop the trainer. It stops between steps within moments; a dataset download
        cannot be interrupted, so then the window goes away and the app waits for it,
        rather than exit with the thread still running (which would crash at exit)."""
        if not self.session.shutdown():
            self._save_settings()
            self.hide()
            self.session.shutdown(timeout_ms=None)


# --- work done on background threads (plain functions, plain results) ---


@dataclass(frozen=True)
class RunHistory:
    """What a run folder holds of its past, as events: for a run opened, resumed or forked."""

    run_dir: Path
    metrics: list = field(default_factory=list)  # ev.Metrics
    samples: list[int] | None = None  # steps of samples/step_NNNNNN.png (None: not asked for)
    quality: list = field(default_factory=list)  # ev.Quality
    image_quality: list = field(default_factory=list)  # ev.ImageQuality


@dataclass(frozen=True)
class RunView:
    """A run opened to look at: its settings (None, and `problem`, when config.json cannot be read)."""

    history: RunHistory
    config: Config | None
    problem: str
    name: str
    step: int
    resumable: bool


def _or_none(read, *args):
    """read(*args), or None when the folder cannot be read (the run then shows without its past)."""
    try:
        return read(*args)
    except (OSError, ValueError):
        return None


def read_history(run_dir: Path, up_to: int | None = None, samples: bool = True) -> RunHistory:
    """Only reads (metrics.csv, quality.csv, fid.csv, a listing of samples/)."""
    from core.run_folder import image_quality_from_row, metrics_from_row, quality_from_row, read_rows

    steps = None
    if samples:
        steps = []
        try:
            names = os.listdir(run_dir / "samples")
        except OSError:
            names = []
        for name in names:
            m = _SAMPLE.fullmatch(name)
            if m and (up_to is None or int(m.group(1)) <= up_to):
                steps.append(int(m.group(1)))
        steps.sort()
    return RunHistory(run_dir, read_rows(run_dir / "metrics.csv", metrics_from_row, up_to), steps,
                      read_rows(run_dir / "quality.csv", quality_from_row, up_to),
                      read_rows(run_dir / "fid.csv", image_quality_from_row, up_to))


def read_view(run_dir: Path) -> RunView:
    """A run to show, read without writing a byte: settings, name, history, latest step."""
    from core.fork import run_settings
    from core.run_folder import last_checkpoint_step
    from core.run_notes import read_names

    history = read_history(run_dir)
    try:
        config, problem = run_settings(run_dir), ""
    except ConfigError as e:
        config, problem = None, str(e)
    steps = [m.step for m in history.metrics] + (history.samples or [])
    step = last_checkpoint_step(run_dir)
    return RunView(history, config, problem, read_names(run_dir)[0],
                   step if step is not None else max(steps, default=0),
                   (run_dir / "checkpoints" / "last.pt").is_file())



def _scrolling(panel: QWidget) -> QScrollArea:
    """A dock's panel in a scroll area: a dock narrower or shorter than the panel scrolls it, and
    never widens the window (nothing widens the window)."""
    area = QScrollArea(widgetResizable=True, frameShape=QFrame.NoFrame)
    area.setWidget(panel)
    # Room for the panel where that is little (the dock takes it from the plots), and no more, so that
    # the form, the plots and this dock fit 1366 px together.
    area.setMinimumWidth(min(panel.minimumSizeHint().width(), DOCK_MIN_WIDTH))
    return area


def _normal(config: Config, key: str):
    section, name = key.split(".", 1)
    return _normal_value(getattr(getattr(config, section), name))


def _normal_value(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value
