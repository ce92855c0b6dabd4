"""Nothing widens the window: docks, the explorer's tabs and saves, long messages and paths; and
View ▸ Reset layout puts the docks and splitters back.

Under the offscreen platform nothing stops a window from growing past the screen, as a window
manager would not either: so both the window's width and what its layout asks for at least (its
minimumSizeHint, from the central widget and the docks' own minimums) are checked against 1366 px.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QToolButton

from core.training.trainer import train
from studio.panels.explorer_panel import TABS
from studio.panels.run_library import OVERLAY
from tests.studio.conftest import LONG_PATH, QUICK, _docks, _fits, _sized, tiny_config


def test_opening_and_closing_every_dock_keeps_the_window_width(qtbot, window):
    width = _sized(qtbot, window)
    _fits(qtbot, window, width, "at start")
    docks = _docks(window)
    assert {d.objectName() for d in docks} >= {"configDock", "explorerDock", "libraryDock"}
    for dock in docks:  # each on its own, then all at once
        for _ in range(2):
            dock.toggleViewAction().trigger()
            _fits(qtbot, window, width, f"{dock.objectName()} toggled")
    for dock in docks:
        if not dock.isVisible():
            dock.toggleViewAction().trigger()
        _fits(qtbot, window, width, f"{dock.objectName()} shown with the others")
    explorer = window.explorer
    for tab in range(len(TABS)):
        explorer.tabs.setCurrentIndex(tab)
        _fits(qtbot, window, width, f"explorer tab {TABS[tab]}")
    for editor in (explorer.a, explorer.b, explorer.walk_start, explorer.centre):
        editor.set_cell(255, 123_456_789)  # "gallery cell 255 (gallery at step 123,456,789)"
    explorer._set_note(f"Saved {LONG_PATH}")
    _fits(qtbot, window, width, "explorer picks and a long note")
    for dock in docks:
        dock.toggleViewAction().trigger()
        _fits(qtbot, window, width, f"{dock.objectName()} closed")


def test_long_messages_and_reasons_wrap_or_are_cut_not_widening(qtbot, window):
    width = _sized(qtbot, window)
    window.message_bar.show_message(f"Found 1,234 pictures in {LONG_PATH}. The grid shows them centre-cropped.",
                                    "warning")
    _fits(qtbot, window, width, "a message naming a long path")
    close = window.message_bar.findChild(QToolButton, "messageClose")
    assert close is not None and close.isVisible()
    assert close.mapTo(window, close.rect().topRight()).x() <= window.width()  # the banner's × stays on screen
    window.quality_panel.expect(tiny_config(**{"data.dataset": "cifar10", "data.channels": 3}))
    window.quality_panel.set_off(f"FID/KID are off: the Inception-v3 weights they need are not in {LONG_PATH}")
    _fits(qtbot, window, width, "quality off for a long reason")


def test_saving_a_gif_from_the_explorer_keeps_the_width(qtbot, window, tmp_path):
    run = tmp_path / "run"
    train(tiny_config(**QUICK), run_dir=run)
    width = _sized(qtbot, window)
    window.explorer_dock.toggleViewAction().trigger()
    explorer = window.explorer
    with qtbot.waitSignal(explorer.result_shown, timeout=30_000):
        explorer.open_file(str(run / "generator.safetensors"))
    _fits(qtbot, window, width, "explorer on a generator file")
    with qtbot.waitSignal(explorer.saved, timeout=30_000):
        explorer.save_gif(str(tmp_path / ("a-long-name-" * 8 + ".gif")))
    _fits(qtbot, window, width, "Save GIF")
    window.explorer_dock.toggleViewAction().trigger()
    _fits(qtbot, window, width, "explorer closed")


def test_reset_layout_restores_the_default_docks_and_splitters(qtbot, window):
    _sized(qtbot, window)
    config_dock = window.findChild(QDockWidget, "configDock")
    default = {d.objectName(): (d.isVisible(), d.isFloating(), window.dockWidgetArea(d)) for d in _docks(window)}
    splitter, body = window.splitter.sizes(), window.body_splitter.sizes()
    window.library_dock.show()
    window.explorer_dock.show()
    window.explorer_dock.setFloating(True)
    window.addDockWidget(Qt.RightDockWidgetArea, config_dock)
    window.splitter.setSizes([100, sum(splitter) - 100])
    window.body_splitter.setSizes([sum(body) - 120, 120])
    qtbot.wait(0)
    assert window.dockWidgetArea(config_dock) == Qt.RightDockWidgetArea

    reset = window.findChild(QAction, "resetLayout")
    assert reset is not None and reset.text() == "Reset layout"
    reset.trigger()
    qtbot.wait(0)
    assert {d.objectName(): (d.isVisible(), d.isFloating(), window.dockWidgetArea(d)) for d in _docks(window)} \
        == default
    assert abs(window.splitter.sizes()[0] - splitter[0]) <= 2
    assert abs(window.body_splitter.sizes()[1] - body[1]) <= 2


def test_a_refresh_keeps_the_overlay_column_in_view(qtbot, window):
    for name in ("a-run-with-a-name-long-enough-to-scroll-the-table-sideways", "b"):
        train(tiny_config(**QUICK), run_dir=window.runs_root / name)
    library = window.library
    with qtbot.waitSignal(library.refreshed, timeout=10_000):
        window.library_dock.show()
    table = library.table
    table.selectRow(0)
    table.setCurrentCell(0, table.columnCount() - 1)  # a click on the last column scrolls the table there
    bar = table.horizontalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=5_000)  # narrower than its columns
    bar.setValue(bar.maximum())
    assert table.columnViewportPosition(OVERLAY) < 0  # scrolled out of view
    with qtbot.waitSignal(library.refreshed, timeout=10_000):
        library.refresh()
    assert bar.value() == 0 and table.columnViewportPosition(OVERLAY) == 0
    assert library.selected() is not None  # the selection kept too


def test_the_window_fits_a_small_screen_at_start(window):
    """The default size (1360 x 860) or a saved one from a bigger screen is shrunk into the screen."""
    from PySide6.QtCore import QRect

    window.resize(1360, 860)
    window.move(300, 200)
    window.fit_to_screen(QRect(0, 0, 1366, 768))
    assert window.width() <= 1366 and window.height() <= 768 - 32
    assert window.x() >= 0 and window.y() >= 0
    assert window.x() + window.width() <= 1366 and window.y() + window.height() + 32 <= 768


def test_no_field_has_the_keys_at_start(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    assert window.focusWidget() in (None, window)
