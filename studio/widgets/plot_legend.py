"""Plot legends that neither cover the curves nor switch one off on a click.

pyqtgraph's legend floats over the view box (over the newest readings, when it sits in the top
right corner), and a click on an entry's sample hides its curve: a curve gone by accident looks
like a run that stopped logging. This one sits in the plot's title row, right of a left-aligned
title, and wraps into more rows when its entries do not fit in one (the row grows, the view box
gives up the height), or goes under a title too long to leave room beside it; its samples take clicks
without acting on them.
"""

from __future__ import annotations

import math

import pyqtgraph as pg

TITLE_HEIGHT = 30  # pyqtgraph's own title row


class FixedSample(pg.ItemSample):
    """A legend entry's sample that ignores clicks (pyqtgraph's toggles the curve's visibility)."""

    def mouseClickEvent(self, event) -> None:
        event.accept()
        self.sigClicked.emit(self.item)  # still reported (LegendItem.sigSampleClicked), nothing hidden


class TitleRowLegend(pg.LegendItem):
    """A legend in `plot`'s title row; curves added with a name join it, as with plot.addLegend()."""

    def __init__(self, plot: pg.PlotItem, title: str, title_size: str = "10pt", label_size: str = "9pt"):
        super().__init__(sampleType=FixedSample, labelTextSize=label_size, horSpacing=6, verSpacing=-4)
        self.plot = plot
        self.layout.setContentsMargins(2, 0, 2, 0)  # pyqtgraph's frame margins would reach into the view box
        plot.setTitle(title, size=title_size, justify="left")
        self.setParentItem(plot)
        self._top = 4  # the legend's offset from the plot's top: beside the title (below it: its height)
        self.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-4, self._top))
        plot.legend = self  # PlotItem.addItem(name=...) and removeItem keep it up to date
        plot.geometryChanged.connect(self.refit)

    def addItem(self, item, name) -> None:
        super().addItem(item, name)
        label = self.items[-1][1]
        label.item.document().setDocumentMargin(1)  # Qt's 4 px each side make rows needlessly tall
        label.updateMin()
        label.setMaximumHeight(label.minimumHeight())  # else the legend's layout stretches it, row by row
        self.refit()

    def removeItem(self, item) -> None:
        super().removeItem(item)
        self.refit()

    @property
    def labels(self) -> list[str]:
        return [label.text for _, label in self.items]

    def refit(self) -> None:
        """As many entries a line as fit beside the title; the title row grows to hold the lines. Where not
        one entry fits beside the title (a long one), the lines go under it, across the row."""
        n = len(self.items)
        axis = self.plot.getAxis("left")  # the title starts above the view box, right of the left axis
        width = self.plot.width() - (axis.width() if axis.isVisible() else 0) - 16
        title = self.plot.titleLabel.item.boundingRect()
        # An entry: its sample, its text and the gaps around them (LegendItem.updateSize adds 3 a cell).
        entries = [sample.width() + label.item.boundingRect().width() + 12 for sample, label in self.items]
        below = bool(entries) and max(entries) > width - title.width()
        room = width if below else width - title.width()
        columns = next((k for k in range(n, 0, -1) if sum(max(entries[c::k]) for c in range(k)) <= room), 1)
        if columns != self.columnCount:
            self.setColumnCount(columns)
        self.updateSize()
        top = math.ceil(title.height()) + 2 if below else 4  # (the title sits a pixel below the row's top)
        if top != self._top:
            self._top = top
            self.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-4, top))
        height = max(TITLE_HEIGHT, math.ceil(self.geometry().height()) + top + 2)
        self.plot.titleLabel.setMaximumHeight(height)
        self.plot.layout.setRowFixedHeight(0, height)
