"""Thread-safe remote control for a running trainer, read only at step boundaries."""

from __future__ import annotations

import queue
import threading

from core.config import Config

# Settings that may change while training, and where they live in the config.
LIVE_SETTINGS = ("optim.lr_g", "optim.lr_d", "optim.betas_g", "optim.betas_d", "loss.d_steps",
                 "loss.label_smoothing")


class Control:
    """Pause blocks the loop on an Event (no polling); stop sets `stop` first and
    then opens the gate, so a paused loop wakes up and exits."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._gate = threading.Event()
        self._gate.set()
        self._lock = threading.Lock()
        self._single = False
        self._changes: queue.SimpleQueue[dict] = queue.SimpleQueue()

    # --- called from any thread ---

    def pause(self) -> None:
        with self._lock:
            self._single = False
            self._gate.clear()

    def resume(self) -> None:
        with self._lock:
            self._single = False
            self._gate.set()

    def step_once(self) -> None:
        """Run one step, then pause again."""
        with self._lock:
            self._single = True
            self._gate.set()

    def stop(self) -> None:
        self._stop.set()
        self._gate.set()

    def change(self, config: Config, **dotted) -> None:
        """Queue live changes like change(cfg, **{'optim.lr_g': 1e-4}). Checked now,
        against `config`, so a bad value is refused in the caller's thread."""
        unknown = set(dotted) - set(LIVE_SETTINGS)
        if unknown:
            raise ValueError(f"{sorted(unknown)[0]}: cannot change while training; live settings: "
                             f"{', '.join(LIVE_SETTINGS)}")
        config.with_values(**dotted)  # raises ConfigError naming the field
        self._changes.put(dict(dotted))

    @property
    def paused(self) -> bool:
        return not self._gate.is_set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # --- called by the trainer ---

    def wait_if_paused(self) -> None:
        self._gate.wait()

    def after_step(self) -> bool:
        """Close the gate after a single step; True if that happened."""
        with self._lock:
            if self._single and not self._stop.is_set():
                self._single = False
                self._gate.clear()
                return True
            return False

    def take_changes(self) -> dict:
        merged: dict = {}
        while True:
            try:
                merged.update(self._changes.get_nowait())
            except queue.Empty:
                return merged
