"""A small CNN that tells a picture set's families apart: the held-out "kind" classifier for scoring.

Trained on a folder of family sub-folders (FOLDER/<family>/*.png, as tools/make_crawl_pictures.py
writes), it plays for own pictures the part tools/train_classifier.py's digit classifier plays for
the digits: bench/pictures.py takes the Fréchet distance in its penultimate features and counts how
often G draws each family. It is never used by the app's readings and is not committed: the bench
keeps it under its --work folder.

The split is stratified and seeded (HELD_OUT of each family held out by a seeded permutation); the
net sees 32 px (the 64 px input average-pooled: the crawl tiles are 32 px pixel art upscaled), trains
with random shifts and horizontal flips so it also reads a generator's slightly-off pictures, and
takes about a minute and a half on 2 CPU cores. Deterministic for a given seed, torch version and thread count.

    python tools/picture_classifier.py FOLDER --out PATH [--seed 0] [--epochs 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import nn
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.data.folders import IMAGE_SUFFIXES  # noqa: E402

ARCH = "picturenet-32-64-64-128"
SIDE = 64  # input side; the net pools it to 32
FEATURES = 128
HELD_OUT = 0.2  # of each family
EPOCHS = 20
BATCH = 128
SHIFT = 4  # px at 64 px, each way
CHUNK = 512  # pictures a forward pass scores at once


class ClassifierError(ValueError):
    """A folder or classifier file that cannot be used; the message says which and why."""


class PictureNet(nn.Module):
    """avg-pool 64 -> 32, then four conv 3x3 + BatchNorm + ReLU blocks (32, 64, 64, 128 channels) with a
    max-pool after the first three (32 -> 4 px), global average pooling (the FEATURES features), and a
    linear head. About 130k weights."""

    def __init__(self, families: int):
        super().__init__()
        widths = (3, 32, 64, 64, FEATURES)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True))
            for a, b in zip(widths, widths[1:]))
        self.drop = nn.Dropout(0.2)
        self.head = nn.Linear(FEATURES, families)
        self.to(memory_format=torch.channels_last)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Floats in [0, 1], (N, 3, 64, 64) -> (N, FEATURES)."""
        x = F.avg_pool2d((x - 0.5) / 0.5, 2).contiguous(memory_format=torch.channels_last)  # ~1.5x faster on a CPU
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < len(self.blocks) - 1:
                x = F.max_pool2d(x, 2)
        return x.mean((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.features(x)))


def family_folders(folder: str | Path) -> list[tuple[str, list[Path]]]:
    """(family, its picture files) for each sub-folder holding pictures, in name order; hidden ones skipped."""
    root = Path(folder)
    if not root.is_dir():
        raise ClassifierError(f"{folder}: no such folder; give a folder of family sub-folders of pictures")
    found = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        if files:
            found.append((sub.name, files))
    if len(found) < 2:
        raise ClassifierError(f"{folder}: {len(found)} sub-folder(s) of pictures; the classifier needs at "
                              "least two families (one sub-folder each)")
    return found


def read_folder(folder: str | Path) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(uint8 (N, 3, 64, 64), int64 family ids (N,), family names) from FOLDER/<family>/<picture>, families
    and pictures in name order; pictures of another size are centre-cropped and resized."""
    families, images, labels = [], [], []
    for family, files in family_folders(folder):
        for path in files:
            try:
                with Image.open(path) as im:
                    im = im.convert("RGB")
                    if im.size != (SIDE, SIDE):
                        im = ImageOps.fit(im, (SIDE, SIDE), Image.Resampling.BILINEAR)
                    images.append(np.asarray(im, dtype=np.uint8))
            except (OSError, ValueError) as e:
                raise ClassifierError(f"{path}: not a readable picture ({e})") from None
            labels.append(len(families))
        families.append(family)
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return x, torch.tensor(labels, dtype=torch.long), families


def split(labels: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, held-out) indices: HELD_OUT of each family (at least one where it has two or more), by a
    seeded permutation."""
    gen = torch.Generator().manual_seed(seed)
    train, test = [], []
    for c in range(int(labels.max()) + 1):
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        k = max(1, round(HELD_OUT * len(idx))) if len(idx) >= 2 else 0
        test.append(idx[:k])
        train.append(idx[k:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A random whole-pixel shift (up to SHIFT px each way, black coming in) and a horizontal flip half the time."""
    n = x.shape[0]
    shift = torch.randint(-SHIFT, SHIFT + 1, (n, 2), generator=gen).float() * 2 / SIDE
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    flip = torch.rand(n, generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] or floats in [0, 1] -> floats in [0, 1]."""
    return x.float() / 255 if x.dtype == torch.uint8 else x.float()


class PictureClassifier:
    """A trained PictureNet: `families`, `predict(x) -> ids`, `features(x) -> (N, FEATURES)`; x is uint8
    [0, 255] or floats in [0, 1], (N, 3, 64, 64). Runs in chunks, in eval mode, on the CPU."""

    def __init__(self, net: PictureNet, families: list[str], info: dict):
        self.net = net.eval()
        self.families = families
        self.info = info

    @torch.inference_mode()
    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = torch.cat([self.net.features(to_unit(x[i:i + CHUNK])) for i in range(0, len(x), CHUNK)])
        return feats, self.net.head(feats)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x)[0]

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x)[1].argmax(1)

    def features_and_ids(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both in one pass."""
        feats, logits = self._run(x)
        return feats, logits.argmax(1)


def confusion(clf: PictureClassifier, x: torch.Tensor, y: torch.Tensor, families: int) -> torch.Tensor:
    """(families, families) counts: row = the true family, column = the predicted one."""
    pred = clf.predict(x)
    return torch.bincount(y * families + pred, minlength=families * families).reshape(families, families)


def train_classifier(folder: str | Path, out_path: str | Path, seed: int = 0, epochs: int = EPOCHS,
                     log=print) -> dict:
    """Train on `folder`'s families, hold out HELD_OUT of each, save the weights and the family names to
    `out_path` (safetensors); return the report (held-out accuracy, per family, confusion)."""
    from safetensors.torch import save_file

    t0 = time.perf_counter()
    x, y, families = read_folder(folder)
    train, test = split(y, seed)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = PictureNet(len(families))
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    per_epoch = max(1, len(train) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * per_epoch)
    for epoch in range(epochs):
        net.train()
        perm = train[torch.randperm(len(train), generator=gen)]
        for i in range(per_epoch):
            idx = perm[i * BATCH:(i + 1) * BATCH]
            loss = F.cross_entropy(net(augment(to_unit(x[idx]), gen)), y[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        log(f"epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}, {time.perf_counter() - t0:.0f} s")
    clf = PictureClassifier(net, families, {})
    counts = confusion(clf, x[test], y[test], len(families))
    per_family = {f: float(counts[i, i] / counts[i].sum()) if counts[i].sum() else float("nan")
                  for i, f in enumerate(families)}
    report = {
        "arch": ARCH, "families": families, "seed": seed, "epochs": epochs,
        "pictures": len(y), "train": len(train), "held_out": len(test),
        "held_out_accuracy": float(counts.diag().sum() / max(int(counts.sum()), 1)),
        "per_family": per_family, "confusion": counts.tolist(),
        "seconds": round(time.perf_counter() - t0, 1), "torch": torch.__version__, "threads": torch.get_num_threads(),
    }
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(out_path), metadata={"report": json.dumps(report)})
    return report


def load_classifier(path: str | Path) -> PictureClassifier:
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), "pt") as f:
            report = json.loads((f.metadata() or {})["report"])
        state = load_file(str(path))
        net = PictureNet(len(report["families"]))
        net.load_state_dict(state)
    except (OSError, SafetensorError, KeyError, json.JSONDecodeError, RuntimeError) as e:
        raise ClassifierError(f"{path}: not a picture classifier of this version ({e})") from None
    return PictureClassifier(net, report["families"], report)


def describe(report: dict) -> list[str]:
    """The report as lines: accuracy, per family, and the confusion (rows: true, columns: predicted)."""
    fams = report["families"]
    lines = [f"held-out accuracy: {report['held_out_accuracy']:.3f} ({report['held_out']} pictures; trained on "
             f"{report['train']}, {report['epochs']} epochs, {report['seconds']:.0f} s)", "",
             "| family | held-out accuracy | " + " | ".join(fams) + " |", "|---|---|" + "---|" * len(fams)]
    for i, f in enumerate(fams):
        row = report["confusion"][i]
        lines.append(f"| {f} | {report['per_family'][f]:.3f} | " + " | ".join(map(str, row)) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="a folder of family sub-folders of pictures")
    ap.add_argument("--out", type=Path, required=True, help="where to save the classifier (.safetensors); a new file")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    args = ap.parse_args(argv)
    if args.out.exists():
        print(f"error: {args.out}: exists; give a new path (nothing is overwritten)", file=sys.stderr)
        return 2
    try:
        report = train_classifier(args.folder, args.out, args.seed, args.epochs)
    except ClassifierError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("\n".join(describe(report)))
    print(f"confusion: rows are the true family, columns the predicted one; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
