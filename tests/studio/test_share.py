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
