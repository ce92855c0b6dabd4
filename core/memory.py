"""How much RAM is free for new allocations: one reader for the batches (resident or streamed) and
the size check (does the model fit)."""

from __future__ import annotations

import os


def available_memory() -> int | None:
    """Bytes of RAM available to new allocations (Linux's MemAvailable; elsewhere the free pages);
    None where it cannot be told."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
