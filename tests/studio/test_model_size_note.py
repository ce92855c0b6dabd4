"""The form shows the models' size and the memory training needs (estimated on a job), and says so before
Start when core would refuse the config as too big for the free memory."""

from __future__ import annotations

import pytest

from core.models import size as model_size
from core.presets import PRESETS
from core.training.device import pick_device

FREE = 8 * 10**9  # the device's free memory, as the estimate is told: the same on every machine


@pytest.fixture
def panel(qtbot, window, monkeypatch):
    monkeypatch.setattr(model_size, "available_bytes", lambda device: FREE)
    p = window.config_panel
    qtbot.waitUntil(lambda: not p._jobs.busy, timeout=20_000)  # the start-up estimates, with the real memory
    p._sized = ""  # estimate again, with FREE
    yield p
    qtbot.waitUntil(lambda: not p._jobs.busy, timeout=20_000)


def test_a_default_config_shows_its_parameter_count_and_memory(qtbot, panel):
    panel.set_config(PRESETS["default"])
    qtbot.waitUntil(lambda: "parameters" in panel.size_note.text(), timeout=20_000)
    params, memory = model_size.parameters_and_memory(PRESETS["default"])
    assert panel.size_note.text() == f"G + D: {params / 1e6:.1f} M parameters · about {memory / 1e6:.1f} MB to train"
    assert "⚠" not in panel.size_note.text() and panel.size_note.isVisibleTo(panel)
    assert panel.size_note.parentWidget() is panel.editors["model.g_hidden"].widget.parentWidget()  # the Model group


def test_a_model_too_big_for_the_memory_is_refused_in_the_form_before_start(qtbot, window, panel):
    panel.set_value("model.g_hidden", (8192,))
    expected = ""
    try:
        model_size.check_fits(panel.current_config(), pick_device("auto"), free=FREE)
    except ValueError as e:
        expected = str(e)
    assert expected.startswith("model.g_hidden = [8192]: ")  # core refuses it with this much free
    qtbot.waitUntil(lambda: panel.size_note.text() == f"⚠ {expected}", timeout=20_000)
    assert panel.current_config() is not None and panel.error == ""  # the form is valid: Start says no in core
    assert not window.session.active and not window.runs_root.exists()  # nothing started, nothing written

    panel.set_value("model.g_hidden", (64,))  # small again: the warning goes
    qtbot.waitUntil(lambda: panel.size_note.text().startswith("G + D: "), timeout=20_000)


def test_a_form_that_is_not_a_config_yet_shows_no_other_presets_size(qtbot, panel, tmp_path):
    """The folder preset chosen before its folder: the default's figure must not stay beside its widths."""
    panel.set_config(PRESETS["default"])
    qtbot.waitUntil(lambda: "parameters" in panel.size_note.text(), timeout=20_000)
    panel._choose_preset("folder")  # no folder chosen yet: the form is incomplete
    qtbot.waitUntil(lambda: panel.size_note.text() == "", timeout=20_000)
    panel.set_value("data.folder", str(tmp_path))  # complete again: its own figure
    params, _ = model_size.parameters_and_memory(panel.config())
    qtbot.waitUntil(lambda: f"G + D: {params / 1e6:.1f} M parameters" in panel.size_note.text(), timeout=20_000)
