"""TrainingRun: what the loop around a Session shares (core/training/trainer.py).

train() builds one before anything else, prepare() fills it in (a failure part-way leaves the
rest None), the loop drives it and finish() closes what it holds. Its methods are the loop's work
between steps: the saves asked for, live changes, sample grids and quality readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from core import events as ev
from core.control import Control
from core.data.folders import DataError
from core.quality import readings as fid_readings
from core.quality.picture_reading import PictureReadingError
from core.quality.readers import QualityReaders
from core.runs import channel as control_channel
from core.runs import lock as run_lock
from core.runs.checkpoint import save_checkpoint
from core.runs.heartbeat import Beater
from core.runs.writer import RunDir
from core.sharing.export import save_generator
from core.training import distributed
from core.training.plateau import Plateau
from core.training.session import Session
from core.training.threads import ThreadTuner

EventSink = Callable[[object], None]


@dataclass
class TrainingRun:
    control: Control  # the run's own: the app, the control channel, Ctrl+C
    sink: EventSink  # the listener (under torchrun, on the ranks after the first, its errors only)
    ranks: distributed.Ranks | None  # None: one process; else this process's place in a torchrun job
    run: RunDir | None  # the run folder's writer: rank 0's, and only when there is a folder
    session: Session | None = None
    quality: QualityReaders | None = None
    tuner: ThreadTuner | None = None
    beater: Beater | None = None
    reader: control_channel.ChannelReader | None = None
    board: EventSink | None = None  # TensorBoard's sink, from the Started event on
    steering: distributed.Steering | None = None  # under torchrun: the Control every rank obeys
    owned: run_lock.RunLock | None = None  # the lock train() took itself, and gives up at the end
    writing: bool = False  # the run folder is ours to write: never save into a folder that was refused
    grid_step: int | None = None  # the step of the newest sample grid (the loop's first step: it had one)
    best: dict | None = None  # the lowest reading so far, by kind ("FD", "FID"); a resumed run's from its history
    plateau: Plateau | None = None  # the run's readings of its main kind, for the plateau notice (core/training/plateau.py)

    @property
    def main(self) -> bool:
        """Rank 0 (or the only process): the one that writes the folder, reports and reads quality."""
        return self.ranks is None or self.ranks.main

    @property
    def obeyed(self) -> Control:
        """What the loop obeys: under torchrun the Control every rank updates at the same ticks."""
        return self.steering.local if self.steering else self.control

    @property
    def step(self) -> int:
        return self.session.step if self.session else 0

    def emit(self, event: object) -> None:
        if self.beater is not None and isinstance(event, ev.StateChanged):
            self.beater.beat(event.state, event.step)  # the folder says it first: a listener may look there
        self.tell(event)

    def tell(self, event: object) -> None:
        """The event to its sinks, each registered once: the listener, the run folder (what it keeps,
        core/runs/writer.py record), TensorBoard; no heartbeat. A new kind of event reaches all three."""
        self.sink(event)
        if self.run is not None and self.writing:
            self.run.record(event)
        if self.board is not None:
            self.board(event)

    def serve_requests(self) -> None:
        """Saves asked for from another thread; a failed save is reported and training goes on."""
        s = self.session
        assert s is not None  # prepare() made it: the loop serves requests
        for kind, path, done in self.control.take_requests():
            if kind == "snapshot":
                self.emit(s.generator_snapshot())
                continue
            if kind == "run":
                assert done is not None  # a save of the run always comes with its SaveDone
                try:
                    done.step = s.step
                    if self.run is not None:
                        self.save()
                except Exception as e:
                    done.error = f"could not save the run: {error_message(e)}"
                    self.emit(ev.ErrorEvent(s.step, done.error))
                finally:
                    done.set()
                continue
            try:
                if kind == "generator":
                    written = save_generator(s.sampling_generator(), s.config, path, s.step)
                else:
                    save_checkpoint(s.state_dict(), path)
                    written = Path(path)
                self.emit(ev.Saved(s.step, kind, str(written)))
            except Exception as e:
                self.emit(ev.ErrorEvent(s.step, f"could not save the {kind} to {path}: {error_message(e)}"))

    def apply_changes(self) -> None:
        s = self.session
        assert s is not None
        changes = self.obeyed.take_changes()
        if changes:
            s.apply_changes(changes)
            self.emit(ev.HyperparamsChanged(s.step, changes))

    def readings(self, single: bool) -> None:
        """Sample grids and quality readings when they are due (rank 0's work under torchrun)."""
        s, q = self.session, self.quality
        assert s is not None and q is not None
        rc = s.config.run
        if s.step % rc.sample_every == 0 or single or s.step == rc.steps:
            self.grid()
        if q.reads_quality and (s.step % rc.quality_every == 0 or s.step == rc.steps):
            self.quality_reading()
        if q.fid is not None and (s.step % rc.fid_every == 0 or s.step == rc.steps):
            self.fid_reading()

    def quality_reading(self) -> None:
        """The digit probe's or the picture reading's; a picture reading that fails turns them off."""
        s, q = self.session, self.quality
        assert s is not None and q is not None

        def progress(done: int, total: int, task: str) -> None:
            self.emit(ev.Progress(task, done, total))

        try:
            reading = q.read(s.sampling_generator(), s.config, s.step, progress)
        except (PictureReadingError, DataError, OSError) as e:  # the folder's cache unreadable, say
            q.probe = q.dataset = None
            self.emit(ev.QualityOff(f"quality readings stopped: {error_message(e)}"))
            return
        s.history.append({"quality": dict(reading.__dict__)})
        self.emit(reading)
        self.judge(reading.step, reading.frechet, "FD")

    def judge(self, step: int, value: float, reading: str) -> None:
        """A reading taken: the run's best kept when it is one, and the plateau told when it makes one. The
        main kind of reading (the quality reading where the run has one, else FID) is the one judged."""
        s, q = self.session, self.quality
        assert s is not None and q is not None
        best = self.note_best(step, value, reading)
        if reading != ("FD" if q.reads_quality else "FID"):
            return
        if best:
            self.keep_best(step, value, reading)
        rc = s.config.run
        if self.plateau is None:  # once: the readings before this process (a resumed run's) count too
            self.plateau = Plateau(rc.plateau_readings, rc.plateau_margin, "quality" if reading == "FD" else "FID")
            key, field = ("quality", "frechet") if reading == "FD" else ("fid", "fid")
            for h in s.history[:-1]:
                if key in h and h[key]["step"] < step:
                    self.plateau.add(h[key]["step"], h[key][field])
        if (notice := self.plateau.add(step, value)) is not None:
            if rc.stop_on_plateau:
                self.control.stop_run()  # the leader's: under torchrun every rank stops at the next tick
                notice += "; stopping here, as run.stop_on_plateau asks"
            else:
                notice += " (run.stop_on_plateau = true stops a run there)"
            self.emit(ev.Notice(notice))

    def keep_best(self, step: int, value: float, reading: str) -> None:
        """The best reading's generator and checkpoint into the run folder's best/; a failure is told, and
        training goes on."""
        s, run = self.session, self.run
        assert s is not None
        if run is None or not self.writing:
            return
        try:
            run.save_best(s.state_dict(), s.sampling_generator(), s.config, step, reading, value)
        except Exception as e:
            self.emit(ev.Notice(f"The best reading's generator (step {step:,}) was not kept: {error_message(e)}"))

    def note_best(self, step: int, value: float, reading: str) -> bool:
        """A reading lower than every earlier one of its kind (this run's history included) is its best: told
        (BestReading), and True."""
        s = self.session
        assert s is not None
        if self.best is None:  # once: what the run read before this process (a resumed run's checkpoint)
            self.best = {}
            for kind, key, field in (("FD", "quality", "frechet"), ("FID", "fid", "fid")):
                past = [h[key][field] for h in s.history[:-1] if key in h and h[key]["step"] < step]
                if past:
                    self.best[kind] = min(past)
        if value == value and value < self.best.get(reading, float("inf")):
            self.best[reading] = value
            self.emit(ev.BestReading(step, value, reading))
            return True
        return False

    def grid(self) -> None:
        """The fixed noise's sample grid at this step: the Samples event (samples/step_NNNNNN.png by the folder's sink)."""
        s = self.session
        assert s is not None
        grid = s.render_grid()
        labels = tuple(range(s.config.model.num_classes)) if s.config.model.conditional else ()
        self.emit(ev.Samples(s.step, grid, s.columns, labels))
        self.grid_step = s.step

    def final_grid(self) -> None:
        """A run that ends between grids (stopped at 2,848, its last grid at 2,750) gets one at the step
        it ended on, so its gallery, timelapse and exports end where its checkpoint does. None when it
        trained no step here (its first step had its grid), or the grid is there already."""
        s, run = self.session, self.run
        if s is None or self.grid_step is None or s.step == self.grid_step or not self.main:
            return
        if run is not None and run.folder.sample(s.step).is_file():
            return
        self.grid()

    def fid_reading(self) -> None:
        """An FID/KID reading between steps; a stop cuts it short, a failure turns the readings off."""
        s, q, control = self.session, self.quality, self.obeyed
        assert s is not None and q is not None and q.fid is not None

        def progress(done: int, total: int, task: str) -> None:
            self.emit(ev.Progress(task, done, total))

        try:
            reading = q.fid.measure(s.sampling_generator(), s.step, progress, lambda: control.stopping)
        except (fid_readings.FIDError, OSError) as e:
            q.fid = None
            self.emit(ev.QualityOff(f"FID readings stopped: {e}"))
            return
        if reading is not None:
            s.history.append({"fid": dict(reading.__dict__)})
            self.emit(reading)
            self.judge(reading.step, reading.fid, "FID")

    def save(self, keep: bool = False) -> None:
        """The run folder's checkpoint and generator at this step."""
        s, run = self.session, self.run
        assert s is not None and run is not None
        path = run.save(s.state_dict(), s.sampling_generator(), s.config, s.step, keep)
        self.emit(ev.Checkpointed(s.step, str(path)))


def error_message(e: Exception) -> str:
    """One readable line for an error the run reports."""
    if isinstance(e, ValueError):  # ConfigError, DataError, CheckpointError: already readable
        return str(e)
    if isinstance(e, OSError):
        return f"{e.strerror or e}{f': {e.filename}' if e.filename else ''}"
    return f"{type(e).__name__}: {e}"
