"""The latent explorer: what the generator does between and around its samples (the panel; the
drawing is studio/explorer_renderer.py).

Works on the generator being trained (a `GeneratorSnapshot` of the sampling
copy, EMA when on, asked for when the panel is shown, on Refresh, and with
"Follow training" each time the gallery gets a new grid; never per step) or on
an opened generator file. Modes: interpolation between two samples (linear or
spherical), a class x noise grid (conditional generators), a random walk played
as a loop, and "more like this" (small perturbations of one sample); a shared
truncation slider. What is shown saves as PNG, the animations as GIF.

Drawing happens on the `Renderer`'s own thread, never the GUI's:
requests are plain dataclasses put in a single "latest request" slot, so a new
request replaces one still waiting (newest wins, as StyleGAN3's renderer does),
and a render that a newer request overtakes stops between batches. Results and
errors come back as signals; the thread never dies of an error.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QThread, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core import events as ev
from core.runs.folder import RunFolder
from studio.bridge import qthreads
from studio.bridge.explorer_renderer import (
    CLASS_GRID_OFF,
    WALK_FPS,
    ClassGridRequest,
    InterpolateRequest,
    PerturbRequest,
    Pick,
    Rendered,
    Renderer,
    Request,
    SourceInfo,
    WalkRequest,
    write_gif,
    write_picture,
)
from studio.bridge.jobs import JobRunner
from studio.panels.gallery import GridView, to_qimage
from studio.widgets import field_input
from studio.widgets.elided_label import ElidedLabel

TABS = ("Interpolate", "Class grid", "Random walk", "More like this")
INTERPOLATE, CLASS_GRID, WALK, PERTURB = range(4)
MAX_SEED = 2**31 - 1
TRUNCATION_HELP = ("Truncation ψ pulls every noise vector towards the average one (z × ψ): lower values give "
                   "less variety but more typical, often cleaner images; 1 leaves the noise as drawn.")


class PickEditor(QWidget):
    """One end of an interpolation (or a centre, or a start): a seed, or a picked gallery cell."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.cell: int | None = None
        self.seed = QSpinBox()
        self.seed.setRange(0, MAX_SEED)
        self.seed.setToolTip("The seed whose noise vector is used. Click a sample in the gallery to use that "
                             "sample's noise instead.")
        self.what = ElidedLabel(objectName="explorerPick")  # "gallery cell 12 (at step 40,000)" never widens
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.seed)
        row.addWidget(self.what, 1)
        self.seed.valueChanged.connect(self._seed_edited)
        self._label()

    def pick(self) -> Pick:
        return Pick(self.seed.value(), self.cell)

    def set_seed(self, seed: int) -> None:
        if self.seed.value() != seed:
            self.seed.setValue(seed)  # _seed_edited follows
        else:
            self._seed_edited()

    def set_cell(self, cell: int, step: int) -> None:
        self.cell = cell
        self._label(f" (gallery at step {step:,})")
        self.changed.emit()

    def _seed_edited(self) -> None:
        self.cell = None
        self._label()
        self.changed.emit()

    def _label(self, extra: str = "") -> None:
        self.what.setText(f"gallery cell {self.cell}{extra}" if self.cell is not None else "seed")


class ExplorerPanel(QWidget):
    """The latent explorer's controls, view and save buttons; drawing happens on a `Renderer` thread."""

    source_changed = Signal(object)  # SourceInfo, once the renderer has the generator
    result_shown = Signal(object)  # Rendered, once on screen
    frame_shown = Signal(int)  # the random walk's frame index, as it plays
    failed = Signal(str)  # an error shown in the panel
    saved = Signal(str)  # a path written

    def __init__(self, session=None, jobs: JobRunner | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session  # studio.bridge.worker.TrainingSession, or None (files only)
        self.jobs = jobs or JobRunner(self)
        self.source: SourceInfo | None = None
        self.file_path: str | None = None
        self.result: Rendered | None = None
        self.shown_image: np.ndarray | None = None
        self.frame = 0
        self.next_pick = "A"
        self._ids = itertools.count(1)
        self.last_request_id = 0
        self._shown_id = 0
        self._awaiting_snapshot = False
        self._stale = False
        self.saved_generator: str | None = None  # the stopped run's generator.safetensors, explored after it
        self._thread: QThread | None = None
        self.renderer: Renderer | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(1000 // WALK_FPS)
        self.timer.timeout.connect(self._next_frame)
        self._build()
        if session is not None:
            session.snapshot.connect(self._on_snapshot)
            session.samples.connect(self._on_samples)
            session.started.connect(self._on_started)
            session.finished.connect(self._on_finished)

    # --- assembly ---

    def _build(self) -> None:
        self.source_label = ElidedLabel("No generator yet: start a run or open a generator file.",
                                        objectName="explorerSource")
        self.follow = QCheckBox("Follow training")
        self.follow.setChecked(True)
        self.follow.setToolTip("Take the newest weights each time the gallery gets a new grid (not every step: "
                               "training is not slowed).")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Take the generator's newest weights now.")
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Explore a saved generator (generator.safetensors).")
        # Two rows: the four in one were wider than the room a dock has beside the form at 1366 px.
        top = QHBoxLayout()
        top.addWidget(self.source_label, 1)
        top.addWidget(self.open_button)
        follow = QHBoxLayout()
        follow.addWidget(self.follow)
        follow.addStretch(1)
        follow.addWidget(self.refresh_button)

        self.tabs = QTabWidget(objectName="explorerTabs")
        self.tabs.setUsesScrollButtons(True)  # a narrow dock scrolls the tab bar rather than widen the window
        for name, page in zip(TABS, (self._interpolate_tab(), self._class_tab(), self._walk_tab(),
                                     self._perturb_tab())):
            self.tabs.addTab(page, name)
        self.tabs.setTabEnabled(CLASS_GRID, False)
        self.tabs.setTabToolTip(CLASS_GRID, CLASS_GRID_OFF)

        self.label = QComboBox()
        self.label.setToolTip("The class a conditional generator draws (the class grid draws them all). "
                              "Picking a gallery cell takes its row's class.")
        self.label.addItems([str(c) for c in range(10)])
        self.truncation = QSlider(Qt.Horizontal, objectName="truncation")
        self.truncation.setRange(5, 100)
        self.truncation.setValue(100)
        self.truncation.setToolTip(TRUNCATION_HELP)
        self.psi_label = QLabel("ψ 1.00")
        self.psi_label.setMinimumWidth(48)
        shared = QHBoxLayout()
        self.label_caption = QLabel("Class")
        shared.addWidget(self.label_caption)
        shared.addWidget(self.label)
        shared.addSpacing(8)
        truncation_caption = QLabel("Truncation")
        truncation_caption.setToolTip(TRUNCATION_HELP)
        shared.addWidget(truncation_caption)
        shared.addWidget(self.truncation, 1)
        shared.addWidget(self.psi_label)

        self.view = GridView()
        self.view.placeholder = "Open the explorer on a run or a generator file to see its samples here."
        self.note = ElidedLabel("", objectName="explorerNote")
        self.save_png_button = QPushButton("Save PNG")
        self.save_png_button.setToolTip("Save the picture shown, at its own resolution.")
        self.save_gif_button = QPushButton("Save GIF")
        self.save_gif_button.setToolTip("Save the interpolation (there and back), the random walk or the "
                                        "neighbours as a looping GIF.")
        bottom = QHBoxLayout()
        bottom.addWidget(self.note, 1)
        bottom.addWidget(self.save_png_button)
        bottom.addWidget(self.save_gif_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addLayout(follow)
        layout.addWidget(self.tabs)
        layout.addLayout(shared)
        layout.addWidget(self.view, 1)
        layout.addLayout(bottom)
        self.tabs.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)

        self.follow.toggled.connect(lambda on: on and self._ask_for_snapshot())
        self.refresh_button.clicked.connect(self.refresh)
        self.open_button.clicked.connect(lambda: self.open_file())
        self.tabs.currentChanged.connect(self._tab_changed)
        self.label.currentIndexChanged.connect(self.redraw)
        self.truncation.valueChanged.connect(self._truncation_moved)
        self.save_png_button.clicked.connect(lambda: self.save_png())
        self.save_gif_button.clicked.connect(lambda: self.save_gif())
        self._set_result_actions()
        self._set_conditional(False, 10)
        # The form's rule (studio/field_input.py): the wheel changes a spin box, combo or slider only when
        # it has focus (a wheel passing over the dock redraws nothing), and Enter leaves a spin box.
        self._field_input = field_input.FieldInput(self)
        field_input.install(self, self._field_input)

    def _form(self, rows) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setContentsMargins(6, 6, 6, 6)
        for caption, widget in rows:
            form.addRow(caption, widget)
        return page

    def _spin(self, lo, hi, value, tip, decimals=None) -> QSpinBox | QDoubleSpinBox:
        spin = QSpinBox() if decimals is None else QDoubleSpinBox(decimals=decimals, singleStep=0.05)
        spin.setRange(lo, hi)
        spin.setValue(value)
        spin.setToolTip(tip)
        spin.valueChanged.connect(self.redraw)
        return spin

    def _interpolate_tab(self) -> QWidget:
        self.a, self.b = PickEditor(), PickEditor()
        self.b.set_seed(1)
        for editor in (self.a, self.b):
            editor.changed.connect(self.redraw)
        self.steps = self._spin(2, 32, 8, "Pictures along the way, both ends included.")
        self.mode = QComboBox()
        self.mode.addItem("Spherical", "spherical")
        self.mode.addItem("Linear", "linear")
        self.mode.setToolTip("Spherical turns from A's noise to B's at a typical length; linear goes straight "
                             "through the middle, where the noise is shorter than any the generator trained on "
                             "(pictures there often look washed out).")
        self.mode.currentIndexChanged.connect(self.redraw)
        return self._form([("A", self.a), ("B", self.b), ("Steps", self.steps), ("Path", self.mode)])

    def _class_tab(self) -> QWidget:
        self.class_columns = self._spin(1, 16, 8, "Noise vectors: one per column, shared by every class (row).")
        self.class_seed = self._spin(0, MAX_SEED, 0, "Seed of the columns' noise.")
        return self._form([("Columns", self.class_columns), ("Seed", self.class_seed)])

    def _walk_tab(self) -> QWidget:
        self.walk_start = PickEditor()
        self.walk_start.changed.connect(self.redraw)
        self.walk_frames = self._spin(4, 240, 40, f"Frames in the loop, played at {WALK_FPS} a second.")
        self.walk_reach = self._spin(0.05, 1.0, 0.5, "How far the walk strays from its start: small wobbles "
                                     "around it, 1 crosses the whole space.", decimals=2)
        self.walk_side = QComboBox()
        self.walk_side.addItem("1 sample", 1)
        self.walk_side.addItem("4 × 4 samples", 4)
        self.walk_side.setToolTip("Walk one sample, or sixteen at once (the first from the start, the others "
                                  "from the seed).")
        self.walk_side.currentIndexChanged.connect(self.redraw)
        self.walk_seed = self._spin(0, MAX_SEED, 0, "Seed of the walk's turning points.")
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Play the loop; press again to stop.")
        self.play_button.toggled.connect(self._play_toggled)
        return self._form([("Start", self.walk_start), ("Frames", self.walk_frames), ("Reach", self.walk_reach),
                           ("Show", self.walk_side), ("Seed", self.walk_seed), ("", self.play_button)])

    def _perturb_tab(self) -> QWidget:
        self.centre = PickEditor()
        self.centre.changed.connect(self.redraw)
        self.variations = self._spin(3, 99, 15, "Neighbours drawn around the centre.")
        self.spread = self._spin(0.05, 3.0, 0.4, "How far the neighbours' noise strays from the centre's "
                                 "(standard deviation): small gives near copies.", decimals=2)
        self.perturb_seed = self._spin(0, MAX_SEED, 0, "Seed of the neighbours.")
        return self._form([("Centre", self.centre), ("Variations", self.variations), ("Spread", self.spread),
                           ("Seed", self.perturb_seed)])

    # --- sources ---

    def open_file(self, path: str | None = None) -> None:
        """Explore a saved generator (a run folder, generator.safetensors or its .json)."""
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Explore a saved generator", self._folder(),
                                                  "Generators (*.safetensors generator.json)")
        if not path:
            return
        self.file_path = str(path)
        self._start_renderer().set_file(self.file_path)
        self._set_note("Loading the generator…")

    def refresh(self) -> None:
        """The newest weights: the file read again, or a fresh snapshot of the live run."""
        if self.source is not None and self.source.kind == "file" and self.file_path:
            self._start_renderer().set_file(self.file_path)
        elif not self._ask_for_snapshot(force=True) and (self.saved_generator or self.file_path):
            self.open_file(self.saved_generator or self.file_path)

    def _live(self) -> bool:
        return self.session is not None and self.session.active

    def _ask_for_snapshot(self, force: bool = False) -> bool:
        """Ask the trainer for its sampling generator, once at a time, when someone looks (or on Refresh)."""
        if not self._live() or not (force or self.isVisible()):
            return False
        if self._awaiting_snapshot:
            self._stale = True  # newer weights than the answer on its way: ask again when it comes
        else:
            self._awaiting_snapshot = self.session.request_snapshot()
        return True

    def _on_snapshot(self, snapshot: ev.GeneratorSnapshot) -> None:
        if not self._awaiting_snapshot:
            return  # asked for by someone else
        self._awaiting_snapshot = False
        model = getattr(self, "_model", None)
        if model is not None and model.name:
            name = model.name
        else:
            name = f"run {Path(self.session.run_dir).name}" if self.session.run_dir else "the run"
        self._start_renderer().set_snapshot(snapshot, name)
        if self._stale:
            self._stale = False
            self._ask_for_snapshot(force=True)

    def _on_started(self, _started) -> None:
        self.saved_generator = None
        self._ask_for_snapshot()

    def _on_finished(self, finished) -> None:
        """The run stopped: keep its last snapshot on screen, or explore the generator it saved on the way
        out (never "No generator yet" for a run that just trained)."""
        self._awaiting_snapshot = self._stale = False  # a request the trainer did not serve
        run_dir = getattr(finished, "run_dir", "") or self.session.run_dir or ""
        saved = RunFolder(run_dir).generator if run_dir else None
        self.saved_generator = str(saved) if saved is not None and saved.is_file() else None
        if self.source is not None and self.source.kind == "live":
            self._set_note(f"The run has stopped: this is its snapshot at step {self.source.step:,}"
                           + ("; Refresh explores the generator it saved." if self.saved_generator else "."))
        elif self.source is None and self.isVisible():
            self._explore_saved()

    def follow_run(self, model) -> None:
        """The run shown's name heads a live snapshot; a live snapshot of an earlier run does not stay."""
        self._model = model
        model.cleared.connect(self._run_changed)

    def _run_changed(self) -> None:
        if self.source is not None and self.source.kind == "live":
            self.source = None
            self.source_label.setText("No generator yet: the run shown has not drawn one.")
            self.source_label.setToolTip("")

    def show_run(self, run_dir: str) -> None:
        """A run opened to look at: the explorer shows the generator it saved (now, or once shown), not
        what it showed before."""
        saved = RunFolder(run_dir).generator
        self.saved_generator = str(saved) if saved.is_file() else None
        if self.saved_generator and self.file_path != self.saved_generator:
            self.source = None
            if self.isVisible():
                self._explore_saved()

    def _explore_saved(self) -> bool:
        """No generator shown yet: the stopped run's saved one, if it left one."""
        if self.source is not None or not self.saved_generator or self.file_path == self.saved_generator:
            return False
        self.open_file(self.saved_generator)
        return True

    def _on_samples(self, _samples) -> None:
        following = self.source is None or self.source.kind == "live"
        if self.follow.isChecked() and following:
            self._ask_for_snapshot()

    def _on_source(self, info: SourceInfo) -> None:
        self.source = info
        self.source_label.setText(info.text)
        self.source_label.setToolTip(info.text)
        self._set_note("")
        self._set_conditional(info.conditional, info.num_classes)
        self.source_changed.emit(info)
        self.redraw()

    def _set_conditional(self, conditional: bool, classes: int) -> None:
        self.tabs.setTabEnabled(CLASS_GRID, conditional)
        self.tabs.setTabToolTip(CLASS_GRID, "Rows are classes; every column shares one noise vector."
                                if conditional else CLASS_GRID_OFF)
        if self.label.count() != classes:
            self.label.blockSignals(True)
            self.label.clear()
            self.label.addItems([str(c) for c in range(classes)])
            self.label.blockSignals(False)
        self.label.setEnabled(conditional)
        self.label_caption.setEnabled(conditional)

    # --- picking from the gallery ---

    def pick_cell(self, step: int, index: int) -> None:
        """A gallery click: sets A, then B, then A... and the walk's start and the neighbours' centre."""
        if self.source is not None and self.source.kind == "file":
            self._show_error("Gallery cells are the live run's fixed noise; to explore this generator file, "
                             "pick samples by seed.")
            return
        editors = [self.a if self.next_pick == "A" else self.b, self.walk_start, self.centre]
        for editor in editors:
            editor.blockSignals(True)  # one render for the whole pick, below
            editor.set_cell(index, step)
            editor.blockSignals(False)
        if self.source is not None and 0 <= index < len(self.source.cell_classes):
            self.label.blockSignals(True)
            self.label.setCurrentIndex(self.source.cell_classes[index])  # the class of the cell's row
            self.label.blockSignals(False)
        self._set_note(f"{self.next_pick} = gallery cell {index}; the next click sets "
                       f"{'B' if self.next_pick == 'A' else 'A'}.")
        self.next_pick = "B" if self.next_pick == "A" else "A"
        self.redraw()

    # --- requests ---

    def request(self) -> Request:
        """The request the controls describe now, with a fresh id."""
        common = {"id": next(self._ids), "psi": self.psi, "label": max(0, self.label.currentIndex())}
        tab = self.tabs.currentIndex()
        if tab == CLASS_GRID:
            return ClassGridRequest(columns=self.class_columns.value(), seed=self.class_seed.value(), **common)
        if tab == WALK:
            return WalkRequest(start=self.walk_start.pick(), frames=self.walk_frames.value(),
                               reach=self.walk_reach.value(), side=self.walk_side.currentData(),
                               seed=self.walk_seed.value(), **common)
        if tab == PERTURB:
            return PerturbRequest(centre=self.centre.pick(), n=self.variations.value(), sigma=self.spread.value(),
                                  seed=self.perturb_seed.value(), **common)
        return InterpolateRequest(a=self.a.pick(), b=self.b.pick(), steps=self.steps.value(),
                                  mode=self.mode.currentData(), **common)

    @property
    def psi(self) -> float:
        return self.truncation.value() / 100

    def redraw(self) -> int | None:
        """Send what the controls describe to the renderer (newest wins); returns its id, or None while
        there is no generator or nobody looks."""
        if self.source is None or self.renderer is None or not self.isVisible():
            return None
        request = self.request()
        self.last_request_id = request.id
        self.renderer.submit(request)
        return request.id

    def _truncation_moved(self, value: int) -> None:
        self.psi_label.setText(f"ψ {value / 100:.2f}")
        self.redraw()

    def _tab_changed(self, index: int) -> None:
        if index != WALK:
            self.play_button.setChecked(False)
        self.redraw()

    # --- results ---

    def _on_rendered(self, result: Rendered) -> None:
        if result.request_id < self._shown_id:
            return  # older than what is on screen
        self._shown_id = result.request_id
        self.result = result
        self.frame = 0
        self._show(result.grid, result.row_labels)
        self._set_note(result.note)
        self._set_result_actions()
        self.result_shown.emit(result)

    def _on_failed(self, request_id: int, message: str) -> None:
        if request_id == -1 or request_id >= self._shown_id:
            self._show_error(message)

    def _show_error(self, message: str) -> None:
        self._set_note(message, "error")
        self.failed.emit(message)

    def _set_note(self, text: str, level: str = "") -> None:
        self.note.setText(text)
        self.note.setToolTip(text)  # the label is elided to its room
        if self.note.property("level") != level:
            self.note.setProperty("level", level)
            self.note.style().unpolish(self.note)  # the stylesheet colours errors
            self.note.style().polish(self.note)

    def _show(self, image: np.ndarray, row_labels: tuple = ()) -> None:
        self.shown_image = image
        self.view.set_image(to_qimage(image), row_labels)

    def _set_result_actions(self) -> None:
        self.save_png_button.setEnabled(self.shown_image is not None)
        self.save_gif_button.setEnabled(bool(self.result and self.result.frames))

    # --- the walk ---

    def _play_toggled(self, on: bool) -> None:
        self.play_button.setText("Stop" if on else "Play")
        if on:
            self.timer.start()
        else:
            self.timer.stop()

    def _next_frame(self) -> None:
        if self.result is None or self.result.kind != "walk":
            return  # the walk is still being drawn
        frames = self.result.frames
        self.frame = (self.frame + 1) % len(frames)
        self._show(frames[self.frame])
        self.frame_shown.emit(self.frame)

    # --- saving ---

    def save_png(self, path: str | None = None) -> None:
        """The picture shown as a PNG, on a background job; an existing file is kept (the new one is -2...)."""
        if self.shown_image is None:
            return
        path = path or self._ask_path("Save the picture", "explorer.png", "PNG images (*.png)")
        if path:
            image = self.shown_image
            self.jobs.submit(lambda: write_picture(image, path), self._on_saved, self._show_error)

    def save_gif(self, path: str | None = None) -> None:
        """The interpolation, walk or neighbours as a looping GIF, on a background job; never overwrites."""
        if not (self.result and self.result.frames):
            return
        path = path or self._ask_path("Save the animation", "explorer.gif", "GIF animations (*.gif)")
        if path:
            frames, fps = self.result.frames, self.result.fps
            self.jobs.submit(lambda: write_gif(frames, path, fps), self._on_saved, self._show_error)

    def _ask_path(self, title: str, name: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, title, str(Path(self._folder()) / name), filters,
                                              options=QFileDialog.DontConfirmOverwrite)
        if path and Path(path).suffix.lower() != Path(name).suffix:
            path += Path(name).suffix
        return path

    def _on_saved(self, path: object) -> None:
        self._set_note(f"Saved {path}")
        self.saved.emit(str(path))

    def _folder(self) -> str:
        if self.file_path:
            return str(Path(self.file_path).parent)
        if self.session is not None and self.session.run_dir:
            return self.session.run_dir
        return str(Path.home())

    # --- the renderer's thread ---

    def _start_renderer(self) -> Renderer:
        if self.renderer is None:
            renderer = Renderer()
            thread = qthreads.thread_for(renderer, renderer.run, "gan-studio-explorer")
            renderer.rendered.connect(self._on_rendered)  # queued to this (the GUI) thread
            renderer.failed.connect(self._on_failed)
            renderer.source_ready.connect(self._on_source)
            self._thread, self.renderer = thread, renderer
            # Normal priority: at idle priority (SCHED_IDLE on Linux) a busy 2-core machine starved the
            # renderer outright (no walk drawn in a whole benchmark run); at normal priority its cost
            # is its CPU time, a few percent at most (bench/explorer_overhead.py, docs/benchmarks.md).
            thread.start()
        return self.renderer

    def shutdown(self) -> None:
        """Stop the renderer and wait for its thread (the window's closeEvent)."""
        self.timer.stop()
        if self._thread is None:
            return
        self.renderer.stop()  # a render in progress stops at its next batch
        qthreads.wait(self._thread)
        qthreads.release(self._thread, self.renderer)
        self._thread = self.renderer = None

    # --- visibility: draw only while someone looks ---

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._ask_for_snapshot() and not self._explore_saved():
            self.redraw()

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self.play_button.setChecked(False)
