"""The quality panel explains the reading the run has (digits or FID), with numbers rather than config
keys, and gets the Inception weights on request: on a job thread, with progress, never in a test."""

from __future__ import annotations

import hashlib
import socket
import threading
import urllib.error
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QLineEdit, QMainWindow, QVBoxLayout, QWidget

from core.quality import inception as fid
from studio.panels.quality_panel import QualityPanel
from tests.studio.conftest import tiny_config

# A folder run whose picture reading is off (run.quality_every = 0): FID is the reading it would have.
FOLDER = {"data.dataset": "folder", "data.folder": "/tmp/pictures", "data.image_size": 32, "data.channels": 3,
          "run.quality_every": 0}


@pytest.fixture
def panel(qtbot, monkeypatch):
    monkeypatch.setattr(fid, "find_inception_weights", lambda: None)  # as on a machine without them
    p = QualityPanel()
    qtbot.addWidget(p)
    p.resize(900, 250)
    p.show()
    yield p
    p.shutdown()
    qtbot.waitUntil(lambda: not p.jobs.busy, timeout=10_000)


def _all_text(panel) -> str:
    return " ".join(w.text() for w in (panel.title, panel.value, panel.summary, panel.help, panel.off_label))


def test_before_the_first_reading_it_gives_the_number_of_steps(panel):
    assert "quality_every steps" not in panel.summary.text()  # no config key where a number belongs
    panel.expect(tiny_config(**{"run.quality_every": 250}))
    assert panel.summary.text() == "No reading yet: one comes every 250 steps (run.quality_every)."
    panel.reset()
    panel.expect(tiny_config(**{**FOLDER, "run.fid_every": 2000}))
    assert panel.summary.text() == "No reading yet: FID and KID come every 2,000 steps (run.fid_every)."
    panel.reset()
    panel.expect(tiny_config(**{**FOLDER, "run.quality_every": 300, "run.fid_every": 0}))
    assert panel.summary.text() == "No reading yet: one comes every 300 steps (run.quality_every)."
    assert "random networks" in panel.help.text() and "digit" not in panel.help.toolTip().lower()


def test_a_picture_folder_without_weights_is_explained_as_fid_not_digits(panel):
    panel.expect(tiny_config(**FOLDER))
    panel.set_off(fid.unavailable_reason())
    text = _all_text(panel)
    assert "Inception-v3" in text and "fetch-inception" in text
    assert "digit" not in text.lower() and "score about 1" not in text, text
    assert "digit" not in panel.help.toolTip().lower()
    assert ".." not in panel.off_label.text()
    assert panel.fetch_button.isVisible()


def test_digits_off_explains_the_digit_classifier_with_one_full_stop(panel):
    panel.expect(tiny_config())
    panel.set_off("quality readings are switched off (run.quality_every = 0)")
    assert "Quality readings are switched off (run.quality_every = 0).</p>" in panel.off_label.text()
    assert "classifier of handwritten digits" in panel.off_label.text()
    assert not panel.fetch_button.isVisible()  # the weights are not what is missing


def test_no_button_where_fid_is_off_for_another_reason(panel):
    panel.expect(tiny_config(**{**FOLDER, "run.fid_every": 0}))
    panel.set_off("FID readings are switched off (run.fid_every = 0)")
    assert "(run.fid_every = 0).</p>" in panel.off_label.text() and ".." not in panel.off_label.text()
    assert not panel.fetch_button.isVisible()


def test_the_button_fetches_on_a_job_thread_with_progress_then_says_done(qtbot, panel, monkeypatch, tmp_path):
    calls = []

    def fake_download(progress=True, report=None, cancelled=None):
        calls.append(threading.current_thread() is threading.main_thread())
        for done in (0, 40_000_000, 80_000_000, 104_000_000):
            report(done, 104_000_000)
        return tmp_path / "inception_v3_google-0cc3c7bd.pth"

    monkeypatch.setattr(fid, "download_inception_weights", fake_download)  # never the network in a test
    panel.expect(tiny_config(**FOLDER))
    panel.set_off(fid.unavailable_reason())
    seen = []
    panel.fetch_progress.connect(lambda done, total: seen.append((done, total)))
    with qtbot.waitSignal(panel.fetched, timeout=10_000) as blocker:
        panel.fetch_button.click()
        assert panel.fetching and not panel.fetch_button.isVisible() and panel.fetch_bar.isVisible()
    assert calls == [False]  # ran once, off the GUI thread
    assert blocker.args == [str(tmp_path / "inception_v3_google-0cc3c7bd.pth")]
    assert seen[-1] == (104_000_000, 104_000_000)
    assert panel.fetch_bar.format() == "104 / 104 MB"  # the last report reached the bar before `done`
    assert "next run on pictures gets FID" in panel.fetch_note.text()
    assert not panel.fetch_button.isVisible() and not panel.fetching


def _offline(progress=True, report=None, cancelled=None):
    # What urllib raises on a machine without a network (torch hub's download and fetch_file alike).
    raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))


def test_a_failed_fetch_says_why_as_the_cli_does_and_offers_the_button_again(qtbot, panel, monkeypatch):
    monkeypatch.setattr(fid, "download_inception_weights", _offline)
    panel.expect(tiny_config(**FOLDER))
    panel.set_off(fid.unavailable_reason())
    with qtbot.waitSignal(panel.fetch_failed, timeout=10_000):
        panel.fetch_button.click()
    text = panel.fetch_note.text()
    assert text == "Could not download the Inception-v3 weights: download.pytorch.org could not be found (no " \
                   "network, or no name server); check the network and try again.", text
    assert "urlopen" not in text and "Errno" not in text
    assert panel.fetch_button.isVisible()


def test_a_failed_fetch_is_shown_whole_without_widening_the_panel(qtbot, panel, monkeypatch):
    monkeypatch.setattr(fid, "download_inception_weights", _offline)
    panel.resize(1000, 195)  # the quality panel's size in the window at 1366x768
    panel.expect(tiny_config(**FOLDER))
    panel.set_off(fid.unavailable_reason())
    widest = panel.minimumSizeHint().width()
    with qtbot.waitSignal(panel.fetch_failed, timeout=10_000):
        panel.fetch_button.click()
    note = panel.fetch_note
    qtbot.waitUntil(lambda: note.isVisible() and note.height() >= note.heightForWidth(note.width()))
    bottom = note.mapTo(panel, note.rect().bottomLeft()).y()
    assert bottom < panel.height()  # not cut at the panel's edge
    assert panel.off_label.height() >= panel.off_label.heightForWidth(panel.off_label.width())  # nor the reason
    assert note.minimumSizeHint().width() == 0  # the sentence wraps: it asks for no width of its own
    assert panel.minimumSizeHint().width() <= widest + 10  # a spacing beside the note, not the sentence's width


def test_the_button_leaves_the_keys_to_the_window_not_a_text_field(qtbot, monkeypatch):
    """Space pauses after the button and its failure: the button hid with the focus, which went to the
    next field in the chain (in the window: the Run name), and Space typed there."""
    monkeypatch.setattr(fid, "find_inception_weights", lambda: None)
    monkeypatch.setattr(fid, "download_inception_weights", _offline)
    host = QMainWindow()
    qtbot.addWidget(host)
    body = QWidget()
    layout = QVBoxLayout(body)
    panel = QualityPanel()
    name = QLineEdit(objectName="runName")
    layout.addWidget(panel)
    layout.addWidget(name)
    host.setCentralWidget(body)
    paused = []
    pause = QAction("Pause", host, shortcut=QKeySequence(Qt.Key_Space))
    pause.triggered.connect(lambda: paused.append(True))
    host.addAction(pause)
    host.setFocusPolicy(Qt.StrongFocus)
    host.resize(1000, 300)
    host.show()
    qtbot.waitExposed(host)
    host.activateWindow()
    host.setFocus(Qt.OtherFocusReason)
    panel.expect(tiny_config(**FOLDER))
    panel.set_off(fid.unavailable_reason())
    with qtbot.waitSignal(panel.fetch_failed, timeout=10_000):
        qtbot.mouseClick(panel.fetch_button, Qt.LeftButton)
    assert not isinstance(QApplication.focusWidget(), QLineEdit), QApplication.focusWidget()
    qtbot.keyClick(QApplication.focusWidget() or host, Qt.Key_Space)
    assert paused == [True] and name.text() == ""
    panel.shutdown()
    qtbot.waitUntil(lambda: not panel.jobs.busy, timeout=10_000)


def test_the_window_waits_for_a_fetch_it_cancels_on_close(qtbot, window, monkeypatch):
    started, stop_seen = threading.Event(), []

    def slow(progress=True, report=None, cancelled=None):
        started.set()
        while not cancelled():  # a chunked download asks between chunks
            threading.Event().wait(0.01)
        stop_seen.append(True)
        raise OSError("the download was cancelled")

    monkeypatch.setattr(fid, "download_inception_weights", slow)
    assert window.quality_panel.jobs is window.jobs  # the window's close waits for it
    window.quality_panel.fetch_weights()
    assert started.wait(10)
    window.close()
    assert stop_seen == [True] and not window.jobs.busy


# --- core.quality.inception's chunked download, through a file:// URL (no network) ---


def _source(tmp_path: Path) -> tuple[str, bytes]:
    data = bytes(range(256)) * 5000  # 1.28 MB: two chunks of 1 MiB
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    return src.as_uri(), data


def test_fetch_file_reports_progress_and_checks_the_hash(tmp_path):
    url, data = _source(tmp_path)
    out = tmp_path / "hub" / "weights-abc.pth"
    seen = []
    fid.fetch_file(url, out, hashlib.sha256(data).hexdigest()[:8], lambda d, t: seen.append((d, t)))
    assert out.read_bytes() == data
    assert seen == [(1 << 20, len(data)), (len(data), len(data))]
    with pytest.raises(OSError, match="sha256"):
        fid.fetch_file(url, tmp_path / "hub" / "bad.pth", "00000000", lambda d, t: None)
    with pytest.raises(OSError, match="cancelled"):
        fid.fetch_file(url, tmp_path / "hub" / "stopped.pth", "", lambda d, t: None, lambda: True)
    assert sorted(p.name for p in (tmp_path / "hub").iterdir()) == ["weights-abc.pth"]  # nothing half-written


def test_download_with_progress_checks_torch_hubs_hash_prefix(tmp_path, monkeypatch):
    got = {}
    monkeypatch.setattr(fid, "hub_checkpoints", lambda: tmp_path)
    monkeypatch.setattr(fid, "fetch_file", lambda url, out, prefix, report, cancelled: got.update(
        url=url, out=out, prefix=prefix))
    out = fid.download_inception_weights(report=lambda d, t: None)
    assert out == tmp_path / fid.torchvision_weights_file()
    assert got["out"] == out and got["url"].startswith("https://") and got["prefix"]
    assert got["prefix"] in out.name  # torch hub's convention: inception_v3_google-<sha256 prefix>.pth
