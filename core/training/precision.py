"""Which arithmetic a run's step uses: bf16 only where it is measured faster for this model on this machine.

A CPU with native bf16 (AMX, or AVX-512 BF16) runs wide bf16 convolutions 2-5x faster than fp32, but a
narrow model's convolutions cannot feed its matrix units and the casts around them cost time: whether bf16
pays depends on the model's own shapes. So `run.precision = auto` on such a CPU times a forward and
backward of G and D, as a step runs them, in both, alternating, and keeps the faster (on copies of the
models: nothing of the run changes). Without native bf16 on a CPU bf16 is emulated, ~10x slower: fp32
without measuring. On CUDA, bf16 where the GPU supports it (tensor cores always win there); on MPS, fp32.
A choice is kept for the process by what it depends on, so a sweep's trials measure once.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import torch

ROUNDS = 3  # timed rounds of each precision, alternating, after one warm-up of each


@dataclass(frozen=True)
class Choice:
    bf16: bool
    speedup: float | None  # bf16's speed over fp32's, measured; None when nothing was measured
    reason: str  # what decided, in words

    def notice(self) -> str | None:
        """A line for the person when a measurement decided (None when the hardware alone did)."""
        if self.speedup is None:
            return None
        if self.bf16:
            return (f"bf16 arithmetic: measured {self.speedup:.1f}x fp32's speed for this model on this CPU "
                    "(run.precision = fp32 turns it off).")
        return (f"fp32 arithmetic: bf16 measured only {self.speedup:.2f}x fp32's speed for this model on this CPU "
                "(its layers are too narrow to gain from it; run.precision = bf16 forces it).")


_chosen: dict[tuple, Choice] = {}


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def native_bf16(device: torch.device) -> bool:
    """Whether the device does bf16 arithmetic natively (fast), as far as its description tells."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        flags = cpu_flags()
        return "amx_bf16" in flags or "avx512_bf16" in flags
    return False


def choose(setting: str, G: torch.nn.Module, D: torch.nn.Module, z: torch.Tensor, real: torch.Tensor,
           key: tuple, labels: torch.Tensor | None = None, timer: Callable[[], float] = time.perf_counter,
           native: Callable[[torch.device], bool] | None = None, timed: bool = True) -> Choice:
    """bf16 or not for run.precision = `setting`; G(z, labels) and D(real, labels) as a step calls them (a
    self-conditioned G picks its own clusters). `key` names what the choice depends on beyond the machine
    (the model's settings and the batch). `timed` False (the processes of a torchrun job, which must agree and
    would each time their own share of a busy machine): native bf16 is used untimed."""
    if setting != "auto":
        return Choice(setting == "bf16", None, f"run.precision = {setting}")
    device = real.device
    if not (native or native_bf16)(device):  # looked up now, so a stand-in for the hardware can replace it
        return Choice(False, None, f"no native bf16 on this {device.type}")
    if device.type != "cpu" or not timed:
        return Choice(True, None, f"native bf16 on this {device.type}")
    key = (device.type, torch.get_num_threads(), *key)
    if key not in _chosen:
        speedup = measure(G, D, z, real, labels, timer)
        _chosen[key] = Choice(speedup > 1.0, speedup, f"bf16 measured {speedup:.2f}x fp32's speed")
    return _chosen[key]


def measure(G: torch.nn.Module, D: torch.nn.Module, z: torch.Tensor, real: torch.Tensor,
            labels: torch.Tensor | None = None, timer: Callable[[], float] = time.perf_counter) -> float:
    """bf16's speed over fp32's for a forward and backward of D on reals and fakes and of G through D, on
    copies of G and D (their running statistics and spectral norms' vectors are not the run's to move)."""
    G, D = copy.deepcopy(G), copy.deepcopy(D)

    def once(bf16: bool) -> float:
        context = torch.autocast(real.device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
        start = timer()
        with context:
            fake = G(z, labels)
            out = D(torch.cat([real, fake]), None if labels is None else torch.cat([labels, labels]))
        out.float().sum().backward()
        for p in (*G.parameters(), *D.parameters()):
            p.grad = None
        return timer() - start

    # The run's random stream is left where it was: dropout and the like draw from it in these passes, and a
    # run timed (the first of a process) must train exactly as one not timed (the next, whose choice is kept).
    with torch.random.fork_rng(devices=[]):
        once(False), once(True)  # warm-up: oneDNN picks and caches its kernels for each
        totals = {False: 0.0, True: 0.0}
        for _ in range(ROUNDS):
            for bf16 in (False, True):
                totals[bf16] += once(bf16)
    return totals[False] / max(totals[True], 1e-12)


def forget() -> None:
    """Drop the choices kept (tests)."""
    _chosen.clear()
