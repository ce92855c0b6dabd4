"""The one model of the run the window shows: which run, how it came to be shown, its state, its name
and title, its own settings, and its events.

Every panel follows this object; none keeps its own copy of which run is shown or whether it trains.
The session's live events and a run's history read from its folder reach the panels through the
same signals (the EventSignals table, studio/model/event_signals.py): while a run's history is being
read, the live events that arrive meanwhile are held, and come after the history, in order. A
different run shown (`show`) ends an older history read: its events never reach the panels.
"""

from __future__ import annotations

import enum
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from core import events as ev
from core.config import Config
from studio.model.event_signals import SIGNAL_NAMES, EventSignals


class RunState(enum.StrEnum):
    IDLE = "idle"  # nothing trains (a run may be shown, finished, stopped or opened to look at)
    OPENING = "opening"  # a run's history and settings are being read, to look at
    LOADING = "loading"  # a run starts: data, models, checkpoint
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"  # asked to stop; it ends at the next step boundary


TRAINING = frozenset({RunState.LOADING, RunState.RUNNING, RunState.PAUSED, RunState.STOPPING})
STATE_TEXT = {RunState.IDLE: "Ready", RunState.OPENING: "Opening…", RunState.LOADING: "Loading data…",
              RunState.RUNNING: "Training", RunState.PAUSED: "Paused", RunState.STOPPING: "Stopping…"}


# What a run's history holds: live events of these kinds wait for it; the others (state, notices, errors,
# the end) are about now and pass at once.
HELD = frozenset({"metrics", "samples", "quality", "image_quality", "hyperparams_changed"})


class Origin(enum.StrEnum):
    NONE = "none"  # nothing shown yet: the form is the next run's
    VIEWING = "viewing"  # opened to look at: nothing in it is written
    NEW = "new"  # started in this window
    RESUMED = "resumed"
    FORKED = "forked"  # a new run from another's checkpoint, started in this window
    ATTACHED = "attached"  # another process trains it; this window follows and steers it
    TRIAL = "trial"  # a sweep's trial, trained by the sweep in this window
    GENERATOR = "generator"  # a saved generator opened on its own (no run)


class ShownRun(EventSignals):
    """The run shown. `changed` when which run, its origin, name or outcome change; `cleared` when a
    different run is shown (panels drop the last run's curves, grids and readings); `state_changed`
    with a RunState; the event table's signals carry the run's events, history and live alike."""

    changed = Signal()
    cleared = Signal()
    run_state_changed = Signal(str)  # a RunState (the table's `state_changed` carries the trainer's events)
    history_samples = Signal(str, object)  # a run folder and the steps of its saved grids (its history's)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.run_dir: Path | None = None
        self.origin = Origin.NONE
        self.name = ""  # run.json's name, or the folder's
        self.fresh = False  # made by this window: Discard on close may delete what it wrote
        self.config: Config | None = None  # the run's own settings as shown (a viewed run's, or the trainer's)
        self.state = RunState.IDLE
        self.outcome = ""  # "", "finished" or "stopped": how the last training of the run shown ended
        self.step = 0  # the newest step known (events and history)
        self._held: list[tuple[str, tuple]] | None = None  # live events waiting for the history
        self._token = 0

    # --- which run ---

    def show(self, run_dir: str | Path | None, origin: Origin, name: str = "", fresh: bool = False,
             config: Config | None = None) -> int:
        """A different run is shown from now (or none): the panels clear, an older history read is moot.
        Returns the token a history read must present to be shown."""
        self._token += 1
        self._held = None
        self.run_dir = Path(run_dir) if run_dir else None
        self.origin = origin
        self.name = name or (self.run_dir.name if self.run_dir else "")
        self.fresh = fresh
        self.config = config
        self.outcome = ""
        self.step = 0
        self.cleared.emit()
        self.changed.emit()
        return self._token

    def rename(self, run_dir: str | Path, name: str) -> None:
        """A run was renamed (run.json): the title follows when it is the run shown."""
        if self.is_shown(run_dir):
            self.name = name or Path(run_dir).name
            self.changed.emit()

    def is_shown(self, run_dir: str | Path | None) -> bool:
        if run_dir is None or self.run_dir is None:
            return False
        return Path(run_dir).resolve() == self.run_dir.resolve()

    @property
    def title(self) -> str:
        if not self.name:
            return "GAN Studio"
        note = {Origin.VIEWING: " (viewing)", Origin.ATTACHED: " (attached)"}.get(self.origin, "")
        return f"GAN Studio — {self.name}{note}"

    @property
    def viewing(self) -> Path | None:
        """The run opened to look at (None when the run shown trains or was trained here)."""
        return self.run_dir if self.origin == Origin.VIEWING else None

    # --- state ---

    @property
    def training(self) -> bool:
        return self.state in TRAINING

    def set_state(self, state: RunState | str) -> None:
        state = RunState(state)
        if state != self.state:
            self.state = state
            self.run_state_changed.emit(state.value)

    def trainer_state(self, e: ev.StateChanged) -> None:
        """The trainer's word on its state. A stop asked for stays 'stopping' until the run ends."""
        if e.state in ("loading", "running", "paused") and self.state != RunState.STOPPING:
            self.set_state(e.state)

    def ended(self, e: ev.Finished) -> None:
        self.outcome = "stopped" if e.stopped else "finished"
        self.step = max(self.step, e.step)
        if e.run_dir:
            self.run_dir = Path(e.run_dir)
        self.set_state(RunState.IDLE)
        self.changed.emit()

    # --- events: history and live through the same signals ---

    @property
    def token(self) -> int:
        return self._token

    def hold_live_events(self) -> int:
        """From now, live events wait for the history (see `history_read`); returns the token it must bring."""
        self._held = []
        return self._token

    def deliver(self, name: str, *args) -> None:
        """A live event (a session signal's name and arguments): to the panels now, or after the history."""
        if self._held is not None and name in HELD:
            self._held.append((name, args))
        else:
            self._emit(name, args)

    def history_read(self, token: int, events: list) -> bool:
        """The history (events, oldest first) of the run shown, then the live events held meanwhile.
        False (and nothing shown) when the run shown changed since the read began."""
        if token != self._token:
            return False
        for event in events:
            self.report(event)
        held, self._held = self._held or [], None
        for name, args in held:
            self._emit(name, args)
        return True

    def _emit(self, name: str, args: tuple) -> None:
        getattr(self, name).emit(*args)
        if name == "metrics" or name == "samples":
            self.step = max(self.step, args[0].step)


def follow_session(model: ShownRun, session: QObject) -> None:
    """Every event signal of the session reaches the panels through the model (held while a history loads)."""
    for name in SIGNAL_NAMES:
        getattr(session, name).connect(lambda *args, n=name: model.deliver(n, *args))
