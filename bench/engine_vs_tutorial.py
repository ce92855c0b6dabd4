"""Engine vs a tutorial loop: the same MLP GAN, batch 64, steps per second.

The tutorial loop is written the way the seed tutorials write it: a DataLoader
over per-image tensors, new label tensors each step, a second generator pass
for G's update, sigmoid + BCELoss, `.item()` every step. The engine is
core.training.trainer.train. Runs alternate (tutorial, engine fp32, engine bf16, ...)
so both see the same machine state; the median of the rounds is reported.

    python bench/engine_vs_tutorial.py [--steps 300] [--rounds 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

from bench.common import median, record  # noqa: E402
from core import events as ev  # noqa: E402
from core.data.datasets import load_bundled  # noqa: E402
from core.models import build_discriminator, build_generator  # noqa: E402
from core.presets import preset  # noqa: E402
from core.training.precision import native_bf16  # noqa: E402
from core.training.trainer import train  # noqa: E402

WARMUP = 30


class TutorialMNIST(Dataset):
    """Like torchvision's MNIST with transforms.ToTensor(): one image at a time."""

    def __init__(self):
        self.images = load_bundled().images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i].float() / 255, 0


def tutorial_steps_per_s(config, steps: int, device: torch.device) -> float:
    torch.manual_seed(0)
    G, D = build_generator(config).to(device), build_discriminator(config).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    criterion = nn.BCELoss()
    z_dim = config.model.z_dim
    loader = DataLoader(TutorialMNIST(), batch_size=64, shuffle=True, drop_last=True)
    done, start = 0, None
    while done < steps + WARMUP:
        for real, _ in loader:
            if done == WARMUP:
                start = time.perf_counter()
            if done == steps + WARMUP:
                break
            real = (real * 2 - 1).to(device)  # scale to [-1, 1] for tanh
            b = real.size(0)
            opt_d.zero_grad()
            loss_real = criterion(torch.sigmoid(D(real)), torch.ones(b, device=device) * 0.9)
            fake = G(torch.randn(b, z_dim, device=device))
            loss_fake = criterion(torch.sigmoid(D(fake.detach())), torch.zeros(b, device=device))
            d_loss = loss_real + loss_fake
            d_loss.backward()
            opt_d.step()
            opt_g.zero_grad()
            fake = G(torch.randn(b, z_dim, device=device))  # a second generator pass
            g_loss = criterion(torch.sigmoid(D(fake)), torch.ones(b, device=device))
            g_loss.backward()
            opt_g.step()
            d_loss.item(), g_loss.item()  # logged every step: a host sync each time
            done += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def engine_steps_per_s(config, steps: int, precision: str) -> float:
    log_every = 10
    cfg = config.with_values(**{"run.steps": steps + WARMUP, "run.precision": precision, "run.log_every": log_every,
                                "run.sample_every": 10**6, "run.ema": 0.0,
                                "run.quality_every": 0})
    stamps: dict[int, float] = {}

    def on_event(e):
        if isinstance(e, ev.Metrics):
            stamps[e.step] = time.perf_counter()  # a metrics tick syncs, so the stamp is honest
        elif isinstance(e, ev.ErrorEvent):
            raise SystemExit(e.message)

    train(cfg, on_event=on_event)
    first = min(s for s in stamps if s >= WARMUP)
    return (max(stamps) - first) / (stamps[max(stamps)] - stamps[first])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = all cores)")
    args = p.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    # The 'mlp' preset's GAN, without EMA or dropout so both loops do the same math.
    config = preset("mlp").with_values(**{"run.device": args.device, "run.threads": torch.get_num_threads(),
                                              "model.d_dropout": 0.0, "run.batch_size": 64})
    variants = ["tutorial", "engine fp32"] + (["engine bf16"] if native_bf16(device) else [])
    results: dict[str, list[float]] = {v: [] for v in variants}
    for r in range(args.rounds):
        for v in variants:
            if v == "tutorial":
                results[v].append(tutorial_steps_per_s(config, args.steps, device))
            else:
                results[v].append(engine_steps_per_s(config, args.steps, v.split()[1]))
            print(f"round {r + 1} {v}: {results[v][-1]:.1f} steps/s", flush=True)
    base = median(results["tutorial"])
    lines = ["| loop | steps/s (median) | rounds | × tutorial |", "|---|---|---|---|"]
    for v in variants:
        m = median(results[v])
        lines.append(f"| {v} | {m:.1f} | {', '.join(f'{x:.1f}' for x in results[v])} | {m / base:.2f}× |")
    lines.append("")
    lines.append(f"Device {args.device}, {torch.get_num_threads()} torch threads, {args.steps} timed steps after "
                 f"{WARMUP} warm-up steps, batch 64, the 'mlp' preset's GAN (no dropout, no EMA).")
    record(f"Engine vs tutorial loop ({args.device})", lines)


if __name__ == "__main__":
    main()
