"""The hyperparameter form under the mouse and keyboard: the wheel, Enter, focus, its width, its texts."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.config import LIVE_SETTINGS, LOSS_KINDS, SCHEMA
from core.presets import DESCRIPTIONS, PRESETS
from studio.widgets import field_input


def _wheel(widget: QWidget, notches: int = -1) -> None:
    """One wheel notch over the middle of `widget` (negative: towards the user, i.e. scroll down)."""
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, 120 * notches),
                        Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def _focus(qtbot, window, widget: QWidget) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    widget.setFocus(Qt.MouseFocusReason)
    qtbot.waitUntil(widget.hasFocus, timeout=5_000)


def _min_width(panel) -> int:
    return panel.scroll.widget().minimumSizeHint().width() + panel.scroll.verticalScrollBar().sizeHint().width()


def _assert_nothing_cut(panel) -> None:
    QApplication.processEvents()
    viewport = panel.scroll.viewport()
    assert panel.width() >= _min_width(panel)
    assert panel.scroll.widget().width() <= viewport.width()  # nothing under the scroll bar
    assert not panel.scroll.horizontalScrollBar().isVisible()
    for widget in panel.scroll.widget().findChildren(QWidget):
        if isinstance(widget, (QComboBox, QPushButton)) and widget.isVisibleTo(panel):
            right = widget.mapTo(viewport, QPoint(widget.width(), 0)).x()
            assert right <= viewport.width(), widget.objectName()
            assert widget.width() >= widget.minimumSizeHint().width(), widget.objectName()  # its text fits


def test_wheel_over_an_unfocused_combo_scrolls_the_form_instead(qtbot, window):
    window.resize(1366, 768)
    panel = window.config_panel
    QApplication.processEvents()
    bar = panel.scroll.verticalScrollBar()
    assert bar.maximum() > 0  # the form scrolls at this size
    for combo in (panel.editors["loss.kind"].widget, panel.preset):
        assert combo.focusPolicy() == Qt.StrongFocus  # a click or Tab focuses it, never the wheel
        index, before = combo.currentIndex(), bar.value()
        _wheel(combo)
        assert combo.currentIndex() == index
        assert bar.value() > before
        bar.setValue(0)

    combo = panel.editors["loss.kind"].widget
    _focus(qtbot, window, combo)
    index = combo.currentIndex()
    _wheel(combo)
    assert combo.currentIndex() == index + 1  # focused: the wheel is the person's choice
    assert panel.current_config().loss.kind == combo.currentData()


def test_wheel_over_an_unfocused_spin_box_scrolls_and_enter_leaves_it(qtbot):
    window = QWidget()
    qtbot.addWidget(window)
    scroll = QScrollArea(widgetResizable=True)
    column = QWidget()
    layout = QVBoxLayout(column)
    spin = QSpinBox(value=5)
    layout.addWidget(spin)
    layout.addSpacing(2000)
    scroll.setWidget(column)
    QVBoxLayout(window).addWidget(scroll)
    guard = field_input.FieldInput(window)
    field_input.install(column, guard)
    window.resize(300, 300)
    window.show()
    qtbot.waitExposed(window)
    _wheel(spin)
    assert spin.value() == 5 and scroll.verticalScrollBar().value() > 0

    _focus(qtbot, window, spin)
    _wheel(spin, notches=1)
    assert spin.value() == 6
    qtbot.keyClick(spin, Qt.Key_Return)
    qtbot.waitUntil(lambda: not spin.hasFocus(), timeout=5_000)
    assert QApplication.focusWidget() is window


def test_enter_leaves_the_field_so_space_pauses(qtbot, window):
    panel = window.config_panel
    field = panel.editors["optim.lr_g"].widget
    _focus(qtbot, window, field)
    field.selectAll()
    qtbot.keyClicks(field, "0.0003")
    qtbot.keyClick(field, Qt.Key_Return)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not field, timeout=5_000)
    assert QApplication.focusWidget() is window
    assert panel.current_config().optim.lr_g == 0.0003

    pause = window.controls.pause
    pause.setEnabled(True)  # as while training (idle, toggle_pause does nothing)
    with qtbot.waitSignal(pause.triggered, timeout=2_000):
        qtbot.keyClick(window, Qt.Key_Space)
    assert field.text() == "0.0003"  # no space typed into it


def test_clicking_the_gallery_or_the_plots_takes_focus_from_a_field(qtbot, window):
    field = window.config_panel.editors["run.steps"].widget
    for target in (window.gallery.view, window.loss_plots.graphics.viewport()):
        _focus(qtbot, window, field)
        qtbot.mouseClick(target, Qt.LeftButton, pos=target.rect().center())
        qtbot.waitUntil(lambda: not field.hasFocus(), timeout=5_000)


def test_start_keeps_the_form_where_it_was(qtbot, window):
    window.resize(1366, 768)
    panel = window.config_panel
    field = panel.editors["run.steps"].widget
    _focus(qtbot, window, field)
    bar = panel.scroll.verticalScrollBar()
    before = bar.value()
    panel.set_training(True)  # what Start does: most fields disabled, the focused one too
    QApplication.processEvents()
    assert bar.value() == before  # no jump to the Advanced section
    focus = QApplication.focusWidget()
    assert focus is window and focus is not panel.advanced
    panel.set_training(False)


def test_the_dock_is_never_narrower_than_its_form(qtbot, window):
    window.resize(1366, 768)
    panel = window.config_panel
    _assert_nothing_cut(panel)
    window.library_dock.show()
    window.explorer_dock.show()
    _assert_nothing_cut(panel)
    panel.advanced.setChecked(True)  # the longer rows of Advanced
    _assert_nothing_cut(panel)
    panel.set_value("data.dataset", "folder")  # the folder row with Browse…
    assert panel.browse.isVisibleTo(panel)
    _assert_nothing_cut(panel)


def test_a_saved_layout_with_a_narrower_dock_is_widened(qtbot, tmp_path, settings, monkeypatch):
    from studio.panels.config_panel import ConfigPanel
    from studio.window.main_window import MainWindow

    with monkeypatch.context() as old:  # a layout saved before the dock knew its form's width
        old.setattr(ConfigPanel, "_fit_width", lambda self: self.setMinimumWidth(150))
        first = MainWindow(settings, runs_root=tmp_path / "runs")
        qtbot.addWidget(first)
        first.show()
        dock = first.findChild(QDockWidget, "configDock")
        first.resizeDocks([dock], [160], Qt.Horizontal)
        QApplication.processEvents()
        assert dock.width() < 200
        first.close()

    second = MainWindow(settings, runs_root=tmp_path / "runs")
    qtbot.addWidget(second)
    second.show()
    qtbot.waitExposed(second)
    _assert_nothing_cut(second.config_panel)
    second.close()


def test_every_field_has_the_schemas_label_of_its_own(window):
    texts = [label.text() for label in window.config_panel._labels]
    assert sorted(text.removesuffix(" ●") for text in texts) == sorted(s.label for s in SCHEMA.values())
    assert len(set(texts)) == len(texts)
    assert sorted(text for text in texts if text.endswith(" ●")) == sorted(f"{SCHEMA[k].label} ●" for k in LIVE_SETTINGS)


def test_the_loss_combo_lists_the_loss_registry(window):
    combo = window.config_panel.editors["loss.kind"].widget
    assert [combo.itemData(i) for i in range(combo.count())] == list(LOSS_KINDS)
    for i, (shown, about) in enumerate(LOSS_KINDS.values()):
        assert combo.itemText(i) == shown and about in combo.itemData(i, Qt.ToolTipRole)


def test_the_forms_choices_labels_and_ranges_come_from_the_schema(qtbot, monkeypatch):
    """Change the schema alone: the form follows (nothing of the config is typed again in the studio)."""
    from dataclasses import replace

    from studio.panels.config_panel import ConfigPanel

    kind = SCHEMA["loss.kind"]
    monkeypatch.setitem(SCHEMA, "loss.kind", replace(kind, choices=(*kind.choices, "relativistic"),
                                                     choice_names={**kind.choice_names, "relativistic": "Relativistic"}))
    monkeypatch.setitem(SCHEMA, "run.seed", replace(SCHEMA["run.seed"], label="Random seed", high=99))
    panel = ConfigPanel()
    qtbot.addWidget(panel)
    try:
        combo = panel.editors["loss.kind"].widget
        assert [combo.itemData(i) for i in range(combo.count())] == [*LOSS_KINDS, "relativistic"]
        assert combo.itemText(combo.count() - 1) == "Relativistic"
        assert "Random seed" in [label.text() for label in panel._labels]
        assert "Takes a whole number from 0 to 99." in panel.editors["run.seed"].widget.toolTip()
    finally:
        panel.shutdown()


def test_presets_are_described_and_the_combo_gives_their_names(qtbot, window):
    assert set(DESCRIPTIONS) == set(PRESETS)
    panel = window.config_panel
    combo = panel.preset
    assert [combo.itemData(i) for i in range(combo.count())] == list(PRESETS)
    for i, name in enumerate(PRESETS):
        assert combo.itemText(i) == f"{name} — {DESCRIPTIONS[name].summary}"
        assert DESCRIPTIONS[name].text in combo.itemData(i, Qt.ToolTipRole)

    panel.set_config(PRESETS["seed-000"])
    assert panel.preset_name() == "seed-000" and combo.currentText().startswith("seed-000 — ")
    assert panel.config().preset == "seed-000"
    assert DESCRIPTIONS["seed-000"].text in combo.toolTip()

    index = combo.findData("mlp")  # as a person picks it
    combo.setCurrentIndex(index)
    combo.activated.emit(index)
    config = panel.current_config()
    assert config.preset == "mlp" and config.model.arch == "mlp" and config == PRESETS["mlp"]


def test_device_and_precision_say_what_auto_means(qtbot, window):
    panel = window.config_panel
    device = panel.editors["run.device"].widget
    index = device.findData("auto")
    qtbot.waitUntil(lambda: device.itemText(index) != "Automatic", timeout=20_000)  # a job asked torch
    assert device.itemText(index) in ("Automatic: CPU", "Automatic: CUDA GPU", "Automatic: Apple MPS")
    assert "here:" in device.itemData(index, Qt.ToolTipRole)
    precision = panel.editors["run.precision"].widget
    assert "GPU" not in precision.itemText(precision.findData("auto"))
    for key in ("data.stream", "data.augment"):  # choices, not free text
        assert isinstance(panel.editors[key].widget, QComboBox)
        assert panel.editors[key].value() == "auto"
