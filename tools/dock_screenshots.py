"""The real window under a window manager with every dock, one at a time and together, a folder of
pictures previewed: a screenshot of the whole screen for each, and the window's frame as the window
manager reports it (xwininfo), so that a dock that widens the window past the screen is seen.

    Xvfb :99 -screen 0 1366x768x24 &  DISPLAY=:99 openbox &
    DISPLAY=:99 python tools/dock_screenshots.py --folder PICTURES --out /tmp/shots

Needs Xvfb, a window manager, xwininfo and ImageMagick's import (Debian: xvfb openbox x11-utils
imagemagick; --frames-only needs no import). Settings and runs go to a temporary folder, never the
user's. tests/studio/test_real_window.py runs it with --frames-only under a real window manager.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def settle(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)  # a tool, not a test: the window manager and the layout get their turns


def frame(window) -> tuple[int, int, int, int]:
    """(x, y, width, height) of the window as the X server has it."""
    text = subprocess.run(["xwininfo", "-id", str(int(window.winId()))], capture_output=True, text=True).stdout
    value = {k: int(v) for k, v in re.findall(r"(Absolute upper-left [XY]|Width|Height):\s+(-?\d+)", text)}
    return (value.get("Absolute upper-left X", 0), value.get("Absolute upper-left Y", 0),
            value.get("Width", 0), value.get("Height", 0))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--folder", required=True, help="a folder of pictures to preview")
    p.add_argument("--out", required=True)
    p.add_argument("--maximized", action="store_true", help="maximise the window first, as on a big screen")
    p.add_argument("--frames-only", action="store_true", help="measure the window's frame, take no screenshots")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from bench.gui import temp_settings

    tmp = temp_settings("gan-studio-shots-")
    from studio.app import create_app, create_window, make_settings

    app = create_app([])
    window = create_window(make_settings(), runs_root=tmp / "runs")
    window.fit_to_screen()  # as the app does (studio/app.py run_app)
    window.showMaximized() if args.maximized else window.show()
    settle(app, 2)
    from core.presets import preset

    screen = app.primaryScreen().geometry()
    config = preset("folder").with_values(**{"data.folder": args.folder})
    window.config_panel.set_config(config)
    settle(app, 8)  # the folder decoded and previewed
    docks = [d for d in window.docks.right]
    states = [("start", [])] + [(d.objectName(), [d]) for d in docks] + [("all", docks)]
    lines = [f"screen {screen.width()}x{screen.height()}"]
    for name, shown in states:
        for dock in docks:
            dock.setVisible(dock in shown)
        for dock in shown:
            dock.raise_()
        settle(app, 1.5)
        x, y, w, h = frame(window)
        right = x + w
        slider = window.gallery.slider.width()
        line = (f"{name}: window {w}x{h} at ({x},{y}), right edge {right}"
                f"{' PAST THE SCREEN' if right > screen.width() else ''}; timeline slider {slider} px")
        lines.append(line)
        print(line)
        if not args.frames_only:
            subprocess.run(["import", "-window", "root", str(out / f"{screen.width()}-{name}.png")], check=True)
        if name == "explorerDock":
            explorer = window.explorer
            line = (f"  explorer: {explorer.width()} px wide; its tabs "
                    f"{[explorer.tabs.tabText(i) for i in range(explorer.tabs.count())]}")
            lines.append(line)
            print(line)
    (out / f"{screen.width()}-frames.txt").write_text("\n".join(lines) + "\n")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
