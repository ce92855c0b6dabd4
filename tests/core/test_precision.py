"""run.precision = auto: bf16 only where it is measured faster for the model on this machine
(core/training/precision.py), never by the CPU's flags alone, and the measurement leaves the run as it was."""

from __future__ import annotations

import pytest
import torch

from core.data.datasets import ImageSet
from core.presets import preset
from core.training import precision
from core.training.session import Session


class PairTimer:
    """A stand-in clock: precision.measure times fp32 and bf16 in turn (start, end each); each fp32 pass
    lasts `fp32` seconds and each bf16 pass `bf16`."""

    def __init__(self, fp32: float, bf16: float):
        self.durations, self.now, self.calls = (fp32, bf16), 0.0, 0

    def __call__(self) -> float:
        if self.calls % 2:  # an end: the pass's length goes by
            self.now += self.durations[(self.calls // 2) % 2]
        self.calls += 1
        return self.now


def small_models():
    from core.models import build_discriminator, build_generator

    config = preset("folder").with_values(**{"data.image_size": 32, "model.clusters": 0})
    return build_generator(config), build_discriminator(config), torch.randn(4, 128), torch.rand(4, 3, 32, 32)


@pytest.fixture(autouse=True)
def fresh_choices():
    precision.forget()
    yield
    precision.forget()


@pytest.mark.parametrize("fp32, bf16, chosen", [(2.0, 1.0, True), (1.0, 2.0, False)])
def test_bf16_is_chosen_only_where_it_is_measured_faster(fp32, bf16, chosen):
    G, D, z, real = small_models()
    timer = PairTimer(fp32, bf16)
    choice = precision.choose("auto", G, D, z, real, key=("k",), timer=timer, native=lambda d: True)
    assert choice.bf16 is chosen
    assert choice.speedup == pytest.approx(fp32 / bf16)
    assert timer.calls == 2 * 2 * (1 + precision.ROUNDS)  # a warm-up and ROUNDS timed passes of each
    assert ("measured" in choice.notice()) and (("fp32 arithmetic" in choice.notice()) is not chosen)


def test_without_native_bf16_nothing_is_timed_and_fp32_is_kept():
    G, D, z, real = small_models()
    timer = PairTimer(2.0, 1.0)
    choice = precision.choose("auto", G, D, z, real, key=("k",), timer=timer, native=lambda d: False)
    assert not choice.bf16 and timer.calls == 0 and choice.notice() is None


def test_a_setting_other_than_auto_is_obeyed_untimed():
    G, D, z, real = small_models()
    timer = PairTimer(1.0, 5.0)
    assert precision.choose("bf16", G, D, z, real, key=("k",), timer=timer, native=lambda d: True).bf16
    assert not precision.choose("fp32", G, D, z, real, key=("k",), timer=timer, native=lambda d: True).bf16
    assert timer.calls == 0


def test_a_choice_is_measured_once_for_the_same_model_and_batch():
    G, D, z, real = small_models()
    first, second = PairTimer(2.0, 1.0), PairTimer(1.0, 2.0)
    assert precision.choose("auto", G, D, z, real, key=("k",), timer=first, native=lambda d: True).bf16
    assert precision.choose("auto", G, D, z, real, key=("k",), timer=second, native=lambda d: True).bf16
    assert second.calls == 0


def test_measuring_leaves_the_models_as_they_were():
    G, D, z, real = small_models()
    before = {k: v.clone() for k, v in {**G.state_dict(), **{f"D.{k}": v for k, v in D.state_dict().items()}}.items()}
    precision.measure(G, D, z, real)
    after = {**G.state_dict(), **{f"D.{k}": v for k, v in D.state_dict().items()}}
    assert all(torch.equal(before[k], after[k]) for k in before)  # BatchNorm's statistics, spectral norm's u
    assert all(p.grad is None for p in (*G.parameters(), *D.parameters()))


def test_a_session_uses_what_was_chosen_and_starts_as_an_untimed_one(monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda device: True)
    monkeypatch.setattr(precision, "measure", lambda *a, **k: 3.0)  # bf16 "measured" 3x faster
    data = ImageSet(torch.randint(0, 256, (16, 3, 64, 64), dtype=torch.uint8), None, "synthetic")
    config = preset("folder").with_values(**{"data.folder": "/synthetic", "run.batch_size": 4, "model.clusters": 0})
    timed = Session(config, data, torch.device("cpu"))
    assert timed.precision.bf16 and timed.precision.speedup == 3.0
    untimed = Session(config.with_values(**{"run.precision": "fp32"}), data, torch.device("cpu"))
    assert not untimed.precision.bf16
    for a, b in zip(timed.G.state_dict().values(), untimed.G.state_dict().values()):
        assert torch.equal(a, b)
    assert torch.equal(timed.rng.get_state(), untimed.rng.get_state())


def test_timing_leaves_the_runs_random_stream_where_it_was():
    """Dropout draws from torch's random stream in the timed passes: a run timed (the first of a process) must
    train exactly as one whose choice was kept (the next)."""
    from core.models import build_discriminator, build_generator

    config = preset("mlp")  # dropout 0.3 in D
    G, D = build_generator(config), build_discriminator(config)
    z, real = torch.randn(4, config.model.z_dim), torch.rand(4, 1, 28, 28)
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    precision.measure(G, D, z, real)
    assert torch.equal(torch.rand(3), expected)
