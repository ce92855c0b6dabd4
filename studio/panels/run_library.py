"""The run library: every run under the runs folder, to open, fork, reveal, delete or overlay.

A dock panel. The runs folder is scanned on a job thread (core.runs.index reads only small
files, but a folder may hold hundreds of runs, each with a thumbnail to decode) and the
table is rebuilt from the result. Ticked runs are overlaid on the loss and quality plots
(studio/run_overlays.py); the ticked set is kept in the window's settings, so it comes back
at the next start. The panel never trains: Open (show the run), Resume and Fork go out as signals
for the window. Rename writes only the run's name and notes (run.json), after asking.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QPoint, QSettings, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.runs.folder import last_checkpoint_step
from core.runs.index import RunInfo, checkpoint_path, delete_run, read_lineage, read_run, scan_runs
from core.runs.notes import read_names, write_names
from studio.bridge.jobs import JobRunner
from studio.panels.loss_plots import LossPlots
from studio.panels.quality_panel import QualityPanel
from studio.panels.run_names import RenameDialog
from studio.panels.run_overlays import RunOverlays

SETTING = "library/overlays"  # JSON list of the overlaid run folders
THUMB = 40  # thumbnail side, pixels
COLUMNS = ("Overlay", "", "Name", "Preset", "Dataset", "Steps", "Best", "State", "Parent", "Kept")
OVERLAY, THUMBNAIL, NAME, PRESET, DATASET, STEPS, BEST, STATE, PARENT, KEPT = range(len(COLUMNS))
STATE_TEXT = {"running here": "running in this window"}
OPEN_TIP = "Show the run: its curves, grids, readings and settings (nothing in it changes)"
RESUME_TIP = "Train the run on from its latest checkpoint, with its own settings"
STATE_COLOURS = {"finished": "#81c784", "stopped": "#b0b6be", "running here": "#4fc3f7",
                 "running elsewhere": "#4fc3f7", "damaged": "#ffb74d"}


def key_of(path: str | Path) -> str:
    """One spelling per run folder (run.json names parents by their resolved path)."""
    return str(Path(path).resolve())


class ForkDialog(QDialog):
    """Pick the moment to fork from: the run's latest checkpoint or one it kept."""

    def __init__(self, info: RunInfo, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Fork {info.name}")
        self.list = QListWidget(objectName="forkSteps")
        if info.resumable:  # a run that trains elsewhere has moved on since its latest checkpoint
            self._add("Latest checkpoint" if info.running else f"Latest (step {info.steps_done:,})",
                      info.checkpoint())
        for step in reversed(info.kept_steps):
            self._add(f"Step {step:,} (kept)", info.checkpoint(step))
        self.list.setCurrentRow(0)
        note = QLabel("The new run starts from this moment with the parent's settings; next, you see them "
                      "and choose which of the form's differences it takes. The parent is only read.",
                      wordWrap=True)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Fork")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.list.itemDoubleClicked.connect(lambda _: self.accept())
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Fork from:"))
        layout.addWidget(self.list, 1)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _add(self, text: str, path: Path) -> None:
        item = QListWidgetItem(text)
        item.setData(Qt.UserRole, str(path))
        item.setToolTip(str(path))
        self.list.addItem(item)

    def source(self) -> Path | None:
        item = self.list.currentItem()
        return Path(item.data(Qt.UserRole)) if item else None


class RunLibrary(QWidget):
    """The runs folder as a table: open, fork, reveal, delete; tick runs to overlay their curves."""

    open_requested = Signal(str)  # a run folder to show (the window's open_run: nothing is written)
    resume_requested = Signal(str)  # a run folder to train on with its own settings (the window's resume_run)
    renamed = Signal(str, str)  # run folder, its new name (run.json)
    fork_requested = Signal(str)  # a run folder or kept checkpoint to fork from (the window's fork_from)
    message = Signal(str, str)  # text, level: for the window's message bar
    refreshed = Signal()  # the table was rebuilt from a new scan
    deleted = Signal(str)  # a run folder that was removed

    def __init__(self, settings: QSettings, runs_root: Callable[[], Path], loss_plots: LossPlots,
                 quality_panel: QualityPanel, jobs: JobRunner | None = None,
                 busy: Callable[[], bool] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self.runs_root = runs_root
        self.jobs = jobs or JobRunner(self)
        self.busy = busy or (lambda: False)  # a run trains in the window: it cannot open or fork another
        self.overlays = RunOverlays(loss_plots, quality_panel, self.jobs, self)
        self.runs: list[RunInfo] = []
        self._keys: list[str] = []  # key_of(run.path) for each row
        self.ticked: list[str] = self._restore_ticked()
        self.current: str | None = None  # the run the window trains or trained last
        self._scanning = False
        self._again = False

        self.table = QTableWidget(0, len(COLUMNS), objectName="runTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeaderItem(OVERLAY).setToolTip("Tick to draw the run's curves over the plots")
        self.table.horizontalHeaderItem(BEST).setToolTip(
            "The run's lowest quality reading and the step it came at (lower is better). Compare runs only "
            "on the same pictures at the same sample count.")
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setIconSize(QPixmap(THUMB, THUMB).size())
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(THUMB + 6)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(NAME, QHeaderView.Interactive)
        header.setStretchLastSection(True)
        self.table.setContextMenuPolicy(Qt.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._show_menu)
        self.table.itemChanged.connect(self._item_changed)
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.refresh_button = QPushButton("Refresh", objectName="libraryRefresh")
        self.open_button = QPushButton("Open", objectName="libraryOpen")
        self.open_button.setToolTip(OPEN_TIP)
        self.resume_button = QPushButton("Resume", objectName="libraryResume")
        self.resume_button.setToolTip(RESUME_TIP)
        self.rename_button = QPushButton("Rename…", objectName="libraryRename")
        self.rename_button.setToolTip("Give the run a name and a line of notes (its folder keeps its name)")
        self.fork_button = QPushButton("Fork…", objectName="libraryFork")
        self.fork_button.setToolTip("A new run from its latest or a kept checkpoint, with the form's settings")
        self.reveal_button = QPushButton("Reveal", objectName="libraryReveal")
        self.reveal_button.setToolTip("Show the run folder in the file manager")
        self.delete_button = QPushButton("Delete…", objectName="libraryDelete")
        self.delete_button.setToolTip("Delete the run folder (asks first)")
        self.note = QLabel(objectName="libraryNote", wordWrap=True)
        self.refresh_button.clicked.connect(self.refresh)
        self.open_button.clicked.connect(lambda: self.open_run(self.selected()))
        self.resume_button.clicked.connect(lambda: self.resume(self.selected()))
        self.rename_button.clicked.connect(lambda: self.rename(self.selected()))
        self.fork_button.clicked.connect(lambda: self.fork(self.selected()))
        self.reveal_button.clicked.connect(lambda: self.reveal(self.selected()))
        self.delete_button.clicked.connect(lambda: self.delete(self.selected()))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        # Two rows: the run's training (open, resume, fork) and its folder (name, place, removal), so
        # the panel stays as narrow as a dock beside the plots.
        for row in ((self.refresh_button, self.open_button, self.resume_button, self.fork_button),
                    (self.rename_button, self.reveal_button, self.delete_button)):
            buttons = QHBoxLayout()
            for b in row:
                buttons.addWidget(b)
            buttons.addStretch(1)
            layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.note)
        self.overlays.show(self.ticked)
        self._update_buttons()

    # --- listing ---

    def refresh(self) -> None:
        """Scan the runs folder again (on a job thread); `refreshed` follows. A hidden panel is
        scanned when it is shown instead (nobody looks, and a closed window starts no threads)."""
        if not self.isVisible():
            return
        if self._scanning:
            self._again = True  # the folder changed during this scan: once more when it ends
            return
        self._scanning, self._again = True, False
        root, extra = Path(self.runs_root()), list(self.ticked)
        self.jobs.submit(lambda: _scan(root, extra), self._scanned, self._scan_failed)

    def _scanned(self, result: object) -> None:
        self._scanning = False
        for key in [k for k in self.ticked if not Path(k).is_dir()]:  # deleted outside the app
            self.set_overlaid(key, False)
        selected = self.selected()
        result = [(self._as_seen_here(info), thumbnail) for info, thumbnail in result]
        self.runs = [info for info, _ in result]
        self._keys = [key_of(info.path) for info in self.runs]
        self.table.blockSignals(True)
        self.table.clearSelection()
        self.table.setRowCount(len(result))
        for row, (info, thumbnail) in enumerate(result):
            self._fill_row(row, info, thumbnail)
        self.table.blockSignals(False)
        if selected is not None:
            self.select(selected.path)
        self.table.resizeColumnsToContents()
        self.table.horizontalScrollBar().setValue(0)  # a refresh shows each row from its start: the Overlay tick
        for info, key in zip(self.runs, self._keys):
            if info.running and key in self.overlays.colours:
                self.overlays.reload(key)  # it has trained on since it was read
        self.note.setText(_count(self.runs, self.runs_root()))
        self._update_buttons()
        if self._again:
            self.refresh()  # `refreshed` comes with the newest scan
        else:
            self.refreshed.emit()

    def _scan_failed(self, text: str) -> None:
        self._scanning = False
        self.note.setText(f"Could not list the runs folder: {text}")
        if self._again:
            self.refresh()

    def _as_seen_here(self, info: RunInfo) -> RunInfo:
        """The window knows its own run trains: its folder may not say so yet (no heartbeat before
        the first step, no checkpoint before run.checkpoint_every)."""
        if self.busy() and self.current == key_of(info.path) and info.state != "running here":
            return replace(info, state="running here", reason="", host="")
        return info

    def _fill_row(self, row: int, info: RunInfo, thumbnail: QImage | None) -> None:
        key = key_of(info.path)
        tick = QTableWidgetItem()
        tick.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsUserCheckable)
        tick.setCheckState(Qt.Checked if key in self.ticked else Qt.Unchecked)
        tick.setData(Qt.UserRole, key)
        tick.setToolTip("Tick to draw this run's curves over the plots, in the colour shown")
        self._paint_colour(tick, key)
        picture = QTableWidgetItem()
        if thumbnail is not None:
            picture.setData(Qt.DecorationRole, QPixmap.fromImage(thumbnail))
        state = STATE_TEXT.get(info.state, info.state)
        parent = f"{info.parent_name} @ {info.fork_step:,}" if info.parent and info.fork_step is not None \
            else info.parent_name
        kept = f"{len(info.kept_steps)} · {_size(info.kept_bytes)}" if info.kept_steps else "—"
        texts = {NAME: info.shown_name, PRESET: info.preset, DATASET: info.dataset, STEPS: _steps(info),
                 BEST: info.best_quality_label or "—", STATE: state, PARENT: parent or "—", KEPT: kept}
        self.table.setItem(row, OVERLAY, tick)
        self.table.setItem(row, THUMBNAIL, picture)
        for column, text in texts.items():
            item = QTableWidgetItem(text)
            item.setToolTip(_details(info))
            self.table.setItem(row, column, item)
        self.table.item(row, STATE).setForeground(QColor(STATE_COLOURS.get(info.state, "#b0b6be")))
        if not info.title:  # a folder's name (often its start time) is not a name: shown, but set apart
            font = self.table.item(row, NAME).font()
            font.setItalic(True)
            self.table.item(row, NAME).setFont(font)
        self.table.item(row, KEPT).setToolTip(_kept_details(info))

    def _paint_colour(self, tick: QTableWidgetItem, key: str) -> None:
        """The overlay cell shows the run's colour on the plots."""
        colour = self.overlays.colours.get(key)
        if colour is None:
            tick.setData(Qt.DecorationRole, None)
            return
        swatch = QPixmap(12, 12)
        swatch.fill(QColor(colour))
        tick.setData(Qt.DecorationRole, QIcon(swatch))

    def row_of(self, path: str | Path) -> int:
        key = key_of(path)
        return self._keys.index(key) if key in self._keys else -1

    def select(self, path: str | Path) -> None:
        row = self.row_of(path)
        if row >= 0:
            self.table.selectRow(row)

    def selected(self) -> RunInfo | None:
        rows = self.table.selectionModel().selectedRows()
        return self.runs[rows[0].row()] if rows and rows[0].row() < len(self.runs) else None

    # --- overlays ---

    def set_overlaid(self, path: str | Path, on: bool) -> None:
        """Tick or untick a run: its curves go on or off the plots, and the choice is remembered."""
        key = key_of(path)
        if on and key not in self.ticked:
            self.ticked.append(key)
        elif not on and key in self.ticked:
            self.ticked.remove(key)
        else:
            return
        self.settings.setValue(SETTING, json.dumps(self.ticked))
        self.overlays.show(self.ticked)
        row = self.row_of(key)
        if row >= 0:
            self.table.blockSignals(True)
            tick = self.table.item(row, OVERLAY)
            tick.setCheckState(Qt.Checked if on else Qt.Unchecked)
            self._paint_colour(tick, key)
            self.table.blockSignals(False)

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() == OVERLAY:
            self.set_overlaid(item.data(Qt.UserRole), item.checkState() == Qt.Checked)

    def _restore_ticked(self) -> list[str]:
        try:
            saved = json.loads(self.settings.value(SETTING, "[]") or "[]")
        except (TypeError, ValueError):
            return []  # a hand-edited or older setting: nothing overlaid
        if not isinstance(saved, list):
            return []
        return [key_of(p) for p in saved if isinstance(p, str) and Path(p).is_dir()]

    # --- the window's runs ---

    def run_started(self, run_dir: str | Path | None, fresh: bool) -> None:
        """A run started in the window: list it, and overlay a new fork's parent under it."""
        self.current = key_of(run_dir) if run_dir is not None else None
        if run_dir is not None and fresh:
            parent = read_lineage(run_dir).get("parent")
            if isinstance(parent, str) and Path(parent).is_dir():
                self.set_overlaid(parent, True)
        self.refresh()

    def follow_run(self, model) -> None:
        """The run shown is never overlaid on itself."""
        model.cleared.connect(lambda: self.overlays.set_current(model.run_dir))

    def fork_at(self, run_dir: str, step: int) -> None:
        """Fork from a run's kept checkpoint of `step`, or its latest at the step that one holds (the
        gallery's "Fork from here…")."""
        checkpoint = checkpoint_path(run_dir, step)
        if not checkpoint.is_file() and step == last_checkpoint_step(run_dir):
            checkpoint = checkpoint_path(run_dir)  # a finished run's final step: checkpoints/last.pt
        if self.busy():
            self.message.emit("Cannot fork while a run trains in this window: stop it first", "warning")
            return
        if not checkpoint.is_file():
            self.message.emit(f"Cannot fork: {Path(run_dir).name} kept no checkpoint at step {step:,}", "warning")
            return
        self.fork_requested.emit(str(checkpoint))

    # --- actions ---

    def open_run(self, info: RunInfo | None) -> None:
        if info is not None and self._can_open(info):
            self.open_requested.emit(str(info.path))

    def resume(self, info: RunInfo | None) -> None:
        if info is not None and self._can_resume(info):
            self.resume_requested.emit(str(info.path))

    def rename(self, info: RunInfo | None) -> None:
        if info is not None:
            self.rename_folder(info.path)

    def rename_folder(self, path: str | Path) -> None:
        """Ask for the run's name and notes, then write them to its run.json on a job thread."""
        path = Path(path)
        name, notes = read_names(path)
        dialog = RenameDialog(path.name, name, notes, self)
        accepted = dialog.exec() == QDialog.Accepted
        name, notes = dialog.values()
        dialog.deleteLater()
        if not accepted:
            return
        self.jobs.submit(lambda: (str(path), write_names(path, name, notes)["name"]), self._renamed,
                         lambda text: self.message.emit(f"Cannot rename {path.name}: {text}", "error"))

    def _renamed(self, result: object) -> None:
        path, name = result
        self.message.emit(f"Renamed {Path(path).name}: {name}" if name else f"{Path(path).name} has no name now",
                          "info")
        self.renamed.emit(path, name)
        self.overlays.reload(key_of(path))  # its legend entries take the new name
        self.refresh()

    def fork(self, info: RunInfo | None, step: int | None = None) -> None:
        """Fork from `step`'s kept checkpoint, or ask which moment (latest or a kept step)."""
        if info is None or not self._can_fork(info):
            return
        if step is not None:
            self.fork_at(str(info.path), step)
            return
        dialog = ForkDialog(info, self)
        if dialog.exec() == QDialog.Accepted and dialog.source() is not None:
            self.fork_requested.emit(str(dialog.source()))

    def reveal(self, info: RunInfo | None) -> None:
        if info is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(info.path)))

    def delete(self, info: RunInfo | None) -> None:
        """Ask, then delete the run folder on a job thread; a running run is refused."""
        if info is None:
            return
        if info.running:
            self.message.emit(f"Cannot delete {info.name}: it is {STATE_TEXT.get(info.state, info.state)}; "
                              "stop it first", "warning")
            return
        answer = QMessageBox.question(
            self, "Delete the run?",
            f"Delete {info.name} and everything in it ({_size(info.disk_bytes)}: checkpoints, samples, "
            f"curves)?\n\n{info.path}\n\nThis cannot be undone.",
            QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        if answer != QMessageBox.Yes:
            return
        path = info.path
        self.jobs.submit(lambda: delete_run(path) or str(path), self._deleted,
                         lambda text: self.message.emit(f"Cannot delete {path.name}: {text}", "error"))

    def _deleted(self, path: object) -> None:
        self.set_overlaid(str(path), False)
        self.message.emit(f"Deleted {path}", "info")
        self.deleted.emit(str(path))
        self.refresh()

    def _can_open(self, info: RunInfo) -> bool:
        return not info.running and not self.busy()

    def _can_resume(self, info: RunInfo) -> bool:
        return info.resumable and not info.running and info.state != "damaged" and not self.busy()

    def _can_fork(self, info: RunInfo) -> bool:
        return bool(info.preset) and (info.resumable or bool(info.kept_steps)) and not self.busy()

    def _update_buttons(self) -> None:
        info = self.selected()
        busy = " (stop the run in this window first)" if self.busy() else ""
        self.open_button.setEnabled(info is not None and self._can_open(info))
        self.resume_button.setEnabled(info is not None and self._can_resume(info))
        self.rename_button.setEnabled(info is not None)
        self.fork_button.setEnabled(info is not None and self._can_fork(info))
        self.reveal_button.setEnabled(info is not None)
        self.delete_button.setEnabled(info is not None and not info.running)
        self.open_button.setToolTip(OPEN_TIP + busy)
        self.resume_button.setToolTip(RESUME_TIP + busy)
        self.fork_button.setToolTip("A new run from its latest or a kept checkpoint, with the form's settings"
                                    + busy)

    def context_menu(self, info: RunInfo) -> QMenu:
        """The row's menu: the buttons' actions plus the overlay tick."""
        menu = QMenu(self)
        for text, slot, enabled in (("Open", self.open_run, self._can_open(info)),
                                    ("Resume", self.resume, self._can_resume(info)),
                                    ("Fork…", self.fork, self._can_fork(info)),
                                    ("Rename…", self.rename, True),
                                    ("Reveal in file manager", self.reveal, True),
                                    ("Delete…", self.delete, not info.running)):
            action = menu.addAction(text)
            action.setEnabled(enabled)
            action.triggered.connect(lambda _=False, s=slot: s(info))
        menu.addSeparator()
        overlay = menu.addAction("Overlay its curves")
        overlay.setCheckable(True)
        overlay.setChecked(key_of(info.path) in self.ticked)
        overlay.toggled.connect(lambda on: self.set_overlaid(info.path, on))
        return menu

    def _show_menu(self, pos: QPoint) -> None:
        row = self.table.rowAt(pos.y())
        if row < 0:
            return
        self.table.selectRow(row)
        menu = self.context_menu(self.runs[row])
        menu.exec(self.table.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()  # runs may have come and gone while it was hidden, or the runs folder changed


# --- on the job thread: plain reads, plain results ---


def _scan(root: Path, extra: list[str]) -> list[tuple[RunInfo, QImage | None]]:
    """The runs under `root`, plus the overlaid runs kept elsewhere; each with its thumbnail."""
    runs = scan_runs(root)
    listed = {key_of(info.path) for info in runs}
    runs += [read_run(path) for path in extra if path not in listed and Path(path).is_dir()]
    return [(info, _thumbnail(info.thumbnail)) for info in runs]


def _thumbnail(path: Path | None) -> QImage | None:
    image = QImage(str(path)) if path else QImage()  # QImage (unlike QPixmap) may be made off the GUI thread
    return None if image.isNull() else image.scaled(THUMB, THUMB, Qt.KeepAspectRatio, Qt.SmoothTransformation)


def _steps(info: RunInfo) -> str:
    return f"{info.steps_done:,} / {info.steps_planned:,}" if info.steps_planned else f"{info.steps_done:,}"


def _size(n: float) -> str:
    """Bytes in words: '812 bytes', '4.4 MB', '13 GB'."""
    unit = "bytes"
    for bigger in ("KB", "MB", "GB", "TB"):
        if n < 1000:
            break
        n, unit = n / 1000, bigger
    return f"{n:,.0f} {unit}" if unit == "bytes" or n >= 10 else f"{n:.1f} {unit}"


def _count(runs: list[RunInfo], root: Path) -> str:
    """"12 runs in ~/GAN Studio runs, 8 of them trials of 1 sweep"."""
    sweeps = {info.sweep for info in runs if info.sweep}
    trials = sum(1 for info in runs if info.sweep)
    text = f"{len(runs)} run{'s' * (len(runs) != 1)} in {root}"
    if trials:
        text += f", {trials} of them trial{'s' * (trials != 1)} of {len(sweeps)} sweep{'s' * (len(sweeps) != 1)}"
    return text


def _details(info: RunInfo) -> str:
    lines = [info.title, str(info.path)] if info.title else [f"{info.path} (no name: Rename… gives it one)"]
    if info.sweep:
        number = f"Trial {info.trial}" if info.trial is not None else "A trial"
        lines.insert(0, f"{number} of the sweep {info.sweep}: View ▸ Sweep, Open sweep… shows them all")
    if info.notes:
        lines.append(f"Notes: {info.notes}")
    lines.append(f"State: {STATE_TEXT.get(info.state, info.state)}")
    if info.host:
        lines[-1] += f" ({info.host})"
    if info.reason:
        lines.append(f"Why: {info.reason}")
    if info.parent:
        lines.append(f"Forked from {info.parent} at step {info.fork_step:,}" if info.fork_step is not None
                     else f"Forked from {info.parent}")
    if info.disk_bytes:
        lines.append(f"On disk: {_size(info.disk_bytes)}")
    return "\n".join(lines)


def _kept_details(info: RunInfo) -> str:
    if not info.kept_steps:
        return "No kept checkpoints (run.keep_every = 0, or none reached yet): forks start from the latest."
    steps = ", ".join(f"{s:,}" for s in info.kept_steps)
    return (f"Checkpoints kept to fork from, at steps {steps}: {_size(info.kept_bytes)} beyond the latest "
            f"checkpoint (run.keep_every, run.keep_last). The whole run takes {_size(info.disk_bytes)}.")
