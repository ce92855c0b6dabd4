"""A hyperparameter sweep: Optuna's trials, each an ordinary run folder trained by
core/training/trainer.py, pruned on its quality readings, in a study that several processes and
machines can share.

run_sweep(spec, control, on_event) is a plain function like train(): it runs on its caller's thread,
reports through on_event (the trainer's events of the trial in training, and TrialStarted /
TrialFinished), and is steered by `control`, which reaches the trial in training: stop ends the sweep
once that trial has saved its checkpoint, and the trial stays resumable.

Who trains a trial: whoever holds its run folder's lock (core/runs/lock.py). Before asking Optuna for
a new trial, a worker continues, from its last checkpoint, any trial of this sweep folder that is
still running in the study but whose folder nobody holds (a process stopped or killed). A trial is
continued only where its folder is: a study shared by machines with folders of their own continues
each machine's trials on that machine. `trials` counts finished trials (complete and pruned) in the
study, whoever trained them.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from core import events as ev
from core.config import Config, ConfigError
from core.control import Control
from core.presets import preset
from core.quality.digits import supports
from core.quality.readings import off_reason
from core.runs import lock as run_lock
from core.runs.checkpoint import load_checkpoint
from core.runs.folder import (
    RUN_EXTRAS,
    RUN_FILES,
    RunFolder,
    image_quality_from_row,
    quality_from_row,
    read_rows,
    run_files,
)
from core.runs.notes import MAX_NAME, MAX_NOTES, clean_names
from core.sweeps.space import Space, space_dict, validate_space, values_text
from core.sweeps.study import (
    DIR_ID,
    ERROR,
    SURPLUS,
    StudyError,
    SweepRecord,
    TrialRow,
    claim_sweep_folder,
    describe_storage,
    is_trial_of,
    open_storage,
    optuna,
    plain,
    storage_errors,
    trial_dir,
    trial_row,
)
from core.sweeps.trial_control import TrialControl
from core.training.trainer import train

EventSink = Callable[[object], None]
MAX_FAILED_IN_A_ROW = 3  # then the failures are the sweep's, not its trials' values: it stops
ABANDONED_AFTER_S = 600  # a trial asked for this long ago that never got a folder: its worker died


class SweepError(ValueError):
    """A sweep that cannot start or go on; one line saying why and what to do."""


@dataclass(frozen=True)
class SweepSpec:
    preset: str
    space: Space
    trials: int  # finished (complete + pruned) trials the study should have in all
    steps: int  # each trial's steps
    out: Path  # the sweep folder: study.db, sweep.json, trial-NNNN run folders
    overrides: dict = field(default_factory=dict)  # settings on top of the preset, 'optim.lr_d' -> value
    storage: str | None = None  # an Optuna storage URL, or journal:FILE; None: study.db in `out`
    study: str | None = None  # None: the name of `out`
    device: str | None = None
    startup_trials: int = 3  # complete trials before any is pruned (the median of fewer says little)
    warmup_steps: int | None = None  # no pruning before this step; None: not on a trial's first reading
    reading: str = "auto"  # what trials are compared by: READINGS' auto, or "fid" (Inception; refused without it)


READINGS = ("auto", "fid")  # auto: the digit probe for digits, the picture reading for other pictures


@dataclass(frozen=True)
class SweepSummary:
    study: str
    storage: str  # where the study is kept (a URL's password hidden)
    finished: int  # complete + pruned trials in the study, whoever trained them
    complete: int
    pruned: int
    failed: int
    trained: tuple[int, ...]  # the trials this call trained (or finished)
    stopped: bool  # stopped by `control` before the study had its trials
    best: TrialRow | None  # the complete trial with the lowest reading
    reading: str = ""  # what the trials were compared by, in words (e.g. "FID")
    best_value: float | None = None  # the best trial's value: its last reading
    running: int = 0  # trials still in training (by other workers) or left interrupted


@dataclass(frozen=True)
class Reading:
    """What a sweep compares its trials by."""

    kind: str  # "frechet" (the digit classifier, or the picture reading) or "fid" (Inception-v3 features)
    every: int  # steps between readings
    label: str


def base_config(preset_name: str, overrides: dict, steps: int, device: str | None = None) -> Config:
    """The config every trial starts from: the preset (for the kind of device the trials train on), the
    overrides, the trials' steps and device."""
    from core.training.device import kind_of

    wanted = device or overrides.get("run.device") or preset(preset_name).run.device
    try:
        kind = kind_of(str(wanted))
    except ConfigError:
        kind = "cpu"  # a device missing here: the trials' start check says so
    config = preset(preset_name, kind).with_values(**overrides)
    return config.with_values(**{"run.steps": steps, **({"run.device": device} if device else {})}).require_complete()


def reading_of(config: Config, wanted: str = "auto") -> Reading:
    """The readings a sweep on `config` is compared and pruned by: for digits the digit classifier's, for
    other pictures the picture reading (nothing to download), or FID where `wanted` asks for it. SweepError
    when it would take none, or FID is asked for and cannot be had (losses are no measure of quality across
    settings: they move with the learning rates and losses)."""
    if wanted not in READINGS:
        raise SweepError(f"reading {wanted!r}: choose {' or '.join(READINGS)}")
    if wanted == "fid":
        reason = off_reason(config)
        if reason:
            raise SweepError(f"the sweep was asked to compare its trials by FID, which is off here: {reason} "
                             "(or leave the reading to the sweep: the picture reading needs no download)")
        return Reading("fid", config.run.fid_every, "FID")
    digits, _ = supports(config)
    if not config.run.quality_every:
        what = "the digit classifier's readings" if digits else "the picture reading"
        raise SweepError(f"run.quality_every = 0: a sweep compares and prunes its trials on {what}; set it, "
                         "e.g. --set run.quality_every=500")
    return Reading("frechet", config.run.quality_every,
                   "Fréchet distance (digit classifier)" if digits else "Fréchet distance (picture reading)")


def run_sweep(spec: SweepSpec, control: Control | None = None, on_event: EventSink | None = None) -> SweepSummary:
    """Train the sweep's trials until the study has `spec.trials` finished ones or `control` stops it.
    Everything is checked before any trial starts (ConfigError, SpaceError, StudyError, SweepError:
    ValueErrors with one line)."""
    sink = on_event or (lambda event: None)
    control = control or Control()
    base = base_config(spec.preset, spec.overrides, spec.steps, spec.device)
    validate_space(spec.space, base, "the sweep's space")
    reading = reading_of(base, spec.reading)
    if spec.trials < 1:
        raise SweepError(f"trials = {spec.trials}: a sweep needs at least one trial")
    if spec.startup_trials < 0 or (spec.warmup_steps is not None and spec.warmup_steps < 0):
        raise SweepError("startup trials and warm-up steps cannot be negative")
    out = Path(spec.out)
    name = spec.study or out.resolve().name
    if not name.strip():
        raise SweepError("the study needs a name: --study NAME")
    storage = open_storage(spec.storage, out) if spec.storage else None  # a bad URL is refused before the folder
    record = claim_sweep_folder(out, name, spec.storage)
    storage = storage or open_storage(None, out)  # study.db, made in the folder just claimed
    shown = describe_storage(spec.storage, out)
    # A server gone mid-sweep: the trial in training stops with its checkpoint and stays running in the
    # study; the same command continues it once the storage answers again.
    with storage_errors(shown, "; the sweep stopped, its trials kept: run the same command again once the "
                        "storage answers (a trial cut short continues from its checkpoint)"):
        study = _open_study(storage, name, spec, base, reading)
        sweep = _Sweep(spec, study, record, base, reading, control, sink)
        sweep.announce()
        stopped = sweep.run()
        return sweep.summary(shown, stopped)


def warmup_of(spec: SweepSpec, reading: Reading) -> int:
    return spec.warmup_steps if spec.warmup_steps is not None else reading.every + 1


def _open_study(storage, name: str, spec: SweepSpec, base: Config, reading: Reading):
    opt = optuna()
    pruner = opt.pruners.MedianPruner(n_startup_trials=spec.startup_trials, n_warmup_steps=warmup_of(spec, reading))
    # A third of the trials drawn at random (at least 4, at most Optuna's 10), then TPE; its constant
    # liar (on by default) keeps parallel workers from drawing the same values.
    sampler = opt.samplers.TPESampler(n_startup_trials=min(10, max(4, spec.trials // 3)))
    study = opt.create_study(storage=storage, study_name=name, direction="minimize", load_if_exists=True,
                             sampler=sampler, pruner=pruner)
    if study.direction != opt.study.StudyDirection.MINIMIZE:
        raise SweepError(f"study {name!r} maximises its value; a sweep's readings are lower-is-better: name "
                         "another study")
    settings = _settings(spec, base, reading)
    recorded = study.user_attrs.get("sweep")
    if recorded is None:
        study.set_user_attr("sweep", settings)
    elif (different := _difference(recorded, settings)) is not None:
        raise SweepError(f"study {name!r} was started with {different}: run it as it was started, or start "
                         "another sweep (another --out)")
    return study


def _settings(spec: SweepSpec, base: Config, reading: Reading) -> dict:
    """What the trials of one study must share, as the study records it (JSON)."""
    config = base.to_dict()
    for machine in ("device", "threads"):  # each worker's own
        config["run"].pop(machine, None)
    return json.loads(json.dumps({"reading": reading.kind, "space": space_dict(spec.space), "config": config}))


def _difference(old: Any, new: dict) -> str | None:
    """The first way a study's recorded settings differ from a sweep's, in words; None when alike."""
    if not isinstance(old, dict):
        return "settings this version cannot read"
    if old.get("space") != new["space"]:
        return "another space (other settings or ranges)"
    if old.get("reading") != new["reading"]:
        return f"{old.get('reading')} readings"
    was: dict = old["config"] if isinstance(old.get("config"), dict) else {}
    now: dict = new["config"]
    if was.get("preset") != now.get("preset"):
        return f"preset {was.get('preset')!r}, this sweep {now.get('preset')!r}"
    for section, values in now.items():
        before = was.get(section)
        if not isinstance(values, dict) or not isinstance(before, dict):
            continue
        for key in values.keys() & before.keys():  # a setting added or dropped since is no difference
            if values[key] != before[key]:
                what = "--steps" if (section, key) == ("run", "steps") else f"{section}.{key}"
                return f"{what} {json.dumps(before[key])}, this sweep {json.dumps(values[key])}"
    return None


class _Sweep:
    def __init__(self, spec: SweepSpec, study, record: SweepRecord, base: Config, reading: Reading,
                 control: Control, sink: EventSink):
        self.spec, self.study, self.record, self.base, self.reading = spec, study, record, base, reading
        self.control, self.sink = control, sink
        self.out = Path(spec.out)
        self.name = study.study_name
        self.trained: list[int] = []
        self.states = optuna().trial.TrialState

    def announce(self) -> None:
        every, steps = self.reading.every, self.spec.steps
        # the first reading a trial may be pruned on
        first = max(every, (warmup_of(self.spec, self.reading) + every - 1) // every * every)
        if first >= steps:
            self.sink(ev.Notice(f"Readings every {every:,} steps in trials of {steps:,}: trials are ranked by "
                                "their last reading but none is pruned (lower the reading interval, "
                                f"run.{'quality' if self.reading.kind == 'frechet' else 'fid'}_every, to prune)."))
            return
        self.sink(ev.Notice(f"Trials are ranked by their last {self.reading.label} reading, lower is better; from "
                            f"step {first:,} a trial is stopped (pruned) when its best reading is worse than the "
                            f"median of the complete trials' at the same step, once {max(1, self.spec.startup_trials)} "
                            f"{'is' if self.spec.startup_trials <= 1 else 'are'} complete."))

    # --- the loop ---

    def run(self) -> bool:
        """Train trials until the study has its finished trials (False) or the control stops (True)."""
        failed: list[tuple[int, str]] = []
        while not self.control.stopping:
            trials = self.study.get_trials(deepcopy=False)
            finished = sum(t.state in (self.states.COMPLETE, self.states.PRUNED) for t in trials)
            if finished >= self.spec.trials:
                return False
            self._fail_abandoned(trials)
            claimed = self._orphan(trials)
            if claimed is None:
                running = sum(t.state == self.states.RUNNING and not t.user_attrs.get(SURPLUS) for t in trials)
                if finished + running >= self.spec.trials:
                    return False  # the rest are in training elsewhere
                claimed = self._new()
                if claimed is None:
                    continue  # surplus, or taken by a worker that continued it
            if isinstance(claimed[1], str):  # values that the config refuses together: failed at once
                number, state, message = claimed[0], "failed", claimed[1]
            else:
                frozen, lock = claimed
                number = frozen.number
                with lock:
                    if self.control.stopping:  # stopped meanwhile: the trial waits, untouched, for the next run
                        return True
                    state, message = self._run(frozen, lock)
                self.trained.append(number)
            if state == "interrupted":
                return True
            failed = failed + [(number, message)] if state == "failed" else []
            if len(failed) >= MAX_FAILED_IN_A_ROW:
                number, why = failed[-1]
                raise SweepError(f"{len(failed)} trials in a row failed, the last (trial {number}): {why}")
        return True

    def _trial(self, number: int):
        return next((t for t in self.study.get_trials(deepcopy=False) if t.number == number), None)

    def _fail_abandoned(self, trials) -> None:
        """Trials left running that nobody will train: asked for past the study's count, or asked for by
        a worker that died before it claimed a folder (no sweep folder named, long ago)."""
        now = time.time()
        for t in trials:
            if t.state != self.states.RUNNING:
                continue
            started = t.datetime_start.timestamp() if t.datetime_start else now
            if t.user_attrs.get(SURPLUS) or (DIR_ID not in t.user_attrs and now - started > ABANDONED_AFTER_S):
                self.study.tell(t.number, state=self.states.FAIL, skip_if_finished=True)

    def _orphan(self, trials):
        """A trial of this folder left running by a process that is gone: (trial, its folder's lock)."""
        for t in trials:
            if (t.state != self.states.RUNNING or t.user_attrs.get(DIR_ID) != self.record.id
                    or t.user_attrs.get(SURPLUS)):
                continue
            try:
                lock = run_lock.claim(trial_dir(self.out, t.number))
            except run_lock.RunBusyError:
                continue  # in training here, or on a machine whose heartbeat is fresh
            fresh = self._trial(t.number)  # holding the lock: did its trainer finish it meanwhile?
            if fresh is not None and fresh.state == self.states.RUNNING:
                return fresh, lock
            lock.release()
        return None

    def _new(self):
        """A new trial from Optuna with its values drawn: (trial, its folder's lock); (its number, why) when
        the config refuses its values together; None when it is not this worker's to train."""
        trial = self.study.ask()
        number = trial.number
        ahead = sum(1 for t in self.study.get_trials(deepcopy=False) if t.number < number and (
            t.state in (self.states.COMPLETE, self.states.PRUNED)
            or (t.state == self.states.RUNNING and not t.user_attrs.get(SURPLUS))))
        if ahead >= self.spec.trials:  # another worker asked at the same moment and got the last one
            trial.set_user_attr(SURPLUS, True)
            self.study.tell(trial, state=self.states.FAIL, skip_if_finished=True)
            return None
        values = self.spec.space.suggest(trial)  # before the folder is named: a continuing worker reads them
        try:
            self.base.with_values(**values)
        except ValueError as e:  # settings that pass alone but not together (a batch and a pack size)
            self._fail(trial, str(e))
            self.sink(ev.TrialFinished(number, "failed", None, 0))
            return number, str(e)
        trial.set_user_attr(DIR_ID, self.record.id)
        try:
            lock = run_lock.claim(trial_dir(self.out, number))
        except run_lock.RunBusyError:
            return None  # a worker on this folder took it as left behind: it trains it
        fresh = self._trial(number)
        if fresh is not None and fresh.state == self.states.RUNNING:
            return fresh, lock
        lock.release()
        return None

    # --- one trial ---

    def _run(self, frozen, lock: run_lock.RunLock) -> tuple[str, str]:
        """Train (or continue) the trial whose folder `lock` holds; tell the study how it ended, holding the
        lock. Returns its state and, for a failure, why."""
        opt = optuna()
        trial = opt.Trial(self.study, frozen._trial_id)  # as Study.ask() makes one, for a running trial
        number, run_dir = frozen.number, lock.run_dir
        values = self.spec.space.suggest(trial)  # the trial's own values (drawn now if it had none yet)
        checkpoint = self._start_point(frozen, run_dir)
        steps = self.spec.steps
        if checkpoint is None:
            try:
                config = self.base.with_values(**values)
            except ValueError as e:
                return self._end(trial, number, "failed", None, 0, str(e))
            lineage: dict | None = self._lineage(number, values)
        else:
            config = Config.from_dict(checkpoint["config"]).with_values(
                **{"run.steps": steps, **({"run.device": self.spec.device} if self.spec.device else {})})
            lineage = None
            reported = frozen.intermediate_values
            last = reported[max(reported)] if reported else None
            if checkpoint["step"] >= steps:  # trained to the end by a process that died before it told
                return self._settle_trained(trial, number, frozen, checkpoint["step"], run_dir)
            if reported and trial.should_prune():  # pruned by a process that died before it told
                return self._end(trial, number, "pruned", last, checkpoint["step"])
        self.sink(ev.TrialStarted(number, str(run_dir), dict(values)))
        control = TrialControl(self.control)
        watch = _Watch(trial, frozen.intermediate_values, steps, self.reading.kind, control, self.sink)
        train(config, control, watch, run_dir, checkpoint, lineage=lineage, lock=lock)
        if watch.error is not None:
            raise watch.error  # the study's storage failed; the trial stays running, its checkpoint saved
        return self._settle(trial, number, watch)

    def _start_point(self, frozen, run_dir: Path) -> dict | None:
        """The checkpoint to continue the trial from, or None to train it from step 0 (a new trial, or
        one whose process saved nothing: what it wrote goes, and it begins again with the same values)."""
        folder = RunFolder(run_dir)
        if not run_files(run_dir):
            return None
        ours = is_trial_of(run_dir, self.name, frozen.number)
        if (folder.last_checkpoint.is_file() or folder.run_json.is_file()) and not ours:
            raise SweepError(f"{run_dir} holds a run that is not trial {frozen.number} of study {self.name!r} "
                             f"(its run.json says so); nothing in it was changed: move it out of {self.out}, "
                             "then run the sweep again")
        if folder.last_checkpoint.is_file():
            return load_checkpoint(run_dir)
        for name in (*RUN_FILES, *RUN_EXTRAS):
            entry = run_dir / name
            if name == "control":  # holds the lock we hold: never removed (core/runs/lock.py)
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            elif entry.exists() or entry.is_symlink():
                entry.unlink()
        self.sink(ev.Notice(f"Trial {frozen.number} was stopped before it saved a checkpoint: it starts again "
                            "from step 0 with the same values."))
        return None

    def _lineage(self, number: int, values: dict) -> dict:
        """run.json's record of the trial: its name and notes for the run library, and the sweep's record."""
        notes = values_text(values)
        names = clean_names(f"{self.name} trial {number}"[:MAX_NAME], notes[:MAX_NOTES])
        return {**names, "sweep": {"study": self.name, "trial": number,
                                   "values": {key: plain(value) for key, value in values.items()}}}

    def _settle(self, trial, number: int, watch: _Watch) -> tuple[str, str]:
        finished = watch.finished
        step = finished.step if finished else 0
        last_step, last = watch.readings[-1] if watch.readings else (None, None)
        if watch.pruned:
            return self._end(trial, number, "pruned", last, step)
        if finished is not None and (not finished.stopped or watch.control.plateaued):  # plateaued: done early
            if last is None or last_step != finished.step or not math.isfinite(last):
                why = watch.errors[-1] if watch.errors else f"it took no finite {self.reading.label} reading at its last step"
                return self._end(trial, number, "failed", last, step, why)
            return self._end(trial, number, "complete", last, step)
        if self.control.stopping:
            self.sink(ev.TrialFinished(number, "interrupted", last, step))
            return "interrupted", ""
        why = watch.errors[-1] if watch.errors else "it stopped before its last step"
        return self._end(trial, number, "failed", last, step, why)

    def _settle_trained(self, trial, number: int, frozen, step: int, run_dir: Path) -> tuple[str, str]:
        reported = frozen.intermediate_values
        if step not in reported and (found := self._reading_in(run_dir, step)) is not None:
            trial.report(found, step)  # taken, but the study never heard of it (its server went away)
            reported = {**reported, step: found}
        if step in reported and math.isfinite(reported[step]):
            return self._end(trial, number, "complete", reported[step], step)
        return self._end(trial, number, "failed", None, step, f"it took no {self.reading.label} reading at its "
                         "last step")

    def _reading_in(self, run_dir: Path, step: int) -> float | None:
        """The reading the trial's run folder kept for `step` (quality.csv or fid.csv), or None."""
        folder = RunFolder(run_dir)
        if self.reading.kind == "frechet":
            found = [q.frechet for q in read_rows(folder.quality, quality_from_row) if q.step == step]
        else:
            found = [q.fid for q in read_rows(folder.fid, image_quality_from_row) if q.step == step]
        return float(found[-1]) if found else None

    def _end(self, trial, number: int, state: str, reading: float | None, step: int,
             why: str = "") -> tuple[str, str]:
        """Tell the study how the trial ended and the listener TrialFinished."""
        if state == "complete":
            assert reading is not None
            self.study.tell(trial, reading, skip_if_finished=True)
        elif state == "pruned":
            self.study.tell(trial, state=self.states.PRUNED, skip_if_finished=True)  # valued by its last reading
        else:
            self._fail(trial, why)
        self.sink(ev.TrialFinished(number, state, reading, step))
        return state, why

    def _fail(self, trial, why: str) -> None:
        with suppress(optuna().exceptions.UpdateFinishedTrialError):
            trial.set_user_attr(ERROR, why[:500])
        self.study.tell(trial, state=self.states.FAIL, skip_if_finished=True)

    def summary(self, shown: str, stopped: bool) -> SweepSummary:
        trials = [t for t in self.study.get_trials(deepcopy=False) if not t.user_attrs.get(SURPLUS)]
        count = {state: sum(t.state == state for t in trials) for state in self.states}
        complete = [t for t in trials if t.state == self.states.COMPLETE and t.value is not None]
        best = min(complete, key=lambda t: t.value) if complete else None
        finished = count[self.states.COMPLETE] + count[self.states.PRUNED]
        return SweepSummary(self.name, shown, finished, count[self.states.COMPLETE], count[self.states.PRUNED],
                            count[self.states.FAIL], tuple(self.trained), stopped and finished < self.spec.trials,
                            trial_row(best, self.out, self.name) if best is not None else None, self.reading.label,
                            best.value if best is not None else None, count[self.states.RUNNING])


class _Watch:
    """The trial's event sink: passes every event on, and reports each quality reading to Optuna,
    ending the trial when the pruner says so."""

    def __init__(self, trial, reported: dict, steps: int, kind: str, control: TrialControl, sink: EventSink):
        self.trial, self.reported, self.steps, self.kind = trial, set(reported), steps, kind
        self.control, self.sink = control, sink
        self.readings: list[tuple[int, float]] = []
        self.errors: list[str] = []
        self.finished: ev.Finished | None = None
        self.pruned = False
        self.error: Exception | None = None  # the study's storage failed

    def __call__(self, event: object) -> None:
        self.sink(event)
        if isinstance(event, ev.Finished):
            self.finished = event
        elif isinstance(event, ev.ErrorEvent):
            self.errors.append(event.message)
        elif isinstance(event, ev.QualityOff):
            self.errors.append(event.reason)
        if isinstance(event, ev.Quality) and self.kind == "frechet":
            self._reading(event.step, event.frechet)
        elif isinstance(event, ev.ImageQuality) and self.kind == "fid":
            self._reading(event.step, event.fid)

    def _reading(self, step: int, value: float) -> None:
        self.readings.append((step, float(value)))
        if self.error is not None or self.pruned:
            return
        try:
            if step not in self.reported:  # a continued trial reads its steps after the checkpoint again
                self.trial.report(float(value), step)
                self.reported.add(step)
            if step < self.steps and self.trial.should_prune():  # never at the last step: it is complete
                self.pruned = True
                self.control.end()
        except Exception as e:  # the storage: raised once the trial has saved its checkpoint
            self.error = e
            self.control.end()


__all__ = ["SweepError", "SweepSpec", "SweepSummary", "StudyError", "base_config", "reading_of", "run_sweep"]
