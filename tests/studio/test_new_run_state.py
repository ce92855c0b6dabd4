"""Whatever the window shows belongs to the run it names: a new run, an attached run or a loaded
generator starts with nothing of the last run's readout, figures or zoom; an attached run's status
shows its newest step and an ETA from its recent progress."""

from __future__ import annotations

import time

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication, QStatusBar

from core import events as ev
from core.runs.heartbeat import Heartbeat
from studio.panels.status_panel import StatusPanel
from tests.studio.conftest import tiny_config


def _metrics(step: int, images_per_s: float = 3000.0) -> ev.Metrics:
    return ev.Metrics(step, step / 78, 0.351 + step / 1e4, 1.2, 0.8, 0.3, images_per_s, 2e-4, 2e-4)


def _last_run_on_screen(qtbot, window) -> None:
    """The panels as a finished run left them: curves, a hover readout, a zoom, figures, a marker."""
    plots = window.loss_plots
    for step in range(50, 551, 50):
        plots.add_metrics(_metrics(step))
    plots.add_marker(300, "lr_g→0.001")
    window.status.started(550, 1000, "cpu", "bundled", 5000, 64)
    window.status.metrics(_metrics(550))
    plot = plots.plots[0]
    qtbot.waitUntil(lambda: plot.vb.viewRange()[0][1] >= 550, timeout=5_000)
    (_, _), (bottom, top) = plot.vb.viewRange()
    plots._mouse_moved((plot.vb.mapViewToScene(QPointF(500, (bottom + top) / 2)),))
    plot.setXRange(200, 400)  # zoomed in: auto-range off
    assert "step <b>500</b>" in plots.hover.text() and window.status.epoch.text() == "epoch 7.05"
    assert not plot.vb.autoRangeEnabled()[0] and plots.count == 11


def _nothing_of_the_last_run(window) -> None:
    plots, status = window.loss_plots, window.status
    assert plots.hover.text() == "" and not any(line.isVisible() for line in plots.cursor)
    assert plots.count == 0 and plots.markers == [] and plots._marker_items == []
    assert all(plot.vb.autoRangeEnabled()[0] for plot in plots.plots)  # the old x-range is gone
    for label in (status.step, status.epoch, status.speed, status.eta, status.quality, status.device):
        assert label.text() == "", label.objectName()
    assert window.quality_panel.fd_plot.vb.autoRangeEnabled()[0]


def test_a_new_run_starts_with_an_empty_readout_epoch_and_range(qtbot, window, monkeypatch):
    _last_run_on_screen(qtbot, window)
    started = []
    monkeypatch.setattr(window.session, "start", lambda *args: started.append(args))  # its events are fed below
    path = window.start_training(tiny_config())
    assert started and path is not None
    _nothing_of_the_last_run(window)  # before the new run's first event
    plots = window.loss_plots
    plots._redraw()
    assert len(plots.curves["g_loss"].getData()[0] or ()) == 0  # nothing of the last run is drawn
    window.status.started(0, 400, "cpu", "bundled", 5000, 16)  # the new run's own figures fill in
    window.session.metrics.emit(_metrics(2))  # as the trainer reports it
    assert window.status.step.text() == "step 2 / 400" and window.status.epoch.text() == "epoch 0.03"
    assert plots.count == 1


def test_attaching_starts_empty_too(qtbot, window, tmp_path, monkeypatch):
    _last_run_on_screen(qtbot, window)
    attached = []
    monkeypatch.setattr(window.session, "attach", lambda run_dir: attached.append(run_dir))
    window.attach(tmp_path / "elsewhere")
    assert attached
    _nothing_of_the_last_run(window)


def test_a_generator_of_another_run_is_not_shown_beside_the_last_runs_curves(qtbot, window, tmp_path):
    _last_run_on_screen(qtbot, window)
    window.model.run_dir = tmp_path / "last"
    window.on_generator_loaded(str(tmp_path / "last" / "generator.safetensors"))  # the run's own: kept
    assert window.loss_plots.count == 11
    window.on_generator_loaded(str(tmp_path / "other" / "generator.safetensors"))
    _nothing_of_the_last_run(window)


def _beat(step: int, at: float, state: str = "running") -> Heartbeat:
    return Heartbeat(state, step, 1000, 4242, "another-machine", at)


def test_attached_status_shows_the_newer_step_and_an_eta_from_recent_progress(qtbot):
    bar = QStatusBar()
    qtbot.addWidget(bar)
    status = StatusPanel(bar)
    status.reset(attached=True)  # as the window's attach() does
    status.started(0, 1000, "attached: another-machine", "bundled", 0, 64)
    # The backlog arrives at once, slow early rows among it: no ETA from them.
    for step in range(1, 22):
        status.metrics(_metrics(step, images_per_s=1.0))
    assert status.step.text() == "step 21 / 1,000" and status.eta.text() == ""
    now = time.time()
    status.show_heartbeat(_beat(37, now - 10))
    assert status.step.text() == "step 37 / 1,000"  # the heartbeat is ahead of the metrics
    assert status.eta.text() == ""  # one beat: no rate yet, so no guess
    status.metrics(_metrics(40))
    assert status.step.text() == "step 40 / 1,000"  # now the metrics row is newer
    status.show_heartbeat(_beat(57, now))  # 20 steps in 10 s on the writer's clock: 2 steps/s
    assert status.step.text() == "step 57 / 1,000"
    assert status.eta.text() == "ETA 7m 51s"  # (1000 - 57) / 2 s
    status.show_heartbeat(_beat(57, now + 5, "paused"))
    assert status.eta.text() == ""  # paused: the rate starts over
    status.reset()
    assert status.step.text() == status.eta.text() == status.device.text() == ""
    QApplication.processEvents()


def test_paused_shows_no_rate_and_a_single_step_makes_none(qtbot):
    """While paused the status bar said 3,000 img/s and an ETA; after one Step, 227 img/s and ETA 21 m
    (one step's time, its first after the pause): a rate needs running time."""
    bar = QStatusBar()
    qtbot.addWidget(bar)
    status = StatusPanel(bar)
    status.started(0, 1000, "cpu", "bundled", 5000, 64)
    status.set_paused(False)  # running
    status.metrics(_metrics(400))
    assert status.speed.text() == "3,000 img/s" and status.eta.text().startswith("ETA")
    status.set_paused(True)
    assert status.speed.text() == "paused" and status.eta.text() == ""
    # Step: the trainer says running, reports the one step's metrics, and says paused.
    status.set_paused(False)
    status.metrics(_metrics(401, images_per_s=227.0))
    assert status.speed.text() == "paused" and status.eta.text() == ""
    assert status.step.text() == "step 401 / 1,000"  # the step itself is news
    status.set_paused(True)
    assert status.speed.text() == "paused" and status.eta.text() == ""
    status.set_paused(False)  # Resume: the next tick's rate is over running time again
    status.metrics(_metrics(450, images_per_s=2900.0))
    assert status.speed.text() == "2,900 img/s" and status.eta.text().startswith("ETA")


def test_an_in_process_eta_waits_for_a_known_rate(qtbot):
    bar = QStatusBar()
    qtbot.addWidget(bar)
    status = StatusPanel(bar)
    status.started(0, 1000, "cpu", "bundled", 5000, 10)
    status.metrics(_metrics(100, images_per_s=0.0))
    assert status.eta.text() == ""
    status.metrics(_metrics(200, images_per_s=100.0))  # 10 steps/s
    assert status.eta.text() == "ETA 1m 20s"
