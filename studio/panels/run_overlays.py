"""Other runs' curves drawn over the current run's: the loss plots and the Frechet distance plot.

A run's readings are read from its folder (core.runs.index.read_curves) on a job thread,
then handed to LossPlots.set_overlay and QualityPanel.set_overlay. Each overlaid run
keeps one colour while it is shown, so ticking another does not repaint the rest.
The run the window shows (set_current) is never overlaid on itself: ticked, it waits
until another run is shown, so no legend names it twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from PySide6.QtCore import QObject, Signal

from studio.bridge.jobs import JobRunner
from studio.panels.loss_plots import LossPlots
from studio.panels.quality_panel import QualityPanel

# Apart from the current run's series colours (blue, orange, green, purple), and from each other.
PALETTE = ("#f06292", "#4db6ac", "#dce775", "#ffd180", "#90a4ae", "#ce93d8", "#a1887f", "#80deea")


class RunOverlays(QObject):
    """Which runs are overlaid, their colours, and the drawing of their curves."""

    drawn = Signal(str)  # a run folder whose curves are now on the plots (for tests)

    def __init__(self, loss_plots: LossPlots, quality_panel: QualityPanel, jobs: JobRunner,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.loss_plots, self.quality_panel, self.jobs = loss_plots, quality_panel, jobs
        self.colours: dict[str, str] = {}  # run folder -> colour, for the runs shown
        self.wanted: list[str] = []  # the ticked runs, shown unless one is the current run
        self.current: str | None = None  # the run the window shows (its own curves, not an overlay)
        self._loading: set[str] = set()

    @property
    def keys(self) -> list[str]:
        return list(self.colours)

    def show(self, runs: Iterable[str | Path]) -> None:
        """Overlay exactly these run folders: the others go, new ones are read and drawn."""
        self.wanted = [str(r) for r in runs]
        wanted = [k for k in self.wanted if k != self.current]
        for key in [k for k in self.colours if k not in wanted]:
            self._remove(key)
        for key in wanted:
            if key not in self.colours:
                used = set(self.colours.values())
                self.colours[key] = next((c for c in PALETTE if c not in used), PALETTE[len(used) % len(PALETTE)])
                self.reload(key)

    def set_current(self, run_dir: str | Path | None) -> None:
        """The run the window now shows: its overlay (if ticked) goes, the last one's comes back."""
        self.current = str(Path(run_dir).resolve()) if run_dir is not None else None
        self.show(self.wanted)

    def reload(self, key: str | Path) -> None:
        """Read a shown run's readings again (it has trained on) and redraw them."""
        key = str(key)
        if key not in self.colours or key in self._loading:
            return
        self._loading.add(key)
        self.jobs.submit(lambda: _read(key), self._loaded, lambda message, k=key: self._loading.discard(k))

    def _loaded(self, result: object) -> None:
        key, curves, name = result
        self._loading.discard(key)
        colour = self.colours.get(key)
        if colour is None:  # unticked (or made the current run) while it was read
            return
        label = name or Path(key).name  # the run's name (run.json), else its folder's
        series = {name: curves.metrics[name] for name in ("g_loss", "d_loss", "d_real", "d_fake")
                  if name in curves.metrics}
        # Wall-clock times where the run's metrics.csv has a `time` column; without one the time view says so.
        self.loss_plots.set_overlay(key, label, colour, curves.steps, series, curves.metrics.get("time"))
        if len(curves.frechet):
            self.quality_panel.set_overlay(key, label, colour, curves.quality_steps, curves.frechet)
        else:
            self.quality_panel.remove_overlay(key)
        self.drawn.emit(key)

    def _remove(self, key: str) -> None:
        self.colours.pop(key, None)
        self.loss_plots.remove_overlay(key)
        self.quality_panel.remove_overlay(key)


def _read(key: str):
    from core.runs.index import read_curves
    from core.runs.notes import read_names

    return key, read_curves(key), read_names(key)[0]
