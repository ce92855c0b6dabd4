"""A start that cannot train is refused before anything is made (a device not here, a missing pictures'
folder, a model too big), and one refused only while it loads (a folder without pictures) gives its run
folder back as it found it; a stop signal before the command began ends it in one line."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from core.cli import main
from core.models import size
from core.runs import lock as run_lock
from core.runs.folder import RunFolder
from core.training.trainer import train

from .conftest import tiny
from .test_cli import ROOT, SMALL


@pytest.mark.parametrize("settings, words", [
    (["--preset", "folder", "--set", "data.folder=NOPE"], "data.folder = 'NOPE': no such folder"),
    (["--preset", "mlp", "--set", "model.g_hidden=[4096,4096]"], "model.g_hidden = [4096, 4096]: G and D would"),
    pytest.param(["--set", "run.device=cuda"], "run.device = 'cuda': no CUDA GPU is available here",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")),
], ids=["missing data.folder", "model too big", "no cuda"])
def test_a_start_that_cannot_train_is_refused_before_anything_is_made(tmp_path, runs_root_in_tmp, capsys,
                                                                     monkeypatch, settings, words):
    monkeypatch.setattr(size, "available_bytes", lambda device: 200 * 2**20)  # a device with 200 MiB free
    settings = [a.replace("NOPE", str(tmp_path / "nope")) for a in settings]
    out = tmp_path / "new"
    assert main(["train", "--steps", "2", "--out", str(out), *SMALL[:-2], *settings]) == 2
    assert main(["train", "--steps", "2", *SMALL[:-2], *settings]) == 2  # a dated folder: not made either
    captured = capsys.readouterr()
    assert captured.err.count(words.replace("NOPE", str(tmp_path / "nope"))) == 2, captured.err
    assert "run folder: " not in captured.out and "step/s" not in captured.err  # no bar, no empty folder named
    assert not out.exists() and os.listdir(runs_root_in_tmp) == []


def test_a_start_refused_while_loading_leaves_the_folder_as_it_was_found(tmp_path, runs_root_in_tmp, recorder,
                                                                        capsys):
    empty = tmp_path / "no pictures"
    empty.mkdir()
    (empty / "readme.txt").write_text("not a picture")
    config = tiny("folder", **{"data.folder": str(empty), "data.image_size": 28, "model.clusters": 0})
    new = tmp_path / "runs" / "new"  # the claim makes it, and its parent
    train(config, on_event=recorder, run_dir=new)
    assert "no images found" in recorder.errors()[0]
    assert not (tmp_path / "runs").exists()
    chosen = tmp_path / "chosen"  # a folder the person made for it stays, empty
    chosen.mkdir()
    train(config, run_dir=chosen)
    assert os.listdir(chosen) == []

    sets = ["--set", f"data.folder={empty}", "--set", "data.image_size=28", "--set", "model.clusters=0"]
    assert main(["train", "--preset", "folder", "--steps", "2", *SMALL, *sets]) == 1
    out = capsys.readouterr()
    assert "no images found" in out.err and "the run did not start; nothing was written" in out.out
    assert os.listdir(runs_root_in_tmp) == []  # the dated folder made for it went too


def test_a_discarded_lock_file_is_never_taken_by_whoever_opened_it_meanwhile(tmp_path):
    run = tmp_path / "run"
    claimed = run_lock.claim(run)
    assert claimed.made == (run, run / "control", RunFolder(run).lock)
    racer = os.open(RunFolder(run).lock, os.O_RDWR)  # opened before the file goes, locked after
    try:
        claimed.discard()
        assert not run.exists()
        fcntl.flock(racer, fcntl.LOCK_EX | fcntl.LOCK_NB)  # it gets the old file's lock...
        assert not run_lock._is_the_folders(run, racer)  # ...which claim() sees is not the folder's any more
        with run_lock.claim(run) as again:  # a new claim makes and locks a new file
            assert again.held and RunFolder(run).lock.is_file()
    finally:
        os.close(racer)


# SIGTERM while main.py imports torch (the first second or two), sent by the process itself at the
# import of core.cli: no sleeping, no race.
EARLY_SIGTERM = textwrap.dedent("""
    import os, runpy, signal, sys

    class SigtermAtImport:
        def find_spec(self, name, path=None, target=None):
            if name == "core.cli":
                sys.meta_path.remove(self)
                os.kill(os.getpid(), signal.SIGTERM)
            return None

    sys.meta_path.insert(0, SigtermAtImport())
    sys.argv = ["main.py", *sys.argv[1:]]
    runpy.run_path("main.py", run_name="__main__")
""")


@pytest.mark.parametrize("command, rc, words", [
    (["train", "--steps", "2", "--out", "OUT", *SMALL], 0, "stopped before training started; nothing was written"),
    (["sample", "OUT", "--out", "OUT.png"], 130, "interrupted; nothing written"),
], ids=["train", "sample"])
def test_a_stop_signal_while_the_program_loads_ends_it_in_one_line(tmp_path, command, rc, words):
    out = tmp_path / "run"
    command = [a.replace("OUT", str(out)) for a in command]
    done = subprocess.run([sys.executable, "-c", EARLY_SIGTERM, *command], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == rc, (done.returncode, done.stderr[-2000:])
    assert words in done.stderr and "Traceback" not in done.stderr
    assert os.listdir(tmp_path) == []
