"""Sample quality: the Frechet distance over steps and the newest class histogram (for other pictures
than digits: the picture reading's, core/quality/picture_reading.py, with the groups of the folder's
pictures for classes, each drawn against its share of the folder).

Fed by core's Quality readings (every run.quality_every steps, rare enough to
draw at once, no timer needed). A conditional run adds "drawn as requested"
accuracy on a right-hand axis. Bars of classes the generator (almost) never
draws turn orange and a warning names them. When the reading does not apply
(quality_every = 0, FID without its weights) the panel says why instead of
showing empty plots; where the Inception weights are missing, a button gets
them on a job thread (core.quality.inception.download_inception_weights, as `python main.py
fetch-inception` does). Other runs' Frechet distances can be overlaid
(set_overlay): thin lines, a colour and a legend entry per run, in the plot's title row
(studio/plot_legend.py: it covers no curve, and a click on it hides none).
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from core import events as ev
from core.quality.kinds_drawn import UNDER_SHARE, KindsDrawn, kinds_drawn
from core.runs.folder import RunFolder, image_quality_from_row, quality_from_row, read_rows
from studio.bridge.jobs import JobRunner
from studio.panels.loss_plots import EMPTY_X, StepOrTimeAxis
from studio.widgets.elided_label import WrappedLabel
from studio.widgets.plot_legend import TitleRowLegend

CLASSES = 10
FD_COLOUR = "#4fc3f7"
ACC_COLOUR = "#81c784"
BAR_COLOUR = "#5c8fd6"
MISSING_COLOUR = "#ffb74d"
SHARE_COLOUR = "#b0b6be"  # a picture reading's group: its share of the folder, outlined
INFO_WIDTH = 230
FD_FLOOR = 1e-2  # a log axis cannot show 0
TITLE_SIZE, LEGEND_SIZE = "9pt", "8pt"
FD_TITLE = "Fréchet distance"  # short: a title sets its plot's minimum width; the help says lower is better
FID_TITLE = "FID (Inception-v3)"
UNSURE = 0.5  # mean classifier confidence under this: the samples barely look like digits yet

FD_HELP = ("Fréchet distance between the features of a small digit classifier on generated digits and on "
           "real ones (the bundled MNIST sample). Lower is better: real digits score about 1, an untrained "
           "generator about 150. Readings compare only at the same sample count (run.quality_samples).")
HIST_HELP = ("Which digit the classifier sees in each generated sample, as a share of the samples. A healthy "
             "generator draws every digit about equally often (the dashed line). A class under a quarter of "
             "its share counts as missing: a sign of mode collapse.")
FID_HELP = ("FID: Fréchet distance between Inception-v3 features of generated and of real pictures, the "
            "standard measure for photos and drawings. Lower is better; it compares only at the same sample count.")
ACC_HELP = "Conditional GAN: the share of samples the classifier reads as the digit that was asked for."
DIGITS_SHORT = ("Fréchet distance between a small digit classifier's features of generated and of real digits. "
                "Lower is better; real digits score about 1.")
FID_SHORT = ("FID: Fréchet distance between Inception-v3 features of generated and of real pictures. "
             "Lower is better.")
DIGITS_OFF = ("The Fréchet distance and class histogram come from a small classifier of handwritten digits, so "
              "they only mean something for MNIST and the bundled digits.")
PICTURES_HELP = ("The picture reading: Fréchet distance between the features of fixed, randomly initialised "
                 "networks on generated pictures and on the folder's own. Lower is better: the folder's own "
                 "pictures read a few (about 7 for the Dungeon Crawl tiles). Nothing is downloaded. It compares "
                 "runs on the same folder at the same sample count (run.quality_samples); not other folders, and "
                 "not published FIDs.")
GROUPS_HELP = ("How often the generator draws each group of look-alike pictures of the folder (k-means in the "
               "reading's features), against how often the folder holds it (the dashed outlines). A group drawn "
               "under a quarter of its share counts as missing: a sign of mode collapse.")
KINDS_HELP = ("How often the generator draws each sub-folder of the folder: each sample counts for the sub-folder "
              "of the group of look-alike pictures it is nearest (k-means in the reading's features, made inside "
              "each sub-folder), a rough count. The dashed outlines are the same count made on the folder's own "
              "pictures, so a generator that draws like the folder fills them. A sub-folder drawn under "
              f"{UNDER_SHARE:.0%} of its share turns orange.")
PICTURES_SHORT = ("Fréchet distance between fixed random networks' features of generated and of the folder's "
                  "pictures. Lower is better; nothing downloaded.")
PICTURES_OFF = ("For pictures, quality is the picture reading (fixed random networks' features, every "
                "run.quality_every steps) and FID where the Inception-v3 weights are on disk.")
FID_OFF = ("For these pictures, quality is FID and KID: how far Inception-v3's features of the generated "
           "pictures are from those of the real ones. Lower is better.")
FETCH_HELP = ("Download torchvision's Inception-v3 weights (about 100 MB, hash-checked) into torch's cache, as "
              "`python main.py fetch-inception` does. The app never downloads them on its own; once they are "
              "there, the next run on pictures gets FID and KID readings.")


class LogAxis(pg.AxisItem):
    """A y axis over log10(values) with ticks at 1, 2, 5 x 10^k, written as plain numbers.

    (pyqtgraph's own log mode labels every minor tick as 9·10¹ and crowds a short axis.)"""

    def tickValues(self, minVal, maxVal, size):
        lo, hi = math.floor(minVal), math.ceil(maxVal)
        major = [float(k) for k in range(lo, hi + 1) if minVal <= k <= maxVal]
        minor = [math.log10(m) + k for k in range(lo, hi + 1) for m in (2, 5) if minVal <= math.log10(m) + k <= maxVal]
        if len(major) + len(minor) > max(2, size // 18):  # too little room: decades only
            minor = []
        return [(1.0, major), (0.5, minor)]

    def tickStrings(self, values, scale, spacing):
        return [f"{10 ** v:.3g}" for v in values]


def read_fid_csv(path: str | Path, up_to: int | None = None) -> list[ev.ImageQuality]:
    """FID/KID readings from a run folder's fid.csv; bad rows are skipped."""
    return read_rows(path, image_quality_from_row, up_to)


def read_quality_csv(path: str | Path, up_to: int | None = None) -> list[ev.Quality]:
    """Readings from a run folder's quality.csv (written by core.runs.writer); bad rows are skipped."""
    return read_rows(path, quality_from_row, up_to)


def collapse_text(q: ev.Quality) -> tuple[str, str]:
    """(message, level) about mode collapse in plain words: level 'warning', 'note' when the samples are too
    unclear for the histogram to mean much (early in training), or ('', '') when it looks healthy."""
    if not (q.missing_classes or q.collapse):
        return "", ""
    names = ", ".join(str(c) for c in q.missing_classes)
    if q.reference:  # the picture reading: groups of the folder's pictures, no classifier's confidence
        if q.missing_classes:
            return (f"Mode collapse: G (almost) never draws group{'s' if len(q.missing_classes) > 1 else ''} {names} "
                    "of the folder's pictures", "warning")
        top = int(np.argmax(q.histogram)) if q.histogram else 0
        share = q.histogram[top] if q.histogram else 0.0
        return (f"Possible mode collapse: samples bunch up in few groups (group {top} is {share:.0%}, "
                f"{q.reference[top] if top < len(q.reference) else 0:.0%} of the folder)", "warning")
    if q.histogram:
        top = int(np.argmax(q.histogram))
        bunched = f"samples bunch up in few classes ({top} is {q.histogram[top]:.0%})"
    else:
        bunched = "samples bunch up in few classes"
    if q.confidence < UNSURE:
        what = f"classes {names} look missing" if q.missing_classes else bunched
        text = (f"{what[:1].upper()}{what[1:]}, but the classifier recognises few samples as digits yet "
                f"(confidence {q.confidence:.0%}): too early to call it mode collapse.")
        return text, "note"
    if q.missing_classes:
        return f"Mode collapse: G (almost) never draws {names}", "warning"
    return f"Possible mode collapse: {bunched}", "warning"


class QualityPanel(QWidget):
    """Frechet distance curve (log axis) + class histogram bars, or the reason readings are off."""

    updated = Signal()  # a reading was drawn (for tests)

    fetch_progress = Signal(int, int)  # bytes done, total (0: unknown), emitted on the download's job thread
    fetched = Signal(str)  # the Inception weights file, downloaded
    fetch_failed = Signal(str)

    def __init__(self, parent: QWidget | None = None, jobs: JobRunner | None = None):
        super().__init__(parent)
        self.jobs = jobs or JobRunner(self)
        self._fetch_cancel = threading.Event()
        self.fetching = False
        self.steps: list[int] = []
        self.frechet: list[float] = []
        self.accuracy: list[float] = []  # NaN where a reading had none
        self.latest: ev.Quality | None = None
        self.off_reason = ""
        self.warning_level = ""  # 'warning', 'note' or ''
        self.overlays: dict[str, pg.PlotDataItem] = {}  # key (a run folder) -> another run's FD curve

        # Left: the numbers in words. Right: the curve and the histogram (or why there are none).
        self.title = QLabel("Sample quality", objectName="qualityTitle")
        self.title.setToolTip(FD_HELP)
        self.value = QLabel(objectName="qualityValue")
        self.value.setToolTip(FD_HELP)
        self.summary = QLabel(objectName="qualitySummary", wordWrap=True)
        self.summary.setTextFormat(Qt.RichText)
        self.summary.setToolTip(FD_HELP)
        self.help = QLabel(DIGITS_SHORT, objectName="qualityHelp", wordWrap=True)
        self.help.setToolTip(FD_HELP)
        self.fetch_button = QPushButton("Get the Inception weights", objectName="fetchInception")
        self.fetch_button.setToolTip(FETCH_HELP)
        # Never the keys' holder: a focused button that hides hands the focus to the next field in the
        # chain (the form's Run name), where Space then types instead of pausing.
        self.fetch_button.setFocusPolicy(Qt.NoFocus)
        self.fetch_button.clicked.connect(self.fetch_weights)
        self.fetch_bar = QProgressBar(objectName="fetchProgress")
        self.fetch_bar.setFixedWidth(INFO_WIDTH)
        self.fetch_note = WrappedLabel(objectName="fetchNote")
        for w in (self.fetch_button, self.fetch_bar, self.fetch_note):
            w.hide()
        self.fetch_progress.connect(self._on_fetch_progress)  # queued: emitted on the job thread
        self.warning = QLabel(objectName="collapseWarning", wordWrap=True)
        self.warning.setToolTip(HIST_HELP)
        self.warning.hide()
        info = QVBoxLayout()
        info.setContentsMargins(6, 2, 6, 2)
        info.setSpacing(4)
        for w in (self.title, self.value, self.summary, self.help):
            info.addWidget(w)
        info.addStretch(1)
        info.addWidget(self.warning)
        self.info = QWidget(objectName="qualityInfo")
        self.info.setLayout(info)
        self.info.setFixedWidth(INFO_WIDTH)

        self.fd_widget = pg.PlotWidget(axisItems={"left": LogAxis("left"), "bottom": StepOrTimeAxis("bottom")})
        self.fd_plot = self.fd_widget.getPlotItem()
        self.hist_widget = pg.PlotWidget()
        self.hist_widget.setToolTip(HIST_HELP)
        self.hist_plot = self.hist_widget.getPlotItem()
        self._build_fd_plot()
        self._build_hist_plot()
        self.graphics = QWidget()
        plots = QHBoxLayout(self.graphics)
        plots.setContentsMargins(0, 0, 0, 0)
        plots.setSpacing(2)
        plots.addWidget(self.fd_widget, 3)
        plots.addWidget(self.hist_widget, 2)

        self.off_label = WrappedLabel(objectName="qualityOff", alignment=Qt.AlignCenter)  # a reason may hold a path
        self.off_label.setTextFormat(Qt.RichText)
        # The weights' button, progress and outcome go under the reason, across the plots' width: in the
        # narrow column beside it a failure's sentence ran past the panel's bottom edge.
        fetch_row = QHBoxLayout()
        fetch_row.setContentsMargins(12, 0, 12, 6)
        fetch_row.addWidget(self.fetch_button)
        fetch_row.addWidget(self.fetch_bar)
        fetch_row.addWidget(self.fetch_note, 1)
        self.off_page = QWidget(objectName="qualityOffPage")
        off = QVBoxLayout(self.off_page)
        off.setContentsMargins(0, 0, 0, 0)
        off.setSpacing(4)
        off.addWidget(self.off_label, 1)
        off.addLayout(fetch_row)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.graphics)
        self.stack.addWidget(self.off_page)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.info)
        layout.addWidget(self.stack, 1)
        self.reset()

    # --- assembly ---

    def _build_fd_plot(self) -> None:
        p = self.fd_plot
        # The legend shares the title row (it holds entries only while other runs are overlaid); every
        # title change goes through _set_title, so the legend re-fits beside the new title.
        self.legend = TitleRowLegend(p, FD_TITLE, title_size=TITLE_SIZE, label_size=LEGEND_SIZE)
        self.legend.hide()
        p.showGrid(x=True, y=True, alpha=0.15)
        p.setLabel("bottom", "step")
        p.setXRange(0, EMPTY_X, padding=0)  # no reading yet: from step 0 (pyqtgraph's empty view is 0 to 1)
        p.getAxis("left").setWidth(38)
        p.setMouseEnabled(x=True, y=False)
        p.setContentsMargins(0, 0, 10, 0)  # room for the last step label when the right axis is hidden
        # Plotted as log10(FD) on a LogAxis: it falls from ~150 to ~2, so a log axis keeps the late gains visible.
        self.fd_curve = p.plot(pen=pg.mkPen(FD_COLOUR, width=2), symbol="o", symbolSize=5,
                               symbolBrush=FD_COLOUR, symbolPen=None)
        # Real digits score about 1: a faint reference line, kept in view to show how far there is to go.
        self.real_line = pg.InfiniteLine(pos=0.0, angle=0, movable=False,  # log10(1) = 0
                                         pen=pg.mkPen("#81c78480", width=1, style=Qt.DashLine),
                                         label="real digits ≈ 1",
                                         labelOpts={"position": 0.85, "color": "#81c784", "anchors": [(1, 1), (1, 1)]})
        p.addItem(self.real_line)
        # "Drawn as requested" (conditional runs): its own 0-100 % axis on the right.
        self.acc_view = pg.ViewBox(enableMouse=False)
        p.scene().addItem(self.acc_view)
        axis = p.getAxis("right")
        axis.linkToView(self.acc_view)
        axis.setTextPen(ACC_COLOUR)
        axis.setWidth(38)
        self.acc_view.setXLink(p)
        self.acc_view.setYRange(0, 100, padding=0.02)
        self.acc_curve = pg.PlotDataItem(pen=pg.mkPen(ACC_COLOUR, width=2, style=Qt.DashLine), symbol="t",
                                         symbolSize=6, symbolBrush=ACC_COLOUR, symbolPen=None)
        self.acc_view.addItem(self.acc_curve)
        p.vb.sigResized.connect(self._sync_views)
        self._sync_views()

    def _build_hist_plot(self) -> None:
        p = self.hist_plot
        p.setTitle("Classes drawn", size="9pt")
        p.setMouseEnabled(x=False, y=False)
        p.hideButtons()
        p.setMenuEnabled(False)
        p.setXRange(-0.6, CLASSES - 0.4, padding=0)
        p.setYRange(0, 25, padding=0)
        p.getAxis("bottom").setTicks([[(i, str(i)) for i in range(CLASSES)]])
        p.getAxis("left").setWidth(34)
        p.setLabel("left", "% of samples")
        p.showGrid(y=True, alpha=0.15)
        self.bars = pg.BarGraphItem(x=np.arange(CLASSES), height=np.zeros(CLASSES), width=0.72,
                                    brush=BAR_COLOUR, pen=None)
        self.bins = CLASSES  # bars shown: the digits' classes, or a picture reading's groups or sub-folders
        self.bin_names: tuple[str, ...] = ()  # the sub-folders' names under the bars; () when numbered
        p.addItem(self.bars)
        # A missing class has (almost) no bar: an orange outline up to its even share marks the gap.
        self.gaps = pg.BarGraphItem(x=np.arange(CLASSES), height=np.zeros(CLASSES), width=0.72, brush=None,
                                    pen=pg.mkPen(MISSING_COLOUR, width=1.5, style=Qt.DashLine))
        p.addItem(self.gaps)
        self.even_line = pg.InfiniteLine(pos=100 / CLASSES, angle=0, movable=False,
                                         pen=pg.mkPen("#b0b6be80", width=1, style=Qt.DashLine))
        p.addItem(self.even_line)

    def _sync_views(self) -> None:
        self.acc_view.setGeometry(self.fd_plot.vb.sceneBoundingRect())
        self.acc_view.linkedViewChanged(self.fd_plot.vb, self.acc_view.XAxis)

    def follow_run(self, model) -> None:
        """The run shown's readings, history and live alike (studio/model/shown_run.py): none of the last
        run's stay, and before its first reading it says which kind its settings will have."""
        model.cleared.connect(self.reset)
        model.quality.connect(self.add_quality)
        model.image_quality.connect(self.add_image_quality)
        model.quality_off.connect(self.set_off)
        model.changed.connect(lambda: model.config is not None and self.expect(model.config))

    # --- data in ---

    def reset(self) -> None:
        """A new run: no readings, plots shown, waiting text."""
        self._set_kind("digits")
        self.steps.clear()
        self.frechet.clear()
        self.accuracy.clear()
        self.latest = None
        self.off_reason = ""
        self.fd_curve.setData([], [])
        self.acc_curve.setData([], [])
        self.fd_plot.enableAutoRange()  # the last run's zoom means nothing for this one
        self._show_accuracy(False)
        self._set_bins(CLASSES)
        self.bars.setOpts(height=np.zeros(CLASSES), brushes=[pg.mkBrush(BAR_COLOUR)] * CLASSES)
        self.gaps.setOpts(height=np.zeros(CLASSES))
        self.warning.hide()
        self.warning.setText("")
        self.warning_level = ""
        self.value.setText("—")
        self.summary.setText("No reading yet.")
        self.off_label.setToolTip("")
        if not self.fetching:  # a download in progress goes on showing its progress
            self.fetch_button.hide()
            self.fetch_note.hide()
        self.stack.setCurrentWidget(self.graphics)

    def expect(self, config) -> None:
        """A run started: before its first reading, show the kind of reading it will have (digits are
        scored by the digit classifier, other pictures by FID every run.fid_every steps)."""
        if self.steps or self.off_reason:
            return
        digits = config.data.dataset in ("bundled", "mnist") and config.data.channels == 1
        pictures = not digits and bool(config.run.quality_every)
        self._set_kind("digits" if digits else "pictures" if pictures else "fid")
        if pictures:
            fid = (f" FID and KID every {config.run.fid_every:,} steps where the Inception weights are on disk."
                   if config.run.fid_every else "")
            self.summary.setText(f"No reading yet: one comes every {config.run.quality_every:,} steps "
                                 f"(run.quality_every).{fid}")
        elif not digits:
            self.summary.setText(f"No reading yet: FID and KID come every {config.run.fid_every:,} steps "
                                 "(run.fid_every)." if config.run.fid_every else
                                 "No reading yet: FID readings are switched off (run.fid_every = 0).")
        else:
            every = config.run.quality_every
            self.summary.setText(f"No reading yet: one comes every {every:,} steps (run.quality_every)."
                                 if every else "No reading yet: readings are switched off (run.quality_every = 0).")

    def set_off(self, reason: str) -> None:
        """The metric does not apply to this run: say why instead of showing empty plots."""
        kind = self.kind  # what expect() said this run measures: the explanation is about that reading
        self.reset()
        self._set_kind(kind)
        self.off_reason = reason
        text = reason[:1].upper() + reason[1:] if reason else "No reason given"
        if not text.endswith((".", "!", "?")):
            text += "."
        self.value.setText("Off")
        self.summary.setText("Not measured for this run.")
        self.off_label.setText(f"<p style='color:#c9d1d9'><b>Quality readings are off for this run.</b></p>"
                               f"<p style='color:#9aa0a6'>{_escape(text)}</p>"
                               f"<p style='color:#7d8590'>{OFF_TEXT[kind]}</p>")
        self.off_label.setToolTip(text)  # a long folder name may be cut at the panel's edge
        self.stack.setCurrentWidget(self.off_page)
        self.fetch_button.setVisible(kind == "fid" and not self.fetching and _weights_missing(reason))
        self.updated.emit()

    def add_quality(self, q: ev.Quality) -> None:
        self._set_kind("pictures" if q.reference else "digits")
        if self.steps and q.step <= self.steps[-1]:  # a rolled-back or resumed run: drop the future
            while self.steps and self.steps[-1] >= q.step:
                self.steps.pop(), self.frechet.pop(), self.accuracy.pop()
        if self.stack.currentWidget() is not self.graphics:
            self.stack.setCurrentWidget(self.graphics)
        self.off_reason = ""
        self.steps.append(int(q.step))
        self.frechet.append(max(float(q.frechet), FD_FLOOR) if math.isfinite(q.frechet) else float("nan"))
        self.accuracy.append(100 * q.accuracy if q.accuracy is not None else float("nan"))
        self.latest = q
        self._draw()
        self.updated.emit()

    def add_image_quality(self, q: ev.ImageQuality) -> None:
        """An FID/KID reading (own pictures, colour datasets): the curve shows FID, the class histogram
        (a digit classifier's) goes away. Beside the picture reading, whose curve it is, FID is a line of
        the summary (the two are on different scales)."""
        if self.kind == "pictures":
            self.latest_image = q
            if self.latest is not None:
                self._draw()
            else:
                self.summary.setText(f"FID {q.fid:.3g} at step {q.step:,} (KID {q.kid:.4f})")
            self.updated.emit()
            return
        self._set_kind("fid")
        if self.steps and q.step <= self.steps[-1]:
            while self.steps and self.steps[-1] >= q.step:
                self.steps.pop(), self.frechet.pop(), self.accuracy.pop()
        self.stack.setCurrentWidget(self.graphics)
        self.off_reason = ""
        self.steps.append(int(q.step))
        self.frechet.append(max(float(q.fid), FD_FLOOR) if math.isfinite(q.fid) else float("nan"))
        self.accuracy.append(float("nan"))
        self.latest_image = q
        x = np.asarray(self.steps, dtype=float)
        self.fd_curve.setData(x, np.log10(np.asarray(self.frechet)))
        self._frame_steps()
        self.value.setText(f"FID {q.fid:.3g}")
        best = f" · best {np.nanmin(self.frechet):.3g}" if len(self.frechet) > 1 else ""
        network = "the standard FID network" if q.network == "pytorch-fid" else f"{q.network} Inception-v3"
        self.summary.setText(f"at step {q.step:,}{best}<br>KID {q.kid:.4f} ± {q.kid_std:.4f}<br>"
                             f"{q.samples:,} samples, {network}, {q.seconds:.0f} s")
        self.updated.emit()

    def _set_kind(self, kind: str) -> None:
        """'digits' (Frechet distance in the digit classifier, with the class histogram), 'pictures' (the
        picture reading, with the folder's groups) or 'fid'."""
        if getattr(self, "kind", None) == kind:
            return
        self.kind = kind
        fid, pictures = kind == "fid", kind == "pictures"
        self.latest_image = None
        self.hist_widget.setVisible(not fid)
        self.real_line.setVisible(kind == "digits")
        self.even_line.setVisible(kind == "digits")
        self.hist_plot.setTitle("Groups drawn" if pictures else "Classes drawn", size="9pt")
        # Pictures: every group's share of the folder outlined in grey; digits: only a missing class's, in orange.
        self.gaps.setOpts(pen=pg.mkPen(SHARE_COLOUR if pictures else MISSING_COLOUR, width=1.5, style=Qt.DashLine))
        self.hist_widget.setToolTip(GROUPS_HELP if pictures else HIST_HELP)
        self.warning.setToolTip(GROUPS_HELP if pictures else HIST_HELP)
        self.warning.hide()
        self._set_title(FID_TITLE if fid else FD_TITLE)
        self.help.setText(FID_SHORT if fid else PICTURES_SHORT if pictures else DIGITS_SHORT)
        for w in (self.title, self.value, self.summary, self.help):
            w.setToolTip(FID_HELP if fid else PICTURES_HELP if pictures else FD_HELP)

    def _set_bins(self, n: int, names: tuple[str, ...] = ()) -> None:
        """The histogram's x axis for n bars: numbered, every one up to 20 and every fifth beyond, or named
        (a folder's sub-folders), shortened so they fit under narrow bars and fewer where there are many."""
        if (n, names) == (self.bins, self.bin_names):
            return
        self.bins, self.bin_names = n, names
        if names:  # at most 5 labels: the dock is narrow at 1366x768 (the tooltip names them all)
            step = max(1, math.ceil(n / 5))
            ticks = [(i, _short(names[i], 5 if n > 3 else 7)) for i in range(0, n, step)]
        else:
            step = 1 if n <= 20 else 5
            ticks = [(i, str(i)) for i in range(0, n, step)]
        self.hist_plot.setXRange(-0.6, n - 0.4, padding=0)
        self.hist_plot.getAxis("bottom").setTicks([ticks])
        for item in (self.bars, self.gaps):
            item.setOpts(x=np.arange(n), height=np.zeros(n), width=0.72 if n <= 20 else 0.8)

    # --- the Inception weights, on request ---

    def fetch_weights(self) -> None:
        """Download the Inception-v3 weights on a job thread (what `python main.py fetch-inception` does),
        with progress under the button; then say the next run on pictures gets FID."""
        if self.fetching:
            return
        from core.quality import inception as fid

        self.fetching = True
        self._fetch_cancel.clear()
        report, cancelled = self.fetch_progress.emit, self._fetch_cancel.is_set  # plain callables for the thread
        self.fetch_button.hide()
        self.fetch_bar.setRange(0, 0)  # busy until the size is known
        self.fetch_bar.setFormat("Connecting…")
        self.fetch_bar.show()
        self.fetch_note.setText("Downloading the Inception-v3 weights…")
        self.fetch_note.show()
        def download() -> str:
            try:
                return str(fid.download_inception_weights(progress=False, report=report, cancelled=cancelled))
            except OSError as e:  # said as `fetch-inception` says it, not as urllib does
                raise OSError(fid.download_failure(e)) from e

        self.jobs.submit(download, self._on_fetched, self._on_fetch_failed)

    def _on_fetch_progress(self, done: int, total: int) -> None:
        if not self.fetching:
            return
        if total > 0:
            self.fetch_bar.setRange(0, max(1, total // 1024))
            self.fetch_bar.setValue(min(done, total) // 1024)
            self.fetch_bar.setFormat(f"{done / 1e6:.0f} / {total / 1e6:.0f} MB")
        else:
            self.fetch_bar.setFormat(f"{done / 1e6:.0f} MB")

    def _on_fetched(self, path: object) -> None:
        self.fetching = False
        self.fetch_bar.hide()
        self.fetch_note.setText("Got the Inception-v3 weights. The next run on pictures gets FID and KID "
                                "readings.")
        self.fetch_note.setToolTip(str(path))
        self.fetched.emit(str(path))

    def _on_fetch_failed(self, message: str) -> None:
        self.fetching = False
        self.fetch_bar.hide()
        text = message[:1].upper() + message[1:]
        self.fetch_note.setText(text if text.endswith(".") else text + ".")
        self.fetch_note.setToolTip(message)
        self.fetch_button.setVisible(self.stack.currentWidget() is self.off_page and self.kind == "fid")
        self.fetch_failed.emit(message)

    def shutdown(self) -> None:
        """The window closes: a download in progress stops at its next chunk (the window's jobs wait for it)."""
        self._fetch_cancel.set()

    def load_history(self, run_dir: str | Path, up_to: int | None = None) -> int:
        """Readings already in a run folder (an opened or resumed run); returns how many."""
        readings = read_quality_csv(RunFolder(run_dir).quality, up_to)
        for q in readings:
            self.add_quality(q)
        images = read_fid_csv(RunFolder(run_dir).fid, up_to)
        for q in images:
            self.add_image_quality(q)
        return len(readings) + len(images)

    def set_overlay(self, key: str, label: str, colour: str, steps: np.ndarray, frechet: np.ndarray) -> None:
        """Another run's Frechet distances as a thin `colour` line with a legend entry `label`; replaces
        the overlay of `key`. It stays through reset() (a new run of this window)."""
        self.remove_overlay(key)
        steps, frechet = np.asarray(steps, dtype=float), np.asarray(frechet, dtype=float)
        keep = np.isfinite(frechet)
        curve = pg.PlotDataItem(steps[keep], np.log10(np.maximum(frechet[keep], FD_FLOOR)),
                                pen=pg.mkPen(colour, width=1), symbol="o", symbolSize=3, symbolBrush=colour,
                                symbolPen=None)
        curve.setZValue(-1)  # under this run's curve
        if not self.overlays:
            self.legend.addItem(self.fd_curve, "this run")
        self.fd_plot.addItem(curve)
        self.legend.addItem(curve, label)
        self.legend.show()
        self.overlays[key] = curve

    def remove_overlay(self, key: str) -> None:
        curve = self.overlays.pop(key, None)
        if curve is not None:
            self.fd_plot.removeItem(curve)  # and its legend entry
        if not self.overlays and self.legend.items:
            self.legend.removeItem(self.fd_curve)  # "this run" alone says nothing: the title row shrinks back
            self.legend.hide()

    @property
    def count(self) -> int:
        return len(self.steps)

    @property
    def bar_heights(self) -> np.ndarray:
        return np.asarray(self.bars.opts["height"], dtype=float)

    # --- drawing ---

    def _draw(self) -> None:
        q = self.latest
        x = np.asarray(self.steps, dtype=float)
        self.fd_curve.setData(x, np.log10(np.asarray(self.frechet)))
        self._frame_steps()
        conditional = q.accuracy is not None
        self._show_accuracy(conditional)
        if conditional:
            acc = np.asarray(self.accuracy)
            keep = np.isfinite(acc)
            self.acc_curve.setData(x[keep], acc[keep])

        pictures = bool(q.reference)
        kinds = kinds_drawn(q) if pictures else None
        # A folder with sub-folders: a bar each, named; other pictures: a bar a group; digits: a bar a class.
        drawn, reference = (kinds.drawn, kinds.folder) if kinds else (q.histogram, q.reference)
        bins = len(drawn) if pictures else CLASSES
        self._set_bins(bins, kinds.names if kinds else ())
        self.hist_plot.setTitle("Sub-folders drawn" if kinds else "Groups drawn" if pictures else "Classes drawn",
                                size="9pt")
        self.hist_widget.setToolTip(_kinds_tip(kinds) if kinds else GROUPS_HELP if pictures else HIST_HELP)
        hist = np.zeros(bins)
        shares = np.asarray(drawn[:bins], dtype=float)
        hist[:len(shares)] = 100 * shares
        missing = set(kinds.under if kinds else q.missing_classes)
        brushes = [pg.mkBrush(MISSING_COLOUR if i in missing else BAR_COLOUR) for i in range(bins)]
        self.bars.setOpts(height=hist, brushes=brushes)
        if pictures:  # every group's (sub-folder's) share of the folder, outlined: what each bar should reach
            expected = np.zeros(bins)
            expected[:len(reference)] = 100 * np.asarray(reference[:bins], dtype=float)
            self.gaps.setOpts(height=expected)
            top = max(float(hist.max()), float(expected.max())) * 1.15
        else:
            self.gaps.setOpts(height=np.array([100 / CLASSES if i in missing else 0.0 for i in range(CLASSES)]))
            top = max(25.0, float(hist.max()) * 1.1)
        self.hist_plot.setYRange(0, max(top, 1.0), padding=0)

        self.value.setText(f"FD {q.frechet:.3g}")
        parts = [f"at step {q.step:,}"]
        if len(self.frechet) > 1:
            parts[0] += f" · best {np.nanmin(self.frechet):.3g}"
        if conditional:
            parts.append(f"<b style='color:{ACC_COLOUR}'>{q.accuracy:.0%}</b> drawn as the digit asked for")
        if kinds:  # short: the names and shares are in the chart's tooltip (a narrow dock has no room)
            parts.append(kinds.short())
        elif pictures:
            parts.append(f"{len(q.reference)} groups of the folder's pictures"
                         + (f", {len(missing)} missing" if missing else ", all drawn"))
            if self.latest_image is not None:
                image = self.latest_image
                parts.append(f"FID {image.fid:.3g} at step {image.step:,}")
        elif math.isfinite(q.confidence):
            parts.append(f"classifier confidence {q.confidence:.0%}")
        self.summary.setText("<br>".join(parts))
        self.summary.setToolTip((PICTURES_HELP if pictures else FD_HELP) + ("\n\n" + ACC_HELP if conditional else ""))

        text, level = collapse_text(q)
        self.warning_level = level
        self.warning.setText(("⚠ " if level == "warning" else "") + text)
        self.warning.setProperty("level", level)
        self.warning.style().unpolish(self.warning)
        self.warning.style().polish(self.warning)
        self.warning.setVisible(bool(text))

    def _frame_steps(self) -> None:
        """One reading alone would be framed as steps 499.6 to 500.4: show it from step 0 instead, and
        hand the axis back to auto-range with the second reading (later zooms are the user's)."""
        if self.overlays or len(self.steps) > 2:
            return
        if len(self.steps) == 1:
            self.fd_plot.setXRange(0, max(self.steps[0], 1), padding=0.05)
        else:
            self.fd_plot.enableAutoRange(axis="x")

    def _show_accuracy(self, on: bool) -> None:
        self.fd_plot.showAxis("right", on)
        self.acc_view.setVisible(on)
        # Without "(lower is better)" (the help beside the plot says it): the title's width is the plot's
        # minimum, and the longer one made the plot wider than its place (cut at the right).
        self._set_title(f"<span style='color:{FD_COLOUR}'>Fréchet distance</span> · "
                        f"<span style='color:{ACC_COLOUR}'>% drawn as requested</span>" if on else FD_TITLE)

    def _set_title(self, title: str) -> None:
        """The FD plot's title, left in its row; the legend beside it re-fits to the room left."""
        if self.fd_plot.titleLabel.text == title:
            return  # called with every reading: no re-layout for the same text
        self.fd_plot.setTitle(title, size=TITLE_SIZE, justify="left")
        self.legend.refit()


OFF_TEXT = {"digits": DIGITS_OFF, "pictures": PICTURES_OFF, "fid": FID_OFF}  # what the reading would have been


def _short(name: str, chars: int) -> str:
    """A sub-folder's name cut to `chars` characters for an axis label (the tooltip has them whole)."""
    return name if len(name) <= chars else name[:chars - 1] + "…"


def _kinds_tip(kinds: KindsDrawn) -> str:
    """The chart's tooltip: what it shows, then every sub-folder's share drawn against its share of the folder."""
    rows = [f"{name}: {drawn:.1%} of samples, {folder:.1%} of the folder's pictures"
            for name, drawn, folder in zip(kinds.names, kinds.drawn, kinds.folder)]
    return KINDS_HELP + "\n\n" + "\n".join(rows)


def _weights_missing(reason: str) -> bool:
    """FID is off for want of the Inception weights, and they are still not on disk (a file check)."""
    from core.quality import inception as fid

    return fid.FETCH_COMMAND in reason and fid.find_inception_weights() is None


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
