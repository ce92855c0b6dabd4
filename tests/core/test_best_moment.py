"""The best moment kept (best/ in the run folder: the generator and checkpoint of the run's best reading,
whole after a kill -9) and a plateau told once (core/training/plateau.py, run.plateau_readings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from core import events as ev
from core.control import Control
from core.quality.readers import QualityReaders
from core.runs.checkpoint import load_checkpoint
from core.runs.folder import RunFolder, best_record
from core.sharing.export import load_generator
from core.training.plateau import Plateau
from core.training.trainer import train

from .conftest import Recorder, tiny
from .test_cli import ROOT

READ_EVERY_STEP = {"run.quality_every": 1, "run.quality_samples": 16, "run.sample_every": 1000}


@pytest.fixture
def readings(monkeypatch):
    """The digit readings made up: each reading takes the next of `values` (so a test knows which are best)."""
    values: list[float] = []

    def read_digits(self, generator, config, step):
        return ev.Quality(step, values.pop(0), (0.1,) * 10, (), False, None, 0.9)

    monkeypatch.setattr(QualityReaders, "read_digits", read_digits)
    return values


def _generator_weights(path) -> dict:
    return {k: v.clone() for k, v in load_generator(path)[0].state_dict().items()}


def test_the_best_generator_is_kept_and_replaced_only_by_a_better_reading(tmp_path, readings):
    readings.extend([50.0, 40.0, 45.0, 30.0, 35.0, 31.0])
    run = tmp_path / "run"
    kept_at_each_reading = []

    def sink(e):
        if isinstance(e, ev.Quality):  # before this reading is judged: what best/ holds from the earlier ones
            kept_at_each_reading.append(best_record(run))

    train(tiny(**READ_EVERY_STEP, **{"run.steps": 6}), Control(), sink, run)
    assert [r and r["step"] for r in kept_at_each_reading] == [None, 1, 2, 2, 4, 4]  # kept again only when lower
    assert best_record(run) == {"step": 4, "reading": "FD", "value": 30.0}
    folder = RunFolder(run)
    generator, config, meta = load_generator(folder.best)
    assert meta["step"] == 4 and meta["best"] == {"step": 4, "reading": "FD", "value": 30.0}
    assert load_checkpoint(folder.best_checkpoint)["step"] == 4  # a fork can start from it
    final = _generator_weights(run)
    assert any(not torch.equal(final[k], v) for k, v in generator.state_dict().items())  # not the final one


def test_a_run_killed_while_it_keeps_its_best_leaves_the_last_best_whole(tmp_path):
    """kill -9 in the middle of writing the third best generator: best/ still holds the second, whole, and
    named by its own record; the checkpoint beside it is whole too (it is written first: the third's)."""
    run = tmp_path / "run"
    script = textwrap.dedent("""
        import sys, threading
        sys.path.insert(0, sys.argv[1])
        import safetensors.torch as st
        from core.cli import main

        real, bests = st.save_file, []

        def save_file(tensors, path, metadata=None):
            if metadata and "best" in metadata:
                bests.append(path)
                if len(bests) == 3:
                    with open(path, "wb") as f:
                        f.write(b"half a safetensors file")
                    print("writing", flush=True)
                    threading.Event().wait()  # until kill -9
            return real(tensors, path, metadata=metadata)

        st.save_file = save_file
        main(sys.argv[2:])
    """)
    args = ["train", "--steps", "200", "--out", str(run), "--device", "cpu", "--set", "model.g_hidden=[16]",
            "--set", "model.d_hidden=[16]", "--set", "run.batch_size=8", "--set", "run.threads=1",
            "--set", "run.quality_every=2", "--set", "run.quality_samples=64", "--set", "run.sample_every=1000",
            "--set", "model.clusters=0"]
    child = subprocess.Popen([sys.executable, "-c", script, str(ROOT), *args], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    try:
        for line in child.stdout:  # the run's notes, then the half-written file's
            if line.strip() == "writing":
                break
        else:
            pytest.fail("the run ended before its third best")
    finally:
        child.kill()  # kill -9
        child.wait(60)
    bests = [json.loads(line) for line in RunFolder(run).events.read_text().splitlines()]
    assert len(bests) == 3 and all(b["event"] == "BestReading" for b in bests)
    record = best_record(run)
    assert record == {"step": bests[1]["step"], "reading": "FD", "value": bests[1]["value"]}
    load_generator(RunFolder(run).best)  # whole: it loads
    assert load_checkpoint(RunFolder(run).best_checkpoint)["step"] == bests[2]["step"]
    assert [p for p in os.listdir(RunFolder(run).best) if p.endswith(".tmp")]  # the killed write's, left to clean


def test_a_resume_drops_a_best_from_after_its_checkpoint(tmp_path, readings):
    run = tmp_path / "run"
    readings.extend([50.0, 40.0, 30.0, 20.0])
    train(tiny(**READ_EVERY_STEP, **{"run.steps": 4, "run.keep_every": 2}), Control(), Recorder(), run)
    assert best_record(run)["step"] == 4
    readings.extend([60.0, 55.0])  # steps 3 and 4 trained again from step 2: neither beats step 2's 40
    train(tiny(**READ_EVERY_STEP, **{"run.steps": 4}), Control(), Recorder(), run,
          load_checkpoint(RunFolder(run).kept_checkpoint(2)))
    assert best_record(run) is None  # step 4's best went with the steps after 2, as its readings did


def test_the_plateau_is_told_once_and_again_only_after_a_better_reading():
    plateau = Plateau(3, 0.01)
    told = [plateau.add(step, value) for step, value in enumerate(
        [50, 40, 41, 40.5, 42, 39.9, 45, 30, 31, 32, 33, 34], start=1)]
    assert [i + 1 for i, t in enumerate(told) if t] == [5, 11]
    assert told[4].startswith("No better quality reading since step 2 (best 40,")
    assert "the run may have peaked" in told[4]
    assert told[10].startswith("No better quality reading since step 8 (best 30,")
    assert not any(Plateau(0, 0.01).add(s, 50.0) for s in range(10))  # 0: never told


def test_a_plateau_is_one_notice_and_stops_the_run_only_when_asked(tmp_path, readings):
    values = [50.0, 40.0, 41.0, 42.0, 43.0, 44.0, 45.0, 46.0]
    readings.extend(values)
    seen = Recorder()
    plateau = {"run.plateau_readings": 3, "run.steps": 8}
    train(tiny(**READ_EVERY_STEP, **plateau), Control(), seen, tmp_path / "a")
    told = [n.message for n in seen.of(ev.Notice) if "may have peaked" in n.message]
    assert told == [told[0]] and "since step 2 (best 40" in told[0] and "run.stop_on_plateau" in told[0]
    assert seen.of(ev.Finished)[0].step == 8 and not seen.of(ev.Finished)[0].stopped  # never a silent stop

    readings.extend(values)
    seen = Recorder()
    train(tiny(**READ_EVERY_STEP, **plateau, **{"run.stop_on_plateau": True}), Control(), seen, tmp_path / "b")
    finished = seen.of(ev.Finished)[0]
    assert (finished.step, finished.stopped) == (5, True)  # told at step 5's reading, stopped there
    assert any("stopping here" in n.message for n in seen.of(ev.Notice))
    assert load_checkpoint(tmp_path / "b")["step"] == 5 and best_record(tmp_path / "b")["step"] == 2


def test_a_trial_stopped_on_its_plateau_is_complete_and_the_sweep_goes_on(tmp_path, readings):
    from core.sweeps.runner import SweepSpec, run_sweep
    from core.sweeps.study import read_trials

    from .test_sweep_runs import SEEDS, TINY

    readings.extend([50.0, 40.0, 41.0, 42.0, 43.0] * 2)  # each trial's plateau is told at its fifth reading
    settings = {**TINY, "run.quality_every": 1, "run.plateau_readings": 3, "run.stop_on_plateau": True}
    summary = run_sweep(SweepSpec("default", SEEDS, 2, 8, tmp_path / "sweep", settings, device="cpu",
                                  startup_trials=10))
    rows = read_trials(tmp_path / "sweep")
    assert [(r.state, r.step, r.reading) for r in rows] == [("complete", 5, 40.0)] * 2  # its best reading
    assert not summary.stopped and summary.complete == 2 and summary.best_value == 43.0  # valued by its last


def test_sample_export_and_fork_take_the_best_the_final_or_a_kept_step(tmp_path, readings, capsys):
    from core.cli import main
    from core.runs.folder import generator_choices as choices

    from .test_cli import SMALL

    readings.extend([50.0, 30.0, 40.0, 45.0])  # the best is step 2's, the final generator step 4's
    run = tmp_path / "run"
    assert main(["train", "--steps", "4", "--out", str(run), *SMALL, "--set", "run.quality_every=1",
                 "--set", "run.keep_every=3", "--set", "model.clusters=0"]) == 0
    assert choices(run) == {"final": 4, "best": {"step": 2, "reading": "FD", "value": 30.0}, "kept": [3]}
    drawn = {}
    for which in ("best", "final", "3"):
        out = tmp_path / f"{which}.npy"
        assert main(["sample", str(run), "--which", which, "--n", "4", "--out", str(out)]) == 0
        drawn[which] = np.load(out)
    assert "the generator of step 2 (best)" in capsys.readouterr().out
    assert not np.array_equal(drawn["best"], drawn["final"]) and not np.array_equal(drawn["3"], drawn["final"])
    assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "plain.npy")]) == 0
    assert np.array_equal(np.load(tmp_path / "plain.npy"), drawn["final"])  # the default is the final one

    assert main(["sample", str(run), "--which", "7", "--n", "4", "--out", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err
    assert "no generator of step 7: it keeps checkpoints of steps 3, its best is step 2, its final step 4" in err
    assert main(["sample", str(run / "generator.safetensors"), "--which", "best", "--out", str(tmp_path / "y.npy")]) == 2
    assert "needs a run folder" in capsys.readouterr().err

    pytest.importorskip("onnxruntime")
    assert main(["export", str(run), "--which", "best", "--out", str(tmp_path / "best.onnx")]) == 0

    readings.extend([20.0, 25.0, 26.0])  # the fork's, steps 3 to 5
    assert main(["fork", str(run), "--which", "best", "--out", str(tmp_path / "fork"), "--steps", "5"]) == 0
    lineage = json.loads((tmp_path / "fork" / "run.json").read_text())
    assert (lineage["parent"], lineage["fork_step"]) == (str(run.resolve()), 2)
