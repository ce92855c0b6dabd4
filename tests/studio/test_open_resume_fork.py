"""Opening a run shows it and writes nothing; Resume trains it with its own settings; a fork starts
from its parent's settings; the final step can be forked from; runs have names and notes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QMessageBox

from core.config import load_config
from core.runs.folder import read_lineage
from core.runs.notes import read_names
from core.training.trainer import train
from studio.dialogs.fork_dialog import ForkSettingsDialog
from studio.panels.run_library import NAME, key_of
from studio.panels.run_names import RenameDialog
from tests.studio.conftest import tiny_config

QUICK = {"run.steps": 8, "run.threads": 1, "run.device": "cpu", "run.sample_every": 4, "run.quality_every": 4,
         "run.quality_samples": 16, "model.clusters": 0}  # no k-means before training: seconds saved a run
# What an `mlp` run leaves in the form (issue 17): none of it may slip into another run's resume or fork.
LEFTOVERS = {"loss.kind": "bce", "loss.r1_gamma": 0.0, "optim.lr_g": 2e-4, "optim.lr_d": 2e-4,
             "optim.betas_g": (0.5, 0.999), "loss.label_smoothing": 0.1}


def trained(window, name: str, **more) -> Path:
    run = window.runs_root / name
    train(tiny_config(**{**QUICK, **more}), run_dir=run)
    return run


def tree(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder` with its bytes and modification time."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def view(qtbot, window, run: Path) -> None:
    with qtbot.waitSignal(window.run_viewed, timeout=10_000):
        window.open_run(str(run))


def set_form(window, values: dict) -> None:
    for key, value in values.items():
        window.config_panel.set_value(key, value)


@pytest.fixture
def accept_fork(monkeypatch):
    """ForkSettingsDialog.exec accepts; `ticks` are ticked first; the dialogs shown are kept."""
    shown, ticks = [], []

    def exec_(self):
        shown.append(self)
        for key in ticks:
            self.tick(key)
        return QDialog.Accepted

    monkeypatch.setattr(ForkSettingsDialog, "exec", exec_)
    monkeypatch.setattr(ForkSettingsDialog, "deleteLater", lambda self: None)  # the test reads them after
    return shown, ticks


def test_opening_a_run_shows_it_and_changes_no_byte_or_mtime(qtbot, window):
    run = trained(window, "alpha")
    (run / "samples" / ".step_000004.png.abcd1234.tmp").write_bytes(b"an interrupted save's leftover")
    set_form(window, {"run.steps": 100_000, **LEFTOVERS})  # the form holds another run's settings
    before = tree(run)

    view(qtbot, window, run)
    assert tree(run) == before  # not a byte, not an mtime, no temp file cleaned up, nothing new
    assert not window.session.active and window.state == "idle"
    # The window shows the run: its settings, curves, grids and readings.
    form = window.config_panel.current_config()
    assert form == load_config(run / "config.json")  # 8 steps and hinge, not the form's leftovers
    assert window.loss_plots.count >= 4
    assert window.gallery.steps == [4, 8] and window.gallery.view.image is not None
    assert window.quality_panel.steps == [4, 8]
    assert window.windowTitle() == "GAN Studio — alpha (viewing)"
    assert "nothing in it changes" in window.message_bar.message
    assert window.resume_action.isEnabled()
    window.close()
    assert tree(run) == before


def test_resume_trains_the_run_shown_with_its_own_settings_and_asks_about_edits(qtbot, window, monkeypatch):
    run = trained(window, "alpha")
    other = trained(window, "beta", **LEFTOVERS)
    view(qtbot, window, other)  # the form now holds beta's settings
    view(qtbot, window, run)
    set_form(window, {"run.steps": 12, "loss.kind": "lsgan"})  # edited after opening
    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: asked.append(a[2]) or QMessageBox.Cancel))
    before = tree(run)
    window.resume_action.trigger()
    assert len(asked) == 1 and not window.session.active and tree(run) == before  # cancelled: nothing ran
    assert "run.steps: 8 → 12" in asked[0]
    assert "loss.kind: hinge → lsgan" in asked[0] and "fork it" in asked[0]  # refused, with the reason

    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: asked.append(a[2]) or QMessageBox.Ok))
    with qtbot.waitSignal(window.run_finished, timeout=60_000) as blocker:
        window.resume_action.trigger()
    assert blocker.args[0].step == 12 and Path(blocker.args[0].run_dir) == run
    saved = load_config(run / "config.json")
    assert saved.run.steps == 12 and saved.loss.kind == "hinge"  # the confirmed change, and only it
    assert saved.optim == tiny_config().optim  # none of beta's settings slipped in
    assert any("Resumed alpha at step 8 of 12" in text for _, text in window.message_bar.history)


def test_resume_from_the_library_takes_the_runs_settings_not_the_forms(qtbot, window, monkeypatch):
    run = trained(window, "alpha")
    other = trained(window, "beta", **LEFTOVERS)
    view(qtbot, window, other)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: asked.append(a) or QMessageBox.Ok))
    library = window.library
    with qtbot.waitSignal(library.refreshed, timeout=10_000):
        window.library_dock.show()
    library.select(run)
    assert library.resume_button.isEnabled()
    with qtbot.waitSignal(window.run_finished, timeout=60_000) as blocker:
        library.resume_button.click()
    assert not asked  # nothing to confirm: the form's settings (beta's) are not alpha's edits
    assert Path(blocker.args[0].run_dir) == run and blocker.args[0].step == 16  # a finished run: as far again
    saved = load_config(run / "config.json")
    assert saved.loss.kind == "hinge" and saved.optim == tiny_config().optim


def test_a_fork_of_a_hinge_run_trains_with_hinge_unless_the_person_ticks_a_change(qtbot, window, accept_fork):
    shown, ticks = accept_fork
    parent = trained(window, "hinge")
    set_form(window, LEFTOVERS)  # an mlp run's leftovers
    before = tree(parent)
    with qtbot.waitSignal(window.run_finished, timeout=60_000) as blocker:
        window.fork_from(parent)
    dialog = shown[-1]
    assert "loss.kind" in dialog.listed() and "optim.betas_g" in dialog.listed()
    texts = [dialog.list.item(i).text() for i in range(dialog.list.count())]
    assert "loss.kind: hinge → bce" in texts
    assert all(dialog.list.item(i).checkState() == Qt.Unchecked for i in range(dialog.list.count()))
    assert "loss.kind = hinge" in dialog.settings_text.toPlainText()  # the parent's settings are shown
    fork = Path(blocker.args[0].run_dir)
    assert fork != parent and tree(parent) == before
    saved = load_config(fork / "config.json")
    parent_config = load_config(parent / "config.json")
    assert saved.loss == parent_config.loss and saved.optim == parent_config.optim  # hinge, R1, lr, betas
    assert saved.run.steps == 16  # the parent finished at 8: as far again

    set_form(window, LEFTOVERS)  # (the fork's start put its own settings in the form)
    ticks.append("optim.lr_g")  # the person carries one of the form's edits
    with qtbot.waitSignal(window.run_finished, timeout=60_000) as blocker:
        window.fork_from(parent)
    saved = load_config(Path(blocker.args[0].run_dir) / "config.json")
    assert saved.optim.lr_g == 2e-4 and saved.loss.kind == "hinge" and saved.optim.lr_d == parent_config.optim.lr_d


def test_fork_from_here_at_the_final_step_of_a_finished_run(qtbot, window, accept_fork):
    parent = trained(window, "alpha", **{"run.keep_every": 0})  # no kept checkpoints: only last.pt
    view(qtbot, window, parent)
    gallery = window.gallery
    gallery.slider.setValue(gallery.steps.index(8))
    action = gallery.context_menu().actions()[0]
    assert action.isEnabled() and action.text() == "Fork from here…"
    gallery.slider.setValue(gallery.steps.index(4))
    assert not gallery.context_menu().actions()[0].isEnabled()  # no checkpoint kept at step 4
    gallery.slider.setValue(gallery.steps.index(8))
    with qtbot.waitSignal(window.run_finished, timeout=60_000) as blocker:
        gallery.context_menu().actions()[0].trigger()
    assert not accept_fork[0][-1].listed()  # the form showed the parent: nothing differs
    fork = Path(blocker.args[0].run_dir)
    assert read_lineage(fork)["fork_step"] == 8 and read_lineage(fork)["parent_checkpoint"] == "last.pt"
    assert fork.name == "alpha-fork-8" and blocker.args[0].step == 16


def test_a_loose_checkpoint_is_resumed_into_a_new_folder_only_when_asked(qtbot, window, monkeypatch, tmp_path):
    run = trained(window, "alpha")
    loose = tmp_path / "mine.pt"
    loose.write_bytes((run / "checkpoints" / "last.pt").read_bytes())
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.Cancel))
    window.open_run(str(loose))
    assert not window.session.active and sorted(p.name for p in window.runs_root.iterdir()) == ["alpha"]
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.Ok))
    with qtbot.waitSignal(window.run_finished, timeout=60_000) as blocker:
        window.open_run(str(loose))
    assert Path(blocker.args[0].run_dir).name.startswith("mine-resumed-")


def test_a_run_name_and_notes_are_given_at_start_shown_and_renamed(qtbot, window, monkeypatch):
    window.names.name.setText("Hinge baseline")
    window.names.notes.setText("R1 on, 8 steps")
    with qtbot.waitSignal(window.run_finished, timeout=60_000) as blocker:
        run = window.start_training(tiny_config(**QUICK))
    assert read_names(run) == ("Hinge baseline", "R1 on, 8 steps")
    assert read_lineage(run)["created"]  # run.json's other keys are there
    assert window.windowTitle() == "GAN Studio — Hinge baseline"
    assert window.names.name.text() == ""  # the next run gets its own name
    assert Path(blocker.args[0].run_dir) == run

    library = window.library
    with qtbot.waitSignal(library.refreshed, timeout=10_000):
        window.library_dock.show()
    other = trained(window, "beta")
    with qtbot.waitSignal(library.refreshed, timeout=10_000):
        library.refresh()
    names = {library.table.item(r, NAME).text() for r in range(library.table.rowCount())}
    assert names == {"Hinge baseline", "beta"}  # beta has no name: its folder's, set apart in italics
    assert library.table.item(library.row_of(other), NAME).font().italic()

    monkeypatch.setattr(RenameDialog, "exec", lambda self: QDialog.Accepted)
    monkeypatch.setattr(RenameDialog, "values", lambda self: ("Beta, lr 1e-3", "a note"))
    library.select(other)
    library.set_overlaid(other, True)
    with qtbot.waitSignal(library.refreshed, timeout=10_000):
        library.rename_button.click()
    assert read_names(other) == ("Beta, lr 1e-3", "a note") and read_lineage(other)["created"]
    assert library.table.item(library.row_of(other), NAME).text() == "Beta, lr 1e-3"
    qtbot.waitUntil(lambda: window.loss_plots.overlays[key_of(other)].label == "Beta, lr 1e-3", timeout=10_000)
    assert json.loads((other / "run.json").read_text())["parent"] is None  # the lineage is kept
