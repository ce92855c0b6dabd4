"""TensorBoard event files in the run folder (run.tensorboard), so `tensorboard --logdir runs`
shows the run's losses, quality readings, sample grids and hyperparameters.

An event sink beside the run folder's own files: it sees the same events the app does and
writes them with torch.utils.tensorboard (the tensorboard package does the file format).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core import events as ev
from core.config import Config
from core.runs.folder import RunFolder

SCALARS = {"g_loss": "loss/G", "d_loss": "loss/D", "d_real": "D/real", "d_fake": "D/fake",
           "images_per_s": "speed/images_per_s", "lr_g": "lr/G", "lr_d": "lr/D", "epoch": "progress/epoch"}


def _hparams(config: Config) -> dict:
    """Flat 'section.field' -> number/text/bool, as TensorBoard's HPARAMS tab takes them."""
    flat = {}
    for section, values in config.to_dict().items():
        if isinstance(values, dict):
            for name, v in values.items():
                flat[f"{section}.{name}"] = v if isinstance(v, (int, float, str, bool)) else str(v)
    return flat


class TensorBoardLog:
    """Call with each trainer event; closes itself when the run finishes."""

    def __init__(self, run_dir: str | Path, config: Config, start_step: int = 0):
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        # purge_step: a resumed run's events replace those written after its checkpoint.
        self.writer = SummaryWriter(str(RunFolder(run_dir).tensorboard), purge_step=start_step or None)
        self.step = start_step
        # hparams into this run's own event file (add_hparams would start a separate run).
        experiment, start, end = hparams(_hparams(config), {"quality/frechet": 0.0, "quality/fid": 0.0})
        for summary in (experiment, start, end):
            # torch's SummaryWriter declares file_writer as None; its __init__ has opened it by now.
            self.writer.file_writer.add_summary(summary)  # type: ignore[attr-defined]
        self.writer.add_text("config", f"```\n{config.to_json()}\n```", start_step)

    def __call__(self, e: object) -> None:
        w = self.writer
        if isinstance(e, ev.Metrics):
            for name, tag in SCALARS.items():
                w.add_scalar(tag, getattr(e, name), e.step)
        elif isinstance(e, ev.Samples):
            w.add_image("samples", np.ascontiguousarray(e.grid), e.step, dataformats="HWC")
        elif isinstance(e, ev.Quality):
            w.add_scalar("quality/frechet", e.frechet, e.step)
            if e.accuracy is not None:
                w.add_scalar("quality/drawn_as_asked", e.accuracy, e.step)
        elif isinstance(e, ev.HyperparamsChanged):
            w.add_text("changes", ", ".join(f"{k} = {v}" for k, v in e.changes.items()), e.step)
        elif isinstance(e, ev.Finished):
            self.close()

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
