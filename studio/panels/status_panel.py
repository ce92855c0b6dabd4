"""Status bar contents: state, step, epoch, images/s, ETA, newest Frechet distance, device, progress.

An attached run reports its step twice: in its heartbeat (every few seconds) and in the metrics rows
(every run.log_every steps, after a backlog replayed at once on attaching). The step shown is the
newer of the two. Its ETA comes from the heartbeats' own (step, time) pairs over the last minute, on
the writer's clock, so neither the replay nor a slow network mount skews it; until two running
beats show progress, the ETA is hidden rather than guessed.
"""

from __future__ import annotations

from collections import deque

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar

from studio.widgets.elided_label import ElidedLabel


def _eta(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "—"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m" if h else f"{m}m {s:02d}s" if m else f"{s}s"


RATE_WINDOW_S = 60.0  # an attached run's rate: its progress over about the last minute of heartbeats


class StatusPanel:
    """Fills a QStatusBar; updated from worker signals only.

    Passing notes and status tips go to a label of their own between the state and the
    figures, elided to the room it has: QStatusBar's own messages hide the state and run
    into the figures."""

    def __init__(self, bar: QStatusBar):
        self.state = QLabel("Ready", objectName="statusState")
        self.note = ElidedLabel(objectName="statusNote")
        self._note_timer = QTimer(bar, singleShot=True)
        self._note_timer.timeout.connect(lambda: self.note.setText(""))
        self.step = QLabel("", objectName="statusStep")
        self.epoch = QLabel("", objectName="statusEpoch")
        self.speed = QLabel("", objectName="statusSpeed")
        self.eta = QLabel("", objectName="statusEta")
        self.quality = QLabel("", objectName="statusQuality")
        self.device = QLabel("", objectName="statusDevice")
        self.progress = QProgressBar(objectName="progress")
        self.progress.setFixedWidth(220)
        self.progress.setTextVisible(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        bar.addWidget(self.state)
        bar.addWidget(self.note, 1)
        for w in (self.step, self.epoch, self.speed, self.eta, self.quality, self.device):
            bar.addPermanentWidget(w)
        bar.addPermanentWidget(self.progress)
        self.total = 0
        self.batch = 1
        self._reported_step = 0  # the trainer's or heartbeat's word (state changes, beats)
        self._metrics_step = 0  # the newest metrics row's
        self._attached = False  # heartbeats arrive: the rate comes from them, not from images/s
        self._beats: deque[tuple[float, int]] = deque()  # (writer's time, step) while running
        self._paused = False
        self._running_from = 0  # the step it last ran on from: a rate needs more than one step since

    def follow_run(self, model) -> None:
        """The run shown's figures (studio/model/shown_run.py): cleared with it, its metrics and readings."""
        model.cleared.connect(lambda: (self.reset(attached=model.origin == "attached"), self.set_quality(None)))
        model.metrics.connect(self.metrics)
        model.quality.connect(self.set_quality)
        model.quality_off.connect(self.quality_off)
        model.changed.connect(lambda: model.config is not None and not self.total and
                              self.set_total(model.config.run.steps))
        model.changed.connect(lambda: model.step and self.set_step(max(model.step, self._reported_step)))

    def set_paused(self, paused: bool) -> None:
        """Paused: no rate and no ETA (nothing moves); they come back with the next running metrics."""
        if self._paused and not paused:
            self._running_from = self.shown_step
        self._paused = paused
        if paused:
            self.speed.setText("paused")
            self.eta.setText("")

    def reset(self, attached: bool = False) -> None:
        """A new run (or none): nothing of the last run's figures stays. An attached run's ETA waits for
        its heartbeats (its backlog of metrics rows arrives all at once, before them)."""
        self.total, self.batch = 0, 1
        self._reported_step = self._metrics_step = 0
        self._attached = attached
        self._beats.clear()
        for label in (self.step, self.epoch, self.speed, self.eta, self.quality, self.device):
            label.setText("")
            label.setToolTip("")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")

    def started(self, step: int, total: int, device: str, dataset: str, size: int, batch: int) -> None:
        self.total, self.batch = total, max(1, batch)
        self.device.setText(f"{device} · {dataset} ({size:,} images)")
        self.progress.setRange(0, max(1, total))
        self.set_step(step)

    def set_state(self, text: str) -> None:
        self.state.setText(text)

    def set_total(self, total: int) -> None:
        """The planned steps of a run shown but not trained (no device, no rate)."""
        self.total = total
        self.progress.setRange(0, max(1, total))
        self._show_step()

    def show_note(self, text: str, timeout_ms: int = 0) -> None:
        """A passing message (or a status tip; '' clears it), gone after timeout_ms when given."""
        self.note.setText(text)
        self.note.setToolTip(text)
        if timeout_ms:
            self._note_timer.start(timeout_ms)
        else:
            self._note_timer.stop()

    def task_progress(self, task: str, done: int, total: int) -> None:
        """Work before training starts (decoding a new image folder): on the progress bar."""
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"{task} {done:,}/{total:,}")

    def set_step(self, step: int) -> None:
        """The step the trainer (or the heartbeat) reports; shown unless a metrics row is newer."""
        self._reported_step = step
        self._show_step()

    @property
    def shown_step(self) -> int:
        return max(self._reported_step, self._metrics_step)

    def _show_step(self) -> None:
        step = self.shown_step
        self.step.setText(f"step {step:,} / {self.total:,}")
        self.progress.setValue(min(step, self.progress.maximum()))
        self.progress.setFormat(f"{100 * step / max(1, self.total):.0f} %")

    def metrics(self, m) -> None:
        self._metrics_step = m.step
        self._show_step()
        self.epoch.setText(f"epoch {m.epoch:.2f}")
        if self._paused or m.step <= self._running_from + 1:  # a single step's rate says nothing about the run's
            return
        self.speed.setText(f"{m.images_per_s:,.0f} img/s")
        if not self._attached:  # the trainer's own recent rate (an attached run's comes from its beats)
            self._show_eta(m.images_per_s / self.batch)

    def _show_eta(self, steps_per_s: float | None) -> None:
        """Hidden until the rate is known."""
        remaining = max(0, self.total - self.shown_step)
        self.eta.setText(f"ETA {_eta(remaining / steps_per_s)}" if steps_per_s and steps_per_s > 0 else "")

    def _beat_rate(self) -> float | None:
        """Steps a second over the heartbeats of the last minute (at least two, a second apart)."""
        if len(self._beats) < 2:
            return None
        (t0, s0), (t1, s1) = self._beats[0], self._beats[-1]
        return (s1 - s0) / (t1 - t0) if t1 - t0 >= 1.0 and s1 > s0 else None

    def set_quality(self, q) -> None:
        """The newest quality reading (ev.Quality), or None to clear."""
        if q is None:
            self.quality.setText("")
            self.quality.setToolTip("")
            return
        from studio.panels.quality_panel import collapse_text

        warn = " ⚠" if collapse_text(q)[1] == "warning" else ""
        self.quality.setText(f"FD {q.frechet:.3g}{warn}")
        tip = (f"Fréchet distance at step {q.step:,}: lower is better, real digits score about 1.")
        if warn:
            tip += " The class histogram suggests mode collapse (see the quality panel)."
        self.quality.setToolTip(tip)

    def quality_off(self, reason: str) -> None:
        self.quality.setText("quality off")
        self.quality.setToolTip(f"Quality readings are off for this run: {reason}")

    def show_heartbeat(self, beat) -> None:
        """An attached run's heartbeat: where it trains and whether it is alive."""
        import time

        self._attached = True
        if beat is None:
            self.device.setText("attached · no heartbeat")
            return
        if beat.total_steps and beat.total_steps != self.total:  # steps may be changed live
            self.total = beat.total_steps
            self.progress.setRange(0, self.total)
        if beat.state == "running":
            if not self._beats or beat.time > self._beats[-1][0]:  # a beat read twice is one reading
                self._beats.append((beat.time, beat.step))
            while len(self._beats) > 2 and beat.time - self._beats[0][0] > RATE_WINDOW_S:
                self._beats.popleft()
        else:
            self._beats.clear()  # paused (or ended): the rate starts over when it runs again
        self._reported_step = beat.step
        self._show_step()
        self._show_eta(self._beat_rate())
        ago = max(0, time.time() - beat.time)
        life = "alive" if beat.alive() else ("ended" if not beat.live_state else "not heard from: lost?")
        self.device.setText(f"attached: {beat.host}, process {beat.pid} · {life} · heard {ago:.0f} s ago")

    def idle(self) -> None:
        self.speed.setText("")
        self.eta.setText("")
