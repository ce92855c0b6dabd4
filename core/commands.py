"""A command suggested to a person, spelled so it pastes into a shell: every word quoted where it needs
it ("python main.py resume '/home/x/GAN Studio runs/20250101-120000'"). Torch-free, imports nothing of core."""

from __future__ import annotations

import shlex
from pathlib import Path

# Placeholders a person replaces (NEWDIR, N, ...): shown as they are, never quoted.
PLACEHOLDERS = frozenset({"...", "N", "NEWDIR", "KEY=VALUE"})


def suggest(*words: str | Path | int) -> str:
    """`python main.py WORDS...`, each word that needs it (a path with spaces or quotes) quoted for a shell."""
    return " ".join(["python", "main.py", *(w if w in PLACEHOLDERS else shlex.quote(w) for w in map(str, words))])
