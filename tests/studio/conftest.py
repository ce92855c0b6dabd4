"""Studio test fixtures: offscreen Qt, temporary settings, tiny configs, no leaked threads."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings, QThread  # noqa: E402
from PySide6.QtWidgets import QDockWidget, QInputDialog, QMessageBox  # noqa: E402

from core.presets import preset  # noqa: E402

TINY = {"model.g_hidden": [32], "model.d_hidden": [32], "run.batch_size": 16, "run.log_every": 2,
        "run.sample_every": 4, "run.steps": 400, "run.grid_size": 16, "run.checkpoint_every": 0}


def tiny_config(**more):
    return preset("default").with_values(**{**TINY, **more})


@pytest.fixture(scope="session", autouse=True)
def app_as_in_the_studio(qapp):
    """The app's theme, and its collector (studio.gui_gc), as in the app: a window left from one test
    must not be freed on the next test's trainer thread."""
    from studio import gui_gc
    from studio.app import apply_theme

    apply_theme(qapp)  # once: re-applying the stylesheet re-polishes every live widget (0.5 s a test)
    gui_gc.install(qapp)
    # Never uninstalled: closed windows linger until collected, and automatic collection switched
    # back on at the session's end freed them on a job thread, which deadlocked with the GUI thread.
    yield


@pytest.fixture(autouse=True)
def no_leaked_qthreads(monkeypatch):
    """Fail any test that leaves a QThread running (as napari does)."""
    started: list[QThread] = []
    original = QThread.start

    def start(self, *args):
        started.append(self)
        return original(self, *args)

    monkeypatch.setattr(QThread, "start", start)
    yield
    leaked = []
    for thread in started:
        try:
            if thread.isRunning():
                leaked.append(thread.objectName() or repr(thread))
        except RuntimeError:  # the C++ object is gone: it was finished and deleted
            pass
    assert not leaked, f"test left QThread(s) running: {leaked}"


@pytest.fixture
def settings(tmp_path):
    """Settings in a temp folder, never the real user's."""
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp_path / "settings"))
    s = QSettings(str(tmp_path / "settings" / "studio.ini"), QSettings.IniFormat)
    yield s


@pytest.fixture
def window(qtbot, tmp_path, settings, monkeypatch):
    from studio.window.main_window import MainWindow

    # No modal dialog may block a test: a close mid-run answers Save, confirmations say OK.
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.Save))
    monkeypatch.setattr(QMessageBox, "information", staticmethod(lambda *a, **k: QMessageBox.Ok))
    # Which generator to export, when a run's best and final differ: the best (what the dialog picks first).
    from studio.dialogs.which_generator import WhichGeneratorDialog

    monkeypatch.setattr(WhichGeneratorDialog, "exec", lambda self: WhichGeneratorDialog.Accepted)
    # Training a finished run on asks for a new total: the one offered.
    monkeypatch.setattr(QInputDialog, "getInt", staticmethod(lambda _p, _t, _l, value, *a, **k: (value, True)))
    w = MainWindow(settings, runs_root=tmp_path / "runs")
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()  # stops any run and joins its thread


# --- the window fits 1366 x 768 (tests/studio/test_window_width.py and the panels' own) ---

SCREEN = 1366, 768
QUICK = {"run.steps": 2, "run.threads": 1, "run.device": "cpu", "run.sample_every": 2, "run.quality_every": 0,
         "run.quality_samples": 16}
LONG_PATH = "/home/someone/" + "a-folder-with-a-long-name-" * 6 + "/pt_inception-2015-12-05-6726825d.pth"


def _sized(qtbot, window) -> int:
    window.resize(SCREEN[0], SCREEN[1] - 40)
    qtbot.waitUntil(lambda: window.width() == SCREEN[0], timeout=5_000)
    qtbot.wait(0)
    return window.width()


def _docks(window) -> list[QDockWidget]:
    return [d for d in window.findChildren(QDockWidget) if d.toggleViewAction() is not None]


def _row_of_minimums(window) -> int:
    """The central widget's minimum width plus, per dock area, the widest shown dock's (docks of one
    area stack by default)."""
    areas: dict = {}
    for dock in _docks(window):
        if dock.isVisible() and not dock.isFloating():
            area = window.dockWidgetArea(dock)
            areas[area] = max(areas.get(area, 0), dock.minimumSizeHint().width())
    return window.centralWidget().minimumSizeHint().width() + sum(areas.values())


def _fits(qtbot, window, width: int, what: str) -> None:
    qtbot.wait(0)  # the layout and the docks' deferred resizes
    qtbot.wait(0)
    assert window.width() == width, f"{what}: the window grew from {width} to {window.width()} px"
    assert window.minimumSizeHint().width() <= SCREEN[0], f"{what}: the window asks for " \
        f"{window.minimumSizeHint().width()} px at least"
    assert _row_of_minimums(window) <= SCREEN[0], f"{what}: the panels ask for {_row_of_minimums(window)} px"
    assert window.minimumSizeHint().height() <= SCREEN[1], f"{what}: taller than the screen"


@pytest.fixture
def picture_folder(tmp_path):
    """300 small colour pictures in a folder, as a person's own (random colours, seeded)."""
    import numpy as np
    from PIL import Image

    folder = tmp_path / "my pictures"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(300):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return folder
