"""The main window: wires the panels to one TrainingSession.

Panels never talk to core; the window turns clicks into session calls and
session signals into panel updates. Anything slow (training, loading a
checkpoint or a generator, exporting) runs on a worker thread.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QSettings, Qt, Signal
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QMainWindow, QMessageBox, QSplitter, QVBoxLayout,
                               QWidget)

from core import events as ev
from core.config import Config, ConfigError
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
from studio.share_actions import ShareActions
from studio.run_library import RunLibrary
from studio.status_panel import StatusPanel
from studio.worker import TrainingSession

DEFAULT_RUNS_ROOT = Path.home() / "GAN Studio runs"


def _fmt(value) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return f"{value:g}" if isinstance(value, float) else str(value)


class MainWindow(QMainWindow):
    run_finished = Signal(object)  # ev.Finished, after the window has updated

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
        self._batch = 1
        self._last_metrics_step = 0
        self._closing = False

        self.config_panel = ConfigPanel(start_folder=self._folder("dataset"))
        self.loss_plots = LossPlots()
        self.gallery = Gallery()
        self.quality_panel = QualityPanel()
        self.message_bar = MessageBar()
        self.controls = Controls(self)
        self.status = StatusPanel(self.statusBar())
        self.data_preview = DataPreview(self)
        self.files = FileActions(self)
        self.share = ShareActions(self, lambda: self.last_run_dir, self.files.generator_source,
                                  lambda: self._folder("export"), self.jobs)

        self.addToolBar(self.controls.toolbar(self))
        dock = QDockWidget("Hyperparameters", self, objectName="configDock")
        dock.setWidget(self.config_panel)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(Qt.LeftDockWidgetArea, dock)
        self.explorer = ExplorerPanel(self.session, self.jobs)
        self.explorer_dock = QDockWidget("Latent explorer", self, objectName="explorerDock")
        self.explorer_dock.setWidget(self.explorer)
        self.addDockWidget(Qt.RightDockWidgetArea, self.explorer_dock)
        self.explorer_dock.hide()  # until asked for (View menu); the saved layout may show it
        self.library = RunLibrary(self.settings, lambda: self.runs_root, self.loss_plots, self.quality_panel,
                                  self.jobs, busy=lambda: self.session.active)
        self.library_dock = QDockWidget("Run library", self, objectName="libraryDock")
        self.library_dock.setWidget(self.library)
        self.addDockWidget(Qt.RightDockWidgetArea, self.library_dock)
        self.library_dock.hide()  # until asked for (View ▸ Run library); the window's saved state may show it

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
        self._restore()
        self._refresh_actions()

    # --- assembly ---

    def _menus(self) -> None:
        c = self.controls
        file_menu = self.menuBar().addMenu("&File")
        for action in (c.open_run, c.open_generator, None, c.save_generator, c.save_checkpoint, c.export,
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
        s.image_quality.connect(self.quality_panel.add_image_quality)
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
        self.library.open_requested.connect(self.open_run)
        self.library.fork_requested.connect(self.fork_from)
        self.library.message.connect(self.message_bar.show_message)
        self.gallery.fork_requested.connect(self.library.fork_at)
        s.started.connect(lambda e: self.library.run_started(self.last_run_dir, self.fresh_run))
        self.run_finished.connect(lambda e: self.library.refresh())

    def event(self, event) -> bool:
        if event.type() == QEvent.StatusTip:  # hovered actions: into the status panel's note, not over it
            self.status.show_note(event.tip())
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
        self.share.refresh(self.state != "idle")

    # --- your pictures, before training ---

    def _preview_data(self) -> None:
        config = self.config_panel.current_config()
        if config is not None and config.data.dataset == "folder" and self.state == "idle":
            self.data_preview.request(config.data.folder, config.data.image_size, config.data.channels)

    def _on_data_preview(self, p: FolderPreview) -> None:
        if self.state != "idle":
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

        path = Path(run_dir) if run_dir else new_run_path(self.runs_root)  # a new run never reuses a folder
        try:
            check_new_run_folder(path)
        except RunFolderError as e:
            self.message_bar.show_message(f"Cannot start: {e}", "error")
            return None
        self._begin(config, path, None, fresh=True)
        return path

    def resume_from(self, path: str | Path) -> None:
        """Resume a run folder or a checkpoint file; the checkpoint loads on the worker thread."""
        if self.session.active:
            return
        path = Path(path)
        if path.is_dir():
            run_dir = path
        elif path.parent.name == "checkpoints" and path.name == "last.pt":
            run_dir = path.parent.parent
        elif path.parent.name == "checkpoints":
            # An earlier moment of a run: continuing it in place would discard the run's later steps.
            self.fork_from(path)
            return
        else:
            from core.run_folder import new_run_path
            run_dir = new_run_path(self.runs_root, f"{path.stem}-resumed-{time.strftime('%H%M%S')}")
        self._begin(self.config_panel.current_config(), run_dir, str(path), fresh=False)

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
        self.status.set_quality(None)
        self.files.loaded_generator = None
        self.last_run_dir = run_dir
        self.fresh_run = False
        self._set_state("loading")
        self.session.attach(run_dir)

    def fork_from(self, source: str | Path, run_dir: str | Path | None = None) -> Path | None:
        """A new run from a run folder's latest checkpoint or a kept one (checkpoints/step_N.pt),
        with the form's settings where they may differ; the parent is only read."""
        if self.session.active:
            return None
        from core.fork import parent_of
        from core.run_folder import RunFolderError, check_new_run_folder, new_run_path

        checkpoint, parent = parent_of(source)
        label = checkpoint.stem.removeprefix("step_").lstrip("0") or "0"
        path = Path(run_dir) if run_dir else new_run_path(self.runs_root, f"{parent.name}-fork-{label}")
        try:
            check_new_run_folder(path)
        except RunFolderError as e:
            self.message_bar.show_message(f"Cannot fork: {e}", "error")
            return None
        self._begin(self.config_panel.current_config(), path, str(checkpoint), fresh=True, fork=True)
        return path

    def _begin(self, config: Config | None, run_dir: Path, checkpoint: str | None, fresh: bool,
               fork: bool = False) -> None:
        self.message_bar.dismiss()
        self.loss_plots.clear()
        self.gallery.reset(run_dir, f"Samples · {run_dir.name}")
        self.quality_panel.reset()
        self.status.set_quality(None)
        self.files.loaded_generator = None
        self.last_run_dir = run_dir
        self.fresh_run = fresh
        self._batch = config.run.batch_size if config else 1
        self._set_state("loading")
        self.session.start(config, run_dir, checkpoint, fork)

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
        from core.run_folder import metrics_from_row, read_rows

        for m in read_rows(run_dir / "metrics.csv", metrics_from_row, up_to):  # a nicety: the run is the checkpoint
            self.loss_plots.add_metrics(m)
        if samples:
            self.gallery.load_history(run_dir, up_to)
        if self.quality_panel.load_history(run_dir, up_to):
            self.status.set_quality(self.quality_panel.latest)

    def _on_state(self, e: ev.StateChanged) -> None:
        if e.state in ("loading", "running", "paused"):
            if self.state != "stopping":
                self._set_state(e.state)
        if e.state != "loading":
            self.status.set_step(e.step)

    def _on_metrics(self, m: ev.Metrics) -> None:
        self.loss_plots.add_metrics(m)
        self.status.metrics(m)
        self._last_metrics_step = m.step

    def _on_samples(self, s: ev.Samples) -> None:
        self.gallery.add_grid(s.step, s.grid, s.row_labels, s.columns)

    def _on_quality(self, q: ev.Quality) -> None:
        self.quality_panel.add_quality(q)
        self.status.set_quality(q)

    def _on_quality_off(self, reason: str) -> None:
        self.quality_panel.set_off(reason)
        self.status.quality_off(reason)

    def _on_hyperparams(self, e: ev.HyperparamsChanged) -> None:
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

    # --- open ---

    def open_run(self, path: str | None = None) -> None:
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Open a checkpoint (or pick a run's config.json)",
                                                  self._folder("open") or str(self.runs_root),
                                                  "Checkpoints and runs (*.pt config.json);;All files (*)")
        if not path:
            return
        p = Path(path)
        if p.name == "config.json":
            p = p.parent
        self._remember_folder("open", p.parent if p.is_file() else p)
        from core.heartbeat import running_elsewhere

        if p.is_dir() and running_elsewhere(p):
            self.attach(p)  # another process trains it: follow and steer it, never train it twice
            return
        self.resume_from(p)

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


def _normal(config: Config, key: str):
    section, name = key.split(".", 1)
    return _normal_value(getattr(getattr(config, section), name))


def _normal_value(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value
