"""The GUI side of a run another process trains: its follower's thread (studio/run_follower.py)
relayed into the session's signals, and the person's commands sent through the run's control
channel (core/runs/channel.py) on background jobs, so the window never waits for an answer.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from core.runs.folder import RunFolder
from studio.bridge import qthreads
from studio.bridge.jobs import JobRunner
from studio.bridge.run_follower import RunFollower
from studio.model.event_signals import relay


class Attachment(QObject):
    stop_following = Signal()  # queued to the follower's thread
    answered = Signal(str, object)  # command, core.runs.channel.Ack

    def __init__(self, run_dir: str | Path, session: QObject):
        super().__init__(session)
        self.run_dir = Path(run_dir)
        self.session = session
        self.jobs = JobRunner(self)
        self.heartbeat = None  # the newest core.runs.heartbeat.Heartbeat
        self.follower = RunFollower(self.run_dir)
        self.thread = qthreads.thread_for(self.follower, self.follower.start, "gan-studio-follower")
        f, s = self.follower, session
        relay(f, s)
        f.metrics_rows.connect(lambda rows: [s.metrics.emit(m) for m in rows])
        f.beat.connect(self._on_beat)
        self.stop_following.connect(f.stop)
        self.thread.start()

    def _on_beat(self, beat) -> None:
        self.heartbeat = beat
        self.session.heartbeat.emit(beat)

    def send(self, command: str, values: dict | None = None) -> None:
        """Hand a command to the run (validated already); its answer comes back on `answered`, a
        refusal or a run that has gone on the session's `error`."""
        from core.runs.channel import send

        run_dir = self.run_dir
        self.jobs.submit(lambda: send(run_dir, command, values or {}), lambda ack: self._answer(command, ack),
                         lambda message: self.session.error.emit(0, message))

    def save_copy(self, kind: str, target: str) -> None:
        """Save as the trainer would: the run writes its checkpoint and generator ('save'), then they are
        copied to `target` (a folder for the generator, a file for the checkpoint) and `saved` reports it."""
        from core.runs.channel import send

        run_dir, session = self.run_dir, self.session
        run = RunFolder(run_dir)

        def save_and_copy():
            import shutil

            ack = send(run_dir, "save")
            if not ack.ok:
                raise ValueError(ack.message)
            if kind == "generator":
                Path(target).mkdir(parents=True, exist_ok=True)
                for source in (run.generator, run.generator_json):  # copied under their own names
                    if source.resolve() != (Path(target) / source.name).resolve():
                        shutil.copy2(source, Path(target) / source.name)
                return ack.step, str(Path(target) / run.generator.name)
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(run.last_checkpoint, target)
            return ack.step, target

        self.jobs.submit(save_and_copy, lambda result: session.saved.emit(result[0], kind, result[1]),
                         lambda message: session.error.emit(0, f"could not save the {kind}: {message}"))

    def _answer(self, command: str, ack) -> None:
        if not ack.ok:
            self.session.error.emit(ack.step, f"{self.run_dir.name} refused {command}: {ack.message}")
        self.answered.emit(command, ack)

    def detach(self) -> None:
        """Stop following; the run itself goes on."""
        if self.thread.isRunning():
            self.stop_following.emit()
            qthreads.wait(self.thread)
        self.jobs.wait_all()

