"""The folders a person last chose, by purpose ("open", "save", "export", "dataset"), kept in the
app's settings, so every dialog starts where the person was last time."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings


class RememberedFolders:
    def __init__(self, settings: QSettings):
        self.settings = settings

    def get(self, kind: str) -> str:
        """The folder last chosen for `kind` ("" if none yet)."""
        return str(self.settings.value(f"folders/{kind}", "") or "")

    def remember(self, kind: str, path: str | Path) -> None:
        self.settings.setValue(f"folders/{kind}", str(path))
