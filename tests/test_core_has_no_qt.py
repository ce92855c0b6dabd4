"""core/ must stay importable on a machine without PySide6."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHECK = """
import builtins, importlib, pkgutil, sys
real_import = builtins.__import__
def guarded(name, *args, **kw):
    if name.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'pyqtgraph', 'shiboken6'):
        raise ImportError('core imported Qt: ' + name)
    return real_import(name, *args, **kw)
builtins.__import__ = guarded
import core
for mod in pkgutil.walk_packages(core.__path__, 'core.'):
    importlib.import_module(mod.name)
print('ok')
"""


def test_every_core_module_imports_without_qt():
    out = subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
