"""The question the app asks before an export when a run's best generator is not its final one
(studio/dialogs/which_generator.py)."""

from __future__ import annotations

from studio.dialogs.which_generator import WhichGeneratorDialog, ask_which, differ

OFFERED = {"final": 8000, "best": {"step": 6000, "reading": "FD", "value": 3.21}, "kept": [4000, 8000]}


def test_asked_only_when_the_best_is_not_the_final(tmp_path):
    assert differ(OFFERED)
    assert not differ({**OFFERED, "best": {**OFFERED["best"], "step": 8000}})
    assert not differ({**OFFERED, "best": None})
    assert ask_which(None) == "final" and ask_which(tmp_path) == "final"  # nothing to choose: no question


def test_the_best_is_picked_first_and_each_answer_is_what_the_cli_takes(qtbot):
    dialog = WhichGeneratorDialog(OFFERED)
    qtbot.addWidget(dialog)
    assert dialog.best.isChecked() and "step 6,000 (FD 3.21)" in dialog.best.text()
    assert dialog.which() == "best"
    dialog.final.setChecked(True)
    assert dialog.which() == "final" and "step 8,000" in dialog.final.text()
    dialog.kept.setChecked(True)
    assert dialog.steps.isEnabled()
    dialog.steps.setCurrentIndex(0)
    assert dialog.which() == 4000
