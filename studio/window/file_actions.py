"""Saving, opening and exporting generators and checkpoints (the File menu's work), for the window.

While a run trains, saves go through the trainer (never a model touched mid-step); otherwise the
run folder's files are copied, or a generator is loaded and sampled, on background jobs. Nothing
is replaced without asking: a saved generator in the chosen folder asks first, an export gets a
free name.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from core.config import Config
from core.runs.folder import RunFolder
from studio.dialogs.export_dialog import ExportDialog, ExportRequest
from studio.dialogs.folder_dialog import choose_folder
from studio.model.shown_run import RunState
from studio.window.parts import StudioParts


class FileActions(QObject):
    generator_loaded = Signal(str)  # path
    exported = Signal(list)  # paths written
    copied = Signal(str)  # a save made by copying a finished run's files

    grid_ready = Signal(object, str, tuple)  # a loaded generator's grid, its title, its row labels
    note = Signal(str)  # a short state for the status bar ("Exporting…")

    def __init__(self, parts: StudioParts, parent: QObject | None = None):
        super().__init__(parent)
        self.p = parts
        self.loaded_generator: str | None = None
        self._pending_export: ExportRequest | None = None

    def follow_run(self, model) -> None:
        """A different run shown: a generator loaded before is no longer what the actions export."""
        model.cleared.connect(lambda: setattr(self, "loaded_generator", None))

    def on_saved(self, step: int, kind: str, path: str) -> bool:
        """The trainer saved; True when it was the snapshot an export waited for (then exported)."""
        if kind == "generator" and self._pending_export is not None:
            request, self._pending_export = self._pending_export, None
            self._run_export(str(Path(path).parent), request)
            return True
        return False


    def save_generator(self, folder: str | None = None) -> None:
        # From the run shown's folder (a fork's own, not its parent's): a new folder's name may be typed there.
        shown = self.p.model.run_dir
        folder = folder or choose_folder(self.p.dialog_parent, "Save the generator into",
                                         str(shown) if shown else self.p.folders.get("save"))
        if not folder:
            return
        self.p.folders.remember("save", folder)
        existing = Path(folder) / "generator.safetensors"
        if existing.exists() and Path(folder) != self.p.model.run_dir and not self._confirm_replace(existing):
            return
        if self.p.model.state in (RunState.RUNNING, RunState.PAUSED):
            self.p.session.save_generator(folder)  # written by the trainer at the next step boundary
            return
        source = self.generator_source()
        if source is None:
            self.p.say("There is no generator to save yet: start a run first.", "warning")
            return
        self.p.jobs.submit(lambda: _copy_generator(source, Path(folder)), self._on_copied, self._on_job_failed)

    def _confirm_replace(self, path: Path) -> bool:
        answer = QMessageBox.question(self.p.dialog_parent, "Replace the saved generator?",
                                      f"{path.parent} already holds a saved generator. Replace it with this one?",
                                      QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        return answer == QMessageBox.Yes

    def save_checkpoint(self, path: str | None = None) -> None:
        if not path:
            start = str(Path(self.p.folders.get("save") or self.p.runs_root()) / "checkpoint.pt")
            path, _ = QFileDialog.getSaveFileName(self.p.dialog_parent, "Save checkpoint", start, "Checkpoints (*.pt)")
        if not path:
            return
        self.p.folders.remember("save", Path(path).parent)
        if self.p.model.state in (RunState.RUNNING, RunState.PAUSED):
            self.p.session.save_checkpoint(path)
            return
        source = RunFolder(self.p.model.run_dir).last_checkpoint if self.p.model.run_dir else None
        if source is None or not source.is_file():
            self.p.say("There is no checkpoint to save yet: start a run first.", "warning")
            return
        self.p.jobs.submit(lambda: _copy_file(source, Path(path)), self._on_copied, self._on_job_failed)

    def _on_copied(self, path: object) -> None:
        self.p.say(f"Saved: {path}", "success")
        self.copied.emit(str(path))

    def _on_job_failed(self, message: str) -> None:
        self.p.say(message, "error")


    def open_generator(self, path: str | None = None) -> None:
        if not path:
            path, _ = QFileDialog.getOpenFileName(self.p.dialog_parent, "Open a saved generator", self.p.folders.get("generator"),
                                                  "Generators (*.safetensors generator.json)")
        if not path:
            return
        self.p.folders.remember("generator", Path(path).parent)
        self.p.jobs.submit(lambda: _sample_grid(path, seed=0), self._on_generator_grid, self._on_job_failed)

    def resample(self) -> None:
        if self.loaded_generator:
            seed = int(time.time() * 1000) % 2**31
            self.p.jobs.submit(lambda: _sample_grid(self.loaded_generator, seed), self._on_generator_grid,
                             self._on_job_failed)

    def _on_generator_grid(self, result: object) -> None:
        path, grid, labels, step, seed = result
        self.generator_loaded.emit(path)  # first: the window shows it on its own, then its grid
        self.loaded_generator = path
        self.grid_ready.emit(grid, f"Generator · {Path(path).parent.name} · step {step:,} · seed {seed}",
                             labels)
        self.p.say(f"Loaded generator {path} (trained {step:,} steps). Export samples with "
                                      "Ctrl+E, or draw new ones with Ctrl+R.", "info")

    def generator_source(self) -> Path | None:
        if self.loaded_generator:
            return Path(self.loaded_generator)
        if self.p.model.run_dir and RunFolder(self.p.model.run_dir).generator.is_file():
            return RunFolder(self.p.model.run_dir).generator
        return None


    def export_samples(self, request: ExportRequest | None = None) -> None:
        """Ask (unless a request is given), then write samples on a background thread."""
        training = self.p.model.state in (RunState.RUNNING, RunState.PAUSED)
        source = self.generator_source()
        if not training and source is None:
            self.p.say("Nothing to export yet: train a run or open a generator.", "warning")
            return
        which: str | int = "final"
        if not training and not self.loaded_generator:  # the run shown: its best, its final or a kept step's
            from studio.dialogs.which_generator import ask_which

            answer = ask_which(self.p.model.run_dir, "Export samples", self.p.dialog_parent)
            if answer is None:
                return
            which = answer
        if request is None:
            config = self.p.session.config if training else None
            if config is None and source is not None:
                config = _generator_config(source)
            conditional = bool(config and config.model.conditional)
            label = "the generator being trained (saved at the next step)" if training else str(source)
            dialog = ExportDialog(self.p.dialog_parent, label, conditional, config.model.num_classes if config else 10,
                                  self.p.folders.get("export") or str(self.p.runs_root() / "exports"))
            if dialog.exec() != ExportDialog.Accepted:
                return
            request = dialog.request()
        self.p.folders.remember("export", request.folder)
        if training:
            # Snapshot G through the trainer (never run G on this thread while it trains), then export.
            self._pending_export = request
            self.p.session.save_generator(str(self.p.model.run_dir))
        else:
            run = self.p.model.run_dir if which != "final" else None
            self._run_export(str(run or source), request, which)

    def _run_export(self, source: str, request: ExportRequest, which: str | int = "final") -> None:
        self.note.emit("Exporting…")
        self.p.jobs.submit(lambda: _export(source, request, which), self._on_exported, self._on_job_failed)

    def _on_exported(self, paths: object) -> None:
        paths = list(paths)
        where = paths[0] if len(paths) == 1 else f"{len(paths)} files in {Path(paths[0]).parent}"
        self.p.say(f"Exported samples: {where}", "success")
        self.note.emit("Exported")  # the banner says where; no dialog to click away as well
        self.exported.emit([str(p) for p in paths])


# --- work done on background threads (plain functions, plain results) ---


def _generator_config(path: Path) -> Config | None:
    try:
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        return Config.from_dict(meta["config"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _sample_grid(path: str, seed: int):
    from core.sharing.export import generate, grid_image, load_generator

    G, config, meta = load_generator(path)
    m = config.model
    n = m.num_classes * 8 if m.conditional else 64
    images = generate(G, config, n, seed)
    if m.conditional:  # generate() cycles classes; reorder so each row is one class
        import torch
        order = torch.cat([torch.arange(c, n, m.num_classes) for c in range(m.num_classes)])
        images = images[order]
    columns = 8
    grid = grid_image(images, columns).permute(1, 2, 0).numpy().copy()
    labels = tuple(range(m.num_classes)) if m.conditional else ()
    weights = Path(path)
    weights = weights / "generator.safetensors" if weights.is_dir() else weights.with_suffix(".safetensors")
    return str(weights), grid, labels, int(meta.get("step", 0)), seed


def _export(source: str, request: ExportRequest, which: str | int = "final") -> list:
    from core.sharing.export import export_samples
    from core.sharing.which import load_which

    G, config, _ = load_which(source, which)  # `source`: the run folder when another than the final is asked for
    out = request.written  # the file the dialog named (an earlier export of that name is kept: -2, -3, ...)
    return [str(p) for p in export_samples(G, config, out, request.n, request.seed, request.label, request.kind)]


def _copy_generator(source: Path, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in (".safetensors", ".json"):
        src = source.with_suffix(suffix)
        if src.resolve() != (folder / src.name).resolve():
            shutil.copy2(src, folder / src.name)
    return str(folder / "generator.safetensors")


def _copy_file(source: Path, target: Path) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.resolve() != target.resolve():
        shutil.copy2(source, target)
    return str(target)
