"""The fast path (run.compile, core/training/fast_path.py): compiled G and D that live changes,
pause and single step do not disturb, R1 and WGAN-GP kept working, and eager when compiling fails.

Compiled here with the "aot_eager" backend: the graphs, guards and AOTAutograd of torch.compile without
generating code (inductor takes half a minute a model on a small CPU, tens of seconds on a GPU); whether a
recompile happens is decided by those guards, whatever the backend. bench/gpu_suite.py's speed part
compiles with inductor on the device (and says when a compile fell back to eager)."""

from __future__ import annotations

import math

import pytest
import torch
import torch._dynamo

from core import events as ev
from core.data.datasets import load_dataset
from core.training import fast_path
from core.training.session import Session
from core.training.trainer import train

from .conftest import DEVICE, Recorder, Run, tiny

pytestmark = pytest.mark.device

COMPILED = {"run.compile": "on", "model.arch": "dcgan", "model.d_spectral_norm": True}


@pytest.fixture(autouse=True)
def quick_backend(monkeypatch):
    monkeypatch.setattr(fast_path, "BACKEND", "aot_eager")
    torch._dynamo.reset()  # no graphs from another test: the counts below are this test's
    yield
    torch._dynamo.reset()


def _graphs() -> int:
    return torch._dynamo.utils.counters["stats"]["unique_graphs"]


def _session(**dotted) -> Session:
    config = tiny(**{**COMPILED, **dotted})
    return Session(config, load_dataset(config.data), torch.device(DEVICE))


def test_a_live_change_after_compiling_takes_effect_without_a_recompile():
    s = _session(**{"loss.d_steps": 1, "loss.label_smoothing": 0.1})
    assert s.fast is not None
    for _ in range(3):
        s.train_step()
    compiled = _graphs()
    assert compiled >= 2 and s.fast is not None  # G and D at least, and no fallback
    moved_before = _largest_move(s)  # one step at the preset's rates
    s.apply_changes({"optim.lr_g": 1e-7, "optim.lr_d": 1e-7, "optim.betas_g": (0.1, 0.9),
                     "optim.betas_d": (0.2, 0.95), "loss.d_steps": 3, "loss.label_smoothing": 0.2})
    adam_steps = float(s.opt_d.state[next(s.D.parameters())]["step"])
    moved_after = _largest_move(s)
    s.train_step()
    assert _graphs() == compiled  # nothing compiled again
    assert float(s.opt_d.state[next(s.D.parameters())]["step"]) == adam_steps + 6  # 3 D updates a step now
    # the new rate took effect: Adam moves a weight by a few times lr at most
    assert moved_before > 1e-5 > moved_after
    assert s.opt_g.param_groups[0]["betas"] == (0.1, 0.9)
    assert all(math.isfinite(v) for v in s.read_metrics())


def _largest_move(s: Session) -> float:
    """Train one step; the largest change of any of G's or D's weights."""
    params = list(s.G.parameters()) + list(s.D.parameters())
    before = [p.detach().clone() for p in params]
    s.train_step()
    return max(float((p.detach() - b).abs().max()) for p, b in zip(params, before))

def test_the_compiled_step_computes_what_the_eager_one_does():
    eager, fast = _session(**{"run.compile": "off"}), _session()
    assert eager.fast is None and fast.fast is not None
    for _ in range(3):
        eager.train_step()
        fast.train_step()
    for a, b in zip(list(eager.G.parameters()) + list(eager.D.parameters()),
                    list(fast.G.parameters()) + list(fast.D.parameters())):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("loss", [{"loss.kind": "hinge", "loss.r1_gamma": 1.0}, {"loss.kind": "wgan-gp"}])
def test_penalties_that_need_a_double_backward_train_on_the_fast_path(loss):
    """R1's steps judge with the plain D, WGAN-GP's penalty calls it: no double backward in compiled
    code, and the compiled models are kept (no fallback)."""
    s = _session(**loss, **{"model.d_spectral_norm": False})
    for _ in range(18):  # R1 every 16 steps: steps 0 and 16
        s.train_step()
    assert s.fast is not None and s.take_notices() == []
    assert all(math.isfinite(v) for v in s.read_metrics())


def test_pause_and_single_step_on_the_fast_path(sessions):
    run = Run(tiny(**COMPILED, **{"run.steps": 2000}), pause_at=3)
    try:
        index = run.paused_at(3)
        run.control.step_once()
        new_index = run.paused_at(4)
        between = run.events.events[index + 1:new_index]
        assert [e.step for e in between if isinstance(e, ev.Metrics)] == [4]
        assert sessions[0].fast is not None and sessions[0].step == 4
    finally:
        finished = run.finish()
    assert finished.stopped and finished.step == 4


def test_a_compile_that_fails_trains_eager_from_the_same_step_with_a_notice(monkeypatch):
    def broken(graph, example_inputs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(fast_path, "BACKEND", broken)
    config = tiny(**COMPILED, **{"run.steps": 4})
    compiled, eager = Recorder(), Recorder()
    session = train(config, on_event=compiled)
    train(config.with_values(**{"run.compile": "off"}), on_event=eager)
    assert compiled.errors() == [] and session.fast is None
    notes = [n.message for n in compiled.of(ev.Notice) if "run.compile" in n.message]
    assert len(notes) == 1 and "no compiler here" in notes[0] and "without compiling" in notes[0]
    assert compiled.metrics_losses() == eager.metrics_losses()  # the failed step was undone, then run eager


def test_auto_compiles_nowhere_yet_and_off_never():
    for setting in ("auto", "off"):
        assert fast_path.compile_plan(setting, torch.device("cpu"), False) == (False, None)
        assert fast_path.compile_plan(setting, torch.device("cuda"), False) == (False, None)
    assert fast_path.compile_plan("on", torch.device("cpu"), False) == (True, None)
    compiled, note = fast_path.compile_plan("on", torch.device("cpu"), True)
    assert not compiled and "torchrun" in note
