"""Drive the real window through a tiny training run."""

from __future__ import annotations

from pathlib import Path

from tests.studio.conftest import tiny_config


def start_tiny(qtbot, window, **more):
    with qtbot.waitSignal(window.session.started, timeout=30_000):
        run = window.start_training(tiny_config(**more))
    return run


def test_train_shows_metrics_and_grid_then_pause_resume(qtbot, window):
    run = start_tiny(qtbot, window)
    assert run is not None and run.parent == window.runs_root
    qtbot.waitUntil(lambda: window.loss_plots.count >= 2, timeout=30_000)
    qtbot.waitUntil(lambda: len(window.gallery.steps) >= 1, timeout=30_000)
    assert window.gallery.view.image is not None
    qtbot.waitUntil(lambda: window.loss_plots.curves["g_loss"].xData is not None, timeout=5_000)

    with qtbot.waitSignal(window.session.state_changed, check_params_cb=lambda e: e.state == "paused",
                          timeout=10_000):
        window.controls.pause.trigger()
    assert window.state == "paused"
    assert "Resume" in window.controls.pause.text()
    seen = window.loss_plots.count
    # While paused nothing trains: a step-once request moves exactly one step.
    with qtbot.waitSignal(window.session.metrics, timeout=10_000) as blocker:
        window.controls.step.trigger()
    paused_at = blocker.args[0].step
    qtbot.waitUntil(lambda: window.state == "paused", timeout=10_000)
    assert window.loss_plots.count == seen + 1

    with qtbot.waitSignal(window.session.metrics, timeout=10_000) as blocker:
        window.controls.pause.trigger()  # Space / the same button resumes
    assert blocker.args[0].step > paused_at
    assert window.state == "running"

    with qtbot.waitSignal(window.run_finished, timeout=15_000) as blocker:
        window.controls.stop.trigger()
    assert blocker.args[0].stopped
    assert (run / "checkpoints" / "last.pt").is_file()
    assert (run / "generator.safetensors").is_file()
    assert window.controls.start.isEnabled()


def test_live_lr_change_is_applied_and_marked(qtbot, window):
    start_tiny(qtbot, window)
    qtbot.waitUntil(lambda: window.state == "running", timeout=30_000)
    editor = window.config_panel.editors["optim.lr_g"].widget
    assert editor.isEnabled()
    assert not window.config_panel.editors["run.batch_size"].widget.isEnabled()
    with qtbot.waitSignal(window.session.hyperparams_changed, timeout=10_000) as blocker:
        editor.setText("0.0001")
        editor.editingFinished.emit()
    assert blocker.args[0].changes == {"optim.lr_g": 0.0001}
    assert window.loss_plots.markers and "lr_g" in window.loss_plots.markers[0][1]
    qtbot.waitUntil(lambda: window.status.step.text() != "", timeout=5_000)
    with qtbot.waitSignal(window.session.metrics, timeout=10_000) as blocker:
        pass
    assert abs(blocker.args[0].lr_g - 1e-4) < 1e-12
    assert window.config_panel.editors["optim.lr_g"].value() == 1e-4

    # A bad live value is refused with core's message, training goes on.
    assert not window.apply_live_change({"optim.lr_d": 5.0})
    assert "optim.lr_d" in window.message_bar.message
    with qtbot.waitSignal(window.run_finished, timeout=15_000):
        window.stop()


def test_gallery_timeline_scrubs_and_reloads_from_disk(qtbot, window, monkeypatch):
    import studio.panels.gallery as gallery

    monkeypatch.setattr(gallery, "MEMORY_BUDGET", 1)  # only the newest two: older grids come back from disk
    start_tiny(qtbot, window)
    qtbot.waitUntil(lambda: len(window.gallery.steps) >= 4, timeout=30_000)
    with qtbot.waitSignal(window.run_finished, timeout=15_000):
        window.stop()
    g = window.gallery
    assert g.slider.isEnabled()
    with qtbot.waitSignal(g.grid_shown, timeout=2_000) as blocker:
        g.slider.setValue(0)
    assert blocker.args[0] == g.steps[0]
    assert g.view.image is not None and not g.view.image.isNull()
    assert f"step {g.steps[0]:,}" in g.step_label.text()


def test_close_mid_run_stops_thread_and_keeps_checkpoint(qtbot, window):
    run = start_tiny(qtbot, window, **{"run.steps": 100_000})
    qtbot.waitUntil(lambda: window.loss_plots.count >= 1, timeout=30_000)
    window.close()  # QMessageBox.question is patched to answer Save
    assert not window.session.active
    assert (Path(run) / "checkpoints" / "last.pt").is_file()


def test_nan_style_error_pauses_and_keeps_running(qtbot, window):
    """The trainer reports a NaN loss as an error and pauses itself; the window shows both."""
    from core import events as ev

    start_tiny(qtbot, window)
    qtbot.waitUntil(lambda: window.state == "running", timeout=30_000)
    window.session.pause()  # what core does after a NaN
    qtbot.waitUntil(lambda: window.state == "paused", timeout=10_000)
    window.session.error.emit(42, "a loss became nan by step 42; training paused and rolled back")
    assert "became nan" in window.message_bar.message and "step 42" in window.message_bar.message
    assert window.controls.pause.isEnabled() and "Resume" in window.controls.pause.text()
    assert window.session.active and window.state == "paused"  # the error ended nothing
    with qtbot.waitSignal(window.run_finished, timeout=15_000) as blocker:
        window.stop()
    finished = blocker.args[0]
    assert isinstance(finished, ev.Finished) and finished.stopped and finished.run_dir


def test_space_toggles_pause(qtbot, window):
    from PySide6.QtCore import Qt

    start_tiny(qtbot, window)
    qtbot.waitUntil(lambda: window.state == "running", timeout=30_000)
    window.activateWindow()
    window.loss_plots.setFocus()
    qtbot.keyClick(window.loss_plots, Qt.Key_Space)
    qtbot.waitUntil(lambda: window.state == "paused", timeout=10_000)
    qtbot.keyClick(window.loss_plots, Qt.Key_Space)
    qtbot.waitUntil(lambda: window.state == "running", timeout=10_000)
    with qtbot.waitSignal(window.run_finished, timeout=15_000):
        window.stop()


def test_close_while_the_dataset_loads_hides_then_waits_for_the_thread(qtbot, window, monkeypatch):
    """A download cannot be interrupted: closing hides the window and waits, never exits
    with the trainer's thread still running."""
    import threading

    import core.training.trainer
    from studio.bridge.worker import TrainingSession

    loading, release = threading.Event(), threading.Event()
    real_load = core.training.trainer.load_dataset

    def slow_load(config, *args):  # stands in for a long MNIST download
        loading.set()
        release.wait(30)
        return real_load(config, *args)

    monkeypatch.setattr(core.training.trainer, "load_dataset", slow_load)
    monkeypatch.setattr(TrainingSession, "EXIT_WAIT_MS", 50)
    calls = []
    real_shutdown = TrainingSession.shutdown

    def shutdown(self, timeout_ms=-1):
        calls.append((self.EXIT_WAIT_MS if timeout_ms == -1 else timeout_ms, window.isVisible()))
        if timeout_ms is None:
            release.set()  # the download ends while the app waits
        return real_shutdown(self, timeout_ms)

    monkeypatch.setattr(TrainingSession, "shutdown", shutdown)
    window.start_training(tiny_config())
    assert loading.wait(30)
    window.close()
    assert calls[0] == (50, True)  # the first, bounded wait timed out with the window up
    assert calls[1] == (None, False)  # then the window was hidden and the wait had no limit
    assert not window.session.active and window.session._thread is None
