"""FID/KID readings in training for pictures the digit classifier does not know (core/quality/readings.py).

The Inception network itself is tested in test_inception.py (random weights, the real architecture); here a
small stand-in with the same interface keeps the training-loop tests fast."""

from __future__ import annotations

import csv

from core import events as ev
from core.quality import readings as fid_readings
from core.training.trainer import train

from .conftest import tiny


def _folder_run(rgb_folder, **more):
    return tiny(**{"data.dataset": "folder", "data.folder": str(rgb_folder), "data.channels": 3,
                   "data.image_size": 32, "model.z_dim": 16, "run.steps": 4, "run.fid_every": 2,
                   "run.fid_samples": 16, **more})


def test_readings_every_m_steps_with_progress_and_a_csv(stand_in, rgb_folder, tmp_path, recorder):
    train(_folder_run(rgb_folder), on_event=recorder, run_dir=tmp_path / "run")
    assert recorder.errors() == [] and recorder.of(ev.QualityOff) == []
    readings = recorder.of(ev.ImageQuality)
    assert [q.step for q in readings] == [2, 4]
    assert all(q.fid > 0 and q.samples == 16 and q.network == "stand-in" for q in readings)
    tasks = {p.task for p in recorder.of(ev.Progress)}
    assert {"Scoring samples (FID)", "Features of the real pictures (once per dataset)"} <= tasks
    with open(tmp_path / "run" / "fid.csv", newline="") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [2, 4]


def test_the_real_features_are_computed_once_per_dataset(stand_in, rgb_folder, tmp_path, recorder):
    cache = tmp_path / "cache"
    train(_folder_run(rgb_folder, **{"data.cache_dir": str(cache), "run.steps": 2}), on_event=recorder)
    first = list(stand_in.calls)
    assert sum(first) == 20 + 16  # the folder's 20 pictures, then 16 samples
    assert len(list((cache / "fid").glob("*.npz"))) == 1
    stand_in.calls = []
    train(_folder_run(rgb_folder, **{"data.cache_dir": str(cache), "run.steps": 2}), on_event=recorder)
    assert sum(stand_in.calls) == 16  # only the samples: the real features came from the cache


def test_without_weights_the_reason_names_the_command(rgb_folder, recorder, monkeypatch):
    """With the picture reading off too (run.quality_every = 0): without it, the picture reading reads
    (tests/core/test_picture_reading.py) and nothing is off."""
    monkeypatch.setattr(fid_readings, "find_inception_weights", lambda: None)
    train(_folder_run(rgb_folder, **{"run.steps": 2, "run.quality_every": 0}), on_event=recorder)
    (off,) = recorder.of(ev.QualityOff)
    assert "python main.py fetch-inception" in off.reason and recorder.of(ev.ImageQuality) == []
    assert "run.quality_every = 0" in off.reason


def test_without_weights_pictures_still_get_the_picture_reading(rgb_folder, recorder, monkeypatch):
    monkeypatch.setattr(fid_readings, "find_inception_weights", lambda: None)
    train(_folder_run(rgb_folder, **{"run.steps": 2, "run.quality_every": 2}), on_event=recorder)
    assert recorder.of(ev.QualityOff) == [] and recorder.of(ev.ImageQuality) == []
    (reading,) = recorder.of(ev.Quality)
    assert reading.step == 2 and reading.reference  # the folder's groups' shares: a picture reading


def test_a_stop_cuts_a_reading_short(stand_in, rgb_folder, recorder):
    from core.control import Control

    control = Control()

    def stop_while_scoring(e):
        recorder(e)
        if isinstance(e, ev.Progress) and e.task == "Scoring samples (FID)":
            control.stop()

    train(_folder_run(rgb_folder, **{"run.fid_samples": 200}), control, stop_while_scoring)
    assert recorder.of(ev.ImageQuality) == [] and recorder.of(ev.Finished)[0].stopped
