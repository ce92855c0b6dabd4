"""Sharing a run from the app: its grids as a timelapse (GIF or MP4, the step written on each frame)
and its generator as ONNX. The work (core/sharing/timelapse.py, core/sharing/onnx_export.py) runs on background
jobs; an existing file is never replaced: the new one gets a free name beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QWidget

from core.runs.folder import RunFolder
from studio.bridge.jobs import JobRunner

TIMELAPSE_TIP = "The run's sample grids as an animated GIF or an MP4 video, the step on each frame"


def _no_grids(run: Path | None) -> str:
    """Why there is no timelapse to make, in the words the menu's status tip and the message bar use."""
    if run is None:
        return "Export timelapse needs a run: open one, or train one, first"
    return (f"Export timelapse: {run.name} has no sample grids yet (samples/step_*.png); a grid comes every "
            "run.sample_every steps, and one when a run stops")


def write_timelapse(run_dir: str, out: str, fps: float = 8) -> str:
    from core.sharing.export import free_path
    from core.sharing.timelapse import make_timelapse

    return str(make_timelapse(run_dir, free_path(out), fps))


def write_onnx(source: str, out: str, which: str | int = "final") -> str:
    from core.sharing.export import free_path
    from core.sharing.onnx_export import check_onnx, export_onnx, mismatch
    from core.sharing.which import load_which

    loaded = load_which(source, which)  # `source`: the run folder when another than the final is asked for
    path = export_onnx(loaded, free_path(out))
    worst = check_onnx(path, loaded[0], loaded[1])
    if problem := mismatch(path, worst):  # the CLI's rule and words (core/sharing/onnx_export.py)
        raise ValueError(problem)
    return str(path)


class ShareActions(QObject):
    """File ▸ Export timelapse… and Export generator as ONNX…, for the run (or generator) shown."""

    written = Signal(str)  # the file written
    failed = Signal(str)

    def __init__(self, window: QWidget, run_dir: Callable[[], Path | None], generator: Callable[[], Path | None],
                 folder: Callable[[], str], jobs: JobRunner):
        super().__init__(window)
        self.window, self.run_dir, self.generator, self.folder, self.jobs = window, run_dir, generator, folder, jobs
        self.timelapse = QAction("Export timelapse…", window, objectName="exportTimelapse")
        self.timelapse.setToolTip(TIMELAPSE_TIP)
        self.timelapse.triggered.connect(lambda: self.export_timelapse())
        self.onnx = QAction("Export generator as ONNX…", window, objectName="exportOnnx")
        self.onnx.setToolTip("The generator as an ONNX model (noise, and label, in; images out) for onnxruntime "
                             "and other runtimes; checked against torch before it is kept")
        self.onnx.triggered.connect(lambda: self.export_onnx())

    def refresh(self, training: bool) -> None:
        run = self.run_dir()
        # A run in training writes its grids as it goes: the export takes those there so far.
        why_not = "" if run is not None and (training or RunFolder(run).sample_steps()) else _no_grids(run)
        self.timelapse.setEnabled(not why_not)
        self.timelapse.setStatusTip(why_not or TIMELAPSE_TIP)
        self.onnx.setEnabled(not training and self.generator() is not None)

    def export_timelapse(self, out: str | None = None, fps: float = 8) -> None:
        run = self.run_dir()
        if run is None:
            return
        if not RunFolder(run).sample_steps():  # said before a file name is asked for, not after
            self.failed.emit(_no_grids(run))
            return
        if not out:
            start = str(Path(self.folder() or run) / f"{run.name}.gif")
            out, _ = QFileDialog.getSaveFileName(self.window, "Export timelapse", start,
                                                 "Animated GIF (*.gif);;MP4 video (*.mp4)")
        if out:
            self.jobs.submit(lambda: write_timelapse(str(run), out, fps), self._done, self.failed.emit)

    def export_onnx(self, out: str | None = None) -> None:
        source = self.generator()
        if source is None:
            return
        if not out:
            start = str(Path(self.folder() or source.parent) / f"{source.parent.name}.onnx")
            out, _ = QFileDialog.getSaveFileName(self.window, "Export generator as ONNX", start, "ONNX (*.onnx)")
        if not out:
            return
        which: str | int = "final"
        run = self.run_dir()
        if run is not None and source.parent.resolve() == Path(run).resolve():  # the run shown's: which of them?
            from studio.dialogs.which_generator import ask_which

            answer = ask_which(run, "Export generator as ONNX", self.window)
            if answer is None:
                return
            which = answer
        origin = str(run) if which != "final" else str(source)
        self.jobs.submit(lambda: write_onnx(origin, out, which), self._done, self.failed.emit)

    def _done(self, path: object) -> None:
        self.written.emit(str(path))
