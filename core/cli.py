"""Headless commands over the same core the studio uses.

  train  --preset NAME [--config FILE] [--set key=value ...] [--steps N] [--out RUNDIR] [--device D]
         [--name TEXT] [--notes TEXT]
  resume RUNDIR|CHECKPOINT [--steps N] [--device D] [--out NEWDIR] [--take-over]
  sample GENERATOR [--n 64] [--out FILE] [--class K] [--seed S] [--kind grid|pngs|npy]
  fork   RUNDIR|CHECKPOINT --out NEWDIR [--set key=value ...] [--steps N] [--device D]
  control RUNDIR pause|resume|step|stop|save   |   control RUNDIR set key=value ...
  timelapse RUNDIR --out FILE.gif|FILE.mp4 [--fps N]
  export GENERATOR --format onnx --out FILE.onnx
  sweep  --preset NAME --space SPACE.toml --trials N --steps S --out SWEEPDIR [--set key=value ...]
         [--storage URL|journal:FILE] [--study NAME] [--device D]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path

from core import events as ev
from core import stop_signals
from core.commands import suggest
from core.config import Config, ConfigError, load_config, parse_overrides
from core.control import Control
from core.presets import PRESETS, preset
from core.quality.kinds_drawn import kinds_drawn
from core.runs.checkpoint import CheckpointError, load_checkpoint
from core.runs.folder import (
    RUNS_ENV,
    RunFolder,
    RunFolderError,
    check_new_run_folder,
    classify,
    default_runs_root,
    new_run_path,
    run_files,
)
from core.stop_signals import STOP_SIGNALS  # noqa: F401  (the signals a trainer stops on; tests name them)

WHICH_HELP = ("which of a run folder's generators: final (its latest save, the default), best (the one of its best "
              "quality reading, kept in best/) or a step it kept a checkpoint of (e.g. 6000)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gan-studio", description="Train and sample GANs. With no command, "
                                     "the desktop app opens.")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a GAN and write a run folder", epilog=_settings_help(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--preset", default="default", help=f"starting config: {', '.join(PRESETS)}")
    t.add_argument("--config", help="a .json or .toml config file (replaces the preset)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting, e.g. --set optim.lr_g=0.0001 (repeatable)")
    t.add_argument("--steps", type=int, help="number of training steps")
    t.add_argument("--out", help=f"a new run folder (default: <date-time> in {default_runs_root()}, the app's "
                   f"run library too; ${RUNS_ENV} names another); a folder that already holds a run is refused: "
                   "continue that one with `resume`")
    t.add_argument("--device", help="auto, cpu, cuda or mps")
    t.add_argument("--name", default="", help="the run's name, shown in the app's library and window title")
    t.add_argument("--notes", default="", help="a line of notes on the run (kept in its run.json)")
    r = sub.add_parser("resume", help="continue a run from its last checkpoint")
    r.add_argument("run_dir", help="a run folder (or its checkpoints/last.pt); a checkpoint file outside a run "
                   "folder resumes into a new folder (--out, or <name>-resumed-<date-time> in the runs folder)")
    r.add_argument("--steps", type=int, help="train up to this many steps in total")
    r.add_argument("--device", help="auto, cpu, cuda or mps")
    r.add_argument("--out", help="for a checkpoint outside a run folder: the new run folder (must not hold a run)")
    r.add_argument("--take-over", action="store_true", help="train the run even though its heartbeat says "
                   "another machine trains it (that machine crashed or lost the folder)")
    f = sub.add_parser("fork", help="a new run from a run's checkpoint, with settings changed (the parent is "
                       "only read)")
    f.add_argument("source", help="a run folder (its latest checkpoint) or a checkpoint file, e.g. "
                   "RUN/checkpoints/step_002000.pt")
    f.add_argument("--out", required=True, help="the new run folder (must not hold a run)")
    f.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="change a setting, e.g. --set optim.lr_g=0.0001 (repeatable; not model.* or the data)")
    f.add_argument("--steps", type=int, help="train up to this many steps in total")
    f.add_argument("--device", help="auto, cpu, cuda or mps")
    f.add_argument("--name", default="", help="the new run's name, shown in the app's library and window title")
    f.add_argument("--notes", default="", help="a line of notes on the new run (kept in its run.json)")
    f.add_argument("--which", help="fork a run folder from its best reading's checkpoint (best) or a kept step "
                   "(e.g. 6000) instead of its latest")
    s = sub.add_parser("sample", help="draw samples from a saved generator")
    s.add_argument("generator", help="generator.safetensors, generator.json or a run folder")
    s.add_argument("--n", type=int, default=64, help="how many samples (1 to 100,000; a grid holds up to 4,096)")
    s.add_argument("--out", default="samples.png", help="a .png grid, a .npy file, or a folder for PNGs")
    s.add_argument("--class", dest="label", type=int, help="the class to draw (conditional generators)")
    s.add_argument("--seed", type=int, default=0, help="noise seed: the same seed gives the same samples")
    s.add_argument("--kind", choices=("grid", "pngs", "npy"), help="output kind (default: from --out)")
    s.add_argument("--overwrite", action="store_true", help="replace --out if it exists (refused otherwise)")
    s.add_argument("--which", help=WHICH_HELP)
    c = sub.add_parser("control", help="steer a running run from outside (a headless run, torchrun's rank 0, "
                       "another studio): pause, resume, step, stop, save, or set live settings")
    c.add_argument("run_dir", help="the run folder")
    c.add_argument("action", metavar="COMMAND", help="pause, resume, step (one step, then pause), stop (writes "
                   "the final checkpoint), save (checkpoint and generator now), set")
    c.add_argument("values", nargs="*", metavar="KEY=VALUE", help="for set: live settings, e.g. optim.lr_g=0.0001")
    c.add_argument("--wait", type=float, default=15.0, help="seconds to wait for the run's answer (default 15)")
    sub.add_parser("fetch-inception", help="download the Inception-v3 weights that FID/KID readings need "
                   "(about 100 MB, once; training never downloads them)")
    x = sub.add_parser("timelapse", help="the run's sample grids as an animated GIF or MP4")
    x.add_argument("run_dir", help="a run folder")
    x.add_argument("--out", required=True, help="FILE.gif or FILE.mp4")
    x.add_argument("--fps", type=float, default=8, help="frames per second (default 8)")
    x.add_argument("--max-frames", type=int, help="thin a long run to this many grids (first and last kept)")
    x.add_argument("--overwrite", action="store_true", help="replace --out if it exists (refused otherwise)")
    w = sub.add_parser("sweep", help="a hyperparameter sweep (Optuna): trials of a preset with settings drawn "
                       "from a space file, each one a run folder, the worse ones stopped early on their quality "
                       "readings; run the same command again (here or on other machines) to continue it")
    w.add_argument("--preset", default="default", help=f"the trials' starting config: {', '.join(PRESETS)}")
    w.add_argument("--space", required=True, help="SPACE.toml: the settings to vary and their ranges, e.g. "
                   "[optim.lr_g] low = 1e-4 high = 1e-3 log = true (README: Sweeps)")
    w.add_argument("--trials", type=int, required=True, help="finished trials (complete or pruned) the study "
                   "should have in all, whichever process trains them")
    w.add_argument("--steps", type=int, required=True, help="each trial's training steps")
    w.add_argument("--out", required=True, help="the sweep's folder: sweep.json, the study (study.db) and one run "
                   "folder per trial (trial-0003)")
    w.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting for every trial, e.g. --set run.quality_every=250 (repeatable)")
    w.add_argument("--storage", help="where the study is kept, to share it between processes and machines: an "
                   "Optuna storage URL (postgresql://USER@HOST/DB, sqlite:///FILE) or journal:FILE (Optuna's "
                   "journal file, for a shared mount); default: study.db in --out")
    w.add_argument("--study", help="the study's name (default: the --out folder's name)")
    w.add_argument("--device", help="auto, cpu, cuda or mps")
    w.add_argument("--startup-trials", type=int, default=3, help="complete trials before any trial is pruned "
                   "(default 3)")
    w.add_argument("--warmup-steps", type=int, help="no trial is pruned before this step (default: never on its "
                   "first reading)")
    w.add_argument("--reading", choices=("auto", "fid"), default="auto", help="what trials are compared and pruned "
                   "by: auto, the digit classifier for digits and the picture reading for other pictures (nothing "
                   "to download); fid, Inception-v3's FID (its weights must be on disk: fetch-inception)")
    sub.add_parser("torchrun", help="train over several processes: python main.py torchrun [torchrun's options, "
                   "e.g. --standalone --nproc-per-node 2] train|resume|fork ...; a stop signal (Ctrl+C, SIGTERM) "
                   "stops every rank at one step with a final checkpoint, and the launcher exits 0", add_help=False)
    e = sub.add_parser("export", help="write a saved generator in another format")
    e.add_argument("generator", help="generator.safetensors, generator.json or a run folder")
    e.add_argument("--format", choices=("onnx",), default="onnx", help="onnx: noise (and label) in, images out")
    e.add_argument("--out", required=True, help="FILE.onnx")
    e.add_argument("--opset", type=int, help="ONNX opset (18 or newer; default: the exporter's)")
    e.add_argument("--overwrite", action="store_true", help="replace --out if it exists (refused otherwise)")
    e.add_argument("--which", help=WHICH_HELP)
    return parser


def _settings_help() -> str:
    """train --help's list of every setting --set takes, from the config's schema: what it takes (its
    choices or bounds), its default, whether it changes live, and its help (the app's tooltips)."""
    import json
    import textwrap

    from core.config import SCHEMA

    lines = ["settings (--set SECTION.KEY=VALUE; a --config file holds the same keys under [section]):"]
    for key, setting in SCHEMA.items():
        default = setting.default
        shown = (default or "''") if isinstance(default, str) else json.dumps(
            list(default) if isinstance(default, tuple) else default)
        live = "; can change while training (control RUN set)" if setting.live else ""
        lines.append(f"  {key}")
        for text in (f"{setting.allowed()}; default {shown}{live}", setting.help):
            lines += textwrap.wrap(text, 96, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines)


def _with_cli_values(config: Config, args: argparse.Namespace) -> Config:
    values = {}
    if getattr(args, "steps", None) is not None:
        values["run.steps"] = args.steps
    if getattr(args, "device", None):
        values["run.device"] = args.device
    return config.with_values(**values)


def _device_kind(args: argparse.Namespace) -> str:
    """The kind of device a new run of --preset trains on (a preset's widths follow it: core/presets.py):
    --device, else a --set run.device, else the preset's; 'auto' as it resolves here."""
    from core.training.device import kind_of

    named = [value for key, _, value in (pair.partition("=") for pair in args.set) if key.strip() == "run.device"]
    name = args.device or (named[-1].strip() if named else preset(args.preset).run.device)
    try:
        return kind_of(name)
    except ConfigError:
        return "cpu"  # a device missing here: the start check says so in its own words


def _names(args: argparse.Namespace) -> dict:
    """--name and --notes for run.json (checked before anything is written); {} when neither is given."""
    from core.runs.notes import clean_names

    return clean_names(args.name, args.notes) if args.name or args.notes else {}


def _torchrun_rank() -> int:
    """This process's rank under torchrun (0 alone otherwise): rank 0 writes, the others follow."""
    return int(os.environ.get("RANK", "0") or 0) if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1 else 0


# Commands that train: Ctrl+C, a scheduler's SIGTERM or a closed terminal's SIGHUP (STOP_SIGNALS) stops
# them at the next step, with a final checkpoint.
TRAINERS = ("train", "resume", "fork", "sweep")


def _take_stop_signals(command: str, control: Control) -> tuple[dict, int | None]:
    """The stop signals, held by main.py while the imports ran, handed to the command: a trainer's stop
    its `control` (under torchrun only rank 0's: it stops the others at a log tick, and each stopping on
    its own signal would leave the others waiting); any other command's handlers are the originals.
    Returns the handlers to put back and the signal that came while held (None if none)."""
    if command not in TRAINERS:
        return stop_signals.take(None)
    follower = _torchrun_rank() > 0
    previous, early = stop_signals.take(signal.SIG_IGN if follower else lambda *_: control.stop())
    return previous, None if follower else early


def _stopped_before_start(control: Control) -> bool:
    """A stop signal came before the run started: say so in one line (nothing is made after this)."""
    if control.stopping:
        print("stopped before training started; nothing was written", file=sys.stderr)
    return control.stopping


def run_training(config: Config, run_dir: Path | None, checkpoint: dict | None = None, lineage: dict | None = None,
                 lock=None, control: Control | None = None) -> int:
    """Train with a progress bar; `lock`: the run folder's core.runs.lock.RunLock when already taken;
    `control`: the one main() gave the stop signals to."""
    from tqdm import tqdm

    control = control or Control()
    follower = _torchrun_rank() > 0
    if _stopped_before_start(control):
        return 0
    start = checkpoint["step"] if checkpoint else 0
    bar = tqdm(total=config.run.steps, initial=start, unit="step", dynamic_ncols=True, file=sys.stderr,
               disable=follower)
    failed = []
    decoding: dict[str, tqdm] = {}  # a bar for each task that reports Progress

    def on_event(e: object) -> None:
        if isinstance(e, ev.Progress):  # decoding a new image folder, scoring FID samples
            task = decoding.get(e.task) or decoding.setdefault(
                e.task, tqdm(total=e.total, desc=e.task, unit="file", dynamic_ncols=True, file=sys.stderr))
            task.update(e.done - task.n)
            if e.done >= e.total:
                task.close()
                decoding.pop(e.task)
        elif isinstance(e, ev.Metrics):
            bar.update(e.step - bar.n)
            bar.set_postfix(g=f"{e.g_loss:.3f}", d=f"{e.d_loss:.3f}", img_s=f"{e.images_per_s:,.0f}")
        elif isinstance(e, ev.Started):
            bar.write(f"training {e.dataset} ({e.dataset_size:,} images) on {e.device} -> {run_dir}")
        elif isinstance(e, ev.Notice):
            bar.write(f"note: {e.message}")
        elif isinstance(e, ev.QualityOff):
            bar.write(f"quality readings: off: {e.reason}")
        elif isinstance(e, ev.Quality):
            bar.write(f"step {e.step:,}: {quality_line(e)}")
        elif isinstance(e, ev.ImageQuality):
            bar.write(f"step {e.step:,}: FID {e.fid:.2f}, KID {e.kid:.4f} ({e.samples} samples, {e.seconds:.0f} s)")
        elif isinstance(e, ev.ErrorEvent):
            failed.append(e.message)
            bar.write(f"error: {e.message}", file=sys.stderr)
            control.stop()  # headless: nobody to resume a paused run
        elif isinstance(e, ev.Finished):
            bar.close()
            what = "stopped" if e.stopped else "finished"
            if follower:
                pass
            elif e.run_dir:
                print(f"{what} at step {e.step}; run folder: {e.run_dir}")
            elif run_dir is not None:  # refused while it loaded: the folder is given back as it was found
                print("the run did not start; nothing was written")

    from core.training.trainer import train  # torch import is slow: only when training
    train(config, control, on_event, run_dir, checkpoint, lineage=lineage, lock=lock)
    return 1 if failed else 0


def quality_line(q: ev.Quality) -> str:
    """A quality reading in a line: the digit classifier's, or the picture reading's with its coverage."""
    if not q.reference:
        return f"Fréchet distance (digit classifier) {q.frechet:.2f}"
    missing = f", {len(q.missing_classes)} of {len(q.reference)} groups (almost) never drawn" \
        if q.missing_classes else ""
    kinds = kinds_drawn(q)
    return f"Fréchet distance (picture reading) {q.frechet:.2f}{missing}" + (f"; {kinds.words()}" if kinds else "")


def _resume(args: argparse.Namespace, control: Control) -> int:
    """Continue a run in its folder, holding its lock from before the checkpoint loads; a checkpoint
    outside a run folder continues in a new folder, never in the folder that holds the file."""
    from core.runs import lock as run_lock

    given = Path(args.run_dir)
    run_dir = _run_folder_of(given)
    writer = _torchrun_rank() == 0
    if run_dir is None:  # a loose checkpoint (a download, a copy)
        if args.out and writer:
            check_new_run_folder(args.out)
        checkpoint = load_checkpoint(given)
        if (plan := _plan(given, checkpoint, args)).finished:
            print(plan.message)
            return 0
        config = _with_cli_values(Config.from_dict(checkpoint["config"]), args)
        _check_start(config)
        if not writer:
            return run_training(config, None, checkpoint, control=control)
        if _stopped_before_start(control):
            return 0
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path(args.out) if args.out else new_run_path(name=f"{given.stem}-resumed-{stamp}")  # made now
        claimed = run_lock.claim(out)
        try:
            check_new_run_folder(out)  # holding the lock: nobody started a run there since
            print(f"{given} is not in a run folder: resuming it in a new run folder, {out}")
            return run_training(config, out, checkpoint, lock=claimed, control=control)
        finally:
            if run_files(out):
                claimed.release()
            else:  # refused while it loaded: what was made for it goes
                claimed.discard()
                if not args.out:
                    _remove_if_empty(out)
    if args.out:
        raise ValueError(f"--out is for a checkpoint outside a run folder; {run_dir} is a run folder: resume it in "
                         f"place, or start a new run from it: {suggest('fork', run_dir, '--out', args.out)}")
    if not RunFolder(run_dir).last_checkpoint.is_file():
        raise CheckpointError(f"{run_dir}: nothing to resume (no checkpoints/last.pt)")
    # before the checkpoint loads; rank 0 holds the lock for all of torchrun's ranks
    with run_lock.claim(run_dir, take_over=args.take_over) if writer else contextlib.nullcontext() as lock:
        checkpoint = load_checkpoint(run_dir)
        if (plan := _plan(run_dir, checkpoint, args)).finished:
            print(plan.message)
            return 0
        config = _with_cli_values(Config.from_dict(checkpoint["config"]), args)
        _check_start(config)
        return run_training(config, run_dir, checkpoint, lock=lock, control=control)


def _plan(run: Path, checkpoint: dict, args: argparse.Namespace):
    """What this resume means (core/runs/resume.py, the app's rule too): to the run's planned steps, or to
    --steps N; a run already there trains nothing, and the line says how to train it further."""
    from core.runs.resume import plan_resume

    return plan_resume(run, checkpoint["step"], Config.from_dict(checkpoint["config"]).run.steps, args.steps)


def _check_start(config: Config) -> None:
    """What refuses a start (the device, the pictures' folder, the model's size), checked before a folder
    is made or a progress bar drawn."""
    from core.training.preflight import check_start

    check_start(config)


def _remove_if_empty(folder: Path | None) -> None:
    if folder is not None:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only an empty folder: one that holds anything stays


def _run_folder_of(given: Path) -> Path | None:
    """The run folder `resume` continues: `given` itself (a folder), the run a checkpoints/last.pt belongs
    to, or None for a checkpoint outside a run folder. An earlier checkpoint of a run is refused."""
    if not given.exists():
        return None  # loading it says what is missing
    meaning = classify(given)
    if meaning.kind == "run checkpoint" and not meaning.latest:
        raise ValueError(f"{given} is an earlier moment of {meaning.run_dir}: continuing it there would "
                         f"discard the run's later steps. Start a new run from it instead: "
                         f"{suggest('fork', given, '--out', 'NEWDIR')}")
    return meaning.run_dir


def _fork_source(source: str, which: str | None) -> str:
    """The checkpoint a fork starts from: `source`, or with --which the run folder's best (best/checkpoint.pt)
    or kept step's."""
    if which is None:
        return source
    from core.sharing.which import parse_which

    chosen = parse_which(which)
    run = RunFolder(source)
    if not run.config.is_file():
        raise RunFolderError(f"{source}: --which needs a run folder (this is not one)")
    if chosen == "final" or chosen is None:
        return source
    path = run.best_checkpoint if chosen == "best" else run.kept_checkpoint(int(chosen))
    if not path.is_file():
        kept = ", ".join(f"{s:,}" for s in run.kept_steps()) or "none"
        what = "no best checkpoint kept (best/)" if chosen == "best" else f"no checkpoint kept at step {chosen:,}"
        raise RunFolderError(f"{source}: {what}; its kept steps: {kept}")
    return str(path)


def _export_onnx(args: argparse.Namespace) -> int:
    from core.sharing.onnx_export import check_onnx, export_onnx, mismatch
    from core.sharing.which import load_which, parse_which

    loaded = load_which(args.generator, parse_which(args.which))
    out = export_onnx(loaded, args.out, args.overwrite, args.opset)
    try:
        worst = check_onnx(out, loaded[0], loaded[1])
    except KeyboardInterrupt:
        print(f"interrupted; {out} was written but not checked against torch", file=sys.stderr)
        return 130
    if problem := mismatch(out, worst):
        print(f"error: {problem}", file=sys.stderr)
        return 1
    print(f"wrote {out}; onnxruntime matches torch to {worst:.1e}")
    return 0


def _sweep(args: argparse.Namespace, control: Control) -> int:
    """A sweep with a line per trial and reading and a bar per trial; Ctrl+C (SIGTERM, SIGHUP) stops the
    trial in training with its checkpoint, and the same command continues it."""
    from tqdm import tqdm

    from core.sweeps.runner import SweepSpec, base_config, run_sweep
    from core.sweeps.space import load_space, values_text

    overrides = parse_overrides(args.set)
    base = base_config(args.preset, overrides, args.steps, args.device)
    spec = SweepSpec(args.preset, load_space(args.space, base), args.trials, args.steps, Path(args.out), overrides,
                     args.storage, args.study, args.device, args.startup_trials, args.warmup_steps, args.reading)
    if _stopped_before_start(control):  # before the sweep's folder is made
        return 0
    bars: list[tqdm] = []  # the trial in training's

    def say(line: str, err: bool = False) -> None:
        tqdm.write(line, file=sys.stderr if err else sys.stdout)

    def on_event(e: object) -> None:
        bar = bars[-1] if bars else None
        if isinstance(e, ev.TrialStarted):
            say(f"trial {e.number}: {values_text(e.values)} -> {e.run_dir}")
            bars.append(tqdm(total=args.steps, unit="step", dynamic_ncols=True, file=sys.stderr, leave=False))
        elif isinstance(e, ev.Started) and bar is not None:
            bar.update(e.step - bar.n)  # a continued trial starts at its checkpoint
        elif isinstance(e, ev.Metrics) and bar is not None:
            bar.update(e.step - bar.n)
            bar.set_postfix(g=f"{e.g_loss:.3f}", d=f"{e.d_loss:.3f}")
        elif isinstance(e, ev.Quality):
            say(f"  step {e.step:,}: {quality_line(e)}")
        elif isinstance(e, ev.ImageQuality):
            say(f"  step {e.step:,}: FID {e.fid:.2f}, KID {e.kid:.4f}")
        elif isinstance(e, ev.Notice):
            say(f"note: {e.message}")
        elif isinstance(e, ev.ErrorEvent):
            say(f"error: {e.message}", err=True)
        elif isinstance(e, ev.TrialFinished):
            if bar is not None:
                bars.pop().close()
            reading = f", reading {e.reading:.4g}" if e.reading is not None else ""
            say(f"trial {e.number} {e.state} at step {e.step:,}{reading}")

    try:
        summary = run_sweep(spec, control, on_event)
    except OSError as e:
        print(f"error: {e.strerror or e}{f': {e.filename}' if e.filename else ''}", file=sys.stderr)
        return 1
    finally:
        for bar in bars:
            bar.close()
    running = f", {summary.running} in training or interrupted" if summary.running else ""
    print(f"sweep {summary.study}: {summary.finished} of {args.trials} trials finished ({summary.complete} complete, "
          f"{summary.pruned} pruned; {summary.failed} failed{running}); study: {summary.storage}")
    if summary.best is not None:
        best = summary.best
        print(f"best: trial {best.number}, {summary.reading} {summary.best_value:.4g} ({values_text(best.values)})"
              f"{f': {best.run_dir}' if best.run_dir else ''}")
    if summary.stopped:
        print("stopped; run the same command again to continue (an interrupted trial continues from its checkpoint)")
    return 0


# Commands that write one output: stopped by Ctrl+C or SIGTERM, they leave nothing behind.
WRITERS = ("sample", "timelapse", "export")


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _sigterm_interrupts(command: str):
    """For WRITERS, SIGTERM raises KeyboardInterrupt as Ctrl+C does, so the writers' cleanup runs (their
    temp files go) instead of the process dying with them on disk. Returns what restores the handler."""
    if command not in WRITERS or threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _torchrun(argv: list[str]) -> int:
    from core.training.launch import LaunchError, launch

    try:
        code, line = launch(argv)
    except LaunchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if line:
        print(line, file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["torchrun"]:  # its options are torchrun's, not argparse's here
        return _torchrun(argv[1:])
    args = build_parser().parse_args(argv)
    control = Control()  # a trainer's: the stop signals stop it from here on
    previous, early = _take_stop_signals(args.command, control)
    restore = _sigterm_interrupts(args.command)
    try:
        if early is not None:  # came while main.py's imports ran: the command has not begun
            if args.command in WRITERS:
                raise KeyboardInterrupt
            if args.command not in TRAINERS:
                print(f"stopped ({signal.Signals(early).name}) before {args.command} began", file=sys.stderr)
                return 130
            control.stop()  # said in one line where the run would have started
        if args.command == "train":
            writer = _torchrun_rank() == 0  # the others do not write (and would see rank 0's new files)
            try:
                if writer and args.out:
                    check_new_run_folder(args.out)  # before anything is loaded or written
            except RunFolderError as e:
                raise RunFolderError(f"{e} (--out names it; leave --out off for a new dated folder)") from None
            config = load_config(args.config) if args.config else preset(args.preset, _device_kind(args))
            config = _with_cli_values(config.with_overrides(args.set), args).require_complete()
            names = _names(args)
            _check_start(config)
            if _stopped_before_start(control):
                return 0
            out = Path(args.out) if args.out else new_run_path() if writer else None  # made now: no other takes it
            # train() locks the folder before the data loads; run.json takes the name and notes
            try:
                return run_training(config, out, lineage=names or None, control=control)
            finally:
                if writer and not args.out:
                    _remove_if_empty(out)  # the dated folder of a start refused while it loaded
        if args.command == "resume":
            return _resume(args, control)
        if args.command == "fork":
            from core.runs.fork import prepare_fork
            out = Path(args.out)
            if _torchrun_rank() == 0:
                check_new_run_folder(out)
            changes = parse_overrides(args.set)
            names = _names(args)
            config, checkpoint, lineage = prepare_fork(_fork_source(args.source, args.which), changes, args.steps,
                                                       args.device)
            lineage.update(names)
            _check_start(config)
            print(f"forking {lineage['parent']} at step {lineage['fork_step']:,} -> {out}")
            return run_training(config, out, checkpoint, lineage, control=control)
        if args.command == "sample":
            from core.sharing.export import check_seed, export_samples
            from core.sharing.which import load_which, parse_which
            check_seed(args.seed, "--seed")  # before the generator loads: torch would say "overflow"
            generator, config, meta = load_which(args.generator, parse_which(args.which))
            if args.which is not None:
                print(f"the generator of step {meta['step']:,} ({args.which})")
            paths = export_samples(generator, config, args.out, args.n, args.seed, args.label, args.kind,
                                   args.overwrite)
            print(f"wrote {len(paths)} file(s): {paths[0] if len(paths) == 1 else paths[0].parent}")
            return 0
        if args.command == "timelapse":
            from core.sharing.timelapse import make_timelapse
            print(f"wrote {make_timelapse(args.run_dir, args.out, args.fps, args.overwrite, args.max_frames)}")
            return 0
        if args.command == "export":
            return _export_onnx(args)
        if args.command == "control":
            from core.runs.channel import send
            bad = [v for v in args.values if "=" not in v]
            if bad:  # parse_overrides speaks of --set, which control does not have
                print(f"error: {bad[0]!r}: expected key=value, e.g. "
                      f"{suggest('control', args.run_dir, 'set', 'optim.lr_g=0.0001')}", file=sys.stderr)
                return 2
            ack = send(args.run_dir, args.action, parse_overrides(args.values), args.wait)
            if not ack.ok:
                print(f"error: refused by the run: {ack.message}", file=sys.stderr)
                return 2
            print(ack.message)
            return 0
        if args.command == "sweep":
            return _sweep(args, control)
        if args.command == "fetch-inception":
            from core.quality.inception import download_failure, download_inception_weights
            try:
                print(f"Inception-v3 weights: {download_inception_weights()}")
            except OSError as e:
                print(f"error: {download_failure(e)}", file=sys.stderr)
                return 1
            return 0
    except (ConfigError, CheckpointError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.command not in WRITERS:
            raise
        print("interrupted; nothing written", file=sys.stderr)  # atomic writes: the temp file went with it
        return 130
    finally:
        restore()
        stop_signals.restore(previous)
    return 2
