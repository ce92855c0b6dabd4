"""The quality panel: live readings from a real run, the collapse warning, the 'off' reason, history."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core import events as ev
from studio.panels.quality_panel import BAR_COLOUR, MISSING_COLOUR, QualityPanel, read_quality_csv
from tests.studio.conftest import tiny_config

QUICK = {"run.quality_every": 4, "run.quality_samples": 16}


def _even(n: int = 10) -> tuple[float, ...]:
    return tuple([1 / n] * n)


def test_tiny_run_sends_quality_readings_to_the_panel(qtbot, window):
    others = []
    window.session.other.connect(others.append)
    with qtbot.waitSignal(window.session.quality, timeout=30_000) as blocker:
        window.start_training(tiny_config(**QUICK))
    first = blocker.args[0]
    assert isinstance(first, ev.Quality) and first.step == 4 and first.frechet > 0
    panel = window.quality_panel
    qtbot.waitUntil(lambda: panel.count >= 3, timeout=30_000)
    n = panel.count
    assert len(panel.fd_curve.xData) == n  # the curve grows with the readings
    assert list(panel.fd_curve.xData[:3]) == [4, 8, 12]
    assert len(panel.bar_heights) == 10 and abs(panel.bar_heights.sum() - 100) < 1e-6
    assert panel.stack.currentWidget() is panel.graphics
    assert panel.value.text().startswith("FD ")
    assert window.status.quality.text().startswith("FD ")
    with qtbot.waitSignal(window.run_finished, timeout=15_000):
        window.stop()
    assert not [e for e in others if isinstance(e, (ev.Quality, ev.QualityOff))]  # typed signals, not `other`

    # A new run starts from an empty panel.
    window.quality_panel.reset()
    assert panel.count == 0 and not panel.bar_heights.any() and not panel.warning.isVisible()


def test_collapse_report_names_the_missing_classes(qtbot):
    panel = QualityPanel()
    qtbot.addWidget(panel)
    panel.show()
    hist = [0.14, 0.12, 0.0, 0.15, 0.13, 0.12, 0.13, 0.01, 0.1, 0.1]
    with qtbot.waitSignal(panel.updated, timeout=1_000):
        panel.add_quality(ev.Quality(500, 42.0, tuple(hist), (2, 7), True, None, 0.8))
    assert panel.warning.isVisible() and panel.warning_level == "warning"
    assert "Mode collapse: G (almost) never draws 2, 7" in panel.warning.text()
    colours = [b.color().name() for b in panel.bars.opts["brushes"]]
    assert colours[2] == colours[7] == MISSING_COLOUR
    assert colours[0] == BAR_COLOUR
    assert np.count_nonzero(panel.gaps.opts["height"]) == 2  # outlined where the bars should be
    assert not panel.fd_plot.getAxis("right").isVisible()  # unconditional: no accuracy axis
    low, high = panel.fd_plot.getViewBox().viewRange()[0]
    assert low <= 0 and high >= 500  # one reading is shown from step 0, not as steps 499.6 to 500.4

    # Collapse without a missing class: bunched up in a few classes.
    bunched = (0.5, 0.3, 0.03, 0.03, 0.03, 0.03, 0.02, 0.02, 0.02, 0.02)
    panel.add_quality(ev.Quality(1000, 30.0, bunched, (), True, None, 0.8))
    assert panel.fd_plot.getViewBox().autoRangeEnabled()[0]  # two readings: the axis follows them again
    assert "Possible mode collapse" in panel.warning.text() and "0 is 50%" in panel.warning.text()

    # Early blobs: the classifier is unsure, so the same gaps are a note, not an alarm.
    panel.add_quality(ev.Quality(1200, 120.0, tuple(hist), (2, 7), True, None, 0.25))
    assert panel.warning_level == "note" and "classes 2, 7 look missing" in panel.warning.text().lower()
    assert "too early" in panel.warning.text()

    # A healthy conditional reading clears the warning and shows the accuracy axis and figure.
    panel.add_quality(ev.Quality(1500, 12.5, _even(), (), False, 0.87, 0.9))
    assert not panel.warning.isVisible()
    assert panel.count == 4 and panel.value.text() == "FD 12.5"
    assert "87%" in panel.summary.text()
    assert panel.fd_plot.getAxis("right").isVisible()
    assert list(panel.acc_curve.yData) == [87.0]

    # A rolled-back run reports an earlier step again: the later readings go.
    panel.add_quality(ev.Quality(1000, 20.0, _even(), (), False, None, 0.9))
    assert panel.steps == [500, 1000]


def test_a_folder_without_inception_weights_gets_the_picture_reading(qtbot, window, tmp_path, monkeypatch):
    from core.quality import readings as fid_readings

    monkeypatch.setattr(fid_readings, "find_inception_weights", lambda: None)  # as on a machine without them
    folder = tmp_path / "digits"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8), mode="L").save(folder / f"{i:02d}.png")
    config = tiny_config(**{"data.dataset": "folder", "data.folder": str(folder), "data.image_size": 28,
                            "data.channels": 1, **QUICK})
    offs = []
    window.session.quality_off.connect(offs.append)
    with qtbot.waitSignal(window.session.quality, timeout=30_000) as blocker:
        window.start_training(config)
    reading = blocker.args[0]
    assert len(reading.reference) == 2 == len(reading.histogram)  # 24 pictures: two groups of the folder
    panel = window.quality_panel
    qtbot.waitUntil(lambda: panel.count >= 1, timeout=10_000)
    assert panel.stack.currentWidget() is panel.graphics and panel.kind == "pictures"
    assert len(panel.bar_heights) == 2 and panel.hist_plot.titleLabel.text == "Groups drawn"
    assert window.status.quality.text().startswith("FD ")
    with qtbot.waitSignal(window.run_finished, timeout=15_000):
        window.stop()
    assert offs == []


def test_resumed_run_loads_quality_history(qtbot, window):
    with qtbot.waitSignal(window.run_finished, timeout=60_000):
        run = window.start_training(tiny_config(**{"run.steps": 12, **QUICK}))
    saved = read_quality_csv(run / "quality.csv")
    assert [q.step for q in saved] == [4, 8, 12]
    assert saved[0].accuracy is None and len(saved[0].histogram) == 10

    with qtbot.waitSignal(window.run_viewed, timeout=10_000):
        window.open_run(str(run))  # shows the run and its readings
    assert window.quality_panel.steps == [4, 8, 12]
    window.config_panel.set_value("run.steps", 16)
    # Waiting for the end is set up before the resume starts: 4 more steps can be over before started's
    # slot returns here.
    with qtbot.waitSignal(window.run_finished, timeout=60_000):
        with qtbot.waitSignal(window.history_loaded, timeout=30_000):
            window.resume_run()
        assert window.quality_panel.steps[:3] == [4, 8, 12]  # from quality.csv, before any new reading
        assert window.status.quality.text().startswith("FD ")
    assert window.quality_panel.steps == [4, 8, 12, 16]


def test_quality_csv_reader_skips_bad_rows(tmp_path):
    path = tmp_path / "quality.csv"
    path.write_text("step,frechet,accuracy,confidence,collapse,missing_classes,histogram\n"
                    "500,40.5,0.75,0.9,True,2 7,0.1 0.1 0 0.1 0.1 0.1 0.1 0 0.2 0.2\n"
                    "oops,1,,,,,\n"
                    "1000,9.5,,0.95,False,,0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1\n")
    readings = read_quality_csv(path)
    assert [q.step for q in readings] == [500, 1000]
    assert readings[0].missing_classes == (2, 7) and readings[0].collapse and readings[0].accuracy == 0.75
    assert readings[1].accuracy is None and not readings[1].collapse and readings[1].missing_classes == ()
    assert read_quality_csv(path, up_to=600)[-1].step == 500
    assert read_quality_csv(tmp_path / "missing.csv") == []


def test_fid_readings_of_a_picture_folder_reach_the_panel(qtbot, window, tmp_path, stand_in):
    folder = tmp_path / "pictures"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    config = tiny_config(**{"data.dataset": "folder", "data.folder": str(folder), "data.image_size": 32,
                            "data.channels": 3, "run.steps": 8, "run.fid_every": 4, "run.fid_samples": 16,
                            "run.quality_every": 0})  # FID alone (beside the picture reading it is a summary line)
    panel = window.quality_panel
    at_start = []  # what the panel shows once the run has started, before its first reading
    window.session.started.connect(lambda e: at_start.append((panel.kind, panel.count, panel.summary.text())))
    with qtbot.waitSignal(window.run_finished, timeout=60_000):
        window.start_training(config)
    assert at_start == [("fid", 0, "No reading yet: FID and KID come every 4 steps (run.fid_every).")]
    qtbot.waitUntil(lambda: panel.count == 2, timeout=10_000)
    assert panel.steps == [4, 8] and panel.kind == "fid" and panel.value.text().startswith("FID ")
    assert "KID" in panel.summary.text() and not panel.hist_widget.isVisible()
    window.quality_panel.reset()
    assert panel.load_history(window.last_run_dir) == 2 and panel.kind == "fid"  # from fid.csv


def test_a_picture_reading_shows_each_group_against_its_share_of_the_folder(qtbot):
    panel = QualityPanel()
    qtbot.addWidget(panel)
    panel.show()
    folder = tuple([0.1] * 4 + [0.6 / 8] * 8)  # 12 groups of the folder's pictures
    drawn = (0.2, 0.1, 0.0, 0.1) + tuple([0.6 / 8] * 8)
    with qtbot.waitSignal(panel.updated, timeout=1_000):
        panel.add_quality(ev.Quality(500, 7.5, drawn, (2,), True, None, float("nan"), folder))
    assert panel.kind == "pictures" and len(panel.bar_heights) == 12
    assert np.allclose(panel.gaps.opts["height"], [100 * s for s in folder])  # every group's share, outlined
    assert [b.color().name() for b in panel.bars.opts["brushes"]][2] == MISSING_COLOUR
    assert "never draws group 2 of the folder's pictures" in panel.warning.text()
    assert "12 groups" in panel.summary.text() and "confidence" not in panel.summary.text()
    assert not panel.even_line.isVisible() and not panel.real_line.isVisible()
    # FID beside it: a line of the summary, not a point on the picture reading's curve
    panel.add_image_quality(ev.ImageQuality(500, 80.0, 0.05, 0.01, 500, "pytorch-fid", 30.0))
    assert panel.count == 1 and "FID 80" in panel.summary.text()
    panel.add_quality(ev.Quality(1000, 5.0, folder, (), False, None, float("nan"), folder))
    assert panel.count == 2 and not panel.warning.isVisible() and "best 5" in panel.summary.text()


def test_a_folder_with_sub_folders_gets_a_bar_each_named_and_one_under_half_its_share_in_orange(qtbot):
    panel = QualityPanel()
    qtbot.addWidget(panel)
    names = ("drakes", "<b>elves</b>", "orcs")
    # Five groups made inside three sub-folders; elves drawn at a fifth of their share.
    q = ev.Quality(1000, 12.0, (0.3, 0.2, 0.04, 0.26, 0.2), (), False, None, float("nan"),
                   (0.2, 0.1, 0.2, 0.3, 0.2), (0, 0, 1, 2, 2), names)
    panel.add_quality(q)
    assert panel.kind == "pictures" and panel.hist_plot.titleLabel.text == "Sub-folders drawn"
    assert np.allclose(panel.bar_heights, [50, 4, 46])  # each sub-folder's groups added up
    assert np.allclose(panel.gaps.opts["height"], [30, 20, 50])  # and their shares of the folder, outlined
    assert [b.color().name() for b in panel.bars.opts["brushes"]] == [BAR_COLOUR, MISSING_COLOUR, BAR_COLOUR]
    (ticks,) = panel.hist_plot.getAxis("bottom")._tickLevels
    assert [label for _, label in ticks] == ["drakes", "<b>elv…", "orcs"]
    assert "3 sub-folders: 1 under half their share" in panel.summary.text()
    assert "<b>elves</b>: 4.0% of samples" in panel.hist_widget.toolTip()  # every name, as written
    assert "drakes: 50.0% of samples, 30.0% of the folder's pictures" in panel.hist_widget.toolTip()
    # A reading without sub-folders (a run from before, another folder): numbered groups again.
    panel.add_quality(ev.Quality(2000, 11.0, (0.5, 0.5), (), False, None, float("nan"), (0.5, 0.5)))
    assert panel.hist_plot.titleLabel.text == "Groups drawn" and len(panel.bar_heights) == 2
    assert [label for _, label in panel.hist_plot.getAxis("bottom")._tickLevels[0]] == ["0", "1"]


def test_the_message_bar_shows_a_sub_folders_name_as_written(qtbot):
    from PySide6.QtCore import Qt

    from studio.panels.message_bar import MessageBar

    bar = MessageBar()
    qtbot.addWidget(bar)
    bar.show_message("They lie in 2 sub-folders (<b>cats</b> 3, dogs 5).", "info")
    assert bar.text.textFormat() == Qt.PlainText and bar.text.text().startswith("They lie in 2 sub-folders (<b>")
