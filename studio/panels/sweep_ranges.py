"""The sweep's ranges, one row a setting: built from the config's schema (core.config.SCHEMA) like the
form is, never free text.

A row picks a setting from the config's numeric and choice fields, then a low and a high in spin boxes
of the field's own kind and within its own bounds (a log tick, set where the schema says its values
spread over decades), or ticks the choices of a choice field (a true/false setting is a choice of the two). Each low and high is checked against
the base config with core's own rule as it is typed (the field is marked, its tooltip says why);
the whole space is checked by core.sweeps.space.validate_space before a sweep starts.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.config import LIVE_SETTINGS, SCHEMA, Config, ConfigError
from core.sweeps.space import NOT_SWEPT, Param, Space
from studio.panels.config_panel import GROUPS
from studio.widgets import field_input

INT_LIMIT = 2**31 - 1  # a QSpinBox holds a C int
FLOAT_LIMIT = 1e9
FLOAT_DECIMALS = 12  # QDoubleSpinBox rounds to these: 1e-7 (the smallest learning rate) stays exact
COMBO_CHARS = 14  # the setting combo's width in characters: long labels are cut, never widening the dock


def field_kind(key: str) -> str:
    """'float', 'int' or 'choice' (a choice field, or a true/false one)."""
    kind = SCHEMA[key].kind
    return "choice" if kind in ("choice", "bool") else kind


def field_choices(key: str) -> tuple:
    return SCHEMA[key].options


def sweepable_keys() -> list[str]:
    """The numeric and choice settings a sweep may vary (core's NOT_SWEPT says which not, and why): live
    ones first (the ones most often tuned), the learning rates (a log scale) leading, then in the form's
    order."""
    live = sorted(LIVE_SETTINGS, key=lambda key: not SCHEMA[key].log)
    ordered = live + [k for _, keys in GROUPS for k in keys] + list(SCHEMA)
    seen: list[str] = []
    for key in ordered:
        if key in seen or key in NOT_SWEPT or SCHEMA[key].kind not in ("int", "float", "bool", "choice"):
            continue
        seen.append(key)
    return seen


def label_of(key: str) -> str:
    return SCHEMA[key].label if key in SCHEMA else key


def choice_text(key: str, option: Any) -> str:
    """An option's short text (the tick's); its long name goes in the tooltip."""
    if isinstance(option, bool):
        return "on" if option else "off"
    return str(option)


def bounds(key: str, kind: str = "int") -> tuple[float, float]:
    """The field's own limits, as the config's schema holds them (its validator enforces the same); the
    spin box's widest range for a setting the schema gives none (a space file's, which core refuses)."""
    setting = SCHEMA.get(key)
    if setting is not None and setting.numeric and setting.low is not None and setting.high is not None:
        return setting.low, setting.high
    return (0, INT_LIMIT) if kind == "int" else (0.0, FLOAT_LIMIT)


def default_param(key: str, base: Config | None) -> Param:
    """A first range around the base's value that core accepts on top of `base`: a tenth to ten times
    it for a positive float, half to twice it for an int, within the field's limits, on a log scale where
    the schema says so; for a choice, every option the base takes."""
    kind = field_kind(key)
    if kind == "choice":
        options = field_choices(key)
        taken = tuple(o for o in options if base is None or _takes(base, key, o))
        return Param(key=key, kind="choice", low=None, high=None, log=False, choices=taken or options)
    lo, hi = bounds(key, kind)
    section, name = key.split(".", 1)
    value = getattr(getattr(base, section), name) if base is not None else SCHEMA[key].default
    if kind == "float":
        v = float(value) if isinstance(value, (int, float)) else lo
        ranges = [(v / 10, v * 10), (v / 10, v), (v, v * 10)] if v > 0 else []
        ranges.append((lo, min(hi, lo + 1.0)))
    else:
        v = value if isinstance(value, int) and not isinstance(value, bool) else int(lo)
        ranges = [(v // 2, v * 2), (v, v * 2), (v // 2, v), (v, v + 1), (v - 1, v), (2, 10)]
    params = []
    for low, high in ranges:
        low, high = max(lo, low), min(hi, high)
        if kind == "int":
            low, high = int(low), int(high)
        params.append(Param(key=key, kind=kind, low=low, high=high, log=SCHEMA[key].log and low > 0, choices=()))
    for param in params:
        # Its bounds alone (core's validate_space tries every value of a short int range: too slow here)
        if base is None or (param.low < param.high and _takes(base, key, param.low) and _takes(base, key, param.high)):
            return param
    return params[0]  # none fits: the row says why


def _takes(base: Config, key: str, value: Any) -> bool:
    try:
        base.with_values(**{key: value})
    except ConfigError:
        return False
    return True


class FloatSpin(QDoubleSpinBox):
    """A float field that shows 0.0002 as 0.0002 and 1e-07 as 1e-07 (%g), and steps by a tenth of the
    value's decade (a log range by a tenth of a decade), not by a fixed 0.01."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setDecimals(FLOAT_DECIMALS)
        self.log = False

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        stripped = text.strip()
        try:
            value = float(stripped)
        except ValueError:
            partial = stripped in ("", ".", "-", "+") or stripped.lower().endswith(("e", "e-", "e+"))
            return QValidator.Intermediate if partial else QValidator.Invalid, text, pos
        if not self.minimum() <= value <= self.maximum():
            return QValidator.Intermediate, text, pos
        return QValidator.Acceptable, text, pos

    def fixup(self, text: str) -> str:
        return self.textFromValue(self.value())

    def stepBy(self, steps: int) -> None:
        value = self.value()
        if self.log and value > 0:
            self.setValue(value * 10 ** (steps / 10))
            return
        decade = 10 ** math.floor(math.log10(abs(value))) if value else max(self.singleStep(), 1e-3)
        self.setValue(value + steps * decade / 10)


def _spin(kind: str, key: str) -> QSpinBox | FloatSpin:
    lo, hi = bounds(key, kind)
    if kind == "int":
        box: QSpinBox | FloatSpin = QSpinBox()
        box.setRange(int(max(-INT_LIMIT, lo)), int(min(INT_LIMIT, hi)))
    else:
        box = FloatSpin()
        box.setRange(max(-FLOAT_LIMIT, lo), min(FLOAT_LIMIT, hi))
    box.setKeyboardTracking(False)  # valueChanged once a value is entered, not at every key
    box.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)  # shares the row, whatever the range's width
    box.setMinimumWidth(60)
    return box


def mark(widget: QWidget, error: str | None, tip: str) -> None:
    """The form's look for a refused value: red, with core's message in the tooltip."""
    widget.setProperty("invalid", bool(error))
    widget.setToolTip(f"<p style='color:#ff8a80'>{error}</p><p>{tip}</p>" if error else f"<p>{tip}</p>")
    widget.style().unpolish(widget)
    widget.style().polish(widget)


class RangeRow(QFrame):
    """One setting's range: its combo and a remove button, then low/high/log or the choices' ticks."""

    changed = Signal()
    remove_requested = Signal(object)  # this row

    def __init__(self, keys: list[str], base: Callable[[], Config | None], guard: field_input.FieldInput,
                 parent: QWidget | None = None):
        super().__init__(parent, objectName="sweepRange")
        self.base = base
        self.guard = guard
        self.key_combo = QComboBox(objectName="sweepKey")
        self.key_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.key_combo.setMinimumContentsLength(COMBO_CHARS)
        self.key_combo.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        for key in keys:
            self.key_combo.addItem(f"{label_of(key)} ({key})", key)
            self.key_combo.setItemData(self.key_combo.count() - 1, f"<p><b>{key}</b></p><p>{SCHEMA[key].help}</p>",
                                       Qt.ToolTipRole)
        self.remove = QToolButton(text="✕", objectName="sweepRemove", autoRaise=True)
        self.remove.setToolTip("Take this setting out of the sweep")
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self))
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.key_combo, 1)
        top.addWidget(self.remove)
        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(12, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.body)
        self.low: QSpinBox | FloatSpin | None = None
        self.high: QSpinBox | FloatSpin | None = None
        self.log: QCheckBox | None = None
        self.ticks: dict[Any, QCheckBox] = {}
        self.error = ""
        self.key_combo.currentIndexChanged.connect(lambda _: self._key_chosen())
        field_input.install(self, guard)

    @property
    def key(self) -> str:
        return self.key_combo.currentData()

    def _key_chosen(self) -> None:
        self._build(default_param(self.key, self.base()))
        self.changed.emit()

    def set_param(self, param: Param) -> None:
        self.key_combo.blockSignals(True)
        index = self.key_combo.findData(param.key)
        if index < 0:  # a space file naming a setting the combo does not offer: shown, and refused by core
            self.key_combo.addItem(f"{param.key} (not swept here)", param.key)
            index = self.key_combo.count() - 1
        self.key_combo.setCurrentIndex(index)
        self.key_combo.blockSignals(False)
        self._build(param)

    def _build(self, param: Param) -> None:
        """The widgets for the field's kind (rebuilt when the setting changes)."""
        while self.body_layout.count():
            item = self.body_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.low = self.high = self.log = None
        self.ticks = {}
        key = param.key
        holder = QWidget()
        if param.kind == "choice":
            grid = QGridLayout(holder)
            grid.setContentsMargins(0, 0, 0, 0)
            # A choice field's every option (the ticked ones swept); a list of values for another field (a
            # space file's choices = [0.0, 1.0, 10.0]) has just those, to untick.
            own = key in SCHEMA and field_kind(key) == "choice"
            options = field_choices(key) if own else tuple(param.choices)
            for i, option in enumerate(options):
                tick = QCheckBox(choice_text(key, option))
                tick.setToolTip(SCHEMA[key].name_of(option) if key in SCHEMA else str(option))
                tick.setChecked(option in param.choices)
                tick.toggled.connect(lambda _: self._edited())
                self.ticks[option] = tick
                grid.addWidget(tick, i // 3, i % 3)
        else:
            row = QHBoxLayout(holder)
            row.setContentsMargins(0, 0, 0, 0)
            self.low, self.high = _spin(param.kind, key), _spin(param.kind, key)
            self.low.setObjectName("sweepLow")
            self.high.setObjectName("sweepHigh")
            for box, value in ((self.low, param.low), (self.high, param.high)):
                box.setValue(value if value is not None else box.minimum())
                box.valueChanged.connect(lambda _: self._edited())
            row.addWidget(QLabel("from"))
            row.addWidget(self.low, 1)
            row.addWidget(QLabel("to"))
            row.addWidget(self.high, 1)
            # A log scale for an int range too (noise sizes, batch sizes), as Optuna draws them.
            self.log = QCheckBox("log", objectName="sweepLog")
            self.log.setToolTip("Draw values evenly on a log scale (learning rates: as many trials from 1e-5 to "
                                "1e-4 as from 1e-4 to 1e-3)")
            self.log.setChecked(param.log)
            self.log.toggled.connect(lambda _: self._edited())
            row.addWidget(self.log)
        self.body_layout.addWidget(holder)
        field_input.install(holder, self.guard)
        self._edited(emit=False)

    def param(self) -> Param:
        key = self.key
        if self.ticks:
            chosen = tuple(option for option, tick in self.ticks.items() if tick.isChecked())
            return Param(key=key, kind="choice", low=None, high=None, log=False, choices=chosen)
        kind = "float" if isinstance(self.low, FloatSpin) else "int"
        log = bool(self.log is not None and self.log.isChecked())
        return Param(key=key, kind=kind, low=self.low.value(), high=self.high.value(), log=log, choices=())

    def _edited(self, emit: bool = True) -> None:
        """Check the low and high with core's rule for the field, as the form does; mark what it refuses."""
        if isinstance(self.low, FloatSpin):
            self.low.log = self.high.log = bool(self.log and self.log.isChecked())
        self.error = ""
        base, tip = self.base(), SCHEMA[self.key].help if self.key in SCHEMA else ""
        for box in (self.low, self.high):
            if box is None:
                continue
            error = None
            if base is not None:
                try:
                    base.with_values(**{self.key: box.value()})
                except ConfigError as e:
                    error = str(e)
            mark(box, error, tip)
            self.error = self.error or (error or "")
        if emit:
            self.changed.emit()

    def set_enabled(self, on: bool) -> None:
        self.key_combo.setEnabled(on)
        self.remove.setEnabled(on)
        self.body.setEnabled(on)


class RangeEditor(QWidget):
    """The rows, and Add setting."""

    changed = Signal()

    def __init__(self, base: Callable[[], Config | None], parent: QWidget | None = None):
        super().__init__(parent)
        self.base = base
        self.keys = sweepable_keys()
        self.rows: list[RangeRow] = []
        self.guard = field_input.FieldInput(self)
        self.add_button = QPushButton("+ Add setting", objectName="sweepAdd")
        self.add_button.setToolTip("Sweep one more setting (the next one not swept yet)")
        self.add_button.clicked.connect(lambda: self.add())
        self.column = QVBoxLayout(self)
        self.column.setContentsMargins(0, 0, 0, 0)
        self.column.setSpacing(4)
        self.column.addWidget(self.add_button, 0, Qt.AlignLeft)

    def add(self, key: str | None = None) -> RangeRow:
        """A row for `key` (default: the first setting no row sweeps yet) with a first range."""
        taken = {row.key for row in self.rows}
        key = key or next((k for k in self.keys if k not in taken), self.keys[0])
        return self._add_row(default_param(key, self.base()))

    def _add_row(self, param: Param) -> RangeRow:
        row = RangeRow(self.keys, self.base, self.guard, self)
        row.set_param(param)
        row.changed.connect(self.changed)
        row.remove_requested.connect(self.remove)
        self.rows.append(row)
        self.column.insertWidget(self.column.count() - 1, row)
        self.changed.emit()
        return row

    def remove(self, row: RangeRow) -> None:
        if row in self.rows:
            self.rows.remove(row)
            row.hide()  # focus leaves it now; Qt deletes it at the loop's next turn
            row.deleteLater()
            self.changed.emit()

    def space(self) -> Space:
        return Space(tuple(row.param() for row in self.rows))

    def set_space(self, space: Space) -> None:
        for row in list(self.rows):
            self.remove(row)
        for param in space.params:
            self._add_row(param)

    def first_error(self) -> str:
        """The first low or high core's rule refuses ('' when none)."""
        return next((row.error for row in self.rows if row.error), "")

    def set_enabled(self, on: bool) -> None:
        self.add_button.setEnabled(on)
        for row in self.rows:
            row.set_enabled(on)
