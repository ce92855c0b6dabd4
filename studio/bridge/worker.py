"""The only bridge between Qt and core.

`TrainWorker` is a QObject moved to a QThread: its `run` slot calls
core.training.trainer.train on that thread and turns every core event into a Qt signal
(queued to the GUI thread). `TrainingSession` lives on the GUI thread, owns the
thread, the worker and the `Control`, and is what the window talks to.
Events carry plain data (floats, strings, uint8 numpy grids); no tensor crosses.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core import events as ev
from core.config import Config
from core.control import Control
from studio.bridge import qthreads
from studio.model.event_signals import EventSignals, relay


class TrainWorker(EventSignals):
    """Runs one training job on its own thread. Never touches a widget. Its signals, one per event
    type, come from studio/event_signals.py."""

    def __init__(self, config: Config, control: Control, run_dir: str | None, checkpoint_path: str | None = None,
                 fork: bool = False, changes: dict | None = None, names: dict | None = None):
        super().__init__()
        self.config = config
        self.control = control
        self.run_dir = run_dir
        self.checkpoint_path = checkpoint_path
        self.fork = fork  # a new run in run_dir from the checkpoint, with the config's changes
        # The settings the person confirmed ('section.field' -> value) for a resume or a fork: then the
        # run trains with the checkpoint's own settings and exactly these changes, never a whole form.
        self.changes = changes
        self.names = dict(names or {})  # run.json's "name" and "notes" of a new run or a fork

    @Slot()
    def run(self) -> None:
        from core.training.trainer import train  # torch import stays off the GUI's start-up path

        try:
            checkpoint, lineage = None, (self.names or None)
            config = self.config
            if self.checkpoint_path:
                # Loading a checkpoint can take a while: do it here, not on the GUI thread.
                checkpoint, config, lineage = self._load_checkpoint(self.checkpoint_path, config)
                if checkpoint is None:
                    return
            train(config, self.control, self._emit, run_dir=self.run_dir, checkpoint=checkpoint, gui=True,
                  lineage=lineage)
        finally:
            qthreads.end_this_thread()  # thread-safe; ends the thread's event loop once run() returns

    def _load_checkpoint(self, path: str, config: Config | None):
        from core.config import ConfigError
        from core.runs.checkpoint import CheckpointError, load_checkpoint

        try:
            if self.fork:
                from core.runs.fork import prepare_fork
                if self.changes is not None:
                    saved, ck, lineage = prepare_fork(path, changes=self.changes)
                else:
                    saved, ck, lineage = prepare_fork(path, wanted=config)
                return ck, saved, {**lineage, **self.names}
            ck = load_checkpoint(path)
            saved = Config.from_dict(ck["config"])
            if self.changes is not None:
                saved = saved.with_values(**self.changes)
                if "run.steps" not in self.changes and int(ck["step"]) >= saved.run.steps:
                    saved = saved.with_values(**{"run.steps": int(ck["step"]) + saved.run.steps})
            elif config is not None and config.run.steps > int(ck["step"]):
                saved = saved.with_values(**{"run.steps": config.run.steps})
            elif int(ck["step"]) >= saved.run.steps:
                saved = saved.with_values(**{"run.steps": int(ck["step"]) + saved.run.steps})
            return ck, saved, None
        except (CheckpointError, ConfigError, ValueError, OSError) as e:
            self.report(ev.ErrorEvent(0, str(e)))
            self.report(ev.Finished(0, True, ""))
            return None, None, None

    def _emit(self, event: object) -> None:
        """Called by the trainer on this thread; signals are queued to the GUI thread."""
        self.report(event)


class TrainingSession(EventSignals):
    """GUI-side owner of one run at a time: thread + worker + Control, or an attachment to a run
    another process trains (attach()), steered through that run's control channel.

    Re-emits the worker's (or the follower's) event signals (studio/event_signals.py), so listeners
    connect once and survive runs.
    """

    heartbeat = Signal(object)  # an attached run's core.runs.heartbeat.Heartbeat (None: it has none)
    thread_done = Signal()  # the QThread has fully stopped

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.control: Control | None = None
        self.config: Config | None = None  # the config the trainer runs now (after live changes)
        self.run_dir: str | None = None
        self._thread: QThread | None = None
        self._worker: EventSignals | None = None  # a TrainWorker, or a SweepWorker (studio/sweep_worker.py)
        self.sweeping = False  # the thread runs (or last ran) a sweep: its trials' runs follow one another
        self.attachment = None  # studio.bridge.attachment.Attachment while attached to a run elsewhere
        self._finished_seen = False
        self.finished.connect(self._track_finished)
        self.hyperparams_changed.connect(self._track_changes)
        self.started.connect(self._track_started)
        self.trial_started.connect(self._track_trial)

    # --- lifecycle ---

    @property
    def active(self) -> bool:
        """A run is in progress (here, or attached) and has not reported Finished."""
        return (self._thread is not None or self.attachment is not None) and not self._finished_seen

    @property
    def attached(self) -> bool:
        return self.attachment is not None

    def attach(self, run_dir: str | Path) -> None:
        """Follow a run another process trains; steer it through its control channel."""
        from studio.bridge.attachment import Attachment

        if self.active:
            raise RuntimeError("a run is already in progress")
        self.detach()
        self._finished_seen = False
        self.control = None
        self.run_dir = str(run_dir)
        self.attachment = Attachment(run_dir, self)

    def detach(self) -> None:
        """Stop following an attached run (it goes on training where it is)."""
        if self.attachment is not None:
            attachment, self.attachment = self.attachment, None
            attachment.detach()
            attachment.deleteLater()

    def start(self, config: Config | None, run_dir: str | Path | None, checkpoint_path: str | None = None,
              fork: bool = False, changes: dict | None = None, names: dict | None = None) -> None:
        """Train `config` into run_dir, or go on from `checkpoint_path` (a resume, or a fork into a new
        run_dir): with `changes`, the checkpoint's settings with exactly those changes."""
        if self.active:
            raise RuntimeError("a run is already in progress")
        self.detach()
        self._prepare(config, run_dir)
        self._launch(TrainWorker(config, self.control, self.run_dir, checkpoint_path, fork, changes, names),
                     "gan-studio-trainer")

    def start_sweep(self, spec: dict) -> None:
        """Run a hyperparameter sweep (core.sweeps.runner.SweepSpec's fields) into spec["out"]: its trials one
        after another on one thread, steered by one Control; each trial's events as a run's, one Finished
        at the end."""
        from studio.bridge.sweep_worker import SweepWorker

        if self.active:
            raise RuntimeError("a run is already in progress")
        self.detach()
        self._prepare(None, spec["out"])
        self.sweeping = True
        self._launch(SweepWorker(spec, self.control), "gan-studio-sweep")
        # Said at once, not when the worker's first event arrives: the window locks Start and the form now,
        # as the opener does before a run starts.
        self.state_changed.emit(ev.StateChanged("loading", 0, "Starting the sweep"))

    def _prepare(self, config: Config | None, run_dir: str | Path | None) -> None:
        if self._thread is not None:
            # The trainer reported Finished and is returning: its thread ends within moments.
            qthreads.wait(self._thread)
            self._on_thread_finished()
        self._finished_seen = False
        self.control = Control()
        self.config = config
        self.run_dir = str(run_dir) if run_dir else None
        self.sweeping = False

    def _launch(self, worker: EventSignals, name: str) -> None:
        thread = qthreads.thread_for(worker, worker.run, name)
        relay(worker, self)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        thread.start()

    def stop(self) -> None:
        if self.attachment is not None:
            self.attachment.send("stop")
        elif self.control is not None:
            self.control.stop()

    @property
    def has_thread(self) -> bool:
        return self._thread is not None

    EXIT_WAIT_MS = 10_000

    def shutdown(self, timeout_ms: int | None = -1) -> bool:
        """Stop the run and wait for the thread (closeEvent): EXIT_WAIT_MS by default
        (-1), without limit when timeout_ms is None. Never terminate()."""
        if timeout_ms == -1:
            timeout_ms = self.EXIT_WAIT_MS
        if self.attachment is not None:
            self.detach()  # closing the window leaves an attached run training
            return True
        if self._thread is None:
            return True
        self.control.stop()
        self._thread.quit()  # harmless while run() executes: the loop exits as run() returns
        done = qthreads.wait(self._thread, timeout_ms)
        if done:
            self._on_thread_finished()
        return done

    @Slot()
    def _on_thread_finished(self) -> None:
        sender = self.sender()
        # A late queued 'finished' from an old thread must not end the current run's bookkeeping.
        if self._thread is None or (sender is not None and sender is not self._thread):
            return
        thread, worker = self._thread, self._worker
        self._thread = self._worker = None
        qthreads.release(thread, worker)
        self.thread_done.emit()

    # --- steering (GUI thread; Control is thread-safe) ---

    def _command(self, name: str) -> None:
        if self.attachment is not None:
            self.attachment.send(name)
        elif self.control:
            {"pause": self.control.pause, "resume": self.control.resume, "step": self.control.step_once}[name]()

    def pause(self) -> None:
        self._command("pause")

    def resume(self) -> None:
        self._command("resume")

    def step_once(self) -> None:
        self._command("step")

    def change(self, **dotted) -> None:
        """Queue live changes; raises ConfigError/ValueError with core's message."""
        if self.config is None or (not self.control and self.attachment is None):
            raise RuntimeError("nothing is training")
        if self.attachment is not None:
            from core.runs.channel import check_command

            check_command("set", dotted, self.config)  # refused here, with the form's message
            self.attachment.send("set", dotted)
            return
        self.control.change(self.config, **dotted)

    def save_generator(self, folder: str) -> None:
        if self.attachment is not None:
            self.attachment.save_copy("generator", folder)
        else:
            self.control.save_generator(folder)

    def request_snapshot(self) -> bool:
        """Ask the trainer for its sampling generator's weights (the `snapshot` signal answers at
        the next step boundary); False when nothing trains here."""
        if not self.active or self.control is None or self.attachment is not None:
            return False
        self.control.request_snapshot()
        return True

    def save_checkpoint(self, path: str) -> None:
        if self.attachment is not None:
            self.attachment.save_copy("checkpoint", path)
        else:
            self.control.save_checkpoint(path)

    # --- bookkeeping ---

    def _track_finished(self, event: ev.Finished) -> None:
        self._finished_seen = True

    def _track_started(self, event: ev.Started) -> None:
        self.config = Config.from_dict(event.config)

    def _track_trial(self, event: ev.TrialStarted) -> None:
        self.run_dir = event.run_dir  # the sweep's trial being trained (the explorer names it)

    def _track_changes(self, event: ev.HyperparamsChanged) -> None:
        if self.config is not None:
            self.config = self.config.with_values(**event.changes)
