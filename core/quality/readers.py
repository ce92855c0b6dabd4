"""A run's quality readers: the digit probe for handwritten digits; for other pictures the picture
reading (a fixed random network's features: no download) and FID/KID in Inception features where the
weights are on disk; or none and why (ev.QualityOff).

The trainer builds them beside its Session, on rank 0 alone under torchrun, and takes their
readings between steps; digits.py and readings.py do the scoring.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from core import events as ev
from core.config import Config
from core.data.datasets import ImageSet
from core.models import sample_noise
from core.quality import readings as fid_readings
from core.quality.digits import MetricsError, QualityProbe, supports
from core.quality.picture_reading import MIN_PER_GROUP, PictureReading, default_groups
from core.sharing.export import to_uint8

PICTURES_TASK = "Features of the folder's pictures (once per run)"


@dataclass
class QualityReaders:
    device: torch.device
    probe: QualityProbe | None = None  # handwritten digits: the bundled classifier
    fid: fid_readings.FIDReadings | None = None  # other pictures; None once a reading failed
    off: str = ""  # why none reads this run ('' when one does, and on the ranks after the first)
    dataset: ImageSet | None = None  # other pictures: the folder the picture reading reads against
    pictures: PictureReading | None = None  # built at the first picture reading (its reference: once per run)

    @classmethod
    def for_run(cls, config: Config, dataset: ImageSet, device: torch.device) -> QualityReaders:
        """The digit classifier for digits; for other pictures the picture reading every run.quality_every
        steps and FID/KID where the Inception weights are on disk."""
        digits, _ = supports(config)
        if not digits:
            reason = fid_readings.off_reason(config)
            fid = None if reason else fid_readings.FIDReadings(config, dataset, device, fid_readings.WEIGHTS)
            if config.run.quality_every:
                return cls(device, None, fid, "", dataset)
            off = "picture readings are switched off (run.quality_every = 0)"
            return cls(device, None, fid, "" if fid else f"{off}; {reason}" if reason else off)
        if not config.run.quality_every:
            return cls(device, off="quality readings are switched off (run.quality_every = 0)")
        try:
            return cls(device, QualityProbe.load(device))
        except MetricsError as e:
            return cls(device, off=str(e))

    @torch.no_grad()
    def read_digits(self, generator: torch.nn.Module, config: Config, step: int) -> ev.Quality:
        """Score fresh samples (a fixed seed, so readings compare) with the digit classifier."""
        m, n, device, probe = config.model, config.run.quality_samples, self.device, self.probe
        assert probe is not None  # the caller reads digits only where there is a probe
        gen = torch.Generator(device=device).manual_seed(config.run.seed + 2)
        z = sample_noise(n, m.z_dim, m.noise, device, gen)
        labels = torch.arange(n, device=device) % m.num_classes if m.conditional else None
        generator.eval()
        images = to_uint8(generator(z, labels), m.g_output)
        generator.train()
        r = probe.evaluate(images, labels.cpu() if labels is not None else None)
        return ev.Quality(step, r.frechet, r.histogram, r.missing_classes, r.collapse, r.accuracy, r.confidence)

    @property
    def reads_quality(self) -> bool:
        """Readings every run.quality_every steps: the digit probe's or the picture reading's."""
        return self.probe is not None or self.dataset is not None

    def read(self, generator: torch.nn.Module, config: Config, step: int, progress) -> ev.Quality:
        """The reading due every run.quality_every steps; progress(done, total, task) while the picture
        reading's reference is computed (its first reading)."""
        if self.probe is not None:
            return self.read_digits(generator, config, step)
        return self.read_pictures(generator, config, step, progress)

    @torch.no_grad()
    def read_pictures(self, generator: torch.nn.Module, config: Config, step: int, progress) -> ev.Quality:
        """Score fresh samples (a fixed seed, so readings compare) against the folder's pictures."""
        assert self.dataset is not None  # the caller reads pictures only where there is a folder
        if self.pictures is None:
            groups = _groups(config, len(self.dataset))
            # A folder's cache key names its exact pictures; their sub-folders' names make the groups too.
            key = (self.dataset.key, groups, str(self.device), self.dataset.kind_names)
            self.pictures = _REFERENCES.get(key) if self.dataset.key else None
            if self.pictures is None:
                progress(0, 1, PICTURES_TASK)
                self.pictures = PictureReading(self.dataset.images, self.device, groups,
                                               kinds=self.dataset.kinds, kind_names=self.dataset.kind_names)
                progress(1, 1, PICTURES_TASK)
                if self.dataset.key:
                    _REFERENCES.clear()  # the last folder's only: a sweep's trials, a resume in the app
                    _REFERENCES[key] = self.pictures
        started = time.perf_counter()
        m, n, device = config.model, config.run.quality_samples, self.device
        gen = torch.Generator(device=device).manual_seed(config.run.seed + 2)
        z = sample_noise(n, m.z_dim, m.noise, device, gen)
        labels = torch.arange(n, device=device) % m.num_classes if m.conditional else None
        was_training = generator.training
        generator.eval()
        try:
            images = torch.cat([to_uint8(generator(z[i:i + CHUNK], labels[i:i + CHUNK] if labels is not None else None),
                                         m.g_output) for i in range(0, n, CHUNK)])
        finally:
            generator.train(was_training)
        r = self.pictures.score(images, started)
        return ev.Quality(step, r.frechet, r.shares, r.missing, r.collapse, None, float("nan"), r.folder_shares,
                          r.group_kinds, r.kind_names)


# The last folder's reference, kept for the process: the next run on the same pictures (a sweep's next trial)
# reads against it at once instead of computing it again (seconds on a CPU).
_REFERENCES: dict[tuple, PictureReading] = {}
CHUNK = 250  # samples drawn at a time: a 128 px generator's activations for 1,000 at once are large


def _groups(config: Config, pictures: int) -> int:
    """Coverage's groups: as many as the run's clusters where it is self-conditioned and the folder holds
    MIN_PER_GROUP pictures for each, else default_groups (one per 100 pictures)."""
    clusters = config.model.clusters
    if isinstance(clusters, int) and 2 <= clusters <= pictures // MIN_PER_GROUP:
        return clusters
    return default_groups(pictures)
