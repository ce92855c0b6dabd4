"""The Sweep panel: hyperparameter sweeps on Optuna (core/sweeps), as a dock.

The ranges are defined with the form's fields and core's rules (studio/sweep_ranges.py), on top of the
form's current settings (its preset and every other field); Trials and Steps per trial say how much
to train, and the sweep goes into a folder of its own (a new one under the runs folder unless another,
empty one is chosen). Start hands the sweep to the window's TrainingSession, which runs it on its
thread like a run: the trial being trained shows in the plots and the gallery, the toolbar's Pause,
Step and Stop steer it, and a normal Start waits until it ends (and this Start while a run trains).

The trials are read from the sweep's storage (core.sweeps.study) on a job thread, never the GUI's:
as each trial starts and ends and as readings come in, and for a sweep folder opened to look at
(Open sweep…, which writes nothing). They show as a table, a parallel-coordinates plot and Optuna's
parameter importances (studio/sweep_plots.py). A trial can be opened, overlaid or forked through
the window's own actions (the signals, as the Run library's), or put in the form (Use these settings).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.config import SECTIONS, Config
from core.presets import PRESETS
from core.runs.folder import RunFolder, new_run_path
from core.sweeps.space import KINDS, Param, Space, SpaceError, from_optuna, load_space, space_to_toml, validate_space
from core.sweeps.study import TrialRow, importances, load_study, read_sweep_record, read_trials
from studio.bridge.jobs import JobRunner
from studio.model.shown_run import RunState
from studio.panels.sweep_plots import ImportanceList, ParallelPlot, fmt, short
from studio.panels.sweep_ranges import RangeEditor
from studio.widgets import field_input
from studio.widgets.elided_label import ElidedLabel, WrappedLabel

STATE_COLOURS = {"complete": "#81c784", "running": "#4fc3f7", "pruned": "#b0b6be", "failed": "#ffb74d",
                 "waiting": "#b0b6be", "interrupted": "#b0b6be"}
INTERRUPTED_TIP = "Stopped with its checkpoint: Start with this sweep's folder chosen continues it"
DEFAULT_TRIALS = 20
DEFAULT_STEPS = 1000
MAX_TRIALS = 10_000
MAX_STEPS = 10_000_000


def trial_dir(sweep_dir: Path, row: TrialRow) -> Path | None:
    """The trial's run folder, only where it lies inside the sweep's folder (a path read from the
    study's storage never becomes a path unchecked) and exists."""
    if not row.run_dir:
        return None
    path = Path(row.run_dir)
    path = path if path.is_absolute() else sweep_dir / path
    try:
        inside = path.resolve().is_relative_to(sweep_dir.resolve())
    except OSError:
        return None
    return path if inside and path.is_dir() else None


def overrides_of(base: Config) -> tuple[str, dict]:
    """(preset, the settings where `base` differs from it): the sweep's trials start from these."""
    name = base.preset if base.preset in PRESETS else "default"
    ref, raw = PRESETS[name].to_dict(), base.to_dict()
    return name, {f"{s}.{k}": v for s in SECTIONS for k, v in raw[s].items() if ref[s][k] != v}


def folder_refusal(folder: Path) -> str:
    """Why `folder` cannot take a sweep ('' when it can: missing, empty, or a sweep's own, which the sweep
    continues); only looks."""
    if not folder.exists():
        return ""
    if not folder.is_dir():
        return f"{folder} is a file"
    try:
        if read_sweep_record(folder) is not None:
            return ""
        if any(folder.iterdir()):
            return f"{folder} holds other files and is not a sweep's folder"
    except (OSError, ValueError) as e:
        return str(e)
    return ""


# --- on the job thread: plain reads, plain results ---


def recorded_space(sweep_dir: Path) -> Space | None:
    """The space the sweep's study was started with (its "sweep" attribute, core.sweeps.space.space_dict),
    or None where it records none this can read."""
    study = load_study(sweep_dir)
    record = study.user_attrs.get("sweep") if study is not None else None
    items = record.get("space") if isinstance(record, dict) else None
    if not isinstance(items, list):
        return None
    params = []
    for item in items:
        if not (isinstance(item, dict) and isinstance(item.get("key"), str) and item.get("kind") in KINDS
                and isinstance(item.get("choices"), list)):
            return None
        key = item["key"]
        params.append(Param(key=key, kind=item["kind"], low=item.get("low"), high=item.get("high"),
                            log=bool(item.get("log")), choices=tuple(from_optuna(key, c) for c in item["choices"])))
    return Space(tuple(params))


def _check(spec: dict, base: Config) -> tuple[dict, Config]:
    """Start's checks that take a while: the space on top of the form's settings, and the readings the
    trials will be compared and pruned by (core.sweeps.runner; SpaceError, SweepError, ConfigError: one
    line each)."""
    from core.sweeps.runner import base_config, reading_of

    validate_space(spec["space"], base)
    reading_of(base_config(spec["preset"], spec["overrides"], spec["steps"], spec["device"]))
    return spec, base


def read_sweep(sweep_dir: Path, token: int, known: int, want_space: bool) -> tuple:
    """(token, sweep folder, its space or None, its trials, importances or None, whether they were read):
    the importances only when the number of complete trials changed since `known` (Optuna's analysis takes
    a moment)."""
    space = recorded_space(sweep_dir) if want_space else None
    rows = read_trials(sweep_dir)
    done = sum(1 for r in rows if r.state == "complete")
    fresh = done != known
    return token, sweep_dir, space, rows, importances(sweep_dir) if fresh else None, fresh


class SweepPanel(QWidget):
    open_requested = Signal(str)  # a trial's run folder to show (the window's open_run: nothing is written)
    fork_requested = Signal(str)  # a trial's run folder to fork from (the window's fork_from)
    overlay_requested = Signal(str, bool)  # a trial's run folder, on: its curves over the plots (the library's)
    sweep_started = Signal(str)  # the sweep's folder, once the session trains it
    refused = Signal(str)  # why Start started nothing (also the panel's message line)
    trials_shown = Signal()  # the table, plot and importances show the newest read of the trials
    space_saved = Signal(str)  # a space written as TOML
    space_loaded = Signal(str)  # a space read from a TOML file

    def __init__(self, session, jobs: JobRunner, form, runs_root: Callable[[], Path],
                 parent: QWidget | None = None):
        """`session`: the window's TrainingSession; `form`: its ConfigPanel (current_config, set_config,
        set_value, validity_changed); `runs_root`: where new runs go."""
        super().__init__(parent)
        self.session = session
        self._model = None  # the run shown (studio/model/shown_run.py): whether the sweep's trial is paused
        self.jobs = jobs
        self.form = form
        self.runs_root = runs_root
        self.sweep_dir: Path | None = None  # the sweep shown (running, finished or opened)
        self.space: Space = Space(())  # the shown sweep's space (the plot's axes, the table's columns)
        self.rows: list[TrialRow] = []
        self.chosen_out: Path | None = None  # the folder chosen for the next sweep (None: a new one)
        self._base: Config | None = None  # the form's settings when the sweep started: back in the form after it
        self._running = False  # this panel's sweep is the session's run
        self._checking = False  # Start's checks run on a job
        self._reading = self._again = False
        self._token = 0
        self._finished_count = -1  # complete trials when the importances were last read
        self._interrupted: set[int] = set()  # trials the sweep's Stop left running in the study, to continue

        self.ranges = RangeEditor(self.form.current_config, self)
        self.ranges.changed.connect(self._update_buttons)
        self.save_button = QPushButton("Save ranges…", objectName="sweepSaveSpace")
        self.save_button.setToolTip("Write the ranges as a TOML file (python main.py sweep reads it too)")
        self.load_button = QPushButton("Load ranges…", objectName="sweepLoadSpace")
        self.load_button.setToolTip("Read ranges from a TOML file")
        self.save_button.clicked.connect(lambda: self.save_space())
        self.load_button.clicked.connect(lambda: self.load_space())

        self.trials = QSpinBox(objectName="sweepTrials")
        self.trials.setRange(1, MAX_TRIALS)
        self.trials.setValue(DEFAULT_TRIALS)
        self.trials.setToolTip("How many trials: each trains a new run with settings Optuna picks from the ranges")
        self.steps = QSpinBox(objectName="sweepSteps")
        self.steps.setRange(1, MAX_STEPS)
        self.steps.setValue(DEFAULT_STEPS)
        self.steps.setGroupSeparatorShown(True)
        self.steps.setToolTip("Training steps of each trial (a trial whose readings lag the others' is pruned "
                              "early)")
        for box in (self.trials, self.steps):
            box.setKeyboardTracking(False)
            box.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
            box.setMinimumWidth(80)
        self.out_label = ElidedLabel(objectName="sweepFolder")
        self.out_button = QPushButton("Choose…", objectName="sweepChooseFolder")
        self.out_button.setToolTip("An empty folder for the sweep: its study and one run folder a trial")
        self.out_button.clicked.connect(lambda: self.choose_folder())

        self.start_button = QPushButton("▶  Start sweep", objectName="sweepStart")
        self.pause_button = QPushButton("❚❚  Pause", objectName="sweepPause")
        self.pause_button.setToolTip("Pause or resume the trial being trained (the toolbar's Pause too)")
        self.stop_button = QPushButton("■  Stop", objectName="sweepStop")
        self.stop_button.setToolTip("Stop the trial being trained and start no more; the study keeps every trial")
        self.open_sweep_button = QPushButton("Open sweep…", objectName="sweepOpen")
        self.open_sweep_button.setToolTip("Show a sweep folder's trials (nothing in it changes)")
        self.start_button.clicked.connect(lambda: self.start())
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)
        self.open_sweep_button.clicked.connect(lambda: self.open_sweep())
        self.note = WrappedLabel(objectName="sweepMessage")
        self.note.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.note.setVisible(False)

        self.table = QTableWidget(0, 0, objectName="sweepTrialsTable")
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Expanding)
        self.table.setMinimumHeight(140)
        self.table.setContextMenuPolicy(Qt.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._show_menu)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _: self.open_trial())
        self.open_button = QPushButton("Open", objectName="sweepTrialOpen")
        self.open_button.setToolTip("Show the trial's run: its curves, grids and readings (nothing in it changes)")
        self.overlay_button = QPushButton("Overlay", objectName="sweepTrialOverlay")
        self.overlay_button.setToolTip("Draw the trial's curves over the plots (untick it in the Run library)")
        self.fork_button = QPushButton("Fork…", objectName="sweepTrialFork")
        self.fork_button.setToolTip("A new run from the trial's latest checkpoint")
        self.use_button = QPushButton("Use these settings", objectName="sweepTrialUse")
        self.use_button.setToolTip("Put the trial's values in the form (the other fields stay as they are)")
        self.open_button.clicked.connect(lambda: self.open_trial())
        self.overlay_button.clicked.connect(lambda: self.overlay_trial())
        self.fork_button.clicked.connect(lambda: self.fork_trial())
        self.use_button.clicked.connect(lambda: self.use_settings())
        self.plot = ParallelPlot()
        self.importance = ImportanceList()
        self._build()

        session.trial_started.connect(self._on_trial_started)
        session.trial_finished.connect(self._on_trial_finished)
        session.quality.connect(self._on_reading)
        session.image_quality.connect(self._on_reading)
        session.state_changed.connect(self._on_state)
        session.error.connect(self._on_error)
        session.finished.connect(self._on_finished)
        session.thread_done.connect(self._update_buttons)
        form.validity_changed.connect(lambda *_: self._update_buttons())
        self._show_folder()
        self._update_buttons()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        title = QLabel("<b>Ranges</b> (on top of the form's settings)")
        title.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        layout.addWidget(title)
        layout.addWidget(self.ranges)
        layout.addLayout(_row(self.save_button, self.load_button))
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.addRow("Trials", self.trials)
        form.addRow("Steps per trial", self.steps)
        folder = QHBoxLayout()
        folder.addWidget(self.out_label, 1)
        folder.addWidget(self.out_button)
        form.addRow("Folder", folder)
        layout.addLayout(form)
        layout.addLayout(_row(self.start_button, self.pause_button, self.stop_button))
        layout.addLayout(_row(self.open_sweep_button))
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        layout.addLayout(_row(self.open_button, self.overlay_button, self.fork_button))
        layout.addLayout(_row(self.use_button))
        layout.addWidget(self.plot)
        layout.addWidget(self.importance)
        guard = field_input.FieldInput(self)
        for box in (self.trials, self.steps):
            box.setFocusPolicy(Qt.StrongFocus)
            box.installEventFilter(guard)

    # --- messages ---

    def say(self, text: str, level: str = "info") -> None:
        """One line in the panel's message area (an error in the form's red)."""
        self.note.setText(text)
        self.note.setToolTip(text)
        self.note.setStyleSheet("color: #ff8a80;" if level == "error" else "")
        self.note.setVisible(bool(text))

    # --- the ranges as a file ---

    def save_space(self, path: str | None = None) -> None:
        try:
            text = space_to_toml(self.ranges.space())
        except SpaceError as e:
            self.say(f"Cannot save the ranges: {e}", "error")
            return
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save the ranges", str(self.runs_root() / "space.toml"),
                                                  "TOML (*.toml)")  # the dialog asks before replacing a file
            if not path:
                return
        self.jobs.submit(lambda: _write_text(Path(path), text), self._space_written, self._space_failed)

    def _space_written(self, path: object) -> None:
        self.say(f"Saved the ranges to {path}")
        self.space_saved.emit(str(path))

    def _space_failed(self, text: str) -> None:
        self.say(text, "error")

    def load_space(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Load ranges", str(self.runs_root()), "TOML (*.toml)")
            if not path:
                return
        base = self.form.current_config()  # checked against the form's settings, as Start will
        self.jobs.submit(lambda: (str(path), load_space(path, base)), self._space_read, self._space_failed)

    def _space_read(self, result: object) -> None:
        path, space = result
        self.ranges.set_space(space)
        self.say(f"Loaded the ranges from {path}")
        self.space_loaded.emit(path)

    # --- the sweep's folder ---

    def choose_folder(self, folder: str | None = None) -> bool:
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "An empty folder for the sweep", str(self.runs_root()))
            if not folder:
                return False
        path = Path(folder)
        refusal = folder_refusal(path)
        if refusal:
            self.say(f"Cannot sweep into it: {refusal}; choose a new or empty folder (Open sweep… shows a sweep "
                     "without writing)", "error")
            return False
        self.chosen_out = path
        self._show_folder()
        return True

    def _show_folder(self) -> None:
        if self.chosen_out is not None:
            text = str(self.chosen_out)
        else:
            text = f"a new sweep-… folder in {self.runs_root()}"
        self.out_label.setText(text)
        self.out_label.setToolTip(text)

    # --- start, pause, stop ---

    def start(self) -> bool:
        """Start a sweep of the ranges on the form's settings: what can be told at once is checked here
        (False, and one line saying why, when refused), the space and the readings the trials are compared
        by with core on a job (core tries every value of a short int range); the sweep starts after that,
        or `refused` says why not."""
        base = self.form.current_config()
        space = self.ranges.space()
        refusal = self._refusal(base, space)
        if refusal:
            self.say(f"Cannot start the sweep: {refusal}", "error")
            self.refused.emit(refusal)
            return False
        assert base is not None  # _refusal said so
        preset, overrides = overrides_of(base)
        # core.sweeps.runner.SweepSpec's fields: the worker makes the spec (the runner imports torch)
        spec = {"preset": preset, "space": space, "trials": self.trials.value(), "steps": self.steps.value(),
                "out": self.chosen_out, "overrides": overrides, "storage": None, "study": None, "device": None}
        self._checking = True
        self.say("Checking the ranges…")
        self._update_buttons()
        self.jobs.submit(lambda: _check(spec, base), self._checked, self._check_failed)
        return True

    def _refusal(self, base: Config | None, space: Space) -> str:
        if self.session.active or self._checking:
            return "a run trains in this window: stop it first"
        if base is None:
            return self.form.error or "the form's settings are not valid"
        if not space.params:
            return "add a setting to sweep (+ Add setting)"
        if self.ranges.first_error():
            return self.ranges.first_error()
        if self.chosen_out is not None:  # it may have filled since it was chosen
            refusal = folder_refusal(self.chosen_out)
            if refusal:
                return f"{refusal}; choose a new or empty folder"
        return ""

    def _checked(self, result: object) -> None:
        self._checking = False
        spec, base = result
        refusal = self._refusal(base, spec["space"])  # a run may have started meanwhile
        if refusal:
            self._check_failed(refusal)
            return
        try:
            out = spec["out"] or new_run_path(self.runs_root(), f"sweep-{time.strftime('%Y%m%d-%H%M%S')}")
        except OSError as e:
            self._check_failed(f"cannot make a folder in {self.runs_root()} ({e.strerror or e})")
            return
        spec = {**spec, "out": out}
        self._base = base
        self._running = True
        self.chosen_out = None  # the next sweep gets a folder of its own
        self._show_folder()
        self._show_sweep(out, spec["space"])
        self.session.start_sweep(spec)
        self.say(f"Sweep started: {spec['trials']} trials of {spec['steps']:,} steps into {out}")
        self._update_buttons()
        self.sweep_started.emit(str(out))

    def _check_failed(self, text: str) -> None:
        self._checking = False
        self.say(f"Cannot start the sweep: {text}", "error")
        self._update_buttons()
        self.refused.emit(text)

    def toggle_pause(self) -> None:
        if not self._sweep_live():
            return
        if self._model is not None and self._model.state == RunState.PAUSED:
            self.session.resume()
        else:
            self.session.pause()

    def stop(self) -> None:
        if self._sweep_live():
            self.session.stop()
            self.say("Stopping the sweep: the trial being trained stops at its next step")

    def _sweep_live(self) -> bool:
        return self._running and self.session.active and self.session.sweeping

    # --- the session's events ---

    def _on_trial_started(self, e) -> None:
        if self._running:
            values = ", ".join(f"{short(k)} {fmt(v)}" for k, v in e.values.items())
            self.say(f"Training trial {e.number} of {self.trials.value()}: {values}")
            self.refresh()

    def _on_trial_finished(self, e) -> None:
        if self._running:
            if e.state == "interrupted":
                self._interrupted.add(e.number)
            self.refresh()

    def _on_error(self, step: int, message: str) -> None:
        if self._running:  # the sweep refused by core (no readings to compare by, another study), a trial failed
            self.say(message, "error")

    def _on_reading(self, _reading) -> None:
        if self._running:
            self.refresh()

    def follow_run(self, model) -> None:
        """The run shown is the sweep's trial while it sweeps: Pause asks it whether that trial is paused."""
        self._model = model

    def _on_state(self, e) -> None:
        self.pause_button.setText("▶  Resume" if e.state == "paused" else "❚❚  Pause")
        self._update_buttons()

    def _on_finished(self, e) -> None:
        if not self._running:
            self._update_buttons()
            return
        self._running = False
        if self._base is not None:  # each trial showed its settings in the form: the person's come back
            self.form.set_config(self._base)
        self.say(f"The sweep {'stopped' if e.stopped else 'finished'}: its trials are in {self.sweep_dir}")
        self.pause_button.setText("❚❚  Pause")
        self.refresh()
        self._update_buttons()

    # --- reading the trials (a job) ---

    def open_sweep(self, folder: str | None = None) -> None:
        """Show a sweep folder's trials, space and importances; nothing in it is written."""
        if self._sweep_live():
            return
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Open a sweep folder", str(self.runs_root()))
            if not folder:
                return
        self._show_sweep(Path(folder), None)
        self.refresh(want_space=True)

    def _show_sweep(self, folder: Path, space: Space | None) -> None:
        self.sweep_dir = folder
        self.space = space if space is not None else Space(())
        self.rows = []
        self._finished_count = -1
        self._interrupted = set()
        self._token += 1
        self._fill_table()
        self.plot.show_trials(self.space, [])
        self.importance.show_importances(None, 0)

    def refresh(self, want_space: bool = False) -> None:
        """Read the shown sweep's trials again on a job thread (once more after a read in flight)."""
        if self.sweep_dir is None:
            return
        if self._reading:
            self._again = True
            return
        self._reading, self._again = True, False
        folder, token, known = self.sweep_dir, self._token, self._finished_count
        self.jobs.submit(lambda: read_sweep(folder, token, known, want_space), self._trials_read, self._read_failed)

    def _trials_read(self, result: object) -> None:
        self._reading = False
        token, folder, space, rows, found, fresh = result
        if token == self._token:
            if space is not None:
                self.space = space
                self.ranges.set_space(space)
            if not self.space.params and rows:  # no recorded space: axes from the values the trials hold
                self.space = _space_from(rows)
            self.rows = sorted(rows, key=lambda r: r.number)
            self._fill_table()
            self.plot.show_trials(self.space, self.rows)
            if fresh:
                self._finished_count = sum(1 for r in rows if r.state == "complete")
                self.importance.show_importances(found, self._finished_count)
            self.trials_shown.emit()
        if self._again:
            self.refresh()

    def _read_failed(self, text: str) -> None:
        self._reading = False
        self.say(f"Cannot read the sweep in {self.sweep_dir}: {text}", "error")
        if self._again:
            self.refresh()

    # --- the table ---

    def _fill_table(self) -> None:
        keys = [p.key for p in self.space.params]
        headers = ["#"] + [short(k) for k in keys] + ["State", "Best", "Steps"]
        selected = self.selected()
        self.table.blockSignals(True)
        self.table.clearSelection()
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        for column, key in enumerate(keys, start=1):
            self.table.horizontalHeaderItem(column).setToolTip(key)
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            reading = "—" if row.reading is None or not math.isfinite(row.reading) else f"{row.reading:.4g}"
            state = "interrupted" if row.state == "running" and row.number in self._interrupted else row.state
            texts = [str(row.number)] + [fmt(row.values[k]) if k in row.values else "—" for k in keys] + \
                [state, reading, f"{row.step:,}"]
            for column, text in enumerate(texts):
                item = QTableWidgetItem(text)
                item.setToolTip(row.run_dir or "")
                self.table.setItem(r, column, item)
            state_item = self.table.item(r, len(keys) + 1)
            state_item.setForeground(QColor(STATE_COLOURS.get(state, "#b0b6be")))
            if state == "interrupted":
                state_item.setToolTip(INTERRUPTED_TIP)
        self.table.blockSignals(False)
        if selected is not None:
            self.select(selected.number)
        self._update_buttons()

    def states(self) -> list[str]:
        """Each row's state, as shown."""
        column = len(self.space.params) + 1
        return [self.table.item(r, column).text() for r in range(self.table.rowCount())]

    def select(self, number: int) -> None:
        for r, row in enumerate(self.rows):
            if row.number == number:
                self.table.selectRow(r)

    def selected(self) -> TrialRow | None:
        rows = self.table.selectionModel().selectedRows()
        return self.rows[rows[0].row()] if rows and rows[0].row() < len(self.rows) else None

    # --- a trial's actions ---

    def _selected_dir(self) -> Path | None:
        row = self.selected()
        return trial_dir(self.sweep_dir, row) if row is not None and self.sweep_dir is not None else None

    def _can_open(self, row: TrialRow | None) -> bool:
        return row is not None and row.state != "running" and not self.session.active and \
            self.sweep_dir is not None and trial_dir(self.sweep_dir, row) is not None

    def _can_fork(self, row: TrialRow | None) -> bool:
        path = trial_dir(self.sweep_dir, row) if row is not None and self.sweep_dir is not None else None
        return self._can_open(row) and path is not None and \
            (RunFolder(path).last_checkpoint.is_file() or bool(RunFolder(path).kept_steps()))

    def _can_use(self, row: TrialRow | None) -> bool:
        return row is not None and bool(row.values) and not self.session.active

    def open_trial(self) -> None:
        if self._can_open(self.selected()):
            self.open_requested.emit(str(self._selected_dir()))

    def overlay_trial(self) -> None:
        path = self._selected_dir()
        if path is not None:
            self.overlay_requested.emit(str(path), True)

    def fork_trial(self) -> None:
        if self._can_fork(self.selected()):
            self.fork_requested.emit(str(self._selected_dir()))

    def use_settings(self) -> None:
        """The selected trial's values into the form's fields (the form's own validation follows)."""
        row = self.selected()
        if not self._can_use(row):
            return
        for key, value in row.values.items():
            if key in self.form.editors:
                self.form.set_value(key, value)
        values = ", ".join(f"{short(k)} {fmt(v)}" for k, v in row.values.items())
        self.say(f"The form holds trial {row.number}'s settings now ({values}); Start trains a run with them")

    def _update_buttons(self) -> None:
        live, busy = self._sweep_live(), self.session.active
        self.start_button.setEnabled(not busy and not self._checking and self.form.current_config() is not None
                                     and bool(self.ranges.rows))
        self.start_button.setToolTip("Stop the run in this window first" if busy and not live else
                                     "Train the trials one after another, each shown in the plots and gallery")
        self.pause_button.setEnabled(live)
        self.stop_button.setEnabled(live)
        self.open_sweep_button.setEnabled(not live)
        for w in (self.ranges, self.save_button, self.load_button, self.trials, self.steps, self.out_button):
            (w.set_enabled if w is self.ranges else w.setEnabled)(not live)
        row = self.selected()
        self.open_button.setEnabled(self._can_open(row))
        self.overlay_button.setEnabled(self._selected_dir() is not None)
        self.fork_button.setEnabled(self._can_fork(row))
        self.use_button.setEnabled(self._can_use(row))

    def context_menu(self, row: TrialRow) -> QMenu:
        menu = QMenu(self)
        for text, slot, enabled in (("Open", self.open_trial, self._can_open(row)),
                                    ("Overlay its curves", self.overlay_trial, self._selected_dir() is not None),
                                    ("Fork…", self.fork_trial, self._can_fork(row)),
                                    ("Use these settings", self.use_settings, self._can_use(row))):
            action = menu.addAction(text)
            action.setEnabled(enabled)
            action.triggered.connect(lambda _=False, s=slot: s())
        return menu

    def _show_menu(self, pos: QPoint) -> None:
        r = self.table.rowAt(pos.y())
        if r < 0 or r >= len(self.rows):
            return
        self.table.selectRow(r)
        menu = self.context_menu(self.rows[r])
        menu.exec(self.table.viewport().mapToGlobal(pos))
        menu.deleteLater()


def _row(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setSpacing(4)
    for w in widgets:
        row.addWidget(w)
    row.addStretch(1)
    return row


def _write_text(path: Path, text: str) -> str:
    from core.atomic import atomic_write

    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return str(path)


def _space_from(rows: list[TrialRow]) -> Space:
    """Axes for a study that records no space: each setting's values, as far as they reach."""
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row.values if k not in keys]
    params = []
    for key in keys:
        values = [r.values[key] for r in rows if key in r.values]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            kind = "int" if all(isinstance(v, int) for v in values) else "float"
            params.append(Param(key=key, kind=kind, low=min(values), high=max(values), log=False, choices=()))
        else:
            params.append(Param(key=key, kind="choice", low=None, high=None, log=False,
                                choices=tuple(dict.fromkeys(values))))
    return Space(tuple(params))
