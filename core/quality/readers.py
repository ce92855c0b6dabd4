"""A run's quality readers: the digit probe for handwritten digits, FID/KID in Inception features
for other pictures where the weights are on disk, or neither and why (ev.QualityOff).

The trainer builds them beside its Session, on rank 0 alone under torchrun, and takes their
readings between steps; digits.py and readings.py do the scoring.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core import events as ev
from core.config import Config
from core.data.datasets import ImageSet
from core.models import sample_noise
from core.quality import readings as fid_readings
from core.quality.digits import MetricsError, QualityProbe, supports
from core.sharing.export import to_uint8


@dataclass
class QualityReaders:
    device: torch.device
    probe: QualityProbe | None = None  # handwritten digits: the bundled classifier
    fid: fid_readings.FIDReadings | None = None  # other pictures; None once a reading failed
    off: str = ""  # why neither reads this run ('' when one does, and on the ranks after the first)

    @classmethod
    def for_run(cls, config: Config, dataset: ImageSet, device: torch.device) -> QualityReaders:
        """The digit classifier for digits, FID/KID for other pictures where the weights are on disk."""
        digits, _ = supports(config)
        if not digits:
            reason = fid_readings.off_reason(config)
            fid = None if reason else fid_readings.FIDReadings(config, dataset, device, fid_readings.WEIGHTS)
            return cls(device, None, fid, reason)
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
