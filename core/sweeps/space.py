"""A sweep's search space: which settings vary and over what, read from a TOML file (SPACE.toml) or
built by the studio's sweep panel, and checked by the config's own rules before any trial starts.

One table per setting, named by the config's dotted key:

    [optim.lr_g]          # a float range: its bounds written with a decimal point or an exponent
    low = 1e-4
    high = 1e-3
    log = true            # drawn evenly on a log scale (optional; false by default)

    [loss.d_steps]        # an int range: whole-number bounds, on a setting that takes whole numbers
    low = 1
    high = 3

    [loss.r1_gamma]       # a list of values, one of which each trial takes
    choices = [0.0, 1.0, 10.0]

Torch- and Optuna-free (the panel imports it on the GUI thread); Space.suggest is handed an Optuna
trial by core/sweeps/runner.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.bounded_read import FileRefused, load_toml
from core.config import SCHEMA, Config, ConfigError

KINDS = ("float", "int", "choice")
RANGE_FIELDS = ("low", "high", "log")
CHECK_EVERY_INT = 1000  # an int range this short has each of its values checked (cross-setting rules)

_STEPS = "the trials' length is the sweep's own (--steps)"
_DATA = "the trials are compared on the same pictures: set it for all of them with --set"
_BOOKKEEPING = "it changes how a trial is run, not what it learns: set it for all of them with --set"
_READINGS = "the readings that compare and prune the trials must be taken alike: set it with --set"
# Settings a sweep never varies, and why (the studio's sweep panel offers none of them).
NOT_SWEPT: dict[str, str] = {
    "run.steps": _STEPS,
    "run.device": "the device is the sweep's own (--device)",
    **{f"data.{name}": _DATA for name in ("dataset", "folder", "image_size", "channels", "cache_dir", "stream")},
    "model.conditional": _DATA, "model.num_classes": _DATA,
    **{f"run.{name}": _BOOKKEEPING for name in ("threads", "precision", "compile", "log_every", "sample_every",
                                                 "checkpoint_every", "keep_every", "keep_last", "grid_size",
                                                 "sync_batchnorm", "tensorboard")},
    **{f"run.{name}": _READINGS for name in ("quality_every", "quality_samples", "fid_every", "fid_samples")},
}


class SpaceError(ValueError):
    """A search space that cannot be swept; one line naming the file (or form) and the setting."""


@dataclass(frozen=True)
class Param:
    key: str  # the config's dotted key, e.g. "optim.lr_g"
    kind: str  # "float" | "int" | "choice"
    low: float | None = None  # a range's bounds (ints for an int range); None for a choice
    high: float | None = None
    log: bool = False  # a range drawn evenly on a log scale
    choices: tuple = ()  # a choice's values (a list-valued setting's values are tuples)


@dataclass(frozen=True)
class Space:
    params: tuple[Param, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.params)

    def suggest(self, trial) -> dict[str, object]:
        """The trial's value of each setting (an optuna.Trial: drawn by its sampler, or the values it
        already holds when it is continued), as the config takes them."""
        values: dict[str, object] = {}
        for p in self.params:
            if p.kind == "float":
                assert p.low is not None and p.high is not None  # validate_space checked it
                values[p.key] = trial.suggest_float(p.key, float(p.low), float(p.high), log=p.log)
            elif p.kind == "int":
                assert p.low is not None and p.high is not None
                values[p.key] = trial.suggest_int(p.key, int(p.low), int(p.high), log=p.log)
            else:
                drawn = trial.suggest_categorical(p.key, [to_optuna(c) for c in p.choices])
                values[p.key] = from_optuna(p.key, drawn)
        return values


def to_optuna(value: Any) -> Any:
    """A choice as Optuna stores it: it keeps None, bools, numbers and text, so a list (layer widths,
    Adam's betas) is kept as its JSON text."""
    return json.dumps(list(value)) if isinstance(value, (tuple, list)) else value


def from_optuna(key: str, value: Any) -> Any:
    """A value Optuna holds for `key`, as the config takes it (to_optuna's JSON text back to a tuple)."""
    if _kind(key) == "list" and isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return tuple(decoded) if isinstance(decoded, list) else value
    return value


def values_text(values: dict) -> str:
    """A trial's values in a line: optim.lr_g=0.0003162, loss.d_steps=2."""
    return ", ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
                     for key, value in values.items())


def load_space(path: str | Path, base: Config | None = None) -> Space:
    """SPACE.toml read and checked against `base` (the default config when None); SpaceError names the
    file and the setting."""
    path = Path(path)
    try:  # a regular file of at most 1 MiB, its nesting bounded: core/bounded_read.py
        raw = load_toml(path, what="space file")
    except FileRefused as e:
        raise SpaceError(str(e)) from None
    except OSError as e:
        raise SpaceError(f"{path}: cannot read the space file ({e.strerror or e})") from None
    return parse_space(raw, base if base is not None else Config(), str(path))


def parse_space(mapping: dict, base: Config, source: str = "the space") -> Space:
    """A space from SPACE.toml's tables ({"optim": {"lr_g": {"low": ..., "high": ...}}}, or flat
    {"optim.lr_g": {...}}), checked against `base`; `source` names where it came from in messages."""
    if not isinstance(mapping, dict):
        raise SpaceError(f"{source}: expected one table per setting, e.g. [optim.lr_g]")
    params = []
    seen: set[str] = set()
    for key, table in _tables(mapping, source):
        if key in seen:
            raise SpaceError(f"{source}: {key}: named twice")
        seen.add(key)
        params.append(_param(key, table, source))
    space = Space(tuple(params))
    validate_space(space, base, source)
    return space


def _tables(mapping: dict, source: str):
    """(dotted key, its table) for each setting: [optim.lr_g] (a section's table of tables) or
    ["optim.lr_g"] (one flat table)."""
    for top, value in mapping.items():
        if not isinstance(value, dict):
            raise SpaceError(f"{source}: {top} = {value!r}: expected a table per setting, e.g. [optim.lr_g] "
                             "with low and high, or choices")
        if "." in top or set(value) & {*RANGE_FIELDS, "choices"}:
            yield top, value  # a flat key, or a table named by a section alone (refused as unknown below)
            continue
        if not value:
            raise SpaceError(f"{source}: [{top}] names no setting; write [{top}.NAME] with low and high, or choices")
        for name, table in value.items():
            if not isinstance(table, dict):
                raise SpaceError(f"{source}: {top}.{name} = {table!r}: expected a table [{top}.{name}] with low "
                                 "and high, or choices")
            yield f"{top}.{name}", table


def _param(key: str, table: dict, source: str) -> Param:
    where = f"{source}: {key}"
    unknown = sorted(set(table) - {*RANGE_FIELDS, "choices"})
    if unknown:
        raise SpaceError(f"{where}: unknown field {unknown[0]!r}; a range has low, high (and log), a list has "
                         "choices")
    if "choices" in table:
        if set(table) & set(RANGE_FIELDS):
            raise SpaceError(f"{where}: either choices or a range (low, high), not both")
        choices = table["choices"]
        if not isinstance(choices, list):
            raise SpaceError(f"{where}: choices = {choices!r}: expected a list, e.g. choices = [0.0, 1.0]")
        floats = _kind(key) == "float"  # 0 and 1.0 are the same setting there: one type for the sampler
        return Param(key, "choice", choices=tuple(
            float(c) if floats and _is_number(c) else tuple(c) if isinstance(c, list) else c for c in choices))
    if "low" not in table or "high" not in table:
        raise SpaceError(f"{where}: needs low and high (a range) or choices (a list)")
    low, high, log = table["low"], table["high"], table.get("log", False)
    for name, value in (("low", low), ("high", high)):
        if not _is_number(value):
            raise SpaceError(f"{where}: {name} = {value!r}: must be a number")
    if not isinstance(log, bool):
        raise SpaceError(f"{where}: log = {log!r}: must be true or false")
    if isinstance(low, int) and isinstance(high, int):
        return Param(key, "int", low, high, log)
    return Param(key, "float", float(low), float(high), log)


def validate_space(space: Space, base: Config, source: str = "") -> None:
    """Refuse (SpaceError, one line naming `source` and the setting) a space whose settings are unknown,
    not for a sweep to vary, of the wrong kind, empty or reversed, or whose bounds or choices the config
    refuses on top of `base` (each bound and choice is tried; every value of a short int range too)."""
    prefix = f"{source}: " if source else ""
    if not space.params:
        raise SpaceError(f"{prefix}no settings to vary; name one, e.g. [optim.lr_g] with low = 1e-4, high = 1e-3 "
                         "and log = true")
    seen: set[str] = set()
    for p in space.params:
        where = f"{prefix}{p.key}"
        if p.key in seen:
            raise SpaceError(f"{where}: named twice")
        seen.add(p.key)
        kind = _kind(p.key)
        if kind is None:
            _try(base, p, None, prefix, "")  # the config's own words for an unknown setting
            raise SpaceError(f"{where}: unknown setting")
        if p.key in NOT_SWEPT:
            raise SpaceError(f"{where}: a sweep does not vary it ({NOT_SWEPT[p.key]})")
        if p.kind == "choice":
            _check_choices(base, p, prefix)
        elif p.kind in ("int", "float"):
            _check_range(base, p, kind, prefix)
        else:
            raise SpaceError(f"{where}: kind {p.kind!r}: must be one of {', '.join(KINDS)}")


def _check_choices(base: Config, p: Param, prefix: str) -> None:
    where = f"{prefix}{p.key}"
    if not p.choices:
        raise SpaceError(f"{where}: no choices; list at least one value")
    seen = set()
    for c in p.choices:
        ident = json.dumps(to_optuna(c))  # 1, 1.0 and true are three different choices
        if ident in seen:
            raise SpaceError(f"{where}: {c!r} is listed twice")
        seen.add(ident)
        if isinstance(c, (tuple, list)) and any(isinstance(v, (tuple, list, dict)) for v in c):
            raise SpaceError(f"{where}: {c!r}: a choice may be a list of plain values, not of lists")
        if not (c is None or isinstance(c, (bool, int, float, str, tuple, list))):
            raise SpaceError(f"{where}: {c!r}: a choice must be a number, text, true/false or a list of numbers")
        _try(base, p, c, prefix, "a choice")


def _check_range(base: Config, p: Param, kind: str, prefix: str) -> None:
    where = f"{prefix}{p.key}"
    ints, floats = kind == "int", kind == "float"
    if not (ints or floats):
        raise SpaceError(f"{where}: not a number; list its values instead, e.g. choices = [...]")
    if p.kind == "int" and floats:
        raise SpaceError(f"{where}: takes decimals, but low and high are whole numbers (an int range); write "
                         f"them with a decimal point ({_decimal(p.low)} and {_decimal(p.high)}) for a float range")
    if p.kind == "float" and not floats:
        raise SpaceError(f"{where}: takes whole numbers; write low and high without a decimal point (an int range)")
    for name, value in (("low", p.low), ("high", p.high)):
        if not _is_number(value) or (p.kind == "int" and not isinstance(value, int)):
            raise SpaceError(f"{where}: {name} = {value!r}: must be a {'whole ' if p.kind == 'int' else ''}number")
    assert p.low is not None and p.high is not None  # numbers, just checked
    if not p.low < p.high:
        raise SpaceError(f"{where}: low = {p.low!r} must be below high = {p.high!r}")
    if not isinstance(p.log, bool):
        raise SpaceError(f"{where}: log = {p.log!r}: must be true or false")
    if p.log and p.low <= 0:
        raise SpaceError(f"{where}: log = true needs low above 0 (low = {p.low!r})")
    _try(base, p, p.low, prefix, "low")
    _try(base, p, p.high, prefix, "high")
    if p.kind == "int" and p.high - p.low < CHECK_EVERY_INT:
        for value in range(int(p.low) + 1, int(p.high)):  # cross-setting rules (a batch that divides into packs)
            _try(base, p, value, prefix, "a value in the range; list the ones that work as choices")


def _try(base: Config, p: Param, value: Any, prefix: str, what: str) -> None:
    try:
        base.with_values(**{p.key: value})
    except ConfigError as e:
        raise SpaceError(f"{prefix}{e}" + (f" ({what} of {p.key})" if what else "")) from None


def space_to_toml(space: Space) -> str:
    """The space as SPACE.toml: parse_space reads it back as the same Space, its settings grouped by
    section (TOML keeps a section's tables together)."""
    lines = ["# A sweep's search space: python main.py sweep --space FILE (one table per setting)", ""]
    sections = list(dict.fromkeys(p.key.partition(".")[0] for p in space.params))
    for p in sorted(space.params, key=lambda p: sections.index(p.key.partition(".")[0])):
        lines.append(f"[{_toml_key(p.key)}]")
        if p.kind == "choice":
            lines.append(f"choices = {_toml_value(list(p.choices))}")
        else:
            assert p.low is not None and p.high is not None  # a range
            cast = int if p.kind == "int" else float
            lines += [f"low = {_toml_value(cast(p.low))}", f"high = {_toml_value(cast(p.high))}"]
            if p.log:
                lines.append("log = true")
        lines.append("")
    return "\n".join(lines)


def space_dict(space: Space) -> list[dict]:
    """The space as plain JSON-able data (a study records the space it was started with)."""
    return [{"key": p.key, "kind": p.kind, "low": p.low, "high": p.high, "log": p.log,
             "choices": [to_optuna(c) for c in p.choices]} for p in space.params]


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_key(key: str) -> str:
    return ".".join(part if _BARE_KEY.fullmatch(part) else json.dumps(part) for part in key.split("."))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)  # a float keeps its point or exponent (1.0, 1e-05): read back as a float
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # JSON's string escapes are TOML's


def _decimal(value: Any) -> str:
    return repr(float(value)) if _is_number(value) else repr(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind(key: str) -> str | None:
    """What the setting takes, as the config's schema says ('int', 'float', 'bool', 'choice', 'str',
    'list'; model.clusters, a number or 'auto', is an int); None for an unknown key."""
    setting = SCHEMA.get(key)
    return setting.kind if setting is not None else None
