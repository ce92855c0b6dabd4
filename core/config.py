"""Run configuration: frozen dataclasses, validated at the edge, JSON/TOML round-trip.

Every field is checked when a config is built, so a bad value is reported with
the field's name, the value and what is allowed, long before torch sees it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, get_type_hints

from core.bounded_read import FileRefused, load_json, load_toml, loads_json

DATASETS = ("bundled", "mnist", "fashion-mnist", "cifar10", "folder")
ARCHS = ("mlp", "dcgan", "resnet")
CONV_IMAGE_SIZES = (28, 32, 64, 128)  # what the convolutional models are built for
AUGMENT_MODES = ("auto", "adaptive", "on", "off")
AUGMENT_POLICIES = ("color", "translation", "cutout")
# model.clusters = "auto": one cluster per this many pictures, at most CLUSTERS_AUTO_MAX; none under two.
CLUSTERS_AUTO_PER = 100
CLUSTERS_AUTO_MAX = 50
LOSSES = ("bce", "minimax", "lsgan", "hinge", "wgan-gp")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
COMPILE_SETTINGS = ("auto", "off", "on")  # run.compile (core/training/fast_path.py)


class ConfigError(ValueError):
    """A config value that is not allowed; the message names field, value and rule."""


# --- field rules ---------------------------------------------------------


def _number(name: str, value: Any, lo: float, hi: float, integer: bool) -> None:
    kind = "a whole number" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ConfigError(f"{name} = {value!r}: must be {kind} from {lo:g} to {hi:g}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name} = {value!r}: must be a finite number from {lo:g} to {hi:g}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name} = {value!r}: must be {kind} from {lo:g} to {hi:g}")


def _int(lo: int, hi: int):
    return lambda name, v: _number(name, v, lo, hi, integer=True)


def _float(lo: float, hi: float):
    return lambda name, v: _number(name, v, lo, hi, integer=False)


def _choice(options: tuple[Any, ...]):
    def check(name: str, v: Any) -> None:
        if v not in options:
            # str(): the options may be numbers (channels is 1 or 3)
            raise ConfigError(f"{name} = {v!r}: must be one of {', '.join(map(str, options))}")
    return check


def _clusters(name: str, v: Any) -> None:
    if v != "auto":
        _number(name, v, 0, 100, integer=True)


def clusters_for(dataset_size: int) -> int:
    """What model.clusters = "auto" means for a dataset of this many pictures."""
    k = min(CLUSTERS_AUTO_MAX, dataset_size // CLUSTERS_AUTO_PER)
    return k if k >= 2 else 0


def _bool(name: str, v: Any) -> None:
    if not isinstance(v, bool):
        raise ConfigError(f"{name} = {v!r}: must be true or false")


def _text(name: str, v: Any) -> None:
    if not isinstance(v, str):
        raise ConfigError(f"{name} = {v!r}: must be text")


def _widths(name: str, v: Any) -> None:
    if not isinstance(v, tuple) or not 1 <= len(v) <= 8:
        raise ConfigError(f"{name} = {v!r}: must be a list of 1 to 8 layer widths")
    for i, w in enumerate(v):
        _number(f"{name}[{i}]", w, 1, 8192, integer=True)


def _betas(name: str, v: Any) -> None:
    if not isinstance(v, tuple) or len(v) != 2:
        raise ConfigError(f"{name} = {v!r}: must be two numbers, each from 0 to 0.9999")
    for i, b in enumerate(v):
        _number(f"{name}[{i}]", b, 0.0, 0.9999, integer=False)


def parse_augment_policy(text: str) -> tuple[str, ...]:
    """'color,translation' -> ('color', 'translation'); ConfigError naming an unknown part."""
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    for p in parts:
        if p not in AUGMENT_POLICIES:
            raise ConfigError(f"{p!r} is not an augmentation; choose from {', '.join(AUGMENT_POLICIES)}")
    if not parts:
        raise ConfigError(f"name at least one of {', '.join(AUGMENT_POLICIES)}")
    return parts


def _policy(name: str, v: Any) -> None:
    _text(name, v)
    try:
        parse_augment_policy(v)
    except ConfigError as e:
        raise ConfigError(f"{name} = {v!r}: {e}") from None


def rule(check, doc: str, **kw):
    """A dataclass field carrying its validator and a plain-words help text."""
    return field(metadata={"check": check, "doc": doc}, **kw)


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
    dataset: str = rule(_choice(DATASETS), "Where the real images come from. 'bundled' is a 5,000-digit MNIST sample "
                        "shipped with the app; 'folder' reads any folder of images.", default="bundled")
    folder: str = rule(_text, "The image folder, when dataset is 'folder'.", default="")
    image_size: int = rule(_int(8, 256), "Side of the square images, in pixels. MNIST is 28, CIFAR-10 is 32.",
                           default=28)
    channels: int = rule(_choice((1, 3)), "1 for grayscale, 3 for colour.", default=1)
    cache_dir: str = rule(_text, "Where downloaded datasets and decoded image folders are kept; empty means "
                          "the user cache folder.", default="")
    stream: str = rule(_choice(("auto", "on", "off")), "Where the training images live while training. 'off' "
                       "holds them all in the training device's memory (fastest); 'on' leaves a decoded image "
                       "folder on disk and reads the next batches ahead in the background; 'auto' streams only "
                       "a folder too large for the device's memory.", default="auto")
    augment: str = rule(_choice(AUGMENT_MODES), "Differentiable augmentation (DiffAugment): real and generated "
                        "images are shifted, partly blanked out and recoloured before the discriminator sees "
                        "them. With few pictures the discriminator otherwise learns them by heart and stops "
                        "teaching the generator. 'adaptive' (StyleGAN2-ADA's rule) augments each picture with "
                        "a chance that grows while the discriminator is too sure of the real pictures and "
                        "shrinks when it is not, so it augments only as much as the data needs; 'on' always "
                        "augments every picture. 'auto' is adaptive for image folders (with many pictures "
                        "it stays near none) and off for the built-in datasets.", default="auto")
    augment_target: float = rule(_float(0.0, 1.0), "Adaptive augmentation's target for how sure the "
                                 "discriminator may be of the real pictures: the share of them it scores as "
                                 "real, counted as 1 for each it calls real and -1 for each it calls fake "
                                 "(StyleGAN2-ADA's r_t; 0.6 there). Above it the augmentation strengthens, "
                                 "below it weakens.", default=0.6)
    augment_policy: str = rule(_policy, "Which augmentations, comma-separated: color, translation, cutout.",
                               default="color,translation,cutout")



@dataclass(frozen=True)
class ModelConfig(_Section):
    arch: str = rule(_choice(ARCHS), "'mlp' uses fully connected layers on flattened images; 'dcgan' uses "
                     "convolutions, which suit images better; 'resnet' uses residual convolution blocks "
                     "(SNGAN-style), slower but steadier at 64 and 128 px.", default="mlp")
    z_dim: int = rule(_int(1, 4096), "Length of the noise vector z the generator turns into an image. "
                      "More dimensions give G more room for variety.", default=64)
    g_hidden: tuple = rule(_widths, "Widths of the generator's hidden layers (for dcgan and resnet, the first "
                           "entry is the base channel count: widths grow to 8x it towards the smallest "
                           "feature map).", default=(256, 512, 1024))
    d_hidden: tuple = rule(_widths, "Widths of the discriminator's hidden layers (for dcgan and resnet, the "
                           "first entry is the base channel count).", default=(1024, 512, 256))
    g_norm: bool = rule(_bool, "BatchNorm in the generator's hidden layers; steadies early training.",
                        default=True)
    g_output_norm: bool = rule(_bool, "BatchNorm on the generator's output layer, as seed-004 does. It tends to "
                               "smear images; off in the default preset.", default=False)
    g_activation: str = rule(_choice(("relu", "leaky_relu")), "Activation of the generator's hidden layers.",
                             default="relu")
    g_output: str = rule(_choice(("tanh", "sigmoid")), "The generator's output squashing: tanh makes pixels in "
                         "[-1, 1] (real images are scaled to match), sigmoid in [0, 1].", default="tanh")
    g_dropout: float = rule(_float(0.0, 0.9), "Dropout in the generator's hidden layers (seed-001 uses it).",
                            default=0.0)
    d_dropout: float = rule(_float(0.0, 0.9), "Dropout in the discriminator's hidden layers; slows D down so "
                            "G can keep up.", default=0.0)
    d_spectral_norm: bool = rule(_bool, "Spectral normalisation on the discriminator's layers (instead of its "
                                 "BatchNorm): it limits how fast D can change, so it cannot run away from G. "
                                 "The usual partner of the hinge loss.", default=False)
    d_mbstd: bool = rule(_bool, "Minibatch standard deviation: the discriminator also sees how much the images "
                         "in a batch differ from each other, so a generator that draws only a few kinds of "
                         "image is caught and pushed to draw them all (convolutional models).", default=False)
    d_pack: int = rule(_int(1, 8), "Packing (PacGAN): the discriminator judges this many images at once, so a "
                       "generator that keeps drawing the same few things is caught in every pack. 1 = off; "
                       "the batch size must divide by it.", default=1)
    noise: str = rule(_choice(("gaussian", "uniform")), "How the noise vector z is drawn: standard normal, or "
                      "uniform in [-1, 1].", default="gaussian")
    conditional: bool = rule(_bool, "Conditional GAN: the class label goes into G with the noise and into D "
                             "with the image, so you can ask for a given digit.", default=False)
    num_classes: int = rule(_int(2, 1000), "Number of classes, for a conditional GAN.", default=10)
    clusters: int | str = rule(_clusters, "Self-conditioning: before training, the pictures are grouped into "
                               "this many clusters of look-alikes (k-means on their pixels; for colour pictures on "
                               "their colours and edges); D judges each picture with its cluster and G draws every "
                               "cluster as often as the data holds it, so no kind of picture is dropped or drawn "
                               "too often. No labels needed; the generator stays unconditional (noise in, picture "
                               "out). 0 = off; 10 to 50 typical; 'auto' = one cluster per 100 pictures, at most "
                               "50 (none under 200 pictures). A conditional GAN uses its labels instead, and a "
                               "dataset with fewer pictures gets one cluster a picture.", default=0)


@dataclass(frozen=True)
class LossConfig(_Section):
    kind: str = rule(_choice(LOSSES), "How D and G are scored. 'bce' is the classic binary cross-entropy with "
                     "G's non-saturating loss; 'minimax' the original form; 'lsgan' least squares; 'hinge'; "
                     "'wgan-gp' a Wasserstein critic with gradient penalty.", default="bce")
    label_smoothing: float = rule(_float(0.0, 0.5), "Real images are labelled 1 - this value instead of 1, so "
                                  "D does not grow overconfident and G keeps getting useful gradients.",
                                  default=0.1)
    gp_weight: float = rule(_float(0.0, 1000.0), "Weight of WGAN-GP's gradient penalty.", default=10.0)
    r1_gamma: float = rule(_float(0.0, 1000.0), "R1 penalty: keeps the discriminator's slope at real images "
                           "small, which steadies training (StyleGAN2's regulariser, applied every 16 steps). "
                           "0 = off; 1 to 10 typical.", default=0.0)
    g_top_k: float = rule(_float(0.05, 1.0), "Top-k training: the generator learns only from the share of its "
                          "samples the discriminator rates most real, a share that shrinks by 1% an epoch down "
                          "to this value (1 = off, 0.5 typical).", default=1.0)
    d_steps: int = rule(_int(1, 20), "Discriminator updates per generator update. D and G must stay balanced: "
                        "a D that wins outright gives G nothing to learn from.", default=1)


@dataclass(frozen=True)
class OptimConfig(_Section):
    lr_g: float = rule(_float(1e-7, 1.0), "Generator learning rate (Adam).", default=2e-4)
    lr_d: float = rule(_float(1e-7, 1.0), "Discriminator learning rate (Adam).", default=2e-4)
    betas_g: tuple = rule(_betas, "Adam's momentum terms for G. beta1 = 0.5 keeps the adversarial game from "
                          "oscillating; PyTorch's default is 0.9.", default=(0.5, 0.999))
    betas_d: tuple = rule(_betas, "Adam's momentum terms for D.", default=(0.5, 0.999))


@dataclass(frozen=True)
class RunConfig(_Section):
    steps: int = rule(_int(1, 10_000_000), "How many training steps (one step = D update(s) then a G update).",
                      default=5000)
    batch_size: int = rule(_int(1, 65536), "Real images per discriminator update; under torchrun, per process "
                           "(N processes train on N x this many images a step).", default=64)
    seed: int = rule(_int(0, 2**31 - 1), "Random seed: the same seed and config give the same run on CPU.",
                     default=0)
    device: str = rule(_choice(DEVICES), "Where to train: auto picks CUDA, then Apple MPS, then the CPU.",
                       default="auto")
    precision: str = rule(_choice(PRECISIONS), "Arithmetic: bf16 is faster where the hardware supports it; "
                          "auto picks it there.", default="auto")
    compile: str = rule(_choice(COMPILE_SETTINGS), "Compile G and D with torch.compile: faster steps where it "
                        "pays, after a slower start; live changes still apply without recompiling. auto: only "
                        "where measured to pay (not on CPUs: docs/benchmarks.md).", default="auto")
    threads: int = rule(_int(0, 256), "CPU threads for torch. 0: all cores headless; in the app, chosen by "
                        "measuring while training (all cores, or one fewer when another program wants a core). "
                        "A fixed number makes CPU runs bitwise reproducible.", default=0)
    log_every: int = rule(_int(1, 100_000), "Steps between loss readings (each one syncs with the device).",
                          default=50)
    sample_every: int = rule(_int(1, 1_000_000), "Steps between sample grids from the fixed noise.",
                             default=250)
    checkpoint_every: int = rule(_int(0, 10_000_000), "Steps between checkpoints in the run folder; 0 = only "
                                 "at the end.", default=1000)
    keep_every: int = rule(_int(0, 10_000_000), "Steps between checkpoints kept for good (checkpoints/"
                           "step_NNNNNN.pt) beside the latest, to fork a new run from that moment. 0 = keep none.",
                           default=1000)
    keep_last: int = rule(_int(0, 100_000), "How many kept checkpoints to hold at most (the oldest go first); "
                          "0 = all of them.", default=10)
    ema: float = rule(_float(0.0, 0.99999), "Keep an exponential moving average of G's weights for sampling "
                      "(0 = off, 0.999 typical). Smooths out the last steps' jitter.", default=0.0)
    ema_warmup: bool = rule(_bool, "Let the average follow G closely early in the run (its decay grows from 0.1 "
                            "to run.ema), so the first samples are not smeared by the random start.",
                            default=True)
    quality_every: int = rule(_int(0, 1_000_000), "Steps between quality readings (Frechet distance and class "
                              "histogram from a bundled digit classifier; digits only). 0 = off.", default=500)
    quality_samples: int = rule(_int(16, 10_000), "Samples scored at each quality reading; readings are "
                                "comparable only at the same count.", default=512)
    fid_every: int = rule(_int(0, 10_000_000), "Steps between FID/KID readings for pictures the digit classifier "
                          "does not know (your own folders, colour datasets): Inception-v3 features of generated "
                          "against real pictures; lower is better. Costly on a CPU (a few images a second), quick "
                          "on a GPU. 0 = off.", default=5000)
    fid_samples: int = rule(_int(16, 50_000), "Generated pictures scored at each FID reading; readings are "
                            "comparable only at the same count.", default=500)
    grid_size: int = rule(_int(1, 400), "How many samples the progress grid shows.", default=64)
    sync_batchnorm: bool = rule(_bool, "Under torchrun: BatchNorm statistics over all processes' batches "
                                "(SyncBatchNorm) instead of each process's own; costs a synchronisation per layer.",
                                default=False)
    tensorboard: bool = rule(_bool, "Also write the run's losses, quality readings, sample grids and settings as "
                             "TensorBoard events in the run folder: `tensorboard --logdir runs` shows them.",
                             default=False)


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

    def for_dataset(self, dataset_size: int) -> "Config":
        """The config a run on this many pictures trains with: model.clusters = "auto" made a number
        (what its run folder records, so a resume or a saved generator needs no dataset to rebuild G)."""
        if self.model.clusters != "auto":
            return self
        return self.with_values(**{"model.clusters": clusters_for(dataset_size)})

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


def field_docs() -> dict[str, str]:
    """'section.field' -> plain-words help, for tooltips and --help."""
    return {f"{s}.{f.name}": f.metadata["doc"] for s, t in SECTION_TYPES.items() for f in fields(t)}


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
