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
