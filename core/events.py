"""What the trainer reports. Plain data only: no tensor crosses into a GUI."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np


@dataclass(frozen=True)
class Started:
    step: int
    total_steps: int
    device: str
    dataset: str
    dataset_size: int
    config: dict


@dataclass(frozen=True)
class StateChanged:
    state: str  # loading, running, paused, stopped, finished
    step: int
    message: str = ""


@dataclass(frozen=True)
class Progress:
    task: str  # e.g. "Decoding pictures"
    done: int
    total: int


@dataclass(frozen=True)
class Metrics:
    step: int
    epoch: float
    g_loss: float
    d_loss: float
    d_real: float  # mean D(x): a probability for BCE-type losses, a raw score otherwise
    d_fake: float  # mean D(G(z))
    images_per_s: float
    lr_g: float
    lr_d: float
    # Wall-clock seconds (Unix time) of the log tick, for plots by time; NaN in rows of runs written
    # before it was recorded.
    time: float = math.nan
    # Adaptive augmentation's chance p of augmenting each picture (0 to 1); NaN when not adaptive.
    augment: float = math.nan


@dataclass(frozen=True)
class Samples:
    step: int
    grid: np.ndarray  # uint8, H x W x 3
    columns: int
    row_labels: tuple[int, ...] = ()  # the class of each row, for a conditional GAN


@dataclass(frozen=True)
class Quality:
    """A quality reading: the digit probe's (core/quality/digits.py), or for other pictures the picture
    reading's (core/quality/picture_reading.py: a fixed random network's features; classes are then the
    groups of the folder's pictures)."""
    step: int
    frechet: float  # Frechet distance to the real pictures in the reading's features; lower is better
    histogram: tuple[float, ...]  # share of samples the classifier puts in each class (pictures: group)
    missing_classes: tuple[int, ...]  # classes the generator (almost) never draws
    collapse: bool  # mode collapse warning
    accuracy: float | None  # conditional GAN: share drawn as the class asked for
    confidence: float  # NaN for pictures (no classifier)
    # Pictures (core/quality/picture_reading.py): each group's share of the folder's pictures, which the
    # histogram's shares are held against; empty for digits (their classes are even).
    reference: tuple[float, ...] = ()
    # A folder with sub-folders: each group's sub-folder (an index into kind_names), the groups being made
    # inside them; empty otherwise (core/quality/kinds_drawn.py adds the shares up per sub-folder).
    group_kinds: tuple[int, ...] = ()
    kind_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImageQuality:
    """FID/KID in Inception-v3 features (own pictures, colour datasets); lower is better."""
    step: int
    fid: float
    kid: float  # KID (MMD^2), mean over subsets; about 0 for samples like the real images
    kid_std: float
    samples: int  # readings compare only at the same count and network
    network: str  # which Inception weights: "pytorch-fid" (the standard FID network) or "torchvision"
    seconds: float


@dataclass(frozen=True)
class BestReading:
    """A quality reading that is the run's best so far (lower is better). Kept in the run folder, so an
    opened or resumed run knows its best moment too."""
    step: int
    value: float
    reading: str  # "FD" (the digit probe's Frechet distance) or "FID"
    recorded: ClassVar[bool] = True  # the run folder keeps it (events.jsonl); history replays it


@dataclass(frozen=True)
class QualityOff:
    reason: str  # why the quality metric does not apply to this run


@dataclass(frozen=True)
class HyperparamsChanged:
    step: int
    changes: dict = field(default_factory=dict)  # 'optim.lr_g' -> new value


@dataclass(frozen=True)
class Notice:
    message: str  # something the person should know that is not an error


@dataclass(frozen=True)
class ErrorEvent:
    step: int
    message: str


@dataclass(frozen=True)
class Checkpointed:
    step: int
    path: str


@dataclass(frozen=True)
class Saved:
    step: int
    kind: str  # 'generator' or 'checkpoint'
    path: str


@dataclass(frozen=True)
class GeneratorSnapshot:
    """The sampling generator (EMA when on) as plain arrays, for drawing off the trainer's thread."""
    step: int
    config: dict
    weights: dict  # state-dict name -> np.ndarray (a copy)
    fixed_noise: np.ndarray  # the gallery grid's noise, one row per cell
    fixed_labels: np.ndarray | None  # the grid's classes (conditional)
    columns: int


@dataclass(frozen=True)
class Finished:
    step: int
    stopped: bool  # True when stopped before the last step
    run_dir: str


@dataclass(frozen=True)
class TrialStarted:
    """A sweep's trial (core/sweeps) begins or continues training in its own run folder."""
    number: int  # Optuna's trial number (the folder is trial-NNNN)
    run_dir: str
    values: dict  # 'optim.lr_g' -> the trial's value, for every setting the sweep varies


@dataclass(frozen=True)
class TrialFinished:
    number: int
    state: str  # complete, pruned, failed, or interrupted (stopped with its checkpoint: the sweep continues it)
    reading: float | None  # the trial's value: its last quality reading (None when it took none)
    step: int  # the step it trained to
