"""The studio attached to a run it did not start: a headless `main.py train` in another process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.runs import heartbeat
from core.runs.checkpoint import load_checkpoint
from tests.processes import wait_until_training

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--set", "model.g_hidden=[16]", "--set", "model.d_hidden=[16]", "--set", "run.batch_size=8",
         "--set", "run.threads=1", "--set", "run.log_every=5", "--set", "run.sample_every=20",
         "--set", "run.grid_size=4", "--set", "run.quality_every=0", "--device", "cpu"]


@pytest.fixture
def headless(tmp_path):
    folder = tmp_path / "remote"
    proc = subprocess.Popen([sys.executable, "main.py", "train", "--steps", "1000000", "--out", str(folder), *SMALL],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert wait_until_training(proc)  # it owns the folder: its heartbeat is there
    yield proc, folder
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_attach_follow_steer_and_stop_a_headless_run(qtbot, window, headless):
    proc, folder = headless
    window.open_run(str(folder))  # running elsewhere: attach, never train it twice
    assert window.session.attached
    qtbot.waitUntil(lambda: window.loss_plots.count >= 2, timeout=60_000)  # curves grow as rows are written
    grown = window.loss_plots.count
    qtbot.waitUntil(lambda: window.loss_plots.count > grown, timeout=60_000)
    qtbot.waitUntil(lambda: len(window.gallery.steps) >= 1, timeout=60_000)
    assert "attached" in window.status.device.text() and "alive" in window.status.device.text()
    assert window.controls.pause.isEnabled() and not window.controls.start.isEnabled()

    # a live change goes through the run's control channel, is applied there, and is marked on the plots
    with qtbot.waitSignal(window.session.hyperparams_changed, timeout=60_000) as blocker:
        assert window.apply_live_change({"optim.lr_g": 0.0003})
    assert blocker.args[0].changes == {"optim.lr_g": 0.0003}
    qtbot.waitUntil(lambda: any("lr_g" in text for _, text in window.loss_plots.markers), timeout=60_000)
    assert not window.apply_live_change({"run.batch_size": 4})  # not a live setting: refused here
    assert "cannot change while training" in window.message_bar.message

    target = folder.parent / "saved"
    saved, errors = [], []
    window.session.saved.connect(lambda step, kind, path: saved.append(kind))
    window.session.error.connect(lambda step, message: errors.append(message))
    window.files.save_generator(str(target))  # the run saves, then its generator is copied here
    qtbot.waitUntil(lambda: bool(saved or errors), timeout=60_000)
    assert errors == [] and saved == ["generator"] and (target / "generator.safetensors").is_file()

    with qtbot.waitSignal(window.run_finished, timeout=120_000) as blocker:
        window.stop()  # through the channel; the run writes its final checkpoint and ends
    assert blocker.args[0].stopped
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "stopped at step" in out
    state = load_checkpoint(folder)
    assert state["config"]["optim"]["lr_g"] == 0.0003
    assert heartbeat.read(folder).state == "stopped"


def test_closing_the_window_detaches_and_leaves_the_run_running(qtbot, window, headless):
    proc, folder = headless
    window.open_run(str(folder))
    qtbot.waitUntil(lambda: window.loss_plots.count >= 1, timeout=60_000)
    window.close()
    assert proc.poll() is None and heartbeat.read(folder).alive()
    step = heartbeat.read(folder).step
    from core.runs.channel import send
    assert send(folder, "stop").ok
    proc.communicate(timeout=120)
    assert load_checkpoint(folder)["step"] >= step
