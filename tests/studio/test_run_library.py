"""The run library panel through the real window: listing, overlays, fork from a moment, delete."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QMessageBox

from core.runs.folder import read_lineage
from core.runs.heartbeat import Heartbeat
from core.training.trainer import train
from studio.dialogs.fork_dialog import ForkSettingsDialog
from studio.panels.loss_plots import OVERLAY_POINTS, Buffer, LossPlots, ema
from studio.panels.run_library import NAME, OVERLAY, STATE, STEPS, THUMBNAIL, ForkDialog, key_of
from tests.studio.conftest import tiny_config

QUICK = {"run.steps": 8, "run.threads": 1, "run.device": "cpu", "run.keep_every": 4, "run.sample_every": 4,
         "run.quality_every": 4, "run.quality_samples": 16}


def trained(window, name: str, **more) -> Path:
    """A tiny run trained to its end straight into the window's runs folder."""
    run = window.runs_root / name
    train(tiny_config(**{**QUICK, **more}), run_dir=run)
    return run


@pytest.fixture
def library(qtbot, window):
    """The window's run library, shown (a hidden one scans nothing until it is shown)."""
    with qtbot.waitSignal(window.library.refreshed, timeout=10_000):
        window.library_dock.show()
    return window.library


def refreshed(qtbot, library) -> None:
    with qtbot.waitSignal(library.refreshed, timeout=10_000):
        library.refresh()


def row_texts(library, column: int) -> list[str]:
    return [library.table.item(r, column).text() for r in range(library.table.rowCount())]


def legend_labels(plot) -> list[str]:
    return [label.text for _, label in plot.legend.items]


def overlay_both(qtbot, library, runs) -> None:
    with qtbot.waitSignals([library.overlays.drawn] * len(runs), timeout=10_000):
        for run in runs:
            library.table.item(library.row_of(run), OVERLAY).setCheckState(Qt.Checked)  # as a click does


def test_library_lists_runs_and_follows_the_window(qtbot, window, library):
    alpha = trained(window, "alpha")
    trained(window, "beta", **{"run.steps": 6})
    refreshed(qtbot, library)
    assert sorted(row_texts(library, NAME)) == ["alpha", "beta"]
    row = library.row_of(alpha)
    assert library.table.item(row, STEPS).text() == "8 / 8"
    assert library.table.item(row, STATE).text() == "finished"
    assert library.runs[row].best_quality_label.startswith("FD ")
    thumbnail = library.table.item(row, THUMBNAIL).data(Qt.DecorationRole)
    assert thumbnail is not None and not thumbnail.isNull()

    # A run trained in the window is listed when it finishes, without a click on Refresh.
    with qtbot.waitSignal(window.session.started, timeout=60_000):
        new = window.start_training(tiny_config(**{"run.steps": 400}))
    qtbot.waitUntil(lambda: library.row_of(new) >= 0, timeout=10_000)  # listed when it starts
    assert library.table.item(library.row_of(new), STATE).text() == "running in this window"
    library.select(new)
    assert library.selected().path == new
    assert not library.delete_button.isEnabled() and not library.open_button.isEnabled()  # it trains here
    with qtbot.waitSignal(window.run_finished, timeout=60_000):
        window.stop()
    qtbot.waitUntil(lambda: library.table.item(library.row_of(new), STATE).text() == "stopped", timeout=10_000)


def test_the_windows_own_run_counts_as_running_before_its_folder_says_so(qtbot, window, library, monkeypatch):
    starting = window.runs_root / "starting"  # claimed, before its first heartbeat and checkpoint
    starting.mkdir(parents=True)
    (starting / "config.json").write_text(tiny_config().to_json())
    refreshed(qtbot, library)
    assert library.table.item(library.row_of(starting), STATE).text() == "damaged"
    library.current = key_of(starting)
    monkeypatch.setattr(library, "busy", lambda: True)
    refreshed(qtbot, library)
    assert library.table.item(library.row_of(starting), STATE).text() == "running in this window"


def test_closing_mid_run_with_the_library_shown_leaves_no_thread(qtbot, window, library):
    with qtbot.waitSignal(window.session.started, timeout=30_000):
        window.start_training(tiny_config(**{"run.steps": 100_000, "run.threads": 1}))
    qtbot.waitUntil(lambda: window.loss_plots.count >= 1, timeout=30_000)
    with qtbot.waitSignal(window.run_finished, timeout=30_000):
        window.close()  # the run's end arrives after the window closed: no scan may start then
    assert not window.jobs.busy  # (and no_leaked_qthreads finds no thread at teardown)


def test_open_shows_resume_trains_and_reveal_shows_the_folder(qtbot, window, library, monkeypatch):
    run = trained(window, "alpha")
    refreshed(qtbot, library)
    opened = []
    monkeypatch.setattr("studio.panels.run_library.QDesktopServices.openUrl", lambda url: opened.append(url) or True)
    library.select(run)
    library.reveal_button.click()
    assert [u.toLocalFile() for u in opened] == [str(run)]

    assert library.open_button.isEnabled() and library.resume_button.isEnabled()
    with qtbot.waitSignal(window.run_viewed, timeout=10_000):
        library.open_button.click()  # shows the run: nothing trains
    assert not window.session.active and window.viewing == run
    window.config_panel.set_value("run.steps", 10)  # an edit after opening: Resume asks (the fixture: OK)
    with qtbot.waitSignal(window.run_finished, timeout=60_000) as blocker:
        library.resume_button.click()
    assert blocker.args[0].step == 10 and Path(blocker.args[0].run_dir) == run


def test_ticking_two_runs_overlays_them_and_the_choice_survives_a_restart(qtbot, window, library, settings):
    from studio.window.main_window import MainWindow

    runs = [trained(window, "alpha"), trained(window, "beta", **{"optim.lr_g": 1e-3})]
    refreshed(qtbot, library)
    overlay_both(qtbot, library, runs)

    plots = window.loss_plots
    assert set(plots.overlays) == {key_of(r) for r in runs}
    for plot in plots.plots:
        labels = legend_labels(plot)
        assert "alpha" in labels and "beta" in labels  # a legend entry per overlaid run, on each plot
    colours = {o.colour for o in plots.overlays.values()}
    assert len(colours) == 2
    for overlay in plots.overlays.values():
        assert len(overlay.curves) == 4  # G and D losses, D(x) and D(G(z))
        x, y = overlay.curves["g_loss"].getOriginalDataset()
        assert list(x) == [2, 4, 6, 8] and np.all(np.isfinite(y))
        assert overlay.curves["g_loss"].opts["pen"].widthF() < plots.curves["g_loss"].opts["pen"].widthF()
    quality = window.quality_panel
    assert set(quality.overlays) == {key_of(r) for r in runs}
    assert {"alpha", "beta"} <= set(legend_labels(quality.fd_plot))
    assert list(quality.overlays[key_of(runs[0])].xData) == [4, 8]

    # Another window on the same settings draws the same overlays.
    again = MainWindow(settings, runs_root=window.runs_root)
    qtbot.addWidget(again)
    try:
        qtbot.waitUntil(lambda: set(again.loss_plots.overlays) == {key_of(r) for r in runs}, timeout=10_000)
        again.show()
        again.library_dock.show()
        qtbot.waitUntil(lambda: again.library.row_of(runs[0]) >= 0, timeout=10_000)
        assert again.library.table.item(again.library.row_of(runs[0]), OVERLAY).checkState() == Qt.Checked
        # Unticked: off the plots and their legends, and not restored again.
        again.library.table.item(again.library.row_of(runs[0]), OVERLAY).setCheckState(Qt.Unchecked)
        assert set(again.loss_plots.overlays) == {key_of(runs[1])}
        assert "alpha" not in legend_labels(again.loss_plots.plots[0])
        assert "alpha" not in legend_labels(again.quality_panel.fd_plot)
        assert json.loads(settings.value("library/overlays")) == [key_of(runs[1])]
    finally:
        again.close()


def test_fork_from_a_timeline_step_overlays_the_parent(qtbot, window, monkeypatch):
    with qtbot.waitSignal(window.run_finished, timeout=60_000) as blocker:
        window.start_training(tiny_config(**{"run.steps": 12, "run.keep_every": 8, "run.threads": 1}))  # kept: 8
    parent = Path(blocker.args[0].run_dir)
    assert not window.library.isVisible() and window.library.runs == []  # hidden: no scan on start or finish
    gallery = window.gallery
    assert gallery.steps == [4, 8, 12]  # a grid every 4 steps

    monkeypatch.setattr(ForkSettingsDialog, "exec", lambda self: QDialog.Accepted)  # the parent's settings
    gallery.slider.setValue(0)  # step 4: no checkpoint kept there
    action = gallery.context_menu().actions()[0]
    assert not action.isEnabled() and "no checkpoint kept at step 4" in action.text()

    gallery.slider.setValue(1)  # step 8
    action = gallery.context_menu().actions()[0]
    assert action.isEnabled() and action.text() == "Fork from here…" and action.objectName() == "forkFromHere"
    with qtbot.waitSignal(window.run_finished, timeout=60_000) as blocker:
        action.trigger()
    fork = Path(blocker.args[0].run_dir)
    assert fork != parent and blocker.args[0].step == 12
    lineage = read_lineage(fork)
    assert lineage["parent"] == str(parent.resolve()) and lineage["fork_step"] == 8
    # The fork's curves are drawn over its parent's, which the library overlaid when the fork started.
    assert key_of(parent) in window.library.ticked
    qtbot.waitUntil(lambda: key_of(parent) in window.loss_plots.overlays, timeout=10_000)


def test_fork_dialog_offers_the_latest_and_each_kept_step(qtbot, window, library, monkeypatch):
    run = trained(window, "alpha")
    refreshed(qtbot, library)
    info = library.runs[library.row_of(run)]
    dialog = ForkDialog(info)
    qtbot.addWidget(dialog)
    assert [dialog.list.item(i).text() for i in range(dialog.list.count())] == \
        ["Latest (step 8)", "Step 8 (kept)", "Step 4 (kept)"]
    assert dialog.source() == run / "checkpoints" / "last.pt"

    def pick_step_4(self):
        self.list.setCurrentRow(2)
        return QDialog.Accepted

    def steps_to_6(self):
        self.steps.setValue(6)
        return QDialog.Accepted

    monkeypatch.setattr(ForkDialog, "exec", pick_step_4)
    monkeypatch.setattr(ForkSettingsDialog, "exec", steps_to_6)
    library.select(run)
    with qtbot.waitSignal(window.run_finished, timeout=60_000) as blocker:
        library.fork_button.click()
    fork = Path(blocker.args[0].run_dir)
    assert read_lineage(fork)["fork_step"] == 4 and blocker.args[0].step == 6


def test_delete_asks_first_and_refuses_a_running_run(qtbot, window, library, monkeypatch):
    run = trained(window, "alpha")
    away = window.runs_root / "away"
    shutil.copytree(run, away)
    beat = Heartbeat("running", 5, 8, 4242, "elsewhere.example", time.time())
    (away / "heartbeat.json").write_text(json.dumps(asdict(beat)))
    refreshed(qtbot, library)
    library.set_overlaid(run, True)

    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: asked.append(a) or QMessageBox.No))
    library.select(away)
    assert library.table.item(library.row_of(away), STATE).text() == "running elsewhere"
    assert not library.delete_button.isEnabled() and not library.open_button.isEnabled()
    library.delete(library.selected())
    assert not asked and away.is_dir() and "stop it first" in window.message_bar.message

    library.select(run)
    library.delete_button.click()
    assert len(asked) == 1 and "alpha" in asked[0][2] and run.is_dir()  # "No": nothing removed

    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: asked.append(a) or QMessageBox.Yes))
    with qtbot.waitSignal(library.deleted, timeout=10_000):
        library.delete_button.click()
    assert not run.exists() and away.is_dir()
    assert key_of(run) not in library.ticked and key_of(run) not in window.loss_plots.overlays
    qtbot.waitUntil(lambda: row_texts(library, NAME) == ["away"], timeout=10_000)


def test_a_long_overlay_is_reduced_once_and_follows_the_smoothing(qtbot):
    plots = LossPlots()
    qtbot.addWidget(plots)
    steps = np.arange(1, 50_001, dtype=float)
    values = np.random.default_rng(0).normal(1.0, 0.3, len(steps))
    values[100] = np.nan  # a NaN reading is left out, not drawn as a gap or carried into the average
    plots.set_overlay("other", "other run", "#f06292", steps, {"g_loss": values, "d_loss": values})
    curve = plots.overlays["other"].curves["g_loss"]
    x, y = curve.getOriginalDataset()
    assert len(x) <= OVERLAY_POINTS + 1 and x[-1] == steps[-1] and np.all(np.isfinite(y))
    before = y.copy()
    plots.smoothing.setValue(0)  # raw readings: the bucket means of the values themselves
    x, y = curve.getOriginalDataset()
    assert not np.allclose(y, before) and abs(np.nanmean(values) - y[:-1].mean()) < 0.01
    assert "other run" in legend_labels(plots.plots[0]) and len(plots.overlays["other"].curves) == 2
    plots.clear()  # a new run in the window: the overlay stays
    assert "other" in plots.overlays
    plots.remove_overlay("other")
    assert curve not in plots.plots[0].items and "other run" not in legend_labels(plots.plots[0])


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.99])
def test_overlay_smoothing_matches_the_live_curves(weight):
    values = np.random.default_rng(1).normal(2.0, 0.5, 3000)
    buffer = Buffer()
    buffer.set_weight(weight)
    for v in values:
        buffer.append(float(v))
    assert np.allclose(ema(values, weight), buffer.smooth_view(), rtol=1e-9, atol=1e-12)


def test_a_sweeps_trials_are_listed_grouped_under_its_name(qtbot, settings, tmp_path):
    """The guide says the library lists every run: a sweep's trials (SWEEPDIR/trial-NNNN) are runs."""
    from studio.panels.quality_panel import QualityPanel
    from studio.panels.run_library import RunLibrary

    runs = tmp_path / "runs"
    train(tiny_config(**QUICK), run_dir=runs / "plain")
    sweep = runs / "lr-sweep"
    sweep.mkdir()
    (sweep / "sweep.json").write_text(json.dumps({"id": "abc", "study": "lr-sweep", "storage": None}))
    for number in (1, 0):
        trial = sweep / f"trial-{number:04d}"
        shutil.copytree(runs / "plain", trial)
        record = json.loads((trial / "run.json").read_text())
        record["sweep"] = {"study": "lr-sweep", "trial": number, "values": {"optim.lr_g": 1e-4}}
        (trial / "run.json").write_text(json.dumps(record))
    library = RunLibrary(settings, lambda: runs, LossPlots(), QualityPanel())
    qtbot.addWidget(library)
    with qtbot.waitSignal(library.refreshed, timeout=10_000):
        library.show()
    names = row_texts(library, NAME)
    assert sorted(names) == ["lr-sweep ▸ trial 0", "lr-sweep ▸ trial 1", "plain"]
    first = names.index("lr-sweep ▸ trial 0")
    assert names[first + 1] == "lr-sweep ▸ trial 1"  # together, in trial order
    row = library.row_of(sweep / "trial-0001")
    assert library.table.item(row, STATE).text() == "finished"
    assert "Trial 1 of the sweep lr-sweep" in library.table.item(row, NAME).toolTip()
    assert library.note.text().endswith("3 runs in " + str(runs) + ", 2 of them trials of 1 sweep")
    library.select(sweep / "trial-0000")
    assert library.selected().path == sweep / "trial-0000"  # opened, resumed or forked as any run
    library.jobs.wait_all()
