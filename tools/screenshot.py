"""Open the real window, train the default preset on the bundled digits, save a screenshot,
and measure how responsive the GUI thread stays while training runs at full speed.

    QT_QPA_PLATFORM=offscreen python tools/screenshot.py [--steps 3000] [--out docs/screenshot.png]

The digits need ~1,500 steps to look like digits and ~3,000 to read as most classes; quality readings come every
--quality-every steps (250 here, 500 in the preset) so the quality panel has a curve.

Responsiveness: a 10 ms QTimer on the GUI thread (bench.gui.LatencyProbe, the one
bench/responsiveness.py uses) records how late each tick fires while the trainer runs; p50/p99/max lateness are printed (and written as JSON
with --json). Settings and runs go to a temporary folder, never the user's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings, QTimer  # noqa: E402

from bench.gui import LatencyProbe  # noqa: E402  (one probe for this tool and bench/responsiveness.py)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--quality-every", type=int, default=250, help="steps between quality readings")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    parser.add_argument("--no-screenshot", action="store_true")
    parser.add_argument("--json", help="write the latency figures here")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="gan-studio-shot-"))
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp / "settings"))

    from core.presets import preset
    from studio.app import create_app, make_settings
    from studio.window.main_window import MainWindow

    app = create_app([])
    window = MainWindow(make_settings(), runs_root=tmp / "runs")
    window.resize(args.width, args.height)
    window.show()
    config = preset(args.preset).with_values(**{
        "run.steps": args.steps, "run.sample_every": max(10, args.steps // 20), "run.log_every": 10,
        "run.checkpoint_every": 0, "run.quality_every": args.quality_every})
    probe = LatencyProbe()
    change_at = int(args.steps * 0.6)
    state = {"changed": False, "t0": 0.0}

    def on_metrics(m) -> None:
        if not state["changed"] and m.step >= change_at:
            state["changed"] = True
            # A live change, so the screenshot shows a marker on the plots.
            window.apply_live_change({"optim.lr_d": config.optim.lr_d / 2})

    def on_started(_) -> None:
        state["t0"] = time.perf_counter()
        probe.start()

    def on_finished(e) -> None:
        probe.stop()
        seconds = time.perf_counter() - state["t0"]
        report = {**probe.report(), "steps": e.step, "train_seconds": round(seconds, 2),
                  "steps_per_s": round(e.step / max(seconds, 1e-9), 1)}
        print(json.dumps(report))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))
        QTimer.singleShot(300, finish)  # let the last redraw tick land

    def on_samples(s) -> None:
        # Shoot while it still trains, so the status bar shows speed and ETA.
        if not state.get("shot") and s.step >= args.steps * 0.9:
            state["shot"] = True
            QTimer.singleShot(150, shoot)

    def shoot() -> None:
        if not args.no_screenshot:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            window.grab().save(args.out)
            print(f"wrote {args.out}")

    def finish() -> None:
        if not state.get("shot"):
            shoot()
        window.close()
        app.quit()

    window.session.metrics.connect(on_metrics)
    window.session.started.connect(on_started)
    window.session.samples.connect(on_samples)
    window.run_finished.connect(on_finished)
    QTimer.singleShot(200, lambda: window.start_training(config))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
