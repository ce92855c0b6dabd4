"""Which run the window shows, and how it came to show it: opened to look at, resumed, forked,
started, or attached to another process's run.

The opener owns that state (the run shown, whether this window made it, the run being viewed and
its own settings, the run's name) and the flows that change it: it asks the questions (resume with
the form's edits? train a loose checkpoint into a new folder? which settings does a fork change?),
reads a run's history on a job thread while the live events that arrive meanwhile wait, and hands
the session what to train. It talks to the window's panels; core decides what a path means.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

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
from studio.fork_dialog import ForkSettingsDialog, change_line


class RunOpener(QObject):
    run_viewed = Signal(str)  # a run folder opened to look at, once its history is shown
    history_loaded = Signal(str)  # a resumed run's (or a fork's parent's) history, once it is shown

    def __init__(self, window):
        super().__init__(window)
        self.w = window  # its panels, session, jobs, runs folder, state and actions
        self.run_dir: Path | None = None  # the run shown now (or last finished)
        self.fresh = False  # started in this window (Discard on close may delete it)
        # The run opened to look at (nothing trains it; nothing in it is written) and its own settings,
        # which Resume trains with: the form's edits since it was opened are asked about first.
        self.viewing: Path | None = None
        self.viewed_config: Config | None = None
        self.title = ""  # the shown run's name (run.json) or folder name: the window title
        self._view_token = 0  # a newer open (or a start) makes an older open's history moot
        self._history_token = 0
        self._held: list | None = None  # live events that came before the run's history was shown

    # --- open ---

    def open_run(self, path: str | None = None) -> None:
        w = self.w
        if not path:
            path, _ = QFileDialog.getOpenFileName(w, "Open a run (pick its config.json) or a checkpoint",
                                                  w.folders.get("open") or str(w.runs_root),
                                                  "Checkpoints and runs (*.pt config.json);;All files (*)")
        if not path:
            return
        try:
            meaning = classify(path)
        except RunFolderError as e:
            w.message_bar.show_message(f"Cannot open {e}", "error")
            return
        p = meaning.run_dir if meaning.kind == "run" else meaning.checkpoint
        w.folders.remember("open", p.parent if p.is_file() else p)
        from core.runs.heartbeat import running_elsewhere

        if meaning.kind == "run" and running_elsewhere(p):
            self.attach(p)  # another process trains it: follow and steer it, never train it twice
            return
        if meaning.kind != "loose checkpoint":  # a checkpoint of a run: show the run, it says how to go on
            self.view_run(meaning.run_dir, meaning.checkpoint)
            return
        # A loose checkpoint: training it on writes a new run folder, so ask first.
        answer = QMessageBox.question(
            w, "Resume the checkpoint?",
            f"{p} is not inside a run folder. Train it on with its own settings into a new run folder in "
            f"{w.runs_root}? The file itself is only read.", QMessageBox.Ok | QMessageBox.Cancel, QMessageBox.Ok)
        if answer != QMessageBox.Cancel:
            self.resume_from(p)

    def view_run(self, run_dir: str | Path, checkpoint: Path | None = None) -> None:
        """Show a run: its settings in the form, its curves, grids and readings (read on a job thread).
        Nothing in the folder is written; Resume trains it on, Fork starts a new run from it."""
        w = self.w
        if w.session.active:
            w.message_bar.show_message("Stop the run in this window first, then open another.", "warning")
            return
        from core.runs.notes import display_name

        run_dir = Path(run_dir)
        self._view_token += 1
        token = self._view_token
        self._held = None
        self._clear_panels(run_dir, f"Samples · {display_name(run_dir)}")
        self.run_dir = run_dir
        self.fresh = False
        self.viewing, self.viewed_config = run_dir, None
        w.status.set_state("Opening…")
        w.refresh_actions()
        w.jobs.submit(lambda: (token, read_view(run_dir), checkpoint), self._show_view, self._view_failed)

    def _show_view(self, result: tuple) -> None:
        w = self.w
        token, view, checkpoint = result
        if token != self._view_token or w.session.active:
            return  # opened another, or started something, meanwhile
        self.viewed_config = view.config
        if view.config is not None:
            w.config_panel.set_config(view.config)
            w.quality_panel.expect(view.config)
        self._show_history(view.history)
        if view.config is not None:
            w.status.set_total(view.config.run.steps)
        w.status.set_step(view.step)
        w.status.set_state("Viewing")
        self.set_title(view.name or view.history.run_dir.name, "viewing")
        name = view.name or view.history.run_dir.name
        of = f" of {view.config.run.steps:,}" if view.config is not None else ""
        if view.problem:
            w.message_bar.show_message(f"Showing {name}, which cannot be resumed: {view.problem}", "warning")
        else:
            go_on = "Resume (Ctrl+Shift+R) trains it on" if view.resumable else "it has no latest checkpoint"
            picked = ""
            if checkpoint is not None and checkpoint != RunFolder(view.history.run_dir).last_checkpoint:
                picked = f" To train from {checkpoint.name}, use Fork from here… on that step's grid."
            w.message_bar.show_message(f"Showing {name} at step {view.step:,}{of}: nothing in it changes. "
                                       f"{go_on}; Fork… in the Run library starts a new run from it.{picked}",
                                       "info")
        w.refresh_actions()
        self.run_viewed.emit(str(view.history.run_dir))

    def _view_failed(self, text: str) -> None:
        if self.viewing is not None and not self.w.session.active:
            self.w.status.set_state("Ready")
            self.w.message_bar.show_message(f"Cannot open {self.viewing}: {text}", "error")

    def form_edited(self) -> bool:
        """The form no longer shows the run being viewed (or none is): a preview of its images may show."""
        return self.viewing is None or self.viewed_config is None or \
            self.w.config_panel.current_config() != self.viewed_config

    def set_title(self, name: str, note: str = "") -> None:
        self.title = name
        self.w.setWindowTitle(f"GAN Studio — {name}" + (f" ({note})" if note else "") if name else "GAN Studio")

    def renamed(self, run_dir: str, name: str) -> None:
        if self.run_dir is not None and Path(run_dir).resolve() == self.run_dir.resolve():
            self.set_title(name or self.run_dir.name, "viewing" if self.viewing is not None else "")

    # --- train ---

    def start_training(self, config: Config | None = None, run_dir: str | Path | None = None) -> Path | None:
        """Start a new run (the form's config unless given); returns its run folder."""
        w = self.w
        if w.session.active:
            return None
        if config is None:
            try:
                config = w.config_panel.config()
            except ConfigError as e:
                w.message_bar.show_message(f"Cannot start: {e}", "error")
                return None
        else:
            w.config_panel.set_config(config)
        names = self._names("start")
        if names is None:
            return None
        path = Path(run_dir) if run_dir else new_run_path(w.runs_root)  # a new run never reuses a folder
        try:
            check_new_run_folder(path)
        except RunFolderError as e:
            w.message_bar.show_message(f"Cannot start: {e}", "error")
            return None
        self._begin(config, path, None, fresh=True, names=names)
        return path

    def _names(self, what: str) -> dict | None:
        """The name row's name and notes for a new run ({} when empty); None (and a message) when refused."""
        try:
            return self.w.names.values()
        except ValueError as e:
            self.w.message_bar.show_message(f"Cannot {what}: {e}", "error")
            return None

    def resume_from(self, path: str | Path) -> None:
        """Resume a run folder or a checkpoint file; the checkpoint loads on the worker thread."""
        if self.w.session.active:
            return
        try:
            meaning = classify(path)
        except RunFolderError as e:
            self.w.message_bar.show_message(f"Cannot resume {e}", "error")
            return
        if meaning.latest:
            self.resume_run(meaning.run_dir)
            return
        if meaning.kind == "run checkpoint":
            # An earlier moment of a run: continuing it in place would discard the run's later steps.
            self.fork_from(meaning.checkpoint)
            return
        path = meaning.checkpoint
        run_dir = new_run_path(self.w.runs_root, f"{path.stem}-resumed-{time.strftime('%H%M%S')}")
        self.viewing = None
        self._begin(None, run_dir, str(path), fresh=False)  # the checkpoint's own settings

    def resume_run(self, run_dir: str | Path | None = None) -> None:
        """Train a run on from its latest checkpoint with its own settings (the run shown, by default).
        Where the form was edited since the run was opened, the changes a resume may make are listed
        and asked about; the others are named with the reason and left as the run trained."""
        w = self.w
        if w.session.active:
            return
        from core.runs.fork import resume_changes, run_settings
        from core.runs.heartbeat import running_elsewhere

        run_dir = Path(run_dir) if run_dir else self.viewing
        if run_dir is None:
            w.message_bar.show_message("Open a run first (File ▸ Open run, or the Run library), then "
                                       "Resume it.", "warning")
            return
        if running_elsewhere(run_dir):
            self.attach(run_dir)  # another process trains it: follow it, never train it twice
            return
        checkpoint = checkpoint_path(run_dir)
        if not checkpoint.is_file():
            w.message_bar.show_message(f"Cannot resume {run_dir.name}: it has no checkpoints/last.pt. Fork it "
                                       "from a kept checkpoint instead (Run library ▸ Fork…).", "error")
            return
        try:
            own = run_settings(run_dir)
        except ConfigError as e:
            w.message_bar.show_message(f"Cannot resume {run_dir.name}: {e}", "error")
            return
        wanted = own
        if self.viewing is not None and self.viewing.resolve() == run_dir.resolve():  # the form shows this run
            wanted = w.config_panel.current_config()
            if wanted is None:
                w.message_bar.show_message(f"Cannot resume: {w.config_panel.error}", "error")
                return
        allowed, refused = resume_changes(own, wanted)
        if (allowed or refused) and not self._confirm_resume(run_dir, own, wanted, allowed, refused):
            return
        self.viewing = None
        from core.runs.notes import display_name

        self._begin(None, run_dir, str(checkpoint), fresh=False, changes=allowed, title=display_name(run_dir))

    def _confirm_resume(self, run_dir: Path, own: Config, wanted: Config, allowed: dict, refused: dict) -> bool:
        from core.runs.fork import differences

        values = differences(own, wanted)
        lines = [f"Resume {run_dir.name} with these changes?", ""] if allowed else \
            [f"Resume {run_dir.name} with the settings it trained with?"]
        lines += [f"    {change_line(key, *values[key])}" for key in allowed]
        if refused:
            lines += ["", "Left as the run trained (a resume cannot change them):"]
            lines += [f"    {change_line(key, *values[key])}: {why}" for key, why in refused.items()]
        answer = QMessageBox.question(self.w, "Resume with changes?" if allowed else "Resume the run?",
                                      "\n".join(lines), QMessageBox.Ok | QMessageBox.Cancel, QMessageBox.Ok)
        return answer != QMessageBox.Cancel

    def attach(self, run_dir: str | Path) -> None:
        """Follow a run another process trains (headless, torchrun, another machine's mounted folder):
        its curves, grids and readings appear as they are written; the controls steer it through its
        control channel; closing the window leaves it running."""
        w = self.w
        if w.session.active:
            return
        run_dir = Path(run_dir)
        self._clear_panels(run_dir, f"Samples · {run_dir.name} (attached)", attached=True)
        self.run_dir = run_dir
        self.fresh = False
        self.viewing = None
        self._view_token += 1
        from core.runs.notes import display_name
        self.set_title(display_name(run_dir))
        w.set_state("loading")
        w.session.attach(run_dir)

    def sweep_trial(self, e: ev.TrialStarted) -> None:
        """A sweep's next trial starts training (the session's sweep, studio/sweep_panel.py): it is the
        run shown from now. Not fresh: the sweep's study holds it, so closing the window never discards it."""
        run_dir = Path(e.run_dir)
        self.viewing = None
        self._view_token += 1  # an open still reading its history: moot now
        self._held = None
        self.set_title(f"{run_dir.parent.name} · trial {e.number}")
        self._clear_panels(run_dir, f"Samples · {self.title}")
        self.run_dir = run_dir
        self.fresh = False

    def fork_from(self, source: str | Path, run_dir: str | Path | None = None,
                  changes: dict | None = None) -> Path | None:
        """A new run from a run folder's latest checkpoint or a kept one (checkpoints/step_N.pt). It
        starts with the parent's settings; the fork dialog lists where the form differs, and the fork
        takes only the differences the person ticks (`changes`, 'section.field' -> value, instead of
        asking). The parent is only read."""
        w = self.w
        if w.session.active:
            return None
        from core.runs.fork import checkpoint_step, parent_of, run_settings
        from core.runs.notes import display_name

        checkpoint, parent = parent_of(source)
        if not checkpoint.is_file():
            w.message_bar.show_message(f"Cannot fork: {checkpoint} does not exist", "error")
            return None
        step = checkpoint_step(checkpoint)
        if changes is None:
            try:
                parent_config = run_settings(parent, step)
            except ConfigError as e:
                w.message_bar.show_message(f"Cannot fork: {e}", "error")
                return None
            dialog = ForkSettingsDialog(display_name(parent), step, parent_config,
                                        w.config_panel.current_config(), w)
            accepted = dialog.exec() == ForkSettingsDialog.Accepted
            changes = dialog.changes()
            dialog.deleteLater()
            if not accepted:
                return None
        names = self._names("fork")
        if names is None:
            return None
        label = str(step) if step is not None else (checkpoint.stem.removeprefix("step_").lstrip("0") or "0")
        path = Path(run_dir) if run_dir else new_run_path(w.runs_root, f"{parent.name}-fork-{label}")
        try:
            check_new_run_folder(path)
        except RunFolderError as e:
            w.message_bar.show_message(f"Cannot fork: {e}", "error")
            return None
        self._begin(None, path, str(checkpoint), fresh=True, fork=True, changes=changes, names=names)
        return path

    def _begin(self, config: Config | None, run_dir: Path, checkpoint: str | None, fresh: bool,
               fork: bool = False, changes: dict | None = None, names: dict | None = None,
               title: str = "") -> None:
        w = self.w
        self.viewing = None
        self._view_token += 1  # an open still reading its history: moot now
        self._held = None
        self.set_title(title or (names or {}).get("name") or run_dir.name)
        if names:
            w.names.clear()  # the next run gets its own name
        self._clear_panels(run_dir, f"Samples · {self.title}")
        self.run_dir = run_dir
        self.fresh = fresh
        w.set_state("loading")
        w.session.start(config, run_dir, checkpoint, fork, changes, names)

    def _clear_panels(self, run_dir: Path, gallery_title: str, attached: bool = False) -> None:
        """The last run's curves, grids, readings and figures go; `run_dir` is shown next."""
        w = self.w
        w.message_bar.dismiss()
        w.loss_plots.clear()
        w.gallery.reset(run_dir, gallery_title)
        if attached:
            w.gallery.load_history(run_dir)
        w.quality_panel.reset()
        w.status.reset(attached=attached)  # the last run's step, epoch, ETA and device (attached: ETA waits)
        w.status.set_quality(None)
        w.library.overlays.set_current(run_dir)  # never overlaid on itself
        w.files.loaded_generator = None

    # --- a resumed or forked run's past ---

    def started(self, e: ev.Started) -> None:
        """A run resumed or forked in this window: show what came before it, then its live events."""
        w = self.w
        if e.step <= 0 or self.run_dir is None or w.session.attached:
            return
        from core.runs.folder import read_lineage

        parent = read_lineage(self.run_dir).get("parent")
        if parent and self.fresh:
            self.load_history(Path(parent), e.step, samples=False)
            w.message_bar.show_message(f"Forked {Path(parent).name} at step {e.step:,} into "
                                       f"{self.run_dir.name}; the parent is unchanged.", "info")
        else:
            self.load_history(self.run_dir, e.step)
            w.message_bar.show_message(f"Resumed {self.run_dir.name} at step {e.step:,} of "
                                       f"{e.total_steps:,}.", "info")

    def load_history(self, run_dir: Path, up_to: int, samples: bool = True) -> None:
        """The run's readings and grids up to `up_to`, read on a job thread; the live events that
        arrive meanwhile are held and shown after them, in order."""
        self._history_token += 1
        token, self._held = self._history_token, []
        # Callbacks are bound methods: a job's results reach a QObject's method on its (the GUI) thread,
        # where a lambda would run on the job's thread.
        self.w.jobs.submit(lambda: (token, or_none(read_history, run_dir, up_to, samples)), self._history_read,
                           self._history_failed)

    def _history_failed(self, text: str) -> None:
        self._history_read((self._history_token, None))

    def _history_read(self, result: tuple) -> None:
        token, history = result
        if token != self._history_token or self._held is None:
            return  # another run started since
        if history is not None:
            self._show_history(history)
        held, self._held = self._held, None
        for handler, event in held:
            handler(event)
        self.history_loaded.emit(str(history.run_dir) if history is not None else "")

    def _show_history(self, h: RunHistory) -> None:
        w = self.w
        for m in h.metrics:
            w.loss_plots.add_metrics(m)
        if h.samples is not None:
            w.gallery.set_history(h.run_dir, h.samples)
        for q in h.quality:
            w.quality_panel.add_quality(q)
        for q in h.image_quality:
            w.quality_panel.add_image_quality(q)
        if h.quality or h.image_quality:
            w.status.set_quality(w.quality_panel.latest)

    def hold(self, handler, event) -> bool:
        """True when `event` waits for the history being read (then handler(event) comes after it)."""
        if self._held is None:
            return False
        self._held.append((handler, event))
        return True
