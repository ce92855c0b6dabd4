"""FID/KID readings during training, for data the digit classifier does not know.

Every run.fid_every steps the sampling generator draws run.fid_samples images from fixed
noise and core/quality/inception.py scores them against the real images in Inception-v3 features. The
real images' features are computed once per dataset and kept in the data cache. Nothing
here downloads: without the weights on disk the readings are off and the reason says how
to get them. A reading runs between steps on the trainer's thread (a second thread would
fight the trainer for the same cores); it reports its progress and gives way to a stop.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from core import events as ev
from core.config import Config
from core.data.datasets import ImageSet, cache_dir
from core.models import sample_noise
from core.quality.inception import (
    FIDError,
    FIDProbe,
    InceptionFeatures,
    find_inception_weights,
    real_features,
    unavailable_reason,
)
from core.sharing.export import to_uint8

WEIGHTS = "auto"  # the Inception weights on disk; tests set "random" (the same network, random weights)
CHUNK = 50  # images generated and scored at a time: progress, and a stop is noticed, between chunks
N_REAL = 1000  # real images whose features are the reference (all of them for a smaller dataset)


def off_reason(config: Config) -> str:
    """'' when readings can be taken for this run, else why not, in plain words."""
    if not config.run.fid_every:
        return "FID readings are switched off (run.fid_every = 0)"
    if WEIGHTS == "auto" and find_inception_weights() is None:
        return unavailable_reason()
    return ""


class FIDReadings:
    def __init__(self, config: Config, dataset: ImageSet, device: torch.device, weights: str | Path = "auto"):
        self.config, self.dataset, self.device, self.weights = config, dataset, device, weights
        self.probe: FIDProbe | None = None  # built at the first reading, not at start-up

    def _real_images(self) -> torch.Tensor:
        images, seed = self.dataset.images, self.config.run.seed
        n = len(self.dataset)
        pick = np.sort(torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()[:N_REAL])
        return torch.from_numpy(np.asarray(images[torch.from_numpy(pick)] if isinstance(images, torch.Tensor)
                                           else images[pick]))

    def _probe(self, progress) -> FIDProbe:
        if self.probe is None:
            extractor = InceptionFeatures(self.weights, self.device)
            real = self._real_images()
            cache = None
            if self.dataset.key:
                cache = cache_dir(self.config.data) / "fid" / f"{self.dataset.key}-{extractor.kind}-{len(real)}.npz"
            progress(0, len(real), "Features of the real pictures (once per dataset)")
            stats = real_features(real, lambda x: _chunked(extractor, x, progress,
                                                           "Features of the real pictures (once per dataset)"),
                                  cache)
            self.probe = FIDProbe(extractor, stats, seed=self.config.run.seed)
        return self.probe

    @torch.no_grad()
    def measure(self, generator: torch.nn.Module, step: int, progress, should_stop) -> ev.ImageQuality | None:
        """One reading (None when a stop cut it short). progress(done, total, task)."""
        start = time.perf_counter()
        probe = self._probe(progress)
        m, n = self.config.model, self.config.run.fid_samples
        gen = torch.Generator(device=self.device).manual_seed(self.config.run.seed + 3)
        z = sample_noise(n, m.z_dim, m.noise, self.device, gen)
        labels = torch.arange(n, device=self.device) % m.num_classes if m.conditional else None
        was_training = generator.training
        generator.eval()
        feats = []
        try:
            for i in range(0, n, CHUNK):
                if should_stop():
                    return None
                y = labels[i:i + CHUNK] if labels is not None else None
                feats.append(probe.extractor(to_uint8(generator(z[i:i + CHUNK], y), m.g_output)))
                progress(min(i + CHUNK, n), n, "Scoring samples (FID)")
        finally:
            generator.train(was_training)
        report = probe.score(torch.cat(feats), time.perf_counter() - start)
        return ev.ImageQuality(step, report.fid, report.kid_mean, report.kid_std, report.samples, probe.kind,
                               report.seconds)


def _chunked(extractor: InceptionFeatures, images: torch.Tensor, progress, task: str) -> torch.Tensor:
    out = []
    for i in range(0, len(images), CHUNK):
        out.append(extractor(images[i:i + CHUNK]))
        progress(min(i + CHUNK, len(images)), len(images), task)
    return torch.cat(out)


__all__ = ["FIDReadings", "FIDError", "off_reason"]
