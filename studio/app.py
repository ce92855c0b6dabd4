"""Application start-up: QApplication, theme, settings, the main window."""

from __future__ import annotations

import sys

import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from studio import gui_gc
from studio.window.main_window import MainWindow

ORG, APP = "GAN Studio", "GAN Studio"

STYLE = """
QMainWindow, QDialog { background: #1e1f22; }
QWidget { font-size: 10pt; }
QToolBar { background: #26282c; border: none; padding: 4px; spacing: 4px; }
QToolBar QToolButton { padding: 5px 12px; border-radius: 5px; color: #e6e6e6; }
QToolBar QToolButton:hover { background: #33363b; }
QToolBar QToolButton:disabled { color: #5c6066; }
QToolBar QToolButton#start { background: #2e7d32; font-weight: bold; }
QToolBar QToolButton#start:disabled { background: #2b2d31; }
QDockWidget::title { padding: 6px; background: #26282c; font-weight: bold; }
QGroupBox { border: 1px solid #34373c; border-radius: 6px; margin-top: 14px; padding-top: 6px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; color: #8ab4f8; font-weight: bold; }
QLineEdit, QComboBox, QSpinBox { background: #2b2d31; border: 1px solid #3c4046; border-radius: 4px;
    padding: 3px 6px; min-height: 20px; }
QLineEdit:focus, QComboBox:focus, QSpinBox:focus { border-color: #8ab4f8; }
QLineEdit:disabled, QComboBox:disabled { color: #6b7078; background: #242528; }
*[invalid="true"] { border: 1px solid #ef5350; background: #3a2224; }
QLabel[live="true"] { color: #ffd54f; }
QLabel#formError { color: #ff8a80; padding: 6px; background: #3a2224; border-radius: 4px; }
QLabel#galleryTitle { font-weight: bold; color: #c9d1d9; padding: 2px 4px; }
QLabel#qualityTitle { font-weight: bold; color: #c9d1d9; padding: 2px 0; }
QLabel#qualityValue { font-size: 18pt; font-weight: bold; color: #4fc3f7; }
QLabel#qualitySummary { color: #b0b6be; }
QLabel#qualityHelp { color: #7d8590; font-size: 9pt; }
QLabel#collapseWarning { color: #ffcc80; background: #3a3322; border-left: 4px solid #ffb74d;
    border-radius: 4px; padding: 4px 8px; font-weight: bold; }
QLabel#collapseWarning[level="note"] { color: #c9d1d9; background: #2b3a4a; border-left-color: #8ab4f8;
    font-weight: normal; }
QLabel#qualityOff { background: #17181b; padding: 16px; }
QFrame#messageBar { border-radius: 6px; background: #2b3a4a; border-left: 4px solid #8ab4f8; }
QFrame#messageBar[level="error"] { background: #3a2224; border-left-color: #ef5350; }
QFrame#messageBar[level="warning"] { background: #3a3322; border-left-color: #ffb74d; }
QFrame#messageBar[level="success"] { background: #233a27; border-left-color: #66bb6a; }
QProgressBar { border: 1px solid #3c4046; border-radius: 4px; background: #2b2d31; text-align: center;
    height: 14px; }
QProgressBar::chunk { background: #5c8fd6; border-radius: 3px; }
QStatusBar { background: #26282c; }
QStatusBar QLabel { padding: 0 8px; color: #b0b6be; }
QStatusBar QLabel#statusState { color: #e6e6e6; font-weight: bold; }
QSlider::groove:horizontal { height: 4px; background: #3c4046; border-radius: 2px; }
QSlider::handle:horizontal { width: 14px; margin: -6px 0; border-radius: 7px; background: #8ab4f8; }
QSlider::handle:horizontal:disabled { background: #5c6066; }
QSplitter::handle { background: #1e1f22; width: 6px; }
QLabel#explorerSource { font-weight: bold; color: #c9d1d9; padding: 2px 4px; }
QLabel#explorerPick { color: #7d8590; }
QLabel#explorerNote { color: #b0b6be; padding: 2px 4px; }
QLabel#explorerNote[level="error"] { color: #ff8a80; }
QToolTip { background: #2b2d31; color: #e6e6e6; border: 1px solid #4a4e55; padding: 4px; }
"""


def apply_theme(app: QApplication) -> None:
    """A calm dark theme: Fusion + palette + a small stylesheet; pyqtgraph to match."""
    app.setStyle("Fusion")
    p = QPalette()
    for role, colour in ((QPalette.Window, "#1e1f22"), (QPalette.WindowText, "#e6e6e6"),
                         (QPalette.Base, "#2b2d31"), (QPalette.AlternateBase, "#26282c"),
                         (QPalette.Text, "#e6e6e6"), (QPalette.Button, "#2b2d31"),
                         (QPalette.ButtonText, "#e6e6e6"), (QPalette.Highlight, "#3d6bb3"),
                         (QPalette.HighlightedText, "#ffffff"), (QPalette.ToolTipBase, "#2b2d31"),
                         (QPalette.ToolTipText, "#e6e6e6"), (QPalette.PlaceholderText, "#7d8590")):
        p.setColor(role, QColor(colour))
    p.setColor(QPalette.Disabled, QPalette.Text, QColor("#6b7078"))
    p.setColor(QPalette.Disabled, QPalette.ButtonText, QColor("#6b7078"))
    p.setColor(QPalette.Disabled, QPalette.WindowText, QColor("#6b7078"))
    app.setPalette(p)
    app.setStyleSheet(STYLE)
    pg.setConfigOptions(background="#17181b", foreground="#b0b6be", antialias=True)


def make_settings() -> QSettings:
    """INI settings per user; tests point QSettings.setPath at a temp folder first."""
    return QSettings(QSettings.IniFormat, QSettings.UserScope, ORG, APP)


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    QCoreApplication.setOrganizationName(ORG)
    QCoreApplication.setApplicationName(APP)
    apply_theme(app)
    gui_gc.install(app)  # cycles holding Qt objects are freed on this thread, never on the trainer's
    return app


def create_window(settings: QSettings | None = None, runs_root=None) -> MainWindow:
    return MainWindow(settings or make_settings(), runs_root)


def run_app() -> int:
    from studio.platform_check import problem

    reason = problem()  # before Qt, which would abort with a message that names no cause
    if reason:
        print(reason, file=sys.stderr)
        return 1
    app = create_app()
    window = create_window()
    window.fit_to_screen()  # the first size, or one saved on a bigger screen, never runs off this one
    window.show()
    return app.exec()
