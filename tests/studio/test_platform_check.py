"""A first launch that explains itself: missing xcb libraries are named before Qt aborts."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio import app, platform_check

LDD_MISSING = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /x/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-cursor.so.0 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)
"""
X11 = {"DISPLAY": ":0"}


@pytest.fixture
def fake_ldd(monkeypatch, tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    monkeypatch.setattr(platform_check, "xcb_plugin", lambda: plugin)
    report = {"text": LDD_MISSING}
    monkeypatch.setattr(platform_check, "run_ldd", lambda library: report["text"])
    return report


def test_missing_xcb_libraries_are_named_with_their_packages(fake_ldd):
    text = platform_check.problem(X11)
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4." in text  # each once
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4" in text
    assert "QT_QPA_PLATFORM=offscreen" in text


def test_nothing_missing_says_nothing(fake_ldd):
    fake_ldd["text"] = LDD_MISSING.replace("not found", "/usr/lib/x.so (0x1)")
    assert platform_check.problem(X11) == ""


def test_other_platforms_are_not_checked(fake_ldd):
    assert platform_check.problem({"QT_QPA_PLATFORM": "offscreen"}) == ""
    assert platform_check.problem({"WAYLAND_DISPLAY": "wayland-0"}) == ""
    assert "libxcb-cursor0" in platform_check.problem({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"})


def test_no_display_is_explained(fake_ldd):
    fake_ldd["text"] = ""
    text = platform_check.problem({})
    assert "no display" in text and "QT_QPA_PLATFORM=offscreen" in text


def test_run_app_prints_the_reason_and_exits_before_qt(fake_ldd, monkeypatch, capsys):
    monkeypatch.setattr(platform_check.os, "environ", dict(X11))
    monkeypatch.setattr(app, "create_app", lambda *a: pytest.fail("Qt must not start"))
    assert app.run_app() == 1
    assert "libxcb-cursor0" in capsys.readouterr().err


def test_the_real_plugin_is_found_and_read():
    """On this machine: the plugin exists in PySide6 and ldd's report parses (whatever it lists)."""
    plugin = platform_check.xcb_plugin()
    assert plugin is not None and plugin.name == "libqxcb.so" and Path(plugin).is_file()
    assert isinstance(platform_check.missing_libraries(plugin), list)
