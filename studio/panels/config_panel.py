"""The hyperparameter panel, built from core's config schema (core.config.SCHEMA).

Every edit rebuilds a Config through core's validators, so a bad value is
refused here, with core's own message, before anything starts; background
jobs add the kept checkpoints' disk use and the models' size, with core's
refusal where training would not fit in the free memory. While a run
trains, only core's LIVE_SETTINGS stay editable; editing one asks the window
to apply it at the next step boundary.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from core.config import LIVE_SETTINGS, SCHEMA, Config, ConfigError, Setting
from core.presets import DESCRIPTIONS, PRESETS, RECOGNISABLE_AFTER, expected_wait, preset, wait_in_words, wait_short
from studio.bridge import form_checks
from studio.bridge.jobs import JobRunner
from studio.widgets import field_input
from studio.widgets.popup_combo import PopupCombo

# Every field's kind, choices (and what each shows), bounds, label, help and whether it is live are the
# config's schema (core.config.SCHEMA); what the form adds is where each field goes (GROUPS) and the
# extra plain words below.

AUTO_DEVICE_TIP = "CUDA if a GPU is present, else Apple MPS, else the CPU"

# Extra plain words beyond core's field docs, for the ideas people ask about most.
EXTRA_HELP = {
    "model.z_dim": "The noise vector is a list of random numbers; the generator turns each different list "
                   "into a different image. Same noise, same image.",
    "model.conditional": "The class input: with it on, each gallery row is one class and exports can ask "
                         "for a chosen digit.",
    "loss.kind": "BCE = binary cross-entropy: D is scored on telling real from fake as a yes/no guess, and "
                 "G on fooling it.",
    "loss.d_steps": "If D gets too good, its verdicts saturate and G's gradients vanish; if G runs ahead, D "
                    "stops teaching it. Watch D(x) and D(G(z)) stay apart but not at 1 and 0.",
    "optim.lr_g": "Too high and training oscillates or blows up (NaN); too low and nothing happens.",
    "optim.lr_d": "Keep D's rate near G's so neither side wins outright.",
    "optim.betas_g": "Two numbers, e.g. 0.5, 0.999.",
    "optim.betas_d": "Two numbers, e.g. 0.5, 0.999.",
    "model.g_hidden": "Comma-separated, e.g. 256, 512, 1024.",
    "model.d_hidden": "Comma-separated, e.g. 1024, 512, 256.",
    "run.batch_size": "Bigger batches give smoother gradients and more images per second, but fewer steps "
                      "per epoch.",
}

GROUPS = [
    ("Data", ["data.dataset", "data.folder"]),
    ("Model", ["model.arch", "model.conditional", "model.clusters", "model.z_dim", "model.g_hidden",
               "model.d_hidden"]),
    ("Loss and balance", ["loss.kind", "loss.d_steps", "loss.label_smoothing"]),
    ("Optimizer (Adam)", ["optim.lr_g", "optim.lr_d", "optim.betas_g", "optim.betas_d"]),
    ("Run", ["run.steps", "run.batch_size", "run.seed", "run.device", "run.keep_every", "run.keep_last",
             "run.tensorboard"]),
]


def _size_key(config: Config) -> str:
    """What the models' size depends on: an edit elsewhere (steps, rates) asks for no new estimate."""
    raw = config.to_dict()
    run = raw["run"]
    return json.dumps([raw["model"], raw["data"], run["batch_size"], run["ema"], run["device"]], sort_keys=True,
                      default=str)


def _count(params: int) -> str:
    return f"{params:,}" if params < 100_000 else f"{params / 1e6:,.{1 if params < 1e8 else 0}f} M"


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size < 1e9 else f"{size / 1e9:,.2f} GB"


def _help(key: str) -> str:
    """The field's tooltip: core's help, the form's extra words, what it takes (for a typed value; a combo
    lists its choices) and whether it changes live."""
    setting = SCHEMA[key]
    parts = [setting.help, EXTRA_HELP.get(key, "")]
    if setting.kind in ("int", "float", "list") or setting.parts:
        parts.append(f"Takes {setting.allowed()}.")
    if setting.live:
        parts.append("Live: can change while training.")
    return "".join(f"<p>{part}</p>" for part in parts if part)


def _format(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ", ".join(_format(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class FieldEditor:
    """One config field: a widget, and text <-> value conversion with readable errors."""

    def __init__(self, setting: Setting):
        self.key, self.setting = setting.key, setting
        key = setting.key
        if setting.kind == "choice":
            self.widget = QComboBox()
            for option in setting.choices:
                self.widget.addItem(setting.name_of(option), option)
                if option in setting.choice_help:
                    self.widget.setItemData(self.widget.count() - 1, f"<p>{setting.choice_help[option]}</p>",
                                            Qt.ToolTipRole)
            self.changed = self.widget.currentIndexChanged
            self.committed = self.widget.activated
        elif setting.kind == "bool":
            self.widget = QCheckBox()
            self.changed = self.widget.toggled
            self.committed = self.widget.clicked
        else:
            self.widget = QLineEdit()
            self.changed = self.widget.textChanged
            self.committed = self.widget.editingFinished
        self.widget.setObjectName(key)
        self.widget.setToolTip(_help(key))

    def value(self) -> Any:
        w = self.widget
        if isinstance(w, QComboBox):
            return w.currentData()
        if isinstance(w, QCheckBox):
            return w.isChecked()
        text = w.text().strip()
        kind = self.setting.kind
        try:
            if kind == "list":
                parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
                item = int if self.setting.item == "int" else float
                return tuple(item(p.strip()) for p in parts)
            if kind == "int" and self.setting.words:  # a number or a word (model.clusters: a count or "auto")
                return int(text) if text.lstrip("-").isdigit() else text
            if kind == "int":
                return int(text)
            if kind == "float":
                return float(text)
        except ValueError:
            what = {"int": "a whole number", "float": "a number"}.get(kind, "comma-separated numbers")
            raise ConfigError(f"{self.key} = {text!r}: must be {what}") from None
        return text

    def set_value(self, value: Any) -> None:
        w = self.widget
        w.blockSignals(True)
        if isinstance(w, QComboBox):
            w.setCurrentIndex(max(0, w.findData(value)))
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        else:
            w.setText(_format(value))
        w.blockSignals(False)

    def mark(self, error: str | None) -> None:
        self.widget.setProperty("invalid", bool(error))
        self.widget.setToolTip(f"<p style='color:#ff8a80'>{error}</p>{_help(self.key)}" if error
                               else _help(self.key))
        self.widget.style().unpolish(self.widget)
        self.widget.style().polish(self.widget)


class ConfigPanel(QWidget):
    """Scrollable form over every config field; the main ones first, the rest under 'Advanced'."""

    validity_changed = Signal(bool, str)  # valid, message
    live_change_requested = Signal(dict)  # {'optim.lr_g': 1e-4}, while training
    folder_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None, start_folder: str = ""):
        super().__init__(parent)
        self.editors: dict[str, FieldEditor] = {}
        self._labels: list[QLabel] = []
        self._training = False
        self._valid_config: Config | None = None
        self._error = ""
        self.start_folder = start_folder

        # Disk use of the kept checkpoints, estimated on a background job (it needs torch: not at start-up).
        self.disk_note = QLabel(objectName="diskNote", wordWrap=True)
        self.disk_note.setToolTip("What the kept checkpoints (to fork from) take on disk, for this model.")
        self._jobs = JobRunner(self)
        self._shut = False
        self._estimate_timer = QTimer(self, singleShot=True, interval=300)
        self._estimate_timer.timeout.connect(self._estimate_disk_use)
        self._estimated: tuple | None = None
        # G and D's size and the memory training needs, on a job too (the meta device; torch again).
        self.size_note = QLabel(objectName="modelSizeNote", wordWrap=True, textFormat=Qt.PlainText)
        self.size_note.setToolTip("Parameters of G and D, and the memory one training process holds: weights, "
                                  "gradients, Adam's moments, the copy kept to roll back a NaN, the EMA of G and one "
                                  "step's activations. Start refuses a model that would not fit in the device's "
                                  "free memory.")
        self._sized = ""  # the _size_key of the newest size estimate asked for
        self._estimate_timer.timeout.connect(self._estimate_model_size)
        self.preset = PopupCombo(objectName="preset")
        # What a preset with a measured course (RECOGNISABLE_AFTER) promises here: its step timed on this
        # machine the first time the list opens (a few seconds of a job, never at start-up).
        self._paced: set[str] = set()
        self._auto_kind = "cpu"  # what run.device = auto picks here, once the job has looked
        self.preset.popup_opening.connect(self._measure_paces)
        for name in PRESETS:  # the item's data is the name the code uses; its text says what it is
            about = DESCRIPTIONS.get(name)
            self.preset.addItem(f"{name} — {about.summary}" if about else name, name)
            if about:
                self.preset.setItemData(self.preset.count() - 1, f"<p>{about.text}</p>", Qt.ToolTipRole)
        self.preset.currentIndexChanged.connect(self._describe_preset)
        self.preset.activated.connect(lambda _: self._choose_preset(self.preset_name()))
        self._last_folder = ""  # the picture folder the form last held: a folder preset chosen again keeps it

        inner = QWidget()
        column = QVBoxLayout(inner)
        column.setContentsMargins(6, 6, 6, 6)
        column.setSpacing(10)
        top = QFormLayout()
        top.addRow("Preset", self.preset)
        column.addLayout(top)

        placed = set()
        for title, keys in GROUPS:
            box = QGroupBox(title)
            form = self._form(box)
            for key in keys:
                self._add(form, SCHEMA[key])
                placed.add(key)
                if key == "run.keep_last":
                    form.addRow("", self.disk_note)
                if key == "model.d_hidden":
                    form.addRow("", self.size_note)
            column.addWidget(box)
        self.advanced = QGroupBox("Advanced")
        self.advanced.setCheckable(True)
        self.advanced.setChecked(False)
        self.advanced.setToolTip("Every other setting core knows about.")
        adv_body = QWidget()
        form = self._form(adv_body)
        for key, setting in SCHEMA.items():
            if key not in placed:
                self._add(form, setting)
        QVBoxLayout(self.advanced).addWidget(adv_body)
        adv_body.setVisible(False)
        self.advanced.toggled.connect(adv_body.setVisible)
        column.addWidget(self.advanced)
        column.addStretch(1)
        # One label column width across all groups: the widest label's. (A smaller fixed minimum would
        # let the form, at its narrowest, cut either that label or its field.)
        for label in self._labels:
            label.ensurePolished()  # the stylesheet's font
        widest = max(label.sizeHint().width() for label in self._labels)
        for label in self._labels:
            label.setMinimumWidth(widest)

        self.error_label = QLabel(objectName="formError", wordWrap=True)
        self.error_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.error_label.setVisible(False)

        # The panel is never narrower than the form (see _fit_width); should the form still outgrow it
        # for a moment, a horizontal scroll bar shows the rest rather than cutting it off.
        self.scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.NoFrame)
        self.scroll.setWidget(inner)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll, 1)
        outer.addWidget(self.error_label)
        self._field_input = field_input.FieldInput(self)
        field_input.install(inner, self._field_input)
        inner.installEventFilter(self)
        self._fit_width()

        self.editors["data.dataset"].changed.connect(self._dataset_changed)
        self.set_config(PRESETS["default"])
        self._describe_preset()
        device = self.editors["run.device"].widget
        device.setItemData(device.findData("auto"), f"<p>{AUTO_DEVICE_TIP}.</p>", Qt.ToolTipRole)
        self._jobs.submit(form_checks.auto_device, self._show_auto_device, self._no_estimate)

    # --- width ---

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.scroll.widget() and event.type() == QEvent.LayoutRequest:
            self._fit_width()  # the form's minimum changed (Advanced opened, a longer choice text)
        return super().eventFilter(obj, event)

    def _fit_width(self) -> None:
        """The panel's (hence the dock's) minimum width: the form's own, plus room for the vertical scroll
        bar, so no field, combo text or Browse… is cut off, even in a saved layout where the dock was narrower
        (the window's layout holds a dock to its minimum)."""
        form = self.scroll.widget().minimumSizeHint().width()
        bar = self.scroll.verticalScrollBar().sizeHint().width()
        self.setMinimumWidth(form + bar + 2 * self.scroll.frameWidth())

    def _form(self, parent: QWidget) -> QFormLayout:
        form = QFormLayout(parent)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignRight | Qt.AlignVCenter)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(6)
        return form

    def _add(self, form: QFormLayout, setting: Setting) -> None:
        key = setting.key
        editor = FieldEditor(setting)
        self.editors[key] = editor
        label = QLabel(setting.label)
        label.setToolTip(_help(key))
        self._labels.append(label)
        label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        if setting.live:
            label.setText(label.text() + " ●")
            label.setProperty("live", True)
        widget = editor.widget
        if key == "data.folder":
            row = QWidget()
            h = QHBoxLayout(row)
            h.setContentsMargins(0, 0, 0, 0)
            h.addWidget(widget, 1)
            self.browse = QPushButton("Browse…", objectName="browseFolder")
            self.browse.setToolTip("Pick a folder of images (PNG, JPEG, …); subfolders are read too.")
            self.browse.clicked.connect(self._browse_folder)
            h.addWidget(self.browse)
            widget = row
            self.folder_row = (label, row)
        widget.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        form.addRow(label, widget)
        editor.changed.connect(self._revalidate)
        editor.committed.connect(lambda *_, k=key: self._commit(k))

    # --- values ---

    def raw_values(self) -> dict:
        """Every field as parsed from the form; raises ConfigError for text that is not a number."""
        return {key: editor.value() for key, editor in self.editors.items()}

    def config(self) -> Config:
        """The form as a validated Config; raises ConfigError with core's message."""
        values = self.raw_values()
        base = Config(preset=self.preset_name())
        return base.with_values(**values).require_complete()

    def current_config(self) -> Config | None:
        return self._valid_config

    def _choose_preset(self, name: str) -> None:
        """A preset fills in the form; one for a person's pictures keeps the folder they had chosen (the
        preset itself names none)."""
        folder = str(self.editors["data.folder"].value() or "")
        self._last_folder = folder or self._last_folder
        device = str(self.editors["run.device"].value() or "auto")
        config = preset(name, self._auto_kind if device == "auto" else device)  # its widths follow the device
        if config.data.dataset == "folder" and not config.data.folder and self._last_folder:
            config = config.with_values(**{"data.folder": self._last_folder})
        self.set_config(config)

    def preset_name(self) -> str:
        return self.preset.currentData() or "custom"

    @property
    def error(self) -> str:
        return self._error

    def set_config(self, config: Config) -> None:
        raw = config.to_dict()
        if config.preset in PRESETS:
            self.preset.setCurrentIndex(self.preset.findData(config.preset))
        for key, editor in self.editors.items():
            section, name = key.split(".", 1)
            editor.set_value(raw[section][name])
        self._update_folder_row()
        self._revalidate()

    def set_value(self, key: str, value: Any) -> None:
        self.editors[key].set_value(value)
        self._update_folder_row()
        self._revalidate()

    def _revalidate(self, *_) -> None:
        for editor in self.editors.values():
            editor.mark(None)
        try:
            config = self.config()
        except ConfigError as e:
            self._valid_config, self._error = None, str(e)
            self._mark_error(str(e))
        else:
            self._valid_config, self._error = config, ""
        self.error_label.setText(self._error)
        self.error_label.setVisible(bool(self._error))
        if not self._shut:
            self._estimate_timer.start()
        self.validity_changed.emit(self._valid_config is not None, self._error)

    def _estimate_disk_use(self) -> None:
        config = self._valid_config
        if config is None or self._shut:
            return
        key = (config.to_json(),)
        if key == self._estimated:
            return
        self._estimated = key
        self._jobs.submit(lambda: (config, form_checks.checkpoint_bytes(config)), self._show_disk_use, self._no_estimate)

    def _show_disk_use(self, result) -> None:
        config, size = result
        run = config.run
        if not run.keep_every:
            self.disk_note.setText(f"No checkpoints kept to fork from (each would take {_mb(size)}).")
            return
        count = run.keep_last or max(1, run.steps // run.keep_every)
        self.disk_note.setText(f"{_mb(size)} a checkpoint: up to {_mb(size * count)} for {count} kept "
                               f"{'(the newest)' if run.keep_last else 'over the run'}.")

    def _estimate_model_size(self) -> None:
        config = self._valid_config
        # While a run trains, the memory it holds would count as taken: the line from before it started stays.
        if self._shut or self._training:
            return
        if config is None:  # the form is not a config yet (a folder preset without its folder): no figure is its
            self._sized = ""
            self.size_note.setText("")
            return
        key = _size_key(config)
        if key == self._sized:
            return
        self._sized = key
        self._jobs.submit(lambda: form_checks.model_size(config, key), self._show_model_size, self._model_size_failed)

    def _show_model_size(self, result) -> None:
        key, params, memory, refusal = result
        if self._shut or key != self._sized:  # the window closed, or the form changed since it was asked
            return
        line = f"G + D: {_count(params)} parameters · about {_mb(memory)} to train"
        self.size_note.setText(f"⚠ {refusal}" if refusal else line)
        self.size_note.setStyleSheet("color: #ffcc80;" if refusal else "")  # the collapse warning's colour

    def _model_size_failed(self, message: str) -> None:
        if not self._shut:
            self.size_note.setText("")  # no estimate (Start will say what is wrong, if anything)

    def _no_estimate(self, message: str) -> None:
        """A failed disk-use or device look-up leaves its text as it was. (A job's callbacks are this
        object's methods, so that they run on the GUI thread: a lambda would run on the job's.)"""

    def shutdown(self) -> None:
        """Wait for a running estimate and start no more (closing the window: a run's end can still
        arrive and refill the form, and a job then would outlive the window)."""
        self._shut = True
        self._estimate_timer.stop()
        self._jobs.wait_all()

    def _mark_error(self, message: str) -> None:
        # core's messages start with the field's name, e.g. "optim.lr_g = 5.0: must be ..."
        key = message.split(" ", 1)[0].split("[", 1)[0].rstrip(":")
        if key in self.editors:
            self.editors[key].mark(message)

    def show_error(self, message: str) -> None:
        """A refused live change: say why next to the form."""
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))
        self._mark_error(message)

    # --- training lock and live edits ---

    def set_training(self, training: bool) -> None:
        focus = QApplication.focusWidget()
        if training and focus is not None and self.isAncestorOf(focus):
            # A disabled field hands focus to the next one that can take it (often Advanced's checkbox),
            # and the scroll area would jump there: give it to the window instead.
            field_input.leave_field(focus)
        self._training = training
        if not training and not self._shut:
            self._estimate_timer.start()  # the size estimate waited for the run to end
        self.preset.setEnabled(not training)
        for key, editor in self.editors.items():
            editor.widget.setEnabled(not training or key in LIVE_SETTINGS)
        self.browse.setEnabled(not training)

    def _commit(self, key: str) -> None:
        if not self._training or key not in LIVE_SETTINGS:
            return
        try:
            value = self.editors[key].value()
        except ConfigError as e:
            self.show_error(str(e))
            return
        self.live_change_requested.emit({key: value})

    # --- preset and device texts ---

    def _describe_preset(self, *_) -> None:
        about = DESCRIPTIONS.get(self.preset_name())
        current = f"<p><b>{self.preset_name()}</b>: {about.text}</p>" if about else ""
        self.preset.setToolTip(current + "<p>A named starting point: pick one to fill in the form. 'default' "
                               "trains the cleanest digits here; the seed-* presets reproduce the tutorials "
                               "this app grew from.</p>")

    def _measure_paces(self) -> None:
        for name in RECOGNISABLE_AFTER:
            if name in PRESETS and name not in self._paced:
                self._paced.add(name)
                self._jobs.submit(lambda name=name: form_checks.preset_pace(name), self._show_pace, self._no_estimate)

    def _show_pace(self, result: tuple[str, str, float]) -> None:
        """The preset's entry says what to expect here, from its step's rate measured here."""
        if self._shut:
            return
        name, device, images_per_s = result
        minutes = expected_wait(name, images_per_s)
        index = self.preset.findData(name)
        if minutes is None or index < 0:
            return
        about = DESCRIPTIONS[name]
        wait = wait_in_words(minutes, device)
        self.preset.setItemText(index, f"{name} — {about.summary} ({wait_short(minutes)} here)")
        course = RECOGNISABLE_AFTER[name]
        self.preset.setItemData(index, f"<p>{about.text}</p><p>What to expect here: {course.seen}, after {wait} "
                                f"(its step measured at {images_per_s:,.0f} pictures/s here, for the "
                                f"{course.pictures:,} pictures it trained on to get there in docs/benchmarks.md)."
                                "</p>", Qt.ToolTipRole)

    def _show_auto_device(self, found: tuple[str, str]) -> None:
        if self._shut:  # the window closed while the job ran
            return
        kind, description = found
        self._auto_kind = kind
        combo = self.editors["run.device"].widget
        index = combo.findData("auto")
        combo.setItemText(index, f"Automatic: {SCHEMA['run.device'].name_of(kind)}")
        combo.setItemData(index, f"<p>{AUTO_DEVICE_TIP}; here: {description}.</p>", Qt.ToolTipRole)

    # --- dataset conveniences ---

    def _dataset_changed(self, *_) -> None:
        dataset = self.editors["data.dataset"].value()
        channels, size = self.editors["data.channels"], self.editors["data.image_size"]
        if dataset == "cifar10":
            channels.set_value(3)
            size.set_value(32)
        elif dataset in ("bundled", "mnist", "fashion-mnist"):
            channels.set_value(1)
            if self.editors["model.arch"].value() == "mlp":
                size.set_value(28)
        if dataset == "folder":
            self.editors["model.conditional"].set_value(False)
            if not self.editors["data.folder"].value():
                self._browse_folder()
        self._update_folder_row()
        self._revalidate()

    def _update_folder_row(self) -> None:
        show = self.editors["data.dataset"].value() == "folder"
        for w in self.folder_row:
            w.setVisible(show)

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of training images",
                                                  self.editors["data.folder"].value() or self.start_folder)
        if folder:
            self.editors["data.folder"].set_value(folder)
            self.start_folder = folder
            self.folder_chosen.emit(folder)
            self._revalidate()
