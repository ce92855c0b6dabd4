"""Files and values a hostile or unlucky person hands the commands (issue #28): each is one line naming
what is wrong, and none hangs, eats memory or ends in a traceback. The reader itself: test_bounded_read.py."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path

import pytest
import torch

from core.cli import main
from core.config import ConfigError
from core.control import Control
from core.models import size as model_size
from core.presets import preset
from core.runs.channel import ChannelReader
from core.runs.folder import METRIC_COLUMNS, metrics_from_row, read_csv, read_rows
from core.runs.writer import RunDir

from .conftest import tiny
from .test_cli import ROOT
from .test_messages import SMALL, one_line

MiB = 1 << 20
JOIN_S = 60  # a guard: each call below returns in well under a second when the code works


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("bounded") / "run"
    assert main(["train", "--steps", "4", "--out", str(run), *SMALL]) == 0
    return run


@pytest.fixture
def run(trained, tmp_path):
    """A copy of the trained run to damage."""
    return Path(shutil.copytree(trained, tmp_path / "run"))


def _main_in_thread(argv: list[str], fifos: list[Path]) -> int:
    """main(argv) on a thread that must end; a regression that opens a FIFO to read blocks until a writer
    comes, so the FIFOs are opened for writing afterwards, letting it end instead of hanging the suite."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(main(argv)), daemon=True)
    thread.start()
    thread.join(JOIN_S)
    blocked = thread.is_alive()
    for fifo in fifos if blocked else []:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # EOF for the blocked reader
    thread.join(JOIN_S)
    assert not blocked, f"{argv[0]} blocked on a FIFO"
    return result[0]


# --- 1, 2: a FIFO or a device in a file's place ---

def test_a_fifo_config_is_refused_without_hanging(tmp_path, capsys):
    fifo = tmp_path / "c.json"
    os.mkfifo(fifo)
    out = tmp_path / "run"
    assert _main_in_thread(["train", "--config", str(fifo), "--out", str(out)], [fifo]) == 2
    assert one_line(capsys) == f"error: {fifo}: a FIFO (named pipe), not a regular file, so nothing was read from " \
                               "it; give a plain config file"
    assert not out.exists()


def test_a_fifo_space_is_refused_without_hanging(tmp_path, capsys):
    fifo = tmp_path / "space.toml"
    os.mkfifo(fifo)
    out = tmp_path / "sweep"
    argv = ["sweep", "--space", str(fifo), "--trials", "1", "--steps", "2", "--out", str(out)]
    assert _main_in_thread(argv, [fifo]) == 2
    assert one_line(capsys).startswith(f"error: {fifo}: a FIFO (named pipe), not a regular file")
    assert not out.exists()


def test_a_config_linked_to_dev_zero_is_refused_unread(tmp_path):
    """In a process of its own under a 1 GiB address-space limit: before, it read /dev/zero until memory
    ran out (1.5 GB in 3 s)."""
    link = tmp_path / "c.json"
    link.symlink_to("/dev/zero")
    code = ("import sys\nfrom core.config import ConfigError, load_config\ntry:\n    load_config(sys.argv[1])\n"
            "except ConfigError as e:\n    print(e)\n")
    limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # noqa: E731
    done = subprocess.run([sys.executable, "-c", code, str(link)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, preexec_fn=limit)
    assert done.stdout == f"{link}: a character device, not a regular file, so nothing was read from it; give a " \
                          "plain config file\n", done.stderr


# --- 3: a 1 GiB line appended to metrics.csv, then resume or open ---

def _long_line(path: Path, size: int = 16 * MiB) -> None:
    with open(path, "ab") as f:
        f.write(b"9" * size + b"\n")


def _peak(call) -> tuple[object, int]:
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_huge_line_in_metrics_csv_costs_bounded_memory_to_open(run):
    rows = read_rows(run / "metrics.csv", metrics_from_row)
    _long_line(run / "metrics.csv")
    read, peak = _peak(lambda: read_rows(run / "metrics.csv", metrics_from_row))
    assert [m.step for m in read] == [m.step for m in rows] and rows
    assert peak < 4 * MiB, f"{peak:,} bytes held for a 16 MiB line"


def test_a_huge_line_in_metrics_csv_costs_bounded_memory_to_resume(run):
    """The resume cuts metrics.csv back to its checkpoint: the long line is dropped, never held whole."""
    kept = [r["step"] for r in read_csv(run / "metrics.csv", METRIC_COLUMNS)]
    _long_line(run / "metrics.csv")
    _long_line(run / "changes.jsonl")
    _, peak = _peak(lambda: RunDir(run).start(tiny(), resumed_at=4))
    assert peak < 4 * MiB, f"{peak:,} bytes held for a 16 MiB line"
    assert [r["step"] for r in read_csv(run / "metrics.csv", METRIC_COLUMNS)] == kept
    assert (run / "metrics.csv").stat().st_size < MiB


# --- 4: one notice per bad file, however many and however long they stay ---

def test_1500_junk_folders_are_one_notice_each_ever(tmp_path):
    commands = tmp_path / "control" / "commands"
    commands.mkdir(parents=True)
    for i in range(1500):
        (commands / f"d{i:05d}.json").mkdir()
    notes: list[str] = []
    control = Control()
    reader = ChannelReader(tmp_path, control, tiny, lambda: 1, control.save_run, notes.append)
    for _ in range(4):  # polls, as the reader thread makes every 0.25 s
        reader.poll()
    assert len(notes) == 1500 and len(set(notes)) == 1500
    assert all("not a regular file" in n for n in notes)
    (commands / "d00007.json").rmdir()
    (commands / "d00007.json").write_text("{")  # another file under the same name: said again, once
    reader.poll()
    reader.poll()
    assert len(notes) == 1501 and "d00007.json: dropped: not a JSON command" in notes[-1]


# --- 6: deep nesting is one line, never a RecursionError ---

def test_a_deeply_nested_set_value_names_the_setting(tmp_path, capsys):
    assert main(["train", "--set", "model.g_hidden=" + "[" * 100_000, "--out", str(tmp_path / "r")]) == 2
    assert one_line(capsys).startswith("error: --set model.g_hidden: nested more than 64 levels deep")


@pytest.mark.parametrize("name, text", [("c.json", '{"run": ' + "[" * 200_000 + "]" * 200_000 + "}"),
                                        ("c.toml", "[run]\nseed = " + "[" * 200_000 + "]" * 200_000)])
def test_a_deeply_nested_config_file_is_one_line(tmp_path, capsys, name, text):
    path = tmp_path / name
    path.write_text(text)
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "r")]) == 2
    assert one_line(capsys).startswith(f"error: {path}: nested more than 64 levels deep")


def test_a_deeply_nested_generator_json_is_one_line(run, tmp_path, capsys):
    (run / "generator.json").write_text('{"config": ' + "[" * 200_000 + "]" * 200_000 + "}")
    out = tmp_path / "s.png"
    assert main(["sample", str(run), "--out", str(out)]) == 2
    assert one_line(capsys).startswith(f"error: {run / 'generator.json'}: not a valid generator description (nested "
                                       "more than 64 levels deep")
    assert not out.exists()


def test_a_deeply_nested_space_is_one_line(tmp_path, capsys):
    space = tmp_path / "space.toml"
    space.write_text("[optim.lr_g]\nchoices = " + "[" * 100_000 + "]" * 100_000 + "\n")
    out = tmp_path / "sweep"
    assert main(["sweep", "--space", str(space), "--trials", "1", "--steps", "2", "--out", str(out)]) == 2
    assert one_line(capsys).startswith(f"error: {space}: nested more than 64 levels deep")
    assert not out.exists()


# --- 7: a name longer than the file system allows ---

def test_a_300_character_out_is_one_line(tmp_path, capsys):
    out = tmp_path / ("x" * 300)
    assert main(["train", "--out", str(out), *SMALL]) == 2
    line = one_line(capsys)
    assert "the name is too long for this file system (300 bytes in one part of it)" in line
    assert "--out" in line and len(line) < 300


# --- 9: the setting that is the cause is named ---

def test_a_batch_too_big_to_fit_names_the_batch_size():
    config = preset("folder").with_values(**{"data.image_size": 128, "run.batch_size": 65536})
    with pytest.raises(ConfigError, match=r"^run\.batch_size = 65536: training at this batch needs about [\d.,]+ GB, "
                                          r"most of it one step's activations .* 16\.0 GB free; a batch of up to "
                                          r"[\d,]+ fits\. Choose a smaller run\.batch_size\.$"):
        model_size.check_fits(config, torch.device("cpu"), free=16 * 10**9)


def test_the_cli_names_the_batch_size_too(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(model_size, "available_bytes", lambda device: 16 * 10**9)
    argv = ["train", "--preset", "folder", "--set", "data.image_size=128", "--set", "run.batch_size=65536",
            "--set", f"data.folder={tmp_path}", "--device", "cpu", "--out", str(tmp_path / "r")]
    assert main(argv) != 0
    assert one_line(capsys).startswith("error: run.batch_size = 65536: ")


# --- 10-13: messages that named nothing ---

def test_a_config_that_is_not_utf8_names_the_file(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_bytes(b'{"run": {"seed": "\xff\xfe"}}')
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "r")]) == 2
    assert one_line(capsys) == f"error: {path}: not UTF-8 text (byte 0xff at position 18); save the config file as UTF-8"


def test_a_5000_digit_seed_names_the_setting(tmp_path, capsys):
    assert main(["train", "--set", "run.seed=" + "1" * 5000, "--out", str(tmp_path / "r")]) == 2
    assert one_line(capsys) == "error: --set run.seed: a number of 5,000 digits, longer than any setting takes"


def test_a_seed_torch_cannot_take_names_seed(trained, tmp_path, capsys):
    out = tmp_path / "s.png"
    assert main(["sample", str(trained), "--seed", str(2**70), "--out", str(out)]) == 2
    assert one_line(capsys).startswith(f"error: --seed {2**70}: out of range; a noise seed is a whole number from 0")
    assert not out.exists()


def test_a_journal_of_garbage_names_the_journal(tmp_path, capsys):
    journal = tmp_path / "j.log"
    journal.write_text("garbage\n")
    space = tmp_path / "space.toml"
    space.write_text("[optim.lr_g]\nlow = 1e-4\nhigh = 1e-3\n")
    out = tmp_path / "sweep"
    assert main(["sweep", "--space", str(space), "--trials", "1", "--steps", "2", "--out", str(out),
                 "--storage", f"journal:{journal}"]) == 2
    assert one_line(capsys).startswith(f"error: --storage journal:{journal}: line 1 is not a record of Optuna's "
                                       "journal")
    assert journal.read_text() == "garbage\n"
