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
from studio.export_dialog import ExportDialog, ExportRequest


class FileActions(QObject):
    generator_loaded = Signal(str)  # path
    exported = Signal(list)  # paths written
    copied = Signal(str)  # a save made by copying a finished run's files

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.loaded_generator: str | None = None
        self._pending_export: ExportRequest | None = None

    def on_saved(self, step: int, kind: str, path: str) -> bool:
        """The trainer saved; True when it was the snapshot an export waited for (then exported)."""
        if kind == "generator" and self._pending_export is not None:
            request, self._pending_export = self._pending_export, None
            self._run_export(str(Path(path).parent), request)
            return True
        return False


    def save_generator(self, folder: str | None = None) -> None:
        folder = folder or QFileDialog.getExistingDirectory(self.w, "Save the generator into", self.w.folders.get("save"))
        if not folder:
            return
        self.w.folders.remember("save", folder)
        existing = Path(folder) / "generator.safetensors"
        if existing.exists() and Path(folder) != self.w.last_run_dir and not self._confirm_replace(existing):
            return
        if self.w.state in ("running", "paused"):
            self.w.session.save_generator(folder)  # written by the trainer at the next step boundary
            return
        source = self.generator_source()
        if source is None:
            self.w.message_bar.show_message("There is no generator to save yet: start a run first.", "warning")
            return
        self.w.jobs.submit(lambda: _copy_generator(source, Path(folder)), self._on_copied, self._on_job_failed)

    def _confirm_replace(self, path: Path) -> bool:
        answer = QMessageBox.question(self.w, "Replace the saved generator?",
                                      f"{path.parent} already holds a saved generator. Replace it with this one?",
                                      QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        return answer == QMessageBox.Yes

    def save_checkpoint(self, path: str | None = None) -> None:
        if not path:
            start = str(Path(self.w.folders.get("save") or self.w.runs_root) / "checkpoint.pt")
            path, _ = QFileDialog.getSaveFileName(self.w, "Save checkpoint", start, "Checkpoints (*.pt)")
        if not path:
            return
        self.w.folders.remember("save", Path(path).parent)
        if self.w.state in ("running", "paused"):
            self.w.session.save_checkpoint(path)
            return
        source = RunFolder(self.w.last_run_dir).last_checkpoint if self.w.last_run_dir else None
        if source is None or not source.is_file():
            self.w.message_bar.show_message("There is no checkpoint to save yet: start a run first.", "warning")
            return
        self.w.jobs.submit(lambda: _copy_file(source, Path(path)), self._on_copied, self._on_job_failed)

    def _on_copied(self, path: object) -> None:
        self.w.message_bar.show_message(f"Saved: {path}", "success")
        self.copied.emit(str(path))

    def _on_job_failed(self, message: str) -> None:
        self.w.message_bar.show_message(message, "error")


    def open_generator(self, path: str | None = None) -> None:
        if not path:
            path, _ = QFileDialog.getOpenFileName(self.w, "Open a saved generator", self.w.folders.get("generator"),
                                                  "Generators (*.safetensors generator.json)")
        if not path:
            return
        self.w.folders.remember("generator", Path(path).parent)
        self.w.jobs.submit(lambda: _sample_grid(path, seed=0), self._on_generator_grid, self._on_job_failed)

    def resample(self) -> None:
        if self.loaded_generator:
            seed = int(time.time() * 1000) % 2**31
            self.w.jobs.submit(lambda: _sample_grid(self.loaded_generator, seed), self._on_generator_grid,
                             self._on_job_failed)

    def _on_generator_grid(self, result: object) -> None:
        path, grid, labels, step, seed = result
        self.loaded_generator = path
        self.w.gallery.show_single(grid, f"Generator · {Path(path).parent.name} · step {step:,} · seed {seed}",
                                 labels)
        self.w.message_bar.show_message(f"Loaded generator {path} (trained {step:,} steps). Export samples with "
                                      "Ctrl+E, or draw new ones with Ctrl+R.", "info")
        self.w.refresh_actions()
        self.generator_loaded.emit(path)

    def generator_source(self) -> Path | None:
        if self.loaded_generator:
            return Path(self.loaded_generator)
        if self.w.last_run_dir and RunFolder(self.w.last_run_dir).generator.is_file():
            return RunFolder(self.w.last_run_dir).generator
        return None


    def export_samples(self, request: ExportRequest | None = None) -> None:
        """Ask (unless a request is given), then write samples on a background thread."""
        training = self.w.state in ("running", "paused")
        source = self.generator_source()
        if not training and source is None:
            self.w.message_bar.show_message("Nothing to export yet: train a run or open a generator.", "warning")
            return
        if request is None:
            config = self.w.session.config if training else None
            if config is None and source is not None:
                config = _generator_config(source)
            conditional = bool(config and config.model.conditional)
            label = "the generator being trained (saved at the next step)" if training else str(source)
            dialog = ExportDialog(self.w, label, conditional, config.model.num_classes if config else 10,
                                  self.w.folders.get("export") or str(self.w.runs_root / "exports"))
            if dialog.exec() != ExportDialog.Accepted:
                return
            request = dialog.request()
        self.w.folders.remember("export", request.folder)
        if training:
            # Snapshot G through the trainer (never run G on this thread while it trains), then export.
            self._pending_export = request
            self.w.session.save_generator(str(self.w.last_run_dir))
        else:
            self._run_export(str(source), request)

    def _run_export(self, source: str, request: ExportRequest) -> None:
        self.w.status.set_state("Exporting…")
        self.w.jobs.submit(lambda: _export(source, request), self._on_exported, self._on_job_failed)

    def _on_exported(self, paths: object) -> None:
        paths = list(paths)
        where = paths[0] if len(paths) == 1 else f"{len(paths)} files in {Path(paths[0]).parent}"
        self.w.message_bar.show_message(f"Exported samples: {where}", "success")
        self.w.status.set_state("Exported")  # the banner says where; no dialog to click away as well
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


def _export(source: str, request: ExportRequest) -> list:
    from core.sharing.export import export_samples, free_path, load_generator

    G, config, _ = load_generator(source)
    out = free_path(request.out)  # an earlier export with the same name is kept: this one gets -2, -3, ...
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
