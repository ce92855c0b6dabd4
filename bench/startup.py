"""Start-up time: from process start to the main window shown.

Each run is a fresh `python bench/startup.py --child`, which does what
`python main.py` does (studio.app: create_app, create_window, show) and exits
right after the window's first paint. The parent notes the wall clock just
before it starts the process; the child reports the wall clock at each phase
(interpreter up, imports done, QApplication, window built, first paint), so
every figure counts from the process start, interpreter start-up included.

Cold = the first start after the OS page cache was dropped (needs root: it
writes /proc/sys/vm/drop_caches; without it the cold figure is only "first in
this script" and says so); warm = the starts right after it. Settings go to a
temp folder. The median over rounds is reported.

    python bench/startup.py [--rounds 5] [--warm 2] [--no-drop-caches]
"""

from __future__ import annotations

import time

T_INTERPRETER = time.time()  # the first line of the child: interpreter and `time` are up

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def child() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    marks = {"interpreter": T_INTERPRETER}
    from bench.gui import temp_settings

    temp_settings("gan-studio-startup-")
    from PySide6.QtCore import QEvent, QObject, QTimer

    from studio.app import create_app, create_window

    marks["imports"] = time.time()
    app = create_app([])
    marks["qapplication"] = time.time()
    window = create_window()
    marks["window built"] = time.time()

    class FirstPaint(QObject):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Paint and "first paint" not in marks:
                QTimer.singleShot(0, done)  # after this paint has finished
            return False

    def done():
        if "first paint" not in marks:
            marks["first paint"] = time.time()
            print(json.dumps(marks), flush=True)
            window.close()
            app.quit()

    watcher = FirstPaint()
    window.installEventFilter(watcher)
    window.show()
    marks["show() returned"] = time.time()
    QTimer.singleShot(10_000, done)  # never hang a benchmark
    app.exec()


def drop_caches() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def one_start() -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    t0 = time.time()
    p = subprocess.run([sys.executable, __file__, "--child"], capture_output=True, text=True, env=env, timeout=120)
    wall = time.time() - t0
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    if p.returncode or not lines:
        raise SystemExit(f"child failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    marks = json.loads(lines[-1])
    return {**{k: v - t0 for k, v in marks.items()}, "process exit": wall}


def fmt(starts: list[dict]) -> str:
    return ", ".join(f"{x['first paint']:.2f}" for x in starts)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warm", type=int, default=2, help="warm starts after each cold one")
    p.add_argument("--no-drop-caches", action="store_true", help="do not drop the OS page cache before cold starts")
    p.add_argument("--child", action="store_true")
    args = p.parse_args()
    if args.child:
        child()
        return

    sys.path.insert(0, str(ROOT))
    from bench.common import median, record

    cold, warm, dropped = [], [], []
    load = [os.getloadavg()[0]]
    for r in range(args.rounds):
        dropped.append(not args.no_drop_caches and drop_caches())
        cold.append(one_start())
        warm += [one_start() for _ in range(args.warm)]
        print(f"round {r + 1}: cold {cold[-1]['first paint']:.2f} s"
              f"{'' if dropped[-1] else ' (page cache not dropped)'}, warm "
              f"{fmt(warm[-args.warm:])} s", flush=True)
    load.append(os.getloadavg()[0])
    phases = ["interpreter", "imports", "qapplication", "window built", "show() returned", "first paint"]
    lines = ["| phase (from process start) | cold (median) | warm (median) |", "|---|---|---|"]
    for ph in phases:
        lines.append(f"| {ph} | {median([c[ph] for c in cold]):.2f} s | {median([w[ph] for w in warm]):.2f} s |")
    c, w = median([x["first paint"] for x in cold]), median([x["first paint"] for x in warm])
    lines += ["", f"**Process start to main window shown (first paint): cold {c:.2f} s, warm {w:.2f} s; target < 3 s: "
              f"{'met' if max(c, w) < 3 else 'missed'}.** Cold starts per round: "
              f"{fmt(cold)} s; warm: {fmt(warm)} s.", "",
              f"{args.rounds} rounds of 1 cold + {args.warm} warm starts; cold = "
              + ("after dropping the OS page cache (`/proc/sys/vm/drop_caches`)" if all(dropped) else
                 "first start of the round, page cache NOT dropped (no permission or --no-drop-caches), so "
                 "'cold' is close to warm")
              + f". `{os.environ.get('QT_QPA_PLATFORM', 'offscreen')}` Qt platform, PYTHONDONTWRITEBYTECODE="
              f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r} (set: the project's own modules are compiled at "
              f"every start). torch is not imported before the window shows (the worker imports it on the first "
              f"run). 1-minute load average: {', '.join(f'{x:.1f}' for x in load)}."]
    record("Start-up time to the main window", lines)


if __name__ == "__main__":
    main()
