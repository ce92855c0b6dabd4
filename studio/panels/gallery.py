"""The sample gallery: the newest fixed-noise grid, large and crisp, and a timeline.

Grids fill the space they get and stay crisp: a whole-number scale (every image
pixel an equal square) when that fills most of the space, else "sharp bilinear"
(nearest-neighbour up to the next whole multiple, then a smooth step down, so
only the seams between pixels blend). History is
bounded: the newest grids stay in memory; older ones are read back from the
run folder's samples/step_NNNNNN.png when scrubbed to (or thinned out when a
run has no folder). A right click on the grid or the timeline offers "Fork from
here…" when the run kept a checkpoint at the step shown. A double click on a sample
shows it alone, large (SampleView; Esc closes it). Scrubbed back, the timeline stops
following new grids until "Latest" jumps back to the newest.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.runs.folder import RunFolder, last_checkpoint_step
from studio.widgets.elided_label import ElidedLabel

# The newest grids stay in RAM up to this many bytes (a 64-sample grid is 0.2 MB at 28 px, 3.3 MB at
# 128 px); older ones are read back from the run folder's PNGs when scrubbed to, so a long run's
# history costs disk, not memory (docs/benchmarks.md: gallery memory).
MEMORY_BUDGET = 24 * 2**20
MIN_IN_MEMORY = 2
MAX_STEPS = 5000  # history entries for runs without a folder (thinned beyond)
WHOLE_SCALE_FILL = 0.9  # take a whole-number scale when it fills at least this share of the space
SAMPLE_VIEW_PX = 448  # the large view of one sample starts about this big (it fits a 1366x768 screen)


def to_qimage(grid: np.ndarray) -> QImage:
    """uint8 HxWx3 -> a QImage that owns a copy of the pixels."""
    grid = np.ascontiguousarray(grid)
    h, w = grid.shape[:2]
    return QImage(grid.data, w, h, 3 * w, QImage.Format_RGB888).copy()


class GridView(QWidget):
    """Paints one grid scaled to fit, nearest-neighbour, with class labels beside the rows.

    With `columns` set (the grid's layout: core.sharing.export.grid_image's 2-pixel gaps), a click on a
    cell emits `cell_clicked` with its row-major index."""

    cell_clicked = Signal(int)
    cell_double_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.image: QImage | None = None
        self.columns = 0  # 0: the layout is unknown, clicks pick nothing
        self._upscaled: tuple[int, QImage] | None = None  # (factor, image) for sharp-bilinear drawing
        self.row_labels: tuple = ()
        self.placeholder = "Samples appear here as the generator learns."
        self.setMinimumSize(200, 200)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setFocusPolicy(Qt.ClickFocus)  # a click takes focus from a form field, so Space pauses again

    def set_image(self, image: QImage | None, row_labels: tuple = ()) -> None:
        self.image, self.row_labels = image, tuple(row_labels)
        self._upscaled = None
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(420, 420)

    def target_rect(self) -> QRect:
        margin = 28 if self.row_labels else 6
        avail_w, avail_h = self.width() - margin - 6, self.height() - 12
        w, h = self.image.width(), self.image.height()
        scale = max(min(avail_w / w, avail_h / h), 0.05)
        whole = math.floor(scale)
        if whole >= 1 and whole >= WHOLE_SCALE_FILL * scale:
            scale = whole  # whole-pixel steps: every image pixel becomes an equal square
        tw, th = round(w * scale), round(h * scale)
        return QRect(margin + (avail_w - tw) // 2, 6 + (avail_h - th) // 2, tw, th)

    def cell_at(self, pos: QPoint) -> int | None:
        """The row-major index of the grid cell under `pos` (widget pixels), or None."""
        if self.image is None or self.columns < 1:
            return None
        rect = self.target_rect()
        if not rect.contains(pos):
            return None
        w, h = self.image.width(), self.image.height()
        x = (pos.x() - rect.left()) * w / rect.width()
        y = (pos.y() - rect.top()) * h / rect.height()
        pitch = (w - 2) / self.columns  # one image and its gap; images are square
        rows = max(1, round((h - 2) / pitch))
        column = min(self.columns - 1, max(0, int((x - 1) // pitch)))
        row = min(rows - 1, max(0, int((y - 1) // pitch)))
        return row * self.columns + column

    def mousePressEvent(self, event) -> None:
        index = self.cell_at(event.position().toPoint()) if event.button() == Qt.LeftButton else None
        if index is None:
            super().mousePressEvent(event)
            return
        self.cell_clicked.emit(index)

    def mouseDoubleClickEvent(self, event) -> None:
        index = self.cell_at(event.position().toPoint()) if event.button() == Qt.LeftButton else None
        if index is None:
            super().mouseDoubleClickEvent(event)
            return
        self.cell_double_clicked.emit(index)

    def cell_image(self, index: int) -> QImage | None:
        """The sample at row-major `index`, cut out of the grid (core.sharing.export.grid_image: 2-pixel gaps)."""
        if self.image is None or self.columns < 1:
            return None
        pitch = (self.image.width() - 2) // self.columns
        row, column = divmod(index, self.columns)
        rect = QRect(2 + column * pitch, 2 + row * pitch, pitch - 2, pitch - 2)
        if pitch < 3 or not self.image.rect().contains(rect):
            return None
        return self.image.copy(rect)

    def _sharp_source(self, factor: int) -> QImage:
        """The image blown up `factor` times nearest-neighbour (cached): a smooth step down from it
        keeps pixels square and blends only their seams."""
        if factor <= 1:
            return self.image
        if self._upscaled is None or self._upscaled[0] != factor:
            big = self.image.scaled(self.image.width() * factor, self.image.height() * factor,
                                    Qt.IgnoreAspectRatio, Qt.FastTransformation)
            self._upscaled = (factor, big)
        return self._upscaled[1]

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#17181b"))
        if self.image is None:
            p.setPen(QColor("#7d8590"))
            p.drawText(self.rect(), Qt.AlignCenter | Qt.TextWordWrap, self.placeholder)
            return
        rect = self.target_rect()
        w, h = self.image.width(), self.image.height()
        if rect.width() % w == 0 and rect.height() % h == 0:
            p.setRenderHint(QPainter.SmoothPixmapTransform, False)  # whole multiple: exact squares
            p.drawImage(rect, self.image)
        else:
            p.setRenderHint(QPainter.SmoothPixmapTransform, True)
            p.drawImage(rect, self._sharp_source(math.ceil(rect.width() / w)))
        if self.row_labels:
            p.setPen(QColor("#c9d1d9"))
            font = QFont(self.font())
            font.setBold(True)
            p.setFont(font)
            row_h = rect.height() / len(self.row_labels)
            for i, label in enumerate(self.row_labels):
                r = QRect(rect.left() - 26, int(rect.top() + i * row_h), 22, int(row_h))
                p.drawText(r, Qt.AlignRight | Qt.AlignVCenter, str(label))


class PixelView(QWidget):
    """One small picture drawn large at the biggest whole-number scale that fits: square pixels."""

    def __init__(self, image: QImage, parent: QWidget | None = None):
        super().__init__(parent)
        self.image = image
        self.setMinimumSize(image.width(), image.height())
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)

    def scale(self) -> int:
        return max(1, min(self.width() // self.image.width(), self.height() // self.image.height()))

    def sizeHint(self) -> QSize:
        k = max(1, SAMPLE_VIEW_PX // max(self.image.width(), self.image.height()))
        return QSize(self.image.width() * k, self.image.height() * k)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#17181b"))
        k = self.scale()
        w, h = self.image.width() * k, self.image.height() * k
        p.setRenderHint(QPainter.SmoothPixmapTransform, False)  # nearest neighbour
        p.drawImage(QRect((self.width() - w) // 2, (self.height() - h) // 2, w, h), self.image)


class SampleView(QDialog):
    """One sample of a grid, large, with its step and cell; Esc (or closing it) puts it away."""

    def __init__(self, image: QImage, step: int | None, index: int, parent: QWidget | None = None):
        super().__init__(parent, objectName="sampleView")
        self.step, self.index = step, index
        where = f"step {step:,} · sample {index + 1}" if step is not None else f"sample {index + 1}"
        self.setWindowTitle(f"Sample · {where}")
        self.view = PixelView(image)
        self.caption = QLabel(f"{where} ({image.width()}×{image.height()} px, nearest-neighbour) · Esc closes",
                              objectName="sampleCaption")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.caption)
        self.setAttribute(Qt.WA_DeleteOnClose)


class Gallery(QWidget):
    """Newest grid plus a timeline slider over every grid of the run."""

    grid_shown = Signal(int)  # the step of the grid now on screen
    cell_picked = Signal(int, int)  # step, row-major cell index: a click on a sample of the grid
    fork_requested = Signal(str, int)  # run folder, step: "Fork from here…" on a step with a kept checkpoint

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.steps: list[int] = []
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self.row_labels: tuple = ()
        self.run_dir: Path | None = None
        self.follow = True  # jump to each new grid unless the person is scrubbing back
        self.sample_view: SampleView | None = None  # the large view of one sample, while open

        self.training = False  # the run shown trains: no fork from here until it stops
        self.title = ElidedLabel("Samples", objectName="galleryTitle")  # a long title never widens the window
        self.view = GridView()
        self.slider = QSlider(Qt.Horizontal, objectName="timeline")
        self.slider.setEnabled(False)
        self.slider.setToolTip("Scrub through every grid of this run: the same noise, step by step.")
        self.step_label = QLabel("—", objectName="timelineLabel")
        self.step_label.setMinimumWidth(80)
        self.slider.setMinimumWidth(120)  # the timeline stays usable however narrow the gallery gets
        self.step_label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.latest = QToolButton(text="Latest", objectName="jumpToLatest")
        self.latest.setToolTip("Back to the newest grid, and follow new ones as they come")
        self.latest.setEnabled(False)
        self.latest.clicked.connect(self.jump_to_latest)

        row = QHBoxLayout()
        row.addWidget(self.slider, 1)
        row.addWidget(self.step_label)
        row.addWidget(self.latest)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)
        layout.addLayout(row)
        self.slider.valueChanged.connect(self._show_index)
        self.view.cell_clicked.connect(self._pick)
        self.view.cell_double_clicked.connect(self.show_sample)
        for widget in (self.view, self.slider):
            widget.setContextMenuPolicy(Qt.CustomContextMenu)
            widget.customContextMenuRequested.connect(lambda pos, w=widget: self._show_menu(w, pos))

    def follow_run(self, model) -> None:
        """The run shown (studio/model/shown_run.py): its grids, history and live, and nothing of the last one."""
        model.cleared.connect(lambda: self._show_run(model))
        model.samples.connect(lambda s: self.add_grid(s.step, s.grid, s.row_labels, s.columns))
        model.history_samples.connect(self.set_history)
        model.best_reading.connect(self.mark_best)
        model.changed.connect(lambda: self._title_of(model))
        model.run_state_changed.connect(lambda _: setattr(self, "training", model.training))

    def mark_best(self, best) -> None:
        """The run's best reading so far (ev.BestReading): its step is marked on the timeline's label."""
        self.best = best
        self._label()

    def _show_run(self, model) -> None:
        self.best = None
        self.reset(model.run_dir, "Samples")
        self._title_of(model)
        if model.origin == "attached" and model.run_dir is not None:
            self.load_history(model.run_dir)  # a followed run's grids are in its folder already

    def _title_of(self, model) -> None:
        if model.run_dir is not None or model.origin == "generator":
            attached = " (attached)" if model.origin == "attached" else ""
            if model.origin != "generator":
                self.title.setText(f"Samples · {model.name}{attached}")

    # --- data in ---

    def reset(self, run_dir: str | Path | None = None, title: str = "Samples") -> None:
        """A new run (or a single grid): nothing of the last one stays, its large sample view included."""
        self.steps.clear()
        self._cache.clear()
        self.row_labels = ()
        if self.sample_view is not None:
            self.sample_view.close()
            self.sample_view = None
        self.run_dir = Path(run_dir) if run_dir else None
        self.follow = True
        self.title.setText(title)
        self.view.set_image(None)
        self.view.columns = 0
        self.slider.blockSignals(True)
        self.slider.setRange(0, 0)
        self.slider.blockSignals(False)
        self.slider.setEnabled(False)
        self.latest.setEnabled(False)
        self.step_label.setText("—")

    def load_history(self, run_dir: str | Path, up_to: int | None = None) -> None:
        """Steps of grids already in a run folder (for a resumed run); pixels load on demand."""
        self.run_dir = Path(run_dir)
        for step in RunFolder(self.run_dir).sample_steps(up_to):
            if step not in self.steps:
                self.steps.append(step)
        self.steps.sort()
        self._update_slider(follow=True)

    def set_history(self, run_dir: str | Path, steps: list[int]) -> None:
        """Steps of grids already in a run folder, listed off the GUI thread (load_history lists
        them here); pixels load on demand."""
        self.run_dir = Path(run_dir)
        self.steps[:] = sorted(set(self.steps) | set(steps))
        self._update_slider(follow=True)

    def add_grid(self, step: int, grid: np.ndarray, row_labels: tuple = (), columns: int = 0) -> None:
        """A new grid; `columns` (the trainer's Samples.columns) lets a click pick one of its cells."""
        self.row_labels = tuple(row_labels)
        if columns:
            self.view.columns = columns
        if self.steps and step <= self.steps[-1]:  # a resumed or rolled-back run: drop the future
            while self.steps and self.steps[-1] >= step:
                self._cache.pop(self.steps.pop(), None)
        self.steps.append(step)
        self._cache[step] = grid
        while len(self._cache) > MIN_IN_MEMORY and sum(g.nbytes for g in self._cache.values()) > MEMORY_BUDGET:
            old, _ = self._cache.popitem(last=False)
            if self.run_dir is None and old in self.steps and len(self.steps) > MAX_STEPS:
                self.steps.remove(old)
        if self.run_dir is None:
            # Without a folder, evicted grids cannot be reloaded: the timeline holds only the cached ones.
            self.steps = [s for s in self.steps if s in self._cache]
        self._update_slider(follow=self.follow)

    def show_single(self, grid: np.ndarray, title: str, row_labels: tuple = ()) -> None:
        """One grid with no timeline (samples from a loaded generator)."""
        self.reset(None, title)
        self.add_grid(0, grid, row_labels)
        self.step_label.setText("")

    # --- timeline ---

    @property
    def current_step(self) -> int | None:
        i = self.slider.value()
        return self.steps[i] if 0 <= i < len(self.steps) else None

    def jump_to_latest(self) -> None:
        """Show the newest grid; new grids are followed again from here."""
        if self.steps:
            self.slider.setValue(len(self.steps) - 1)  # _show_index: follow is on again

    def show_sample(self, index: int) -> SampleView | None:
        """The sample at `index` of the grid shown, alone and large, in a window of its own."""
        image = self.view.cell_image(index)
        if image is None:
            return None
        if self.sample_view is not None:
            self.sample_view.close()
        self.sample_view = SampleView(image, self.current_step if self.step_label.text() else None, index, self)
        self.sample_view.finished.connect(lambda *_ , v=self.sample_view: self._sample_closed(v))
        self.sample_view.show()
        return self.sample_view

    def _sample_closed(self, view: SampleView) -> None:
        if self.sample_view is view:
            self.sample_view = None

    def _update_slider(self, follow: bool) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, len(self.steps) - 1))
        self.slider.blockSignals(False)
        self.slider.setEnabled(len(self.steps) > 1)
        if follow:
            self.slider.blockSignals(True)
            self.slider.setValue(len(self.steps) - 1)
            self.slider.blockSignals(False)
            self._show_index(len(self.steps) - 1)
        else:
            self._label()

    def _show_index(self, index: int) -> None:
        if not 0 <= index < len(self.steps):
            return
        self.follow = index == len(self.steps) - 1
        self.latest.setEnabled(not self.follow)
        step = self.steps[index]
        grid = self._grid(step)
        self.view.set_image(to_qimage(grid) if grid is not None else None, self.row_labels)
        self._label()
        self.grid_shown.emit(step)

    def _pick(self, index: int) -> None:
        step = self.current_step
        if step is not None:
            self.cell_picked.emit(step, index)

    def _label(self) -> None:
        step = self.current_step
        if step is not None:
            best = getattr(self, "best", None)
            star = " ★" if best is not None and best.step == step else ""
            self.step_label.setText(f"step {step:,}{star}  ({self.slider.value() + 1}/{len(self.steps)})")
            self.step_label.setToolTip(f"The run's best {best.reading} so far, {best.value:.3g}, was read at step "
                                       f"{best.step:,} (★ on its grid)" if best is not None else "")

    # --- fork from here ---

    def kept_checkpoint(self, step: int | None = None) -> Path | None:
        """The run's kept checkpoint at `step` (default: the step shown), or None."""
        step = self.current_step if step is None else step
        if self.run_dir is None or step is None:
            return None
        run = RunFolder(self.run_dir)
        path = run.kept_checkpoint(step)
        if not path.is_file() and step == last_checkpoint_step(self.run_dir):
            path = run.last_checkpoint  # a finished run's last step: its latest checkpoint
        return path if path.is_file() else None

    def context_menu(self) -> QMenu:
        """The grid's and timeline's menu: "Fork from here…", enabled on a step with a kept checkpoint."""
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        step, kept = self.current_step, self.kept_checkpoint()
        fork = menu.addAction("Fork from here…")
        fork.setObjectName("forkFromHere")
        fork.setEnabled(kept is not None and not self.training)
        if self.training:
            fork.setText("Fork from here… (stop the run first)")
            fork.setToolTip("A fork starts a run of its own: this window trains one run at a time.")
        elif kept is None and step is not None and self.run_dir is not None:
            fork.setText(f"Fork from here… (no checkpoint kept at step {step:,})")
            fork.setToolTip("Runs keep a checkpoint every run.keep_every steps (the newest run.keep_last of them).")
        else:
            fork.setToolTip("A new run from this moment, starting with this run's settings (any difference "
                            "in the form is yours to confirm); this run is only read.")
        fork.triggered.connect(lambda: self.fork_requested.emit(str(self.run_dir), step))
        return menu

    def _show_menu(self, widget: QWidget, pos: QPoint) -> None:
        menu = self.context_menu()
        menu.exec(widget.mapToGlobal(pos))
        menu.deleteLater()

    def _grid(self, step: int) -> np.ndarray | None:
        if step in self._cache:
            return self._cache[step]
        if self.run_dir is None:
            return None
        image = QImage(str(RunFolder(self.run_dir).sample(step)))
        if image.isNull():
            return None
        image = image.convertToFormat(QImage.Format_RGB888)
        w, h, bpl = image.width(), image.height(), image.bytesPerLine()
        arr = np.frombuffer(image.constBits(), np.uint8, count=h * bpl).reshape(h, bpl)[:, :3 * w]
        return arr.reshape(h, w, 3).copy()
