"""Run configuration: frozen dataclasses, validated at the edge, JSON/TOML round-trip.

Every field is checked when a config is built, so a bad value is reported with
the field's name, the value and what is allowed, long before torch sees it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar, get_type_hints

from core.bounded_read import FileRefused, load_json, load_toml, loads_json
from core.config_schema import ConfigError, Setting, boolean, choice, number, numbers, plain_text, whole

# The options of the choice fields, each with what the form shows for it ('auto' means something else for
# each). Short enough that the widest sets the form's width without crowding it (docks share a 1366 px screen).
DATASET_NAMES = {"bundled": "Bundled MNIST (5,000 digits)", "mnist": "MNIST (downloads once)",
                 "fashion-mnist": "Fashion-MNIST (downloads)", "cifar10": "CIFAR-10 (colour, downloads)",
                 "folder": "Image folder…"}
DATASETS = tuple(DATASET_NAMES)
STREAM_NAMES = {"auto": "Auto (folders too large)", "on": "On (read from disk)", "off": "Off (all in memory)"}
ARCH_NAMES = {"mlp": "MLP (fully connected)", "dcgan": "DCGAN (convolutional)", "resnet": "ResNet (SNGAN-style)",
              "lite": "Lite (DCGAN + skip-layer excitation)"}
ARCHS = tuple(ARCH_NAMES)
CONV_IMAGE_SIZES = (28, 32, 64, 128)  # what the convolutional models are built for
AUGMENT_MODE_NAMES = {"auto": "Auto (adaptive for folders)", "adaptive": "Adaptive", "on": "Always", "off": "Off"}
AUGMENT_MODES = tuple(AUGMENT_MODE_NAMES)
AUGMENT_POLICIES = ("color", "translation", "cutout")
# model.clusters = "auto": one cluster per this many pictures, at most CLUSTERS_AUTO_MAX; none under two.
CLUSTERS_AUTO_PER = 100
CLUSTERS_AUTO_MAX = 50
CLUSTERS_MAX = 100  # model.clusters' bound
# The one registry of the losses: name -> (what the form shows, what it is). core/training/losses.py maps
# these names to their classes and refuses to import when the two differ.
LOSS_KINDS = {
    "bce": ("BCE (non-saturating)", "binary cross-entropy, with G's non-saturating loss (it maximises "
            "log D(G(z)), which keeps its gradients alive early on)"),
    "minimax": ("Minimax (original)", "the original game: G minimises log(1 - D(G(z)))"),
    "lsgan": ("LSGAN (least squares)", "least squares: D's outputs pulled towards 1 for real, 0 for fake"),
    "hinge": ("Hinge", "the hinge loss, the usual partner of D's spectral norm"),
    "wgan-gp": ("WGAN-GP", "a Wasserstein critic with a gradient penalty (loss.gp_weight)"),
    "rpgan": ("RpGAN (relativistic)", "relativistic pairing (R3GAN's loss): D scores each real against a fake, "
              "softplus(D(fake) - D(real)), and G the reverse; with loss.r1_gamma it is R3GAN's regularised "
              "objective"),
}
LOSSES = tuple(LOSS_KINDS)
# 'auto' names the device it picks once the studio has looked (torch is not imported at its start-up).
DEVICE_NAMES = {"auto": "Automatic", "cpu": "CPU", "cuda": "CUDA GPU", "mps": "Apple MPS"}
DEVICES = tuple(DEVICE_NAMES)
PRECISION_NAMES = {"auto": "Auto (bf16 where fast)", "fp32": "fp32", "bf16": "bf16"}
PRECISIONS = tuple(PRECISION_NAMES)
COMPILE_NAMES = {"auto": "Auto (where it pays)", "off": "Off", "on": "On (torch.compile)"}
COMPILE_SETTINGS = tuple(COMPILE_NAMES)  # run.compile (core/training/fast_path.py)


# --- field rules ---------------------------------------------------------


def clusters_for(dataset_size: int) -> int:
    """What model.clusters = "auto" means for a dataset of this many pictures."""
    k = min(CLUSTERS_AUTO_MAX, dataset_size // CLUSTERS_AUTO_PER)
    return k if k >= 2 else 0


_AUGMENT_POLICY = plain_text(parts=AUGMENT_POLICIES, part_name="an augmentation")


def parse_augment_policy(text: str) -> tuple[str, ...]:
    """'color,translation' -> ('color', 'translation'); ConfigError naming an unknown part."""
    return _AUGMENT_POLICY.parts_of(text)


_WIDTHS = numbers("int", 1, 8192, length=(1, 8), item_name="layer widths")
_BETAS = numbers("float", 0.0, 0.9999, length=(2, 2))
_LOSS_KIND = choice({name: shown for name, (shown, _) in LOSS_KINDS.items()},
                    help={name: about for name, (_, about) in LOSS_KINDS.items()})
_LOSS_HELP = "How D and G are scored: " + "; ".join(f"'{name}', {about}" for name, (_, about) in LOSS_KINDS.items()) + "."


def rule(setting: Setting, doc: str, *, label: str, live: bool = False, **kw):
    """A dataclass field carrying what it takes (its Setting, whose check is its validator), the form's
    label, a plain-words help text, and whether it may change while a run trains."""
    described = replace(setting, label=label, help=doc, live=live)
    return field(metadata={"setting": described, "check": described.check, "doc": doc}, **kw)


class _Section:
    """Validation shared by the config sections: run every field's rule."""

    # Every subclass is a dataclass; declared so the type checker lets fields(self) through.
    __dataclass_fields__: ClassVar[dict[str, Any]]

    def __post_init__(self) -> None:
        section = SECTION_NAMES[type(self)]
        for f in fields(self):
            f.metadata["check"](f"{section}.{f.name}", getattr(self, f.name))
        self._check_together(section)

    def _check_together(self, section: str) -> None:
        pass


@dataclass(frozen=True)
class DataConfig(_Section):
    dataset: str = rule(choice(DATASET_NAMES), "Where the real images come from. 'bundled' is a 5,000-digit MNIST "
                        "sample shipped with the app; 'folder' reads any folder of images.", label="Dataset",
                        default="bundled")
    folder: str = rule(plain_text(), "The image folder, when dataset is 'folder'.", label="Folder", default="")
    image_size: int = rule(whole(8, 256), "Side of the square images, in pixels. MNIST is 28, CIFAR-10 is 32.",
                           label="Image size (px)", default=28)
    channels: int = rule(choice({1: "1 (grayscale)", 3: "3 (colour)"}), "1 for grayscale, 3 for colour.",
                        label="Channels", default=1)
    cache_dir: str = rule(plain_text(), "Where downloaded datasets and decoded image folders are kept; empty means "
                          "the user cache folder.", label="Cache folder", default="")
    stream: str = rule(choice(STREAM_NAMES), "Where the training images live while training. 'off' "
                       "holds them all in the training device's memory (fastest); 'on' leaves a decoded image "
                       "folder on disk and reads the next batches ahead in the background; 'auto' streams only "
                       "a folder too large for the device's memory.", label="Stream from disk", default="auto")
    augment: str = rule(choice(AUGMENT_MODE_NAMES), "Differentiable augmentation (DiffAugment): real and generated "
                        "images are shifted, partly blanked out and recoloured before the discriminator sees "
                        "them. With few pictures the discriminator otherwise learns them by heart and stops "
                        "teaching the generator. 'adaptive' (StyleGAN2-ADA's rule) augments each picture with "
                        "a chance that grows while the discriminator is too sure of the real pictures and "
                        "shrinks when it is not, so it augments only as much as the data needs; 'on' always "
                        "augments every picture. 'auto' is adaptive for image folders (with many pictures "
                        "it stays near none) and off for the built-in datasets.", label="DiffAugment", default="auto")
    augment_target: float = rule(number(0.0, 1.0), "Adaptive augmentation's target for how sure the "
                                 "discriminator may be of the real pictures: the share of them it scores as "
                                 "real, counted as 1 for each it calls real and -1 for each it calls fake "
                                 "(StyleGAN2-ADA's r_t; 0.6 there). Above it the augmentation strengthens, "
                                 "below it weakens.", label="Adaptive target", default=0.6)
    augment_policy: str = rule(_AUGMENT_POLICY, "Which augmentations, comma-separated: color, translation, cutout.",
                               label="Augmentations", default="color,translation,cutout")


@dataclass(frozen=True)
class ModelConfig(_Section):
    arch: str = rule(choice(ARCH_NAMES), "'mlp' uses fully connected layers on flattened images; 'dcgan' uses "
                     "convolutions, which suit images better; 'resnet' uses residual convolution blocks "
                     "(SNGAN-style), slower but steadier at 64 and 128 px; 'lite' is the DCGAN with FastGAN's skip-layer "
                     "excitation in G (small maps gate large ones: the layout learned early, for little compute).",
                     label="Model", default="mlp")
    z_dim: int = rule(whole(1, 4096, log=True), "Length of the noise vector z the generator turns into an image. "
                      "More dimensions give G more room for variety.", label="Noise size (z)", default=64)
    g_hidden: tuple = rule(_WIDTHS, "Widths of the generator's hidden layers (for dcgan, lite and resnet, the "
                           "first entry is the base channel count: widths grow to 8x it towards the smallest "
                           "feature map).", label="G hidden sizes", default=(256, 512, 1024))
    d_hidden: tuple = rule(_WIDTHS, "Widths of the discriminator's hidden layers (for dcgan, lite and resnet, "
                           "the first entry is the base channel count).", label="D hidden sizes",
                           default=(1024, 512, 256))
    g_norm: bool = rule(boolean(), "BatchNorm in the generator's hidden layers; steadies early training.",
                        label="G BatchNorm", default=True)
    g_output_norm: bool = rule(boolean(), "BatchNorm on the generator's output layer, as seed-004 does. It tends to "
                               "smear images; off in the default preset.", label="G output BatchNorm", default=False)
    g_activation: str = rule(choice({"relu": "ReLU", "leaky_relu": "LeakyReLU (0.2)"}), "Activation of the generator's hidden layers.",
                             label="G activation", default="relu")
    g_output: str = rule(choice({"tanh": "tanh (−1 to 1)", "sigmoid": "sigmoid (0 to 1)"}), "The generator's output "
                         "squashing: tanh makes pixels in [-1, 1] (real images are scaled to match), sigmoid in "
                         "[0, 1].", label="G output", default="tanh")
    g_resize_output: bool = rule(boolean(), "The dcgan generator's last layer doubles the picture by repeating "
                                 "each pixel, then a 3x3 convolution, instead of a transposed convolution: no fine "
                                 "checkerboard in the pixels, for a few percent more time a step.",
                                 label="G resize output", default=False)
    g_dropout: float = rule(number(0.0, 0.9), "Dropout in the generator's hidden layers (seed-001 uses it).",
                            label="G dropout", default=0.0)
    d_dropout: float = rule(number(0.0, 0.9), "Dropout in the discriminator's hidden layers; slows D down so "
                            "G can keep up.", label="D dropout", default=0.0)
    d_spectral_norm: bool = rule(boolean(), "Spectral normalisation on the discriminator's layers (instead of its "
                                 "BatchNorm): it limits how fast D can change, so it cannot run away from G. "
                                 "The usual partner of the hinge loss.", label="D spectral norm", default=False)
    d_mbstd: bool = rule(boolean(), "Minibatch standard deviation: the discriminator also sees how much the images "
                         "in a batch differ from each other, so a generator that draws only a few kinds of "
                         "image is caught and pushed to draw them all (convolutional models).", label="D minibatch std",
                         default=False)
    d_pack: int = rule(whole(1, 8), "Packing (PacGAN): the discriminator judges this many images at once, so a "
                       "generator that keeps drawing the same few things is caught in every pack. 1 = off; "
                       "the batch size must divide by it.", label="D packing (PacGAN)", default=1)
    noise: str = rule(choice({"gaussian": "Gaussian (normal)", "uniform": "Uniform (−1 to 1)"}), "How the noise "
                      "vector z is drawn: standard normal, or "
                      "uniform in [-1, 1].", label="Noise distribution", default="gaussian")
    conditional: bool = rule(boolean(), "Conditional GAN: the class label goes into G with the noise and into D "
                             "with the image, so you can ask for a given digit.", label="Conditional", default=False)
    num_classes: int = rule(whole(2, 1000), "Number of classes, for a conditional GAN.", label="Classes", default=10)
    clusters: int | str = rule(whole(0, CLUSTERS_MAX, words=("auto",)), "Self-conditioning: before training, the pictures are "
                               "grouped into "
                               "this many clusters of look-alikes (k-means on their pixels; for colour pictures on "
                               "their colours and edges); D judges each picture with its cluster and G draws every "
                               "cluster as often as the data holds it, so no kind of picture is dropped or drawn "
                               "too often. No labels needed; the generator stays unconditional (noise in, picture "
                               "out). 0 = off; 10 to 50 typical; 'auto' = one cluster per 100 pictures, at most "
                               "50 (none under 200 pictures). A conditional GAN uses its labels instead, and a "
                               "dataset with fewer pictures gets one cluster a picture.", label="Self-cond. clusters",
                               default=0)
    clusters_by_folder: bool = rule(boolean(), "Self-conditioning on a folder with sub-folders: the clusters are "
                                    "made inside each top-level sub-folder (a kind of picture: drakes, dwarves...), "
                                    "so no cluster mixes two kinds and G draws every kind as often as the folder "
                                    "holds it. 'auto' clusters are then at least one per sub-folder (at most 100).",
                                    label="Clusters by sub-folder", default=False)


@dataclass(frozen=True)
class LossConfig(_Section):
    kind: str = rule(_LOSS_KIND, _LOSS_HELP, label="Loss", default="bce")
    label_smoothing: float = rule(number(0.0, 0.5), "Real images are labelled 1 - this value instead of 1, so "
                                  "D does not grow overconfident and G keeps getting useful gradients.",
                                  label="Label smoothing", live=True, default=0.1)
    gp_weight: float = rule(number(0.0, 1000.0), "Weight of WGAN-GP's gradient penalty.", label="Gradient penalty",
                            default=10.0)
    r1_gamma: float = rule(number(0.0, 1000.0), "R1 penalty: keeps the discriminator's slope at real images "
                           "small, which steadies training (StyleGAN2's regulariser, applied every 16 steps). "
                           "0 = off; 1 to 10 typical.", label="R1 penalty (gamma)", default=0.0)
    g_top_k: float = rule(number(0.05, 1.0), "Top-k training: the generator learns only from the share of its "
                          "samples the discriminator rates most real, a share that shrinks by 1% an epoch down "
                          "to this value (1 = off, 0.5 typical).", label="G top-k share", default=1.0)
    d_steps: int = rule(whole(1, 20), "Discriminator updates per generator update. D and G must stay balanced: "
                        "a D that wins outright gives G nothing to learn from.", label="D steps per G step", live=True,
                        default=1)


@dataclass(frozen=True)
class OptimConfig(_Section):
    lr_g: float = rule(number(1e-7, 1.0, log=True), "Generator learning rate (Adam).", label="G learning rate",
                       live=True, default=2e-4)
    lr_d: float = rule(number(1e-7, 1.0, log=True), "Discriminator learning rate (Adam).", label="D learning rate",
                       live=True, default=2e-4)
    betas_g: tuple = rule(_BETAS, "Adam's momentum terms for G. beta1 = 0.5 keeps the adversarial game from "
                          "oscillating; PyTorch's default is 0.9.", label="G betas", live=True, default=(0.5, 0.999))
    betas_d: tuple = rule(_BETAS, "Adam's momentum terms for D.", label="D betas", live=True, default=(0.5, 0.999))


@dataclass(frozen=True)
class RunConfig(_Section):
    steps: int = rule(whole(1, 10_000_000), "How many training steps (one step = D update(s) then a G update).",
                      label="Steps", default=5000)
    batch_size: int = rule(whole(1, 65536, log=True), "Real images per discriminator update; under torchrun, per "
                           "process (N processes train on N x this many images a step).", label="Batch size", default=64)
    seed: int = rule(whole(0, 2**31 - 1), "Random seed: the same seed and config give the same run on CPU.",
                     label="Seed", default=0)
    device: str = rule(choice(DEVICE_NAMES), "Where to train: auto picks CUDA, then Apple MPS, then the CPU.",
                       label="Device", default="auto")
    precision: str = rule(choice(PRECISION_NAMES), "Arithmetic: bf16 is faster where the hardware supports it; "
                          "auto picks it there.", label="Precision", default="auto")
    compile: str = rule(choice(COMPILE_NAMES), "Compile G and D with torch.compile: faster steps where it "
                        "pays, after a slower start; live changes still apply without recompiling. auto: only "
                        "where measured to pay (not on CPUs: docs/benchmarks.md).", label="Compile models",
                        default="auto")
    threads: int = rule(whole(0, 256), "CPU threads for torch. 0: all cores headless; in the app, chosen by "
                        "measuring while training (all cores, or one fewer when another program wants a core). "
                        "A fixed number makes CPU runs bitwise reproducible.", label="CPU threads", default=0)
    log_every: int = rule(whole(1, 100_000), "Steps between loss readings (each one syncs with the device).",
                          label="Loss reading every", default=50)
    sample_every: int = rule(whole(1, 1_000_000), "Steps between sample grids from the fixed noise.",
                             label="Sample grid every", default=250)
    checkpoint_every: int = rule(whole(0, 10_000_000), "Steps between checkpoints in the run folder; 0 = only "
                                 "at the end.", label="Checkpoint every", default=1000)
    keep_every: int = rule(whole(0, 10_000_000), "Steps between checkpoints kept for good (checkpoints/"
                           "step_NNNNNN.pt) beside the latest, to fork a new run from that moment. 0 = keep none.",
                           label="Keep checkpoint every", default=1000)
    keep_last: int = rule(whole(0, 100_000), "How many kept checkpoints to hold at most (the oldest go first); "
                          "0 = all of them.", label="Kept at most", default=10)
    ema: float = rule(number(0.0, 0.99999), "Keep an exponential moving average of G's weights for sampling "
                      "(0 = off, 0.999 typical). Smooths out the last steps' jitter.", label="EMA of G (decay)",
                      default=0.0)
    ema_warmup: bool = rule(boolean(), "Let the average follow G closely early in the run (its decay grows from 0.1 "
                            "to run.ema), so the first samples are not smeared by the random start.",
                            label="EMA warm-up", default=True)
    quality_every: int = rule(whole(0, 1_000_000), "Steps between quality readings, lower is better: for digits "
                              "the Frechet distance and class histogram of a bundled digit classifier; for other "
                              "pictures the picture reading (Frechet distance in fixed random networks' features, "
                              "and how often each group of the folder's pictures is drawn; a few seconds on a CPU, "
                              "nothing downloaded). 0 = off.", label="Quality reading every", default=500)
    quality_samples: int = rule(whole(16, 10_000), "Samples scored at each quality reading; readings are "
                                "comparable only at the same count.", label="Quality samples", default=1000)
    fid_every: int = rule(whole(0, 10_000_000), "Steps between FID/KID readings for pictures the digit classifier "
                          "does not know (your own folders, colour datasets): Inception-v3 features of generated "
                          "against real pictures; lower is better. Costly on a CPU (a few images a second), quick "
                          "on a GPU. 0 = off.", label="FID reading every", default=5000)
    fid_samples: int = rule(whole(16, 50_000), "Generated pictures scored at each FID reading; readings are "
                            "comparable only at the same count.", label="FID samples", default=500)
    plateau_readings: int = rule(whole(0, 1000), "After this many readings in a row without a better one (by "
                                 "run.plateau_margin), the run says once that it may have peaked: no better reading "
                                 "since step S (best R). StyleGAN users stop after 3 to 5. 0 = never told.",
                                 label="Plateau after readings", default=5)
    plateau_margin: float = rule(number(0.0, 0.5), "How much lower than the best so far a reading must be to count "
                                 "as better, relative (0.01 = 1%): a reading a hair lower is noise.",
                                 label="Plateau margin", default=0.01)
    stop_on_plateau: bool = rule(boolean(), "Stop the run (with its final checkpoint) when it is told it may have "
                                 "peaked, instead of training on: for headless runs and sweeps. The run's best "
                                 "generator is kept either way (best/ in its folder).", label="Stop on plateau",
                                 default=False)
    grid_size: int = rule(whole(1, 400), "How many samples the progress grid shows.", label="Samples in the grid",
                           default=64)
    sync_batchnorm: bool = rule(boolean(), "Under torchrun: BatchNorm statistics over all processes' batches "
                                "(SyncBatchNorm) instead of each process's own; costs a synchronisation per layer.",
                                label="Sync BatchNorm", default=False)
    tensorboard: bool = rule(boolean(), "Also write the run's losses, quality readings, sample grids and settings as "
                             "TensorBoard events in the run folder: `tensorboard --logdir runs` shows them.",
                             label="TensorBoard events", default=False)


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)
    preset: str = "custom"

    def __post_init__(self) -> None:
        if self.model.arch != "mlp" and self.data.image_size not in CONV_IMAGE_SIZES:
            raise ConfigError(f"data.image_size = {self.data.image_size}: the {self.model.arch} model supports "
                              f"{', '.join(map(str, CONV_IMAGE_SIZES[:-1]))} or {CONV_IMAGE_SIZES[-1]} px")
        if self.run.batch_size % self.model.d_pack:
            raise ConfigError(f"run.batch_size = {self.run.batch_size}: with model.d_pack = {self.model.d_pack} the "
                              "batch must divide into packs; choose a multiple of it")
        if self.model.arch == "mlp" and self.model.d_mbstd:
            raise ConfigError("model.d_mbstd = true: minibatch standard deviation is for the dcgan and resnet "
                              "discriminators")
        if self.data.dataset == "cifar10" and self.data.channels != 3:
            raise ConfigError("data.channels = 1: cifar10 is a colour dataset, set data.channels = 3")
        if self.data.dataset in ("bundled", "mnist", "fashion-mnist") and self.data.channels != 1:
            raise ConfigError(f"data.channels = {self.data.channels}: {self.data.dataset} is grayscale, "
                              "set data.channels = 1")
        if self.model.clusters == 1:
            raise ConfigError("model.clusters = 1: one cluster conditions on nothing; use 0 (off), 2 to 100 or auto")
        if self.model.conditional and self.data.dataset == "folder":
            raise ConfigError("model.conditional = true: a folder of images has no class labels")
        if self.model.conditional and self.data.dataset != "folder" and self.model.num_classes != 10:
            raise ConfigError(f"model.num_classes = {self.model.num_classes}: {self.data.dataset} has 10 classes")

    def require_complete(self) -> "Config":
        """Refuse a config that is valid but cannot train yet (the 'folder' preset before a folder is
        chosen); the edges call it before a run starts."""
        if self.data.dataset == "folder" and not self.data.folder:
            raise ConfigError("data.folder = '': choose the folder of pictures to train on "
                              "(--set data.folder=DIR, or Browse… in the app)")
        return self

    def for_dataset(self, dataset_size: int, kinds: int = 0) -> "Config":
        """The config a run on this many pictures (of `kinds` sub-folders) trains with: model.clusters =
        "auto" made a number (what its run folder records, so a resume or a saved generator needs no
        dataset to rebuild G): with clusters_by_folder, at least one cluster a kind when that fits."""
        if self.model.clusters != "auto":
            return self
        k = clusters_for(dataset_size)
        if k and self.model.clusters_by_folder and kinds <= CLUSTERS_MAX:
            k = max(k, kinds)
        return self.with_values(**{"model.clusters": k})

    # --- conversions ---

    def to_dict(self) -> dict:
        return {"preset": self.preset, **{s: _section_dict(getattr(self, s)) for s in SECTIONS}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, raw: Any) -> "Config":
        if not isinstance(raw, dict):
            raise ConfigError(f"config: expected a table of sections ({', '.join(SECTIONS)}), got {type(raw).__name__}")
        unknown = set(raw) - set(SECTIONS) - {"preset", "world_size"}  # world_size: a run folder's record
        if unknown:
            raise ConfigError(f"config: unknown section {sorted(unknown)[0]!r}; allowed: {', '.join(SECTIONS)}")
        parts = {name: _section_from(name, raw.get(name, {})) for name in SECTIONS}
        preset = raw.get("preset", "custom")
        if not isinstance(preset, str):
            raise ConfigError(f"preset = {preset!r}: must be text")
        return cls(preset=preset, **parts)

    def with_values(self, **dotted: Any) -> "Config":
        """Copy with changed fields named 'section.field', validated like the rest."""
        raw = self.to_dict()
        for key, value in dotted.items():
            section, _, name = key.partition(".")
            if section not in SECTIONS or name not in raw[section]:
                raise ConfigError(f"{key}: unknown setting; settings look like {_example_keys()}")
            raw[section][name] = value
        return Config.from_dict(raw)

    def with_overrides(self, pairs: list[str]) -> "Config":
        """Apply command-line 'section.field=value' strings (values parsed as JSON, else text)."""
        return self.with_values(**parse_overrides(pairs))


SECTIONS = ("data", "model", "loss", "optim", "run")
SECTION_TYPES = {"data": DataConfig, "model": ModelConfig, "loss": LossConfig, "optim": OptimConfig, "run": RunConfig}
SECTION_NAMES = {t: n for n, t in SECTION_TYPES.items()}


# Every setting's schema by its dotted key, in the config's order: what it takes, its label, its help and
# whether it is live (core/config_schema.py). The form, the sweep panel, train --help and LIVE_SETTINGS read it.
SCHEMA: dict[str, Setting] = {
    f"{s}.{f.name}": replace(f.metadata["setting"], key=f"{s}.{f.name}", default=f.default)
    for s, t in SECTION_TYPES.items() for f in fields(t)
}
# Settings that may change while training (Control.change, the control channel, the form while a run trains).
LIVE_SETTINGS = tuple(key for key, setting in SCHEMA.items() if setting.live)


def field_docs() -> dict[str, str]:
    """'section.field' -> plain-words help, for tooltips and --help."""
    return {key: setting.help for key, setting in SCHEMA.items()}


def _example_keys() -> str:
    return "optim.lr_g, loss.kind, run.steps, model.z_dim"


def _section_dict(section: Any) -> dict:
    return {f.name: (list(v) if isinstance(v := getattr(section, f.name), tuple) else v) for f in fields(section)}


def _section_from(name: str, raw: Any):
    cls = SECTION_TYPES[name]
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: expected a table of settings, got {raw!r}")
    known = {f.name for f in fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{name}.{sorted(unknown)[0]}: unknown setting; {name} has {', '.join(sorted(known))}")
    hints = get_type_hints(cls)
    values = {}
    for key, value in raw.items():
        if hints[key] is tuple and isinstance(value, list):
            value = tuple(value)
        if hints[key] is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        values[key] = value
    return cls(**values)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """Command-line 'section.field=value' strings -> {'section.field': value} (JSON, else text)."""
    values = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep:
            raise ConfigError(f"--set {pair!r}: expected section.field=value, e.g. optim.lr_g=0.0001")
        try:
            values[key.strip()] = _parse_value(text.strip())
        except ValueError as e:  # nested too deep, a number too long: the setting named, not Python's limits
            raise ConfigError(f"--set {key.strip()}: {e}") from None
    return values


# No setting takes a number this long (the largest, a seed or a step count, has 10 digits); a longer
# one is refused before int() is asked to turn thousands of digits into a number.
MAX_NUMBER_DIGITS = 30
_WHOLE_NUMBER = re.compile(r"[-+]?\d+")


def _parse_value(text: str) -> Any:
    if _WHOLE_NUMBER.fullmatch(text) and len(text.lstrip("+-")) > MAX_NUMBER_DIGITS:
        raise ValueError(f"a number of {len(text.lstrip('+-')):,} digits, longer than any setting takes")
    try:
        return loads_json(text)  # ValueError past its depth: the caller names the setting
    except json.JSONDecodeError:
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        return text


def load_config(path: str | Path) -> Config:
    """Read a .json or .toml config file (a regular file of at most 1 MiB: core/bounded_read.py); errors
    name the file."""
    path = Path(path)
    try:
        toml = path.suffix.lower() == ".toml"
        raw = load_toml(path, what="config file") if toml else load_json(path, what="config file")
    except FileRefused as e:  # a FIFO, a device, too big, not UTF-8, nested too deep, not JSON or TOML
        raise ConfigError(str(e)) from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config file ({e.strerror or e})") from None
    try:
        return Config.from_dict(raw)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def save_config(config: Config, path: str | Path) -> None:
    Path(path).write_text(config.to_json() + "\n", encoding="utf-8")
