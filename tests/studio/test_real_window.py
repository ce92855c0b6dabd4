"""The window under a real X server and window manager (Xvfb + openbox): the offscreen platform lets no
window manager size the window, and a dock that widened it past a 1366 px screen (to a right edge at
1,548 px with a folder previewed) passed every offscreen check. Skipped, saying why, where Xvfb,
openbox or xwininfo is missing (.ci/run installs them)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NEEDED = ("Xvfb", "openbox", "xwininfo")


@pytest.fixture
def x_display(tmp_path):
    missing = [tool for tool in NEEDED if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (Debian: xvfb openbox x11-utils)")
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1366x768x24", "-nolisten", "tcp"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as f:
        display = f":{f.readline().strip()}"  # Xvfb writes its display number once it accepts clients
    manager = subprocess.Popen(["openbox"], env={**os.environ, "DISPLAY": display}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        yield display
    finally:
        for process in (manager, server):
            process.terminate()
            process.wait(timeout=30)


def test_every_dock_with_a_folder_previewed_stays_on_a_1366_screen(x_display, picture_folder, tmp_path):
    env = {**os.environ, "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "dock_screenshots.py"), "--frames-only",
                           "--folder", str(picture_folder), "--out", str(tmp_path / "frames")],
                          env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = (tmp_path / "frames" / "1366-frames.txt").read_text().splitlines()
    states = [line for line in lines if ": window " in line]
    assert [s.split(":")[0] for s in states] == ["start", "explorerDock", "libraryDock", "sweepDock", "all"]
    for line in states:
        right = int(re.search(r"right edge (\d+)", line).group(1))
        slider = int(re.search(r"timeline slider (\d+) px", line).group(1))
        assert right <= 1366, line
        assert slider >= 100, line  # the gallery's timeline can still be scrubbed
