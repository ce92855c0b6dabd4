"""Screenshots of the real window for the README: the latent explorer on a trained generator, two
runs overlaid from the run library, a picture folder's preview before training, and the Sweep panel
on a sweep folder.

    QT_QPA_PLATFORM=offscreen python tools/feature_screenshots.py --explorer RUN --overlay RUN_A RUN_B \
        [--folder PICTURES] [--sweep SWEEPDIR] [--out docs]

RUN folders are finished run folders (copied into a temporary runs folder; nothing of theirs is
changed); settings go to a temporary folder, never the user's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402

from bench.gui import open_window  # noqa: E402


def wait(app, predicate, seconds: float = 60) -> bool:
    import time

    end = time.monotonic() + seconds
    while not predicate() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)  # a tool, not a test: the event loop is driven by hand between looks
    return predicate()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--explorer", help="a run folder whose generator the explorer shows")
    p.add_argument("--overlay", nargs=2, metavar="RUN", help="two run folders to overlay")
    p.add_argument("--folder", help="a picture folder to preview")
    p.add_argument("--sweep", help="a sweep folder (main.py sweep --out) for the Sweep panel: only read")
    p.add_argument("--out", default=str(ROOT / "docs"))
    args = p.parse_args()
    out = Path(args.out)
    app, window, tmp = open_window(1500, 920)
    runs = tmp / "runs"
    runs.mkdir(parents=True, exist_ok=True)

    if args.overlay:
        names = []
        for run in args.overlay:
            shutil.copytree(run, runs / Path(run).name)
            names.append(Path(run).name)
        window.library_dock.show()
        wait(app, lambda: window.library.table.rowCount() >= 2)
        for name in names:
            window.library.set_overlaid(str(runs / name), True)
        shown = runs / names[1]  # the current run: its history, bold, over the two overlays
        window.gallery.reset(shown, f"Samples · {shown.name}")
        window.opener.load_history(shown, 10**9)
        wait(app, lambda: window.loss_plots.count > 0 and len(window.loss_plots.overlays) >= 2, 120)
        app.processEvents()
        window.grab().save(str(out / "overlay.png"))
        print(f"wrote {out / 'overlay.png'}")
        window.library_dock.hide()

    if args.explorer:
        window.explorer_dock.show()
        window.files.open_generator(str(Path(args.explorer) / "generator.safetensors"))
        panel = window.explorer
        wait(app, lambda: panel.result is not None, 120)
        panel.a.set_seed(3)
        panel.b.set_seed(11)
        panel.steps.setValue(8)
        wait(app, lambda: panel.result is not None and panel.result.request_id == panel.last_request_id, 120)
        app.processEvents()
        window.grab().save(str(out / "explorer.png"))
        print(f"wrote {out / 'explorer.png'}")
        window.explorer_dock.hide()

    if args.folder:
        from core.presets import preset

        window.config_panel.set_config(preset("folder"))
        window.config_panel.set_value("data.folder", str(Path(args.folder).resolve()))
        wait(app, lambda: "Your pictures" in window.gallery.title.text(), 120)
        app.processEvents()
        window.grab().save(str(out / "own_pictures_preview.png"))
        print(f"wrote {out / 'own_pictures_preview.png'}")
    if args.sweep:
        window.sweep_dock.show()
        panel = window.sweep_panel
        shown = []
        panel.trials_shown.connect(lambda: shown.append(True))
        panel.open_sweep(str(Path(args.sweep).resolve()))
        wait(app, lambda: len(shown) >= 1 and panel.table.rowCount() > 0, 120)
        window.resizeDocks([window.sweep_dock], [620], Qt.Horizontal)  # room for the table and the plots
        panel.table.selectRow(0)
        app.processEvents()
        panel.grab().save(str(out / "sweep.png"))  # the whole panel, also what its dock scrolls to
        print(f"wrote {out / 'sweep.png'}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
