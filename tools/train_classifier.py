"""Train the digit classifier behind core.quality.digits (the live quality probe).

Trains core.quality.digits.DigitNet on the bundled 5,000 MNIST digits (resources/mnist_5k.npz),
holding out 50 per class to report accuracy, with random affine augmentation so it
generalises from so few images. Writes:
- resources/mnist_classifier.safetensors: float16 weights, plus 'real_mu' / 'real_sigma'
  (float64 mean and covariance of the penultimate features over all 5,000 digits, computed
  with the float16-rounded weights the app will load), so no real-data pass at run time;
- resources/mnist_classifier.json: architecture, held-out accuracy, seed, command.

Usage: python tools/train_classifier.py [--seed 0] [--epochs 20]
CPU only, a few minutes on 2 cores; deterministic for a given seed, torch version and thread count.
"""

import argparse
import hashlib
import json
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from core.data.datasets import BUNDLED_MNIST, load_bundled  # noqa: E402
from core.quality.digits import ARCH, INFO, WEIGHTS, DigitNet, feature_stats  # noqa: E402

HELD_OUT_PER_CLASS = 50


def split(labels: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Stratified: HELD_OUT_PER_CLASS of each class held out, the rest for training."""
    test = []
    for c in range(10):
        idx = torch.nonzero(labels == c).flatten()
        test.append(idx[torch.randperm(len(idx), generator=gen)[:HELD_OUT_PER_CLASS]])
    test = torch.cat(test)
    mask = torch.ones(len(labels), dtype=torch.bool)
    mask[test] = False
    return torch.nonzero(mask).flatten(), test


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random rotation (+-12 deg), scale (0.9-1.1), shear and shift (+-2.5 px), batched via affine_grid."""
    n = x.shape[0]
    u = lambda lo, hi: torch.rand(n, generator=gen) * (hi - lo) + lo  # noqa: E731
    angle, scale, shear = u(-0.21, 0.21), u(0.9, 1.1), u(-0.15, 0.15)
    tx, ty = u(-2.5 / 14, 2.5 / 14), u(-2.5 / 14, 2.5 / 14)
    cos, sin = angle.cos() / scale, angle.sin() / scale
    theta = torch.stack([torch.stack([cos, -sin + shear, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@torch.no_grad()
def accuracy(net: DigitNet, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    return float((net(x).argmax(1) == y).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    data = load_bundled()
    x, y = data.images.float() / 255, data.labels
    train, test = split(y, gen)

    net = DigitNet()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = args.epochs * (len(train) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    t0 = time.time()
    for epoch in range(args.epochs):
        net.train()
        perm = train[torch.randperm(len(train), generator=gen)]
        for i in range(len(train) // args.batch):
            idx = perm[i * args.batch:(i + 1) * args.batch]
            loss = F.cross_entropy(net(augment(x[idx], gen)), y[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if epoch % 5 == 4 or epoch == args.epochs - 1:
            print(f"epoch {epoch + 1}: loss {loss.item():.3f}, held-out {accuracy(net, x[test], y[test]):.4f}, "
                  f"{time.time() - t0:.0f} s", flush=True)

    # Ship float16 (half the size); everything below uses the rounded weights the app loads.
    state = {k: v.half().contiguous() for k, v in net.state_dict().items()}
    net.load_state_dict({k: v.float() for k, v in state.items()})
    held_out = accuracy(net, x[test], y[test])
    with torch.no_grad():
        mu, sigma = feature_stats(net.features(x))
    save_file({**state, "real_mu": mu.contiguous(), "real_sigma": sigma.contiguous()}, str(WEIGHTS))
    info = {
        "arch": ARCH,
        "held_out_accuracy": round(held_out, 4),
        "held_out": f"{HELD_OUT_PER_CLASS} per class ({len(test)} images), stratified by seed",
        "train_images": len(train),
        "seed": args.seed,
        "epochs": args.epochs,
        "weights_dtype": "float16",
        "real_stats": f"mean/covariance (float64) of the {mu.numel()} penultimate features over all "
                      f"{len(x)} bundled digits",
        "data_sha256": hashlib.sha256(BUNDLED_MNIST.read_bytes()).hexdigest(),
        "torch": torch.__version__,
        "command": shlex.join(["python", "tools/train_classifier.py", *sys.argv[1:]]),
    }
    INFO.write_text(json.dumps(info, indent=2) + "\n")
    print(f"held-out accuracy: {held_out:.4f} ({len(test)} images)")
    print(f"wrote {WEIGHTS} ({WEIGHTS.stat().st_size:,} bytes) and {INFO.name}")


if __name__ == "__main__":
    main()
