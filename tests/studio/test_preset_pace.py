"""The preset list says what to expect on this machine, from the preset's step timed here (never a guess,
never at start-up): core/training/pace.py times it, core/presets.py's measured course turns it into minutes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from core.presets import DESCRIPTIONS, RECOGNISABLE_AFTER, Course, expected_wait, wait_in_words, wait_short
from core.training import pace


def test_the_preset_list_says_the_wait_here_from_the_rate_measured_here(qtbot, monkeypatch):
    from studio.panels.config_panel import ConfigPanel

    timed: list[str] = []

    def measure(config, device, steps=pace.TIMED_STEPS):
        timed.append(config.preset)
        return pace.Pace(device.type, 1234.0)

    monkeypatch.setattr(pace, "measure", measure)
    # a course of 1.5 M pictures: ~20 min here
    monkeypatch.setitem(RECOGNISABLE_AFTER, "folder", Course(1_500_000, "cats plain to see"))
    panel = ConfigPanel()
    qtbot.addWidget(panel)
    try:
        combo = panel.preset
        index = combo.findData("folder")
        assert combo.itemText(index) == f"folder — {DESCRIPTIONS['folder'].summary}"  # nothing timed at start-up
        assert timed == []
        combo.showPopup()
        qtbot.waitUntil(lambda: "here)" in combo.itemText(index))
        combo.hidePopup()
        minutes = expected_wait("folder", 1234.0)
        assert minutes == 1_500_000 / 1234.0 / 60
        assert "(~20 min here)" in combo.itemText(index)
        said = wait_in_words(minutes, "cpu")
        tip = combo.itemData(index, Qt.ToolTipRole)
        assert said in tip and "1,234 pictures/s" in tip and "cats plain to see" in tip
        assert DESCRIPTIONS["folder"].text in tip
        combo.showPopup()  # opened again: not timed again
        combo.hidePopup()
        assert timed == ["folder"]
    finally:
        panel.shutdown()


def test_the_wait_is_said_in_round_words():
    assert wait_in_words(0.4, "cuda") == "about a minute on this GPU"
    assert wait_in_words(7.4, "cpu") == "about 7 minutes on this CPU"
    assert wait_in_words(21.0, "cpu") == "about 20 minutes on this CPU"
    assert wait_in_words(200.0, "cpu") == "about 3 hours on this CPU"
    assert [wait_short(m) for m in (0.4, 7.4, 21.0, 200.0)] == ["~1 min", "~7 min", "~20 min", "~3 h"]


def test_a_preset_without_a_measured_course_promises_nothing():
    assert expected_wait("default", 1000.0) is None
    assert expected_wait("folder", 0.0) is None


def test_the_longer_entry_does_not_widen_the_window(qtbot, window, monkeypatch):
    monkeypatch.setattr(pace, "measure", lambda config, device, steps=pace.TIMED_STEPS: pace.Pace(device.type, 9.0))
    monkeypatch.setitem(RECOGNISABLE_AFTER, "folder", Course(10**8, "everything"))  # "about 3086 hours": long
    combo = window.config_panel.preset
    widths = (window.width(), window.config_panel.width(), combo.width())
    combo.showPopup()
    qtbot.waitUntil(lambda: "here)" in combo.itemText(combo.findData("folder")))
    combo.hidePopup()
    QApplication.sendPostedEvents()  # the layout requests the longer text may have posted, handled now
    QApplication.processEvents()
    assert (window.width(), window.config_panel.width(), combo.width()) == widths
