"""The GPU suite: correctness, speed and quality on one device in one call, each part in its own
process under a hard time limit, a short table printed last and written into --out.

    python bench/gpu_suite.py --device cuda --out OUT [--pictures DIR]     # a GPU machine, ~9 minutes
    python bench/gpu_suite.py --device cpu --tiny --out OUT                # the dry run (CI), ~1-2 minutes

Parts, in order (--only picks some):
  tests     pytest -m device with GAN_STUDIO_TEST_DEVICE set: every preset and loss, NaN rollback,
            train() steered from a thread, a checkpoint crossing to the CPU and back, torchrun with one
            process (NCCL on CUDA), a sweep of 2 trials, the fast path (bench/gpu_test_rows.py records each)
  resume    whether resume, and the same seed twice, are bitwise exact on the device (and in torch's
            deterministic mode, which says why when they are not)
  speed     steps/s, images/s and peak memory of default, mlp and folder at 64 and 128 px, batch 64, 256
            and 1024: eager fp32, eager bf16 (what run.precision = auto gives on CUDA), bf16 NCHW, and the
            fast path (torch.compile, and with CUDA graphs on CUDA)
  tutorial  the engine against bench/engine_vs_tutorial.py's tutorial loop (target: 5x on CUDA)
  studio    what the app's thread costs: train() on a thread whose events a consumer drains at the GUI's
            rate, against train() with no listener
  digits    the default preset for 5,000 steps: its digit Frechet distance, and its grid
  pictures  the folder preset on --pictures DIR for --folder-minutes (5): steps, images/s, its grid

The parts share one deadline (--budget-minutes); each gets at most its own limit and what the deadline
leaves after the later parts' minimum, so a hang in one cannot eat the others' time; pictures gets the
rest. Rows a part recorded before it was stopped are kept. What comes back, in --out: gpu-suite.md,
gpu-suite.json, gpu-suite.log (every part's output) and the grids (digits-grid.png, pictures-grid.png).
Exit status 1 when a part failed or ran out of time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.gpu_rows import Rows, read_rows  # noqa: E402


@dataclass(frozen=True)
class Part:
    name: str
    limit_s: float  # its own hard limit on the device (--tiny: tiny_limit_s)
    tiny_limit_s: float
    min_s: float  # less than this left: skipped, not started


# The --tiny limits are guards for a busy CI machine: the dry run takes about 70 s on 2 idle cores, and
# several times that with other work on them.
PARTS = (
    Part("tests", 150, 180, 30),
    Part("resume", 60, 120, 15),
    Part("speed", 200, 120, 20),
    Part("tutorial", 50, 90, 10),
    Part("studio", 50, 90, 10),
    Part("digits", 90, 90, 15),
    Part("pictures", 330, 90, 20),
)
NAMES = [p.name for p in PARTS]
NO_PICTURES = "no --pictures DIR (python tools/make_crawl_pictures.py DIR builds one: docs/gpu.md)"


@dataclass
class Outcome:
    part: str
    status: str  # ok, failed, timeout, skipped
    seconds: float = 0.0
    note: str = ""
    rows: list[dict] = field(default_factory=list)


def run_part(cmd: list[str], limit_s: float, log, env: dict | None = None) -> tuple[str, int | None, float]:
    """Run one part's command with a hard limit; (status, exit code, seconds). The part is its own
    process group, so a timeout ends whatever it started too (pytest's torchrun, a compile's workers)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        rc = proc.wait(timeout=max(limit_s, 0.1))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return "timeout", None, time.monotonic() - started
    return ("ok" if rc == 0 else "failed"), rc, time.monotonic() - started


def part_command(part: str, args: argparse.Namespace, scratch: Path, seconds: float) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--part", part, "--device", args.device,
           "--out", str(args.out), "--scratch", str(scratch), "--part-seconds", f"{seconds:.0f}"]
    if args.tiny:
        cmd.append("--tiny")
    if args.pictures:
        cmd += ["--pictures", str(args.pictures)]
    cmd += ["--folder-minutes", str(args.folder_minutes)]
    for option in ("presets", "sizes", "batches"):
        if getattr(args, option):
            cmd += [f"--{option}", *map(str, getattr(args, option))]
    if args.seconds_a_row:
        cmd += ["--seconds-a-row", str(args.seconds_a_row)]
    return cmd


def plan_limit(part: Part, later: list[Part], deadline: float, tiny: bool) -> float:
    """This part's limit: its own, within what the deadline leaves after the later parts' minimum."""
    own = part.tiny_limit_s if tiny else part.limit_s
    left = deadline - time.monotonic() - sum(p.min_s for p in later)
    return min(own, left)


def run_suite(args: argparse.Namespace) -> list[Outcome]:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    # Run folders, pytest's temp files, caches: a new folder of the suite's own, removed at the end.
    scratch = Path(tempfile.mkdtemp(prefix=".gpu-suite-scratch-", dir=out))
    deadline = time.monotonic() + args.budget_minutes * 60
    chosen = [p for p in PARTS if not args.only or p.name in args.only]
    outcomes = []
    # The compilers' caches under OUT too: nothing is written outside the folder asked for.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TORCHINDUCTOR_CACHE_DIR": str(scratch / "inductor"),
           "TRITON_CACHE_DIR": str(scratch / "triton"), "CUDA_CACHE_PATH": str(scratch / "cuda"),
           "XDG_CACHE_HOME": str(scratch / "cache")}
    with open(out / "gpu-suite.log", "w") as log:
        for i, part in enumerate(chosen):
            limit = plan_limit(part, chosen[i + 1:], deadline, args.tiny)
            if part.name == "pictures" and args.pictures is None:
                outcomes.append(Outcome(part.name, "skipped", note=NO_PICTURES))
                print(f"[{part.name}] skipped: {NO_PICTURES}", flush=True)
                continue
            if limit < part.min_s:
                outcomes.append(Outcome(part.name, "skipped", note=f"no time left ({limit:.0f} s of the budget)"))
                print(f"[{part.name}] skipped: no time left", flush=True)
                continue
            print(f"[{part.name}] running (at most {limit:.0f} s)", flush=True)
            log.write(f"\n===== {part.name} (limit {limit:.0f} s) =====\n")
            log.flush()
            status, rc, seconds = run_part(part_command(part.name, args, scratch, limit), limit, log, env)
            rows = read_rows(scratch / f"{part.name}.jsonl")
            skipped = [r for r in rows if r.get("skipped")]
            note = (f"stopped at its limit ({limit:.0f} s); {len(rows)} rows kept" if status == "timeout"
                    else f"exit status {rc}; see gpu-suite.log" if status == "failed" else "")
            if status == "ok" and skipped:
                status, note = "skipped", skipped[0]["skipped"]
            outcomes.append(Outcome(part.name, status, seconds, note, [r for r in rows if not r.get("skipped")]))
            print(f"[{part.name}] {status} in {seconds:.0f} s", flush=True)
    if args.keep_scratch:
        print(f"scratch kept: {scratch}", flush=True)
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    return outcomes


# --- the table ---


def headline(o: Outcome) -> str:
    """The one line the short table shows for a part."""
    from bench.gpu_report import HEADLINES

    if o.status == "skipped":
        return o.note
    try:
        text = HEADLINES[o.part](o.rows) if o.rows else "no figures"
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as e:  # the table is written whatever a part left
        text = f"rows not summarised ({type(e).__name__}: {e}); see gpu-suite.md"
    return f"{text} ({o.note})" if o.note else text


def summary_table(outcomes: list[Outcome]) -> list[str]:
    lines = ["| part | status | seconds | result |", "|---|---|---|---|"]
    for o in outcomes:
        lines.append(f"| {o.part} | {o.status} | {o.seconds:.0f} | {headline(o)} |")
    return lines


def write_report(args: argparse.Namespace, outcomes: list[Outcome], started: float) -> str:
    from bench.gpu_report import details, machine_line

    short = summary_table(outcomes)
    text = "\n".join([f"# GPU suite: {args.device}{' (tiny)' if args.tiny else ''}", "", machine_line(args.device),
                      f"`python bench/gpu_suite.py {' '.join(sys.argv[1:])}` · {time.time() - started:.0f} s in all",
                      "", *details(outcomes), "## Summary", "", *short, ""])
    (args.out / "gpu-suite.md").write_text(text)
    doc = {"device": args.device, "tiny": args.tiny, "machine": machine_line(args.device),
           "seconds": round(time.time() - started, 1),
           "parts": [{"part": o.part, "status": o.status, "seconds": round(o.seconds, 1), "note": o.note,
                      "headline": headline(o), "rows": o.rows} for o in outcomes]}
    (args.out / "gpu-suite.json").write_text(json.dumps(doc, indent=1) + "\n")
    return "\n".join(short)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="cuda (the GPU machine) or cpu (the dry run)")
    p.add_argument("--out", type=Path, required=True, help="the folder for the table, the log and the grids")
    p.add_argument("--tiny", action="store_true", help="a few steps of everything: the dry run")
    p.add_argument("--pictures", type=Path, help="a folder of pictures for the pictures part "
                   "(tools/make_crawl_pictures.py builds one); without it the part is skipped")
    p.add_argument("--folder-minutes", type=float, default=5.0, help="the pictures part's training time (5)")
    p.add_argument("--budget-minutes", type=float, default=8.5, help="all parts together (8.5: a 10-minute call)")
    p.add_argument("--only", nargs="+", choices=NAMES, help="run these parts only")
    p.add_argument("--presets", nargs="+", help="speed: these presets (default, mlp, folder)")
    p.add_argument("--sizes", nargs="+", type=int, help="speed: these picture sizes (64 128; --tiny: 32)")
    p.add_argument("--batches", nargs="+", type=int, help="speed: these batch sizes (64 256 1024; --tiny: 16)")
    p.add_argument("--seconds-a-row", type=float, help="speed: seconds of timed steps a row (0.7; --tiny: 0.3)")
    p.add_argument("--keep-scratch", action="store_true", help="keep the run folders, pytest's files and the "
                   "caches (OUT/.gpu-suite-scratch-*), removed otherwise")
    # a part's own process (run_part starts it):
    p.add_argument("--part", choices=NAMES, help=argparse.SUPPRESS)
    p.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--part-seconds", type=float, default=60.0, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.part:  # inside one part's process
        from bench.gpu_parts import run

        return run(args.part, args, Rows(args.scratch / f"{args.part}.jsonl"))
    if args.device not in ("cpu", "cuda"):
        print(f"--device {args.device}: the suite runs on cuda or cpu", file=sys.stderr)
        return 2
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("--device cuda: no CUDA GPU is visible here (--device cpu runs the dry run)", file=sys.stderr)
            return 2
    if args.pictures is not None and not args.pictures.is_dir():
        print(f"--pictures {args.pictures}: no such folder", file=sys.stderr)
        return 2
    started = time.time()
    outcomes = run_suite(args)
    short = write_report(args, outcomes, started)
    print(f"\nGPU suite ({args.device}{', tiny' if args.tiny else ''}): {args.out / 'gpu-suite.md'}\n")
    print(short, flush=True)
    return 0 if all(o.status in ("ok", "skipped") for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
