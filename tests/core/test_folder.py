"""The run folder's layout, owned by core/runs/folder.py's RunFolder, and what a path means (classify)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.runs.folder import RUN_EXTRAS, RUN_FILES, RunFolder, RunFolderError, checkpoint_path, classify

# The layout a run folder promises (README, docs/architecture.md): renaming any of these breaks older runs.
LAYOUT = {
    "config": "config.json", "run_json": "run.json", "metrics": "metrics.csv", "quality": "quality.csv",
    "fid": "fid.csv", "changes": "changes.jsonl", "events": "events.jsonl", "samples": "samples",
    "checkpoints": "checkpoints",
    "last_checkpoint": "checkpoints/last.pt", "generator": "generator.safetensors",
    "generator_json": "generator.json", "heartbeat": "heartbeat.json", "control": "control",
    "commands": "control/commands", "acks": "control/acks", "lock": "control/lock", "tensorboard": "tensorboard",
    "best": "best", "best_generator": "best/generator.safetensors", "best_checkpoint": "best/checkpoint.pt",
}


def test_every_path_of_a_run_folder(tmp_path):
    run = RunFolder(tmp_path / "run")
    for name, relative in LAYOUT.items():
        assert getattr(run, name) == tmp_path / "run" / relative, name
    assert run.sample(500) == tmp_path / "run" / "samples" / "step_000500.png"
    assert run.kept_checkpoint(2000) == tmp_path / "run" / "checkpoints" / "step_002000.pt"
    assert run.sample(1_234_567).name == "step_1234567.png"  # more steps than six digits: never cut
    assert RunFolder(str(tmp_path)).path == tmp_path  # a str is taken as a path
    assert checkpoint_path(run.path) == run.last_checkpoint and checkpoint_path(run.path, 4) == run.kept_checkpoint(4)


def test_the_layout_names_every_file_a_run_writes(tmp_path):
    # What marks a folder as a run (RUN_FILES) and what discarding a run removes (with RUN_EXTRAS) are
    # exactly RunFolder's top-level names.
    run = RunFolder(tmp_path)
    top = {p.name for p in (getattr(run, name) for name in LAYOUT) if p.parent == tmp_path}
    assert set(RUN_FILES) | set(RUN_EXTRAS) == top
    assert not set(RUN_FILES) & set(RUN_EXTRAS)


def test_steps_are_listed_from_the_names_oldest_first(tmp_path):
    run = RunFolder(tmp_path)
    assert run.sample_steps() == [] and run.kept_steps() == []  # no samples/ or checkpoints/ yet
    run.samples.mkdir()
    run.checkpoints.mkdir()
    for step in (1_000_000, 20, 500):
        run.sample(step).write_bytes(b"")
        run.kept_checkpoint(step).write_bytes(b"")
    for stray in ("step_12.png.tmp", "step_x.png", "notes.txt", "last.png"):
        (run.samples / stray).write_bytes(b"")
    run.last_checkpoint.write_bytes(b"")
    (run.checkpoints / "step_7.png").write_bytes(b"")
    assert run.sample_steps() == [20, 500, 1_000_000]
    assert run.sample_steps(up_to=500) == [20, 500]
    assert run.kept_steps() == [20, 500, 1_000_000]  # last.pt is not a kept one


def _run(tmp_path: Path, name: str = "run") -> RunFolder:
    run = RunFolder(tmp_path / name)
    run.checkpoints.mkdir(parents=True)
    run.config.write_text("{}", encoding="utf-8")
    run.last_checkpoint.write_bytes(b"x")
    run.kept_checkpoint(4).write_bytes(b"x")
    return run


def test_classify_is_the_one_answer_to_which_run_a_path_means(tmp_path):
    run = _run(tmp_path)
    folder = classify(run.path)
    assert (folder.kind, folder.run_dir, folder.checkpoint) == ("run", run.path, None)
    assert (folder.checkpoint_file, folder.latest) == (run.last_checkpoint, True)
    assert classify(run.config) == folder  # a run's config.json stands for its folder
    last = classify(run.last_checkpoint)
    assert (last.kind, last.run_dir, last.checkpoint, last.latest) == ("run checkpoint", run.path,
                                                                       run.last_checkpoint, True)
    kept = classify(run.kept_checkpoint(4))
    assert (kept.kind, kept.run_dir, kept.checkpoint_file) == ("run checkpoint", run.path, run.kept_checkpoint(4))
    assert not kept.latest  # an earlier moment: resuming it in place would discard the later steps
    loose = tmp_path / "download.pt"
    loose.write_bytes(b"x")
    meaning = classify(loose)
    assert (meaning.kind, meaning.run_dir, meaning.checkpoint_file, meaning.latest) == ("loose checkpoint", None,
                                                                                        loose, False)
    # A checkpoints/ folder with no config.json above it is no run's, nor is last.pt elsewhere in a run.
    stray = RunFolder(tmp_path / "copies")
    stray.checkpoints.mkdir(parents=True)
    stray.last_checkpoint.write_bytes(b"x")
    assert classify(stray.last_checkpoint).kind == "loose checkpoint"
    (run.path / "last.pt").write_bytes(b"x")
    assert classify(run.path / "last.pt").kind == "loose checkpoint"
    with pytest.raises(RunFolderError, match="does not exist"):
        classify(tmp_path / "nothing.pt")


def test_fork_and_checkpoint_loading_ask_classify(tmp_path):
    from core.runs.fork import checkpoint_step, parent_of

    run = _run(tmp_path)
    assert parent_of(run.path) == (run.last_checkpoint, run.path)
    assert parent_of(run.config) == (run.last_checkpoint, run.path)
    assert parent_of(run.kept_checkpoint(4)) == (run.kept_checkpoint(4), run.path)
    loose = tmp_path / "downloads" / "mine.pt"
    loose.parent.mkdir()
    loose.write_bytes(b"x")
    assert parent_of(loose) == (loose, loose.parent)  # a loose checkpoint's folder stands for its run
    assert parent_of(tmp_path / "gone.pt") == (tmp_path / "gone.pt", tmp_path)  # its loading says it is missing
    assert checkpoint_step(run.kept_checkpoint(4)) == 4
    assert checkpoint_step(loose) is None
