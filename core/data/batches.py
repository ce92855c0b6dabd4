"""Shuffled batches of real images: indices into one uint8 array, scaled on the training device.

Every epoch's order is a pure function of (seed, epoch), so the order never depends on
what else drew random numbers, a resumed run draws the same batches, a background
prefetcher can run ahead across epoch boundaries, and every DDP rank knows the global
order and takes its own slice of each global batch.

- `Batches`: the whole dataset resident on the device (a tensor); a batch is an index.
- `StreamingBatches`: the dataset stays in a memory-mapped file (a folder too large for
  the device); a background thread gathers the next batches from it while the step runs.
  Both give identical batches for the same seed.
"""

from __future__ import annotations

import queue
import threading

import numpy as np
import torch

from core import memory
from core.data.datasets import DataError, ImageSet

PREFETCH = 4  # batches gathered ahead of the step
RESIDENT_SHARE = 0.5  # a dataset goes on the device when it takes at most this share of its free memory


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled order of `n` images in `epoch` (int64, CPU)."""
    mixed = (int(seed) * 0x9E3779B97F4A7C15 + int(epoch) * 0xBF58476D1CE4E5B9 + 1) % (2**63 - 1)
    return torch.randperm(n, generator=torch.Generator().manual_seed(mixed))


class Batches:
    """Global batches of `batch_size * world` images in each epoch's order; rank `rank` gets its
    `batch_size` slice of each (world = 1: the whole batch). An epoch's remainder is left out."""

    images: torch.Tensor | np.ndarray  # on the device; StreamingBatches: the memory-mapped array

    def __init__(self, dataset: ImageSet, batch_size: int, device: torch.device, output: str, seed: int,
                 rank: int = 0, world: int = 1, memory_format: torch.memory_format = torch.contiguous_format,
                 multiple_of: int = 1):
        if len(dataset) < 1:
            raise DataError(f"{dataset.name}: the dataset is empty")
        self.size = len(dataset)
        self.world, self.rank, self.seed = world, rank, seed
        self.batch_size = min(batch_size, self.size // world) // multiple_of * multiple_of  # whole D packs
        if self.batch_size < 1:
            raise DataError(f"{dataset.name}: {self.size} image(s) cannot make a batch of {multiple_of} on each of "
                            f"{world} process(es)")
        self.device = device
        self.memory_format = memory_format
        self.scale = (1 / 255, 0.0) if output == "sigmoid" else (2 / 255, -1.0)  # match G's output range
        self.epoch = 0
        self.pos = 0
        self._order_epoch = -1
        self._order: torch.Tensor | None = None  # epoch_order(...) of epoch _order_epoch
        self._store(dataset)

    def _store(self, dataset: ImageSet) -> None:
        images = dataset.images
        if isinstance(images, np.ndarray):  # a memory-mapped folder cache: read it all in, once
            images = torch.from_numpy(np.array(images))
        self.images = images.to(self.device)
        self.labels = dataset.labels.to(self.device) if dataset.labels is not None else None

    # --- the order ---

    @property
    def global_batch(self) -> int:
        return self.batch_size * self.world

    def _advance(self, epoch: int, pos: int) -> tuple[int, int, int]:
        """(epoch, start of this rank's slice, position after the global batch) for the batch at (epoch, pos)."""
        if pos + self.global_batch > self.size:
            epoch, pos = epoch + 1, 0
        return epoch, pos + self.rank * self.batch_size, pos + self.global_batch

    def _indices(self, epoch: int, start: int) -> torch.Tensor:
        if self._order is None or self._order_epoch != epoch:
            self._order_epoch, self._order = epoch, epoch_order(self.size, self.seed, epoch)
        return self._order[start:start + self.batch_size]

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        self.epoch, start, self.pos = self._advance(self.epoch, self.pos)
        idx = self._indices(self.epoch, start).to(self.device)
        assert isinstance(self.images, torch.Tensor)  # resident: _store moved it to the device
        return self._scaled(self.images[idx]), (self.labels[idx] if self.labels is not None else None)

    def _scaled(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.float32, memory_format=self.memory_format).mul_(self.scale[0]).add_(self.scale[1])

    @property
    def progress(self) -> float:
        """Epochs done, as a fraction."""
        return self.epoch + self.pos / self.size

    # --- state ---

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos, "size": self.size}

    def load_state_dict(self, state: dict) -> None:
        size = int(state["size"]) if "size" in state else state["perm"].numel()  # "perm": older checkpoints
        if size != self.size:
            raise DataError(f"the checkpoint was trained on {size:,} images, but the dataset now has {self.size:,}")
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])

    def close(self) -> None:
        pass


class StreamingBatches(Batches):
    """The same batches, gathered from a memory-mapped (N, C, H, W) uint8 array by a background
    thread that stays PREFETCH batches ahead; the step only waits when the disk cannot keep up."""

    def _store(self, dataset: ImageSet) -> None:
        self.images = dataset.images  # np.memmap: stays on disk, pages come in as batches are read
        self.labels = dataset.labels
        self._ready: queue.Queue | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _start(self) -> None:
        self.close()
        self._stop = threading.Event()
        self._ready = queue.Queue(maxsize=PREFETCH)
        self._thread = threading.Thread(target=self._produce, args=(self.epoch, self.pos, self._stop, self._ready),
                                        name="gan-studio-prefetch", daemon=True)
        self._thread.start()

    def _produce(self, epoch: int, pos: int, stop: threading.Event, ready: queue.Queue) -> None:
        pin = self.device.type == "cuda"
        try:
            while not stop.is_set():
                epoch, start, pos = self._advance(epoch, pos)
                idx = self._indices(epoch, start).numpy()
                order = np.argsort(idx)
                rows = np.empty((len(idx), *self.images.shape[1:]), np.uint8)
                rows[order] = self.images[idx[order]]  # read in file order (sequential on disk), put back
                x = torch.from_numpy(rows)
                y = self.labels[torch.from_numpy(idx)] if self.labels is not None else None
                _put(ready, (x.pin_memory() if pin else x, y), stop)
        except Exception as e:  # a read error reaches the trainer's thread, never a dead silent producer
            _put(ready, e, stop)

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self._thread is None:
            self._start()
        assert self._ready is not None  # _start made it with the thread
        item = self._ready.get()
        if isinstance(item, Exception):
            raise DataError(f"could not read images from {getattr(self.images, 'filename', 'the cache')}: {item}")
        self.epoch, _, self.pos = self._advance(self.epoch, self.pos)
        x, y = item
        x = x.to(self.device, non_blocking=True)
        return self._scaled(x), (y.to(self.device) if y is not None else None)

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.close()  # the producer restarts from the loaded position at the next batch

    def close(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None


def _put(ready: queue.Queue, item, stop: threading.Event) -> None:
    """Queue `item`, waking now and then to notice a stop while the step does not take batches."""
    while not stop.is_set():
        try:
            ready.put(item, timeout=0.5)
            return
        except queue.Full:
            continue


def make_batches(dataset: ImageSet, batch_size: int, device: torch.device, output: str, seed: int,
                 stream: str = "auto", rank: int = 0, world: int = 1,
                 memory_format: torch.memory_format = torch.contiguous_format, multiple_of: int = 1) -> Batches:
    """Resident batches, or streamed ones for a memory-mapped dataset when `stream` is 'on', or
    'auto' and the dataset would take more than RESIDENT_SHARE of the device's free memory."""
    mapped = isinstance(dataset.images, np.memmap)
    kind = Batches
    if mapped and (stream == "on" or (stream == "auto" and not fits(dataset.images.nbytes, device))):
        kind = StreamingBatches
    return kind(dataset, batch_size, device, output, seed, rank, world, memory_format, multiple_of)


def fits(nbytes: int, device: torch.device) -> bool:
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return nbytes <= RESIDENT_SHARE * free
    return nbytes <= RESIDENT_SHARE * available_memory()


def available_memory() -> int:
    """Bytes of RAM available to new allocations (core/memory.py); unknown: assume it fits, as before
    streaming existed."""
    free = memory.available_memory()
    return 2**62 if free is None else free
