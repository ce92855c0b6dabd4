"""What a setting takes, as plain data: its kind, choices, bounds, label, help and whether it changes live.

core/config.py declares each config field with a Setting (`rule(...)`); the field's validator is the
Setting's own `check`, so the bounds it enforces are the ones the data says, not numbers hidden in a
closure. core.config.SCHEMA gathers them by dotted key, and every reader takes them from there: the
studio's form (combos, labels, tooltips), the sweep panel's spin boxes, `train --help`'s settings list
and the live-settings list (core.config.LIVE_SETTINGS). Bounds are inclusive. Torch- and Qt-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

KINDS = ("int", "float", "bool", "choice", "str", "list")
_COUNT_WORDS = {2: "two", 3: "three", 4: "four"}


class ConfigError(ValueError):
    """A config value that is not allowed; the message names field, value and rule."""


@dataclass(frozen=True)
class Setting:
    kind: str  # one of KINDS
    low: float | None = None  # int and float (a list's items): the smallest value allowed
    high: float | None = None  # ... and the largest
    log: bool = False  # its values spread over decades (learning rates): a sweep draws them on a log scale
    choices: tuple = ()  # a choice's options in the order offered; a bool's are (False, True)
    choice_names: dict = field(default_factory=dict)  # option -> what the form shows ('auto' differs per field)
    choice_help: dict = field(default_factory=dict)  # option -> a line on what it does (the combo's tooltip)
    words: tuple[str, ...] = ()  # an int's words besides numbers (model.clusters: 'auto')
    parts: tuple[str, ...] = ()  # a str of comma-separated parts, each one of these (data.augment_policy)
    part_name: str = ""  # what one part is, in messages ("an augmentation")
    item: str = ""  # a list's items: 'int' or 'float'
    length: tuple[int, int] = (0, 0)  # a list's length: at least, at most
    item_name: str = ""  # what the items are, in messages ("layer widths")
    # Set where the field is declared (rule()) and gathered (core.config.SCHEMA):
    key: str = ""  # 'section.field'
    default: Any = None
    label: str = ""  # the form's short name for it
    help: str = ""  # plain words: the tooltips and train --help
    live: bool = False  # may change while a run trains (Control.change, the channel, the form)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Setting kind {self.kind!r}: must be one of {', '.join(KINDS)}")

    @property
    def numeric(self) -> bool:
        """Takes a number (model.clusters: a number or a word)."""
        return self.kind in ("int", "float")

    @property
    def options(self) -> tuple:
        """What a choice or a bool may be, in the order offered."""
        return (False, True) if self.kind == "bool" else self.choices

    def name_of(self, option: Any) -> str:
        """What the form shows for an option."""
        return self.choice_names.get(option, str(option))

    def check(self, name: str, value: Any) -> None:
        """Raise ConfigError naming `name`, the value and what is allowed, unless the value is allowed."""
        if self.kind in ("int", "float"):
            if value in self.words and isinstance(value, str):
                return
            _number(name, value, self.low, self.high, integer=self.kind == "int")
        elif self.kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"{name} = {value!r}: must be true or false")
        elif self.kind == "choice":
            if value not in self.choices:
                # str(): the options may be numbers (channels is 1 or 3)
                raise ConfigError(f"{name} = {value!r}: must be one of {', '.join(map(str, self.choices))}")
        elif self.kind == "str":
            if not isinstance(value, str):
                raise ConfigError(f"{name} = {value!r}: must be text")
            if self.parts:
                try:
                    self.parts_of(value)
                except ConfigError as e:
                    raise ConfigError(f"{name} = {value!r}: {e}") from None
        else:
            self._check_list(name, value)

    def _check_list(self, name: str, value: Any) -> None:
        least, most = self.length
        if not isinstance(value, tuple) or not least <= len(value) <= most:
            raise ConfigError(f"{name} = {value!r}: must be {self._list_words()}")
        for i, item in enumerate(value):
            _number(f"{name}[{i}]", item, self.low, self.high, integer=self.item == "int")

    def _list_words(self) -> str:
        least, most = self.length
        if least == most:
            return f"{_COUNT_WORDS.get(least, str(least))} numbers, each from {self.low:g} to {self.high:g}"
        return f"a list of {least} to {most} {self.item_name}"

    def parts_of(self, text: str) -> tuple[str, ...]:
        """'color,translation' -> ('color', 'translation'); ConfigError naming an unknown part."""
        found = tuple(p.strip() for p in text.split(",") if p.strip())
        for p in found:
            if p not in self.parts:
                raise ConfigError(f"{p!r} is not {self.part_name}; choose from {', '.join(self.parts)}")
        if not found:
            raise ConfigError(f"name at least one of {', '.join(self.parts)}")
        return found

    def allowed(self) -> str:
        """What it takes, in plain words (train --help, the form's tooltips): 'a whole number from 8 to 256'."""
        if self.kind in ("int", "float"):
            what = "a whole number" if self.kind == "int" else "a number"
            words = "".join(f", or {w}" for w in self.words)
            return f"{what} from {self.low:g} to {self.high:g}{words}"
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(map(str, self.choices))
        if self.kind == "str":
            return f"comma-separated, any of {', '.join(self.parts)}" if self.parts else "text"
        if self.length[0] == self.length[1]:
            return self._list_words()
        whole = "whole " if self.item == "int" else ""
        return f"a list of {self.length[0]} to {self.length[1]} {whole}numbers, each from {self.low:g} to {self.high:g}"


def _number(name: str, value: Any, lo: Any, hi: Any, integer: bool) -> None:
    kind = "a whole number" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ConfigError(f"{name} = {value!r}: must be {kind} from {lo:g} to {hi:g}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name} = {value!r}: must be a finite number from {lo:g} to {hi:g}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name} = {value!r}: must be {kind} from {lo:g} to {hi:g}")


# --- the kinds, as config.py declares its fields ---


def whole(low: int, high: int, log: bool = False, words: tuple[str, ...] = ()) -> Setting:
    return Setting("int", low=low, high=high, log=log, words=words)


def number(low: float, high: float, log: bool = False) -> Setting:
    return Setting("float", low=low, high=high, log=log)


def choice(options: tuple | dict, help: dict | None = None) -> Setting:
    """One of `options`: a tuple, or a dict of option -> what the form shows."""
    names = dict(options) if isinstance(options, dict) else {}
    return Setting("choice", choices=tuple(options), choice_names=names, choice_help=dict(help or {}))


def boolean() -> Setting:
    return Setting("bool")


def plain_text(parts: tuple[str, ...] = (), part_name: str = "") -> Setting:
    return Setting("str", parts=parts, part_name=part_name)


def numbers(item: str, low: float, high: float, length: tuple[int, int], item_name: str = "") -> Setting:
    """A list of numbers (model widths, Adam's betas), given as a tuple."""
    return Setting("list", item=item, low=low, high=high, length=length, item_name=item_name)
