"""The main window: wires the panels to one TrainingSession.

Panels never talk to core; the window turns clicks into session calls and
session signals into panel updates. Anything slow (training, loading a
checkpoint or a generator, exporting) runs on a worker thread. Which run is
shown, and how it came to be (opened, resumed, forked, started, attached), is
studio/run_opener.py's to decide.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QRect, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core import events as ev
from core.config import Config, ConfigError
from core.runs.folder import RunFolder
from studio.config_panel import ConfigPanel
from studio.controls import Controls
from studio.data_preview import DataPreview, FolderPreview
from studio.explorer_panel import ExplorerPanel
from studio.file_actions import FileActions
from studio.gallery import Gallery
from studio.jobs import JobRunner
from studio.loss_plots import LossPlots
from studio.message_bar import MessageBar
from studio.quality_panel import QualityPanel
from studio.remembered_folders import RememberedFolders
from studio.run_library import RunLibrary
from studio.run_names import NameRow
from studio.run_opener import RunOpener
from studio.share_actions import ShareActions
from studio.status_panel import StatusPanel
from studio.sweep_panel import SweepPanel
from studio.worker import TrainingSession

DEFAULT_RUNS_ROOT = Path.home() / "GAN Studio runs"
TITLE_BAR_PX = 32  # what a window manager's frame usually adds above the window (unknown before it is shown)
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
        self.folders = RememberedFolders(self.settings)  # where each kind of dialog starts
        self.setWindowTitle("GAN Studio")
        self.resize(1360, 860)
        root = runs_root or self.settings.value("runs_root", "") or DEFAULT_RUNS_ROOT
        self.runs_root = Path(root)
        self.session = TrainingSession(self)
        self.jobs = JobRunner(self)
        self.state = "idle"  # idle, loading, running, paused, stopping
        # Which run is shown and how it came to be (opened, resumed, forked, started, attached).
        self.opener = RunOpener(self)
        self._last_metrics_step = 0
        self._closing = False

        self.config_panel = ConfigPanel(start_folder=self.folders.get("dataset"))
        self.loss_plots = LossPlots()
        self.gallery = Gallery()
        self.quality_panel = QualityPanel(jobs=self.jobs)
        self.message_bar = MessageBar()
        self.controls = Controls(self)
        self.status = StatusPanel(self.statusBar())
        self.data_preview = DataPreview(self)
        self.files = FileActions(self)
        self.share = ShareActions(self, lambda: self.last_run_dir, self.files.generator_source,
                                  lambda: self.folders.get("export"), self.jobs)

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
        self.sweep_panel = SweepPanel(self.session, self.jobs, self.config_panel, lambda: self.runs_root)
        self.sweep_dock = QDockWidget("Sweep", self, objectName="sweepDock")
        self.sweep_dock.setWidget(_scrolling(self.sweep_panel))
        self.addDockWidget(Qt.RightDockWidgetArea, self.sweep_dock)
        self.sweep_dock.hide()  # until asked for (View ▸ Sweep); the window's saved state may show it
        for shown in (self.explorer_dock, self.library_dock, self.sweep_dock):  # once laid out, room from the plots
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
        self.refresh_actions()
        self.setFocus(Qt.OtherFocusReason)  # at start no field holds the keys: Space and the shortcuts work

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
        for dock, shortcut in ((self.library_dock, "Ctrl+L"), (self.explorer_dock, "Ctrl+Shift+L"),
                               (self.sweep_dock, "Ctrl+Shift+W")):
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
        self.config_panel.validity_changed.connect(lambda *_: self.refresh_actions())
        self.config_panel.validity_changed.connect(lambda *_: self._preview_data())
        self.data_preview.ready.connect(self._on_data_preview)
        self.data_preview.failed.connect(lambda text: self.message_bar.show_message(text, "error"))
        self.data_preview.progress.connect(lambda done, total: self.status.task_progress("Decoding pictures",
                                                                                        done, total))
        self.config_panel.live_change_requested.connect(self.apply_live_change)
        self.config_panel.folder_chosen.connect(lambda f: self.folders.remember("dataset", f))
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
        s.thread_done.connect(self.refresh_actions)
        s.heartbeat.connect(self.status.show_heartbeat)
        self.share.written.connect(lambda path: self.message_bar.show_message(f"Wrote {path}", "success"))
        self.share.failed.connect(lambda text: self.message_bar.show_message(text, "error"))
        self.gallery.cell_picked.connect(self.explorer.pick_cell)
        self.files.generator_loaded.connect(self.explorer.open_file)
        self.files.generator_loaded.connect(self._on_generator_loaded)
        self.library.open_requested.connect(self.open_run)
        self.library.resume_requested.connect(self.resume_run)
        self.library.renamed.connect(self.opener.renamed)
        self.library.fork_requested.connect(self.fork_from)
        self.library.message.connect(self.message_bar.show_message)
        self.gallery.fork_requested.connect(self.library.fork_at)
        s.trial_started.connect(self.opener.sweep_trial)  # a sweep's trial is the run shown (its events: s's)
        self.sweep_panel.open_requested.connect(self.open_run)
        self.sweep_panel.fork_requested.connect(self.fork_from)
        self.sweep_panel.overlay_requested.connect(self.library.set_overlaid)
        s.started.connect(lambda e: self.library.run_started(self.last_run_dir, self.fresh_run))
        self.run_finished.connect(lambda e: self.library.refresh())
        self.opener.run_viewed.connect(self.run_viewed)
        self.run_viewed.connect(self.explorer.show_run)
        self.opener.history_loaded.connect(self.history_loaded)

    def event(self, event) -> bool:
        if event.type() == QEvent.StatusTip:  # hovered actions: into the status panel's note, not over it
            # Gone after a while too: a button disabled under the pointer (Start, once clicked) gets no
            # Leave event, so Qt never sends the empty tip that would clear it.
            self.status.show_note(event.tip(), STATUS_TIP_MS if event.tip() else 0)
            return True
        return super().event(event)

    # --- settings ---

    def fit_to_screen(self, room: QRect | None = None) -> None:
        """Shrink (and move) the window into the screen's free area, `room` (default: its screen's
        available geometry), leaving the title bar's height for the window manager's frame."""
        if room is None:
            screen = self.screen() or QGuiApplication.primaryScreen()
            if screen is None:
                return
            room = screen.availableGeometry()
        width = min(self.width(), room.width())
        height = min(self.height(), room.height() - TITLE_BAR_PX)
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)
        x = min(max(self.x(), room.left()), room.right() + 1 - width)
        y = min(max(self.y(), room.top()), room.bottom() + 1 - height - TITLE_BAR_PX)
        self.move(x, y)

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

    def _choose_runs_root(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for new runs", str(self.runs_root))
        if folder:
            self.runs_root = Path(folder)
            self.settings.setValue("runs_root", folder)
            self.library.refresh()
            self.message_bar.show_message(f"New runs will be written to {folder}", "info")

    # --- state ---

    def set_state(self, state: str) -> None:
        self.state = state
        self.config_panel.set_training(state in ("loading", "running", "paused", "stopping"))
        labels = {"idle": "Ready", "loading": "Loading data…", "running": "Training", "paused": "Paused",
                  "stopping": "Stopping…"}
        self.status.set_state(labels.get(state, state))
        self.refresh_actions()

    def refresh_actions(self) -> None:
        run = self.last_run_dir
        has_generator = bool(run and RunFolder(run).generator.is_file())
        has_checkpoint = bool(run and RunFolder(run).last_checkpoint.is_file())
        self.controls.set_state(self.state, self.config_panel.current_config() is not None, has_generator,
                                has_checkpoint, self.files.loaded_generator is not None)
        self.resume_action.setEnabled(self.state == "idle" and self.viewing is not None and has_checkpoint)
        self.rename_action.setEnabled(run is not None and run.is_dir())
        self.share.refresh(self.state != "idle")

    # --- your pictures, before training ---

    def _preview_data(self) -> None:
        config = self.config_panel.current_config()
        if config is not None and config.data.dataset == "folder" and self.state == "idle" and \
                self.opener.form_edited():
            self.data_preview.request(config.data.folder, config.data.image_size, config.data.channels)

    def _on_data_preview(self, p: FolderPreview) -> None:
        if self.state != "idle" or not self.opener.form_edited():  # a run shown: its grids stay
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

    # --- the run shown: the opener decides (these are what the actions and the tests call) ---

    def start_training(self, config: Config | None = None, run_dir: str | Path | None = None) -> Path | None:
        return self.opener.start_training(config, run_dir)

    def open_run(self, path: str | None = None) -> None:
        self.opener.open_run(path)

    def view_run(self, run_dir: str | Path, checkpoint: Path | None = None) -> None:
        self.opener.view_run(run_dir, checkpoint)

    def resume_from(self, path: str | Path) -> None:
        self.opener.resume_from(path)

    def resume_run(self, run_dir: str | Path | None = None) -> None:
        self.opener.resume_run(run_dir)

    def attach(self, run_dir: str | Path) -> None:
        self.opener.attach(run_dir)

    def fork_from(self, source: str | Path, run_dir: str | Path | None = None,
                  changes: dict | None = None) -> Path | None:
        return self.opener.fork_from(source, run_dir, changes)

    last_run_dir = property(lambda self: self.opener.run_dir,
                            lambda self, path: setattr(self.opener, "run_dir", path))
    fresh_run = property(lambda self: self.opener.fresh)  # started in this window: Discard may delete it
    viewing = property(lambda self: self.opener.viewing)  # a run opened to look at (None: none)
    viewed_config = property(lambda self: self.opener.viewed_config)
    run_title = property(lambda self: self.opener.title)

    # --- run controls ---

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
            self.set_state("stopping")

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
        self.config_panel.set_config(config)
        self.config_panel.set_training(True)
        self.quality_panel.expect(config)
        self.status.started(e.step, e.total_steps, e.device, e.dataset, e.dataset_size, config.run.batch_size)
        if self.session.attached:  # its whole history arrives from the follower
            self.message_bar.show_message(f"Attached to {self.last_run_dir.name}, which {e.device.split(': ', 1)[-1]} "
                                          "trains: its progress appears as it is written, the controls steer it, "
                                          "and closing this window leaves it running.", "info")
        else:  # resumed or forked: show what came before
            self.opener.started(e)

    def _on_state(self, e: ev.StateChanged) -> None:
        if e.state in ("loading", "running", "paused"):
            if self.state != "stopping":
                self.set_state(e.state)
        if e.state != "loading":
            self.status.set_step(e.step)

    def _on_metrics(self, m: ev.Metrics) -> None:
        if self.opener.hold(self._on_metrics, m):
            return
        self.loss_plots.add_metrics(m)
        self.status.metrics(m)
        self._last_metrics_step = m.step

    def _on_samples(self, s: ev.Samples) -> None:
        if self.opener.hold(self._on_samples, s):
            return
        self.gallery.add_grid(s.step, s.grid, s.row_labels, s.columns)

    def _on_quality(self, q: ev.Quality) -> None:
        if self.opener.hold(self._on_quality, q):
            return
        self.quality_panel.add_quality(q)
        self.status.set_quality(q)

    def _on_image_quality(self, q: ev.ImageQuality) -> None:
        if not self.opener.hold(self._on_image_quality, q):
            self.quality_panel.add_image_quality(q)

    def _on_quality_off(self, reason: str) -> None:
        self.quality_panel.set_off(reason)
        self.status.quality_off(reason)

    def _on_hyperparams(self, e: ev.HyperparamsChanged) -> None:
        if self.opener.hold(self._on_hyperparams, e):
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
        self.set_state("idle")
        self.status.idle()
        self.status.set_step(e.step)
        self.status.set_state("Stopped" if e.stopped else "Finished")
        if e.run_dir:
            self.last_run_dir = Path(e.run_dir)
        self.refresh_actions()
        self.run_finished.emit(e)

    def _on_generator_loaded(self, path: str) -> None:
        """A loaded generator of another run is not shown beside the last run's curves and readings."""
        if self.last_run_dir is None or Path(path).resolve().parent != self.last_run_dir.resolve():
            self.loss_plots.clear()
            self.quality_panel.reset()
            self.status.reset()
            self.status.set_state("Generator loaded")
            self.library.overlays.set_current(None)

    # --- names ---

    def rename_run(self, run_dir: str | Path | None = None) -> None:
        """Ask for the run's name and notes (the Run library writes them to its run.json)."""
        run_dir = Path(run_dir) if run_dir else self.last_run_dir
        if run_dir is not None:
            self.library.rename_folder(run_dir)

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
                from core.runs.folder import discard_new_run

                discard_new_run(self.last_run_dir)  # what the run wrote; a person's own files stay
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
