"""The one event table (studio/event_signals.py): every trainer event has its signal, and the worker,
the session and the follower all carry and route them alike."""

from __future__ import annotations

import dataclasses
import inspect
import json

import pytest
from PySide6.QtCore import QMetaMethod

from core import events as ev
from core.control import Control
from studio.bridge.run_follower import RunFollower
from studio.bridge.worker import TrainingSession, TrainWorker
from studio.model.event_signals import EVENT_SIGNALS, OTHER, SIGNAL_NAMES, relay
from tests.studio.conftest import tiny_config

# What the window and the panels connect to: names and arguments that must not change.
LISTENED = {"started(PyObject)", "state_changed(PyObject)", "metrics(PyObject)", "samples(PyObject)",
            "hyperparams_changed(PyObject)", "quality(PyObject)", "quality_off(QString)",
            "image_quality(PyObject)", "progress(QString,int,int)", "notice(QString)", "error(int,QString)",
            "checkpointed(int,QString)", "saved(int,QString,QString)", "finished(PyObject)",
            "snapshot(PyObject)", "other(PyObject)"}


def _signals(obj) -> set[str]:
    meta = obj.metaObject()
    return {bytes(meta.method(i).methodSignature()).decode() for i in range(meta.methodCount())
            if meta.method(i).methodType() == QMetaMethod.MethodType.Signal}


def test_every_event_type_has_exactly_one_entry():
    events = [c for _, c in inspect.getmembers(ev, inspect.isclass)
              if dataclasses.is_dataclass(c) and c.__module__ == ev.__name__]
    assert len(events) >= 15  # the module's dataclasses were found
    tabled = [entry.event for entry in EVENT_SIGNALS]
    assert sorted(c.__name__ for c in tabled) == sorted(c.__name__ for c in events)
    assert len(set(SIGNAL_NAMES)) == len(SIGNAL_NAMES) and OTHER in SIGNAL_NAMES
    for entry in EVENT_SIGNALS:  # the fields a signal sends are the event's own
        assert set(entry.fields) <= {f.name for f in dataclasses.fields(entry.event)}, entry


def test_worker_session_and_follower_expose_the_tables_signals(qtbot, tmp_path):
    session = TrainingSession()
    objects = [TrainWorker(tiny_config(), Control(), None), session, RunFollower(tmp_path)]
    for obj in objects:
        names = {s.split("(")[0] for s in _signals(obj)}
        assert set(SIGNAL_NAMES) <= names, type(obj).__name__
        assert LISTENED <= _signals(obj), type(obj).__name__
    assert {"heartbeat(PyObject)", "thread_done()"} <= _signals(session)
    assert {"metrics_rows(QVariantList)", "beat(PyObject)"} <= _signals(objects[2])


@pytest.mark.parametrize("event, name, arguments", [
    (ev.Metrics(3, 0.1, 1.0, 1.0, 0.5, 0.5, 100.0, 2e-4, 2e-4), "metrics", None),
    (ev.Notice("hello"), "notice", ("hello",)),
    (ev.ErrorEvent(4, "boom"), "error", (4, "boom")),
    (ev.Saved(5, "generator", "/tmp/g"), "saved", (5, "generator", "/tmp/g")),
    (ev.Progress("Decoding pictures", 2, 9), "progress", ("Decoding pictures", 2, 9)),
    (ev.QualityOff("not digits"), "quality_off", ("not digits",)),
    (ev.Finished(6, False, "runs/a"), "finished", None),
    ("a future event kind", "other", None),
])
def test_a_workers_event_reaches_the_sessions_signal(qtbot, event, name, arguments):
    worker, session = TrainWorker(tiny_config(), Control(), None), TrainingSession()
    relay(worker, session)
    got = []
    for other in SIGNAL_NAMES:
        getattr(session, other).connect(lambda *a, other=other: got.append((other, a)))
    worker._emit(event)
    assert got == [(name, arguments or (event,))]


def test_a_followers_events_reach_the_sessions_signals(qtbot, tmp_path):
    (tmp_path / "changes.jsonl").write_text(json.dumps({"step": 7, "changes": {"optim.lr_g": 1e-4}}) + "\n")
    follower, session = RunFollower(tmp_path), TrainingSession()
    relay(follower, session)
    changes = []
    session.hyperparams_changed.connect(changes.append)
    follower._read_files()
    assert changes == [ev.HyperparamsChanged(7, {"optim.lr_g": 1e-4})]


def test_a_followed_run_resumed_from_an_earlier_step_says_so_on_notice(qtbot, tmp_path):
    from core.runs.folder import METRIC_COLUMNS

    header = ",".join(METRIC_COLUMNS) + "\n"
    (tmp_path / "metrics.csv").write_text(header + ",".join(["1"] * len(METRIC_COLUMNS)) + "\n")
    follower, session = RunFollower(tmp_path), TrainingSession()
    relay(follower, session)
    notices = []
    session.notice.connect(notices.append)
    follower._read_files()
    assert notices == []
    (tmp_path / "metrics.csv").write_text(header)  # shorter: the run starts its files over
    follower._read_files()
    assert notices == [f"{tmp_path.name} was resumed from an earlier step: its curves start over from there."]
