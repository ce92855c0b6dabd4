"""Ctrl+C, a scheduler's SIGTERM, a closed terminal's SIGHUP: the stop signals, held from the first line
of `main.py` and handed to the command once it knows what a stop means for it.

Importing torch and the rest takes a second or two; a signal in that time used to kill the process
outright (a SIGTERM's rc -15). main.py calls hold() before anything heavy is imported, and the CLI's
command calls take(): a signal that came meanwhile is returned, for the command to end in one line
before it writes anything. Imports nothing but the standard library, so holding costs nothing.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

_originals: dict[int, Any] = {}  # the handlers hold() replaced, put back (or handed on) by take()
_caught: list[int] = []


def _note(signum: int, frame: object) -> None:
    _caught.append(signum)


def hold() -> None:
    """Until take(): a stop signal is noted, not obeyed. A signal already ignored stays ignored (nohup's
    SIGHUP); only the main thread may set handlers (signal.signal's rule)."""
    if threading.current_thread() is not threading.main_thread() or _originals:
        return
    for sig in STOP_SIGNALS:
        current = signal.getsignal(sig)
        if current != signal.SIG_IGN:
            _originals[sig] = signal.signal(sig, _note)


def take(handler: Any = None) -> tuple[dict[int, Any], int | None]:
    """End the hold: `handler` for every stop signal not ignored (None: the original handlers back).
    Returns the handlers to put back when the command ends (those before hold(), or the ones in place
    when nothing was held) and the first signal noted while held (None if none came)."""
    if threading.current_thread() is not threading.main_thread():
        return {}, None
    caught = _caught[0] if _caught else None
    previous: dict[int, Any] = {}
    for sig in STOP_SIGNALS:
        if sig in _originals:
            previous[sig] = _originals.pop(sig)
        elif signal.getsignal(sig) == signal.SIG_IGN:
            continue  # ignored before anything was held: stays ignored
        else:
            previous[sig] = signal.getsignal(sig)
        signal.signal(sig, _settable(previous[sig]) if handler is None else handler)
    _caught.clear()
    return previous, caught


def restore(previous: dict[int, Any]) -> None:
    """Put back the handlers take() returned."""
    for sig, handler in previous.items():
        signal.signal(sig, _settable(handler))


def _settable(handler: Any) -> Any:
    return signal.SIG_DFL if handler is None else handler  # None: a handler set outside Python
