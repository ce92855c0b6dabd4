"""Named starting points: the seed tutorials reproduced, and better defaults."""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

from core.config import Config, ConfigError, DataConfig, LossConfig, ModelConfig, OptimConfig, RunConfig

# The improved MLP: no BatchNorm on G's output (it smears digits), Adam
# beta1 = 0.5 (steadier adversarial game), LeakyReLU(0.2) and dropout in D,
# one-sided label smoothing, EMA of G's weights for sampling.
_MLP = Config(
    preset="mlp",
    model=ModelConfig(z_dim=64, g_hidden=(256, 512, 1024), d_hidden=(1024, 512, 256), g_norm=True,
                      g_output_norm=False, g_activation="relu", g_output="tanh", d_dropout=0.3),
    loss=LossConfig(kind="bce", label_smoothing=0.1),
    optim=OptimConfig(lr_g=2e-4, lr_d=2e-4, betas_g=(0.5, 0.999), betas_d=(0.5, 0.999)),
    run=RunConfig(steps=5000, batch_size=64, ema=0.999),
)

# The small DCGAN (32 base channels) with the MLP's recipe: the default until issue 8, and still
# the base of `conditional` (Frechet distance about 2, 98% drawn as asked) and of the DCGAN presets.
_DCGAN = Config(
    preset="dcgan",
    model=ModelConfig(arch="dcgan", z_dim=64, g_hidden=(32,), d_hidden=(32,), g_output="tanh"),
    loss=_MLP.loss, optim=_MLP.optim, run=_MLP.run,
)

# The default: the same small DCGAN, trained the SNGAN way and self-conditioned. Spectral normalisation in
# D and the hinge loss keep D smooth, so G can take large steps: Adam lr 8e-4 with beta1 = 0 (no momentum
# to overshoot a moving target); a light R1 penalty (gamma 1, every 16 steps) on real digits keeps D from
# sharpening around them. Self-conditioning on 50 k-means clusters of the digits' pixels (no labels; D sees
# each cluster by projection, G draws each as often as the data holds it) is what evens out the digits and
# cleans the strokes: after 5,000 steps the Frechet distance is about a tenth of the earlier recipe's, with
# every digit 7-13% of the samples (docs/benchmarks.md; the note of issue 8 lists what else was tried).
_DEFAULT = Config(
    preset="default",
    model=replace(_DCGAN.model, d_spectral_norm=True, clusters=50),
    loss=LossConfig(kind="hinge", label_smoothing=0.0, r1_gamma=1.0),
    optim=OptimConfig(lr_g=8e-4, lr_d=8e-4, betas_g=(0.0, 0.99), betas_d=(0.0, 0.99)),
    run=_DCGAN.run,
)


# Your own pictures: a folder of colour pictures at 64 px (--set data.image_size=128 for 128). A DCGAN
# with spectral normalisation and minibatch std in D and the hinge loss (the pairing SNGAN measured as
# the steadiest) trained as the default is (Adam beta1 = 0, a larger lr: on 2,000 synthetic pictures it
# drew outlined shapes after 6,000 steps where Adam (0.5, 0.999) at 2e-4 drew only colour blobs),
# adaptive DiffAugment (data.augment = auto: StyleGAN2-ADA's rule sets how often, from none for a folder
# large enough not to need it), self-conditioning on k-means clusters of the pictures' colours and edges, one per 100 pictures
# (model.clusters = auto: every kind of picture drawn about as often as the folder holds it), made inside each
# top-level sub-folder when the folder has several (model.clusters_by_folder: a folder sorted into drakes/,
# dwarves/... is a folder of kinds; on Wesnoth's sprites at 20 minutes FD 7.75 -> 5.89 and the least-drawn race
# 0.43 -> 0.64 of its share, docs/benchmarks.md). Widths for a
# CPU: G of 32 base channels, D of 16 (issue #27: at equal wall time on 2 CPU cores, G 32 / D 16 drew
# Wesnoth's sprites best; G 16, the preset before, learned less a minute; G 48, or D 32, cost too much time a
# step; FastGAN's skip-layer excitation (model.arch = lite) and R3GAN's RpGAN + R1 loss trailed:
# docs/benchmarks.md). On a GPU the preset is wider (ON_A_GPU below).
_FOLDER = Config(
    preset="folder",
    data=DataConfig(dataset="folder", image_size=64, channels=3),
    model=ModelConfig(arch="dcgan", z_dim=128, g_hidden=(32,), d_hidden=(16,), d_spectral_norm=True, d_mbstd=True,
                      clusters="auto", clusters_by_folder=True),
    loss=LossConfig(kind="hinge", label_smoothing=0.0),
    optim=OptimConfig(lr_g=4e-4, lr_d=4e-4, betas_g=(0.0, 0.99), betas_d=(0.0, 0.99)),
    # The picture reading every 1,000 steps: 2.1 s for 1,000 samples at 64 px on 2 CPU cores, 4.5% of this
    # preset's 0.045 s steps there (bench/reading_agreement.py --cost, docs/benchmarks.md).
    run=RunConfig(steps=20000, batch_size=64, ema=0.999, sample_every=500, checkpoint_every=1000, keep_every=5000,
                  quality_every=1000, fid_every=5000, fid_samples=500),
)


def _named(config: Config, name: str) -> Config:
    return Config.from_dict({**config.to_dict(), "preset": name})


PRESETS: dict[str, Config] = {
    "default": _DEFAULT,
    "mlp": _MLP,
    "conditional": _named(_DCGAN.with_values(**{"model.conditional": True}), "conditional"),
    "folder": _FOLDER,
    # seed-000: 4 Linear+BatchNorm+ReLU blocks (h, 2h, 4h, 8h), sigmoid output,
    # data in [0, 1]; its course's discriminator (4h, 2h, h, LeakyReLU 0.2).
    "seed-000": Config(
        preset="seed-000",
        model=ModelConfig(z_dim=10, g_hidden=(128, 256, 512, 1024), d_hidden=(512, 256, 128), g_norm=True,
                          g_activation="relu", g_output="sigmoid"),
        loss=LossConfig(kind="bce", label_smoothing=0.0),
        optim=OptimConfig(lr_g=1e-5, lr_d=1e-5, betas_g=(0.9, 0.999), betas_d=(0.9, 0.999)),
        run=RunConfig(batch_size=128),
    ),
    # seed-001: MLPs with LeakyReLU(0.2) and dropout 0.3, D outputs logits for
    # BCEWithLogits, G ends in tanh, uniform noise, smoothed real labels.
    "seed-001": Config(
        preset="seed-001",
        model=ModelConfig(z_dim=100, g_hidden=(32, 64, 128), d_hidden=(128, 64, 32), g_norm=False,
                          g_activation="leaky_relu", g_output="tanh", g_dropout=0.3, d_dropout=0.3,
                          noise="uniform"),
        loss=LossConfig(kind="bce", label_smoothing=0.1),
        optim=OptimConfig(lr_g=2e-3, lr_d=2e-3, betas_g=(0.9, 0.999), betas_d=(0.9, 0.999)),
    ),
    # seed-004: linear blocks with BatchNorm, including on G's output layer,
    # LeakyReLU(0.2), tanh; D ends in sigmoid + BCELoss (computed here as the
    # identical, stabler BCE-with-logits); Adam lr 2e-4 with default betas.
    "seed-004": Config(
        preset="seed-004",
        model=ModelConfig(z_dim=100, g_hidden=(256, 512, 1024), d_hidden=(1024, 512, 256), g_norm=True,
                          g_output_norm=True, g_activation="leaky_relu", g_output="tanh"),
        loss=LossConfig(kind="bce", label_smoothing=0.1),
        optim=OptimConfig(lr_g=2e-4, lr_d=2e-4, betas_g=(0.9, 0.999), betas_d=(0.9, 0.999)),
    ),
    # DCGAN (Radford et al.): strided convolutions, BatchNorm, ReLU in G and
    # LeakyReLU(0.2) in D, Adam (0.5, 0.999).
    "dcgan-mnist": _named(_DCGAN.with_values(**{"model.g_hidden": [64], "model.d_hidden": [64]}),
                          "dcgan-mnist"),
    "dcgan-cifar10": _named(_DCGAN.with_values(**{
        "data.dataset": "cifar10", "data.image_size": 32, "data.channels": 3,
        "model.g_hidden": [64], "model.d_hidden": [64], "model.z_dim": 100}), "dcgan-cifar10"),
}


class Description(NamedTuple):
    summary: str  # a few words, for the app's preset list ("seed-000 — MLP, sigmoid")
    text: str  # what it is and where it comes from, for the list's tooltip


# Each preset in plain words (the comments above say why each choice was made).
DESCRIPTIONS: dict[str, Description] = {
    "default": Description("SNGAN-style DCGAN",
                           "The small DCGAN trained the SNGAN way: spectral normalisation in D, the hinge loss, "
                           "Adam at lr 8e-4 with beta1 = 0 and a light R1 penalty, self-conditioned on 50 "
                           "clusters of the digits. The cleanest digits, every one drawn about as often."),
    "mlp": Description("improved MLP",
                       "Fully connected G and D with what the seed tutorials lacked: no BatchNorm on G's output, "
                       "Adam beta1 = 0.5, LeakyReLU(0.2) and dropout in D, one-sided label smoothing and an EMA "
                       "of G's weights for sampling."),
    "conditional": Description("pick the digit",
                               "A conditional DCGAN: the digit's label goes into G with the noise and into D with "
                               "the image, so each gallery row is one digit and exports can ask for a digit."),
    "folder": Description("your pictures, 64 px",
                          "A folder of colour pictures at 64 px: a DCGAN with spectral normalisation and minibatch "
                          "std in D, the hinge loss, adaptive DiffAugment (as much as the folder needs), and "
                          "self-conditioning on clusters of look-alike pictures (one per 100), made inside each "
                          "sub-folder, so every kind in the folder is drawn as often as it holds it. G of 32 base channels and D of 16 on a CPU (the widths that "
                          "drew best per minute on 2 cores), 64 and 64 on a GPU; widths you set are kept."),
    "seed-000": Description("MLP, sigmoid",
                            "The seed-000 tutorial reproduced: G of 4 Linear+BatchNorm+ReLU blocks (h, 2h, 4h, 8h) "
                            "with a sigmoid output (pictures in [0, 1]), noise of 10 numbers, Adam at lr 1e-5."),
    "seed-001": Description("MLP, dropout",
                            "The seed-001 tutorial reproduced: small MLPs with LeakyReLU(0.2) and dropout 0.3, G "
                            "ending in tanh, uniform noise, smoothed real labels, Adam at lr 2e-3."),
    "seed-004": Description("MLP, BatchNorm",
                            "The seed-004 tutorial reproduced: linear blocks with BatchNorm, on G's output layer "
                            "too, LeakyReLU(0.2) and tanh, smoothed real labels; D's sigmoid + BCE computed as the "
                            "identical, steadier BCE-with-logits; Adam at lr 2e-4 with PyTorch's default betas."),
    "dcgan-mnist": Description("DCGAN, digits",
                               "DCGAN as Radford et al. describe it: strided convolutions, BatchNorm, ReLU in G "
                               "and LeakyReLU(0.2) in D, Adam (0.5, 0.999), 64 base channels, on MNIST digits."),
    "dcgan-cifar10": Description("DCGAN, colour",
                                 "The same DCGAN on CIFAR-10's 32 px colour pictures (downloaded once), with noise "
                                 "of 100 numbers."),
}


# What changes on a GPU: a preset's widths are chosen for a CPU, where each doubling of the base width costs ~4x a
# step; a GPU runs the wider model in about the time of the narrow one, so its preset is wider (what the person
# sets, and a run already made, keep their widths). Not measured on a GPU in this project yet (docs/gpu.md runs it).
ON_A_GPU: dict[str, dict] = {
    "folder": {"model.g_hidden": [64], "model.d_hidden": [64]},
}
GPU_KINDS = ("cuda", "mps")


def preset(name: str, device: str = "cpu") -> Config:
    """The preset `name` for a device of this kind ("cpu", "cuda", "mps": what run.device = auto picks)."""
    try:
        config = PRESETS[name]
    except KeyError:
        raise ConfigError(f"preset {name!r}: unknown; choose one of {', '.join(PRESETS)}") from None
    return config.with_values(**ON_A_GPU[name]) if device in GPU_KINDS and name in ON_A_GPU else config


# How far a preset must train before a folder's pictures come out recognisable, in pictures trained on (steps x
# batch), and what was recognisable then: what bench/pictures.py measured (docs/benchmarks.md, issue #27). With a
# machine's measured rate for the preset's step (core/training/pace.py) it tells a person what to expect there:
# the preset list says it.
class Course(NamedTuple):
    pictures: int  # trained on (steps x batch)
    seen: str  # what a person could name in the samples then, in words for the preset list


RECOGNISABLE_AFTER: dict[str, Course] = {
    # The Dungeon Crawl tiles after 20 minutes on one core of a 2-core Zen 5 EPYC (11,910 steps of 64, the preset
    # with its clusters inside the sub-folders): brick and stone walls, floors and doors plain to see, creatures and
    # items still blobs (Wesnoth's sprites then: figures as coloured silhouettes; after 60 minutes a few a person
    # could name).
    "folder": Course(762_240, "walls, floors and textures plain to see; figures still blobs"),
}


def expected_wait(name: str, images_per_s: float) -> float | None:
    """Minutes until `name`'s course is trained at a measured rate; None for a preset without one."""
    course = RECOGNISABLE_AFTER.get(name)
    return course.pictures / images_per_s / 60 if course and images_per_s > 0 else None


def wait_in_words(minutes: float, device: str) -> str:
    """'about 20 minutes on this CPU' in words a person reads in a list."""
    where = {"cpu": "this CPU", "cuda": "this GPU", "mps": "this Mac's GPU"}.get(device, device)
    if minutes < 1.5:
        return f"about a minute on {where}"
    if minutes < 90:
        return f"about {_round(minutes)} minutes on {where}"
    return f"about {minutes / 60:.0f} hours on {where}"


def wait_short(minutes: float) -> str:
    """'~20 min': wait_in_words' figure for a list entry, rounded the same way."""
    if minutes < 1.5:
        return "~1 min"
    return f"~{_round(minutes)} min" if minutes < 90 else f"~{minutes / 60:.0f} h"


def _round(minutes: float) -> int:
    step = 1 if minutes < 10 else 5
    return max(1, int(round(minutes / step)) * step)
