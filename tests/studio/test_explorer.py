"""The latent explorer, driven in the real window: live runs, generator files, picks, saves, newest wins."""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from studio.panels.explorer_panel import CLASS_GRID, INTERPOLATE, PERTURB, WALK
from tests.studio.conftest import tiny_config

PITCH = 30  # a 28-pixel image and its 2-pixel gap in core.sharing.export.grid_image


def tile(grid: np.ndarray, index: int, columns: int) -> np.ndarray:
    row, column = divmod(index, columns)
    return grid[2 + row * PITCH:2 + row * PITCH + 28, 2 + column * PITCH:2 + column * PITCH + 28]


def newest(qtbot, panel, action):
    """Do `action`, then wait until the result of the newest request is on screen."""
    with qtbot.waitSignal(panel.result_shown, timeout=20_000,
                          check_params_cb=lambda r: r.request_id == panel.last_request_id) as blocker:
        action()
    return blocker.args[0]


def live_explorer(qtbot, window, **more):
    """A tiny run, paused after one more step (so the gallery's newest grid and the explorer's snapshot
    are of the same step), with the explorer shown on it."""
    with qtbot.waitSignal(window.session.started, timeout=30_000):
        window.start_training(tiny_config(**{"run.steps": 100_000, **more}))
    with qtbot.waitSignal(window.session.state_changed, check_params_cb=lambda e: e.state == "paused",
                          timeout=20_000):
        window.pause()
    with qtbot.waitSignal(window.session.samples, timeout=20_000):
        window.step_once()  # a single step always sends a grid
    panel = window.explorer
    with qtbot.waitSignal(panel.result_shown, timeout=30_000):
        window.explorer_dock.show()
    qtbot.waitUntil(lambda: panel.source.step == window.gallery.current_step, timeout=20_000)
    return panel


def test_live_interpolation_modes_differ_and_truncation_changes_the_grid(qtbot, window):
    panel = live_explorer(qtbot, window)
    assert panel.source.kind == "live" and panel.source_label.text().startswith(f"Live: {window.model.name} ")
    assert f"at step {panel.source.step:,}" in panel.source_label.text()
    assert not panel.tabs.isTabEnabled(CLASS_GRID)  # unconditional: no class grid, and the tooltip says why
    assert "conditional" in panel.tabs.tabToolTip(CLASS_GRID)
    assert "less variety" in panel.truncation.toolTip()

    assert panel.tabs.currentIndex() == INTERPOLATE and panel.mode.currentData() == "spherical"
    spherical = newest(qtbot, panel, lambda: panel.steps.setValue(6))
    assert spherical.grid.shape == (PITCH + 2, 6 * PITCH + 2, 3) and len(spherical.frames) == 10  # there and back
    linear = newest(qtbot, panel, lambda: panel.mode.setCurrentIndex(panel.mode.findData("linear")))
    assert "linear" in linear.note and panel.view.image is not None
    # Same ends, another path between them.
    np.testing.assert_array_equal(tile(linear.grid, 0, 6), tile(spherical.grid, 0, 6))
    np.testing.assert_array_equal(tile(linear.grid, 5, 6), tile(spherical.grid, 5, 6))
    assert not np.array_equal(linear.grid, spherical.grid)

    truncated = newest(qtbot, panel, lambda: panel.truncation.setValue(40))
    assert panel.psi_label.text() == "ψ 0.40" and "ψ 0.40" in truncated.note
    assert not np.array_equal(truncated.grid, linear.grid)
    assert np.array_equal(panel.shown_image, truncated.grid)

    # Follow training: a new grid brings a fresh snapshot, and the picture is drawn again with it.
    step = panel.source.step
    with qtbot.waitSignal(panel.source_changed, timeout=20_000) as blocker:
        window.step_once()
    assert blocker.args[0].step == step + 1
    qtbot.waitUntil(lambda: panel.result.request_id == panel.last_request_id, timeout=20_000)


def test_class_grid_of_a_conditional_run_has_a_row_per_class(qtbot, window):
    panel = live_explorer(qtbot, window, **{"model.conditional": True})
    assert panel.tabs.isTabEnabled(CLASS_GRID) and panel.label.isEnabled() and panel.label.count() == 10
    panel.class_columns.blockSignals(True)
    panel.class_columns.setValue(3)
    panel.class_columns.blockSignals(False)
    result = newest(qtbot, panel, lambda: panel.tabs.setCurrentIndex(CLASS_GRID))
    assert result.kind == "class grid" and result.row_labels == tuple(range(10))
    assert result.grid.shape == (10 * PITCH + 2, 3 * PITCH + 2, 3)
    assert panel.view.row_labels == tuple(range(10))
    # Rows are classes: the same noise drawn as class 0 and class 1 differs.
    assert not np.array_equal(tile(result.grid, 0, 3), tile(result.grid, 3, 3))
    # The other modes draw the class chosen in the shared box.
    panel.tabs.blockSignals(True)
    panel.tabs.setCurrentIndex(INTERPOLATE)
    panel.tabs.blockSignals(False)
    as_two = newest(qtbot, panel, lambda: panel.label.setCurrentIndex(2))
    as_five = newest(qtbot, panel, lambda: panel.label.setCurrentIndex(5))
    assert not np.array_equal(as_two.grid, as_five.grid)


def test_random_walk_plays_its_frames_and_stops(qtbot, window):
    panel = live_explorer(qtbot, window)
    panel.walk_frames.blockSignals(True)
    panel.walk_frames.setValue(6)
    panel.walk_frames.blockSignals(False)
    walk = newest(qtbot, panel, lambda: panel.tabs.setCurrentIndex(WALK))
    assert walk.kind == "walk" and len(walk.frames) == 6 and walk.frames[0].shape == (28, 28, 3)
    assert not np.array_equal(walk.frames[0], walk.frames[3])  # it goes somewhere
    seen = []
    panel.frame_shown.connect(seen.append)
    panel.play_button.click()
    assert panel.timer.isActive() and panel.play_button.text() == "Stop"
    qtbot.waitUntil(lambda: len(set(seen)) >= 4, timeout=10_000)
    assert np.array_equal(panel.shown_image, walk.frames[panel.frame])
    panel.play_button.click()
    assert not panel.timer.isActive() and panel.play_button.text() == "Play"
    count = len(seen)
    QApplication.processEvents()
    assert len(seen) == count

    sixteen = newest(qtbot, panel, lambda: panel.walk_side.setCurrentIndex(panel.walk_side.findData(4)))
    assert len(sixteen.frames) == 6 and sixteen.frames[0].shape == (4 * PITCH + 2, 4 * PITCH + 2, 3)
    # Its first walk starts where the single walk starts.
    np.testing.assert_array_equal(tile(sixteen.frames[0], 0, 4), walk.frames[0])


def test_more_like_this_centres_on_the_chosen_sample(qtbot, window):
    panel = live_explorer(qtbot, window)
    start = panel.result  # the interpolation from seed 0
    panel.variations.blockSignals(True)
    panel.variations.setValue(8)
    panel.variations.blockSignals(False)
    result = newest(qtbot, panel, lambda: panel.tabs.setCurrentIndex(PERTURB))
    assert result.kind == "neighbours" and len(result.frames) == 9
    assert result.grid.shape == (3 * PITCH + 2, 3 * PITCH + 2, 3)
    np.testing.assert_array_equal(result.frames[0], tile(start.grid, 0, panel.steps.value()))  # seed 0 itself
    assert not np.array_equal(result.frames[1], result.frames[0])


def test_save_png_and_gif_never_overwrite(qtbot, window, tmp_path):
    panel = live_explorer(qtbot, window)
    written = []
    for _ in range(2):
        with qtbot.waitSignal(panel.saved, timeout=20_000) as blocker:
            panel.save_png(str(tmp_path / "path.png"))
        written.append(blocker.args[0])
    assert [p.rsplit("/", 1)[1] for p in written] == ["path.png", "path-2.png"]
    with Image.open(written[1]) as im:
        assert im.size == (panel.shown_image.shape[1], panel.shown_image.shape[0])
    gifs = []
    for _ in range(2):
        with qtbot.waitSignal(panel.saved, timeout=20_000) as blocker:
            panel.save_gif(str(tmp_path / "path.gif"))
        gifs.append(blocker.args[0])
    assert [p.rsplit("/", 1)[1] for p in gifs] == ["path.gif", "path-2.gif"]
    with Image.open(gifs[0]) as im:
        assert im.n_frames > 1 and min(im.size) >= 192  # enlarged: 28-pixel digits would be a stamp
    assert panel.save_gif_button.isEnabled() and panel.save_png_button.isEnabled()


def _click_cell(qtbot, view, index: int) -> None:
    rect, image = view.target_rect(), view.image
    row, column = divmod(index, view.columns)
    x = rect.left() + (2 + column * PITCH + 14) * rect.width() / image.width()
    y = rect.top() + (2 + row * PITCH + 14) * rect.height() / image.height()
    qtbot.mouseClick(view, Qt.LeftButton, pos=QPoint(round(x), round(y)))


def test_two_gallery_clicks_set_a_and_b_from_the_cells_noise(qtbot, window):
    panel = live_explorer(qtbot, window, **{"model.arch": "mlp"})  # an untrained MLP's samples differ clearly
    gallery = window.gallery
    assert gallery.view.columns == 4  # grid_size 16
    step = gallery.current_step
    with qtbot.waitSignal(gallery.cell_picked, timeout=5_000) as blocker:
        _click_cell(qtbot, gallery.view, 6)
    assert blocker.args == [step, 6]
    qtbot.waitUntil(lambda: panel.result.request_id == panel.last_request_id, timeout=20_000)
    result = newest(qtbot, panel, lambda: _click_cell(qtbot, gallery.view, 13))
    assert panel.a.pick().cell == 6 and panel.b.pick().cell == 13
    assert panel.centre.pick().cell == 13 and panel.walk_start.pick().cell == 13
    assert "gallery cell 6 → gallery cell 13" in result.note
    # The ends are the gallery's own samples: the same noise through the same weights.
    grid = gallery._grid(step)
    steps = panel.steps.value()
    for index, end in ((6, 0), (13, steps - 1)):
        drawn = tile(result.grid, end, steps).astype(int)
        distances = [np.abs(drawn - tile(grid, cell, 4)).max() for cell in range(16)]
        assert distances[index] <= 1 and sorted(distances)[1] > 10, (index, distances)
    # Outside the grid nothing is picked.
    picked = []
    gallery.cell_picked.connect(lambda *a: picked.append(a))
    qtbot.mouseClick(gallery.view, Qt.LeftButton, pos=QPoint(1, 1))
    assert picked == []


def test_newest_request_wins(qtbot, window, monkeypatch):
    import studio.bridge.explorer_renderer as explorer_renderer

    panel = live_explorer(qtbot, window)
    started = []  # ids of the requests the renderer began to draw
    draw = explorer_renderer.draw
    monkeypatch.setattr(explorer_renderer, "draw", lambda model, r, cancelled: started.append(r.id) or
                        draw(model, r, cancelled))
    with panel.renderer._cond:  # the renderer cannot take a request while the test holds its lock
        ids = []
        for steps in (3, 4, 5, 6, 7):
            panel.steps.setValue(steps)
            ids.append(panel.last_request_id)
    with qtbot.waitSignal(panel.result_shown, timeout=20_000, check_params_cb=lambda r: r.request_id == ids[-1]):
        pass
    assert len(set(ids)) == 5 and [i for i in started if i in ids] == [ids[-1]]  # the 4 that waited: never drawn
    assert panel.result.grid.shape[1] == 7 * PITCH + 2
    shown = panel.shown_image
    panel._on_rendered(dataclasses.replace(panel.result, request_id=ids[-2], grid=np.zeros_like(shown)))
    assert panel.result.request_id == ids[-1] and panel.shown_image is shown  # an older result is dropped


def test_explorer_on_a_generator_file_and_errors_as_messages(qtbot, window, tmp_path):
    from core.models import build_generator
    from core.sharing.export import save_generator

    config = tiny_config()
    save_generator(build_generator(config), config, tmp_path / "gen", step=7)
    panel = window.explorer
    window.explorer_dock.show()
    with qtbot.waitSignal(panel.failed, timeout=20_000) as blocker:
        panel.open_file(str(tmp_path / "missing" / "generator.safetensors"))
    assert "missing" in blocker.args[0] and "generator.json" in blocker.args[0]
    assert panel.note.property("level") == "error"

    path = str(tmp_path / "gen" / "generator.safetensors")
    with qtbot.waitSignal(panel.result_shown, timeout=20_000):  # the renderer survived the error
        panel.open_file(path)
    assert panel.source.kind == "file" and panel.source_label.text() == f"File: {path} (step 7)"
    assert not panel.tabs.isTabEnabled(CLASS_GRID)
    result = newest(qtbot, panel, lambda: panel.b.set_seed(9))
    assert "seed 0 → seed 9" in result.note and panel.note.property("level") == ""
    with qtbot.waitSignal(panel.failed, timeout=5_000) as blocker:
        panel.pick_cell(0, 3)  # a file has no gallery noise
    assert "by seed" in blocker.args[0]
