"""A hyperparameter sweep (core/sweeps) on a QThread, as TrainWorker runs one training.

`SweepWorker` calls run_sweep on its thread with the session's `Control` (Pause, Resume, Step and
Stop steer the trial being trained; Stop ends the sweep) and turns every event into its Qt signal:
the trial's trainer events as for any run, and TrialStarted / TrialFinished. To the window a sweep
is one long run whose run shown changes at each trial: each trial's own Finished is kept back, and
one Finished, naming the last trial's folder, comes when the sweep ends (however it ends). Never
touches a widget.
"""

from __future__ import annotations

from PySide6.QtCore import Slot

from core import events as ev
from core.control import Control
from studio.bridge import qthreads
from studio.model.event_signals import EventSignals


class SweepWorker(EventSignals):
    """Runs one sweep on its own thread; TrainingSession.start_sweep starts it."""

    def __init__(self, spec: dict, control: Control):
        super().__init__()
        self.spec = spec  # core.sweeps.runner.SweepSpec's fields: made into one on this thread
        self.control = control
        self._last: ev.Finished | None = None  # the latest trial's own Finished
        self._failed = False

    @Slot()
    def run(self) -> None:
        try:
            from core.sweeps.runner import SweepSpec, run_sweep  # torch and Optuna load here, not on the GUI's

            run_sweep(SweepSpec(**self.spec), self.control, self._emit)
        except (ValueError, OSError) as e:  # core's refusals are ValueErrors with one readable line
            self._fail(str(e))
        except Exception as e:  # anything else: still one line, never a traceback or a dead thread
            self._fail(f"The sweep stopped: {type(e).__name__}: {e}")
        finally:
            last = self._last
            stopped = self._failed or self.control.stopping
            self.report(ev.Finished(last.step if last else 0, stopped, last.run_dir if last else ""))
            qthreads.end_this_thread()

    def _fail(self, message: str) -> None:
        self._failed = True
        self.report(ev.ErrorEvent(0, message))

    def _emit(self, event: object) -> None:
        """Called by the sweep on this thread; signals are queued to the GUI thread."""
        if isinstance(event, ev.Finished):
            self._last = event  # a trial's end is TrialFinished's to tell; the sweep's comes last
            return
        self.report(event)
