"""The window's remembered layout and last form: restored at start, saved on close, reset from View."""

from __future__ import annotations

import json

from PySide6.QtCore import QByteArray, QRect, QSettings
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow, QSplitter

from core.config import Config, ConfigError


class WindowSettings:
    def __init__(self, settings: QSettings, window: QMainWindow, splitters: dict[str, QSplitter]):
        self.settings, self.window, self.splitters = settings, window, splitters
        # As built, before the saved layout is restored: what View ▸ Reset layout goes back to.
        self.default = (window.saveState(), {k: s.saveState() for k, s in splitters.items()})

    def restore(self) -> Config | None:
        """The saved geometry and layout; returns the last form's config (None: none, or unreadable)."""
        s = self.settings
        geometry, state = s.value("window/geometry"), s.value("window/state")
        if isinstance(geometry, QByteArray):
            self.window.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.window.restoreState(state)
        for key, splitter in self.splitters.items():
            saved = s.value(f"window/{key}")
            if isinstance(saved, QByteArray):
                splitter.restoreState(saved)
        text = s.value("config/last", "")
        if not text:
            return None
        try:
            return Config.from_dict(json.loads(text))
        except (ConfigError, ValueError, TypeError):
            return None  # an old or hand-edited setting: keep the default preset

    def reset(self) -> None:
        state, splitters = self.default
        self.window.restoreState(state)
        for key, splitter in self.splitters.items():
            splitter.restoreState(splitters[key])

    def save(self, form_values: dict | None, runs_root: str) -> None:
        """`form_values`: the form as the person left it (choices like clusters = auto kept as such)."""
        s = self.settings
        s.setValue("window/geometry", self.window.saveGeometry())
        s.setValue("window/state", self.window.saveState())
        for key, splitter in self.splitters.items():
            s.setValue(f"window/{key}", splitter.saveState())
        if form_values is not None:
            s.setValue("config/last", json.dumps(form_values))
        s.setValue("runs_root", runs_root)
        s.sync()


TITLE_BAR_PX = 32  # what a window manager's frame usually adds above the window (unknown before it is shown)


def fit_to_screen(window: QMainWindow, room: QRect | None = None) -> None:
    """Shrink (and move) the window into the screen's free area, `room` (default: its screen's
    available geometry), leaving the title bar's height for the window manager's frame."""
    if room is None:
        screen = window.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        room = screen.availableGeometry()
    width = min(window.width(), room.width())
    height = min(window.height(), room.height() - TITLE_BAR_PX)
    if (width, height) != (window.width(), window.height()):
        window.resize(width, height)
    x = min(max(window.x(), room.left()), room.right() + 1 - width)
    y = min(max(window.y(), room.top()), room.bottom() + 1 - height - TITLE_BAR_PX)
    window.move(x, y)
