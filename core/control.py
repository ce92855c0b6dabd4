"""Thread-safe remote control for a running trainer, read only at step boundaries."""

from __future__ import annotations

import threading
from collections import deque

# LIVE_SETTINGS: the settings that may change while training, marked live in the config's schema.
from core.config import LIVE_SETTINGS, Config


class SaveDone(threading.Event):
    """Set by the trainer once a requested save is written (`error` says why not, if it failed)."""

    error: str | None = None
    step: int = 0  # the step saved


class Control:
    """Steers a trainer from any thread.

    A paused loop blocks on a condition variable (no polling) until it is resumed,
    stopped, or asked to save; stop() wakes it so it exits. Saves requested here run
    on the trainer's thread between steps, so the models are never touched mid-step.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._stop = False
        self._running = True
        self._single = False
        self._changes: dict = {}
        self._requests: deque[tuple[str, str, SaveDone | None]] = deque()

    # --- called from any thread ---

    def pause(self) -> None:
        with self._cond:
            self._single = False
            self._running = False

    def resume(self) -> None:
        with self._cond:
            self._single = False
            self._running = True
            self._cond.notify_all()

    def step_once(self) -> None:
        """Run one step, then pause again."""
        with self._cond:
            self._single = True
            self._running = True
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def stop_run(self) -> None:
        """The run stops itself (run.stop_on_plateau): this run only. A sweep's trial ends alone
        (core/sweeps/trial_control.py), the sweep goes on."""
        self.stop()

    def change(self, config: Config, **dotted) -> None:
        """Queue live changes like change(cfg, **{'optim.lr_g': 1e-4}). Checked now,
        against `config`, so a bad value is refused in the caller's thread."""
        unknown = set(dotted) - set(LIVE_SETTINGS)
        if unknown:
            raise ValueError(f"{sorted(unknown)[0]}: cannot change while training; live settings: "
                             f"{', '.join(LIVE_SETTINGS)}")
        config.with_values(**dotted)  # raises ConfigError naming the field
        with self._cond:
            self._changes.update(dotted)
            self._cond.notify_all()  # a paused trainer takes them at once

    def save_generator(self, folder: str) -> None:
        """Write generator.safetensors + generator.json into `folder` at the next step boundary."""
        self._request("generator", folder)

    def save_checkpoint(self, path: str) -> None:
        """Write a full checkpoint to `path` at the next step boundary."""
        self._request("checkpoint", path)

    def save_run(self) -> SaveDone:
        """Write the run folder's own checkpoint and generator at the next step boundary; the
        returned event is set once they are written (the control channel acks a save only then)."""
        done = SaveDone()
        self._request("run", "", done)
        return done

    def request_snapshot(self) -> None:
        """Send a copy of the sampling generator's weights (a GeneratorSnapshot event) at the next
        step boundary: the explorer draws from it on its own thread, never from the model in training."""
        self._request("snapshot", "")

    def _request(self, kind: str, path: str, done: SaveDone | None = None) -> None:
        with self._cond:
            self._requests.append((kind, str(path), done))
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        return not self._running

    @property
    def stopping(self) -> bool:
        return self._stop

    # --- called by the trainer ---

    def wait(self, timeout: float | None = None) -> None:
        """Block while paused, until resumed, stopped, asked to save or given changes (or `timeout` seconds
        pass)."""
        with self._cond:
            self._cond.wait_for(lambda: self._running or self._stop or self._requests or self._changes, timeout)

    def after_step(self) -> bool:
        """Pause after a single step; True if that happened."""
        with self._cond:
            if self._single and not self._stop:
                self._single = False
                self._running = False
                return True
            return False

    def take_changes(self) -> dict:
        with self._cond:
            changes, self._changes = self._changes, {}
            return changes

    # --- for DDP: a leader's state handed to the followers (core/training/distributed.py) ---

    def take_plan(self) -> dict:
        """What the trainer should do from here, consuming a step-once and the queued changes."""
        with self._cond:
            plan = {"running": self._running, "single": self._single, "stop": self._stop, "changes": self._changes}
            self._changes = {}
            if self._single:  # handed over: the followers run it and pause, and so does this record of it
                self._single, self._running = False, False
            return plan

    def apply_plan(self, plan: dict) -> None:
        with self._cond:
            self._running, self._single = plan["running"], plan["single"]
            self._stop = self._stop or plan["stop"]
            self._changes.update(plan["changes"])
            self._cond.notify_all()

    def take_requests(self) -> list[tuple[str, str, SaveDone | None]]:
        with self._cond:
            requests = list(self._requests)
            self._requests.clear()
            return requests
