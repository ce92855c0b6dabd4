"""A preset's pace timed here (core/training/pace.py): the preset's own step on noise-made pictures of its
shape, nothing else of the machine's state changed."""

from __future__ import annotations

import torch

from core.presets import preset
from core.training import pace


def test_the_step_is_timed_on_pictures_of_the_presets_shape(monkeypatch):
    from core.training import session as session_module

    shapes: list[tuple] = []
    real_init = session_module.Session.__init__

    def init(self, config, dataset, device, *a, **k):
        shapes.append((tuple(dataset.images.shape[1:]), config.run.batch_size, config.data.augment))
        real_init(self, config, dataset, device, *a, **k)

    monkeypatch.setattr(session_module.Session, "__init__", init)
    config = preset("folder").with_values(**{"data.image_size": 32, "model.g_hidden": [4], "model.d_hidden": [4],
                                             "run.batch_size": 4, "data.folder": "/timing"})
    threads = torch.get_num_threads()
    measured = pace.measure(config, torch.device("cpu"), steps=2)
    assert measured.device == "cpu" and measured.images_per_s > 0
    assert shapes == [((3, 32, 32), 4, "off")]  # augmentation off: its cost follows p, which starts at 0
    assert torch.get_num_threads() == threads
