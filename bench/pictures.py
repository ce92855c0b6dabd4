"""Own pictures within the hour: how recognisable, and how evenly drawn, a folder's kinds are after
N minutes of training, for the `folder` preset as it was (before), as it is (folder), and the plain
DCGAN of PyTorch's examples (dcgan).

The pictures are a folder of family sub-folders, e.g. Debian's Dungeon Crawl tiles
(tools/make_crawl_pictures.py). Each arm trains in its own child process for the largest of
--minutes of wall time (from its first step: the decoding of the folder and the set-up are not
counted) and saves its generator at each mark (the trainer's EMA generator, through Control's
save; the examples' G as it is). Scoring comes after all training, so it takes no training time:
at each mark, --samples samples are scored by a small classifier trained on the folder's own
families (tools/picture_classifier.py, cached under --work):
- FD: the Fréchet distance in the classifier's penultimate features against all the real pictures;
- coverage: each family's share of the samples (as the classifier assigns them) against its share of
  the folder; one figure, the total variation distance (half the summed differences; 0 = drawn as the
  folder holds them), and the worst family's drawn / folder ratio;
- images/s: images trained on / training seconds.
A "real (held-out)" row scores the fifth of the pictures the classifier never saw, as a floor.
Sample grids (8x8) go to WORK/grids/<arm>_<minutes>min.png.

    python bench/pictures.py --pictures DIR --minutes 10 30 60 [--arms before,folder,dcgan] [--parallel]
        [--threads N] [--work DIR] [--samples 2000] [--append]
    python bench/pictures.py --pictures DIR --minutes 0.5 --arms before,dcgan   # smoke: ~3 min
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ARMS = ("before", "folder", "dcgan")
SAMPLE_SEED = 123  # the noise the scored samples are drawn from, the same for every arm and mark
GRID = 64  # samples in a grid (8x8)
LOAD_TIMEOUT_S = 900  # a child's allowance beyond its training minutes: reading, decoding, set-up, saving

# The `folder` preset exactly as core/presets.py's _FOLDER was at BEFORE_COMMIT (issue #27's start), every
# field spelled out, so "before" stays that recipe while the preset changes. (Issue #20's "before", the preset
# at 3cff2fa, is in docs/benchmarks.md's older tables.)
BEFORE = {
    "preset": "folder",
    "data": {"dataset": "folder", "folder": "", "image_size": 64, "channels": 3, "cache_dir": "", "stream": "auto",
             "augment": "auto", "augment_target": 0.6, "augment_policy": "color,translation,cutout"},
    "model": {"arch": "dcgan", "z_dim": 128, "g_hidden": [16], "d_hidden": [16], "g_norm": True,
              "g_output_norm": False, "g_activation": "relu", "g_output": "tanh", "g_dropout": 0.0, "d_dropout": 0.0,
              "d_spectral_norm": True, "d_mbstd": True, "d_pack": 1, "noise": "gaussian", "conditional": False,
              "num_classes": 10, "clusters": "auto"},
    "loss": {"kind": "hinge", "label_smoothing": 0.0, "gp_weight": 10.0, "r1_gamma": 0.0, "g_top_k": 1.0,
             "d_steps": 1},
    "optim": {"lr_g": 0.0004, "lr_d": 0.0004, "betas_g": [0.0, 0.99], "betas_d": [0.0, 0.99]},
    "run": {"steps": 20000, "batch_size": 64, "seed": 0, "device": "auto", "precision": "auto", "compile": "auto",
            "threads": 0, "log_every": 50, "sample_every": 500, "checkpoint_every": 1000, "keep_every": 5000,
            "keep_last": 10, "ema": 0.999, "ema_warmup": True, "quality_every": 1000, "quality_samples": 1000,
            "fid_every": 5000, "fid_samples": 500, "grid_size": 64, "sync_batchnorm": False, "tensorboard": False},
}
BEFORE_COMMIT = "abf2295"


def source_lines(pictures: Path) -> list[str]:
    """The picture set's SOURCE.md (tools/make_crawl_pictures.py writes one), or nothing."""
    try:
        return (pictures / "SOURCE.md").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []


def mark_name(minutes: float) -> str:
    return f"{minutes:g}min"


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def trainer_config(arm: str, pictures: Path, work: Path, args):
    """The arm's config, with the bench's folder, threads and seed, and nothing between steps but the saves."""
    from core.config import Config
    from core.presets import preset

    if arm == "before":
        base = Config.from_dict(BEFORE)
    else:
        base = preset("folder").with_values(**variants(work).get(arm, {}))
    return base.with_values(**{
        "data.folder": str(pictures), "data.cache_dir": str(work / "cache"), "run.device": args.device,
        "run.threads": args.threads, "run.seed": args.seed, "run.steps": 10_000_000, "run.sample_every": 1_000_000,
        "run.checkpoint_every": 0, "run.keep_every": 0, "run.fid_every": 0, "run.quality_every": 0})


def variants(work: Path) -> dict[str, dict]:
    """The --variant arms of this bench run (the folder preset with some settings changed), by name."""
    path = work / "variants.json"
    return json.loads(path.read_text()) if path.is_file() else {}


# --- the children: one arm each ---


class Marks:
    """Wall time from the first step; at each mark, `save(mark)` and a record of steps and seconds."""

    def __init__(self, minutes: list[float], device, save):
        self.minutes, self.device, self.save = sorted(set(minutes)), device, save
        self.t0: float | None = None
        self.done: list[dict] = []

    def start(self) -> None:
        if self.t0 is None:
            self.t0 = time.perf_counter()

    def after_step(self, steps: int, images: int, extra: dict | None = None) -> bool:
        """True once the last mark is passed; `extra` (e.g. the augmentation strength) joins the mark's record."""
        assert self.t0 is not None
        elapsed = time.perf_counter() - self.t0
        while len(self.done) < len(self.minutes) and elapsed >= 60 * self.minutes[len(self.done)]:
            if self.device.type == "cuda":
                import torch
                torch.cuda.synchronize()
                elapsed = time.perf_counter() - self.t0
            m = self.minutes[len(self.done)]
            self.save(m)
            self.done.append({"minutes": m, "steps": steps, "images": images, "seconds": elapsed, **(extra or {})})
            more = "".join(f", {k} {v:.3g}" for k, v in (extra or {}).items())
            print(f"{mark_name(m)}: {steps} steps, {images / elapsed:.0f} images/s{more}", flush=True)
        return len(self.done) == len(self.minutes)


def child_trainer(arm: str, args) -> dict:
    """A trainer arm: core.training.trainer.train with the arm's config; its EMA generator saved at each mark."""
    import torch

    import core.training.trainer as trainer
    from core import events as ev
    from core.control import Control

    work, out = Path(args.work), Path(args.work) / arm
    config = trainer_config(arm, Path(args.pictures), work, args)
    control = Control()
    marks = Marks(args.minutes, torch.device(args.device),
                  lambda m: control.save_generator(str(out / mark_name(m))))  # written before the next step
    errors: list[str] = []
    real_step = trainer.Session.train_step

    def timed_step(session):
        marks.start()
        real_step(session)
        strength = session.augment_strength()  # adaptive augmentation's p (NaN: not adaptive)
        extra = {"augment_p": strength} if strength == strength else {}
        if marks.after_step(session.step, session.step * session.config.run.batch_size, extra):
            control.stop()

    def on_event(e):
        if isinstance(e, ev.ErrorEvent):
            errors.append(e.message)
            control.stop()  # a NaN pauses a run: this one ends instead
        elif isinstance(e, ev.Started):
            print(f"{arm}: training on {e.dataset_size:,} pictures ({e.dataset})", flush=True)

    trainer.Session.train_step = timed_step  # times the steps alone, as bench/own_images.py does
    trainer.train(config, control, on_event)
    if errors:
        raise SystemExit(f"{arm}: {errors[0]}")
    return {"arm": arm, "batch": config.run.batch_size, "marks": marks.done,
            "config": config.to_dict(), "threads": torch.get_num_threads()}


def child_dcgan(args) -> dict:
    """The examples' DCGAN on the same pictures, read by torchvision's ImageFolder (PIL) as there, decoded once
    and held in memory (as the trainer arms hold theirs), each epoch in a seeded random order."""
    import torch
    from safetensors.torch import save_file
    from torchvision import datasets, transforms

    from bench.examples_dcgan import ExamplesLoop

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    out = Path(args.work) / "dcgan"
    folder = datasets.ImageFolder(args.pictures, transform=transforms.Compose([
        transforms.Resize(64), transforms.CenterCrop(64), transforms.ToTensor(),
        transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]))
    data = torch.stack([folder[i][0] for i in range(len(folder))]).to(device)
    print(f"dcgan: training on {len(data):,} pictures, width {args.dcgan_width}", flush=True)
    loop = ExamplesLoop(args.dcgan_width, device)

    def save(m: float) -> None:
        (out / mark_name(m)).mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in loop.G.state_dict().items()}
        save_file(state, str(out / mark_name(m) / "netG.safetensors"))

    marks = Marks(args.minutes, device, save)
    gen = torch.Generator().manual_seed(args.seed)
    steps = images = 0
    while True:
        order = torch.randperm(len(data), generator=gen).to(device)  # shuffle=True, the last batch smaller
        for i in range(0, len(data), 64):
            marks.start()
            batch = data[order[i:i + 64]]
            loop.step(batch)
            steps, images = steps + 1, images + len(batch)
            if marks.after_step(steps, images):
                return {"arm": "dcgan", "batch": 64, "marks": marks.done, "width": args.dcgan_width,
                        "threads": torch.get_num_threads()}


# --- the parent: launch, score, report ---


def launch(arms: list[str], args, work: Path) -> dict[str, dict]:
    """Each arm in its own child process, in turn or side by side; its result from WORK/<arm>/result.json."""
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    timeout = 60 * max(args.minutes) + LOAD_TIMEOUT_S
    procs = {}
    results = {}
    for arm in arms:
        cmd = [sys.executable, __file__, "--child", arm, "--pictures", str(args.pictures), "--work", str(work),
               "--minutes", *map(str, args.minutes), "--threads", str(args.threads), "--seed", str(args.seed),
               "--device", args.device, "--dcgan-width", str(args.dcgan_width)]
        log = (logs / f"{arm}.log").open("w")
        procs[arm] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT), log)
        print(f"{arm}: training for {max(args.minutes):g} min, {args.threads} threads (log: {logs / arm}.log)",
              flush=True)
        if not args.parallel:
            results[arm] = finish(arm, *procs.pop(arm), timeout, work)
    for arm, (p, log) in procs.items():
        results[arm] = finish(arm, p, log, timeout, work)
    return results


def finish(arm: str, p: subprocess.Popen, log, timeout: float, work: Path) -> dict:
    try:
        rc = p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    log.close()
    result = work / arm / "result.json"
    if rc or not result.is_file():
        tail = "\n".join((work / "logs" / f"{arm}.log").read_text(errors="replace").splitlines()[-15:])
        raise SystemExit(f"{arm}: the training process failed ({rc}); the end of its log:\n{tail}")
    return json.loads(result.read_text())


def samples_of(arm: str, mark: float, work: Path, n: int, device):
    """n samples (uint8 NCHW, CPU) of the arm's generator as saved at the mark."""
    if arm == "dcgan":
        from safetensors.torch import load_file

        from bench.examples_dcgan import draw, generator

        state = load_file(str(work / "dcgan" / mark_name(mark) / "netG.safetensors"))
        G = generator(state["0.weight"].shape[1] // 8).to(device)
        G.load_state_dict(state)
        return draw(G, n, SAMPLE_SEED)
    from core.sharing.export import generate, load_generator

    G, config, _ = load_generator(work / arm / mark_name(mark), device)
    return generate(G, config, n, seed=SAMPLE_SEED)


def classifier_for(pictures: Path, work: Path, seed: int, epochs: int, given: Path | None = None):
    """The picture classifier: `given` (one tools/picture_classifier.py trained on these pictures), or one
    trained once per folder state, seed and epochs and kept under WORK/classifier/."""
    import hashlib

    from core.data.image_cache import scan
    from tools import picture_classifier as pc

    if given is not None:
        return pc.load_classifier(given)
    files = scan(pictures)
    stamp = [pc.ARCH, seed, epochs] + [[f.relative_to(pictures.resolve()).as_posix(), f.stat().st_size,
                                        f.stat().st_mtime_ns] for f in files]
    key = hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:16]
    path = work / "classifier" / f"{key}.safetensors"
    if not path.is_file():
        print(f"training the picture classifier on {pictures} (once; kept as {path})", flush=True)
        report = pc.train_classifier(pictures, path.with_suffix(".partial"), seed, epochs)
        os.replace(path.with_suffix(".partial"), path)
        print("\n".join(pc.describe(report)), flush=True)
    return pc.load_classifier(path)


def score(results: dict[str, dict], args, work: Path) -> tuple[list[str], dict]:
    import torch
    from torchvision.utils import make_grid

    from core.quality.digits import feature_stats, frechet_distance
    from tools import picture_classifier as pc

    clf = classifier_for(args.pictures, work, args.seed, args.classifier_epochs, args.classifier)
    x, y, families = pc.read_folder(args.pictures)
    assert families == clf.families  # main() checked
    k = len(families)
    feats, _ = clf.features_and_ids(x)
    mu, sigma = feature_stats(feats)
    data_share = torch.bincount(y, minlength=k).double() / len(y)
    grids = work / "grids"
    grids.mkdir(parents=True, exist_ok=True)

    def save_grid(images, name: str) -> None:
        from PIL import Image
        grid = make_grid(images[:GRID], nrow=8, padding=2)
        Image.fromarray(grid.permute(1, 2, 0).numpy()).save(grids / f"{name}.png")

    def row(label: str, minutes: str, steps: str, rate: str, f: torch.Tensor, ids: torch.Tensor) -> tuple[str, dict]:
        m, s = feature_stats(f)
        fd = frechet_distance(mu, sigma, m, s)
        share = torch.bincount(ids, minlength=k).double() / len(ids)
        tv = 0.5 * float((share - data_share).abs().sum())
        ratio = share / data_share
        worst = int(ratio.argmin())
        cells = " | ".join(f"{float(v):.1%}" for v in share)
        text = (f"| {label} | {minutes} | {steps} | {rate} | {fd:.2f} | {tv:.3f} | {families[worst]} "
                f"{float(ratio[worst]):.2f} | {cells} |")
        return text, {"fd": fd, "tv": tv, "worst": families[worst], "worst_ratio": float(ratio[worst]),
                      "shares": dict(zip(families, share.tolist()))}

    lines = ["| arm | minutes | steps | images/s | FD | TV distance | worst family (drawn / folder) | "
             + " | ".join(families) + " |", "|---|---|---|---|---|---|---|" + "---|" * k,
             "| the folder | | | | | | | " + " | ".join(f"{float(v):.1%}" for v in data_share) + " |"]
    _, test = pc.split(y, seed=clf.info.get("seed", args.seed))  # the classifier's own held-out fifth
    held = clf.features_and_ids(x[test])
    text, _ = row("real (held-out)", "", "", "", *held)
    lines.append(text)
    save_grid(x[torch.randperm(len(x), generator=torch.Generator().manual_seed(SAMPLE_SEED))], "real")
    figures: dict = {}
    device = torch.device(args.device)
    for arm, result in results.items():
        for mark in result["marks"]:
            images = samples_of(arm, mark["minutes"], work, args.samples, device)
            save_grid(images, f"{arm}_{mark_name(mark['minutes'])}")
            f, ids = clf.features_and_ids(images)
            text, fig = row(arm, f"{mark['minutes']:g}", f"{mark['steps']:,}", f"{mark['images'] / mark['seconds']:,.0f}",
                            f, ids)
            lines.append(text)
            figures[f"{arm}_{mark_name(mark['minutes'])}"] = {**mark, **fig}
            print(text, flush=True)
    return lines, figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pictures", type=Path, required=True, help="a folder of family sub-folders of pictures")
    p.add_argument("--minutes", type=float, nargs="+", default=[10, 30, 60], help="marks, minutes of training")
    p.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of {', '.join(ARMS)}")
    p.add_argument("--parallel", action="store_true", help="train the arms side by side (cores shared out)")
    p.add_argument("--threads", type=int, default=0, help="torch threads an arm (default: all cores in turn, "
                   "cores / arms side by side)")
    p.add_argument("--work", type=Path, help="the bench's own folder: runs, grids, logs, the cached classifier "
                   "(default: a new temporary folder); what an earlier run left there is replaced")
    p.add_argument("--samples", type=int, default=2000, help="samples scored at each mark")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dcgan-width", type=int, default=64, help="the examples' ngf = ndf (64 there)")
    p.add_argument("--classifier", type=Path, help="a classifier tools/picture_classifier.py trained on these "
                   "pictures (default: one trained here once and kept under WORK/classifier/)")
    p.add_argument("--classifier-epochs", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--append", action="store_true", help="append the table to docs/benchmarks.md")
    p.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE,...",
                   help="one more arm: the folder preset with settings changed, e.g. "
                   "'wide:model.g_hidden=[32];model.d_hidden=[32]' (settings split by ';'; repeatable)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        out = Path(args.work) / args.child
        out.mkdir(parents=True, exist_ok=True)
        result = child_dcgan(args) if args.child == "dcgan" else child_trainer(args.child, args)
        (out / "result.json").write_text(json.dumps(result, indent=2))
        return
    from tools import picture_classifier as pc

    args.classifier_epochs = args.classifier_epochs or pc.EPOCHS
    from core.config import ConfigError, parse_overrides

    named: dict[str, dict] = {}
    for text in args.variant:
        name, sep, pairs = text.partition(":")
        if not sep or not name.isidentifier() or name in ARMS:
            raise SystemExit(f"--variant {text!r}: expected NAME:KEY=VALUE;..., NAME a word not in {', '.join(ARMS)}")
        try:
            named[name] = parse_overrides([p for p in pairs.split(";") if p.strip()])
        except ConfigError as e:
            raise SystemExit(f"--variant {name}: {e}") from None
    arms = [a.strip() for a in args.arms.split(",") if a.strip()] + [n for n in named if n not in args.arms.split(",")]
    bad = [a for a in arms if a not in ARMS and a not in named]
    if bad or not arms:
        raise SystemExit(f"--arms {args.arms}: choose from {', '.join(ARMS)} or a --variant's name")
    args.minutes = sorted(set(args.minutes))
    if min(args.minutes) <= 0:
        raise SystemExit(f"--minutes {' '.join(map(str, args.minutes))}: each mark must be above 0")
    if not args.pictures.is_dir():
        raise SystemExit(f"--pictures {args.pictures}: no such folder (make one: python tools/make_crawl_pictures.py)")
    if not 2 <= args.samples <= 100_000 or args.threads < 0 or args.dcgan_width < 1:
        raise SystemExit("--samples must be 2 to 100,000, --threads 0 or more, --dcgan-width 1 or more")
    args.pictures = args.pictures.resolve()
    args.threads = args.threads or max(1, cores() // (len(arms) if args.parallel else 1))
    work = (args.work or Path(tempfile.mkdtemp(prefix="gan-studio-pictures-"))).resolve()
    args.work = work
    print(f"work folder: {work}", flush=True)
    for arm in arms:  # this bench's own outputs from an earlier run
        shutil.rmtree(work / arm, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    (work / "variants.json").write_text(json.dumps(named, indent=2))
    from core.data.datasets import load_dataset

    try:
        for arm in arms:  # decoded once, before any timing, so side-by-side children do not build it together
            if arm != "dcgan":
                load_dataset(trainer_config(arm, args.pictures, work, args).data)
        # Before training (not in its time); a classifier of other families is refused now, not after the hour.
        clf = classifier_for(args.pictures, work, args.seed, args.classifier_epochs, args.classifier)
        families = [name for name, _ in pc.family_folders(args.pictures)]
    except ValueError as e:  # ConfigError, DataError, ClassifierError: one line each
        raise SystemExit(f"error: {e}") from None
    if families != clf.families:
        raise SystemExit(f"error: {args.classifier}: trained on the families {', '.join(clf.families)}, not "
                         f"{args.pictures}'s ({', '.join(families)})")
    t0 = time.perf_counter()
    results = launch(arms, args, work)
    trained = time.perf_counter() - t0
    lines, figures = score(results, args, work)
    (work / "figures.json").write_text(json.dumps(figures, indent=2))
    package = next((line.removeprefix("- Package: ").split(" (")[0] for line in source_lines(args.pictures)
                    if line.startswith("- Package: ")), "")
    lines += ["", (
        f"{args.pictures.name}{f' ({package})' if package else ''}; each arm {max(args.minutes):g} min in its own "
        f"process ({'side by side' if args.parallel else 'in turn'}, torch threads {args.threads}, device "
        f"{args.device}, seed {args.seed}; the training processes took {trained / 60:.1f} min). "
        + "; ".join([*([f"before = the folder preset at commit {BEFORE_COMMIT}"] if "before" in arms else []),
                     *(["folder = the preset now"] if "folder" in arms else []),
                     *(f"{n} = the preset with {', '.join(f'{k}={v}' for k, v in named[n].items())}" for n in named),
                     *([f"dcgan = PyTorch's examples' DCGAN (width {args.dcgan_width}) by its own loop"]
                       if "dcgan" in arms else [])])
        + ". Minutes are training wall time from the first step. "
        f"{args.samples} samples a mark (noise seed {SAMPLE_SEED}; the trainer arms' EMA generator, the examples' G "
        "in training mode as it draws its samples), scored by tools/picture_classifier.py trained on the folder's "
        "families (a stratified 80/20 split): FD against the features of all the pictures; drawn shares as it "
        "assigns them; TV distance = half the summed differences from the folder's shares; worst family = the "
        "smallest drawn / folder share; the held-out row scores the fifth it never saw (held-out accuracy "
        f"{clf.info['held_out_accuracy']:.1%}; per family "
        + ", ".join(f"{f} {a:.0%}" for f, a in clf.info["per_family"].items()) + "). "
        f"Grids: {work / 'grids'}.")]
    if args.append:
        from bench.common import record
        record(f"Own pictures within the hour: {', '.join(arms)} on {args.pictures.name}", lines)
    else:
        from bench.common import machine
        print("\n".join(["", machine(), "", *lines]))


if __name__ == "__main__":
    main()
