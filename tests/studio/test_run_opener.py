"""The run opener's decisions that the window only wires: what a path means, and Discard on close."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from tests.studio.conftest import tiny_config


def test_open_a_missing_path_says_so_and_changes_nothing(window, tmp_path):
    window.open_run(str(tmp_path / "gone.pt"))
    assert window.message_bar.level == "error"
    assert "gone.pt: it does not exist" in window.message_bar.message
    assert window.viewing is None and not window.session.active


def test_a_checkpoints_folder_without_a_run_around_it_is_a_loose_checkpoint(window, tmp_path, monkeypatch):
    stray = tmp_path / "copies" / "checkpoints" / "last.pt"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"x")
    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: asked.append(a[2]) or QMessageBox.Cancel))
    window.open_run(str(stray))
    assert asked and "is not inside a run folder" in asked[0]  # asked, and Cancel leaves it
    assert window.viewing is None and not window.session.active


def test_discard_on_close_deletes_the_new_run_but_not_a_persons_files(qtbot, window, tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me", encoding="utf-8")  # a folder without a run may take one
    with qtbot.waitSignal(window.session.started, timeout=30_000):
        assert window.start_training(tiny_config(**{"run.steps": 100_000}), folder) == folder
    qtbot.waitUntil(lambda: window.loss_plots.count >= 1, timeout=30_000)
    assert (folder / "config.json").is_file()
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.Discard))
    window.close()
    assert not window.session.active
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
