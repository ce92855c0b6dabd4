"""Sharing from the app: the TensorBoard checkbox, a timelapse of the run's grids, ONNX export."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.studio.conftest import tiny_config


def _finished(qtbot, window, **more):
    with qtbot.waitSignal(window.run_finished, timeout=60_000) as blocker:
        run = window.start_training(tiny_config(**{"run.steps": 12, **more}))
    assert not blocker.args[0].stopped
    return run


def test_the_tensorboard_checkbox_writes_events_in_the_run_folder(qtbot, window):
    window.config_panel.set_config(tiny_config(**{"run.steps": 12}))
    box = window.config_panel.editors["run.tensorboard"].widget
    box.click()  # as a click would: toggled, then clicked
    assert window.config_panel.current_config().run.tensorboard
    with qtbot.waitSignal(window.run_finished, timeout=60_000):
        run = window.start_training()  # the form's settings
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))


def test_timelapse_and_onnx_from_the_file_menu(qtbot, window, tmp_path):
    import imageio.v3 as iio
    import onnxruntime as ort

    run = _finished(qtbot, window)
    assert window.share.timelapse.isEnabled() and window.share.onnx.isEnabled()
    out = tmp_path / "run.gif"
    with qtbot.waitSignal(window.share.written, timeout=30_000) as blocker:
        window.share.export_timelapse(str(out))
    frames = iio.imread(blocker.args[0], index=None)
    assert frames.shape[0] == len(list((run / "samples").glob("step_*.png"))) == 3  # steps 4, 8, 12
    with qtbot.waitSignal(window.share.written, timeout=30_000) as again:
        window.share.export_timelapse(str(out))
    assert Path(again.args[0]).name == "run-2.gif"  # the first one is kept
    assert "Wrote" in window.message_bar.message

    with qtbot.waitSignal(window.share.written, timeout=60_000) as blocker:
        window.share.export_onnx(str(tmp_path / "g.onnx"))
    session = ort.InferenceSession(blocker.args[0], providers=["CPUExecutionProvider"])
    images = session.run(["images"], {"noise": np.zeros((2, 64), np.float32)})[0]
    assert images.shape == (2, 1, 28, 28)


def test_timelapse_is_offered_only_for_a_run_with_grids_and_says_why_not(qtbot, tmp_path, monkeypatch):
    """A run with no grids failed only after its file name was chosen: now the action is off, its status
    tip says why, and an export asked for anyway says so before any file dialog."""
    from PySide6.QtWidgets import QFileDialog, QWidget

    from studio.bridge.jobs import JobRunner
    from studio.window.share_actions import ShareActions

    host = QWidget()
    qtbot.addWidget(host)
    shown: list[Path | None] = [None]
    share = ShareActions(host, lambda: shown[0], lambda: None, lambda: "", JobRunner(host))
    share.refresh(training=False)
    assert not share.timelapse.isEnabled() and "needs a run" in share.timelapse.statusTip()
    run = tmp_path / "no-grids-yet"
    (run / "samples").mkdir(parents=True)  # the writer makes samples/ at the start, before any grid
    shown[0] = run
    share.refresh(training=False)
    assert not share.timelapse.isEnabled()
    assert "no-grids-yet has no sample grids yet" in share.timelapse.statusTip()
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: asked.append(a) or ("", "")))
    with qtbot.waitSignal(share.failed, timeout=1_000) as blocker:
        share.export_timelapse()  # as a shortcut or a stale menu would
    assert asked == [] and "no sample grids yet" in blocker.args[0]
    share.refresh(training=True)  # a run in training: its grids come as it goes
    assert share.timelapse.isEnabled()
    (run / "samples" / "step_000004.png").write_bytes(b"")
    share.refresh(training=False)
    assert share.timelapse.isEnabled() and share.timelapse.statusTip().startswith("The run's sample grids")


def test_the_message_bars_icon_is_a_picture_not_a_glyph(qtbot):
    """The banner's ℹ and ⛔ were empty boxes where the font lacks them: the style's icons instead."""
    from studio.panels.message_bar import MessageBar

    bar = MessageBar()
    qtbot.addWidget(bar)
    images = set()
    for level in ("error", "warning", "info", "success"):
        bar.show_message("Something to say", level)
        assert bar.icon.text() == "" and not bar.icon.pixmap().isNull(), level
        images.add(bar.icon.pixmap().toImage().bits().tobytes())
    assert len(images) == 4  # one picture a level
