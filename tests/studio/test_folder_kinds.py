"""A folder sorted into sub-folders: the preview names its kinds, and says each will be drawn at its share."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.presets import preset


def _sorted_folder(root):
    rng = np.random.default_rng(0)
    for kind, n in (("cats", 3), ("dogs", 5)):
        (root / kind).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(root / kind / f"{i}.png")
    return root


def _preview(qtbot, window, folder, **more):
    config = preset("folder").with_values(**{"data.folder": str(folder), "data.image_size": 32, **more})
    with qtbot.waitSignal(window.data_preview.ready, timeout=30_000):
        window.config_panel.set_config(config)
    qtbot.waitUntil(lambda: "Found 8 pictures" in window.message_bar.message, timeout=5_000)
    return window.message_bar.message


def test_the_preview_names_the_folders_kinds_and_says_each_is_drawn_at_its_share(qtbot, window, tmp_path):
    said = _preview(qtbot, window, _sorted_folder(tmp_path / "pets"))
    assert "They lie in 2 sub-folders (cats 3, dogs 5). Each is drawn as often as it holds pictures." in said


def test_without_clusters_by_folder_the_kinds_are_named_but_nothing_promised(qtbot, window, tmp_path):
    said = _preview(qtbot, window, _sorted_folder(tmp_path / "pets"), **{"model.clusters_by_folder": False})
    assert "They lie in 2 sub-folders (cats 3, dogs 5)." in said and "drawn as often" not in said
