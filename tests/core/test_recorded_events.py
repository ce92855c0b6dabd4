"""Events as sinks' business: the run folder keeps what it keeps (core/runs/writer.py record), any event
marked `recorded` in events.jsonl, and a run's history replays them (core/runs/history.py); the
best reading so far is such an event."""

from __future__ import annotations

import json

from core import events as ev
from core.runs.history import read_history
from core.training.trainer import train

from .conftest import Recorder, tiny

READINGS = {"run.steps": 12, "run.quality_every": 2, "run.quality_samples": 64, "run.sample_every": 4}


def test_each_best_reading_is_lower_than_every_earlier_one_and_the_folder_keeps_it(tmp_path):
    seen = Recorder()
    train(tiny(**READINGS), on_event=seen, run_dir=tmp_path / "run")
    readings = [e.frechet for e in seen.events if isinstance(e, ev.Quality)]
    best = [e for e in seen.events if isinstance(e, ev.BestReading)]
    assert best and best[0].value == readings[0]  # the first reading is the best so far
    expected = [r for i, r in enumerate(readings) if r < min(readings[:i], default=float("inf"))]
    assert [b.value for b in best] == expected
    lines = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    assert [(line["event"], line["step"], line["value"]) for line in lines] == \
        [("BestReading", b.step, b.value) for b in best]
    replayed = [e for e in read_history(tmp_path / "run").events() if isinstance(e, ev.BestReading)]
    assert replayed == best


def test_a_resumed_run_keeps_its_earlier_best_and_its_events_file_is_cut_back(tmp_path):
    run = tmp_path / "run"
    train(tiny(**{**READINGS, "run.checkpoint_every": 6, "run.steps": 6}), run_dir=run)
    before = read_history(run).events()
    best_before = min(e.value for e in before if isinstance(e, ev.BestReading))
    with open(run / "events.jsonl", "a", encoding="utf-8") as f:  # a line from steps the checkpoint never saw
        f.write(json.dumps({"event": "BestReading", "step": 99, "value": -1.0, "reading": "FD"}) + "\n")
    seen = Recorder()
    from core.runs.checkpoint import load_checkpoint

    train(tiny(**{**READINGS, "run.steps": 12}), on_event=seen, run_dir=run,
          checkpoint=load_checkpoint(run / "checkpoints" / "last.pt"))
    steps = [e.step for e in read_history(run).events() if isinstance(e, ev.BestReading)]
    assert 99 not in steps and steps == sorted(steps)
    new = [e.value for e in seen.events if isinstance(e, ev.BestReading)]
    assert all(v < best_before for v in new)  # "best so far" counts the run's own past


def test_history_skips_damaged_lines_and_unknown_or_unrecorded_kinds(tmp_path):
    run = tmp_path / "run"
    train(tiny(), run_dir=run)
    (run / "events.jsonl").write_text("\n".join([
        "not json", json.dumps({"event": "Nothing", "step": 1}),
        json.dumps({"event": "Notice", "message": "not kept by runs"}),
        json.dumps({"event": "BestReading", "step": 3, "value": 2.5, "reading": "FD"})]) + "\n")
    kept = [e for e in read_history(run).events() if not isinstance(e, (ev.Metrics, ev.Quality))]
    assert kept == [ev.BestReading(3, 2.5, "FD")]
