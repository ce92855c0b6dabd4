"""How a run comes to be the run shown: opened to look at, resumed, forked, started, a sweep's trial,
or attached to another process's run.

The opener changes the model of the run shown (studio/model/shown_run.py) and hands the session what
to train; it asks the questions (resume with the form's edits? train a finished run on to how many
steps? train a loose checkpoint into a new folder? which settings does a fork change?) and reads a
run's history on a job thread. It holds no window: its collaborators are handed in, and the panels
follow the model on their own. Core decides what a path means and what a resume may change.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from core import events as ev
from core.config import Config, ConfigError
from core.runs.folder import (
    RunFolder,
    RunFolderError,
    check_new_run_folder,
    checkpoint_path,
    classify,
    new_run_path,
)
from core.runs.history import RunHistory, or_none, read_history, read_view
from studio.dialogs.fork_dialog import ForkSettingsDialog, change_line
from studio.model.shown_run import Origin, RunState
from studio.window.parts import StudioParts


class RunOpener(QObject):
    run_viewed = Signal(str)  # a run folder opened to look at, once its history is shown
    history_loaded = Signal(str)  # a resumed run's (or a fork's parent's) history, once it is shown

    def __init__(self, parts: StudioParts, parent: QObject | None = None):
        super().__init__(parent)
        self.p = parts
        self.model = parts.model
        self.viewed_config: Config | None = None  # a viewed run's own settings (Resume trains with them)

    # --- open ---

    def open_run(self, path: str | None = None) -> None:
        p = self.p
        if not path:
            path, _ = QFileDialog.getOpenFileName(p.dialog_parent, "Open a run (pick its config.json) or a checkpoint",
                                                  p.folders.get("open") or str(p.runs_root()),
                                                  "Checkpoints and runs (*.pt config.json);;All files (*)")
        if not path:
            return
        try:
            meaning = classify(path)
        except RunFolderError as e:
            p.say(f"Cannot open {e}", "error")
            return
        where = meaning.run_dir if meaning.kind == "run" else meaning.checkpoint
        p.folders.remember("open", where.parent if where.is_file() else where)
        from core.runs.heartbeat import running_elsewhere

        if meaning.kind == "run" and running_elsewhere(where):
            self.attach(where)  # another process trains it: follow and steer it, never train it twice
            return
        if meaning.kind != "loose checkpoint":  # a checkpoint of a run: show the run, it says how to go on
            self.view_run(meaning.run_dir, meaning.checkpoint)
            return
        answer = QMessageBox.question(
            p.dialog_parent, "Resume the checkpoint?",
            f"{where} is not inside a run folder. Train it on with its own settings into a new run folder in "
            f"{p.runs_root()}? The file itself is only read.", QMessageBox.Ok | QMessageBox.Cancel, QMessageBox.Ok)
        if answer != QMessageBox.Cancel:
            self.resume_from(where)

    def view_run(self, run_dir: str | Path, checkpoint: Path | None = None) -> None:
        """Show a run: its settings in the form, its curves, changes, grids and readings (read on a job
        thread). Nothing in the folder is written; Resume trains it on, Fork starts a new run from it."""
        p = self.p
        if p.session.active:
            p.say("Stop the run in this window first, then open another.", "warning")
            return
        from core.runs.notes import display_name

        run_dir = Path(run_dir)
        self.viewed_config = None
        token = self.model.show(run_dir, Origin.VIEWING, display_name(run_dir))
        self.model.set_state(RunState.OPENING)
        p.jobs.submit(lambda: (token, read_view(run_dir), checkpoint), self._show_view, self._view_failed)

    def _show_view(self, result: tuple) -> None:
        p = self.p
        token, view, checkpoint = result
        if token != self.model.token or p.session.active:
            return  # opened another, or started something, meanwhile
        self.model.set_state(RunState.IDLE)
        self.viewed_config = view.config
        self.model.config = view.config
        if view.config is not None:
            p.form.set_config(view.config)
        self.model.history_read(token, view.history.events())
        if view.history.samples is not None:
            self.model.history_samples.emit(str(view.history.run_dir), view.history.samples)
        self.model.step = max(self.model.step, view.step)
        self.model.changed.emit()
        name = self.model.name
        of = f" of {view.config.run.steps:,}" if view.config is not None else ""
        if view.problem:
            p.say(f"Showing {name}, which cannot be resumed: {view.problem}", "warning")
        else:
            go_on = "Resume (Ctrl+Shift+R) trains it on" if view.resumable else "it has no latest checkpoint"
            picked = ""
            if checkpoint is not None and checkpoint != RunFolder(view.history.run_dir).last_checkpoint:
                picked = f" To train from {checkpoint.name}, use Fork from here… on that step's grid."
            p.say(f"Showing {name} at step {view.step:,}{of}: nothing in it changes. "
                  f"{go_on}; Fork… in the Run library starts a new run from it.{picked}", "info")
        self.run_viewed.emit(str(view.history.run_dir))

    def _view_failed(self, text: str) -> None:
        if self.model.viewing is not None and not self.p.session.active:
            self.model.set_state(RunState.IDLE)
            self.p.say(f"Cannot open {self.model.viewing}: {text}", "error")

    def form_edited(self) -> bool:
        """The form no longer shows the run being viewed (or none is): a preview of its images may show."""
        return self.model.viewing is None or self.viewed_config is None or \
            self.p.form.current_config() != self.viewed_config

    # --- train ---

    def start_training(self, config: Config | None = None, run_dir: str | Path | None = None) -> Path | None:
        """Start a new run (the form's config unless given); returns its run folder."""
        p = self.p
        if p.session.active:
            return None
        if config is None:
            try:
                config = p.form.config()
            except ConfigError as e:
                p.say(f"Cannot start: {e}", "error")
                return None
        else:
            p.form.set_config(config)
        names = self._names("start")
        if names is None:
            return None
        path = Path(run_dir) if run_dir else new_run_path(p.runs_root())  # a new run never reuses a folder
        try:
            check_new_run_folder(path)
        except RunFolderError as e:
            p.say(f"Cannot start: {e}", "error")
            return None
        self._begin(config, path, None, Origin.NEW, names=names)
        return path

    def _names(self, what: str) -> dict | None:
        """The name row's name and notes for a new run ({} when empty); None (and a message) when refused."""
        try:
            return self.p.names.values()
        except ValueError as e:
            self.p.say(f"Cannot {what}: {e}", "error")
            return None

    def resume_from(self, path: str | Path) -> None:
        """Resume a run folder or a checkpoint file; the checkpoint loads on the worker thread."""
        if self.p.session.active:
            return
        try:
            meaning = classify(path)
        except RunFolderError as e:
            self.p.say(f"Cannot resume {e}", "error")
            return
        if meaning.latest:
            self.resume_run(meaning.run_dir)
            return
        if meaning.kind == "run checkpoint":
            # An earlier moment of a run: continuing it in place would discard the run's later steps.
            self.fork_from(meaning.checkpoint)
            return
        path = meaning.checkpoint
        run_dir = new_run_path(self.p.runs_root(), f"{path.stem}-resumed-{time.strftime('%H%M%S')}")
        self._begin(None, run_dir, str(path), Origin.RESUMED)  # the checkpoint's own settings

    def resume_run(self, run_dir: str | Path | None = None) -> None:
        """Train a run on from its latest checkpoint with its own settings (the run shown, by default).
        Where the form was edited since the run was opened, the changes a resume may make are listed
        and asked about; the others are named with the reason and left as the run trained. A run that
        reached its planned steps trains on only to a total the person gives (core's rule)."""
        p = self.p
        if p.session.active:
            return
        from core.runs.fork import resume_changes, run_settings
        from core.runs.heartbeat import running_elsewhere
        from core.runs.notes import display_name

        run_dir = Path(run_dir) if run_dir else self.model.run_dir
        if run_dir is None:
            p.say("Open a run first (File ▸ Open run, or the Run library), then Resume it.", "warning")
            return
        if running_elsewhere(run_dir):
            self.attach(run_dir)  # another process trains it: follow it, never train it twice
            return
        checkpoint = checkpoint_path(run_dir)
        if not checkpoint.is_file():
            p.say(f"Cannot resume {run_dir.name}: it has no checkpoints/last.pt. Fork it from a kept checkpoint "
                  "instead (Run library ▸ Fork…).", "error")
            return
        try:
            own = run_settings(run_dir)
        except ConfigError as e:
            p.say(f"Cannot resume {run_dir.name}: {e}", "error")
            return
        wanted = own
        if self.model.viewing is not None and self.model.is_shown(run_dir):  # the form shows this run
            wanted = p.form.current_config()
            if wanted is None:
                p.say(f"Cannot resume: {p.form.error}", "error")
                return
        allowed, refused = resume_changes(own, wanted)
        total = self._total_for_finished(run_dir, own, allowed)
        if total is None:
            return
        if total:
            allowed = {**allowed, "run.steps": total}
        elif (allowed or refused) and not self._confirm_resume(run_dir, own, wanted, allowed, refused):
            return
        self._begin(None, run_dir, str(checkpoint), Origin.RESUMED, changes=allowed, name=display_name(run_dir))

    def _total_for_finished(self, run_dir: Path, own: Config, allowed: dict) -> int | None:
        """0 when the run has steps left (or the form already asks for more); for a run that reached its
        planned steps, the new total the person gives (core's rule, core/runs/resume.py, the CLI's too:
        nothing doubles a run on its own); None: cancelled."""
        from core.runs.folder import last_checkpoint_step
        from core.runs.resume import plan_resume

        plan = plan_resume(run_dir, last_checkpoint_step(run_dir) or 0, own.run.steps, allowed.get("run.steps"))
        if not plan.finished:
            return 0
        value, ok = QInputDialog.getInt(
            self.p.dialog_parent, "Train a finished run on?",
            f"{run_dir.name} reached its {own.run.steps:,} planned steps (step {plan.step:,}). Train it on to how "
            "many steps in all? (A fork keeps this run as it is.)", plan.suggested, plan.step + 1, 10**9, 100)
        return value if ok else None

    def _confirm_resume(self, run_dir: Path, own: Config, wanted: Config, allowed: dict, refused: dict) -> bool:
        from core.runs.fork import differences

        values = differences(own, wanted)
        lines = [f"Resume {run_dir.name} with these changes?", ""] if allowed else \
            [f"Resume {run_dir.name} with the settings it trained with?"]
        lines += [f"    {change_line(key, *values[key])}" for key in allowed]
        if refused:
            lines += ["", "Left as the run trained (a resume cannot change them):"]
            lines += [f"    {change_line(key, *values[key])}: {why}" for key, why in refused.items()]
        answer = QMessageBox.question(self.p.dialog_parent, "Resume with changes?" if allowed else "Resume the run?",
                                      "\n".join(lines), QMessageBox.Ok | QMessageBox.Cancel, QMessageBox.Ok)
        return answer != QMessageBox.Cancel

    def attach(self, run_dir: str | Path) -> None:
        """Follow a run another process trains (headless, torchrun, another machine's mounted folder):
        its curves, grids and readings appear as they are written; the controls steer it through its
        control channel; closing the window leaves it running."""
        p = self.p
        if p.session.active:
            return
        from core.runs.notes import display_name

        run_dir = Path(run_dir)
        self.model.show(run_dir, Origin.ATTACHED, display_name(run_dir))
        self.model.set_state(RunState.LOADING)
        p.session.attach(run_dir)

    def sweep_trial(self, e: ev.TrialStarted) -> None:
        """A sweep's next trial starts training (the session's sweep, studio/panels/sweep_panel.py): it is
        the run shown from now. Not fresh: the sweep's study holds it, so closing never discards it."""
        from core.runs.notes import display_name

        run_dir = Path(e.run_dir)
        name = display_name(run_dir) if RunFolder(run_dir).run_json.is_file() else \
            f"{run_dir.parent.name} · trial {e.number}"
        self.model.show(run_dir, Origin.TRIAL, name)
        self.model.set_state(RunState.LOADING)

    def fork_from(self, source: str | Path, run_dir: str | Path | None = None,
                  changes: dict | None = None) -> Path | None:
        """A new run from a run folder's latest checkpoint or a kept one (checkpoints/step_N.pt). It
        starts with the parent's settings; the fork dialog lists where the form differs, and the fork
        takes only the differences the person ticks (`changes`, 'section.field' -> value, instead of
        asking). It is named as a fork of its parent unless the person names it. The parent is only read."""
        p = self.p
        if p.session.active:
            return None
        from core.runs.fork import checkpoint_step, parent_of, run_settings
        from core.runs.notes import MAX_NAME, display_name

        checkpoint, parent = parent_of(source)
        if not checkpoint.is_file():
            p.say(f"Cannot fork: {checkpoint} does not exist", "error")
            return None
        step = checkpoint_step(checkpoint)
        if changes is None:
            try:
                parent_config = run_settings(parent, step)
            except ConfigError as e:
                p.say(f"Cannot fork: {e}", "error")
                return None
            dialog = ForkSettingsDialog(display_name(parent), step, parent_config, p.form.current_config(),
                                        p.dialog_parent)
            accepted = dialog.exec() == ForkSettingsDialog.Accepted
            changes = dialog.changes()
            dialog.deleteLater()
            if not accepted:
                return None
        names = self._names("fork")
        if names is None:
            return None
        label = str(step) if step is not None else (checkpoint.stem.removeprefix("step_").lstrip("0") or "0")
        parent_name = display_name(parent)
        if not names.get("name") or names["name"] == parent_name:  # never the parent's name twice in the library
            names = {**names, "name": fork_name(parent_name, label)[:MAX_NAME]}
        path = Path(run_dir) if run_dir else new_run_path(p.runs_root(), f"{parent.name}-fork-{label}")
        try:
            check_new_run_folder(path)
        except RunFolderError as e:
            p.say(f"Cannot fork: {e}", "error")
            return None
        self._begin(None, path, str(checkpoint), Origin.FORKED, changes=changes, names=names)
        return path

    def _begin(self, config: Config | None, run_dir: Path, checkpoint: str | None, origin: Origin,
               changes: dict | None = None, names: dict | None = None, name: str = "") -> None:
        p = self.p
        fresh = origin in (Origin.NEW, Origin.FORKED)
        self.model.show(run_dir, origin, name or (names or {}).get("name") or run_dir.name, fresh=fresh)
        if names:
            p.names.clear()  # the next run gets its own name
        self.model.set_state(RunState.LOADING)
        p.session.start(config, run_dir, checkpoint, origin == Origin.FORKED, changes, names)

    # --- a resumed or forked run's past ---

    def started(self, e: ev.Started) -> None:
        """A run resumed or forked in this window: show what came before it, then its live events."""
        p = self.p
        run_dir = self.model.run_dir
        self.model.config = Config.from_dict(e.config)
        if e.step <= 0 or run_dir is None or p.session.attached:
            return
        from core.runs.folder import read_lineage

        parent = read_lineage(run_dir).get("parent")
        if parent and self.model.origin == Origin.FORKED:
            self.load_history(Path(parent), e.step, samples=False)
            p.say(f"Forked {Path(parent).name} at step {e.step:,} into {run_dir.name}; the parent is unchanged.",
                  "info")
        else:
            self.load_history(run_dir, e.step)
            p.say(f"Resumed {self.model.name} at step {e.step:,} of {e.total_steps:,}.", "info")

    def load_history(self, run_dir: Path, up_to: int, samples: bool = True) -> None:
        """The run's readings, changes and grids up to `up_to`, read on a job thread; the live events that
        arrive meanwhile are held and shown after them, in order."""
        token = self.model.hold_live_events()
        # Callbacks are bound methods: a job's results reach a QObject's method on its (the GUI) thread,
        # where a lambda would run on the job's thread.
        self.p.jobs.submit(lambda: (token, or_none(read_history, run_dir, up_to, samples)), self._history_read,
                           self._history_failed)

    def _history_failed(self, text: str) -> None:
        self._history_read((self.model.token, None))

    def _history_read(self, result: tuple) -> None:
        token, history = result
        history: RunHistory | None
        if history is not None and history.samples is not None and token == self.model.token:
            self.model.history_samples.emit(str(history.run_dir), history.samples)
        if self.model.history_read(token, history.events() if history is not None else []):
            self.history_loaded.emit(str(history.run_dir) if history is not None else "")


def fork_name(parent_name: str, step_label: str) -> str:
    """What a fork is called unless the person names it."""
    return f"{parent_name} · fork at {int(step_label):,}" if step_label.isdigit() else f"{parent_name} · fork"
