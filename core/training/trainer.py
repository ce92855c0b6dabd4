"""The training loop around a Session (core/training/session.py).

`train(config, control, on_event, run_dir)` is a plain function: it runs on whatever thread calls
it, reports through `on_event`, and is steered only through `Control`, checked between steps.
It owns the run's surroundings: the run folder (rank 0), its lock, heartbeat and control channel,
TensorBoard events, torchrun's process group, and the saves, grids and readings due at each step.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Callable

import torch

from core import events as ev
from core.atomic import DiskFull
from core.config import Config
from core.control import Control
from core.data.datasets import load_dataset
from core.models.size import check_fits
from core.quality import readings as fid_readings
from core.runs import channel as control_channel
from core.runs import heartbeat
from core.runs import lock as run_lock
from core.runs.checkpoint import save_checkpoint
from core.runs.folder import check_new_run_folder
from core.runs.heartbeat import Beater
from core.runs.writer import RunDir
from core.sharing.export import save_generator
from core.training import distributed
from core.training.device import cpu_cores, describe, pick_device
from core.training.session import Session
from core.training.threads import ThreadTuner

EventSink = Callable[[object], None]


def train(config: Config, control: Control | None = None, on_event: EventSink | None = None,
          run_dir: str | Path | None = None, checkpoint: dict | None = None, gui: bool = False,
          lineage: dict | None = None, lock: run_lock.RunLock | None = None) -> Session | None:
    """Train until config.run.steps or a stop; return the session (None if it never started).

    `checkpoint` (from core.runs.checkpoint.load_checkpoint) resumes a run; `config` may
    extend its steps. `lineage` ({"parent": run folder, "fork_step": N}) marks a new run as
    a fork. `lock`: the run folder's lock when the caller took it already (the CLI, before it
    loads the checkpoint; the caller releases it); otherwise train() takes it and gives it up at
    the end. Errors are reported as ErrorEvent, never raised."""
    control = control or Control()
    beater: Beater | None = None
    reader: control_channel.ChannelReader | None = None
    sink = on_event or (lambda event: None)

    def emit(event: object) -> None:
        if beater is not None and isinstance(event, ev.StateChanged):
            beater.beat(event.state, event.step)  # the folder says it first: a listener may look there
        sink(event)

    session = None
    ranks = distributed.from_environment()  # under torchrun: this process's rank
    if ranks and not ranks.main:
        run_dir, sink = None, _errors_only(sink)  # rank 0 alone writes the folder and reports
    run = RunDir(run_dir) if run_dir else None
    writing = False  # the run folder is ours to write: never save into a folder that was refused
    stopped = False
    owned: run_lock.RunLock | None = None  # the lock train() took itself, and gives up at the end
    try:
        config.require_complete()
        new_run = checkpoint is None or lineage is not None
        if run and lock is None:
            if new_run:
                check_new_run_folder(run.path)  # refused before the lock creates the folder
            lock = owned = run_lock.claim(run.path)  # before the slow part, and before anything is written
        if run and new_run:
            check_new_run_folder(run.path)  # again, holding the lock: a run finished since is not overwritten
        if lock is not None and lock.note:
            emit(ev.Notice(lock.note))
        emit(ev.StateChanged("loading", 0, "loading the dataset"))
        device = pick_device(config.run.device)
        if ranks:
            device = distributed.start(ranks, device)
        size = check_fits(config, device)  # widths too big are refused before a folder is decoded
        tuner = _thread_tuner(config, device, gui)
        dataset = load_dataset(config.data, lambda done, total: emit(ev.Progress("Decoding pictures", done, total)),
                               lambda: control.stopping)
        for note in dataset.notes:
            emit(ev.Notice(note))
        session = Session(config, dataset, device, ranks, size)
        for note in session.notes():
            emit(ev.Notice(note))
        if checkpoint is not None:
            session.load_state_dict(checkpoint)
            if lineage is not None and config.run.seed != checkpoint["config"]["run"]["seed"]:
                session.rng.manual_seed(config.run.seed)  # a fork with another seed draws other noise from here
            if session.rng_restarted:
                emit(ev.Notice("The checkpoint was saved on another kind of device: the noise stream "
                               "restarts here (the run is reproducible from here on, not bit for bit "
                               "the same as on the original device)."))
        if run:
            resumed_at = session.step if checkpoint is not None and lineage is None else None  # a fork is new
            run.start(session.config, resumed_at, lineage=lineage, world_size=ranks.world if ranks else 1)
            writing = True
            beater = Beater(run.path, session.config.run.steps, ranks.world if ranks else 1)
            beater.beat("loading", session.step)  # the folder says at once that a process owns it
            if note := control_channel.clear(run.path):  # commands sent to an earlier process are void
                emit(ev.Notice(note))
            # Its notices (a bad command file, a linked folder) come from the reader's thread: the sinks
            # are thread-safe (Qt signals, tqdm.write).
            reader = control_channel.ChannelReader(run.path, control, lambda: session.config, lambda: session.step,
                                                   control.save_run, notice=lambda m: emit(ev.Notice(m))).start()
            if session.config.run.tensorboard:
                from core.sharing.tensorboard_log import TensorBoardLog  # imports tensorboard: only when asked for
                board = TensorBoardLog(run.path, session.config, session.step)
                sink = _both(sink, board)
        emit(ev.Started(session.step, config.run.steps, describe(device), dataset.name, len(dataset),
                        session.config.to_dict()))
        steering = distributed.Steering(control, ranks) if ranks else None
        stopped = _loop(session, control, emit, run, tuner, beater, steering)
    except Exception as e:  # reported, never a dead thread
        emit(ev.ErrorEvent(session.step if session else 0, _message(e)))
        stopped = True
    finally:
        if reader is not None:
            reader.stop()
        if session is not None:
            session.batches.close()
        if session is not None and writing and run.failed_step != session.step:  # not retried on a full disk
            try:
                _save(session, run, emit)
                run.remove_stale_temps()  # a finished run folder holds no temp files
            except Exception as e:
                emit(ev.ErrorEvent(session.step, str(e) if isinstance(e, DiskFull)  # says what was kept
                                   else f"could not write the final checkpoint: {_message(e)}"))
        if ranks:
            distributed.stop()
        step = session.step if session else 0
        if writing and run.saved_step != step:  # a save failed: the step the folder resumes from
            step, stopped = run.saved_step or 0, True
        if beater is not None:
            try:
                beater.beat("stopped" if stopped else "finished", step)
            except Exception as e:  # a full disk: the end is still reported, and in one line
                emit(ev.ErrorEvent(step, f"could not write the heartbeat: {_message(e)}"))
            beater = None  # written (or reported) once: the StateChanged below does not try again
        emit(ev.StateChanged("stopped" if stopped else "finished", step))
        if owned is not None:
            owned.release()  # after the last heartbeat, before Finished: whoever hears it may resume the run
        emit(ev.Finished(step, stopped, str(run.path) if writing else ""))
    return session


def _errors_only(sink: EventSink) -> EventSink:
    def errors(event: object) -> None:
        if isinstance(event, (ev.ErrorEvent, ev.Finished)):
            sink(event)
    return errors


def _both(first: EventSink, second: EventSink) -> EventSink:
    def both(event: object) -> None:
        first(event)
        second(event)
    return both


def _message(e: Exception) -> str:
    if isinstance(e, ValueError):  # ConfigError, DataError, CheckpointError: already readable
        return str(e)
    if isinstance(e, OSError):
        return f"{e.strerror or e}{f': {e.filename}' if e.filename else ''}"
    return f"{type(e).__name__}: {e}"


def _thread_tuner(config: Config, device: torch.device, gui: bool) -> ThreadTuner | None:
    """A fixed thread count when one is set, or headless (bitwise reproducible runs);
    with the GUI on a CPU, a tuner between all cores and all but one."""
    cores = max(1, cpu_cores() // int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))  # torchrun's ranks share them
    if config.run.threads or not gui or device.type != "cpu" or cores < 2:
        torch.set_num_threads(config.run.threads or cores)
        return None
    return ThreadTuner((cores, cores - 1))


def _loop(s: Session, leader: Control, emit: EventSink, run: RunDir | None, tuner: ThreadTuner | None,
          beater: Beater | None, steering: distributed.Steering | None = None) -> bool:
    """The loop proper; returns True when stopped early.

    `leader` is the run's Control (the app, the control channel, Ctrl+C). Under torchrun the loop
    obeys `steering.local` instead, which every rank updates at the same ticks (steering.sync())."""
    rc = s.config.run
    control = steering.local if steering else leader
    main = s.ranks is None or s.ranks.main
    if main and s.probe is None and s.fid is None:
        emit(ev.QualityOff(s.quality_off))
    emit(ev.StateChanged("running", s.step))
    good = s.snapshot()
    tick_time, tick_step = time.perf_counter(), s.step
    while s.step < s.config.run.steps:
        _serve_requests(s, leader, emit, run)
        if control.paused and not control.stopping:
            emit(ev.StateChanged("paused", s.step))
            while control.paused and not control.stopping:
                if steering:
                    steering.wait_paused()
                else:  # blocks on a condition variable (no polling), waking only to keep the heartbeat fresh
                    control.wait(heartbeat.INTERVAL_S if beater else None)
                _serve_requests(s, leader, emit, run)
                _apply_changes(s, control, emit, run)  # settled now: a stop from here saves them too
                if beater:
                    beater.maybe_beat(s.step)
            if not control.stopping:
                emit(ev.StateChanged("running", s.step))
            tick_time, tick_step = time.perf_counter(), s.step
        if control.stopping:
            _serve_requests(s, leader, emit, run)
            return True
        _apply_changes(s, control, emit, run)
        started = time.perf_counter()
        s.train_step()
        if tuner:
            tuner.step_done(time.perf_counter() - started)  # CPU steps are synchronous: this is their time
        if beater:
            beater.maybe_beat(s.step)  # a clock read; a write every few seconds
        single = control.after_step()
        if s.step % rc.log_every == 0 or single or s.step == rc.steps:
            values = s.read_metrics()  # the same on every rank: averaged over them
            if not all(math.isfinite(v) for v in values):
                bad = s.step
                s.restore(good)
                control.pause()
                leader.pause()  # under torchrun too, so the next sync does not resume it
                emit(ev.ErrorEvent(bad, f"a loss became {values[0] if not math.isfinite(values[0]) else values[1]} "
                                   f"by step {bad}; training paused and rolled back to step {s.step}, the last "
                                   "good state. Lower the learning rates, then resume."))
                continue
            now = time.perf_counter()
            world = s.ranks.world if s.ranks else 1
            rate = (s.step - tick_step) * rc.batch_size * world / max(now - tick_time, 1e-9)
            tick_time, tick_step = now, s.step
            m = ev.Metrics(s.step, s.batches.progress, *values, rate,
                           s.opt_g.param_groups[0]["lr"], s.opt_d.param_groups[0]["lr"], time.time())
            s.history.append({"metrics": dict(m.__dict__)})
            emit(m)
            if run:
                run.write_metrics(m)
            good = s.snapshot()
            if steering:
                steering.sync()  # rank 0's news (pause, stop, changes) reach every rank at this step
        if main:
            _readings(s, control, emit, run, single)
        keep = bool(rc.keep_every) and s.step % rc.keep_every == 0
        if run and (keep or (rc.checkpoint_every and s.step % rc.checkpoint_every == 0)):
            _save(s, run, emit, keep)
    return False


def _readings(s: Session, control: Control, emit: EventSink, run: RunDir | None, single: bool) -> None:
    """Sample grids and quality readings when they are due (rank 0's work under torchrun)."""
    rc = s.config.run
    if s.step % rc.sample_every == 0 or single or s.step == rc.steps:
        grid = s.render_grid()
        labels = tuple(range(s.config.model.num_classes)) if s.config.model.conditional else ()
        emit(ev.Samples(s.step, grid, s.columns, labels))
        if run:
            run.write_samples(s.step, grid)
    if s.probe is not None and (s.step % rc.quality_every == 0 or s.step == rc.steps):
        q = s.measure_quality()
        s.history.append({"quality": dict(q.__dict__)})
        emit(q)
        if run:
            run.write_quality(q)
    if s.fid is not None and (s.step % rc.fid_every == 0 or s.step == rc.steps):
        _fid_reading(s, control, emit, run)


def _apply_changes(s: Session, control: Control, emit: EventSink, run: RunDir | None) -> None:
    changes = control.take_changes()
    if changes:
        s.apply_changes(changes)
        emit(ev.HyperparamsChanged(s.step, changes))
        if run:
            run.write_change(s.step, changes)


def _fid_reading(s: Session, control: Control, emit: EventSink, run: RunDir | None) -> None:
    """An FID/KID reading between steps; a stop cuts it short, a failure turns the readings off."""
    def progress(done: int, total: int, task: str) -> None:
        emit(ev.Progress(task, done, total))

    try:
        q = s.fid.measure(s.sampling_generator(), s.step, progress, lambda: control.stopping)
    except (fid_readings.FIDError, OSError) as e:
        s.fid = None
        emit(ev.QualityOff(f"FID readings stopped: {e}"))
        return
    if q is not None:
        s.history.append({"fid": dict(q.__dict__)})
        emit(q)
        if run:
            run.write_fid(q)


def _serve_requests(s: Session, control: Control, emit: EventSink, run: RunDir | None = None) -> None:
    """Saves asked for from another thread; a failed save is reported and training goes on."""
    for kind, path, done in control.take_requests():
        if kind == "snapshot":
            emit(s.generator_snapshot())
            continue
        if kind == "run":
            try:
                done.step = s.step
                if run is not None:
                    _save(s, run, emit)
            except Exception as e:
                done.error = f"could not save the run: {_message(e)}"
                emit(ev.ErrorEvent(s.step, done.error))
            finally:
                done.set()
            continue
        try:
            if kind == "generator":
                written = save_generator(s.sampling_generator(), s.config, path, s.step)
            else:
                save_checkpoint(s.state_dict(), path)
                written = Path(path)
            emit(ev.Saved(s.step, kind, str(written)))
        except Exception as e:
            emit(ev.ErrorEvent(s.step, f"could not save the {kind} to {path}: {_message(e)}"))


def _save(s: Session, run: RunDir, emit: EventSink, keep: bool = False) -> None:
    path = run.save(s.state_dict(), s.sampling_generator(), s.config, s.step, keep)
    emit(ev.Checkpointed(s.step, str(path)))
