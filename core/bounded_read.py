"""Reading a file a person hands in, or one they (or a crash) could have damaged, within bounds.

Every such file (a --config, a sweep's space, a journal, generator.json, a run folder's own records and
row files, a command in the control channel) is read here, so each has the same guards:

- regular files only: opened without waiting (O_NONBLOCK) and checked with fstat, so a FIFO never
  blocks and a device (a link to /dev/zero) is never read;
- a size cap for each kind of file (whole files), or a cap on each line (row files, which grow with a
  run and may legitimately be large): a line over it is skipped a piece at a time, never held whole;
- text that is not UTF-8, JSON or TOML nested deeper than any of our files (json's decoder and tomllib
  recurse once per level, and a file nested 200,000 deep ends in RecursionError), and numbers longer
  than Python turns into ints, each refused as one line naming the file, saying why and what to do.

FileRefused is both an OSError (for readers that treat an unreadable file as missing) and a ValueError
(for those that treat it as damaged). Torch-free and at the base of core's layers.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import tomllib
from itertools import accumulate, count
from operator import sub
from pathlib import Path
from typing import Any, Iterator

KiB, MiB = 1 << 10, 1 << 20
SMALL = MiB  # a config, a space, generator.json, a run's own JSON records: a few KiB each
LINE = 64 * KiB  # one row of a run's CSV or JSONL files: a few hundred bytes each
# Our files nest four levels at most (a space's choices of layer widths); the decoders recurse once
# a level, so anything past this is refused before they see it.
MAX_DEPTH = 64
# Python refuses to turn longer digit strings into ints (sys.get_int_max_str_digits); no setting needs 30.
MAX_DIGITS = 4300

_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class FileRefused(OSError, ValueError):
    """A file not read (not a regular file, too big) or not understood (not UTF-8, nested too deep, not
    JSON or TOML); str() is one line: the file, why, and what to do. `reason` is the why alone."""

    def __init__(self, path: str | Path, reason: str, advice: str = ""):
        self.path, self.reason, self.advice = Path(path), reason, advice
        super().__init__(f"{path}: {reason}" + (f"; {advice}" if advice else ""))

    def __str__(self) -> str:
        return str(self.args[0])


class TooDeep(ValueError):
    """Text nested deeper than MAX_DEPTH (lists or tables inside each other)."""


def read_bytes(path: str | Path, limit: int, what: str = "file", *, dir_fd: int | None = None,
               follow_links: bool = True) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (`what` names the kind in messages: "config
    file"). FileRefused for anything else; the OSErrors of opening it (a missing file) as they are."""
    fd = _open_regular(path, what, dir_fd, follow_links)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise FileRefused(path, f"{size:,} bytes, more than a {what}'s {_amount(limit)}",
                              "check that it is the right file")
        chunks, got = [], 0
        while got <= limit:  # read() may return less than asked: on to the end, or past the cap
            chunk = os.read(fd, limit + 1 - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got > limit:
            raise FileRefused(path, f"more than a {what}'s {_amount(limit)} (it grew while being read)",
                              "check that it is the right file")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path: str | Path, limit: int, what: str = "file") -> str:
    """read_bytes as UTF-8 text; bytes that are not UTF-8 are refused, naming where they are."""
    data = read_bytes(path, limit, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FileRefused(path, f"not UTF-8 text (byte 0x{data[e.start]:02x} at position {e.start:,})",
                          f"save the {what} as UTF-8") from None


def load_json(path: str | Path, limit: int = SMALL, what: str = "JSON file") -> Any:
    """A JSON file's value, read within `limit`; FileRefused naming the file for anything wrong in it."""
    try:
        return loads_json(read_text(path, limit, what))
    except FileRefused:
        raise
    except TooDeep as e:
        raise FileRefused(path, str(e), f"fix the {what} or give another") from None
    except ValueError as e:
        raise FileRefused(path, f"not valid JSON ({e})", f"fix the {what} or give another") from None


def load_toml(path: str | Path, limit: int = SMALL, what: str = "TOML file") -> dict:
    """A TOML file's tables, read within `limit`; FileRefused naming the file for anything wrong in it."""
    text = read_text(path, limit, what)
    try:
        check_depth(text)
        return tomllib.loads(text)
    except (TooDeep, RecursionError):
        raise FileRefused(path, _too_deep(), f"fix the {what} or give another") from None
    except ValueError as e:  # TOMLDecodeError among them
        raise FileRefused(path, f"not valid TOML ({_plain(e)})", f"fix the {what} or give another") from None


def loads_json(text: str) -> Any:
    """json.loads, refusing (ValueError, one line) text nested deeper than MAX_DEPTH and numbers
    longer than Python turns into ints, instead of a RecursionError or a message about sys."""
    check_depth(text)
    try:
        return json.loads(text)
    except RecursionError:
        raise TooDeep(_too_deep()) from None
    except json.JSONDecodeError:
        raise
    except ValueError as e:
        raise ValueError(_plain(e)) from None


def check_depth(text: str, limit: int = MAX_DEPTH) -> None:
    """TooDeep when JSON or TOML text nests lists or tables deeper than `limit`. Brackets inside strings
    and comments are not counted; the count runs in C (accumulate), so a megabyte takes milliseconds."""
    if text.count("[") + text.count("{") <= limit:
        return  # too few openings to nest that deep: the common case costs two counts
    brackets = _NOT_BRACKETS.sub("", _STRINGS_AND_COMMENTS.sub("", text)).encode("ascii")
    # '[' and '{' as 2, ']' and '}' as 0: the running sum less the count so far is the depth
    if max(map(sub, accumulate(brackets.translate(_DEPTH_STEPS)), count(1)), default=0) > limit:
        raise TooDeep(_too_deep(limit))


def read_lines(path: str | Path, max_line: int = LINE, what: str = "file", skip_long: bool = True) -> Iterator[str]:
    """A regular file's lines, newlines kept, bytes that are not UTF-8 as U+FFFD (the line is then its
    reader's to refuse). A line longer than `max_line` bytes (a damaged or hostile file) is skipped,
    read past a piece at a time, or with `skip_long` false refused: memory stays at one line however
    long it is."""
    fd = _open_regular(path, what, None, True)
    with os.fdopen(fd, "rb") as f:
        for number in count(1):
            line = f.readline(max_line + 1)
            if not line:
                break
            if len(line) > max_line and not line.endswith(b"\n"):
                if not skip_long:
                    raise FileRefused(path, f"line {number:,} is longer than a {what}'s {_amount(max_line)}",
                                      "check that it is the right file")
                while (rest := f.readline(max_line)) and not rest.endswith(b"\n"):
                    pass
                continue
            yield line.decode("utf-8", "replace")


def _open_regular(path: str | Path, what: str, dir_fd: int | None, follow_links: bool) -> int:
    flags = os.O_RDONLY | _NONBLOCK | (0 if follow_links else _NOFOLLOW)
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except OSError as e:
        if e.errno == errno.ELOOP and not follow_links:
            raise FileRefused(path, "a symbolic link, not a regular file", f"give the {what} itself") from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise FileRefused(path, f"{_kind(mode)}, not a regular file, so nothing was read from it",
                          f"give a plain {what}")
    return fd


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file"


def _amount(n: int) -> str:
    return f"{n // MiB} MiB" if n >= MiB and n % MiB == 0 else f"{n // KiB} KiB" if n % KiB == 0 else f"{n:,} bytes"


def _too_deep(limit: int = MAX_DEPTH) -> str:
    return f"nested more than {limit} levels deep (lists or tables inside each other), far more than any setting needs"


def _plain(e: ValueError) -> str:
    """A decoder's message in a person's words where Python's speaks of its own limits."""
    text = str(e)
    if text.startswith("Exceeds the limit"):
        return f"a number longer than {MAX_DIGITS:,} digits"
    return text


# Strings (TOML's four kinds, JSON's one) and TOML comments, matched left to right, so a quote inside a
# comment or a '#' inside a string is taken for what it is.
_STRINGS_AND_COMMENTS = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_DEPTH_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
