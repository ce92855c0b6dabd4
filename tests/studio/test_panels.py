"""Panels on their own: form validation, plot buffers, worker event routing, settings."""

from __future__ import annotations

import numpy as np

from core import events as ev
from core.control import Control
from studio.bridge.worker import TrainWorker
from studio.panels.loss_plots import Buffer
from tests.studio.conftest import tiny_config


def test_invalid_value_is_refused_with_cores_message(qtbot, window):
    panel = window.config_panel
    editor = panel.editors["optim.lr_g"].widget
    editor.setText("5")
    assert panel.current_config() is None
    assert panel.error.startswith("optim.lr_g = 5.0")
    assert editor.property("invalid") is True
    assert not window.controls.start.isEnabled()
    assert window.start_training() is None and not window.session.active
    editor.setText("abc")
    assert "must be a number" in panel.error
    editor.setText("0.0003")
    assert panel.current_config().optim.lr_g == 0.0003
    assert window.controls.start.isEnabled()


def test_cross_field_rules_and_dataset_conveniences(qtbot, window):
    panel = window.config_panel
    combo = panel.editors["data.dataset"].widget
    combo.setCurrentIndex(combo.findData("cifar10"))  # as a person would
    assert panel.editors["data.channels"].value() == 3
    assert panel.current_config() is not None
    panel.set_value("data.channels", 1)
    assert "cifar10 is a colour dataset" in panel.error


def test_every_field_has_a_tooltip(window):
    for key, editor in window.config_panel.editors.items():
        assert len(editor.widget.toolTip()) > 20, key


def test_last_config_and_layout_are_remembered(qtbot, tmp_path, settings):
    from studio.window.main_window import MainWindow

    first = MainWindow(settings, runs_root=tmp_path / "runs")
    qtbot.addWidget(first)
    first.config_panel.set_value("model.z_dim", 17)
    first.close()
    second = MainWindow(settings, runs_root=tmp_path / "runs")
    qtbot.addWidget(second)
    assert second.config_panel.current_config().model.z_dim == 17
    assert settings.value("window/geometry") is not None
    second.close()


def test_smoothing_buffer_is_debiased_and_grows():
    b = Buffer(capacity=2)
    b.set_weight(0.9)
    for v in [1.0, 1.0, 1.0, 1.0, 1.0]:
        b.append(v)
    assert b.n == 5 and len(b.data) >= 5
    np.testing.assert_allclose(b.smooth_view(), 1.0)  # debiased: no ramp up from zero
    b.set_weight(0.0)
    np.testing.assert_allclose(b.smooth_view(), b.view())


def test_worker_routes_events_and_passes_unknown_ones_on(qtbot):
    worker = TrainWorker(tiny_config(), Control(), None)
    got = []
    worker.metrics.connect(lambda m: got.append(("metrics", m.step)))
    worker.error.connect(lambda step, msg: got.append(("error", msg)))
    worker.other.connect(lambda e: got.append(("other", e)))
    worker._emit(ev.Metrics(3, 0.1, 1.0, 1.0, 0.5, 0.5, 100.0, 2e-4, 2e-4))
    worker._emit(ev.ErrorEvent(4, "boom"))
    worker._emit("a future event kind")
    assert got == [("metrics", 3), ("error", "boom"), ("other", "a future event kind")]


def test_plots_keep_up_with_many_points(qtbot, window):
    plots = window.loss_plots
    for i in range(20_000):
        plots.add_metrics(ev.Metrics(i, 0.0, np.sin(i / 50), 1.0, 0.6, 0.4, 1.0, 2e-4, 2e-4))
    with qtbot.waitSignal(plots.redrawn, timeout=2_000):
        pass
    assert plots.count == 20_000
    plots.add_marker(10_000, "lr_g→0.0001")
    plots.log_scale.setChecked(True)
    plots.smoothing.setValue(95)
    with qtbot.waitSignal(plots.redrawn, timeout=2_000):
        pass


def test_export_dialog_collects_a_request(qtbot, tmp_path):
    from studio.dialogs.export_dialog import ExportDialog

    dialog = ExportDialog(None, "a generator", conditional=True, folder=str(tmp_path))
    qtbot.addWidget(dialog)
    dialog.n.setValue(12)
    dialog.kind.setCurrentIndex(dialog.kind.findData("npy"))
    dialog.label.setCurrentIndex(dialog.label.findData(3))
    dialog.seed.setValue(5)
    request = dialog.request()
    assert (request.n, request.kind, request.label, request.seed) == (12, "npy", 3, 5)
    assert request.out == tmp_path / "samples_seed5_class3.npy"
    assert str(request.out) in dialog.preview.text()
    dialog.folder.setText("")
    assert not dialog.ok.isEnabled()
    plain = ExportDialog(None, "g", conditional=False, folder=str(tmp_path))
    qtbot.addWidget(plain)
    assert not plain.label.isEnabled()


def test_grid_fills_its_space_with_whole_pixels_when_it_can(qtbot):
    from studio.panels.gallery import GridView, to_qimage

    view = GridView()
    qtbot.addWidget(view)
    view.set_image(to_qimage(np.zeros((242, 242, 3), np.uint8)))
    view.resize(500, 500)  # 488 px free: x2 (484) fills 99%, a whole-number scale
    assert view.target_rect().width() == 484
    view.grab()
    assert view._upscaled is None  # drawn straight, nearest-neighbour
    view.resize(700, 700)  # 688 px free: x2 would leave 30% empty, so fill it (sharp bilinear)
    assert view.target_rect().width() == 688
    view.grab()
    assert view._upscaled[0] == 3  # nearest-neighbour x3, then smoothly down to x2.84


def test_kept_checkpoints_show_their_disk_use(qtbot, window):
    panel = window.config_panel
    qtbot.waitUntil(lambda: "MB a checkpoint" in panel.disk_note.text(), timeout=20_000)
    assert "up to" in panel.disk_note.text() and "10 kept" in panel.disk_note.text()
    panel.set_value("run.keep_every", 0)
    qtbot.waitUntil(lambda: "No checkpoints kept" in panel.disk_note.text(), timeout=20_000)
    assert panel.editors["run.tensorboard"].widget.isVisible()  # a checkbox in the Run group, not in Advanced

    # Once the window closes, a late change to the form (a run's end can still arrive) starts no job
    # that would outlive the window.
    qtbot.waitUntil(lambda: not panel._jobs.busy, timeout=20_000)
    window.close()
    panel.set_value("run.keep_every", 500)
    assert not panel._estimate_timer.isActive()
    panel._estimate_disk_use()
    assert not panel._jobs.busy
