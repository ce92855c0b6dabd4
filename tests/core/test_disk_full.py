"""A full disk: what was not written is said in one line, nothing half-written is left, what was kept stays whole.

A full disk is simulated without root: a file size limit (RLIMIT_FSIZE, with SIGXFSZ ignored so a write
past it fails with EFBIG) in a subprocess, or writers patched to fail with ENOSPC.
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from core.cli import main
from core.events import Metrics
from core.models import build_generator
from core.runs.checkpoint import load_checkpoint
from core.runs.writer import RunDir
from core.sharing import export
from core.sharing.export import save_generator

from .conftest import tiny
from .test_cli import ROOT, SMALL

LIMIT = 3000  # bytes a file may grow to: more than config.json, less than the kept metrics or any sample file
KEPT_STEP = 60  # the checkpoint's step: metrics.csv holds rows past it, as after a crash

UNDER_A_LIMIT = textwrap.dedent("""
    import json, resource, signal, sys
    sys.path.insert(0, sys.argv[1])
    run, generator, out, limit = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    import numpy as np, torch
    from PIL import Image
    from safetensors.torch import save_file
    from core.atomic import atomic_write
    from core.cli import main
    from core.config import load_config
    from core.runs.writer import RunDir

    config = load_config(f"{run}/config.json")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    found = {}

    def attempt(name, call):
        try:
            call()
            found[name] = "written"
        except Exception as e:
            found[name] = f"{type(e).__name__}: {e}"

    attempt("resume", lambda: RunDir(run).start(config, resumed_at=int(sys.argv[6])))
    big = torch.rand(10_000)
    writers = {
        "torch.save": lambda tmp: torch.save({"x": big}, tmp),
        "safetensors": lambda tmp: save_file({"x": big}, tmp),
        "png": lambda tmp: Image.fromarray((big.numpy()[:9_000].reshape(90, 100) * 255).astype(np.uint8)).save(tmp, format="PNG"),
        "npy": lambda tmp: np.save(open(tmp, "wb"), big.numpy()),
    }
    for name, write in writers.items():
        attempt(name, lambda: atomic_write(f"{out}/{name}.out", write))
    found["sample grid"] = main(["sample", generator, "--out", f"{out}/grid.png"])
    found["sample npy"] = main(["sample", generator, "--out", f"{out}/samples.npy"])
    print(json.dumps(found))
""")


def _metrics(step: int) -> Metrics:
    return Metrics(step, step / 7, 0.6931471805599453, 1.3862943611198906, 0.5, 0.4, 1234.5678, 2e-4, 2e-4)


def _temps(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.tmp"))


def _steps(path: Path) -> list[int]:
    return [int(line.split(",")[0]) for line in path.read_text().splitlines()[1:]]


@pytest.fixture(scope="module")
def generator_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("generator")
    config = tiny(**{"model.z_dim": 8})
    torch.manual_seed(0)
    save_generator(build_generator(config).eval(), config, folder, step=3)
    return folder


@pytest.fixture(scope="module")
def under_a_limit(tmp_path_factory, generator_dir):
    """One subprocess under the file size limit: a resume that must cut metrics.csv back, the writers
    a run and `sample` use, and `sample` itself. Returns (what each did, its stderr, the folders)."""
    base = tmp_path_factory.mktemp("limit")
    run, out = RunDir(base / "run"), base / "out"
    out.mkdir()
    run.start(tiny(), None)
    for step in range(1, 2 * KEPT_STEP + 1):
        run.write_metrics(_metrics(step))
    done = subprocess.run([sys.executable, "-c", UNDER_A_LIMIT, str(ROOT), str(run.path), str(generator_dir),
                           str(out), str(LIMIT), str(KEPT_STEP)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1]), done.stderr, run.path, out


def test_a_resume_whose_rewrite_fails_keeps_metrics_whole(under_a_limit):
    found, _, run, _ = under_a_limit
    assert (run / "config.json").stat().st_size < LIMIT  # the rewrite of metrics.csv is what failed
    assert (run / "metrics.csv").stat().st_size > 2 * LIMIT
    assert found["resume"] == f"DiskFull: the disk is full ({run / 'metrics.csv'})"
    assert _steps(run / "metrics.csv") == list(range(1, 2 * KEPT_STEP + 1))  # every row, none cut
    assert _temps(run) == []


@pytest.mark.parametrize("writer", ["torch.save", "safetensors", "png", "npy"])
def test_every_writer_failing_for_want_of_space_reads_as_a_full_disk(under_a_limit, writer):
    found, _, _, out = under_a_limit
    assert found[writer] == f"DiskFull: the disk is full ({out / f'{writer}.out'})"  # torch's "unexpected pos" too
    assert not (out / f"{writer}.out").exists() and _temps(out) == []


def test_sample_on_a_full_disk_leaves_nothing_and_a_retry_works(under_a_limit, generator_dir, capsys):
    found, stderr, _, out = under_a_limit
    assert found["sample grid"] == found["sample npy"] == 2
    for name in ("grid.png", "samples.npy"):
        assert (f"error: {out / name}: the disk is full; the samples were not written and nothing was left behind. "
                "Free some space and run it again.") in stderr.splitlines()
        assert not (out / name).exists()
    assert "Traceback" not in stderr and _temps(out) == []
    for name in ("grid.png", "samples.npy"):  # space again: no "already exists" in the way
        assert main(["sample", str(generator_dir), "--out", str(out / name)]) == 0
        assert (out / name).stat().st_size > LIMIT  # too big for the limit above: it was the one that failed
    assert np.load(out / "samples.npy").shape == (64, 28, 28, 1)


def test_sample_pngs_failing_part_way_leave_no_folder_and_a_retry_works(generator_dir, tmp_path, monkeypatch,
                                                                        capsys):
    out = tmp_path / "many"
    real, calls = export.write_png, []

    def fills_up(image, path):
        calls.append(path)
        if len(calls) == 4:
            Path(path).write_bytes(b"\x89PNG")  # what got onto the disk before it was full
            raise OSError(errno.ENOSPC, "No space left on device")
        real(image, path)

    monkeypatch.setattr(export, "write_png", fills_up)
    assert main(["sample", str(generator_dir), "--n", "8", "--out", str(out)]) == 2
    assert f"error: {out}: the disk is full" in capsys.readouterr().err
    assert len(calls) == 4 and os.listdir(tmp_path) == []  # neither the folder nor its temp one
    monkeypatch.undo()
    assert main(["sample", str(generator_dir), "--n", "8", "--out", str(out)]) == 0
    assert sorted(os.listdir(out)) == [f"sample_{i:05d}.png" for i in range(8)]


TORCH_FULL = "[enforce fail at inline_container.cc:672] . unexpected pos 662208 vs 662104"  # as torch words it


def test_a_checkpoint_that_does_not_fit_stops_the_run_in_one_line_and_keeps_the_last(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    real_save, real_fsync = torch.save, os.fsync
    disk = {"full": False, "saves": 0}

    def save(obj, f, *args, **kw):  # the second checkpoint (step 4) fills the disk
        disk["saves"] += 1
        disk["full"] = disk["full"] or disk["saves"] == 2
        if disk["full"]:
            Path(f).write_bytes(b"PK\x03\x04" + b"\0" * 1000)
            raise RuntimeError(TORCH_FULL)
        return real_save(obj, f, *args, **kw)

    def fsync(fd):  # every other file written from then on (the heartbeat) finds the disk full too
        if disk["full"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(torch, "save", save)
    monkeypatch.setattr(os, "fsync", fsync)
    assert main(["train", "--steps", "6", "--out", str(run), *SMALL, "--set", "run.checkpoint_every=2",
                 "--set", "run.keep_every=0", "--set", "model.clusters=0"]) == 1
    out, err = capsys.readouterr()
    assert re.findall(r"error: [^\r\n]*", err) == [
        f"error: the disk is full ({run}): the checkpoint at step 4 was not written; the last one kept is step 2 "
        "(checkpoints/last.pt)",
        f"error: could not write the heartbeat: the disk is full ({run / 'heartbeat.json'})"]
    assert "Traceback" not in out + err and "unexpected pos" not in out + err
    assert f"stopped at step 2; run folder: {run}" in out  # the step the run folder resumes from
    assert disk["saves"] == 2  # the final save was not tried again on the full disk
    assert load_checkpoint(run)["step"] == 2 and _temps(run) == []

    disk["full"] = False  # space freed: the run resumes from its last checkpoint
    assert main(["resume", str(run)]) == 0
    assert load_checkpoint(run)["step"] == 6
    assert _steps(run / "metrics.csv") == [2, 4, 6]
