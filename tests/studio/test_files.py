"""Save, load, resume and export through the real window; errors stay in the window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from studio.dialogs.export_dialog import ExportRequest
from studio.window import file_actions
from tests.studio.conftest import tiny_config


def finished_run(qtbot, window, **more):
    """A short run trained to its end."""
    with qtbot.waitSignal(window.run_finished, timeout=60_000) as blocker:
        run = window.start_training(tiny_config(**{"run.steps": 12, **more}))
    assert not blocker.args[0].stopped
    return run


def test_save_generator_while_training_and_reload_it(qtbot, window, tmp_path, monkeypatch):
    with qtbot.waitSignal(window.session.started, timeout=30_000):
        window.start_training(tiny_config())
    qtbot.waitUntil(lambda: window.state == "running", timeout=30_000)
    target = tmp_path / "saved"
    monkeypatch.setattr(file_actions, "choose_folder", lambda *a, **k: str(target))
    with qtbot.waitSignal(window.session.saved, timeout=10_000) as blocker:
        window.controls.save_generator.trigger()  # Ctrl+S
    assert blocker.args[1] == "generator"
    assert (target / "generator.safetensors").is_file() and (target / "generator.json").is_file()
    assert "Generator saved" in window.message_bar.message
    ck = tmp_path / "ck" / "mine.pt"
    with qtbot.waitSignal(window.session.saved, timeout=10_000):
        window.files.save_checkpoint(str(ck))
    assert ck.is_file()
    with qtbot.waitSignal(window.run_finished, timeout=15_000):
        window.stop()

    with qtbot.waitSignal(window.files.generator_loaded, timeout=30_000):
        window.files.open_generator(str(target / "generator.safetensors"))
    assert window.gallery.view.image is not None
    assert window.controls.export.isEnabled() and window.controls.resample.isEnabled()


def test_export_samples_from_finished_run(qtbot, window, tmp_path):
    finished_run(qtbot, window)
    assert window.controls.export.isEnabled()
    out = tmp_path / "exports"
    with qtbot.waitSignal(window.files.exported, timeout=30_000) as blocker:
        window.files.export_samples(ExportRequest(n=5, kind="pngs", label=None, seed=3, folder=str(out)))
    files = sorted(Path(p) for p in blocker.args[0])
    assert len(files) == 5 and all(f.is_file() and f.suffix == ".png" for f in files)
    assert "Exported samples" in window.message_bar.message
    with qtbot.waitSignal(window.files.exported, timeout=30_000) as blocker:
        window.files.export_samples(ExportRequest(n=7, kind="npy", label=None, seed=3, folder=str(out)))
    assert np.load(blocker.args[0][0]).shape == (7, 28, 28, 1)


def test_export_while_training_snapshots_through_the_trainer(qtbot, window, tmp_path):
    with qtbot.waitSignal(window.session.started, timeout=30_000):
        window.start_training(tiny_config(**{"model.conditional": True}))
    qtbot.waitUntil(lambda: window.state == "running", timeout=30_000)
    qtbot.waitUntil(lambda: window.gallery.row_labels == tuple(range(10)), timeout=30_000)  # a row per class
    with qtbot.waitSignal(window.files.exported, timeout=30_000) as blocker:
        window.files.export_samples(ExportRequest(n=4, kind="grid", label=7, seed=0, folder=str(tmp_path / "x")))
    assert Path(blocker.args[0][0]).is_file() and "class7" in blocker.args[0][0]
    with qtbot.waitSignal(window.run_finished, timeout=15_000):
        window.stop()


def test_resume_a_run_folder(qtbot, window):
    run = finished_run(qtbot, window)
    with qtbot.waitSignal(window.run_viewed, timeout=10_000):
        window.open_run(str(run))  # shows the run; Resume trains it
    window.config_panel.set_value("run.steps", 20)  # asked about first (the fixture answers OK)
    with qtbot.waitSignal(window.run_finished, timeout=60_000) as finished:  # set up first: 8 steps are quick
        with qtbot.waitSignal(window.session.started, timeout=30_000) as blocker:
            window.resume_run()
        assert blocker.args[0].step == 12 and blocker.args[0].total_steps == 20
        qtbot.waitUntil(lambda: window.loss_plots.count >= 1, timeout=10_000)  # history came back from metrics.csv
    assert finished.args[0].step == 20


def test_bad_generator_file_shows_message(qtbot, window, tmp_path):
    bad = tmp_path / "generator.safetensors"
    bad.write_bytes(b"not weights")
    (tmp_path / "generator.json").write_text("{nope")
    window.files.open_generator(str(bad))
    qtbot.waitUntil(lambda: "not a valid generator description" in window.message_bar.message, timeout=10_000)
    assert window.message_bar.level == "error"
    assert window.files.loaded_generator is None


def test_bad_checkpoint_shows_message(qtbot, window, tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"garbage")
    with qtbot.waitSignal(window.run_finished, timeout=10_000):
        window.open_run(str(bad))
    assert "not a GAN Studio checkpoint" in window.message_bar.message
    assert window.controls.start.isEnabled()


def test_empty_dataset_folder_error_keeps_app_running(qtbot, window, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    config = tiny_config(**{"data.dataset": "folder", "data.folder": str(empty)})
    with qtbot.waitSignal(window.run_finished, timeout=30_000):
        window.start_training(config)
    assert "no images found" in window.message_bar.message
    assert window.message_bar.level == "error"
    assert window.state == "idle" and window.controls.start.isEnabled()


def test_start_never_reuses_a_run_folder(qtbot, window):
    run = finished_run(qtbot, window)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert window.start_training(tiny_config(), run_dir=run) is None
    assert "already holds a run" in window.message_bar.message and str(run) in window.message_bar.message
    assert not window.session.active
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    with qtbot.waitSignal(window.run_finished, timeout=60_000):
        second = window.start_training(tiny_config(**{"run.steps": 2}))
    assert second != run and second.parent == run.parent


def test_an_export_never_replaces_an_earlier_one(qtbot, window, tmp_path):
    finished_run(qtbot, window)
    request = ExportRequest(n=4, kind="grid", label=None, seed=1, folder=str(tmp_path / "out"))
    with qtbot.waitSignal(window.files.exported, timeout=30_000) as first:
        window.files.export_samples(request)
    kept = Path(first.args[0][0]).read_bytes()
    with qtbot.waitSignal(window.files.exported, timeout=30_000) as second:
        window.files.export_samples(request)
    assert Path(second.args[0][0]).name == "samples_seed1-2.png"
    assert Path(first.args[0][0]).read_bytes() == kept


def test_saving_over_a_saved_generator_asks_first(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    finished_run(qtbot, window)
    target = tmp_path / "mine"
    with qtbot.waitSignal(window.files.copied, timeout=10_000):
        window.files.save_generator(str(target))
    original = (target / "generator.safetensors").read_bytes()
    (target / "generator.safetensors").write_bytes(b"the person's own file")
    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: asked.append(a) or QMessageBox.No))
    window.files.save_generator(str(target))
    assert asked and (target / "generator.safetensors").read_bytes() == b"the person's own file"
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.Yes))
    with qtbot.waitSignal(window.files.copied, timeout=10_000):
        window.files.save_generator(str(target))
    assert (target / "generator.safetensors").read_bytes() == original


def test_fork_from_a_kept_checkpoint_leaves_the_parent(qtbot, window, monkeypatch):
    from studio.dialogs.fork_dialog import ForkSettingsDialog

    run = finished_run(qtbot, window, **{"run.keep_every": 4})
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    window.config_panel.set_value("optim.lr_g", 1e-4)

    def take_lr_and_10_steps(dialog):
        dialog.tick("optim.lr_g")  # the person carries the form's edit into the fork
        dialog.steps.setValue(10)
        return ForkSettingsDialog.Accepted

    monkeypatch.setattr(ForkSettingsDialog, "exec", take_lr_and_10_steps)
    with qtbot.waitSignal(window.run_finished, timeout=60_000) as blocker:
        window.fork_from(str(run / "checkpoints" / "step_000008.pt"))  # an earlier moment
    assert blocker.args[0].step == 10 and not blocker.args[0].stopped
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    fork = Path(blocker.args[0].run_dir)
    assert fork != run and fork.name == f"{run.name}-fork-8"
    from core.config import load_config
    from core.runs.folder import read_lineage
    assert read_lineage(fork)["fork_step"] == 8 and load_config(fork / "config.json").optim.lr_g == 1e-4
    assert "Forked" in window.message_bar.history[-1][1] or any("Forked" in t for _, t in window.message_bar.history)
    qtbot.waitUntil(lambda: window.loss_plots.count >= 5, timeout=10_000)  # the parent's to step 8, then the fork's


def test_the_export_preview_names_the_file_that_is_written(qtbot, tmp_path):
    """It said "Will write: …/samples_seed0.png" and wrote samples_seed0-2.png beside an earlier one."""
    from core.training.trainer import train
    from studio.dialogs.export_dialog import ExportDialog

    run = tmp_path / "run"
    train(tiny_config(**{"run.steps": 2}), run_dir=run)
    out = tmp_path / "exports"
    out.mkdir()
    (out / "samples_seed0.png").write_bytes(b"an earlier export")
    dialog = ExportDialog(None, "a generator", conditional=False, folder=str(out))
    qtbot.addWidget(dialog)
    dialog.n.setValue(4)
    assert f"Will write: {out / 'samples_seed0-2.png'}" in dialog.preview.text()
    assert "samples_seed0.png is there already: it is kept" in dialog.preview.text()
    request = dialog.request()
    written = file_actions._export(str(run / "generator.safetensors"), request)
    assert written == [str(out / "samples_seed0-2.png")]  # the file the preview named
    assert (out / "samples_seed0.png").read_bytes() == b"an earlier export"


def test_a_new_folders_name_typed_in_the_chooser_is_made(qtbot, tmp_path):
    """Qt's own folder chooser answered a new folder's name with "Directory not found"."""
    from PySide6.QtWidgets import QDialog, QLineEdit

    from studio.dialogs.folder_dialog import FolderDialog

    dialog = FolderDialog(None, "Save the generator into", str(tmp_path))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.findChild(QLineEdit, "fileNameEdit").setText("my generators")  # typed, as a person would
    dialog.accept()
    assert dialog.result() == QDialog.Accepted
    assert dialog.selectedFiles() == [str(tmp_path / "my generators")] and (tmp_path / "my generators").is_dir()
    assert dialog.made == tmp_path / "my generators"
    deep = FolderDialog(None, "Save the generator into", str(tmp_path))
    qtbot.addWidget(deep)
    deep.show()
    deep.findChild(QLineEdit, "fileNameEdit").setText("no/such/tree")
    QTimer.singleShot(0, lambda: QApplication.activeModalWidget() and QApplication.activeModalWidget().done(0))
    deep.accept()  # a mistyped path makes no tree of folders: Qt's own "not found"
    assert deep.result() != QDialog.Accepted and not (tmp_path / "no").exists()


def test_save_generator_starts_in_the_run_shown_not_the_last_folder(qtbot, tmp_path, monkeypatch):
    """With a fork shown, Ctrl+S opened the chooser in the parent's folder (the last one saved into)."""
    from studio.model.shown_run import Origin, ShownRun
    from studio.window.parts import StudioParts

    class Folders:
        def get(self, kind):
            return str(tmp_path / "parent")

        def remember(self, kind, path):
            pass

    model = ShownRun()
    model.show(tmp_path / "fork", Origin.VIEWING)
    parts = StudioParts(model, session=None, jobs=None, form=None, names=None, say=lambda text, level: None,
                        folders=Folders(), runs_root=lambda: tmp_path, dialog_parent=None)
    starts = []
    monkeypatch.setattr(file_actions, "choose_folder", lambda parent, caption, start: starts.append(start) or "",
                        raising=False)
    monkeypatch.setattr(file_actions.QFileDialog, "getExistingDirectory",  # a chooser of Qt's, were it asked
                        staticmethod(lambda parent, caption, start: starts.append(start) or ""))
    file_actions.FileActions(parts).save_generator()
    assert starts == [str(tmp_path / "fork")]

