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


def test_an_export_of_a_run_whose_best_came_earlier_asks_and_exports_the_one_chosen(qtbot, window, tmp_path,
                                                                                        monkeypatch):
    from pathlib import Path

    from core.runs.folder import generator_choices
    from core.training.trainer import train
    from studio.dialogs import which_generator
    from studio.dialogs.export_dialog import ExportRequest
    from tests.studio.conftest import tiny_config

    run = window.runs_root / "peaked"
    train(tiny_config(**{"run.steps": 12, "run.threads": 1, "run.quality_every": 4, "run.quality_samples": 64,
                         "run.sample_every": 4}), run_dir=run)
    offered = generator_choices(run)
    asked = []

    def answer(run_dir, what="Export", parent=None):
        asked.append((Path(run_dir), what))
        return "best" if offered.get("best") else "final"

    monkeypatch.setattr(which_generator, "ask_which", answer)
    with qtbot.waitSignal(window.run_viewed, timeout=15_000):
        window.open_run(str(run))
    with qtbot.waitSignal(window.files.exported, timeout=30_000) as blocker:
        window.files.export_samples(ExportRequest(n=3, kind="pngs", label=None, seed=1, folder=str(tmp_path / "out")))
    assert asked == [(run, "Export samples")]
    assert len(blocker.args[0]) == 3
    asked.clear()
    monkeypatch.setattr(which_generator, "ask_which", lambda *a, **k: asked.append(a) or None)  # cancelled
    window.files.export_samples(ExportRequest(n=3, kind="pngs", label=None, seed=1, folder=str(tmp_path / "no")))
    assert asked and not (tmp_path / "no").exists()
