"""The training loop around a Session (core/training/session.py).

`train(config, control, on_event, run_dir)` is a plain function: it runs on whatever thread calls
it, reports through `on_event`, and is steered only through `Control`, checked between steps.
It owns the run's surroundings: the run folder (rank 0), its lock, heartbeat and control channel,
TensorBoard events, torchrun's process group, and the saves, grids and readings due at each step.
It prepares them, runs the loop and finishes, all three around one TrainingRun
(core/training/run_context.py), which also does the loop's work between steps.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import torch

from core import events as ev
from core.atomic import DiskFull
from core.config import Config
from core.control import Control
from core.data.datasets import load_dataset
from core.models.size import check_fits
from core.quality.readers import QualityReaders
from core.runs import channel as control_channel
from core.runs import heartbeat
from core.runs import lock as run_lock
from core.runs.folder import check_new_run_folder
from core.runs.heartbeat import Beater
from core.runs.writer import RunDir
from core.training import distributed
from core.training.device import cpu_cores, describe
from core.training.notices import start_notices
from core.training.preflight import check_start
from core.training.run_context import EventSink, TrainingRun, error_message
from core.training.session import Session
from core.training.threads import ThreadTuner


def train(config: Config, control: Control | None = None, on_event: EventSink | None = None,
          run_dir: str | Path | None = None, checkpoint: dict | None = None, gui: bool = False,
          lineage: dict | None = None, lock: run_lock.RunLock | None = None) -> Session | None:
    """Train until config.run.steps or a stop; return the session (None if it never started).

    `checkpoint` (from core.runs.checkpoint.load_checkpoint) resumes a run; `config` may
    extend its steps. `lineage` ({"parent": run folder, "fork_step": N}) marks a new run as
    a fork. `lock`: the run folder's lock when the caller took it already (the CLI, before it
    loads the checkpoint; the caller releases it); otherwise train() takes it and gives it up at
    the end. Errors are reported as ErrorEvent, never raised."""
    sink = on_event or (lambda event: None)
    ranks = distributed.from_environment()  # under torchrun: this process's rank
    main = ranks is None or ranks.main  # rank 0 alone writes the folder and reports
    r = TrainingRun(control or Control(), sink if main else _errors_only(sink), ranks,
                    RunDir(run_dir) if run_dir and main else None)
    stopped = False
    try:
        _prepare(r, config, checkpoint=checkpoint, lineage=lineage, lock=lock, gui=gui)
        stopped = _loop(r)
    except Exception as e:  # reported, never a dead thread
        r.emit(ev.ErrorEvent(r.step, error_message(e)))
        stopped = True
    finally:
        _finish(r, stopped)
    return r.session


def _prepare(r: TrainingRun, config: Config, *, checkpoint: dict | None, lineage: dict | None,
             lock: run_lock.RunLock | None, gui: bool) -> None:
    """Everything before the first step: the lock, the data, the Session and its quality readers,
    the run folder; each part in `r` as soon as it exists, for _finish() to close."""
    run = r.run
    config.require_complete()
    r.emit(ev.StateChanged("loading", 0, "loading the dataset"))
    device, size = check_start(config)  # refused before the folder is claimed: nothing is made
    new_run = checkpoint is None or lineage is not None
    if run and lock is None:
        if new_run:
            check_new_run_folder(run.path)  # refused before the lock creates the folder
        lock = r.owned = run_lock.claim(run.path)  # before the slow part, and before anything is written
    if run and new_run:
        check_new_run_folder(run.path)  # again, holding the lock: a run finished since is not overwritten
    if lock is not None and lock.note:
        r.emit(ev.Notice(lock.note))
    if r.ranks:
        device = distributed.start(r.ranks, device)
        size = check_fits(config, device)  # this rank's own device
    r.tuner = _thread_tuner(config, device, gui)
    dataset = load_dataset(config.data, lambda done, total: r.emit(ev.Progress("Decoding pictures", done, total)),
                           lambda: r.control.stopping)
    for note in dataset.notes:
        r.emit(ev.Notice(note))
    session = Session(config, dataset, device, r.ranks, size)
    # Right after the Session, as when it built them: the digit classifier draws from torch's seed.
    r.quality = QualityReaders.for_run(config, dataset, device) if r.main else QualityReaders(device)
    s = r.session = session
    for note in start_notices(s) + s.take_notices():
        r.emit(ev.Notice(note))
    if checkpoint is not None:
        s.load_state_dict(checkpoint)
        if lineage is not None and config.run.seed != checkpoint["config"]["run"]["seed"]:
            s.rng.manual_seed(config.run.seed)  # a fork with another seed draws other noise from here
        if s.rng_restarted:
            r.emit(ev.Notice("The checkpoint was saved on another kind of device: the noise stream "
                             "restarts here (the run is reproducible from here on, not bit for bit "
                             "the same as on the original device)."))
    if run:
        resumed_at = s.step if checkpoint is not None and lineage is None else None  # a fork is new
        _start_folder(r, resumed_at, lineage)
    where = describe(device) + (f", {distributed.describe(r.ranks)}" if r.ranks else "")
    r.emit(ev.Started(s.step, config.run.steps, where, dataset.name, len(dataset), s.config.to_dict()))
    r.steering = distributed.Steering(r.control, r.ranks) if r.ranks else None


def _start_folder(r: TrainingRun, resumed_at: int | None, lineage: dict | None) -> None:
    """The run folder started: its files, heartbeat, control channel and TensorBoard events."""
    s, run = r.session, r.run
    assert s is not None and run is not None
    world = r.ranks.world if r.ranks else 1
    run.start(s.config, resumed_at, lineage=lineage, world_size=world)
    r.writing = True
    r.beater = Beater(run.path, s.config.run.steps, world)
    r.beater.beat("loading", s.step)  # the folder says at once that a process owns it
    if note := control_channel.clear(run.path):  # commands sent to an earlier process are void
        r.emit(ev.Notice(note))
    # Its notices (a bad command file, a linked folder) come from the reader's thread: the sinks
    # are thread-safe (Qt signals, tqdm.write).
    r.reader = control_channel.ChannelReader(run.path, r.control, lambda: s.config, lambda: s.step,
                                             r.control.save_run, notice=lambda m: r.emit(ev.Notice(m))).start()
    if s.config.run.tensorboard:
        from core.sharing.tensorboard_log import TensorBoardLog  # imports tensorboard: only when asked for
        r.board = TensorBoardLog(run.path, s.config, s.step)


def _finish(r: TrainingRun, stopped: bool) -> None:
    """The final save, then how the run ended: the heartbeat, StateChanged, the lock given up, Finished."""
    s, run = r.session, r.run
    if r.reader is not None:
        r.reader.stop()
    if s is not None:
        s.batches.close()
    if s is not None and (r.writing or run is None):
        try:
            r.final_grid()
        except Exception as e:  # the checkpoint matters more: it is still saved
            r.emit(ev.Notice(f"No sample grid at the last step: {error_message(e)}"))
    if s is not None and run is not None and r.writing and run.failed_step != s.step:  # not retried on a full disk
        try:
            r.save()
            run.remove_stale_temps()  # a finished run folder holds no temp files
        except Exception as e:
            r.emit(ev.ErrorEvent(s.step, str(e) if isinstance(e, DiskFull)  # says what was kept
                                 else f"could not write the final checkpoint: {error_message(e)}"))
    if r.ranks:
        distributed.stop()
    step = r.step
    if run is not None and r.writing and run.saved_step != step:  # a save failed: the step the folder resumes from
        step, stopped = run.saved_step or 0, True
    if r.beater is not None:
        try:
            r.beater.beat("stopped" if stopped else "finished", step)
        except Exception as e:  # a full disk: the end is still reported, and in one line
            r.emit(ev.ErrorEvent(step, f"could not write the heartbeat: {error_message(e)}"))
    r.tell(ev.StateChanged("stopped" if stopped else "finished", step))  # its heartbeat written (or reported) once
    if r.owned is not None:  # after the last heartbeat, before Finished: whoever hears it may resume the run
        # A start refused before the folder was written gives back what the claim made (the lock file,
        # control/, the folder itself): the folder is left as it was found.
        if r.writing:
            r.owned.release()
        else:
            r.owned.discard()
    r.emit(ev.Finished(step, stopped, str(run.path) if run is not None and r.writing else ""))


def _errors_only(sink: EventSink) -> EventSink:
    def errors(event: object) -> None:
        if isinstance(event, (ev.ErrorEvent, ev.Finished)):
            sink(event)
    return errors


def _thread_tuner(config: Config, device: torch.device, gui: bool) -> ThreadTuner | None:
    """A fixed thread count when one is set, or headless (bitwise reproducible runs);
    with the GUI on a CPU, a tuner between all cores and all but one."""
    cores = max(1, cpu_cores() // int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))  # torchrun's ranks share them
    if config.run.threads or not gui or device.type != "cpu" or cores < 2:
        torch.set_num_threads(config.run.threads or cores)
        return None
    return ThreadTuner((cores, cores - 1))


def _loop(r: TrainingRun) -> bool:
    """The loop proper; returns True when stopped early.

    `r.control` is the run's Control (the app, the control channel, Ctrl+C). Under torchrun the loop
    obeys `r.steering.local` instead, which every rank updates at the same ticks (steering.sync())."""
    s, q, leader, control, steering = r.session, r.quality, r.control, r.obeyed, r.steering
    emit, run, tuner, beater = r.emit, r.run, r.tuner, r.beater
    assert s is not None and q is not None  # prepare() made them
    rc = s.config.run
    if r.main and not q.reads_quality and q.fid is None:
        emit(ev.QualityOff(q.off))
    emit(ev.StateChanged("running", s.step))
    r.grid_step = s.step  # a run resumed or stopped here has its grid at this step, or needs none
    good = s.snapshot()
    tick_time, tick_step = time.perf_counter(), s.step
    while s.step < s.config.run.steps:
        r.serve_requests()
        if control.paused and not control.stopping:
            emit(ev.StateChanged("paused", s.step))
            while control.paused and not control.stopping:
                if steering:
                    steering.wait_paused()
                else:  # blocks on a condition variable (no polling), waking only to keep the heartbeat fresh
                    control.wait(heartbeat.INTERVAL_S if beater else None)
                r.serve_requests()
                r.apply_changes()  # settled now: a stop from here saves them too
                if beater:
                    beater.maybe_beat(s.step)
            if not control.stopping:
                emit(ev.StateChanged("running", s.step))
            tick_time, tick_step = time.perf_counter(), s.step
        if control.stopping:
            r.serve_requests()
            return True
        r.apply_changes()
        started = time.perf_counter()
        s.train_step()
        for note in s.take_notices():  # the fast path given up (core/training/fast_path.py)
            emit(ev.Notice(note))
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
            g_loss, d_loss, d_real, d_fake = values
            m = ev.Metrics(s.step, s.batches.progress, g_loss, d_loss, d_real, d_fake, rate,
                           s.opt_g.param_groups[0]["lr"], s.opt_d.param_groups[0]["lr"], time.time(),
                           s.augment_strength())
            s.history.append({"metrics": dict(m.__dict__)})
            emit(m)  # to the listener, the run folder's metrics.csv and TensorBoard
            good = s.snapshot()
            if steering:
                steering.sync()  # rank 0's news (pause, stop, changes) reach every rank at this step
        if r.main:
            r.readings(single)
        keep = bool(rc.keep_every) and s.step % rc.keep_every == 0
        if run and (keep or (rc.checkpoint_every and s.step % rc.checkpoint_every == 0)):
            r.save(keep)
    return False
