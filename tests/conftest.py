import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def folder_cache_in_tmp(tmp_path_factory, monkeypatch):
    """Decoded image folders, FID statistics and anything else cached go to a temp folder, never the
    user's cache folder (platformdirs reads XDG_CACHE_HOME)."""
    from core.data import image_cache

    root = tmp_path_factory.mktemp("folder-cache")
    monkeypatch.setattr(image_cache, "default_cache_root", lambda: root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    return root


@pytest.fixture(autouse=True)
def runs_root_in_tmp(tmp_path_factory, monkeypatch):
    """Runs started without a folder named (the CLI's dated folders, the app's new runs) go to a temp
    folder, never the person's home (core/runs/folder.py default_runs_root reads GAN_STUDIO_RUNS)."""
    root = tmp_path_factory.mktemp("runs-root")
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(root))
    return root


@pytest.fixture
def stand_in(monkeypatch):
    """A tiny stand-in for the Inception network (its interface: uint8 NCHW in, (N, D) features out, a
    .kind), for readings that must not need the 100 MB weights; the real one: tests/core/test_inception.py.
    `calls` lists each batch's size."""
    import torch

    from core.quality import readings as fid_readings

    class TinyFeatures(torch.nn.Module):
        kind = "stand-in"
        calls: list[int] = []

        def __init__(self, weights="auto", device="cpu", batch_size=50):
            super().__init__()
            self.proj = torch.nn.Linear(3 * 8 * 8, 16)
            torch.nn.init.normal_(self.proj.weight, generator=torch.Generator().manual_seed(0))

        def forward(self, images):
            TinyFeatures.calls.append(len(images))
            x = torch.nn.functional.adaptive_avg_pool2d(images.float() / 255, 8)
            x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
            return self.proj(x.flatten(1)).detach()

    monkeypatch.setattr(fid_readings, "InceptionFeatures", TinyFeatures)
    monkeypatch.setattr(fid_readings, "WEIGHTS", "random")
    return TinyFeatures
