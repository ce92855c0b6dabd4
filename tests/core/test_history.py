"""What a path means (open, resume), a run's past read as events, and discarding a run just started."""

from __future__ import annotations

import pytest

from core.runs.folder import RunFolderError, classify, discard_new_run, sample_steps
from core.runs.history import read_history, read_view


def _run(tmp_path, name="run"):
    run = tmp_path / name
    (run / "checkpoints").mkdir(parents=True)
    (run / "samples").mkdir()
    (run / "config.json").write_text("{}", encoding="utf-8")
    (run / "checkpoints" / "last.pt").write_bytes(b"x")
    (run / "checkpoints" / "step_000004.pt").write_bytes(b"x")
    return run



def test_classify_names_runs_their_checkpoints_and_loose_ones(tmp_path):
    run = _run(tmp_path)
    assert (classify(run).kind, classify(run).run_dir) == ("run", run)
    assert classify(run / "config.json").run_dir == run  # a run's config.json stands for its folder
    kept = classify(run / "checkpoints" / "step_000004.pt")
    assert (kept.kind, kept.run_dir, kept.checkpoint) == ("run checkpoint", run, run / "checkpoints" / "step_000004.pt")
    loose = tmp_path / "download.pt"
    loose.write_bytes(b"x")
    assert (classify(loose).kind, classify(loose).run_dir) == ("loose checkpoint", None)
    # A checkpoints/ folder without a config.json above it is no run's (the CLI's rule).
    stray = tmp_path / "copies" / "checkpoints" / "last.pt"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"x")
    assert classify(stray).kind == "loose checkpoint"
    with pytest.raises(RunFolderError, match="does not exist"):
        classify(tmp_path / "nothing.pt")


def test_cli_resume_uses_the_same_rule(tmp_path):
    from core.cli import _run_folder_of

    run = _run(tmp_path)
    assert _run_folder_of(run / "checkpoints" / "last.pt") == run
    with pytest.raises(ValueError, match="earlier moment"):
        _run_folder_of(run / "checkpoints" / "step_000004.pt")
    stray = tmp_path / "copies" / "checkpoints" / "step_000004.pt"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"x")
    assert _run_folder_of(stray) is None  # no run around it: resumed into a new folder


def test_history_reads_rows_and_grids_up_to_a_step(tmp_path):
    run = _run(tmp_path)
    header = "step,epoch,g_loss,d_loss,d_real,d_fake,images_per_s,lr_g,lr_d\n"
    rows = "".join(f"{step},0,1,1,0.5,0.5,100,0.0002,0.0002\n" for step in (2, 4, 6))
    (run / "metrics.csv").write_text(header + rows, encoding="utf-8")
    for step in (4, 8):
        (run / "samples" / f"step_{step:06d}.png").write_bytes(b"")
    (run / "samples" / "notes.png").write_bytes(b"")
    assert sample_steps(run) == [4, 8]
    h = read_history(run, up_to=4)
    assert [m.step for m in h.metrics] == [2, 4] and h.samples == [4]
    assert read_history(run, samples=False).samples is None
    view = read_view(run)
    assert view.config is not None and view.problem == "" and view.resumable
    assert view.step == 8  # no generator.json says last.pt's step: the newest row or grid
    (run / "config.json").write_text("{not json", encoding="utf-8")
    view = read_view(run)  # shown without settings, with the reason
    assert view.config is None and "config.json" in view.problem


def test_discard_new_run_removes_the_run_and_keeps_a_persons_files(tmp_path):
    fresh = _run(tmp_path, "fresh")
    (fresh / "control").mkdir()
    (fresh / ".metrics.csv.abcd1234.tmp").write_text("", encoding="utf-8")
    assert discard_new_run(fresh) == [] and not fresh.exists()
    theirs = _run(tmp_path, "theirs")
    (theirs / "notes.txt").write_text("mine", encoding="utf-8")
    assert discard_new_run(theirs) == ["notes.txt"]
    assert sorted(p.name for p in theirs.iterdir()) == ["notes.txt"]
    assert discard_new_run(tmp_path / "gone") == []
