"""Before Qt starts: can the window open here? If not, say why and what to install.

Without a few xcb libraries, Qt's X11 plugin fails to load and Qt aborts with "no Qt platform
plugin could be initialized", which tells a person nothing. The plugin's missing libraries can
be found beforehand (ldd lists them as "not found"), so the app names the packages instead.
Nothing here imports Qt's GUI modules or creates an application.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# Libraries Qt's xcb plugin needs that minimal desktops lack -> the Debian/Ubuntu package.
PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1", "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0", "libxcb-xkb.so.1": "libxcb-xkb1", "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0", "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-sync.so.1": "libxcb-sync1", "libxcb-shm.so.0": "libxcb-shm0", "libxcb-render.so.0": "libxcb-render0",
    "libxcb-xinput.so.0": "libxcb-xinput0", "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libX11-xcb.so.1": "libx11-xcb1", "libxcb.so.1": "libxcb1", "libX11.so.6": "libx11-6",
    "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1", "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1", "libfreetype.so.6": "libfreetype6", "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}
NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found", re.MULTILINE)


def xcb_plugin() -> Path | None:
    """Qt's X11 platform plugin in the installed PySide6, if there is one."""
    try:
        from PySide6.QtCore import QLibraryInfo  # QtCore only: no GUI, no display needed
    except ImportError:
        return None
    plugin = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def run_ldd(library: Path) -> str:
    """ldd's report for `library` ('' where there is no ldd)."""
    ldd = shutil.which("ldd")
    if not ldd:
        return ""
    try:
        return subprocess.run([ldd, str(library)], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def missing_libraries(plugin: Path) -> list[str]:
    """Sonames the plugin needs that the system cannot find, each once, in ldd's order."""
    return list(dict.fromkeys(NOT_FOUND.findall(run_ldd(plugin))))


def uses_xcb(environ) -> bool:
    """Whether Qt will try its X11 plugin: on Linux, unless another platform is asked for or a
    Wayland session is there to take it."""
    if not sys.platform.startswith("linux"):
        return False
    platform = environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(":", 1)[0].split(";", 1)[0] == "xcb"
    return not environ.get("WAYLAND_DISPLAY")


def problem(environ=None) -> str:
    """'' when the window can open as far as can be told; else what is wrong and what to do."""
    environ = os.environ if environ is None else environ
    if not uses_xcb(environ):
        return ""
    plugin = xcb_plugin()
    missing = missing_libraries(plugin) if plugin else []
    if missing:
        packages = [PACKAGES.get(lib, f"(the package that provides {lib})") for lib in missing]
        return ("GAN Studio's window cannot open: Qt's X11 plugin needs libraries this system does not have: "
                f"{', '.join(missing)}.\nInstall them (Debian/Ubuntu):\n\n"
                f"    sudo apt-get install {' '.join(packages)}\n\n"
                "On other systems, install the packages that provide those files (for Fedora: xcb-util-cursor, "
                "xcb-util-wm, xcb-util-keysyms, xcb-util-image, xcb-util-renderutil, libxkbcommon-x11).\n"
                "Without a screen, the headless commands need none of this (python main.py train --help), and "
                "QT_QPA_PLATFORM=offscreen runs the app without showing it.")
    if not environ.get("DISPLAY") and not environ.get("WAYLAND_DISPLAY"):
        return ("GAN Studio's window cannot open: no display was found (DISPLAY is not set). On a machine "
                "without a screen, use the headless commands (python main.py train --help), or set "
                "QT_QPA_PLATFORM=offscreen to run the app without showing it.")
    return ""
