"""The quality panel's legend of overlaid runs: in the FD plot's title row, beside a title that changes
with the reading, and a click on an entry hides no curve."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from core import events as ev
from studio.panels.quality_panel import FID_TITLE, QualityPanel

EVEN = (0.1,) * 10


def _labels(panel) -> list[str]:
    return [label.text for _, label in panel.legend.items]


def _above_the_curves(panel) -> bool:
    QApplication.processEvents()  # the layout settles
    legend, view = panel.legend.sceneBoundingRect(), panel.fd_plot.vb.sceneBoundingRect()
    title = panel.fd_plot.titleLabel.item.sceneBoundingRect()
    return legend.bottom() <= view.top() + 1 and not legend.intersects(title)  # nor over the title


def test_the_legend_sits_above_the_curves_and_a_click_hides_nothing(qtbot):
    panel = QualityPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 250)
    panel.show()
    qtbot.waitExposed(panel)
    for step in (100, 200, 300):
        panel.add_quality(ev.Quality(step, 100.0 / step, EVEN, (), False, None, 0.9))
    panel.set_overlay("other", "other run", "#f06292", np.array([100.0, 200.0]), np.array([3.0, 2.0]))
    assert _labels(panel) == ["this run", "other run"] and panel.legend.isVisible()
    assert _above_the_curves(panel)

    sample, _ = panel.legend.items[1]
    clicked = []
    panel.legend.sigSampleClicked.connect(clicked.append)
    view = panel.fd_widget
    pos = view.mapFromScene(sample.sceneBoundingRect().center())
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=pos)
    overlay = panel.overlays["other"]
    assert clicked == [overlay]  # the click reached the entry...
    assert overlay.isVisible() and panel.fd_curve.isVisible()  # ...and both curves stay

    # The title changes on the fly (a conditional reading adds "% drawn as requested", FID its own):
    # the legend makes way for the longer title (under it, where there is no room beside it).
    panel.add_quality(ev.Quality(400, 0.5, EVEN, (), False, 0.8, 0.9))
    assert "drawn as requested" in panel.fd_plot.titleLabel.text
    assert panel.fd_plot.titleLabel.opts["justify"] == "left"
    assert _above_the_curves(panel)
    assert panel.fd_plot.width() <= panel.fd_widget.width()  # nor does the longer title widen the plot
    panel.add_image_quality(ev.ImageQuality(500, 40.0, 0.01, 0.001, 1000, "pytorch-fid", 3.0))
    assert panel.fd_plot.titleLabel.text == FID_TITLE
    assert _above_the_curves(panel)

    panel.remove_overlay("other")  # no other run: no legend, the title row its own height again
    assert panel.legend.items == [] and not panel.legend.isVisible()
    assert panel.fd_curve in panel.fd_plot.items and panel.fd_curve.isVisible()
