"""The run shown, one model of it (studio/model/shown_run.py), and the defects that came from keeping
it in several places (#26): lost markers and names, a greyed Resume, a fork named as its parent,
stale labels on switching, the keys left in a field, docks that widened the window."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit

from core.runs.notes import read_names
from core.training.trainer import train
from studio.model.shown_run import Origin, RunState
from tests.studio.conftest import SCREEN, _docks, _fits, _sized, tiny_config

QUICK = {"run.steps": 8, "run.threads": 1, "run.device": "cpu", "run.sample_every": 4, "run.quality_every": 0,
         "run.checkpoint_every": 4}


def _trained(window, name: str, **more) -> Path:
    run = window.runs_root / name
    train(tiny_config(**{**QUICK, **more}), run_dir=run)
    return run


def _with_a_live_change(run: Path, step: int = 6) -> None:
    """As the trainer writes a live change (core/runs/writer.py write_change)."""
    with open(run / "changes.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"step": step, "changes": {"optim.lr_d": 0.0001}}) + "\n")


def _view(qtbot, window, run: Path) -> None:
    with qtbot.waitSignal(window.run_viewed, timeout=15_000):
        window.open_run(str(run))


def _trains(qtbot, window, start) -> None:
    with qtbot.waitSignal(window.session.started, timeout=30_000):
        start()


def _ends(qtbot, window) -> None:
    with qtbot.waitSignal(window.run_finished, timeout=60_000):
        pass


def test_a_run_opened_shows_its_live_changes_on_the_plots(qtbot, window):
    run = _trained(window, "changed")
    _with_a_live_change(run)
    _view(qtbot, window, run)
    assert [step for step, _ in window.loss_plots.markers] == [6]
    assert "lr_d" in window.loss_plots.markers[0][1]


def test_a_resumed_run_shows_the_live_changes_of_its_past(qtbot, window):
    run = _trained(window, "changed", **{"run.steps": 8})
    _with_a_live_change(run)
    window.config_panel.set_config(tiny_config(**{**QUICK, "run.steps": 16}))
    with qtbot.waitSignal(window.history_loaded, timeout=30_000):
        _trains(qtbot, window, lambda: window.resume_run(run))
    assert [step for step, _ in window.loss_plots.markers] == [6]
    _ends(qtbot, window)


def test_the_name_row_is_not_editable_while_a_run_trains(qtbot, window):
    assert window.names.name.isEnabled()
    _trains(qtbot, window, lambda: window.start_training(tiny_config(**{**QUICK, "run.steps": 100_000})))
    assert not window.names.name.isEnabled() and not window.names.notes.isEnabled()
    window.stop()
    _ends(qtbot, window)
    assert window.names.name.isEnabled()


def test_a_fork_is_named_as_a_fork_unless_the_person_names_it(qtbot, window):
    parent = _trained(window, "alpha")
    from core.runs.notes import write_names

    write_names(parent, "Alpha")
    window.names.name.setText("Alpha")  # typed for the parent, then left in the row
    _trains(qtbot, window, lambda: window.fork_from(parent, changes={}))
    assert window.model.name == "Alpha · fork at 8" and "Alpha · fork at 8" in window.windowTitle()
    _ends(qtbot, window)
    assert read_names(window.model.run_dir)[0] == "Alpha · fork at 8"
    assert read_names(parent)[0] == "Alpha"


def test_resume_is_offered_right_after_stop(qtbot, window):
    _trains(qtbot, window, lambda: window.start_training(tiny_config(**{**QUICK, "run.steps": 100_000})))
    window.stop()
    _ends(qtbot, window)
    assert window.model.state == RunState.IDLE and window.model.outcome == "stopped"
    assert window.resume_action.isEnabled()


def test_resuming_a_finished_run_asks_how_far_and_never_doubles_on_its_own(qtbot, window, monkeypatch):
    run = _trained(window, "done")
    asked = []

    def get_int(_parent, _title, label, value, *rest, **kw):
        asked.append((label, value))
        return 12, True

    monkeypatch.setattr(QInputDialog, "getInt", staticmethod(get_int))
    _view(qtbot, window, run)
    _trains(qtbot, window, lambda: window.resume_run())
    assert asked and "reached its 8 planned steps" in asked[0][0]
    _ends(qtbot, window)
    assert json.loads((run / "heartbeat.json").read_text())["step"] == 12

    monkeypatch.setattr(QInputDialog, "getInt", staticmethod(lambda *a, **k: (0, False)))
    window.resume_run(run)  # cancelled: nothing trains
    assert not window.session.active


def test_after_a_button_or_a_failed_job_space_pauses_not_types(qtbot, window):
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    window.names.name.setFocus(Qt.OtherFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.names.name, timeout=5_000)
    window.controls.open_generator.setEnabled(True)
    monkeypatch_free = window.files.open_generator
    window.files.open_generator = lambda path=None: None  # no dialog in a test
    window.controls.open_generator.trigger()
    qtbot.waitUntil(lambda: not isinstance(QApplication.focusWidget(), QLineEdit), timeout=5_000)
    window.files.open_generator = monkeypatch_free
    window.names.name.setFocus(Qt.OtherFocusReason)
    window.session.error.emit(0, "a job failed")
    qtbot.waitUntil(lambda: not isinstance(QApplication.focusWidget(), QLineEdit), timeout=5_000)


def test_switching_from_a_folder_back_to_digits_leaves_nothing_of_the_folder(qtbot, window, picture_folder):
    form = window.config_panel
    with qtbot.waitSignal(window.data_preview.ready, timeout=30_000):
        form.set_config(tiny_config(**{"data.dataset": "folder", "data.folder": str(picture_folder),
                                       "data.channels": 3, "data.image_size": 32}))
    qtbot.waitUntil(lambda: window.gallery.title.text().startswith("Your pictures"), timeout=5_000)
    assert "pictures" in window.status.progress.format()
    assert window.quality_panel.kind != "digits"  # a folder is not read as digits
    form.set_config(tiny_config())
    qtbot.waitUntil(lambda: not window.gallery.title.text().startswith("Your pictures"), timeout=5_000)
    assert "pictures" not in window.status.progress.format()
    assert window.quality_panel.kind == "digits"


def test_every_dock_fits_with_a_folder_previewed(qtbot, window, picture_folder):
    width = _sized(qtbot, window)
    assert width == SCREEN[0]
    with qtbot.waitSignal(window.data_preview.ready, timeout=30_000):
        window.config_panel.set_config(tiny_config(**{"data.dataset": "folder", "data.folder": str(picture_folder),
                                                      "data.channels": 3, "data.image_size": 64}))
    qtbot.waitUntil(lambda: window.gallery.title.text().startswith("Your pictures"), timeout=5_000)
    _fits(qtbot, window, width, "a folder previewed")
    for dock in _docks(window):
        dock.toggleViewAction().trigger()
        _fits(qtbot, window, width, f"{dock.objectName()} with a folder previewed")
        if dock.objectName() != "configDock":
            assert window.gallery.slider.width() >= 100, "the timeline must stay usable"
    for dock in _docks(window):
        if not dock.isVisible():
            dock.toggleViewAction().trigger()
    _fits(qtbot, window, width, "every dock, a folder previewed")


def test_the_model_says_how_the_run_came_to_be_shown(qtbot, window):
    run = _trained(window, "beta")
    _view(qtbot, window, run)
    assert window.model.origin == Origin.VIEWING and window.windowTitle() == "GAN Studio — beta (viewing)"
    assert window.gallery.title.text() == "Samples · beta"


def test_the_form_kept_at_close_is_the_persons_not_the_trainers(qtbot, window, settings, picture_folder):
    config = tiny_config(**{**QUICK, "data.dataset": "folder", "data.folder": str(picture_folder),
                            "data.channels": 3, "data.image_size": 32, "model.clusters": "auto"})
    _trains(qtbot, window, lambda: window.start_training(config))
    assert window.config_panel.current_config().model.clusters != "auto"  # the trainer's number, shown
    _ends(qtbot, window)
    window.close()
    assert json.loads(settings.value("config/last"))["model"]["clusters"] == "auto"


def test_choosing_the_folder_preset_again_keeps_the_folder(qtbot, window, picture_folder):
    form = window.config_panel
    folder_preset = form.preset.findData("folder")
    form.preset.setCurrentIndex(folder_preset)
    form.preset.activated.emit(folder_preset)
    form.editors["data.folder"].set_value(str(picture_folder))
    default = form.preset.findData("default")
    form.preset.setCurrentIndex(default)
    form.preset.activated.emit(default)
    form.preset.setCurrentIndex(folder_preset)
    form.preset.activated.emit(folder_preset)
    assert form.editors["data.folder"].value() == str(picture_folder)
