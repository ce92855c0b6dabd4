"""The loop itself: NaN rollback, exact resume, determinism, run folder contents."""

from __future__ import annotations

import copy
import csv
import math
import threading

import pytest
import torch

from core import events as ev
from core.control import Control
from core.models import build_discriminator
from core.runs.checkpoint import load_checkpoint
from core.training import losses, trainer

from .conftest import DEVICE, Recorder, Run, tiny


def _losses(recorder, after: int = 0):
    return [x for x in recorder.metrics_losses() if x[0] > after]


@pytest.mark.device
def test_nan_pauses_rolls_back_and_stops_with_finite_weights(monkeypatch, tmp_path, sessions):
    calls = {"n": 0}
    real_g_loss = losses.BCELoss.g_loss

    def g_loss(self, fake, real=None):
        calls["n"] += 1
        out = real_g_loss(self, fake)
        return out * float("nan") if calls["n"] == 5 else out  # step 5 blows up, once

    monkeypatch.setattr(losses.BCELoss, "g_loss", g_loss)
    run = Run(tiny(**{"run.steps": 2000, "loss.kind": "bce"}), run_dir=tmp_path / "run")
    try:
        err = run.events.wait_for(lambda e: isinstance(e, ev.ErrorEvent))
        index = run.paused_at(4)
        s = sessions[0]
        assert err.step == 5 and "nan" in err.message and "rolled back to step 4" in err.message
        assert run.control.paused and s.step == 4
        assert [m.step for m in run.events.of(ev.Metrics)] == [1, 2, 3, 4]  # no Metrics for the bad step
        params = [p for p in s.G.parameters()] + [p for p in s.D.parameters()]
        assert all(torch.isfinite(p).all() for p in params)
        # the rollback restored step 4's weights: resuming re-runs step 5, now healthy
        run.control.step_once()
        run.paused_at(5)
        (m5,) = [e for e in run.events.events[index:] if isinstance(e, ev.Metrics)]
        assert m5.step == 5 and math.isfinite(m5.g_loss) and math.isfinite(m5.d_loss)
    finally:
        finished = run.finish()
    assert finished.stopped and finished.step == 5
    state = load_checkpoint(tmp_path / "run")
    assert state["step"] == 5
    for part in ("generator", "discriminator"):
        assert all(torch.isfinite(v).all() for v in state[part].values() if v.is_floating_point())


@pytest.mark.device
def test_nan_rollback_restores_last_good_weights(monkeypatch, tmp_path, sessions):
    """Every loss after step 3 is NaN: the state stays exactly at step 3, and the final checkpoint has it."""
    real_g_loss = losses.BCELoss.g_loss
    calls = {"n": 0}

    def g_loss(self, fake, real=None):
        calls["n"] += 1
        out = real_g_loss(self, fake)
        return out * float("nan") if calls["n"] > 3 else out

    monkeypatch.setattr(losses.BCELoss, "g_loss", g_loss)
    snapshots = {}
    control = Control()
    rec = Recorder()

    def on_event(e):
        rec(e)
        if isinstance(e, ev.Metrics) and e.step == 3:
            snapshots["G"] = copy.deepcopy(sessions[0].G.state_dict())
            snapshots["D"] = copy.deepcopy(sessions[0].D.state_dict())

    config = tiny(**{"run.steps": 2000, "loss.kind": "bce"})  # the NaN is injected into BCE's G loss
    t = threading.Thread(target=trainer.train, args=(config, control, on_event, tmp_path / "run"), daemon=True)
    t.start()
    first = rec.wait_for(lambda e: isinstance(e, ev.ErrorEvent))
    paused = rec.wait_for(lambda e: isinstance(e, ev.StateChanged) and e.state == "paused")
    s = sessions[0]
    assert s.step == 3
    for k, v in snapshots["G"].items():
        assert torch.equal(s.G.state_dict()[k], v), k
    # resuming hits the NaN again: a second rollback, to the same good state
    control.resume()
    second = rec.wait_for(lambda e: isinstance(e, ev.ErrorEvent) and e is not first)
    assert second.step == 4 and "rolled back to step 3" in second.message
    rec.wait_for(lambda e: isinstance(e, ev.StateChanged) and e.state == "paused" and e is not paused)
    control.stop()
    t.join(60)
    assert not t.is_alive()
    state = load_checkpoint(tmp_path / "run")
    assert state["step"] == 3
    for k, v in snapshots["D"].items():
        assert torch.equal(state["discriminator"][k], v), k
    assert all(torch.isfinite(v).all() for v in state["generator"].values() if v.is_floating_point())


RESUME = {"model.d_dropout": 0.3, "model.g_dropout": 0.2, "run.ema": 0.9, "run.steps": 8, "run.sample_every": 3}


@pytest.mark.device
@pytest.mark.parametrize("arch", ["mlp", "dcgan", "lite"])
def test_exact_resume_matches_an_uninterrupted_run(tmp_path, recorder, arch, exact_on_device):
    config = tiny(**RESUME, **{"model.arch": arch})
    assert any(isinstance(m, torch.nn.Dropout) for m in build_discriminator(config).modules())
    whole = trainer.train(config, on_event=recorder, run_dir=tmp_path / "A")
    assert recorder.errors() == [] and whole.step == 8

    first, second = Recorder(), Recorder()
    trainer.train(config.with_values(**{"run.steps": 4}), on_event=first, run_dir=tmp_path / "B")
    checkpoint = load_checkpoint(tmp_path / "B")
    assert checkpoint["step"] == 4
    resumed = trainer.train(config, on_event=second, run_dir=tmp_path / "B", checkpoint=checkpoint)
    assert second.errors() == []
    assert second.of(ev.Started)[0].step == 4
    assert _losses(second) == _losses(recorder, after=4)  # exactly equal floats
    assert [x[0] for x in _losses(second)] == [5, 6, 7, 8]
    for a, b in ((whole.G, resumed.G), (whole.D, resumed.D), (whole.ema, resumed.ema)):
        sa, sb = a.state_dict(), b.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    # the resumed run folder's metrics.csv has each step once
    with open(tmp_path / "B" / "metrics.csv", newline="") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == list(range(1, 9))


def test_a_run_folder_holds_the_readings_files_its_run_writes(tmp_path, recorder):
    """A digit run gets quality.csv and no empty fid.csv; a resumed run's readings are cut back to its
    checkpoint and written again, each step once."""
    config = tiny(**{"run.steps": 8, "run.quality_every": 2, "run.quality_samples": 64})
    trainer.train(config.with_values(**{"run.steps": 4}), on_event=recorder, run_dir=tmp_path / "A")
    assert (tmp_path / "A" / "quality.csv").exists() and not (tmp_path / "A" / "fid.csv").exists()
    with open(tmp_path / "A" / "quality.csv", "a") as f:
        f.write("6,99,0,0,0,0,0,0\n")  # a reading past the checkpoint (as after a crash): dropped on resume
    trainer.train(config, on_event=recorder, run_dir=tmp_path / "A", checkpoint=load_checkpoint(tmp_path / "A"))
    with open(tmp_path / "A" / "quality.csv", newline="") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [2, 4, 6, 8]
    assert not (tmp_path / "A" / "fid.csv").exists()

    trainer.train(tiny(**{"run.steps": 2, "run.quality_every": 0}), on_event=recorder, run_dir=tmp_path / "B")
    assert not (tmp_path / "B" / "quality.csv").exists() and (tmp_path / "B" / "metrics.csv").exists()
    assert recorder.errors() == []


@pytest.mark.device
def test_exact_resume_after_a_stop_between_log_ticks(tmp_path, recorder, exact_on_device):
    """Stopped at step 4 with a log every 3 steps: the unlogged step's loss sums travel in the checkpoint."""
    config = tiny(**{**RESUME, "run.log_every": 3, "run.sample_every": 1})
    trainer.train(config, on_event=recorder, run_dir=tmp_path / "A")
    control = Control()
    first = Recorder()

    def stop_at_4(e):
        first(e)
        if isinstance(e, ev.Samples) and e.step == 4:
            control.stop()

    trainer.train(config, control, stop_at_4, tmp_path / "B")
    assert first.of(ev.Finished)[0].stopped and first.of(ev.Finished)[0].step == 4
    second = Recorder()
    trainer.train(config, on_event=second, run_dir=tmp_path / "B", checkpoint=load_checkpoint(tmp_path / "B"))
    assert [x[0] for x in _losses(second)] == [6, 8]
    assert _losses(second) == _losses(recorder, after=4)


def test_a_stop_between_grids_writes_one_at_the_step_it_stopped(tmp_path, recorder):
    """Stopped at 2,848 with its last grid at 2,750, a run's gallery, timelapse and folder ended before its
    checkpoint did: the step it stops at gets a grid (file and event), once."""
    config = tiny(**{"run.steps": 50, "run.sample_every": 4})
    control = Control()

    def stop_at_7(e):
        recorder(e)
        if isinstance(e, ev.Metrics) and e.step == 7:
            control.stop()

    trainer.train(config, control, stop_at_7, tmp_path / "run")
    finished = recorder.of(ev.Finished)[0]
    assert finished.stopped and finished.step == 7
    samples = tmp_path / "run" / "samples"
    assert sorted(p.name for p in samples.iterdir()) == ["step_000004.png", "step_000007.png"]
    assert [e.step for e in recorder.of(ev.Samples)] == [4, 7]
    written = (samples / "step_000007.png").stat().st_mtime_ns
    again, stopped = Recorder(), Control()
    stopped.stop()  # resumed and stopped before a step: its grid is there already, none is drawn
    trainer.train(config, stopped, again, tmp_path / "run", checkpoint=load_checkpoint(tmp_path / "run"))
    assert again.of(ev.Finished)[0].step == 7 and again.of(ev.Samples) == []
    assert (samples / "step_000007.png").stat().st_mtime_ns == written


def test_a_finished_run_draws_its_last_grid_once(recorder, tmp_path):
    trainer.train(tiny(**{"run.steps": 10, "run.sample_every": 4}), on_event=recorder, run_dir=tmp_path / "run")
    assert [e.step for e in recorder.of(ev.Samples)] == [4, 8, 10]
    assert recorder.errors() == []


@pytest.mark.device
def test_same_seed_same_metrics_other_seed_differs(recorder, exact_on_device):
    config = tiny(**{"model.d_dropout": 0.3, "run.steps": 5})
    again, other = Recorder(), Recorder()
    trainer.train(config, on_event=recorder)
    trainer.train(config, on_event=again)
    trainer.train(config.with_values(**{"run.seed": 1}), on_event=other)
    assert len(recorder.metrics_losses()) == 5
    assert recorder.metrics_losses() == again.metrics_losses()
    assert recorder.metrics_losses() != other.metrics_losses()
    grid_a, grid_b = recorder.of(ev.Samples)[-1].grid, again.of(ev.Samples)[-1].grid
    assert (grid_a == grid_b).all()


def test_errors_become_events_not_exceptions(tmp_path, recorder):
    config = tiny(**{"data.dataset": "folder", "data.folder": str(tmp_path / "nowhere")})
    assert trainer.train(config, on_event=recorder) is None
    (err,) = recorder.of(ev.ErrorEvent)
    assert "no such folder" in err.message
    assert [e.state for e in recorder.of(ev.StateChanged)] == ["loading", "stopped"]
    assert recorder.of(ev.Finished)[0].stopped


def test_events_carry_plain_data(recorder):
    trainer.train(tiny(**{"run.steps": 3, "run.sample_every": 3, "run.grid_size": 9}), on_event=recorder)
    started = recorder.of(ev.Started)[0]
    assert started.dataset_size == 5000 and started.device == "cpu" and started.total_steps == 3
    for m in recorder.of(ev.Metrics):
        for name, value in m.__dict__.items():
            assert type(value) in (int, float), name
    (samples,) = recorder.of(ev.Samples)
    assert type(samples.grid).__name__ == "ndarray" and samples.grid.dtype.name == "uint8"
    assert samples.columns == 3 and samples.grid.shape == (3 * 28 + 4 * 2, 3 * 28 + 4 * 2, 3)


def test_checkpoints_every_k_steps(tmp_path, recorder):
    trainer.train(tiny(**{"run.steps": 5, "run.checkpoint_every": 2}), on_event=recorder, run_dir=tmp_path / "r")
    assert [c.step for c in recorder.of(ev.Checkpointed)] == [2, 4, 5]
    assert load_checkpoint(tmp_path / "r")["step"] == 5


@pytest.mark.device
@pytest.mark.parametrize("precision", ["fp32", "bf16", "auto"])
def test_precisions_train(precision, recorder):
    """Finite losses in each precision, and bf16 autocast on in the forward passes exactly when asked for
    (auto's choice, measured, is tested in test_precision.py: its timing runs forward in both)."""
    kind = torch.device(DEVICE).type
    wants_bf16 = precision == "bf16"
    autocast_seen: set = set()  # (enabled, dtype) of the device's autocast in every module's forward

    def look(module, args, output):
        autocast_seen.add((torch.is_autocast_enabled(kind), torch.get_autocast_dtype(kind)))

    hook = torch.nn.modules.module.register_module_forward_hook(look)
    try:
        trainer.train(tiny(**{"run.precision": precision, "run.steps": 2}), on_event=recorder)
    finally:
        hook.remove()
    assert recorder.errors() == []
    metrics = recorder.of(ev.Metrics)
    assert metrics and all(math.isfinite(m.g_loss) and math.isfinite(m.d_loss) for m in metrics)
    if precision != "auto":
        assert ((True, torch.bfloat16) in autocast_seen) == wants_bf16, autocast_seen
