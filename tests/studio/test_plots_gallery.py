"""Plot legends that stay out of the way, the time axis, and the gallery's large view and "Latest"."""

from __future__ import annotations

import csv
import time
from dataclasses import asdict, fields, replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt

from core import events as ev
from studio.bridge.run_follower import grid_columns
from studio.panels.gallery import Gallery
from studio.panels.loss_plots import SERIES, LossPlots, clock
from studio.panels.run_library import key_of


def _metrics(step: int, at: float | None = None) -> ev.Metrics:
    m = ev.Metrics(step, step / 78, 1.0 + step / 1e3, 0.7, 0.8, 0.3, 3000.0, 2e-4, 2e-4)
    return m if at is None else replace(m, time=at)


def _run_folder(root: Path, name: str, times: bool = False) -> Path:
    """A finished run's metrics.csv and quality.csv, as core.runs.writer writes them (without the time column,
    as older runs' are, unless `times`)."""
    run = root / name
    run.mkdir(parents=True)
    columns = [f.name for f in fields(ev.Metrics) if f.name != "time"] + (["time"] if times else [])
    with (run / "metrics.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for step in (10, 20, 30):
            row = [v for k, v in asdict(_metrics(step)).items() if k != "time"]
            writer.writerow(row + ([1_700_000_000 + 6 * step] if times else []))
    (run / "quality.csv").write_text("step,frechet\n20,50.0\n30,40.0\n")
    return run


def _labels(plot) -> list[str]:
    return [label.text for _, label in plot.legend.items]


# --- legends ---


def test_the_current_run_is_never_overlaid_on_itself(qtbot, window, tmp_path):
    overlays = window.library.overlays
    alpha, beta = _run_folder(tmp_path, "alpha"), _run_folder(tmp_path, "beta")
    with qtbot.waitSignals([overlays.drawn] * 2, timeout=10_000):
        overlays.show([key_of(alpha), key_of(beta)])
    assert "alpha" in _labels(window.loss_plots.plots[0]) and "alpha" in _labels(window.quality_panel.fd_plot)

    overlays.set_current(alpha)  # the window now shows alpha itself: its own curves, no overlay of it
    for plot in (*window.loss_plots.plots, window.quality_panel.fd_plot):
        labels = _labels(plot)
        assert "alpha" not in labels and labels.count("beta") == 1
    assert set(window.loss_plots.overlays) == {key_of(beta)}

    with qtbot.waitSignal(overlays.drawn, timeout=10_000):
        overlays.set_current(beta)  # another run shown: alpha (still ticked) is overlaid again
    assert set(window.loss_plots.overlays) == {key_of(alpha)}
    assert "beta" not in _labels(window.loss_plots.plots[0])


def test_legends_sit_above_the_curves_and_a_click_hides_nothing(qtbot):
    plots = LossPlots()
    qtbot.addWidget(plots)
    plots.resize(520, 600)
    plots.show()
    for step in range(10, 200, 10):
        plots.add_metrics(_metrics(step))
    qtbot.waitSignal(plots.redrawn, timeout=5_000)
    plot = plots.plots[0]
    legend = plot.legend
    assert _labels(plot) == ["G loss", "D loss"]
    # Outside the view box: its bottom is above the box's top.
    assert legend.sceneBoundingRect().bottom() <= plot.vb.sceneBoundingRect().top() + 1

    sample, _ = legend.items[0]
    clicked = []
    legend.sigSampleClicked.connect(clicked.append)
    view = plots.graphics
    pos = view.mapFromScene(sample.sceneBoundingRect().center())
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=pos)
    assert clicked == [plots.curves["g_loss"]]  # the click reached the entry...
    assert plots.curves["g_loss"].isVisible()  # ...and the curve stays


# --- time axis ---


def test_the_time_axis_places_readings_at_their_wall_clock_time(qtbot, tmp_path):
    plots = LossPlots()
    qtbot.addWidget(plots)
    plots.add_metrics(_metrics(10))  # a row of a run written before times were recorded
    start = time.time()
    for i, step in enumerate((20, 30, 40)):
        plots.add_metrics(_metrics(step, at=start + 90 * i))
    plots.set_overlay("with", "with-times", "#f06292", np.array([10.0, 20.0]), {"g_loss": np.array([1.0, 2.0])},
                      times=np.array([1_700_000_000.0, 1_700_000_600.0]))
    plots.set_overlay("without", "no-times", "#4db6ac", np.array([10.0, 20.0]), {"g_loss": np.array([1.0, 2.0])})

    plots._redraw()
    assert list(plots.x_data()) == [10, 20, 30, 40]
    assert list(plots.curves["g_loss"].getData()[0]) == [10, 20, 30, 40]

    plots.x_time.click()  # "x: step | time"
    assert plots.x_mode == "time"
    x = plots.x_data()
    assert np.isnan(x[0]) and list(x[1:]) == [0, 90, 180]
    plots._redraw()
    assert list(plots.curves["g_loss"].getData()[0]) == [0, 90, 180]
    assert list(plots.overlays["with"].curves["g_loss"].getData()[0]) == [0, 600]
    assert len(plots.overlays["without"].curves["g_loss"].getData()[0] or ()) == 0
    assert "no-times" in plots.time_note and "this run before step 20" in plots.time_note
    assert plots.plots[0].getAxis("bottom").tickStrings([0, 90, 600], 1, 60) == ["0s", "1m30s", "10m"]
    plots.resize(520, 600)
    plots.show()
    plot = plots.plots[0]
    qtbot.waitUntil(lambda: plot.vb.viewRange()[0][1] >= 180, timeout=5_000)
    (_, _), (bottom, top) = plot.vb.viewRange()
    plots._mouse_moved((plot.vb.mapViewToScene(QPointF(95, (bottom + top) / 2)),))
    assert "step <b>30</b> · 1m30s" in plots.hover.text()  # the nearest reading in time

    plots.x_step.click()
    assert plots.x_mode == "step" and list(plots.x_data()) == [10, 20, 30, 40] and plots.time_note == ""


def test_an_attached_runs_new_rows_carry_their_time_and_its_backlog_none(qtbot, tmp_path):
    import math

    from studio.bridge.run_follower import RunFollower

    run = _run_folder(tmp_path, "remote")
    follower = RunFollower(run)
    rows = []
    follower.metrics_rows.connect(rows.extend)
    follower._read_files()  # on attaching: the backlog, written at times nobody knows
    assert [m.step for m in rows] == [10, 20, 30] and all(math.isnan(m.time) for m in rows)
    with (run / "metrics.csv").open("a", newline="") as f:
        csv.writer(f).writerow(list(asdict(_metrics(40)).values()))
    before = time.time()
    follower._read_files()  # appended since: about now
    assert rows[-1].step == 40 and before <= rows[-1].time <= time.time()

    plots = LossPlots()
    qtbot.addWidget(plots)
    for m in rows:
        plots.add_metrics(m)
    plots.set_x_mode("time")
    assert np.isnan(plots.x_data()[:3]).all() and plots.x_data()[3] == 0
    assert "this run before step 40" in plots.time_note


def test_clock_words():
    assert [clock(s) for s in (5, 60, 750, 3900, 93600)] == ["5s", "1m", "12m30s", "1h05", "1d02h"]


# --- gallery ---


def _grid(columns: int, rows: int, size: int = 4) -> np.ndarray:
    """A grid as core.sharing.export.grid_image lays it out (2-pixel gaps), each sample one flat grey: its index."""
    pitch = size + 2
    grid = np.zeros((rows * pitch + 2, columns * pitch + 2, 3), np.uint8)
    for i in range(columns * rows):
        r, c = divmod(i, columns)
        grid[2 + r * pitch:2 + r * pitch + size, 2 + c * pitch:2 + c * pitch + size] = 10 * (i + 1)
    return grid


def test_a_double_click_on_a_sample_shows_it_large(qtbot):
    gallery = Gallery()
    qtbot.addWidget(gallery)
    gallery.resize(420, 460)
    gallery.show()
    gallery.add_grid(500, _grid(4, 4), columns=4)
    view = gallery.view
    rect = view.target_rect()
    pos = QPoint(rect.left() + rect.width() * 5 // 8, rect.top() + rect.height() * 3 // 8)  # row 1, column 2
    assert view.cell_at(pos) == 6
    qtbot.mouseDClick(view, Qt.LeftButton, pos=pos)
    big = gallery.sample_view
    assert big is not None and big.isVisible() and (big.step, big.index) == (500, 6)
    assert "step 500" in big.windowTitle() and "sample 7" in big.windowTitle()
    image = big.view.image
    assert (image.width(), image.height()) == (4, 4) and image.pixelColor(0, 0).red() == 70  # that sample's
    assert big.view.scale() > 1  # drawn large, in whole pixels
    qtbot.keyClick(big, Qt.Key_Escape)
    assert gallery.sample_view is None

    gallery.show_sample(0)
    gallery.reset()  # a new run: the last run's sample goes too
    assert gallery.sample_view is None


def test_jump_to_latest_follows_new_grids_again(qtbot):
    gallery = Gallery()
    qtbot.addWidget(gallery)
    for step in (100, 200, 300):
        gallery.add_grid(step, _grid(2, 2), columns=2)
    assert gallery.current_step == 300 and not gallery.latest.isEnabled()
    gallery.slider.setValue(0)  # scrubbed back
    assert gallery.latest.isEnabled()
    gallery.add_grid(400, _grid(2, 2), columns=2)
    assert gallery.current_step == 100  # a new grid does not pull the person away
    gallery.latest.click()
    assert gallery.current_step == 400 and not gallery.latest.isEnabled()
    gallery.add_grid(500, _grid(2, 2), columns=2)
    assert gallery.current_step == 500  # followed again


def test_an_attached_runs_grid_layout_comes_from_its_image_size():
    assert grid_columns(4 * 30 + 2, 28) == 4
    assert grid_columns(4 * 30 + 3, 28) == 0 and grid_columns(122, 0) == 0


def test_empty_plots_count_steps_from_0_in_whole_steps_without_an_si_prefix(qtbot):
    """No data showed "step (x0.001)" and an x range of -50 to 150 (or pyqtgraph's 0 to 1 in steps of 0.2)."""
    from studio.panels.quality_panel import QualityPanel

    plots, quality = LossPlots(), QualityPanel()
    for w in (plots, quality):
        qtbot.addWidget(w)
        w.resize(520, 400)
        w.show()

    def empty_from_0(plot) -> bool:
        left, right = plot.vb.viewRange()[0]
        return left == 0 and right >= 10

    assert all(empty_from_0(plot) for plot in (*plots.plots, quality.fd_plot))
    for plot in (*plots.plots, quality.fd_plot):
        axis = plot.getAxis("bottom")
        plot.setXRange(0, 0.9, padding=0)  # a short range: pyqtgraph scaled it as "x0.001"
        axis.resizeEvent()
        assert "(x" not in axis.labelString(), axis.labelString()
        assert all(spacing >= 1 for spacing, _ in axis.tickSpacing(0, 0.9, 400))  # no step 0.2
    plots.fit()  # Fit view: back to following the data
    for step in range(5000, 5600, 50):
        plots.add_metrics(_metrics(step))
    with qtbot.waitSignal(plots.redrawn, timeout=5_000):
        pass
    qtbot.waitUntil(lambda: plots.plots[0].vb.viewRange()[0][0] > 4000)
    plots.clear()  # the next run's empty plots: from step 0 again, not the last run's range
    assert all(empty_from_0(plot) for plot in plots.plots)
    plots.set_x_mode("time")
    plots.set_x_mode("step")
    assert plots.plots[0].getAxis("bottom").autoSIPrefix is False


def test_augment_p_has_its_own_0_to_1_axis_in_a_colour_of_its_own(qtbot):
    """Beside D's outputs of a hinge run (-0.8 to 3.5), a p of 0.01 to 0.1 was a flat line on their axis."""
    from studio.panels.run_overlays import PALETTE

    plots = LossPlots()
    qtbot.addWidget(plots)
    plots.resize(520, 600)
    plots.show()
    right = plots.plots[1].getAxis("right")
    for step in range(10, 60, 10):
        plots.add_metrics(replace(_metrics(step), d_real=3.5, d_fake=-0.8))
    assert not right.isVisible()  # no augmentation reported: no axis for it
    for step in range(60, 410, 10):
        plots.add_metrics(replace(_metrics(step), d_real=3.5, d_fake=-0.8, augment=step / 4000))
    with qtbot.waitSignal(plots.redrawn, timeout=5_000):
        pass
    curve = plots.curves["augment"]
    x, y = curve.getData()
    assert y is not None and len(y) and np.nanmax(y) > 0.05
    qtbot.waitUntil(lambda: plots.plots[1].vb.viewRange()[1][1] > 3)  # D's outputs keep theirs (auto-range is lazy)
    bottom, top = curve.getViewBox().viewRange()[1]
    assert -0.05 <= bottom <= np.nanmin(y) and np.nanmax(y) <= top <= 1.05  # its own 0-1 range, not -1 to 4
    assert right.isVisible() and right.linkedView() is curve.getViewBox()
    assert curve.getViewBox().viewRange()[0] == plots.plots[1].vb.viewRange()[0]  # the same steps
    colour = curve.opts["pen"].color().name()
    assert colour not in PALETTE and colour not in {SERIES[n][2] for n in SERIES if n != "augment"}
    assert right.textPen().color().name() == colour
    plots.clear()  # a new run without augmentation: the axis goes with the curve
    assert not right.isVisible()


def test_adaptive_augmentations_strength_is_drawn_only_when_a_run_reports_it(qtbot):
    plots = LossPlots()
    qtbot.addWidget(plots)
    plots.resize(520, 600)
    plots.show()
    for step in range(10, 60, 10):  # a digit run: no adaptive augmentation
        plots.add_metrics(_metrics(step))
    assert _labels(plots.plots[1]) == ["D(x) real", "D(G(z)) fake"]
    for step in range(60, 200, 10):
        plots.add_metrics(replace(_metrics(step), augment=step / 1000))
    with qtbot.waitSignal(plots.redrawn, timeout=5_000):
        pass
    assert _labels(plots.plots[1]) == ["D(x) real", "D(G(z)) fake", "Augment p"]
    label = plots.plots[1].legend.items[-1][1]
    assert "chance" in label.toolTip() and "too sure" in label.toolTip()
    x, y = plots.curves["augment"].getData()
    assert y is not None and np.nanmax(y) > 0.1 and np.nanmax(y) <= 0.19
    plots.clear()  # a new run: its curve and legend entry go until it reports a strength
    assert _labels(plots.plots[1]) == ["D(x) real", "D(G(z)) fake"]
