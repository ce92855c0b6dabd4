"""`python main.py torchrun [torchrun's options] train|resume|fork ...`: torchrun's launcher, run in this
process with main.py as its script, so that a stop signal ends a run of several processes as it ends one:
every rank stops at the same step, rank 0 saves, and the launcher exits 0.

Why not plain `torchrun`: its agent turns SIGTERM, SIGINT and SIGHUP into an exception; it passes the
signal on to the ranks, waits for them, and then exits 1 with a traceback however well they stopped. Here
the agent is told to leave those signals alone (TORCHELASTIC_SIGNALS_TO_HANDLE), and this process passes
them on to its ranks itself (torchrun starts each in a session of its own, so a terminal's Ctrl+C reaches
only the launcher): the agent then sees the ranks exit 0 and reports success. A rank that fails still fails
the launcher (rc 1). Where the ranks cannot be found (no /proc), torchrun keeps its own handling.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
from pathlib import Path

from core import stop_signals

COMMANDS = ("train", "resume", "fork")  # what runs under torchrun
AGENT_SIGNALS = "TORCHELASTIC_SIGNALS_TO_HANDLE"  # the signals torchrun's agent turns into an exception
PROC = Path("/proc")


class LaunchError(ValueError):
    """A torchrun command line that cannot start; one line saying what to write instead."""


def launch(argv: list[str]) -> tuple[int, str]:
    """Run torchrun with `argv` (its options, then one of COMMANDS and that command's arguments); the
    launcher's exit status (0 when every rank exited 0, a stop signal included; 1 when one failed) and
    a line for the person ("" when the ranks said it all)."""
    split = next((i for i, word in enumerate(argv) if word in COMMANDS), None)
    if split is None:
        raise LaunchError("torchrun: name the command after torchrun's own options, e.g. python main.py torchrun "
                          "--standalone --nproc-per-node 2 train --steps 10000")
    script = importlib.util.find_spec("main")
    if script is None or script.origin is None:
        raise LaunchError("torchrun: main.py is not importable here; run it from the checkout's folder")
    forwarding = PROC.is_dir()
    previous, early = stop_signals.take(_forward if forwarding else None)
    try:
        if early is not None:
            return 130, f"stopped ({signal.Signals(early).name}) before torchrun began; nothing was written"
        options = _agent_leaves_stop_signals(argv[:split]) if forwarding else argv[:split]
        return _run_torchrun([*options, script.origin, *argv[split:]])
    finally:
        stop_signals.restore(previous)


def _agent_leaves_stop_signals(options: list[str]) -> list[str]:
    """torchrun's options with its agent handling SIGQUIT alone (torch 2.9 and later take it as an option;
    earlier ones read the environment)."""
    import dataclasses

    from torch.distributed.launcher.api import LaunchConfig

    if "signals_to_handle" in {f.name for f in dataclasses.fields(LaunchConfig)}:
        return ["--signals-to-handle", "SIGQUIT", *options]  # a person's own, later, still wins
    os.environ[AGENT_SIGNALS] = "SIGQUIT"
    return options


def _run_torchrun(argv: list[str]) -> tuple[int, str]:
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    try:
        torchrun(argv)
    except ChildFailedError:
        return 1, ""  # torchrun printed which rank failed and how; each rank printed its own error
    except SignalException as e:  # a signal torchrun still handles (SIGQUIT, or all of them without /proc)
        return 128 + int(e.sigval), f"stopped by {signal.Signals(e.sigval).name}: torchrun ended its ranks"
    return 0, ""


def _forward(signum: int, frame: object) -> None:
    """Pass a stop signal on to the ranks: rank 0 stops them all at its next log tick (the others
    ignore it); a second one is passed on too, and changes nothing."""
    for pid in _children():
        with contextlib.suppress(OSError):
            os.kill(pid, signum)


def _children() -> list[int]:
    """This process's children (torchrun's ranks), read from /proc."""
    me, found = os.getpid(), []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        fields = stat.rsplit(")", 1)[-1].split()  # after the command's name, which may hold spaces
        if len(fields) > 1 and fields[1] == str(me):
            found.append(int(entry.name))
    return found
