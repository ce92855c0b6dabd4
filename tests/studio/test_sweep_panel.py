"""The Sweep panel: ranges from the form's fields, a refused range, a tiny real sweep shown as it trains
(table, parallel coordinates, the trial in the form), an opened sweep left as it was, and the ranges as
a TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from core.sweeps.space import Param, Space
from studio.panels.sweep_panel import folder_refusal
from tests.studio.conftest import tiny_config

SWEEP_TIMEOUT_MS = 120_000  # two tiny trials on a busy 2-core machine (torch and Optuna load first)
QUICK = {"run.steps": 4, "run.device": "cpu", "run.threads": 1, "run.log_every": 2, "run.sample_every": 2,
         "run.quality_every": 2, "run.quality_samples": 16}


def _panel(window):
    window.sweep_dock.show()
    return window.sweep_panel


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def test_two_ranges_from_the_forms_fields(qtbot, window):
    panel = _panel(window)
    lr = panel.ranges.add("optim.lr_g")
    loss = panel.ranges.add("loss.kind")
    assert type(lr.low).__name__ == "FloatSpin" and lr.log is not None  # a float field: float spins, a log tick
    lr.low.setValue(1e-5)
    lr.high.setValue(1e-3)
    lr.log.setChecked(True)
    assert set(loss.ticks) == {"bce", "minimax", "lsgan", "hinge", "wgan-gp", "rpgan"}  # the choice field's options
    for option, tick in loss.ticks.items():
        tick.setChecked(option in ("bce", "hinge"))
    assert panel.ranges.space() == Space((
        Param("optim.lr_g", "float", 1e-5, 1e-3, True, ()),
        Param("loss.kind", "choice", None, None, False, ("bce", "hinge"))))
    steps = panel.ranges.add("loss.d_steps")
    assert type(steps.low).__name__ == "QSpinBox"  # an int field: whole numbers
    assert (steps.low.minimum(), steps.high.maximum()) == (1, 20)  # core's own limits for it
    panel.ranges.remove(steps)
    assert [row.key for row in panel.ranges.rows] == ["optim.lr_g", "loss.kind"]
    assert "run.steps" not in panel.ranges.keys  # the trials' length is the sweep's own


def test_the_spin_boxes_hold_the_schemas_bounds(qtbot, window, monkeypatch):
    from dataclasses import replace

    from core.config import SCHEMA
    from studio.panels.sweep_ranges import INT_LIMIT

    panel = _panel(window)
    for key in ("loss.d_steps", "model.clusters", "run.batch_size", "loss.label_smoothing", "optim.lr_d"):
        setting, row = SCHEMA[key], panel.ranges.add(key)
        assert (row.low.minimum(), row.high.maximum()) == (setting.low, min(setting.high, INT_LIMIT)), key
        assert row.log.isChecked() == setting.log, key  # a first range on a log scale where the schema says so
        panel.ranges.remove(row)
    # The schema's bound changed alone: the spin box follows.
    monkeypatch.setitem(SCHEMA, "loss.d_steps", replace(SCHEMA["loss.d_steps"], high=7))
    assert panel.ranges.add("loss.d_steps").high.maximum() == 7


def test_a_value_core_refuses_is_marked_as_the_form_marks_it(qtbot, window):
    row = _panel(window).ranges.add("loss.label_smoothing")
    row.high.setRange(0, 10)  # as if typed past the field's limit
    row.high.setValue(0.9)
    assert row.high.property("invalid") is True
    assert "loss.label_smoothing" in row.error


def test_a_bad_range_shows_one_line_and_starts_nothing(qtbot, window):
    panel = _panel(window)
    row = panel.ranges.add("optim.lr_g")
    row.low.setValue(1e-3)
    row.high.setValue(1e-5)  # reversed
    before = sorted(window.runs_root.glob("*")) if window.runs_root.exists() else []
    with qtbot.waitSignal(panel.refused, timeout=10_000):  # core checks the space on a job
        panel.start_button.click()
    assert not window.session.active
    text = panel.note.text()
    assert "optim.lr_g" in text and "below high" in text and "\n" not in text
    assert panel.note.isVisible()
    after = sorted(window.runs_root.glob("*")) if window.runs_root.exists() else []
    assert after == before  # no folder made


def test_a_full_folder_is_refused(qtbot, window, tmp_path):
    panel = _panel(window)
    full = tmp_path / "holiday pictures"
    full.mkdir()
    (full / "a.png").write_bytes(b"x")
    assert not panel.choose_folder(str(full))
    assert "holds other files" in panel.note.text() and panel.chosen_out is None
    assert panel.choose_folder(str(tmp_path / "new sweep"))
    assert panel.chosen_out == tmp_path / "new sweep"


def test_a_tiny_sweep_trains_shows_its_trials_and_gives_their_settings(qtbot, window, monkeypatch):
    window.config_panel.set_config(tiny_config(**QUICK))
    panel = _panel(window)
    row = panel.ranges.add("optim.lr_g")
    row.low.setValue(1e-4)
    row.high.setValue(1e-3)
    row.log.setChecked(True)
    choice = panel.ranges.add("model.g_activation")
    assert set(choice.ticks) == {"relu", "leaky_relu"}
    panel.trials.setValue(2)
    panel.steps.setValue(4)
    with qtbot.waitSignal(panel.sweep_started, timeout=30_000):  # once core has checked the space
        panel.start_button.click()
    assert window.session.active and window.session.sweeping
    assert not window.controls.start.isEnabled()  # the normal Start waits for the sweep
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    sweep_dir = panel.sweep_dir
    assert sweep_dir is not None and sweep_dir.parent == window.runs_root

    with qtbot.waitSignal(window.run_finished, timeout=SWEEP_TIMEOUT_MS):
        pass
    qtbot.waitUntil(lambda: panel.states() == ["complete", "complete"], timeout=30_000)
    assert len(panel.plot.curves) == 2  # one polyline a trial
    assert window.controls.start.isEnabled() and panel.start_button.isEnabled()
    assert window.config_panel.editors["model.g_activation"].value() == "relu"  # the form's own settings back
    # The trial being trained was the run shown: the gallery and plots showed its grids and losses.
    assert window.gallery.run_dir is not None and Path(window.gallery.run_dir).parent == sweep_dir

    trial = panel.rows[1]
    panel.select(trial.number)
    assert panel.use_button.isEnabled() and panel.open_button.isEnabled() and panel.fork_button.isEnabled()
    panel.use_button.click()
    # The form writes floats to 6 significant digits (%g), as it shows every value.
    assert window.config_panel.editors["optim.lr_g"].value() == pytest.approx(trial.values["optim.lr_g"], rel=1e-5)
    assert window.config_panel.editors["model.g_activation"].value() == trial.values["model.g_activation"]

    # A trial through the window's own actions: shown (nothing written), overlaid, forked.
    with qtbot.waitSignal(window.run_viewed, timeout=30_000) as viewed:
        panel.open_button.click()
    assert Path(viewed.args[0]) == Path(trial.run_dir)
    panel.select(trial.number)
    panel.overlay_button.click()
    assert str(Path(trial.run_dir).resolve()) in window.library.ticked
    forked: list[str] = []
    monkeypatch.setattr(window.opener, "fork_from", lambda source, *a, **k: forked.append(source))
    panel.fork_button.click()
    assert forked == [trial.run_dir]

    # Opened to look at, later: the same trials, and not a byte of the folder changes.
    before = _files(sweep_dir)
    panel._show_sweep(window.runs_root, Space(()))  # something else shown first
    with qtbot.waitSignal(panel.trials_shown, timeout=30_000):
        panel.open_sweep(str(sweep_dir))
    assert [r.number for r in panel.rows] == [0, 1] and panel.states() == ["complete", "complete"]
    assert len(panel.plot.curves) == 2
    assert _files(sweep_dir) == before


def test_a_normal_run_keeps_the_sweeps_start_disabled(qtbot, window):
    panel = _panel(window)
    panel.ranges.add("optim.lr_g")
    assert panel.start_button.isEnabled()
    window.start_training(tiny_config(**{**QUICK, "run.steps": 100_000}))
    assert window.session.active
    assert not panel.start()  # refused at once (the button follows at the run's first event)
    qtbot.waitUntil(lambda: not panel.start_button.isEnabled(), timeout=10_000)
    assert "stop it first" in panel.note.text() and not window.session.sweeping
    with qtbot.waitSignal(window.run_finished, timeout=60_000):
        window.stop()
    assert panel.start_button.isEnabled()


def test_the_ranges_round_trip_through_a_toml_file(qtbot, window, tmp_path):
    panel = _panel(window)
    lr = panel.ranges.add("optim.lr_g")
    lr.low.setValue(2e-5)
    lr.high.setValue(4e-4)
    lr.log.setChecked(True)
    steps = panel.ranges.add("loss.d_steps")
    steps.low.setValue(1)
    steps.high.setValue(3)
    z = panel.ranges.add("model.z_dim")
    z.log.setChecked(True)  # an int range on a log scale
    flag = panel.ranges.add("model.d_spectral_norm")
    flag.ticks[False].setChecked(False)
    space = panel.ranges.space()
    path = tmp_path / "space.toml"
    with qtbot.waitSignal(panel.space_saved, timeout=10_000):
        panel.save_space(str(path))
    assert "[optim.lr_g]" in path.read_text(encoding="utf-8")
    for row in list(panel.ranges.rows):
        panel.ranges.remove(row)
    assert panel.ranges.space() == Space(())
    with qtbot.waitSignal(panel.space_loaded, timeout=10_000):
        panel.load_space(str(path))
    assert panel.ranges.space() == space
    # A list of values for a numeric setting, written by hand, comes back as those values.
    path.write_text("[loss.r1_gamma]\nchoices = [0.0, 1.0, 10.0]\n", encoding="utf-8")
    with qtbot.waitSignal(panel.space_loaded, timeout=10_000):
        panel.load_space(str(path))
    assert panel.ranges.space() == Space((Param("loss.r1_gamma", "choice", None, None, False, (0.0, 1.0, 10.0)),))


def test_the_wheel_changes_a_range_only_with_focus(qtbot, window):
    panel = _panel(window)
    row = panel.ranges.add("loss.d_steps")
    before = row.high.value()
    centre = QPointF(row.high.rect().center())
    event = QWheelEvent(centre, QPointF(row.high.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, 120),
                        Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(row.high, event)
    assert row.high.value() == before
    assert row.high.focusPolicy() == Qt.StrongFocus


def test_a_full_panel_fits_the_window_and_never_widens_it(qtbot, window):
    from core.sweeps.study import TrialRow
    from tests.studio.conftest import LONG_PATH, _fits, _sized

    width = _sized(qtbot, window)
    panel = _panel(window)
    for key in ("optim.lr_g", "loss.kind", "model.z_dim", "data.augment"):
        panel.ranges.add(key)
    panel.say(f"Cannot start the sweep: {LONG_PATH} holds other files and is not a sweep's folder", "error")
    panel.choose_folder(str(window.runs_root / ("a-long-folder-name-" * 8)))
    space = panel.ranges.space()
    rows = [TrialRow(n, "complete" if n % 3 else "pruned", {"optim.lr_g": 1e-4 * (n + 1), "loss.kind": "hinge",
                                                             "model.z_dim": 32 + n, "data.augment": "on"},
                     10.0 / (n + 1), 123_456, None) for n in range(12)]
    panel._show_sweep(window.runs_root, space)
    panel.rows = rows
    panel._fill_table()
    panel.plot.show_trials(space, rows)
    panel.importance.show_importances({k: 0.25 for k in space.keys}, 12)
    assert len(panel.plot.curves) == 12
    _fits(qtbot, window, width, "the sweep panel full")


def test_pause_and_stop_steer_the_trial_and_keep_it_to_continue(qtbot, window):
    window.config_panel.set_config(tiny_config(**QUICK))
    panel = _panel(window)
    panel.ranges.add("optim.lr_g")
    panel.trials.setValue(2)
    panel.steps.setValue(100_000)
    with qtbot.waitSignal(panel.sweep_started, timeout=30_000):
        panel.start_button.click()
    with qtbot.waitSignal(window.session.metrics, timeout=SWEEP_TIMEOUT_MS):
        pass  # trial 0 trains
    panel.pause_button.click()
    qtbot.waitUntil(lambda: window.model.state == "paused", timeout=30_000)
    assert panel.pause_button.text().endswith("Resume") and window.state == "paused"
    with qtbot.waitSignal(window.run_finished, timeout=60_000) as finished:
        panel.stop_button.click()
    assert finished.args[0].stopped
    qtbot.waitUntil(lambda: panel.states() == ["interrupted"], timeout=30_000)
    trial = Path(panel.rows[0].run_dir)
    assert (trial / "checkpoints" / "last.pt").is_file()  # Start on this folder continues it
    assert folder_refusal(panel.sweep_dir) == ""  # a sweep's own folder may be chosen again


def test_a_sweep_without_readings_to_compare_is_refused_in_one_line(qtbot, window):
    window.config_panel.set_config(tiny_config(**{**QUICK, "run.quality_every": 0}))
    panel = _panel(window)
    panel.ranges.add("optim.lr_g")
    with qtbot.waitSignal(panel.refused, timeout=30_000):
        panel.start_button.click()
    assert "run.quality_every" in panel.note.text() and "\n" not in panel.note.text()
    assert not window.session.active
