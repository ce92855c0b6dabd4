"""Steering a trainer from another thread: pause, resume, step once, stop, live changes, saves."""

from __future__ import annotations

import pytest
import torch

from core import events as ev
from core.config import ConfigError
from core.control import Control
from core.runs.checkpoint import load_checkpoint
from core.sharing.export import load_generator

from .conftest import Run, tiny

LONG = {"run.steps": 2000}  # never reached: each test stops the run itself


@pytest.mark.device
def test_pause_blocks_until_resume(sessions):
    run = Run(tiny(**LONG))
    try:
        run.events.wait_for(lambda e: isinstance(e, ev.Metrics) and e.step >= 2)
        run.control.pause()  # from this (another) thread, at an arbitrary moment
        paused = run.events.wait_for(lambda e: isinstance(e, ev.StateChanged) and e.state == "paused")
        index = run.events.events.index(paused)
        assert run.control.paused
        # a save request wakes the paused loop, is served, and the loop goes back to sleep
        run.control.save_checkpoint("/nonexistent-dir-for-sure/\0bad")  # a failed save is reported, not fatal
        err = run.events.wait_for(lambda e: isinstance(e, ev.ErrorEvent))
        assert "could not save the checkpoint" in err.message
        assert sessions[0].step == paused.step
        assert run.after(index, ev.Metrics) == []  # nothing trained while paused
        run.control.resume()
        first = run.events.wait_for(lambda e: isinstance(e, ev.Metrics) and e.step > paused.step)
        assert first.step == paused.step + 1
        states = [e.state for e in run.after(index, ev.StateChanged)]
        assert states[0] == "running"
    finally:
        finished = run.finish()
    assert finished.stopped


@pytest.mark.device
def test_step_once_advances_exactly_one_step(sessions):
    run = Run(tiny(**LONG), pause_at=3)
    try:
        index = run.paused_at(3)
        for expected in (4, 5):
            run.control.step_once()
            new_index = run.paused_at(expected)
            between = run.events.events[index + 1:new_index]
            assert [e.step for e in between if isinstance(e, ev.Metrics)] == [expected]
            assert [e.step for e in between if isinstance(e, ev.Samples)] == [expected]  # a grid after each
            assert run.control.paused and sessions[0].step == expected
            index = new_index
    finally:
        finished = run.finish()
    assert finished.step == 5 and finished.stopped


@pytest.mark.device
def test_stop_wakes_a_paused_loop_and_writes_the_final_checkpoint(tmp_path):
    run = Run(tiny(**LONG), run_dir=tmp_path / "run", pause_at=4)
    run.paused_at(4)
    finished = run.finish()
    assert finished.stopped and finished.step == 4 and finished.run_dir == str(tmp_path / "run")
    assert [e.state for e in run.events.of(ev.StateChanged)][-1] == "stopped"
    assert [c.step for c in run.events.of(ev.Checkpointed)] == [4]
    state = load_checkpoint(tmp_path / "run")
    assert state["step"] == 4
    G, config, meta = load_generator(tmp_path / "run")
    assert meta["step"] == 4


@pytest.mark.device
def test_stop_while_running(tmp_path):
    run = Run(tiny(**LONG), run_dir=tmp_path / "run")
    run.events.wait_for(lambda e: isinstance(e, ev.Metrics) and e.step >= 2)
    finished = run.finish()
    assert finished.stopped and 2 <= finished.step < 2000
    assert load_checkpoint(tmp_path / "run")["step"] == finished.step


@pytest.mark.device
def test_live_changes_apply_at_the_next_step_and_keep_the_optimizers(sessions):
    config = tiny(**LONG, **{"loss.label_smoothing": 0.1})
    run = Run(config, pause_at=3)
    try:
        index = run.paused_at(3)
        s = sessions[0]
        opt_g, opt_d = s.opt_g, s.opt_d
        smoothing_seen = []
        real_d_loss = s.loss.d_loss
        s.loss.d_loss = lambda real, fake, smoothing: (smoothing_seen.append(smoothing),
                                                       real_d_loss(real, fake, smoothing))[1]
        first_param = next(s.G.parameters())
        adam_steps_g = float(opt_g.state[first_param]["step"])
        adam_steps_d = float(opt_d.state[next(s.D.parameters())]["step"])
        moment = opt_g.state[first_param]["exp_avg"].clone()
        assert adam_steps_g == 3 and adam_steps_d == 3

        changes = {"optim.lr_g": 1e-3, "optim.lr_d": 5e-4, "optim.betas_g": (0.0, 0.9),
                   "optim.betas_d": (0.3, 0.99), "loss.d_steps": 3, "loss.label_smoothing": 0.2}
        run.control.change(config, **changes)
        assert opt_g.param_groups[0]["lr"] == config.optim.lr_g  # queued, not applied mid-pause
        run.control.step_once()
        new_index = run.paused_at(4)

        (changed,) = run.after(index, ev.HyperparamsChanged)
        assert changed.step == 3 and changed.changes == changes
        (m,) = [e for e in run.events.events[index + 1:new_index] if isinstance(e, ev.Metrics)]
        assert m.step == 4 and m.lr_g == 1e-3 and m.lr_d == 5e-4
        assert s.opt_g is opt_g and s.opt_d is opt_d  # not recreated
        assert opt_g.param_groups[0]["betas"] == (0.0, 0.9) and opt_d.param_groups[0]["betas"] == (0.3, 0.99)
        assert opt_g.param_groups[0]["lr"] == 1e-3 and opt_d.param_groups[0]["lr"] == 5e-4
        # Adam's state was kept: its step counters went on (D three times: d_steps = 3)
        assert float(opt_g.state[first_param]["step"]) == adam_steps_g + 1
        assert float(opt_d.state[next(s.D.parameters())]["step"]) == adam_steps_d + 3
        # beta1 = 0 was used in the update: the first moment is now exactly the last gradient
        assert not torch.equal(opt_g.state[first_param]["exp_avg"], moment)
        assert torch.equal(opt_g.state[first_param]["exp_avg"], first_param.grad)
        assert smoothing_seen == [0.2, 0.2, 0.2]
        assert s.config.loss.d_steps == 3 and s.config.optim.lr_g == 1e-3
    finally:
        run.finish()


@pytest.mark.device
def test_live_change_while_running_is_applied_between_steps(sessions):
    config = tiny(**LONG)
    run = Run(config)
    try:
        run.events.wait_for(lambda e: isinstance(e, ev.Metrics) and e.step >= 2)
        run.control.change(config, **{"optim.lr_g": 3e-3})
        changed = run.events.wait_for(lambda e: isinstance(e, ev.HyperparamsChanged))
        m = run.events.wait_for(lambda e: isinstance(e, ev.Metrics) and e.step > changed.step)
        assert m.step == changed.step + 1 and m.lr_g == 3e-3
        earlier = [e for e in run.events.of(ev.Metrics) if e.step <= changed.step]
        assert earlier and all(e.lr_g == config.optim.lr_g for e in earlier)
    finally:
        run.finish()


def test_bad_live_values_are_refused_in_the_callers_thread():
    control = Control()
    config = tiny()
    with pytest.raises(ConfigError, match=r"optim\.lr_g.*-0\.5"):
        control.change(config, **{"optim.lr_g": -0.5})
    with pytest.raises(ConfigError, match=r"loss\.d_steps.*0"):
        control.change(config, **{"loss.d_steps": 0})
    with pytest.raises(ConfigError, match=r"optim\.betas_g"):
        control.change(config, **{"optim.betas_g": (0.5, 1.0)})
    with pytest.raises(ValueError, match=r"model\.z_dim"):
        control.change(config, **{"model.z_dim": 8})  # not a live setting
    assert control.take_changes() == {}  # nothing bad was queued


@pytest.mark.device
def test_saves_are_served_while_paused(tmp_path, sessions):
    run = Run(tiny(**LONG, **{"run.ema": 0.9}), pause_at=3)
    try:
        index = run.paused_at(3)
        run.control.save_generator(str(tmp_path / "gen"))
        run.control.save_checkpoint(str(tmp_path / "ck" / "paused.pt"))
        saved = [run.events.wait_for(lambda e, k=k: isinstance(e, ev.Saved) and e.kind == k)
                 for k in ("generator", "checkpoint")]
        assert all(s.step == 3 for s in saved)
        assert saved[0].path == str(tmp_path / "gen" / "generator.safetensors")
        assert run.control.paused and run.after(index, ev.Metrics) == []
        state = load_checkpoint(tmp_path / "ck" / "paused.pt")
        assert state["step"] == 3 and state["ema"] is not None
        G, _, meta = load_generator(tmp_path / "gen")
        assert meta["step"] == 3
        # the saved generator is the EMA one the trainer samples from
        ema = sessions[0].ema.module.state_dict()
        assert all(torch.equal(v, ema[k]) for k, v in G.state_dict().items())
    finally:
        run.finish()
