"""Checkpoints: atomic writes under a simulated crash, and refusal of files that are not ours."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from core import events as ev
from core.runs import checkpoint as ck
from core.runs.checkpoint import FORMAT, CheckpointError, load_checkpoint, save_checkpoint
from core.training.trainer import train

from .conftest import tiny


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A real run folder after 2 steps, and its checkpoint state."""
    run = tmp_path_factory.mktemp("ck") / "run"
    train(tiny(**{"run.steps": 2}), run_dir=run)
    return run, load_checkpoint(run)


def _half_then_crash(exc):
    real_save = torch.save

    def save(obj, f, *args, **kw):
        real_save(obj, f, *args, **kw)
        with open(f, "rb+") as fh:  # leave a half-written file behind, as a crash would
            size = fh.seek(0, os.SEEK_END)
            fh.truncate(size // 2)
        raise exc

    return save


def _temp_files(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_load_gives_back_what_was_saved(trained, tmp_path):
    run, state = trained
    assert state["format"] == FORMAT and state["step"] == 2 and set(state) == ck.KEYS
    save_checkpoint(state, tmp_path / "copy.pt")
    again = load_checkpoint(tmp_path / "copy.pt")
    assert again["step"] == 2 and again["config"] == state["config"]
    assert all(torch.equal(again["generator"][k], v) for k, v in state["generator"].items())
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 2  # a file or its run folder


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_crash_mid_write_keeps_the_previous_file(trained, tmp_path, monkeypatch, exc):
    _, state = trained
    path = tmp_path / "last.pt"
    save_checkpoint(state, path)
    before = path.read_bytes()
    changed = dict(state, step=99)
    monkeypatch.setattr(torch, "save", _half_then_crash(exc))
    with pytest.raises(type(exc)):
        save_checkpoint(changed, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_checkpoint(path)["step"] == 2
    assert _temp_files(tmp_path) == []


def test_trainer_reports_a_failed_final_save_and_keeps_the_old_checkpoint(tmp_path, monkeypatch, recorder):
    run = tmp_path / "run"
    train(tiny(**{"run.steps": 2}), run_dir=run)
    before = (run / "checkpoints" / "last.pt").read_bytes()
    monkeypatch.setattr(torch, "save", _half_then_crash(OSError(28, "No space left on device")))
    train(tiny(**{"run.steps": 4}), run_dir=run, on_event=recorder, checkpoint=load_checkpoint(run))
    monkeypatch.undo()
    assert recorder.errors() == [f"the disk is full ({run}): the checkpoint at step 4 was not written; the last "
                                 "one kept is step 2 (checkpoints/last.pt)"]
    assert recorder.of(ev.Finished)[0].step == 2 and recorder.of(ev.Finished)[0].stopped  # what the folder holds
    assert (run / "checkpoints" / "last.pt").read_bytes() == before
    assert load_checkpoint(run)["step"] == 2
    assert _temp_files(run / "checkpoints") == []


def test_text_file_refused(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("just some text\n")
    with pytest.raises(CheckpointError, match="not a GAN Studio checkpoint"):
        load_checkpoint(path)


def test_missing_file_and_empty_run_folder_refused(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("keep", [0.5, 0.95])
def test_truncated_checkpoint_refused(trained, tmp_path, keep):
    run, _ = trained
    data = (run / "checkpoints" / "last.pt").read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(path)


class _RunsCode:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_pickle_that_would_run_code_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "version": 1, "payload": _RunsCode(marker)}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert "could run code" in str(info.value)
    assert not marker.exists()
    # the payload is real: an unsafe load would have run it
    control = tmp_path / "control"
    torch.save({"payload": _RunsCode(control)}, tmp_path / "control.pt")
    torch.load(tmp_path / "control.pt", weights_only=False)
    assert control.is_dir()


def test_plain_pickle_file_refused(tmp_path):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"format": FORMAT}))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_torch_file_that_is_not_ours_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"weight": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="gan-studio-checkpoint"):
        load_checkpoint(path)
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="not a GAN Studio checkpoint"):
        load_checkpoint(path)


def test_wrong_keys_and_version_refused(trained, tmp_path):
    _, state = trained
    path = tmp_path / "odd.pt"
    extra = dict(state, surprise=1)
    torch.save(extra, path)
    with pytest.raises(CheckpointError, match=r"unknown \['surprise'\]"):
        load_checkpoint(path)
    missing = {k: v for k, v in state.items() if k != "opt_d"}
    torch.save(missing, path)
    with pytest.raises(CheckpointError, match=r"missing \['opt_d'\]"):
        load_checkpoint(path)
    torch.save(dict(state, version=7), path)
    with pytest.raises(CheckpointError, match="version 7"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="surprise"):
        save_checkpoint(extra, tmp_path / "never.pt")
    assert not (tmp_path / "never.pt").exists()


def test_resume_on_another_dataset_is_reported(trained, tmp_path, rgb_folder, recorder):
    """A checkpoint drawn from the 5,000-image sample cannot continue on a 20-image folder."""
    run, state = trained
    gray = tmp_path / "gray"
    gray.mkdir()
    from .conftest import write_png
    for i in range(20):
        write_png(gray / f"{i}.png", size=(28, 28), seed=i)
    config = tiny(**{"data.dataset": "folder", "data.folder": str(gray), "run.steps": 4})
    train(config, on_event=recorder, checkpoint=state)
    (err,) = recorder.errors()
    assert "5,000" in err and "20" in err
    assert recorder.of(ev.Finished)[0].stopped


def test_generator_export_is_atomic_too(tmp_path, monkeypatch):
    import safetensors.torch

    from core.models import build_generator
    from core.sharing.export import load_generator, save_generator

    config = tiny()
    G = build_generator(config)
    save_generator(G, config, tmp_path, step=1)
    before = (tmp_path / "generator.safetensors").read_bytes()
    real = safetensors.torch.save_file

    def crash(tensors, filename, metadata=None):
        real(tensors, filename, metadata=metadata)
        with open(filename, "rb+") as f:
            f.truncate(100)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", crash)
    with pytest.raises(OSError):
        save_generator(build_generator(config), config, tmp_path, step=2)
    monkeypatch.undo()
    assert (tmp_path / "generator.safetensors").read_bytes() == before
    assert load_generator(tmp_path)[2]["step"] == 1
    assert _temp_files(tmp_path) == []
