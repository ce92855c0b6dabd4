"""Status bar contents: state, step, epoch, images/s, ETA, newest Frechet distance, device, progress."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar

from studio.elided_label import ElidedLabel


def _eta(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "—"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m" if h else f"{m}m {s:02d}s" if m else f"{s}s"


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

    def started(self, step: int, total: int, device: str, dataset: str, size: int, batch: int) -> None:
        self.total, self.batch = total, max(1, batch)
        self.device.setText(f"{device} · {dataset} ({size:,} images)")
        self.progress.setRange(0, max(1, total))
        self.set_step(step)

    def set_state(self, text: str) -> None:
        self.state.setText(text)

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
        self.step.setText(f"step {step:,} / {self.total:,}")
        self.progress.setValue(min(step, self.progress.maximum()))
        self.progress.setFormat(f"{100 * step / max(1, self.total):.0f} %")

    def metrics(self, m) -> None:
        self.set_step(m.step)
        self.epoch.setText(f"epoch {m.epoch:.2f}")
        self.speed.setText(f"{m.images_per_s:,.0f} img/s")
        steps_per_s = m.images_per_s / self.batch
        remaining = max(0, self.total - m.step)
        self.eta.setText(f"ETA {_eta(remaining / steps_per_s) if steps_per_s > 0 else '—'}")

    def set_quality(self, q) -> None:
        """The newest quality reading (ev.Quality), or None to clear."""
        if q is None:
            self.quality.setText("")
            self.quality.setToolTip("")
            return
        from studio.quality_panel import collapse_text

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

        if beat is None:
            self.device.setText("attached · no heartbeat")
            return
        ago = max(0, time.time() - beat.time)
        life = "alive" if beat.alive() else ("ended" if not beat.live_state else "not heard from: lost?")
        self.device.setText(f"attached: {beat.host}, process {beat.pid} · {life} · heard {ago:.0f} s ago")

    def idle(self) -> None:
        self.speed.setText("")
        self.eta.setText("")
