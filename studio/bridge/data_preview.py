"""See your data before training: a chosen image folder is decoded (once, into its cache) on a
background thread, and the window shows how many pictures were found and skipped, with a grid
of real pictures at the training size, so crop and colour can be checked.

The newest request wins: choosing another folder or size while one is being decoded cancels it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from studio.bridge import qthreads

GRID = 64  # pictures in the preview grid


@dataclass(frozen=True)
class FolderPreview:
    folder: str
    size: int
    channels: int
    count: int
    skipped: int
    skipped_files: tuple[str, ...]
    grid: np.ndarray  # uint8 H x W x 3
    built: bool  # decoded now (False: the cache was there already)
    kinds: tuple[tuple[str, int], ...] = ()  # the top-level sub-folders and their pictures ("" = the folder itself)


def preview_folder(folder: str, size: int, channels: int, progress=None, should_stop=None) -> FolderPreview:
    """Decode (or open) the folder's cache and draw a grid of its pictures; core's errors pass through."""
    import torch

    from core.data.image_cache import open_or_build, preview
    from core.sharing.export import grid_image

    cache = open_or_build(Path(folder).expanduser(), size, channels, progress=progress, should_stop=should_stop)
    images = torch.from_numpy(preview(cache, GRID))
    grid = grid_image(images, columns=8).permute(1, 2, 0).numpy().copy()
    found = cache.kinds()
    kinds = tuple(zip(found[1], np.bincount(found[0], minlength=len(found[1])).tolist())) if found else ()
    return FolderPreview(folder, size, channels, cache.count, cache.skipped, cache.skipped_files, grid, cache.built,
                         kinds)


class _Worker(QObject):
    progress = Signal(int, int)
    done = Signal(object)  # FolderPreview
    failed = Signal(str)

    def __init__(self, folder: str, size: int, channels: int, cancel: threading.Event):
        super().__init__()
        self.args, self.cancel = (folder, size, channels), cancel

    @Slot()
    def run(self) -> None:
        try:
            result = preview_folder(*self.args, progress=self.progress.emit, should_stop=self.cancel.is_set)
        except ValueError as e:  # DataError (and BuildCancelled): readable messages
            if not self.cancel.is_set():
                self.failed.emit(str(e))
        except Exception as e:
            self.failed.emit(f"{type(e).__name__}: {e}")
        else:
            if not self.cancel.is_set():
                self.done.emit(result)
        finally:
            qthreads.end_this_thread()


class DataPreview(QObject):
    """request(folder, size, channels) -> `ready(FolderPreview)` or `failed(message)`, with `progress`."""

    ready = Signal(object)
    failed = Signal(str)
    progress = Signal(int, int)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._threads = qthreads.ThreadGroup(self)  # of _Workers
        self._wanted: tuple | None = None
        self._shown: tuple | None = None
        self._debounce = QTimer(self, singleShot=True, interval=250)  # typing a size: one build, not three
        self._debounce.timeout.connect(self._start)

    def request(self, folder: str, size: int, channels: int) -> None:
        wanted = (folder, size, channels)
        if not folder or wanted == self._shown:
            return
        self._wanted = wanted
        self._debounce.start()

    def _start(self) -> None:
        for older in self._threads.objects():
            older.cancel.set()  # the newest request wins
        worker = _Worker(*self._wanted, threading.Event())
        worker.progress.connect(self.progress)
        worker.done.connect(self._done)
        worker.failed.connect(self.failed)
        self._threads.start(worker, worker.run, "gan-studio-data-preview")

    def _done(self, result: FolderPreview) -> None:
        self._shown = (result.folder, result.size, result.channels)
        self.ready.emit(result)

    def shutdown(self) -> None:
        """Cancel and wait (window closing)."""
        self._debounce.stop()
        for worker in self._threads.objects():
            worker.cancel.set()
        self._threads.wait_all()
