"""Loss plots: G/D loss and D(x)/D(G(z)), smoothed, with hyperparameter markers.

Throttled at the sink: metrics append to doubling numpy buffers (O(1) amortised)
and the curves are redrawn by a QTimer at ~25 Hz only when something changed.
Each redraw hands pyqtgraph only what the view can show: the visible slice of
the buffers (clip to view), reduced to a min/max bucket per two pixel columns
for the raw readings (peak: the faint band keeps its exact extent) and a
bucket mean per four pixels for the smoothed curve (the trend line).
pyqtgraph's own downsampling would scan every point of every curve on each
setData (~45 ms at a million points x 8 curves) and draws ~5 buckets a pixel;
this keeps a redraw under ~15 ms at a million points (bench/plot_scale.py).
The TensorBoard-style debiased EMA is kept incrementally, recomputed in full
only when the smoothing slider moves.

Other runs can be overlaid (set_overlay): thin lines in one colour per run with
a legend entry, under the current run's bold curves. They are static, so they
are smoothed once (again when the slider moves) and reduced once to at most
OVERLAY_POINTS bucket means: three overlaid 100k-reading runs add ~2.5 ms to a
live tick that way, against ~27 ms left to pyqtgraph's auto-downsampling and
clip-to-view (which redo their work on every view change, i.e. every tick
while the view follows the run).

The x axis shows steps or time ("x: step | time"): the wall-clock time since a run's first
reading, so runs on different machines compare by how long they took. A reading's time is its
Metrics' `time` (or a metrics.csv `time` column) where core records one, else its arrival for a
live run; readings read back from a folder without times have none and are left out of the time
view, and an overlaid run without times says so instead of being drawn.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core import events as ev
from studio.widgets.elided_label import ElidedLabel
from studio.widgets.plot_legend import TitleRowLegend

REDRAW_MS = 40  # 25 Hz
# Peak buckets per pixel column: each bucket's min and max are both drawn, so the band's extent stays exact;
# one per 2 px halves the faint band's paint against one per pixel and looks the same.
BUCKETS_PER_PIXEL = 0.5
SMOOTH_PIXELS = 2  # peak buckets per mean bucket of the smoothed curve (a point per 4 px): it is the trend line
OVERLAY_POINTS = 2000  # most points an overlaid run's curve keeps (bucket means of its smoothed readings)

SERIES = {  # name -> (plot index, label, colour)
    "g_loss": (0, "G loss", "#4fc3f7"),
    "d_loss": (0, "D loss", "#ff8a65"),
    "d_real": (1, "D(x) real", "#81c784"),
    "d_fake": (1, "D(G(z)) fake", "#ba68c8"),
    "augment": (1, "Augment p", "#ffab40"),  # not an overlay's colour (studio/panels/run_overlays.py PALETTE)
}
# Drawn, and in the legend, only once the run reports it (adaptive augmentation on).
OPTIONAL_SERIES = {"augment"}
# On a 0-1 axis of their own, on the right: beside D's outputs (often -1 to 4) a p of 0.05 was a flat line.
RIGHT_AXIS_SERIES = {"augment"}
AUGMENT_TIP = ("Adaptive augmentation: the chance (0 to 1) that each picture, real or generated, is shifted, "
               "partly blanked out and recoloured before the discriminator sees it. It rises while the "
               "discriminator is too sure of the real pictures (it would learn them by heart) and falls when "
               "it is not (data.augment).")
# An overlaid run has one colour: its G loss and D(x) are solid, D loss and D(G(z)) dashed.
OVERLAY_STYLES = {"g_loss": Qt.SolidLine, "d_loss": Qt.DashLine, "d_real": Qt.SolidLine, "d_fake": Qt.DashLine}
# Tick spacings of the time axis, in seconds: whole seconds, minutes, hours, days.
TIME_TICKS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
TIME_LABEL_PX = 90  # about one time label per this many pixels
EMPTY_X = 100  # the x axis of plots with no readings yet: steps (or seconds) 0 to this


def clock(seconds: float) -> str:
    """Elapsed seconds in short words: 45s, 12m30s, 1h05, 2d03h."""
    seconds = int(round(seconds))
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    d, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    if d:
        return f"{sign}{d}d{h:02d}h"
    if h:
        return f"{sign}{h}h{m:02d}"
    if m:
        return f"{sign}{m}m{s:02d}s" if s else f"{sign}{m}m"
    return f"{sign}{s}s"


class StepOrTimeAxis(pg.AxisItem):
    """The bottom axis: steps (whole ones), or seconds since the first reading with ticks at whole time
    units. Never scaled by an SI prefix: a short range read "step (x0.001)" with ticks of 200, 400."""

    time_mode = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.enableAutoSIPrefix(False)

    def tickSpacing(self, minVal, maxVal, size):
        if not self.time_mode:  # no step 0.2: a short range ticks every step
            return [(spacing, offset) for spacing, offset in super().tickSpacing(minVal, maxVal, size)
                    if spacing >= 1] or [(1.0, 0.0)]
        wanted = (maxVal - minVal) / max(1.0, size / TIME_LABEL_PX)
        major = next((t for t in TIME_TICKS if t >= wanted), None)
        if major is None:  # beyond a day a tick: whole days
            major = 86400 * math.ceil(wanted / 86400)
        return [(major, 0)]

    def tickStrings(self, values, scale, spacing):
        if not self.time_mode:
            return super().tickStrings(values, scale, spacing)
        return [clock(v) for v in values]


class Buffer:
    """A growing float buffer that doubles its capacity, plus its running debiased EMA."""

    def __init__(self, capacity: int = 1024):
        self.data = np.empty(capacity)
        self.smooth = np.empty(capacity)
        self.n = 0
        self.weight = 0.0
        self._ema = 0.0

    def append(self, value: float) -> None:
        if self.n == len(self.data):
            self.data = np.resize(self.data, 2 * self.n)
            self.smooth = np.resize(self.smooth, 2 * self.n)
        self.data[self.n] = value
        self.n += 1
        self.smooth[self.n - 1] = self._next(value, self.n)

    def _next(self, value: float, count: int) -> float:
        w = self.weight
        if not math.isfinite(value):
            return self.smooth[count - 2] if count > 1 else value
        self._ema = w * self._ema + (1 - w) * value
        return self._ema / (1 - w ** count) if w else value

    def set_weight(self, weight: float) -> None:
        """Recompute the whole smoothed curve for a new slider position."""
        self.weight, self._ema = weight, 0.0
        for i in range(self.n):
            self.smooth[i] = self._next(float(self.data[i]), i + 1)

    def clear(self) -> None:
        self.n, self._ema = 0, 0.0

    def view(self) -> np.ndarray:
        return self.data[:self.n]

    def smooth_view(self) -> np.ndarray:
        return self.smooth[:self.n]


class LossPlots(QWidget):
    """Two linked pyqtgraph plots with a toolbar: smoothing, log scale, reset zoom."""

    redrawn = Signal()  # for tests and benchmarks: the curves were updated

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.steps = Buffer()
        self.times = Buffer()  # wall-clock seconds of each reading (NaN: not known)
        self._first_timed = 0  # readings before it have no time (history read back from a folder)
        self.series = {name: Buffer() for name in SERIES}
        self.markers: list[tuple[int, str]] = []
        self._marker_items: list[tuple[int, pg.InfiniteLine]] = []  # (step, line) on both plots
        self.x_mode = "step"  # or "time": seconds since the run's first timed reading
        self.overlays: dict[str, Overlay] = {}  # key (a run folder) -> another run's curves
        self._dirty = False
        self._reduced: dict[str, tuple] = {}  # curve -> (first, stride, buckets, x, y): reduced buckets kept
        # Single-shot, armed by the first change after a redraw: at most 25 redraws a second, and no
        # wake-ups at all while nothing changes (each one would preempt a trainer thread on a small CPU).
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self._redraw)

        self.smoothing = QSlider(Qt.Horizontal, objectName="smoothing")
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(60)
        self.smoothing.setMinimumWidth(60)  # narrower when a dock is open: the row never widens the window
        self.smoothing.setMaximumWidth(140)
        self.smoothing.setToolTip("Exponential moving average over the readings (debiased, as TensorBoard "
                                  "does); the faint line is the raw value.")
        self.smoothing_label = QLabel()
        self.log_scale = QCheckBox("Log", objectName="logScale")
        self.log_scale.setToolTip("Logarithmic loss axis: helps when one loss dwarfs the other.")
        self.reset = QPushButton("Fit view", objectName="fitView")
        self.reset.setToolTip("Zoom out to show every reading (zoom: wheel, pan: drag).")
        self.hover = ElidedLabel(objectName="hoverValues")  # its text never resizes the column
        self.hover.setTextFormat(Qt.RichText)
        self.x_buttons = QButtonGroup(self)
        self.x_step = QToolButton(text="step", objectName="xStep", checkable=True, checked=True)
        self.x_time = QToolButton(text="time", objectName="xTime", checkable=True)
        self.x_step.setToolTip("x axis: training steps")
        self.x_time.setToolTip("x axis: wall-clock time since each run's first reading, to compare runs on "
                               "different machines by how long they took")
        for button in (self.x_step, self.x_time):
            self.x_buttons.addButton(button)
            # The chosen one must read as chosen: the theme styles no checked tool button outside toolbars.
            button.setStyleSheet("QToolButton { padding: 0 6px; border: 1px solid #3c4046; border-radius: 3px; }"
                                 "QToolButton:checked { background: #2b3a4a; border-color: #8ab4f8; }")
        self.time_note = ""  # in the time view: whose readings have no time (on the readout's line)

        bar = QHBoxLayout()
        bar.setContentsMargins(4, 0, 4, 0)
        bar.addWidget(QLabel("Smooth", toolTip=self.smoothing.toolTip()))  # short: the row fits beside a dock
        bar.addWidget(self.smoothing)
        bar.addWidget(self.smoothing_label)
        bar.addSpacing(12)
        bar.addWidget(self.log_scale)
        bar.addWidget(self.reset)
        bar.addStretch(1)

        self.graphics = pg.GraphicsLayoutWidget()
        self.plots = [self.graphics.addPlot(row=row, col=0, axisItems={"bottom": StepOrTimeAxis("bottom")})
                      for row in (0, 1)]
        titles = ("Losses", "Discriminator outputs")
        self.raw_curves, self.curves = {}, {}
        self.legends = []
        for i, plot in enumerate(self.plots):
            # In the title row, not over the curves; clicks on it hide nothing.
            self.legends.append(TitleRowLegend(plot, titles[i]))
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.setLabel("bottom", "step")
            plot.getAxis("left").setWidth(48)
            for side in ("left", "bottom"):  # ticks and grid at the major level only: each finer level's
                plot.getAxis(side).setStyle(maxTickLevel=0)  # faint full-width lines cost ~5-15 ms a repaint
        self.plots[1].setXLink(self.plots[0])
        self.augment_view = self._right_axis_view(self.plots[1], SERIES["augment"][2])
        for name, (index, label, colour) in SERIES.items():
            plot = self.plots[index]
            faint = pg.mkColor(colour)
            faint.setAlpha(60)
            # The faint raw band is a min/max zigzag: antialiasing it costs ~3x the paint for no visible gain.
            self.raw_curves[name] = pg.PlotDataItem(pen=pg.mkPen(faint, width=1), antialias=False)
            self.curves[name] = pg.PlotDataItem(pen=pg.mkPen(colour, width=2),
                                                name=None if name in OPTIONAL_SERIES else label)
            for curve in (self.raw_curves[name], self.curves[name]):
                if name in RIGHT_AXIS_SERIES:
                    self.augment_view.addItem(curve)
                else:
                    plot.addItem(curve)
        self._shown_optional: set[str] = set()  # optional series in the legend now
        for plot in self.plots:  # a zoom, pan or resize re-slices the buffers at the next tick
            plot.sigXRangeChanged.connect(self._view_changed)
            plot.vb.sigResized.connect(self._resized)
        self.cursor = [pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#ffffff40")) for _ in self.plots]
        for plot, line in zip(self.plots, self.cursor):
            plot.addItem(line, ignoreBounds=True)
            line.hide()
        self._proxy = pg.SignalProxy(self.graphics.scene().sigMouseMoved, rateLimit=30, slot=self._mouse_moved)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(bar)
        # The readout has a line of its own, there even when empty: hovering never moves the plots.
        self.hover.setContentsMargins(8, 0, 4, 0)
        self.hover.setFixedHeight(self.hover.fontMetrics().height() + 4)
        # "x: step | time" at the readout line's end: the toolbar above has no width to spare.
        readout = QHBoxLayout()
        readout.setContentsMargins(0, 0, 4, 0)
        readout.setSpacing(2)
        readout.addWidget(self.hover, 1)
        readout.addWidget(QLabel("x:"))
        for button in (self.x_step, self.x_time):
            button.setFixedHeight(self.hover.height())
            readout.addWidget(button)
        layout.addLayout(readout)
        layout.addWidget(self.graphics, 1)

        self.smoothing.valueChanged.connect(self._smoothing_changed)
        self.x_time.toggled.connect(lambda on: self.set_x_mode("time" if on else "step"))
        self.log_scale.toggled.connect(lambda on: self.plots[0].setLogMode(y=on))
        self.reset.clicked.connect(self.fit)
        self._smoothing_changed(self.smoothing.value())
        self.fit()

    def _right_axis_view(self, plot, colour: str) -> pg.ViewBox:
        """A second view on `plot`, x linked, y fixed at 0 to 1 on the right-hand axis in `colour`
        (pyqtgraph's MultiplePlotAxes pattern); the axis shows while a series drawn in it is shown."""
        view = pg.ViewBox(enableMouse=False)
        view.setMenuEnabled(False)
        plot.scene().addItem(view)
        axis = plot.getAxis("right")
        axis.linkToView(view)
        axis.setTextPen(colour)
        axis.setWidth(36)
        axis.setStyle(maxTickLevel=0)
        view.setXLink(plot)
        view.setYRange(0, 1, padding=0.02)  # p is a chance: its whole range, whatever it reaches
        view.enableAutoRange(enable=False)

        def follow() -> None:
            view.setGeometry(plot.vb.sceneBoundingRect())
            view.linkedViewChanged(plot.vb, view.XAxis)

        plot.vb.sigResized.connect(follow)
        follow()
        plot.showAxis("right", False)
        view.hide()
        spacer = self.plots[0].getAxis("right")  # an empty axis as wide above: the plots' steps stay aligned
        spacer.setWidth(36)
        spacer.setStyle(showValues=False, tickLength=0)
        spacer.setPen(pg.mkPen(None))
        return view

    def _show_right_axis(self, on: bool) -> None:
        for plot in self.plots:
            plot.showAxis("right", on)
        self.augment_view.setVisible(on)

    # --- data in ---

    def follow_run(self, model) -> None:
        """The run shown's curves and live-change markers, history and live alike (studio/model/shown_run.py)."""
        model.cleared.connect(self.clear)
        model.metrics.connect(self.add_metrics)
        model.hyperparams_changed.connect(self._marker_for)

    def _marker_for(self, e: ev.HyperparamsChanged) -> None:
        text = ", ".join(f"{k.split('.', 1)[1]}→{_value_text(v)}" for k, v in e.changes.items())
        self.add_marker(e.step, text)

    def add_metrics(self, m: ev.Metrics) -> None:
        """One core Metrics event; drawn at the next timer tick. Its time is the event's own (NaN in
        rows of runs written before core recorded one: left out of the time view)."""
        when = m.time if m.time > 0 else math.nan
        if self._first_timed < self.times.n and not when >= self.times.data[self.times.n - 1]:
            when = self.times.data[self.times.n - 1]  # times stay in order (the time view bisects them)
        if self._first_timed == self.times.n and not math.isfinite(when):
            self._first_timed += 1
        self.times.append(when)
        self.steps.append(m.step)
        for name, buffer in self.series.items():
            value = float(getattr(m, name))
            buffer.append(value)
            if name in OPTIONAL_SERIES and name not in self._shown_optional and math.isfinite(value):
                self._show_optional(name)
        self._changed()

    def _show_optional(self, name: str) -> None:
        index, label, _ = SERIES[name]
        legend = self.legends[index]
        legend.addItem(self.curves[name], label)
        legend.items[-1][1].setToolTip(AUGMENT_TIP)
        self._shown_optional.add(name)
        if name in RIGHT_AXIS_SERIES:
            self._show_right_axis(True)

    def shown_series(self) -> list[str]:
        """The names of this run's curves in the legends (tests; the readout)."""
        return [n for n in SERIES if n not in OPTIONAL_SERIES or n in self._shown_optional]

    def add_marker(self, step: int, text: str) -> None:
        """A labelled vertical line on both plots, e.g. where a learning rate changed."""
        self.markers.append((step, text))
        x = self._marker_x(step)
        for i, plot in enumerate(self.plots):
            line = pg.InfiniteLine(pos=step, angle=90, movable=False, pen=pg.mkPen("#ffd54f", width=1,
                                                                                    style=Qt.DashLine),
                                   label=text if i == 0 else None,
                                   labelOpts={"position": 0.92, "color": "#ffd54f", "fill": "#202124c0",
                                              "movable": True})
            plot.addItem(line)
            self._marker_items.append((step, line))
            self._place_marker(line, x)

    def set_overlay(self, key: str, label: str, colour: str, steps: np.ndarray,
                    series: dict[str, np.ndarray], times: np.ndarray | None = None) -> None:
        """Draw another run's readings (series: name in SERIES -> values at `steps`) as thin lines in
        `colour` with a legend entry `label`, smoothed like this run's; replaces the overlay of `key`.
        `times` (wall-clock seconds of each reading, NaN where unknown) place them on the time axis."""
        self.remove_overlay(key)
        overlay = Overlay(label, colour, np.asarray(steps, dtype=float),
                          {n: np.asarray(v, dtype=float) for n, v in series.items() if n in SERIES},
                          _elapsed(times, len(steps)))
        named = set()
        for name in overlay.raw:
            index = SERIES[name][0]
            curve = pg.PlotDataItem(pen=pg.mkPen(colour, width=1, style=OVERLAY_STYLES[name]),
                                    name=None if index in named else label)
            named.add(index)
            curve.setZValue(-1)  # under the current run's curves
            self.plots[index].addItem(curve)
            overlay.curves[name] = curve
        self.overlays[key] = overlay
        self._smooth_overlay(overlay)
        self._note_times()

    def remove_overlay(self, key: str) -> None:
        overlay = self.overlays.pop(key, None)
        for name, curve in (overlay.curves.items() if overlay else ()):
            self.plots[SERIES[name][0]].removeItem(curve)  # and its legend entry
        self._note_times()

    def clear(self) -> None:
        """Forget this run's readings, markers, readout and zoom (a new run); overlays of other runs stay."""
        self.steps.clear()
        self.times.clear()
        self._first_timed = 0
        for buffer in self.series.values():
            buffer.clear()
        for name in self._shown_optional:
            self.legends[SERIES[name][0]].removeItem(self.curves[name])
        self._shown_optional.clear()
        self._show_right_axis(False)
        for _, item in self._marker_items:
            item.getViewBox() and item.getViewBox().removeItem(item)
        self._marker_items.clear()
        self.markers.clear()
        self._reduced.clear()
        for line in self.cursor:
            line.hide()
        self.fit()  # the last run's zoom means nothing for this one
        self._note_times()
        self.hover.setText(self._idle_text())
        self._changed()

    def set_x_mode(self, mode: str) -> None:
        """'step' or 'time' (seconds since each run's first timed reading) on the x axis of both plots."""
        if mode == self.x_mode:
            return
        self.x_mode = mode
        (self.x_time if mode == "time" else self.x_step).setChecked(True)
        for plot in self.plots:
            axis = plot.getAxis("bottom")
            axis.time_mode = mode == "time"
            axis.picture = None  # ticks drawn again with the other spacing
            plot.setLabel("bottom", "time since the first reading" if mode == "time" else "step")
        for step, line in self._marker_items:
            self._place_marker(line, self._marker_x(step))
        for overlay in self.overlays.values():
            self._smooth_overlay(overlay)
        for line in self.cursor:
            line.hide()
        self._reduced.clear()
        self._note_times()
        self.hover.setText(self._idle_text())
        self.fit()
        self._changed()

    def x_data(self) -> np.ndarray:
        """Every reading's x in the current mode (NaN where a reading has no time)."""
        xs, first, x0 = self._x_source()
        out = np.full(self.steps.n, np.nan)
        out[first:] = xs[first:self.steps.n] - x0
        return out

    @property
    def count(self) -> int:
        return self.steps.n

    def _x_source(self) -> tuple[np.ndarray, int, float]:
        """(x of the readings, the first reading that has one, the x that reads 0): the steps, or the
        wall-clock times less the first timed reading's (readings before it have none)."""
        if self.x_mode != "time":
            return self.steps.view(), 0, 0.0
        first = self._first_timed
        return self.times.view(), first, (float(self.times.data[first]) if first < self.times.n else 0.0)

    def _marker_x(self, step: int) -> float:
        """Where a marker at `step` goes: that step, or the time of the first reading at or after it
        (the newest reading's when none is there yet)."""
        if self.x_mode != "time":
            return float(step)
        xs, first, x0 = self._x_source()
        n = self.steps.n
        if first >= n:
            return math.nan
        i = min(n - 1, int(np.searchsorted(self.steps.view(), step)))
        return float(xs[i] - x0) if i >= first else math.nan

    @staticmethod
    def _place_marker(line: pg.InfiniteLine, x: float) -> None:
        line.setVisible(math.isfinite(x))
        if math.isfinite(x):
            line.setPos(x)

    def _note_times(self) -> None:
        """In the time view, say whose readings have no time (and so are not drawn)."""
        if self.x_mode != "time":
            self.time_note = ""
            return
        missing = [o.label for o in self.overlays.values() if o.times is None]
        if self._first_timed:
            missing.insert(0, f"this run before step {int(self.steps.data[self._first_timed]):,}"
                           if self._first_timed < self.steps.n else "this run")
        self.time_note = f"time unavailable (no times recorded) for {', '.join(missing)}" if missing else ""
        if not any(line.isVisible() for line in self.cursor):  # not hovering: the note is on the readout's line
            self.hover.setText(self._idle_text())

    def _idle_text(self) -> str:
        return f"<span style='color:#9aa0a6'>{_escape(self.time_note)}</span>" if self.time_note else ""

    # --- drawing ---

    def _smoothing_changed(self, value: int) -> None:
        weight = value / 100
        self.smoothing_label.setText(f"{weight:.2f}")
        for buffer in self.series.values():
            buffer.set_weight(weight)
        for overlay in self.overlays.values():
            self._smooth_overlay(overlay)
        self._reduced.clear()
        self._changed()

    def _smooth_overlay(self, overlay: "Overlay") -> None:
        weight = self.smoothing.value() / 100
        xs = overlay.times if self.x_mode == "time" else overlay.steps
        for name, values in overlay.raw.items():
            if xs is None:  # no times for this run: nothing to place on the time axis
                overlay.curves[name].setData([], [])
                continue
            keep = np.isfinite(values) & np.isfinite(xs)  # a NaN reading would cut the line and stall the average
            x, y = xs[keep], ema(values[keep], weight)
            stride = -(-len(x) // OVERLAY_POINTS)
            if stride > 1:  # the trend line's bucket means, ending at the newest reading as the live one does
                (mx, my), tail = _mean(x, y, stride), slice(-1, None)
                x, y = np.concatenate((mx, x[tail])), np.concatenate((my, y[tail]))
            overlay.curves[name].setData(x, y)

    def _changed(self) -> None:
        """Something to draw: redraw at the next timer tick (armed now if it is not running)."""
        self._dirty = True
        if not self.timer.isActive():
            self.timer.start()

    def _view_changed(self, *_) -> None:
        if not self.plots[0].vb.autoRangeEnabled()[0]:  # auto-range follows the data: already dirty then
            self._changed()

    def _resized(self, *_) -> None:
        self._changed()  # one bucket per pixel column: the bucket size follows the width

    def _visible(self, plot) -> tuple[int, int, int]:
        """(first, end, stride): the buffer slice the plot shows, and the points per pixel bucket."""
        n = self.steps.n
        xs, start, x0 = self._x_source()
        first, end = start, n
        master = self.plots[0].vb  # the second plot's x is linked to the first's (no auto-range of its own)
        if n - start > 1 and not master.autoRangeEnabled()[0]:
            left, right = master.viewRange()[0]
            xs = xs[start:n]
            first = start + max(0, int(np.searchsorted(xs, left + x0)) - 1)  # one point beyond each edge
            end = start + min(n - start, int(np.searchsorted(xs, right + x0, side="right")) + 1)
        pixels = max(1, int(plot.vb.width() * BUCKETS_PER_PIXEL))
        return first, end, max(1, (end - first) // pixels)

    def _redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        x_all, _, x0 = self._x_source()
        for index, plot in enumerate(self.plots):
            first, end, stride = self._visible(plot)
            x = x_all[first:end] - x0 if x0 else x_all[first:end]
            for name, buffer in self.series.items():
                if SERIES[name][0] != index:
                    continue
                raw, smooth = buffer.view()[first:end], buffer.smooth_view()[first:end]
                if stride > 1:
                    self.raw_curves[name].setData(*self._reduce(name, _peak, x, raw, first, stride))
                    self.curves[name].setData(*self._reduce(name + ".smooth", _mean, x, smooth, first,
                                                            stride * SMOOTH_PIXELS))
                else:
                    self.raw_curves[name].setData(x, raw)
                    self.curves[name].setData(x, smooth)
        self.redrawn.emit()

    def _reduce(self, key: str, reduce, x: np.ndarray, y: np.ndarray, first: int, stride: int):
        """reduce(x, y, stride) over the slice's whole buckets, plus its unbucketed tail. The buckets
        reduced at earlier ticks are kept while the slice start and the stride stay the same (as they do
        while the view follows a growing run), so a tick only reduces the new readings."""
        full = len(x) // stride
        cached = self._reduced.get(key)
        if cached and cached[:2] == (first, stride) and cached[2] <= full:
            done, xs, ys = cached[2:]
        else:
            done, xs, ys = 0, np.empty(0), np.empty(0)
        if full > done:
            new_x, new_y = reduce(x[done * stride:full * stride], y[done * stride:full * stride], stride)
            xs, ys = np.concatenate((xs, new_x)), np.concatenate((ys, new_y))
        self._reduced[key] = (first, stride, full, xs, ys)
        tail = slice(full * stride, None) if reduce is _peak else slice(-1, None)  # the trend ends at the newest
        return np.concatenate((xs, x[tail])), np.concatenate((ys, y[tail]))

    def fit(self) -> None:
        for plot in self.plots:
            if not self.steps.n:  # nothing to fit: from step 0, not pyqtgraph's 0 to 1 or the last run's range
                plot.setXRange(0, EMPTY_X, padding=0)
            plot.enableAutoRange()  # keeps that range until there is data

    def _mouse_moved(self, args) -> None:
        pos = args[0]
        n = self.steps.n
        xs, start, x0 = self._x_source()
        for plot, _line in zip(self.plots, self.cursor):
            if plot.sceneBoundingRect().contains(pos) and n > start:
                x = plot.vb.mapSceneToView(pos).x()
                break
        else:
            for line in self.cursor:
                line.hide()
            self.hover.setText(self._idle_text())
            return
        xs, x = xs[start:n], x + x0  # in the buffer's units: no copy of it per mouse move
        i = int(np.clip(np.searchsorted(xs, x), 0, len(xs) - 1))
        if i > 0 and abs(xs[i - 1] - x) < abs(xs[i] - x):
            i -= 1
        for line in self.cursor:
            line.setPos(xs[i] - x0)
            line.show()
        when = f" · {clock(xs[i] - x0)}" if self.x_mode == "time" else ""
        i += start
        parts = [f"step <b>{int(self.steps.data[i])}</b>{when}"]
        for name, (_, label, colour) in SERIES.items():  # short names, coloured as in the legends
            if name in OPTIONAL_SERIES and name not in self._shown_optional:
                continue
            short = label.split(" ")[0]
            parts.append(f"<span style='color:{colour}'>{short} {self.series[name].smooth[i]:.4g}</span>")
        self.hover.setText("&nbsp;&nbsp;".join(parts))


class Overlay:
    """Another run's readings and the curves that draw them."""

    def __init__(self, label: str, colour: str, steps: np.ndarray, raw: dict[str, np.ndarray],
                 times: np.ndarray | None = None):
        self.label, self.colour, self.steps, self.raw = label, colour, steps, raw
        self.times = times  # seconds since its first timed reading, NaN where unknown; None: no times at all
        self.curves: dict[str, pg.PlotDataItem] = {}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _elapsed(times: np.ndarray | None, n: int) -> np.ndarray | None:
    """Wall-clock times as seconds since the first known one; None when there are none."""
    if times is None or len(times) != n:
        return None
    times = np.asarray(times, dtype=float)
    known = np.isfinite(times) & (times > 0)
    if not known.any():
        return None
    return np.where(known, times - times[known][0], np.nan)


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """Buffer's debiased EMA over a whole array at once (no loop per reading).

    Within a chunk, m_k = w^k (m_0 + (1 - w) * sum_{j<=k} w^-j x_j) is a cumulative sum; chunks
    are short enough that w^-k stays far from overflowing."""
    x = np.asarray(values, dtype=float)
    if weight <= 0 or not len(x):
        return x.copy()
    chunk = max(1, int(150 / -math.log10(weight)))  # w^-chunk <= 1e150
    out = np.empty(len(x))
    m = 0.0
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk]
        powers = weight ** np.arange(1, len(part) + 1)
        out[start:start + len(part)] = powers * (m + (1 - weight) * np.cumsum(part / powers))
        m = out[start + len(part) - 1]
    return out / (1 - weight ** np.arange(1, len(x) + 1))


def _peak(x: np.ndarray, y: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Max and min of each whole bucket of `stride` points (NaN-tolerant): the band's exact extent."""
    n = len(x) // stride * stride
    buckets = y[:n].reshape(-1, stride)
    xs = np.repeat(x[:n:stride], 2)
    ys = np.empty(len(xs))
    ys[0::2] = np.fmax.reduce(buckets, axis=1)
    ys[1::2] = np.fmin.reduce(buckets, axis=1)
    return xs, ys


def _mean(x: np.ndarray, y: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of each whole bucket at the bucket's middle: the trend line, free of aliasing (a plain
    subsample of a lightly smoothed curve would draw its noise as a zigzag)."""
    n = len(x) // stride * stride
    return x[stride // 2:n:stride], y[:n].reshape(-1, stride).mean(axis=1)


def _value_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_value_text(v) for v in value) + ")"
    return f"{value:g}" if isinstance(value, float) else str(value)
