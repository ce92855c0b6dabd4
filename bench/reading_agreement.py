"""Does the picture reading rank generators as an independent judge does? And what does it cost?

Issue #29 chose the picture reading (core/quality/picture_reading.py) by agreement: over the kept
checkpoints of three short runs on each of two real picture sets, the Spearman rank correlation between

- the reading: the Fréchet distance in a fixed random network's features (the app's reading), and
  a candidate: the same network trained briefly on the folder's k-means clusters (core/data/clusters.py's
  labels; CLUSTER_STEPS steps at the start of a run), read the same way;
- the judge: the Fréchet distance in the penultimate features of a classifier of the set's families
  (tools/picture_classifier.py, trained on the set's own family folders: held-out, never used by the app),

each on the same 1,000 samples of each checkpoint's sampling generator. Both are lower-is-better, so
agreement is a positive rho. A set is a folder of family sub-folders (tools/make_crawl_pictures.py,
tools/make_wesnoth_pictures.py). The runs are the folder preset at --size px with three changes (ARMS),
each trained for --minutes of wall time with a checkpoint kept every --every steps.

--cost measures what a reading costs instead: at 64 px on the first set, the folder preset's generator
drawing 1,000 samples and the reading scoring them, the reference built once, and the preset's training
step, so the share of training time at run.quality_every = 250, 500 and 1,000; and the reading of the folder's
own pictures that the reference never saw (the floor a generator can reach).

    python bench/reading_agreement.py --set crawl=DIR --set wesnoth=DIR --work DIR [--size 32] [--minutes 4]
        [--every 250] [--samples 1000] [--threads 2] [--plot docs/reading_agreement.png]
    python bench/reading_agreement.py --cost --set crawl=DIR64 --work DIR
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402

ARMS = {  # each run: the folder preset with these changes
    "preset": {},
    "lr x4": {"optim.lr_g": 1.6e-3, "optim.lr_d": 1.6e-3},  # unstable: quality may peak and fall
    "narrow G": {"model.g_hidden": [8]},
}
SAMPLE_SEED = 123  # the noise every checkpoint's samples are drawn from
CLUSTER_STEPS = 300  # the cluster-trained candidate's training steps (batch 64, Adam 2e-3)
JUDGE_SIDE = 64  # tools/picture_classifier.py reads 64 px


def spearman(a, b) -> float:
    """Spearman's rho (Pearson's r of the ranks, ties given their mean rank)."""
    ra, rb = _ranks(np.asarray(a, float)), _ranks(np.asarray(b, float))
    if len(ra) < 3 or ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for value in np.unique(x):  # ties: their mean rank
        same = x == value
        ranks[same] = ranks[same].mean()
    return ranks


def folder_config(folder: Path, work: Path, size: int, threads: int, changes: dict, every: int):
    from core.presets import preset

    return preset("folder").with_values(**{
        "data.folder": str(folder), "data.image_size": size, "data.cache_dir": str(work / "cache"),
        "run.device": "cpu", "run.threads": threads, "run.steps": 10_000_000, "run.sample_every": every,
        "run.checkpoint_every": 0, "run.keep_every": every, "run.keep_last": 0, "run.quality_every": 0,
        "run.fid_every": 0, **changes})


def train_arm(config, out: Path, minutes: float) -> dict:
    """Train for `minutes` of wall time from the first step (a timer stops it); the steps and seconds."""
    from core import events as ev
    from core.control import Control
    from core.training.trainer import train

    control = Control()
    started: list[float] = []
    rates: list[float] = []

    def on_event(e):
        if isinstance(e, ev.StateChanged) and e.state == "running" and not started:
            started.append(time.perf_counter())
            threading.Timer(60 * minutes, control.stop).start()
        elif isinstance(e, ev.Metrics):
            rates.append(e.images_per_s)
        elif isinstance(e, ev.ErrorEvent):
            print(f"  error: {e.message}", flush=True)
            control.stop()

    session = train(config, control, on_event, out)
    seconds = time.perf_counter() - started[0] if started else 0.0
    return {"steps": session.step if session else 0, "seconds": seconds,
            "images_per_s": float(np.median(rates)) if rates else float("nan")}


class Judge:
    """tools/picture_classifier.py's family classifier of a set (trained once, kept under the work folder)
    and its features of the set's own pictures at the training size (upscaled as the samples are)."""

    def __init__(self, folder: Path, work: Path, images: torch.Tensor):
        from tools.picture_classifier import load_classifier, train_classifier

        path = work / "judge.safetensors"
        if not path.is_file():
            report = train_classifier(folder, path, log=lambda line: None)
            print(f"  judge: held-out accuracy {report['held_out_accuracy']:.3f} over {len(report['families'])} "
                  f"families, {report['seconds']:.0f} s", flush=True)
        self.clf = load_classifier(path)
        self.accuracy = self.clf.info["held_out_accuracy"]
        self.real = _stats(self.features(images))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-1] != JUDGE_SIDE:  # as the classifier's training read the folder (PIL's bilinear)
            images = F.interpolate(images.float(), size=JUDGE_SIDE, mode="bilinear", align_corners=False)
            images = images.round().clamp(0, 255).to(torch.uint8)
        return self.clf.features(images).double()

    def read(self, samples: torch.Tensor) -> float:
        from core.quality.digits import frechet_distance

        return frechet_distance(*self.real, *_stats(self.features(samples)))


class ClusterTrained:
    """The other candidate: the reading's network trained for CLUSTER_STEPS steps to tell the folder's
    k-means clusters apart, its features scaled by the folder's spread, read as the reading is."""

    def __init__(self, images: torch.Tensor, seconds: list[float]):
        from core.config import clusters_for
        from core.data.clusters import cluster_pictures
        from core.quality.picture_reading import RandomFeatures, to_input

        start = time.perf_counter()
        k = max(2, clusters_for(len(images)))
        ids = cluster_pictures(images, k, seed=0)
        self.net = RandomFeatures(images.shape[1])
        self.net.requires_grad_(True).train()
        head = torch.nn.Linear(self.net.features, k)
        opt = torch.optim.Adam([*self.net.parameters(), *head.parameters()], 2e-3)
        gen = torch.Generator().manual_seed(0)
        for _ in range(CLUSTER_STEPS):
            idx = torch.randint(len(images), (64,), generator=gen)
            loss = F.cross_entropy(head(self.net(to_input(images[idx]))), ids[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        self.net.requires_grad_(False).eval()
        self.to_input = to_input
        real = self._features(images)
        self.mean, self.scale = real.mean(0), real.std(0).clamp_min(1e-6)
        self.real = _stats((real - self.mean) / self.scale)
        seconds.append(time.perf_counter() - start)

    @torch.inference_mode()
    def _features(self, images: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.net(self.to_input(images[i:i + 250])).double() for i in range(0, len(images), 250)])

    def read(self, samples: torch.Tensor) -> float:
        from core.quality.digits import frechet_distance

        return frechet_distance(*self.real, *_stats((self._features(samples) - self.mean) / self.scale))


def _stats(features: torch.Tensor):
    from core.quality.digits import feature_stats

    return feature_stats(features)


def score_run(run: Path, reading, candidate: ClusterTrained, judge: Judge, n: int) -> list[dict]:
    """Each kept checkpoint's generator read by the reading, the candidate and the judge."""
    from core.runs.folder import RunFolder
    from core.sharing.export import generate
    from core.sharing.which import from_checkpoint

    rows = []
    for step in RunFolder(run).kept_steps():
        generator, config, _ = from_checkpoint(RunFolder(run).kept_checkpoint(step))
        t0 = time.perf_counter()
        samples = generate(generator, config, n, SAMPLE_SEED)
        drawn = time.perf_counter() - t0
        report = reading.score(samples)
        rows.append({"step": step, "reading": report.frechet, "candidate": candidate.read(samples),
                     "judge": judge.read(samples), "missing": len(report.missing), "groups": len(report.shares),
                     "seconds": drawn + report.seconds})
    return rows


def agreement(args) -> dict:
    from core.data.datasets import load_dataset
    from core.quality.picture_reading import PictureReading

    work = Path(args.work)
    result: dict = {"size": args.size, "minutes": args.minutes, "every": args.every, "samples": args.samples,
                    "threads": args.threads, "torch": torch.__version__, "sets": {}}
    for name, folder in args.set:
        set_work = work / name
        set_work.mkdir(parents=True, exist_ok=True)
        config = folder_config(folder, set_work, args.size, args.threads, {}, args.every)
        torch.set_num_threads(args.threads)
        images = torch.as_tensor(np.asarray(load_dataset(config.data).images))
        print(f"{name}: {len(images):,} pictures at {args.size} px", flush=True)
        judge = Judge(folder, set_work, images)
        t0 = time.perf_counter()
        reading = PictureReading(images)
        built = time.perf_counter() - t0
        cluster_seconds: list[float] = []
        candidate = ClusterTrained(images, cluster_seconds)
        runs = {}
        for arm, changes in ARMS.items():
            out = set_work / arm.replace(" ", "-")
            if not (out / "config.json").is_file():
                print(f"  {arm}: training {args.minutes:g} min", flush=True)
                trained = train_arm(folder_config(folder, set_work, args.size, args.threads, changes, args.every),
                                    out, args.minutes)
                (out / "bench.json").write_text(json.dumps(trained))
            trained = json.loads((out / "bench.json").read_text())
            rows = score_run(out, reading, candidate, judge, args.samples)
            rho = spearman([r["reading"] for r in rows], [r["judge"] for r in rows])
            rho_c = spearman([r["candidate"] for r in rows], [r["judge"] for r in rows])
            print(f"  {arm}: {trained['steps']:,} steps, rho reading {rho:.3f}, candidate {rho_c:.3f}", flush=True)
            runs[arm] = {"trained": trained, "rows": rows, "rho": rho, "rho_candidate": rho_c}
        pooled = [r for run in runs.values() for r in run["rows"]]
        result["sets"][name] = {
            "folder": str(folder), "pictures": len(images), "judge_accuracy": judge.accuracy,
            "reference_seconds": built, "candidate_seconds": cluster_seconds[0], "runs": runs,
            "rho_pooled": spearman([r["reading"] for r in pooled], [r["judge"] for r in pooled]),
            "rho_pooled_candidate": spearman([r["candidate"] for r in pooled], [r["judge"] for r in pooled])}
    return result


def cost(args) -> dict:
    """At 64 px on the first set: the reference once, a reading of 1,000 samples, and the training step."""
    from core import events as ev
    from core.control import Control
    from core.data.datasets import load_dataset
    from core.models import build_generator
    from core.quality.picture_reading import PictureReading
    from core.sharing.export import generate
    from core.training.trainer import train

    name, folder = args.set[0]
    work = Path(args.work) / f"{name}-cost"
    torch.set_num_threads(args.threads)
    config = folder_config(folder, work, 64, args.threads, {}, 500)
    images = torch.as_tensor(np.asarray(load_dataset(config.data).images))
    t0 = time.perf_counter()
    reading = PictureReading(images)
    built = time.perf_counter() - t0
    generator = build_generator(config).eval()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        samples = generate(generator, config, args.samples, SAMPLE_SEED)
        drawn = time.perf_counter() - t0
        report = reading.score(samples)
        times.append((drawn, report.seconds))
    drawn, scored = (float(np.median([t[i] for t in times])) for i in (0, 1))
    from core.quality.picture_reading import N_REAL, REAL_SEED

    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(REAL_SEED))
    held_out = images[order[N_REAL:N_REAL + args.samples].sort().values]  # pictures the reference never saw
    floor = reading.score(held_out).frechet if len(held_out) >= 2 else float("nan")
    control, ticks = Control(), []

    def on_event(e):
        if isinstance(e, ev.Metrics):
            ticks.append((time.perf_counter(), e.step))
            if len(ticks) >= 5:
                control.stop()

    train(config.with_values(**{"run.log_every": 20, "model.clusters": 0}), control, on_event)
    (t_a, s_a), (t_b, s_b) = ticks[1], ticks[-1]  # the first tick's steps include the warm-up
    step = (t_b - t_a) / (s_b - s_a)
    return {"set": name, "pictures": len(images), "samples": args.samples, "threads": args.threads,
            "reference_seconds": built, "draw_seconds": drawn, "score_seconds": scored,
            "reading_seconds": drawn + scored, "step_seconds": step, "held_out_pictures": len(held_out),
            "held_out_reading": floor,
            "share": {every: (drawn + scored) / (every * step + drawn + scored) for every in (250, 500, 1000)}}


def table(result: dict) -> list[str]:
    lines = ["| set | run | steps | checkpoints | rho (reading) | rho (cluster-trained) |", "|---|---|---|---|---|---|"]
    for name, s in result["sets"].items():
        for arm, run in s["runs"].items():
            lines.append(f"| {name} | {arm} | {run['trained']['steps']:,} | {len(run['rows'])} | {run['rho']:.3f} | "
                         f"{run['rho_candidate']:.3f} |")
        lines.append(f"| {name} | pooled | | {sum(len(r['rows']) for r in s['runs'].values())} | "
                     f"**{s['rho_pooled']:.3f}** | {s['rho_pooled_candidate']:.3f} |")
    return lines


def disagreements(result: dict) -> list[str]:
    """Where the reading and the judge order two consecutive checkpoints of a run differently."""
    lines = []
    for name, s in result["sets"].items():
        for arm, run in s["runs"].items():
            rows = run["rows"]
            for a, b in zip(rows, rows[1:]):
                if (b["reading"] - a["reading"]) * (b["judge"] - a["judge"]) < 0:
                    lines.append(f"{name} / {arm}: steps {a['step']:,} -> {b['step']:,}: reading {a['reading']:.3g} -> "
                                 f"{b['reading']:.3g}, judge {a['judge']:.3g} -> {b['judge']:.3g}")
    return lines


def plot(rows: list[dict], title: str, path: Path) -> None:
    """Reading (blue, left axis) and judge (orange, right axis), each on a log scale, over the run's steps, as
    a PNG (Pillow only)."""
    from PIL import Image, ImageDraw

    w, h, left, right, top, bottom = 720, 360, 70, 70, 40, 40
    im = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(im)
    steps = [r["step"] for r in rows]
    x = lambda s: left + (s - min(steps)) / max(1, max(steps) - min(steps)) * (w - left - right)  # noqa: E731
    d.rectangle([left, top, w - right, h - bottom], outline="#888")
    for key, colour, axis_x, anchor in (("reading", "#1f77b4", left - 6, "rm"), ("judge", "#ff7f0e", w - right + 6, "lm")):
        values = [math.log10(max(r[key], 1e-9)) for r in rows]
        lo, hi = min(values), max(values)
        y = lambda v, lo=lo, hi=hi: h - bottom - (v - lo) / max(hi - lo, 1e-12) * (h - top - bottom)  # noqa: E731
        d.line([(x(s), y(v)) for s, v in zip(steps, values)], fill=colour, width=2)
        for s, v in zip(steps, values):
            d.ellipse([x(s) - 3, y(v) - 3, x(s) + 3, y(v) + 3], fill=colour)
        for v in np.linspace(lo, hi, 5):
            d.text((axis_x, y(v)), f"{10 ** v:.3g}", fill=colour, anchor=anchor)
    for s in steps[:: max(1, len(steps) // 6)]:
        d.text((x(s), h - bottom + 6), f"{s:,}", fill="#444", anchor="mt")
    d.text((w / 2, h - 12), "step", fill="#444", anchor="mm")
    d.text((w / 2, 14), title, fill="#222", anchor="mm")
    d.text((left, top - 14), "picture reading (FD, random features)", fill="#1f77b4", anchor="lm")
    d.text((w - right, top - 14), "judge (FD, family classifier)", fill="#ff7f0e", anchor="rm")
    im.save(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", action="append", required=True, metavar="NAME=DIR",
                    type=lambda t: (t.split("=", 1)[0], Path(t.split("=", 1)[1])), help="a folder of family folders")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--every", type=int, default=250)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--plot", type=Path, help="a PNG of the reading and the judge over the first set's first run")
    ap.add_argument("--cost", action="store_true", help="measure a reading's cost instead (64 px, first set)")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.cost:
        result = cost(args)
        (args.work / "cost.json").write_text(json.dumps(result, indent=2))
        print(json.dumps(result, indent=2))
        return 0
    result = agreement(args)
    (args.work / "agreement.json").write_text(json.dumps(result, indent=2))
    print("\n".join(table(result)))
    print("\nwhere the reading and the judge order consecutive checkpoints differently:")
    print("\n".join(disagreements(result)) or "nowhere")
    if args.plot:
        name, s = next(iter(result["sets"].items()))
        arm, run = next(iter(s["runs"].items()))
        plot(run["rows"], f"{name}, {arm} run: rho {run['rho']:.2f}", args.plot)
        print(f"wrote {args.plot}")
    return 0 if all(math.isfinite(s["rho_pooled"]) for s in result["sets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
