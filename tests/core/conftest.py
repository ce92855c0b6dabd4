"""Shared helpers for the engine tests: tiny configs, an event recorder, a threaded trainer."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from core import events as ev
from core.control import Control
from core.presets import PRESETS
from core.training import trainer

TIMEOUT = 60  # a guard only: every wait below ends long before this when the code works

# Where the tests marked `device` train: the CPU here and in CI; bench/gpu_suite.py runs
# `pytest -m device` with GAN_STUDIO_TEST_DEVICE=cuda on a GPU machine.
DEVICE = os.environ.get("GAN_STUDIO_TEST_DEVICE", "cpu")

TINY = {"model.g_hidden": [32], "model.d_hidden": [32], "run.batch_size": 16, "run.steps": 6, "run.threads": 1,
        "run.device": DEVICE, "run.log_every": 1, "run.sample_every": 1000, "run.grid_size": 4,
        "run.checkpoint_every": 0}


def tiny(name: str = "default", **dotted):
    """A preset shrunk to run in milliseconds; dotted overrides on top."""
    values = dict(TINY)
    values.update(dotted)
    return PRESETS[name].with_values(**values)


class Recorder:
    """on_event sink that keeps every event and lets a test wait for one kind."""

    def __init__(self):
        self.events: list = []
        self._lock = threading.RLock()  # predicates may look at the recorder too
        self._cond = threading.Condition(self._lock)

    def __call__(self, event) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def of(self, kind) -> list:
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]

    def wait_for(self, predicate, timeout=TIMEOUT):
        """Block until an event satisfies predicate; return it."""
        seen = 0
        with self._cond:
            def found():
                nonlocal seen
                for e in self.events[seen:]:
                    if predicate(e):
                        return e
                seen = len(self.events)
                return None
            hit = self._cond.wait_for(found, timeout)
        assert hit is not None, (f"timed out waiting; {len(self.events)} events, the last: "
                                 f"{[type(e).__name__ for e in self.events[-20:]]}")
        return hit

    def metrics_losses(self) -> list[tuple]:
        return [(m.step, m.g_loss, m.d_loss, m.d_real, m.d_fake) for m in self.of(ev.Metrics)]

    def errors(self) -> list[str]:
        return [e.message for e in self.of(ev.ErrorEvent)]


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def exact_on_device():
    """Kernels that repeat bit for bit: on a GPU, torch's deterministic mode (bench/gpu_suite.py sets the
    cuBLAS workspace it needs); the CPU's already do at a fixed thread count. bench/gpu_checks.py measures
    how far a GPU run strays without it."""
    if torch.device(DEVICE).type == "cpu":
        yield
        return
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(False)


def write_png(path, size=(20, 24), mode="L", seed=0):
    rng = np.random.default_rng(seed)
    channels = 1 if mode == "L" else 3
    arr = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    Image.fromarray(arr.squeeze(-1) if channels == 1 else arr).save(path)
    return path


@pytest.fixture
def rgb_folder(tmp_path):
    """Twenty 32x32 RGB PNGs, enough for a dcgan-cifar10 stand-in."""
    folder = tmp_path / "rgb"
    folder.mkdir()
    for i in range(20):
        write_png(folder / f"img_{i:02d}.png", size=(32, 32), mode="RGB", seed=i)
    return folder


@pytest.fixture
def sessions(monkeypatch):
    """Every Session the trainer builds, so a test can look at its optimizers while it is paused."""
    made = []

    class Spy(trainer.Session):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            made.append(self)

    monkeypatch.setattr(trainer, "Session", Spy)
    return made


class Run:
    """train() on a background thread; `pause_at` pauses it from inside the loop, deterministically."""

    def __init__(self, config, run_dir=None, pause_at: int | None = None, checkpoint=None):
        self.control = Control()
        self.events = Recorder()
        self.pause_at = pause_at

        def on_event(e):
            self.events(e)
            if isinstance(e, ev.Metrics) and e.step == self.pause_at:
                self.control.pause()

        self.thread = threading.Thread(target=trainer.train, args=(config, self.control, on_event, run_dir,
                                                                    checkpoint), daemon=True)
        self.thread.start()

    def paused_at(self, step: int) -> int:
        """Wait for the 'paused' state at `step`; return its index in the event list."""
        e = self.events.wait_for(lambda e: isinstance(e, ev.StateChanged) and e.state == "paused"
                                 and e.step == step)
        return self.events.events.index(e)

    def finish(self) -> ev.Finished:
        self.control.stop()
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), "the trainer did not exit after stop()"
        (finished,) = self.events.of(ev.Finished)
        return finished

    def after(self, index: int, kind) -> list:
        return [e for e in self.events.events[index + 1:] if isinstance(e, kind)]
