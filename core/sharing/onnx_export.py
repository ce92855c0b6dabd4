"""The generator as an ONNX model any runtime can run, and a check against torch.

The model takes `noise` (float32, N x z_dim) and, when conditional, `label`
(int64, N); it returns `images` (float32, N x C x H x W) in G's output range.
The batch dimension is dynamic; the rest is fixed by the config.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import re
import warnings
from pathlib import Path

import torch
from torch import nn

from core.atomic import atomic_write
from core.config import Config
from core.models import Generator, image_shape, sample_noise
from core.sharing.export import ExportError, load_generator, refuse_existing

INPUTS = ("noise", "label")
OUTPUT = "images"
RANGES = {"tanh": "[-1, 1]", "sigmoid": "[0, 1]"}
NATIVE_OPSET = 18  # torch's exporter writes this opset or newer; older ones only by converting down
# They log a warning, and a converter's failure with its whole traceback, on their way to raising or
# keeping opset 18; export_onnx says it in one line instead.
CHATTY_LOGGERS = ("onnxscript.version_converter", "torch.onnx._internal.exporter._compat")


class _Named(nn.Module):
    """G with the ONNX input names as its argument names (the exporter names inputs after them)."""

    def __init__(self, generator: Generator):
        super().__init__()
        self.generator = generator


class _Unconditional(_Named):
    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.generator(noise)


class _Conditional(_Named):
    def forward(self, noise: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return self.generator(noise, label)


def _require(module: str, install: str):
    try:
        return __import__(module)
    except ImportError:
        raise ExportError(f"ONNX export needs the {module} package: pip install {install}") from None


def _reason(error: Exception) -> str:
    """The first line of the root cause, without the exporter's terminal colours."""
    text = str(error.__cause__ or error).strip() or type(error).__name__
    return re.sub(r"\x1b\[[0-9;]*m", "", text.splitlines()[0])[:300]


def supported_opsets() -> tuple[int, int]:
    """(oldest, newest) opset the installed torch and onnx write directly."""
    import onnx

    try:
        from torch.onnx._internal.exporter._constants import TORCHLIB_OPSET as native
    except ImportError:  # a private module: torch may move it
        native = NATIVE_OPSET
    return native, onnx.defs.onnx_opset_version()


def _opsets_text() -> str:
    import onnx

    oldest, newest = supported_opsets()
    return (f"torch {torch.__version__.split('+')[0]} with onnx {onnx.__version__} writes opsets {oldest} to "
            f"{newest} (older ones only where the model converts down)")


@contextlib.contextmanager
def _quiet_exporter():
    """Drop the exporter's and the converter's log records while exporting (see CHATTY_LOGGERS)."""
    def drop(record):
        return False

    loggers = [logging.getLogger(name) for name in CHATTY_LOGGERS]
    for logger in loggers:
        logger.addFilter(drop)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(drop)


def _loaded(source) -> tuple[Generator, Config, dict]:
    """A path load_generator accepts, or (G, config) / (G, config, meta) already loaded."""
    if isinstance(source, (str, Path)):
        return load_generator(source)
    if isinstance(source, tuple) and len(source) in (2, 3) and isinstance(source[1], Config):
        return source[0], source[1], source[2] if len(source) == 3 else {}
    raise ExportError(f"{source!r}: give a run folder, generator.safetensors, generator.json "
                      "or a (generator, config) pair")


def _describe(config: Config, step: int | None) -> tuple[str, dict[str, str]]:
    """The model's doc_string and metadata_props: what goes in, what comes out, in which range."""
    m = config.model
    c, h, w = image_shape(config)
    classes = m.num_classes if m.conditional else 0
    noise = "standard normal" if m.noise == "gaussian" else "uniform in [-1, 1]"
    label = f" and label (int64, N; a class 0 to {classes - 1})" if classes else ""
    doc = (f"GAN Studio generator. Inputs: noise (float32, N x {m.z_dim}, {noise}){label}. "
           f"Output: images (float32, N x {c} x {h} x {w}) in {RANGES[m.g_output]} ({m.g_output}); "
           + ("map to pixels with (images + 1) / 2 * 255." if m.g_output == "tanh" else
              "map to pixels with images * 255."))
    props = {"format": "gan-studio-generator", "arch": m.arch, "z_dim": m.z_dim, "noise": m.noise,
             "conditional": str(m.conditional).lower(), "num_classes": classes, "channels": c,
             "height": h, "width": w, "g_output": m.g_output, "output_range": RANGES[m.g_output],
             "preset": config.preset}
    if step is not None:
        props["step"] = step
    return doc, {k: str(v) for k, v in props.items()}


def _export_program(generator: Generator, config: Config, opset: int | None):
    """torch.export-based exporter (torch's default and maintained path; the TorchScript one is deprecated)."""
    m = config.model
    wrapper = (_Conditional if m.conditional else _Unconditional)(generator).eval()
    # Batch 2 for the example: torch.export specialises sizes 0 and 1.
    noise = sample_noise(2, m.z_dim, m.noise, "cpu")
    batch = torch.export.Dim("batch", min=1)
    args: tuple[torch.Tensor, ...] = (noise,)
    shapes = {"noise": {0: batch}}
    if m.conditional:
        args, shapes = (noise, torch.arange(2) % m.num_classes), {**shapes, "label": {0: batch}}
    names = list(INPUTS[:len(args)])
    with warnings.catch_warnings(), _quiet_exporter():
        # The shared batch Dim makes the exporter say it keeps one name for both inputs; that is the intent.
        warnings.filterwarnings("ignore", message=".*axis name: batch will not be used")
        return torch.onnx.export(wrapper, args, dynamo=True, input_names=names, output_names=[OUTPUT],
                                 dynamic_shapes=shapes, opset_version=opset, external_data=False,
                                 verbose=False)


def export_onnx(source, out: str | Path, overwrite: bool = False, opset: int | None = None) -> Path:
    """Write G as a single-file ONNX model at `out` (see the module doc for inputs and output); return its path.

    `source` is a run folder, generator.safetensors or generator.json, or an already loaded
    (G, config) or (G, config, meta). G is exported in eval mode: BatchNorm uses its running stats.
    """
    out = Path(out)
    refuse_existing(out, overwrite)
    if opset is not None and (isinstance(opset, bool) or not isinstance(opset, int)):
        raise ExportError(f"opset = {opset!r}: must be a whole number, an ONNX opset version such as 20")
    onnx = _require("onnx", "onnx")
    _require("onnxscript", "onnxscript")  # the exporter translates torch ops with it
    if opset is not None and not 1 <= opset <= supported_opsets()[1]:  # before the slow export
        raise ExportError(f"opset = {opset}: {_opsets_text()}; ask for one of those, or leave the opset out")
    generator, config, meta = _loaded(source)
    # A CPU copy: the caller's G keeps its device and train/eval mode.
    generator = copy.deepcopy(generator).float().cpu().eval()
    try:
        proto = _export_program(generator, config, opset).model_proto
    except Exception as e:  # the exporter raises many kinds; all mean the same thing here
        raise ExportError(f"{out}: torch could not export this generator to ONNX ({_reason(e)})") from None
    made = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    if opset is not None and made != opset:  # below 18 the exporter converts down, and keeps 18 when it cannot
        raise ExportError(f"opset = {opset}: torch's exporter could not convert this generator down to it (it "
                          f"made opset {made}); {_opsets_text()}; ask for one of those, or leave the opset out")
    doc, props = _describe(config, meta.get("step"))
    proto.doc_string = doc
    onnx.helper.set_model_props(proto, props)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as e:
        raise ExportError(f"{out}: the exported model is not valid ONNX ({str(e).splitlines()[0][:300]})") from None
    try:
        atomic_write(out, lambda tmp: Path(tmp).write_bytes(proto.SerializeToString()))
    except OSError as e:
        raise ExportError(f"{out}: could not write the ONNX model ({e.strerror or e})") from None
    return out


def _session(path: Path):
    ort = _require("onnxruntime", "onnxruntime")
    if not path.is_file():
        raise ExportError(f"{path}: no such ONNX file")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # a check of a small model: no spinning thread pool beside torch's
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime's errors derive straight from Exception
        raise ExportError(f"{path}: onnxruntime cannot load it ({str(e).splitlines()[0][:300]})") from None


ONNX_TOLERANCE = 1e-4  # onnxruntime's images vs torch's, largest absolute difference


def mismatch(path: str | Path, worst: float) -> str:
    """'' when onnxruntime's images match torch's within ONNX_TOLERANCE; else the one line that says they do
    not (the CLI's and the app's words)."""
    if worst <= ONNX_TOLERANCE:
        return ""
    return (f"{path} was written, but onnxruntime's images differ from torch's by up to {worst:.1e} "
            f"(more than {ONNX_TOLERANCE:g}); do not rely on it")


@torch.no_grad()
def check_onnx(path: str | Path, generator: Generator, config: Config, batch_sizes=(1, 7)) -> float:
    """Run the ONNX model (onnxruntime, CPU) and G on the same noise and labels at each batch size;
    return the largest absolute difference between their outputs."""
    path = Path(path)
    session = _session(path)
    conditional = config.model.conditional
    expected = list(INPUTS[:2 if conditional else 1])
    names = [i.name for i in session.get_inputs()]
    if names != expected:
        raise ExportError(f"{path}: inputs are {names}; this generator's export takes {expected}")
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    worst = 0.0
    try:
        for n in batch_sizes:
            noise = sample_noise(n, config.model.z_dim, config.model.noise, "cpu",
                                 torch.Generator().manual_seed(n))
            feed = {"noise": noise.numpy()}
            label = None
            if conditional:
                label = torch.arange(n) % config.model.num_classes
                feed["label"] = label.numpy()
            expected_images = generator(noise.to(device), None if label is None else label.to(device)).float().cpu()
            images = torch.from_numpy(session.run([OUTPUT], feed)[0])
            if images.shape != expected_images.shape:
                raise ExportError(f"{path}: gives images of shape {tuple(images.shape)} for a batch of {n}; "
                                  f"the generator gives {tuple(expected_images.shape)}")
            worst = max(worst, (images - expected_images).abs().max().item())
    finally:
        generator.train(was_training)
    return worst
