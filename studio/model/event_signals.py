"""The one table from trainer event to Qt signal.

`EVENT_SIGNALS` names, for each event type in core/events.py, the signal that carries it and which of
its fields the signal sends (none: the event itself, as one object). `EventSignals`, the QObject that
TrainWorker, TrainingSession and RunFollower share, is built from it: one signal per entry, plus
`other` for event types the table does not know yet; its `report` emits an event on its signal and
`relay` connects one such object's signals to another's. An event type not listed gets a signal named
after it (BestReading: best_reading), carrying the event: a new event needs no line here.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from core import events as ev


@dataclass(frozen=True)
class EventSignal:
    event: type
    name: str
    fields: tuple[str, ...] = ()  # the event's fields the signal sends; () sends the event itself

    def arguments(self, event: object) -> tuple:
        return tuple(getattr(event, f) for f in self.fields) if self.fields else (event,)

    def signal(self) -> Signal:
        if not self.fields:
            return Signal(object)
        # The fields' own types (the annotations in core/events.py): plain ints and strings travel as such.
        hints = typing.get_type_hints(self.event)
        return Signal(*(hints[f] if hints[f] in (int, float, str, bool) else object for f in self.fields))


EVENT_SIGNALS = (
    EventSignal(ev.Started, "started"),
    EventSignal(ev.StateChanged, "state_changed"),
    EventSignal(ev.Progress, "progress", ("task", "done", "total")),  # e.g. decoding a new image folder
    EventSignal(ev.Metrics, "metrics"),
    EventSignal(ev.Samples, "samples"),
    EventSignal(ev.Quality, "quality"),  # a Frechet distance + class histogram reading
    EventSignal(ev.ImageQuality, "image_quality"),  # an FID/KID reading
    EventSignal(ev.QualityOff, "quality_off", ("reason",)),  # why quality readings do not apply to this run
    EventSignal(ev.HyperparamsChanged, "hyperparams_changed"),
    EventSignal(ev.Notice, "notice", ("message",)),
    EventSignal(ev.ErrorEvent, "error", ("step", "message")),
    EventSignal(ev.Checkpointed, "checkpointed", ("step", "path")),
    EventSignal(ev.Saved, "saved", ("step", "kind", "path")),
    EventSignal(ev.GeneratorSnapshot, "snapshot"),  # the sampling generator's weights, as asked for
    EventSignal(ev.Finished, "finished"),
    EventSignal(ev.TrialStarted, "trial_started"),  # a sweep's trial (core/sweeps) starts training
    EventSignal(ev.TrialFinished, "trial_finished"),  # ... and ends: complete, pruned, failed or interrupted
)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


# Every other event type core/events.py defines gets a signal of its own, named after it (BestReading:
# best_reading), carrying the event: a new event needs no line here to reach the panels.
_LISTED = {entry.event for entry in EVENT_SIGNALS}
EVENT_SIGNALS += tuple(EventSignal(kind, _snake(kind.__name__)) for kind in vars(ev).values()
                       if dataclasses.is_dataclass(kind) and isinstance(kind, type)
                       and kind.__module__ == ev.__name__ and kind not in _LISTED)
OTHER = "other"  # event types from elsewhere: passed on as they are, never fatal
SIGNAL_NAMES = tuple(entry.name for entry in EVENT_SIGNALS) + (OTHER,)
_BY_TYPE = {entry.event: entry for entry in EVENT_SIGNALS}


def _report(self: QObject, event: object) -> None:
    """Emit `event` on its table signal, with the fields the table names; unknown types on `other`."""
    entry = _BY_TYPE.get(type(event))
    if entry is None:
        getattr(self, OTHER).emit(event)
    else:
        getattr(self, entry.name).emit(*entry.arguments(event))


def relay(source: QObject, target: QObject) -> None:
    """Re-emit every table signal (and `other`) of `source` as `target`'s (queued across threads)."""
    for name in SIGNAL_NAMES:
        getattr(source, name).connect(getattr(target, name))


# Qt registers a class's signals when the class is made, so they go into its namespace here, not later.
EventSignals = type(QObject)("EventSignals", (QObject,), {
    "__module__": __name__,
    "__doc__": "A QObject with one signal per EVENT_SIGNALS entry, `other`, and report(event).",
    **{entry.name: entry.signal() for entry in EVENT_SIGNALS},
    OTHER: Signal(object),
    "report": _report,
})
