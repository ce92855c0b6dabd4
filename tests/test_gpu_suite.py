"""bench/gpu_suite.py, the GPU suite, kept from rotting on the CPU: its time limits, its budget, which
tests it runs on the device, and the table it writes. CI also runs the whole dry run (`--device cpu
--tiny`) as its own step and prints its table (.ci/run)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import gpu_suite
from bench.gpu_checks import device_test_files
from bench.gpu_report import HEADLINES, speed_pivot
from bench.gpu_rows import Rows, read_rows


def _state(pid: int) -> str:
    """A process's state letter ('' when it is gone; 'Z' for one dead but not yet reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _ends(pid: int, within_s: float = 10.0) -> bool:
    """Whether the process is gone or dead within `within_s`: a SIGKILL sent to its group is delivered when
    the process next runs, so on a busy machine it can still read 'R' for a moment (a CI run saw it)."""
    deadline = time.monotonic() + within_s
    while _state(pid) not in ("", "Z"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes' states in /proc")
def test_a_part_that_hangs_is_stopped_at_its_limit_with_what_it_started_and_its_rows_kept(tmp_path):
    rows, pidfile = tmp_path / "part.jsonl", tmp_path / "child.pid"
    script = (f"import subprocess, sys, time; sys.path.insert(0, {str(gpu_suite.ROOT)!r})\n"
              "from bench.gpu_rows import Rows\n"
              f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
              f"open({str(pidfile)!r}, 'w').write(str(child.pid))\n"
              f"Rows(__import__('pathlib').Path({str(rows)!r})).add(done=1)\n"
              "time.sleep(600)\n")
    with open(tmp_path / "log", "w") as log:
        status, rc, seconds = gpu_suite.run_part([sys.executable, "-c", script], 3, log)
    assert status == "timeout" and rc is None and seconds < 30
    assert read_rows(rows) == [{"done": 1}]  # written before the hang: kept
    assert _ends(int(pidfile.read_text()))  # the part's own child was ended with it


def test_a_row_cut_short_is_dropped_and_nan_is_written_as_null(tmp_path):
    path = tmp_path / "rows.jsonl"
    Rows(path).add(a=1.5, b=float("nan"))
    with open(path, "a") as f:
        f.write('{"cut": ')
    assert read_rows(path) == [{"a": 1.5, "b": None}]
    json.loads(path.read_text().splitlines()[0])  # strict JSON


def test_each_part_gets_its_own_limit_within_what_the_later_parts_need(monkeypatch):
    monkeypatch.setattr(gpu_suite.time, "monotonic", lambda: 1000.0)
    first, later = gpu_suite.PARTS[0], list(gpu_suite.PARTS[1:])
    assert gpu_suite.plan_limit(first, later, deadline=1000.0 + 3600, tiny=False) == first.limit_s
    assert gpu_suite.plan_limit(first, later, deadline=1000.0 + 3600, tiny=True) == first.tiny_limit_s
    tight = 1000.0 + sum(p.min_s for p in later) + 40
    assert gpu_suite.plan_limit(first, later, deadline=tight, tiny=False) == pytest.approx(40)


def test_the_device_tests_are_the_files_holding_a_device_marker():
    files = device_test_files(tiny=False)
    for name in ("test_trainer.py", "test_losses.py", "test_presets_models.py", "test_control.py",
                 "test_sweep_runs.py", "test_device.py", "test_fast_path.py"):
        assert f"tests/core/{name}" in files
    assert "tests/core/test_config.py" not in files  # no device marker: not collected on the GPU machine
    assert device_test_files(tiny=True) == ["tests/core/test_device.py"]


def test_the_speed_table_compares_the_ways_at_the_configuration_measured_most():
    def row(batch, variant, rate, compiled=False):
        return {"preset": "default", "size": 64, "batch": batch, "variant": variant, "steps_per_s": rate,
                "images_per_s": rate * batch, "compiled": compiled}

    rows = [row(64, "eager bf16", 100.0), row(256, "eager bf16", 50.0), row(256, "eager fp32", 25.0),
            row(256, "compiled bf16", 75.0, compiled=True),
            {"preset": "mlp", "size": 64, "batch": 64, "variant": "eager bf16", "not_run": "out of time"}]
    line = HEADLINES["speed"](rows)
    assert line.startswith("default 64 px b256: eager bf16 50 steps/s") and "compiled bf16 ×1.50" in line
    assert "eager fp32 ×0.50" in line and "1 not run" in line
    pivot = speed_pivot(rows)
    assert "| default | 64 | 256 | 50.0 | 25.0 | 75.0 |" in pivot


def test_bad_arguments_are_one_line_and_nothing_is_created(tmp_path):
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "bench/gpu_suite.py", "--device", "cpu", "--out", str(out), "--pictures",
                        str(tmp_path / "nowhere")], cwd=gpu_suite.ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "--pictures" in p.stderr and "no such folder" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not out.exists()


def test_the_dry_run_of_two_parts_writes_its_table_its_json_and_a_grid(tmp_path):
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "bench/gpu_suite.py", "--device", "cpu", "--tiny", "--out", str(out),
                        "--only", "studio", "digits", "pictures"], cwd=gpu_suite.ROOT, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    printed = p.stdout.strip().splitlines()
    table = printed[printed.index("| part | status | seconds | result |"):]
    assert [line.split(" | ")[0:2] for line in table[2:]] == [["| studio", "ok"], ["| digits", "ok"],
                                                               ["| pictures", "skipped"]]
    assert "no --pictures DIR" in table[-1]
    doc = json.loads((out / "gpu-suite.json").read_text())
    assert [part["part"] for part in doc["parts"]] == ["studio", "digits", "pictures"]
    studio, digits = doc["parts"][0], doc["parts"][1]
    assert {r["listener"] for r in studio["rows"]} == {"none (inline)", "thread at the GUI's rate"}
    assert any(r.get("frechet") for r in digits["rows"]) and (out / "digits-grid.png").exists()
    md = (out / "gpu-suite.md").read_text()
    assert md.rstrip().endswith(table[-1]) and "## Summary" in md
    assert sorted(f.name for f in out.iterdir()) == ["digits-grid.png", "gpu-suite.json", "gpu-suite.log", "gpu-suite.md"]
