"""Sweeps that train (core/sweeps/runner.py): trials as run folders, pruned on their readings through
their Control, continued after a stop, shared by two processes, and read back for the panel."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core import events as ev
from core.control import Control
from core.presets import PRESETS
from core.runs import heartbeat
from core.runs.checkpoint import load_checkpoint
from core.runs.folder import RunFolder, read_csv
from core.sweeps.runner import SweepError, SweepSpec, reading_of, run_sweep
from core.sweeps.space import Param, Space
from core.sweeps.study import (
    DIR_ID,
    StudyError,
    claim_sweep_folder,
    importances,
    open_storage,
    optuna,
    read_trials,
    trial_dir,
    trial_record,
)
from tests.core.conftest import DEVICE, Recorder

ROOT = Path(__file__).resolve().parents[2]
# Readings every 4 steps of 8: a trial may be pruned on its reading at step 4.
TINY = {"model.g_hidden": [16], "model.d_hidden": [16], "model.clusters": 0, "run.batch_size": 8,
        "run.threads": 1, "run.log_every": 2, "run.quality_every": 4, "run.quality_samples": 16,
        "run.sample_every": 1000, "run.checkpoint_every": 0, "run.grid_size": 4}
SEEDS = Space((Param("run.seed", "choice", choices=(0, 1)),))  # two starts: two different readings


def _spec(out: Path, trials: int = 4, **kw) -> SweepSpec:
    kw.setdefault("startup_trials", 10)  # no pruning unless a test asks for it
    return SweepSpec("default", kw.pop("space", SEEDS), trials, kw.pop("steps", 8), out, dict(TINY), device=DEVICE, **kw)


def _enqueue(out: Path, *seeds: int) -> None:
    """The trials' values fixed ahead (Optuna's enqueue_trial), so a test knows which trial draws what."""
    study = optuna().create_study(storage=open_storage(None, _made(out)), study_name=out.name)
    for seed in seeds:
        study.enqueue_trial({"run.seed": seed})


def _made(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    return out


def _readings(run_dir) -> dict[int, float]:
    return {int(r["step"]): float(r["frechet"]) for r in read_csv(RunFolder(run_dir).quality, None)}


def _steps(run_dir) -> list[int]:
    return [int(r["step"]) for r in read_csv(RunFolder(run_dir).metrics, None)]


def test_a_sweep_prunes_the_worse_trial_through_its_control(tmp_path):
    out = tmp_path / "prune"
    _enqueue(out, 0, 1, 0, 1)
    events = Recorder()
    summary = run_sweep(_spec(out, startup_trials=2, warmup_steps=0), on_event=events)
    # Trials 0 and 1 start the median. Of seed 0 and seed 1, the one reading worse at step 4 is pruned
    # there the next time it is drawn (trial 2 or 3), and only that one.
    at4 = {seed: _readings(trial_dir(out, seed))[4] for seed in (0, 1)}
    worse = max(at4, key=at4.get)
    assert at4[0] != at4[1]
    pruned = 2 + worse
    rows = read_trials(out)
    assert [r.state for r in rows] == ["complete", "complete", *(["pruned", "complete"] if worse == 0 else
                                                                 ["complete", "pruned"])]
    assert (summary.finished, summary.complete, summary.pruned, summary.trained) == (4, 3, 1, (0, 1, 2, 3))
    assert [(e.number, e.state) for e in events.of(ev.TrialFinished)][pruned] == (pruned, "pruned")
    # A real stop of a real trial: its own Finished, its checkpoint and heartbeat at step 4, as for any stop.
    finished = [e for e in events.of(ev.Finished) if e.run_dir == str(trial_dir(out, pruned))]
    assert [(e.step, e.stopped) for e in finished] == [(4, True)]
    assert load_checkpoint(trial_dir(out, pruned))["step"] == 4 and _steps(trial_dir(out, pruned)) == [2, 4]
    assert heartbeat.read(trial_dir(out, pruned)).state == "stopped"
    assert rows[pruned].reading == pytest.approx(at4[worse]) and rows[pruned].step == 4
    best = min((r for r in rows if r.state == "complete"), key=lambda r: _readings(r.run_dir)[8])
    assert summary.best is not None and summary.best.number == best.number


def test_a_picture_sweep_without_inception_weights_prunes_on_the_picture_reading(tmp_path, rgb_folder, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no Inception weights: offline
    out = tmp_path / "pictures"
    _enqueue(out, 0, 1, 0, 1)
    folder = {**TINY, "data.dataset": "folder", "data.folder": str(rgb_folder), "data.channels": 3,
              "data.image_size": 32, "data.cache_dir": str(tmp_path / "cache"), "model.arch": "dcgan"}
    events = Recorder()
    spec = SweepSpec("default", SEEDS, 4, 8, out, folder, device=DEVICE, startup_trials=2, warmup_steps=0)
    summary = run_sweep(spec, on_event=events)
    assert summary.reading == "Fréchet distance (picture reading)"
    assert not events.of(ev.QualityOff) and all(q.reference for q in events.of(ev.Quality))
    at4 = {seed: _readings(trial_dir(out, seed))[4] for seed in (0, 1)}
    worse = max(at4, key=at4.get)
    rows = read_trials(out)
    assert rows[2 + worse].state == "pruned" and rows[2 + worse].reading == pytest.approx(at4[worse])
    assert (summary.complete, summary.pruned) == (3, 1)


@pytest.mark.device
def test_each_trial_is_an_ordinary_run_folder_recording_its_trial(tmp_path):
    out = tmp_path / "record"
    space = Space((Param("optim.lr_g", "float", 1e-4, 1e-3, True), Param("loss.d_steps", "int", 1, 2),
                   Param("model.g_hidden", "choice", choices=((16,), (8, 8)))))
    events = Recorder()
    summary = run_sweep(_spec(out, trials=2, steps=4, space=space, study="named"), on_event=events)
    assert summary.study == "named" and summary.finished == 2
    started = events.of(ev.TrialStarted)
    assert [e.number for e in started] == [0, 1]
    for e in started:
        run = RunFolder(e.run_dir)
        assert run.path == trial_dir(out, e.number)
        record = json.loads(run.run_json.read_text())
        assert record["sweep"] == {"study": "named", "trial": e.number,
                                   "values": {k: list(v) if isinstance(v, tuple) else v for k, v in e.values.items()}}
        assert record["name"] == f"named trial {e.number}" and "optim.lr_g=" in record["notes"]
        config = json.loads(run.config.read_text())
        assert config["optim"]["lr_g"] == e.values["optim.lr_g"]
        assert tuple(config["model"]["g_hidden"]) == e.values["model.g_hidden"]
        assert load_checkpoint(run.path)["step"] == 4  # resume, fork, sample and the library read it as any run
    rows = read_trials(out)  # the study's name from sweep.json
    assert [(r.number, r.state, r.run_dir, r.step) for r in rows] == [
        (e.number, "complete", e.run_dir, 4) for e in started]
    assert rows[0].values == started[0].values and rows[0].reading is not None
    assert importances(out) is None  # too few complete trials to tell


def test_a_stopped_sweep_continues_its_interrupted_trial_from_its_checkpoint(tmp_path):
    out = tmp_path / "resume"
    _enqueue(out, 0, 1, 0, 1)
    control, events, current = Control(), Recorder(), []

    def stop_in_trial_1(e):
        events(e)
        if isinstance(e, ev.TrialStarted):
            current.append(e.number)
        if isinstance(e, ev.Metrics) and current[-1] == 1 and e.step == 4:
            control.stop()  # as Ctrl+C does: the trial saves its checkpoint at step 4

    first = run_sweep(_spec(out), control, stop_in_trial_1)
    assert first.stopped and first.trained == (0, 1) and first.finished == 1
    assert [(e.number, e.state, e.step) for e in events.of(ev.TrialFinished)] == [(0, "complete", 8),
                                                                                (1, "interrupted", 4)]
    assert [r.state for r in read_trials(out)] == ["complete", "running", "waiting", "waiting"]
    assert load_checkpoint(trial_dir(out, 1))["step"] == 4

    again = Recorder()
    second = run_sweep(_spec(out), Control(), again)
    assert not second.stopped and second.trained == (1, 2, 3) and second.finished == 4
    assert [e.number for e in again.of(ev.TrialStarted)] == [1, 2, 3]
    assert again.of(ev.Started)[0].step == 4  # trial 1 went on from its checkpoint, in its own folder
    assert _steps(trial_dir(out, 1)) == [2, 4, 6, 8]
    # ...to the very readings trial 3, the same values trained without a stop, took
    assert _readings(trial_dir(out, 1)) == pytest.approx(_readings(trial_dir(out, 3)))
    assert sorted(p.name for p in out.glob("trial-*")) == [f"trial-{n:04d}" for n in range(4)]
    assert [r.state for r in read_trials(out)] == ["complete"] * 4

    nothing = run_sweep(_spec(out), Control(), Recorder())  # the study has its trials
    assert nothing.trained == () and nothing.finished == 4
    more = run_sweep(_spec(out, trials=5), Control(), Recorder())  # --trials raised: one more
    assert more.trained == (4,) and more.finished == 5
    with pytest.raises(SweepError, match=r"started with --steps 8, this sweep 10: run it as it was started"):
        run_sweep(_spec(out, trials=6, steps=10))
    found = importances(out)
    assert found is None or set(found) == {"run.seed"}


def test_a_trial_whose_process_saved_nothing_starts_again_with_its_values(tmp_path):
    out = tmp_path / "early"
    record = claim_sweep_folder(out, out.name, None)
    study = optuna().create_study(storage=open_storage(None, out), study_name=out.name)
    trial = study.ask()  # what a worker killed while its trial loaded its data leaves behind
    seed = trial.suggest_categorical("run.seed", [0, 1])
    trial.set_user_attr(DIR_ID, record.id)
    folder = trial_dir(out, trial.number)
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    events = Recorder()
    summary = run_sweep(_spec(out, trials=1), Control(), events)
    assert summary.trained == (0,) and summary.finished == 1
    assert any("starts again from step 0" in e.message for e in events.of(ev.Notice))
    assert trial_record(folder)["values"] == {"run.seed": seed}
    assert not trial_dir(out, 1).exists()


def test_a_folder_holding_another_run_is_never_trained_into(tmp_path):
    out = _made(tmp_path / "taken")
    other = trial_dir(out, 0)
    other.mkdir()
    (other / "run.json").write_text(json.dumps({"sweep": {"study": "another", "trial": 0}}))
    with pytest.raises(SweepError, match=r"trial-0000 holds a run that is not trial 0 of study 'taken'.*nothing in it "
                                         r"was changed"):
        run_sweep(_spec(out, trials=1))
    assert sorted(p.name for p in other.iterdir()) == ["control", "run.json"]
    assert (other / "run.json").read_text() == json.dumps({"sweep": {"study": "another", "trial": 0}})


def test_values_the_config_refuses_together_fail_their_trials_and_then_the_sweep(tmp_path):
    out = tmp_path / "clash"
    space = Space((Param("model.d_pack", "choice", choices=(1, 2)), Param("run.batch_size", "choice", choices=(8, 9))))
    study = optuna().create_study(storage=open_storage(None, _made(out)), study_name=out.name)
    for _ in range(3):
        study.enqueue_trial({"model.d_pack": 2, "run.batch_size": 9})  # each alone is fine, not the two
    events = Recorder()
    with pytest.raises(SweepError, match=r"^3 trials in a row failed, the last \(trial 2\): run.batch_size = 9: with "
                                         r"model.d_pack = 2"):
        run_sweep(_spec(out, space=space), Control(), events)
    assert [(e.number, e.state) for e in events.of(ev.TrialFinished)] == [(0, "failed"), (1, "failed"), (2, "failed")]
    assert [r.state for r in read_trials(out)] == ["failed"] * 3 and not list(out.glob("trial-*"))


@pytest.mark.parametrize("storage, words", [
    ("nonsense", "expected an Optuna storage URL"),
    ("bogus://nowhere", "--storage bogus://nowhere: "),
    ("journal:", "name the journal file"),
])
def test_a_bad_storage_is_one_line_and_nothing_is_written(tmp_path, storage, words):
    out = tmp_path / "s"
    with pytest.raises(StudyError) as e:
        run_sweep(_spec(out, storage=storage))
    assert words in str(e.value) and "\n" not in str(e.value)
    assert not out.exists()


def test_sweep_refusals_before_any_trial(tmp_path, monkeypatch):
    with pytest.raises(SweepError, match=r"run.quality_every = 0: .* --set run.quality_every=500"):
        run_sweep(SweepSpec("default", SEEDS, 2, 8, tmp_path / "a", {**TINY, "run.quality_every": 0}))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no Inception weights
    colour = {**TINY, "data.dataset": "cifar10", "data.channels": 3}
    # Pictures are compared by the picture reading; FID is refused only when asked for by name.
    assert reading_of(PRESETS["default"].with_values(**colour)).label == "Fréchet distance (picture reading)"
    with pytest.raises(SweepError, match=r"asked to compare its trials by FID, which is off here: .*fetch-inception"):
        run_sweep(SweepSpec("default", SEEDS, 2, 8, tmp_path / "b", colour, reading="fid"))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "notes.txt").write_text("mine")
    with pytest.raises(StudyError, match=r"holds other things \(notes.txt\)"):
        run_sweep(_spec(tmp_path / "c"))
    run_sweep(_spec(tmp_path / "d", trials=1, steps=4, study="first"))
    with pytest.raises(StudyError, match=r"holds the trials of study 'first'"):
        run_sweep(_spec(tmp_path / "d", trials=1, steps=4, study="second"))
    assert not any((tmp_path / name).exists() for name in "ab")


def test_a_journal_file_keeps_the_study_and_the_panel_finds_it(tmp_path):
    out = tmp_path / "shared"
    journal = f"journal:{tmp_path / 'mount' / 'sweep.log'}"
    (tmp_path / "mount").mkdir()
    summary = run_sweep(_spec(out, trials=1, steps=4, storage=journal))
    assert summary.finished == 1 and summary.storage == journal and not (out / "study.db").exists()
    assert [r.state for r in read_trials(out)] == ["complete"]  # sweep.json says where the study is


def test_two_processes_share_one_study_without_repeating_a_trial(tmp_path):
    out, space = tmp_path / "pair", tmp_path / "space.toml"
    space.write_text("[optim.lr_g]\nlow = 1e-4\nhigh = 1e-3\nlog = true\n")
    sets = [a for k, v in TINY.items() for a in ("--set", f"{k}={json.dumps(v)}")]
    command = [sys.executable, "main.py", "sweep", "--space", str(space), "--trials", "4", "--steps", "2",
               "--out", str(out), "--device", "cpu", *sets]
    workers = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [o[1][-2000:] for o in outputs]
    trained = [{int(n) for n in re.findall(r"^trial (\d+): ", o[0], re.M)} for o in outputs]
    assert not trained[0] & trained[1], "a trial was trained by both processes"
    rows = read_trials(out)
    finished = [r.number for r in rows if r.state in ("complete", "pruned")]
    assert len(finished) == 4 and set(finished) == trained[0] | trained[1]
    assert all(r.state == "failed" for r in rows if r.number not in finished)  # at most a trial asked for too late
    folders = sorted(out.glob("trial-*"))
    assert [trial_record(f)["trial"] for f in folders] == sorted(finished)
    assert [f.name for f in folders] == [f"trial-{n:04d}" for n in sorted(finished)]
