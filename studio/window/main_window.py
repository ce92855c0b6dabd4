"""The main window: builds the model of the run shown, the session and the panels, and wires them.

Panels follow the model (studio/model/shown_run.py): which run is shown, its state, its name and its
events, history and live alike. The opener (run_opener.py) decides how a run comes to be shown; the
file and share actions save and export; the window keeps no state of its own about the run. Anything
slow (training, loading a checkpoint or a generator, exporting) runs on a worker thread.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QRect, QSettings, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QSplitter, QVBoxLayout, QWidget

from core.config import Config
from core.runs.folder import default_runs_root
from studio.bridge.data_preview import DataPreview
from studio.bridge.jobs import JobRunner
from studio.bridge.worker import TrainingSession
from studio.model.remembered_folders import RememberedFolders
from studio.model.shown_run import RunState, ShownRun, follow_session
from studio.panels.config_panel import ConfigPanel
from studio.panels.explorer_panel import ExplorerPanel
from studio.panels.gallery import Gallery
from studio.panels.loss_plots import LossPlots
from studio.panels.message_bar import MessageBar
from studio.panels.quality_panel import QualityPanel
from studio.panels.run_library import RunLibrary
from studio.panels.run_names import NameRow
from studio.panels.status_panel import StatusPanel
from studio.panels.sweep_panel import SweepPanel
from studio.window import window_actions
from studio.window.controls import Controls
from studio.window.docks import Budgeted, Docks, stacked
from studio.window.file_actions import FileActions
from studio.window.parts import StudioParts
from studio.window.run_opener import RunOpener
from studio.window.share_actions import ShareActions
from studio.window.window_settings import WindowSettings, fit_to_screen

STATUS_TIP_MS = 6000  # a hovered action's status tip stays this long at most
CENTRAL_BUDGET_PX = 560  # the most the plots, gallery and quality panel ask of the window's width


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
        self.runs_root = Path(runs_root or self.settings.value("runs_root", "") or default_runs_root())
        self.model = ShownRun(self)
        self.session = TrainingSession(self)
        follow_session(self.model, self.session)
        self.jobs = JobRunner(self)
        self._closing = False
        self._form_started: Config | None = None  # the form as the person last started from (kept on close)

        self.config_panel = ConfigPanel(start_folder=self.folders.get("dataset"))
        self.names = NameRow()
        self.message_bar = MessageBar()
        parts = StudioParts(self.model, self.session, self.jobs, self.config_panel, self.names,
                            self.message_bar.show_message, self.folders, lambda: self.runs_root, self)
        self.opener = RunOpener(parts, self)
        self.files = FileActions(parts, self)
        self.loss_plots = LossPlots()
        self.gallery = Gallery()
        self.quality_panel = QualityPanel(jobs=self.jobs)
        self.controls = Controls(self)
        self.status = StatusPanel(self.statusBar())
        self.data_preview = DataPreview(self)
        self.share = ShareActions(self, lambda: self.model.run_dir, self.files.generator_source,
                                  lambda: self.folders.get("export"), self.jobs)
        self.explorer = ExplorerPanel(self.session, self.jobs)
        self.library = RunLibrary(self.settings, lambda: self.runs_root, self.loss_plots, self.quality_panel,
                                  self.jobs, busy=lambda: self.session.active)
        self.sweep_panel = SweepPanel(self.session, self.jobs, self.config_panel, lambda: self.runs_root)

        self.docks = Docks(self)
        self.docks.add_left("Hyperparameters", "configDock", stacked(self.names, self.config_panel))
        self.explorer_dock = self.docks.add_right("Latent explorer", "explorerDock", self.explorer, "Ctrl+Shift+L")
        self.library_dock = self.docks.add_right("Run library", "libraryDock", self.library, "Ctrl+L")
        self.sweep_dock = self.docks.add_right("Sweep", "sweepDock", self.sweep_panel, "Ctrl+Shift+W")
        self.setCentralWidget(self._central())
        window_actions.build(self)
        for panel in (self.loss_plots, self.gallery, self.quality_panel, self.status, self.library, self.explorer,
                      self.sweep_panel, self.files):
            panel.follow_run(self.model)
        window_actions.connect(self)
        self.layout_settings = WindowSettings(self.settings, self, {"splitter": self.splitter,
                                                                    "bodySplitter": self.body_splitter})
        last = self.layout_settings.restore()
        if last is not None:
            self.config_panel.set_config(last)
        self.refresh_actions()
        self.setFocus(Qt.OtherFocusReason)  # at start no field holds the keys: Space and the shortcuts work

    def _central(self) -> QWidget:
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
        central = Budgeted(CENTRAL_BUDGET_PX)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.setSpacing(6)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.body_splitter, 1)
        return central

    def event(self, event) -> bool:
        if event.type() == QEvent.StatusTip:  # hovered actions: into the status panel's note, not over it
            # Gone after a while too: a button disabled under the pointer (Start, once clicked) gets no
            # Leave event, so Qt never sends the empty tip that would clear it.
            self.status.show_note(event.tip(), STATUS_TIP_MS if event.tip() else 0)
            return True
        return super().event(event)

    # --- layout ---

    def fit_to_screen(self, room: QRect | None = None) -> None:
        """Shrink (and move) the window into the screen's free area (default: its screen's)."""
        fit_to_screen(self, room)

    def reset_layout(self) -> None:
        """View ▸ Reset layout: the docks and splitters as built (a lost or squeezed dock comes back)."""
        self.layout_settings.reset()

    def choose_runs_root(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for new runs", str(self.runs_root))
        if folder:
            self.runs_root = Path(folder)
            self.settings.setValue("runs_root", folder)
            self.library.refresh()
            self.message_bar.show_message(f"New runs will be written to {folder}", "info")

    # --- what the actions and the tests call ---

    state = property(lambda self: self.model.state.value)
    last_run_dir = property(lambda self: self.model.run_dir)
    fresh_run = property(lambda self: self.model.fresh)  # started in this window: Discard may delete it
    viewing = property(lambda self: self.model.viewing)  # a run opened to look at (None: none)
    viewed_config = property(lambda self: self.opener.viewed_config)
    run_title = property(lambda self: self.model.name)

    def start_training(self, config: Config | None = None, run_dir: str | Path | None = None) -> Path | None:
        self._form_started = config or self.config_panel.current_config()
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

    def rename_run(self, run_dir: str | Path | None = None) -> None:
        """Ask for the run's name and notes (the Run library writes them to its run.json)."""
        run_dir = Path(run_dir) if run_dir else self.model.run_dir
        if run_dir is not None:
            self.library.rename_folder(run_dir)

    def set_state(self, state: str) -> None:
        self.model.set_state(state)

    def refresh_actions(self) -> None:
        window_actions.refresh(self)

    def toggle_pause(self) -> None:
        if self.model.state == RunState.PAUSED:
            self.resume()
        elif self.model.state == RunState.RUNNING:
            self.pause()

    def pause(self) -> None:
        self.session.pause()
        self.status.set_state("Pausing…")

    def resume(self) -> None:
        self.session.resume()

    def step_once(self) -> None:
        self.session.step_once()

    def on_generator_loaded(self, path: str) -> None:
        window_actions.on_generator_loaded(self, path)

    def apply_live_change(self, changes: dict) -> bool:
        return window_actions.apply_live_change(self, changes)

    def stop(self) -> None:
        if self.session.active:
            self.session.stop()
            self.model.set_state(RunState.STOPPING)

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
            if answer == QMessageBox.Discard and self.model.fresh and self.model.run_dir is not None:
                from core.runs.folder import discard_new_run

                discard_new_run(self.model.run_dir)  # what the run wrote; a person's own files stay
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

    def _save_settings(self) -> None:
        # The form as the person set it: while it shows a run's settings as the trainer resolved them
        # (clusters = auto became a number), the form they started from.
        form = self.config_panel.current_config()
        if self._form_started is not None and (form is None or form == self.model.config):
            form = self._form_started
        self.layout_settings.save(form.to_dict() if form is not None else None, str(self.runs_root))

    def _stop_for_exit(self) -> None:
        """Stop the trainer. It stops between steps within moments; a dataset download
        cannot be interrupted, so then the window goes away and the app waits for it,
        rather than exit with the thread still running (which would crash at exit)."""
        if not self.session.shutdown():
            self._save_settings()
            self.hide()
            self.session.shutdown(timeout_ms=None)
