"""A sweep's trials at a glance: parallel coordinates, and Optuna's parameter importances.

Parallel coordinates: one vertical axis per swept setting plus the reading, each trial a polyline
through its values, normalised per axis to its range (log settings on a log scale, a choice's
options evenly spaced), coloured by its reading (the best the brightest); a pruned trial is a grey
dashed line, a trial without a reading yet a grey one that stops at the last setting. Each axis is
labelled with its setting and its range. The importances are a short list of bars.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QProgressBar, QSizePolicy, QVBoxLayout, QWidget

from core.sweeps.space import Param, Space
from core.sweeps.study import TrialRow
from studio.widgets.elided_label import WrappedLabel

GREY = "#8a9099"
AXIS_COLOUR = "#5f6670"
LABEL_COLOUR = "#b0b6be"
LABEL_FILL = pg.mkBrush(30, 32, 36, 170)
COLOURS = pg.colormap.get("viridis")  # dark: the worst reading, bright: the best
PLOT_HEIGHT = 200
MARGIN = 0.18  # above and below the axes, for their range labels


def short(key: str) -> str:
    """'optim.lr_g' -> 'lr_g': the axis label (the tooltip and the table's header name the section)."""
    return key.split(".", 1)[-1]


def fmt(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def position(param: Param, value) -> float | None:
    """Where `value` sits on its axis, 0 (low, or the first option) to 1 (high, or the last)."""
    if param.kind == "choice":
        options = list(param.choices)
        if value not in options:
            return None
        return options.index(value) / (len(options) - 1) if len(options) > 1 else 0.5
    if not isinstance(value, (int, float)) or param.low is None or param.high is None:
        return None
    low, high, v = float(param.low), float(param.high), float(value)
    if param.log and low > 0 and v > 0:
        low, high, v = math.log(low), math.log(high), math.log(v)
    return (v - low) / (high - low) if high > low else 0.5


class ParallelPlot(pg.PlotWidget):
    """The trials as polylines across one axis per setting and the reading."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, background=None)
        self.setObjectName("sweepParallel")
        self.curves: list[pg.PlotDataItem] = []  # one a trial drawn, in the trials' order
        item = self.getPlotItem()
        item.hideAxis("left")
        item.setMenuEnabled(False)
        item.hideButtons()
        self.setMouseEnabled(x=False, y=False)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
        self.setFixedHeight(PLOT_HEIGHT)
        self.setToolTip("Each line is a trial through its values on each setting's axis and its reading (right); "
                        "brighter is a better (lower) reading; grey dashed: pruned")

    def sizeHint(self) -> QSize:
        return QSize(0, PLOT_HEIGHT)

    def minimumSizeHint(self) -> QSize:
        return QSize(0, PLOT_HEIGHT)

    def show_trials(self, space: Space, rows: list[TrialRow]) -> None:
        self.clear()
        self.curves = []
        params = list(space.params)
        if not params:
            return
        n = len(params)
        readings = [r.reading for r in rows if r.reading is not None and math.isfinite(r.reading)]
        best, worst = (min(readings), max(readings)) if readings else (0.0, 0.0)
        for x in range(n + 1):
            self.addItem(pg.PlotDataItem([x, x], [0, 1], pen=pg.mkPen(AXIS_COLOUR, width=1)))
        for x, param in enumerate(params):
            if param.kind == "choice":
                for option in param.choices:
                    self._label(x, position(param, option), fmt(option), (0.5, 0.5))
            else:
                self._label(x, 1.0, fmt(param.high) + (" (log)" if param.log else ""), (0.5, 1.0))
                self._label(x, 0.0, fmt(param.low), (0.5, 0.0))
        if readings:
            self._label(n, 1.0, fmt(worst), (0.5, 1.0))
            self._label(n, 0.0, fmt(best), (0.5, 0.0))
        for row in rows:
            ys = [position(p, row.values.get(p.key)) for p in params]
            if any(y is None for y in ys):
                continue  # not sampled yet (waiting), or outside this space: nothing to draw
            xs = list(range(n))
            reading = row.reading if row.reading is not None and math.isfinite(row.reading) else None
            if reading is not None:
                # Low readings sit low, as low values do on the settings' axes; the colour says which is best.
                ys.append((reading - best) / (worst - best) if worst > best else 0.5)
                xs.append(n)
            if row.state == "pruned":
                pen = pg.mkPen(GREY, width=1, style=Qt.DashLine)
            elif reading is None:
                pen = pg.mkPen(GREY, width=1)
            else:
                share = 1 - ((reading - best) / (worst - best) if worst > best else 0.0)
                pen = pg.mkPen(COLOURS.map(0.15 + 0.85 * share, mode="qcolor"), width=2)
            curve = pg.PlotDataItem(xs, ys, pen=pen, symbol="o", symbolSize=4, symbolPen=None,
                                    symbolBrush=pen.color())
            self.addItem(curve)
            self.curves.append(curve)
        bottom = self.getPlotItem().getAxis("bottom")
        bottom.setTicks([[(x, short(p.key)) for x, p in enumerate(params)] + [(n, "reading")]])
        self.setXRange(-0.6, n + 0.6, padding=0)  # room for the first and last axes' labels
        self.setYRange(-MARGIN, 1 + MARGIN, padding=0)

    def _label(self, x: float, y: float | None, text: str, anchor: tuple[float, float]) -> None:
        if y is None:
            return
        label = pg.TextItem(text, color=LABEL_COLOUR, anchor=anchor, fill=LABEL_FILL)  # readable over the lines
        label.setPos(x, y)
        self.addItem(label)


class ImportanceList(QWidget):
    """Optuna's parameter importances as bars (hidden until there are enough finished trials)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, objectName="sweepImportances")
        self.values: dict[str, float] = {}
        self.title = WrappedLabel("", objectName="sweepImportanceTitle")
        self.bars = QVBoxLayout()
        self.bars.setContentsMargins(0, 0, 0, 0)
        self.bars.setSpacing(2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(self.bars)
        self.hide()

    def show_importances(self, values: dict[str, float] | None, finished: int) -> None:
        while self.bars.count():
            item = self.bars.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.values = dict(values or {})
        if not values:
            self.hide()
            return
        self.title.setText(f"How much each setting mattered (Optuna's importances, {finished} finished trials):")
        total = sum(values.values()) or 1.0
        for key, value in sorted(values.items(), key=lambda kv: -kv[1]):
            bar = QProgressBar(objectName="sweepImportance")  # its text names the setting: no label column to squeeze
            bar.setRange(0, 1000)
            bar.setValue(round(1000 * value / total))
            bar.setFormat(f"{short(key)}  {value / total:.0%}")
            bar.setToolTip(f"{key}: {value / total:.1%} of what the settings explain of the readings")
            bar.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
            self.bars.addWidget(bar)
        self.show()
