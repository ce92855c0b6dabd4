"""What the window says once a run has stopped and as the pointer moves: the explorer keeps the run
(its last snapshot, or the generator it saved), an export is confirmed once, status tips go away."""

from __future__ import annotations

import shutil

from PySide6.QtGui import QStatusTipEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from studio.dialogs.export_dialog import ExportRequest
from studio.window import main_window
from tests.studio.conftest import tiny_config

NO_GENERATOR = "No generator yet"


def _stopped_run(qtbot, window, explorer_shown: bool):
    with qtbot.waitSignal(window.session.started, timeout=30_000):
        window.start_training(tiny_config(**{"run.steps": 100_000}))
    with qtbot.waitSignal(window.session.state_changed, check_params_cb=lambda e: e.state == "paused",
                          timeout=20_000):
        window.pause()
    with qtbot.waitSignal(window.session.samples, timeout=20_000):
        window.step_once()
    if explorer_shown:
        with qtbot.waitSignal(window.explorer.result_shown, timeout=30_000):
            window.explorer_dock.show()
    with qtbot.waitSignal(window.run_finished, timeout=20_000):
        window.stop()


def test_an_explorer_opened_after_a_stop_explores_the_runs_saved_generator(qtbot, window):
    _stopped_run(qtbot, window, explorer_shown=False)
    panel = window.explorer
    assert panel.saved_generator == str(window.last_run_dir / "generator.safetensors")
    with qtbot.waitSignal(panel.result_shown, timeout=30_000):
        window.explorer_dock.show()
    assert panel.source.kind == "file" and NO_GENERATOR not in panel.source_label.text()
    assert window.last_run_dir.name in panel.source_label.text()
    assert panel.shown_image is not None


def test_a_shown_explorer_keeps_the_last_snapshot_after_a_stop(qtbot, window):
    _stopped_run(qtbot, window, explorer_shown=True)
    panel = window.explorer
    shown = panel.shown_image
    assert panel.source.kind == "live" and NO_GENERATOR not in panel.source_label.text()
    assert "The run has stopped" in panel.note.text() and "Refresh" in panel.note.text()
    assert panel.shown_image is shown
    with qtbot.waitSignal(panel.source_changed, timeout=30_000) as blocker:
        panel.refresh()  # the generator the run saved on the way out
    assert blocker.args[0].kind == "file"


def test_an_export_is_confirmed_in_the_banner_alone(qtbot, window, tmp_path, monkeypatch):
    _stopped_run(qtbot, window, explorer_shown=False)
    dialogs = []
    monkeypatch.setattr(QMessageBox, "information", staticmethod(lambda *a, **k: dialogs.append(a)))
    with qtbot.waitSignal(window.files.exported, timeout=30_000):
        window.files.export_samples(ExportRequest(n=2, kind="grid", label=None, seed=0, folder=str(tmp_path)))
    assert "Exported samples" in window.message_bar.message and dialogs == []


def test_a_status_tip_goes_when_the_pointer_leaves_or_after_a_while(qtbot, window, monkeypatch):
    note = window.status.note
    QApplication.sendEvent(window, QStatusTipEvent("Start training with the settings on the left"))
    assert note.text().startswith("Start training")
    QApplication.sendEvent(window, QStatusTipEvent(""))  # what Qt sends when the pointer leaves
    assert note.text() == ""
    monkeypatch.setattr(main_window, "STATUS_TIP_MS", 50)
    QApplication.sendEvent(window, QStatusTipEvent("Pause at the next step boundary"))
    assert note.text() != ""
    qtbot.waitUntil(lambda: note.text() == "", timeout=5_000)  # a button disabled under the pointer gets no Leave


def test_a_run_opened_to_look_at_is_explored_with_its_saved_generator(qtbot, window):
    _stopped_run(qtbot, window, explorer_shown=False)
    run = window.last_run_dir.with_name("another-run")  # not the run that just stopped
    shutil.copytree(window.last_run_dir, run)
    with qtbot.waitSignal(window.run_viewed, timeout=30_000):
        window.view_run(run)
    panel = window.explorer
    with qtbot.waitSignal(panel.result_shown, timeout=30_000):
        window.explorer_dock.show()
    assert panel.source.kind == "file" and panel.file_path == str(run / "generator.safetensors")
    assert NO_GENERATOR not in panel.source_label.text()
