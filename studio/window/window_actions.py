"""The window's menus and toolbar, what each action and signal is wired to, and the actions' enabled state.

Functions of the window (not an object that keeps it): `build` once, `connect` once, `refresh`
whenever the run shown, its state or the form changes. Enabled states follow the model of the run
shown; after a button or a dialog, the keys go back to the window so that Space pauses.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QLineEdit, QMainWindow

from core import events as ev
from core.config import Config
from core.runs.folder import RunFolder
from studio.model.shown_run import STATE_TEXT, TRAINING, Origin, RunState


def build(w: QMainWindow) -> None:
    w.resume_action = QAction("Resume run", w, objectName="resumeRun")
    w.resume_action.setShortcut(QKeySequence("Ctrl+Shift+R"))
    tip = ("Train the run shown on from its latest checkpoint, with its own settings (edits in the form "
           "are listed and asked about first) (Ctrl+Shift+R)")
    w.resume_action.setToolTip(tip)
    w.resume_action.setStatusTip(tip)
    w.rename_action = QAction("Rename run…", w, objectName="renameRun")
    w.rename_action.setStatusTip("Give the run shown a name and a line of notes (its run.json)")
    w.addActions([w.resume_action, w.rename_action])
    c = w.controls
    toolbar = c.toolbar(w)
    toolbar.insertAction(c.open_generator, w.resume_action)
    w.addToolBar(toolbar)
    file_menu = w.menuBar().addMenu("&File")
    for action in (c.open_run, w.resume_action, w.rename_action, c.open_generator, None, c.save_generator,
                   c.save_checkpoint, c.export, w.share.timelapse, w.share.onnx, None, c.quit):
        file_menu.addSeparator() if action is None else file_menu.addAction(action)
    run_menu = w.menuBar().addMenu("&Run")
    for action in (c.start, c.pause, c.step, c.stop, None, c.resample):
        run_menu.addSeparator() if action is None else run_menu.addAction(action)
    view = w.menuBar().addMenu("&View")
    for dock in w.docks.right:
        action = dock.toggleViewAction()
        action.setShortcut(w.docks.shortcuts[dock])
        view.addAction(action)
    view.addSeparator()
    reset = view.addAction("Reset layout", w.reset_layout)
    reset.setObjectName("resetLayout")
    reset.setStatusTip("Put the panels back where they were at the first start: the docks, and the "
                       "plots', gallery's and quality panel's sizes")
    w.menuBar().addMenu("&Settings").addAction("Runs folder…", w.choose_runs_root)


def connect(w: QMainWindow) -> None:
    c, s, m, f = w.controls, w.session, w.model, w.files
    c.start.triggered.connect(lambda: w.start_training())
    c.pause.triggered.connect(w.toggle_pause)
    c.step.triggered.connect(w.step_once)
    c.stop.triggered.connect(w.stop)
    c.save_generator.triggered.connect(lambda: f.save_generator())
    c.save_checkpoint.triggered.connect(lambda: f.save_checkpoint())
    c.open_run.triggered.connect(lambda: w.open_run())
    w.resume_action.triggered.connect(lambda: w.resume_run())
    w.rename_action.triggered.connect(lambda: w.rename_run())
    c.open_generator.triggered.connect(lambda: f.open_generator())
    c.export.triggered.connect(lambda: f.export_samples())
    c.resample.triggered.connect(lambda: f.resample())
    c.quit.triggered.connect(w.close)
    for action in (*c.all(), w.resume_action, w.rename_action, w.share.timelapse, w.share.onnx):
        action.triggered.connect(lambda *_: QTimer.singleShot(0, w, lambda: keys_to_window(w)))

    # The model of the run shown: title, state, actions.
    m.changed.connect(lambda: w.setWindowTitle(m.title))
    m.changed.connect(w.refresh_actions)
    m.run_state_changed.connect(lambda state: _state_shown(w, RunState(state)))
    m.cleared.connect(w.message_bar.dismiss)
    m.hyperparams_changed.connect(lambda e: _form_follows_changes(w, e))
    s.hyperparams_changed.connect(lambda e: w.status.show_note(change_text(e), 5000))
    s.started.connect(lambda e: on_started(w, e))
    s.state_changed.connect(m.trainer_state)
    s.state_changed.connect(lambda e: e.state != "loading" and w.status.set_step(e.step))
    s.progress.connect(w.status.task_progress)
    s.notice.connect(lambda text: w.message_bar.show_message(text, "info"))
    s.error.connect(lambda step, text: w.message_bar.show_message(
        f"{text} (step {step:,})" if step else text, "error"))
    s.error.connect(lambda *_: keys_to_window(w))
    s.saved.connect(lambda step, kind, path: _on_saved(w, step, kind, path))
    s.finished.connect(lambda e: on_finished(w, e))
    s.thread_done.connect(w.refresh_actions)
    s.heartbeat.connect(w.status.show_heartbeat)
    s.trial_started.connect(w.opener.sweep_trial)  # a sweep's trial is the run shown (its events: s's)
    s.started.connect(lambda e: w.library.run_started(m.run_dir, m.fresh))

    # The form: validity, live changes, the folder preview, the next run's quality panel.
    form = w.config_panel
    form.validity_changed.connect(lambda *_: w.refresh_actions())
    form.validity_changed.connect(lambda *_: _form_changed(w))
    form.live_change_requested.connect(w.apply_live_change)
    form.folder_chosen.connect(lambda folder: w.folders.remember("dataset", folder))
    w.data_preview.ready.connect(lambda preview: _on_data_preview(w, preview))
    w.data_preview.failed.connect(lambda text: w.message_bar.show_message(text, "error"))
    w.data_preview.progress.connect(lambda done, total: w.status.task_progress("Decoding pictures", done, total))

    # Files, sharing, the library, the sweep, the explorer.
    f.grid_ready.connect(lambda grid, title, labels: w.gallery.show_single(grid, title, labels))
    f.note.connect(w.status.set_state)
    f.generator_loaded.connect(w.explorer.open_file)
    f.generator_loaded.connect(lambda path: on_generator_loaded(w, path))
    w.share.written.connect(lambda path: w.message_bar.show_message(f"Wrote {path}", "success"))
    w.share.failed.connect(lambda text: w.message_bar.show_message(text, "error"))
    w.gallery.cell_picked.connect(w.explorer.pick_cell)
    w.gallery.fork_requested.connect(w.library.fork_at)
    w.library.open_requested.connect(w.open_run)
    w.library.resume_requested.connect(w.resume_run)
    w.library.renamed.connect(m.rename)
    w.library.fork_requested.connect(w.fork_from)
    w.library.message.connect(w.message_bar.show_message)
    w.sweep_panel.open_requested.connect(w.open_run)
    w.sweep_panel.fork_requested.connect(w.fork_from)
    w.sweep_panel.overlay_requested.connect(w.library.set_overlaid)
    w.run_finished.connect(lambda e: w.library.refresh())
    w.opener.run_viewed.connect(w.run_viewed)
    w.run_viewed.connect(w.explorer.show_run)
    w.opener.history_loaded.connect(w.history_loaded)


def refresh(w: QMainWindow) -> None:
    m = w.model
    run = m.run_dir
    has_generator = bool(run and RunFolder(run).generator.is_file())
    has_checkpoint = bool(run and RunFolder(run).last_checkpoint.is_file())
    idle = m.state == RunState.IDLE
    w.controls.set_state(m.state.value if m.state != RunState.OPENING else "idle",
                         w.config_panel.current_config() is not None, has_generator, has_checkpoint,
                         w.files.loaded_generator is not None)
    # Resume: the run shown, opened, stopped or finished here, with a checkpoint to go on from.
    w.resume_action.setEnabled(idle and run is not None and has_checkpoint and not w.session.active
                               and m.origin not in (Origin.ATTACHED, Origin.GENERATOR, Origin.NONE))
    w.rename_action.setEnabled(run is not None and run.is_dir())
    w.share.refresh(not idle)


def keys_to_window(w: QMainWindow) -> None:
    """After a button, a dialog or a failed job, no text field keeps the keys: Space pauses."""
    focus = QApplication.focusWidget()
    if focus is None or isinstance(focus, QLineEdit) or focus.window() is not w:
        w.setFocus(Qt.OtherFocusReason)


def change_text(e) -> str:
    text = ", ".join(f"{k.split('.', 1)[1]} → {_fmt(v)}" for k, v in e.changes.items())
    return f"{text} (applied at step {e.step:,})"


def apply_live_change(w: QMainWindow, changes: dict) -> bool:
    """Queue hyperparameter changes for the next step boundary; refused with core's message."""
    from core.config import ConfigError

    current = w.session.config
    if current is not None:
        changes = {k: v for k, v in changes.items() if _normal(current, k) != _normal_value(v)}
        if not changes:
            return True
    try:
        w.session.change(**changes)
    except (ConfigError, ValueError, RuntimeError) as e:
        w.config_panel.show_error(str(e))
        w.message_bar.show_message(f"Change refused: {e}", "warning")
        return False
    w.status.show_note("Change queued for the next step boundary", 3000)
    return True


def _state_shown(w: QMainWindow, state: RunState) -> None:
    training = state in TRAINING
    w.config_panel.set_training(training)
    w.names.set_training(training)
    w.status.set_state(STATE_TEXT[state])
    w.status.set_paused(state == RunState.PAUSED)
    w.refresh_actions()


def _form_follows_changes(w: QMainWindow, e) -> None:
    """The form shows what the trainer uses now (live changes, and those of a run's history)."""
    if w.model.training or w.model.viewing is not None:
        for key, value in e.changes.items():
            if key in w.config_panel.editors:
                w.config_panel.editors[key].set_value(value)


def _on_saved(w: QMainWindow, step: int, kind: str, path: str) -> None:
    if w.files.on_saved(step, kind, path):  # the snapshot an export waited for
        return
    what = "Generator" if kind == "generator" else "Checkpoint"
    w.message_bar.show_message(f"{what} saved at step {step:,}: {path}", "success")


def _form_changed(w: QMainWindow) -> None:
    """The form is the next run's (no run shown, or edited away from the one shown): the quality panel
    says what that run will read, and a folder of pictures is previewed."""
    config = w.config_panel.current_config()
    if config is None or w.model.training or not w.opener.form_edited():
        return
    if w.model.run_dir is None:
        w.quality_panel.expect(config)
    if config.data.dataset == "folder":
        w.data_preview.request(config.data.folder, config.data.image_size, config.data.channels)
    elif w.model.run_dir is None:
        w.gallery.reset(None, "Samples")
        w.status.reset()
        w.status.set_state(STATE_TEXT[w.model.state])


def _kinds_words(kinds: tuple[tuple[str, int], ...], config) -> str:
    """What the preview says of the folder's sub-folders: the kinds the clusters will keep apart."""
    if not kinds:
        return ""
    shown = ", ".join(f"{name or 'the folder itself'} {n:,}" for name, n in kinds[:6]) + (", …" if len(kinds) > 6 else "")
    drawn = (" Each is drawn as often as it holds pictures." if config.model.clusters_by_folder
             and config.model.clusters != 0 else "")
    return f" They lie in {len(kinds)} sub-folders ({shown}).{drawn}"


def _on_data_preview(w: QMainWindow, p) -> None:
    config = w.config_panel.current_config()
    if w.model.training or not w.opener.form_edited() or config is None or config.data.dataset != "folder":
        return  # a run shown keeps its grids; a preview that came after the form moved on is moot
    skipped = f", {p.skipped:,} skipped" if p.skipped else ""
    w.gallery.show_single(p.grid, f"Your pictures · {p.count:,} found{skipped} · {p.size}×{p.size} px, "
                          "as the generator will learn them")
    names = f" ({', '.join(p.skipped_files[:5])}{', …' if p.skipped > 5 else ''})" if p.skipped else ""
    w.message_bar.show_message(
        f"Found {p.count:,} pictures in {p.folder}{skipped}{names}.{_kinds_words(p.kinds, config)} The grid shows "
        f"them centre-cropped and resized to {p.size}×{p.size}, as training will see them.",
        "warning" if p.skipped else "info")
    w.status.set_state("Ready")
    w.status.progress.setFormat(f"{p.count:,} pictures")


def _fmt(value) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _normal(config, key: str):
    section, name = key.split(".", 1)
    return _normal_value(getattr(getattr(config, section), name))


def _normal_value(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


# --- the trainer's word, and a generator opened ---

def on_started(w: QMainWindow, e: ev.Started) -> None:
    config = Config.from_dict(e.config)
    w.config_panel.set_config(config)
    w.quality_panel.expect(config)
    w.status.started(e.step, e.total_steps, e.device, e.dataset, e.dataset_size, config.run.batch_size)
    if w.session.attached:  # its whole history arrives from the follower
        w.model.config = config
        w.message_bar.show_message(f"Attached to {w.model.name}, which {e.device.split(': ', 1)[-1]} "
                                      "trains: its progress appears as it is written, the controls steer it, "
                                      "and closing this window leaves it running.", "info")
    else:  # resumed or forked: show what came before
        w.opener.started(e)

def on_finished(w: QMainWindow, e: ev.Finished) -> None:
    w.model.ended(e)
    w.status.idle()
    w.status.set_step(e.step)
    w.status.set_state("Stopped" if e.stopped else "Finished")
    w.refresh_actions()
    w.run_finished.emit(e)

def on_generator_loaded(w: QMainWindow, path: str) -> None:
    """A loaded generator of another run is shown on its own: not beside the last run's curves."""
    if w.model.origin == Origin.GENERATOR and w.files.loaded_generator == path:
        return  # new samples of the generator shown
    if w.model.run_dir is None or Path(path).resolve().parent != w.model.run_dir.resolve():
        w.model.show(None, Origin.GENERATOR, Path(path).parent.name)
        w.status.set_state("Generator loaded")
    w.files.loaded_generator = path
    w.refresh_actions()
