"""The latent explorer's drawing, off the GUI thread: plain request and result dataclasses, the
models they draw from (a live run's snapshot or a generator file), and the `Renderer`, a QObject
on its own QThread with one "latest request" slot: a new request replaces one still waiting
(newest wins, as StyleGAN3's renderer does) and a render that a newer request overtakes stops
between batches. Errors come back as messages; the thread never dies of one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from core import events as ev
from studio.bridge import qthreads

WALK_FPS = 10
CLASS_GRID_OFF = ("A class grid needs a conditional generator (model.conditional = true): this one draws no "
                  "class you can choose.")

# --- requests and results: plain data between the GUI thread and the renderer ---


@dataclass(frozen=True)
class Pick:
    """One noise vector: by seed, or a cell of the live run's gallery grid (its fixed noise row)."""
    seed: int = 0
    cell: int | None = None

    def describe(self) -> str:
        return f"gallery cell {self.cell}" if self.cell is not None else f"seed {self.seed}"


@dataclass(frozen=True, kw_only=True)
class Request:
    id: int
    psi: float = 1.0  # truncation
    label: int = 0  # the class drawn, for a conditional generator (the class grid draws all)


@dataclass(frozen=True, kw_only=True)
class InterpolateRequest(Request):
    a: Pick
    b: Pick
    steps: int = 8
    mode: str = "spherical"


@dataclass(frozen=True, kw_only=True)
class ClassGridRequest(Request):
    columns: int = 8
    seed: int = 0


@dataclass(frozen=True, kw_only=True)
class WalkRequest(Request):
    start: Pick
    frames: int = 40
    reach: float = 0.5
    side: int = 1  # each frame is a side x side grid of walks
    seed: int = 0


@dataclass(frozen=True, kw_only=True)
class PerturbRequest(Request):
    centre: Pick
    n: int = 15
    sigma: float = 0.4
    seed: int = 0


@dataclass(frozen=True)
class Rendered:
    request_id: int
    kind: str  # "interpolate", "class grid", "walk" or "neighbours"
    grid: np.ndarray  # uint8 H x W x 3: what the view shows
    frames: tuple = ()  # uint8 H x W x 3 each: the animation (a GIF, or the walk played)
    fps: float = 8
    row_labels: tuple = ()
    note: str = ""  # what the picture shows, in words


@dataclass(frozen=True)
class SourceInfo:
    kind: str  # "live" or "file"
    text: str  # "Live: run X at step N" / "File: path (step N)"
    step: int
    conditional: bool
    num_classes: int
    cells: int = 0  # rows of the live run's fixed noise (gallery cells); 0 for a file
    cell_classes: tuple = ()  # the class of each gallery cell (a conditional live run)


@dataclass
class _Model:
    """What the renderer draws with: G (eval mode, CPU), its config, the live run's fixed noise."""
    G: object
    config: object
    shape_key: tuple  # the config sections that decide G's layers: equal keys reuse G
    fixed_noise: np.ndarray | None = None
    fixed_labels: np.ndarray | None = None
    info: SourceInfo | None = None


# --- drawing (renderer thread; plain functions) ---


def _shape_key(config: dict) -> tuple:
    import json
    return json.dumps(config.get("model")), json.dumps(config.get("data"))


def load_snapshot(snapshot: ev.GeneratorSnapshot, run_name: str, current: _Model | None) -> _Model:
    """A model from the trainer's snapshot; the previous G is reused when only the weights changed."""
    import torch

    from core.config import Config
    from core.models import build_generator

    key = _shape_key(snapshot.config)
    config = Config.from_dict(snapshot.config)
    G = current.G if current is not None and current.shape_key == key else build_generator(config).eval()
    G.load_state_dict({k: torch.from_numpy(v) for k, v in snapshot.weights.items()})
    m = config.model
    classes = tuple(int(c) for c in snapshot.fixed_labels) if snapshot.fixed_labels is not None else ()
    info = SourceInfo("live", f"Live: {run_name} at step {snapshot.step:,}", snapshot.step, m.conditional,
                      m.num_classes, len(snapshot.fixed_noise), classes)
    return _Model(G, config, key, snapshot.fixed_noise, snapshot.fixed_labels, info)


def load_file(path: str) -> _Model:
    from core.sharing.export import load_generator

    G, config, meta = load_generator(path)
    step = int(meta.get("step", 0))
    m = config.model
    info = SourceInfo("file", f"File: {path} (step {step:,})", step, m.conditional, m.num_classes)
    return _Model(G, config, _shape_key(config.to_dict()), info=info)


def _noise(model: _Model, pick: Pick):
    import torch

    from core.sharing import latent

    m = model.config.model
    if pick.cell is None:
        return latent.seed_noise(pick.seed, m.z_dim, m.noise)
    if model.fixed_noise is None:
        raise latent.LatentError(f"{pick.describe()}: gallery cells are the live run's fixed noise, and this "
                                 "generator file has none; pick the sample by seed instead")
    if not 0 <= pick.cell < len(model.fixed_noise):
        raise latent.LatentError(f"{pick.describe()}: the gallery grid has {len(model.fixed_noise)} samples; "
                                 "pick one of them")
    return torch.from_numpy(np.asarray(model.fixed_noise[pick.cell], dtype=np.float32))


def draw(model: _Model, r: Request, cancelled) -> Rendered:
    """One request drawn with `model`; raises RenderCancelled when `cancelled()` turns True."""
    import torch

    from core.models import sample_noise
    from core.sharing import latent

    m = model.config.model

    def images(z, labels=None):
        if labels is None and m.conditional:
            labels = torch.full((len(z),), r.label, dtype=torch.long)
        return latent.render(model.G, model.config, latent.truncate(z, r.psi), labels, cancelled=cancelled)

    psi = f" · ψ {r.psi:.2f}" if r.psi < 1 else ""
    if isinstance(r, InterpolateRequest):
        out = images(latent.interpolate(_noise(model, r.a), _noise(model, r.b), r.steps, r.mode))
        tiles = latent.tiles(out)
        return Rendered(r.id, "interpolate", latent.grid(out, r.steps), tuple(tiles + tiles[-2:0:-1]), 8, (),
                        f"{r.a.describe()} → {r.b.describe()} · {r.mode} · {r.steps} steps{psi}")
    if isinstance(r, ClassGridRequest):
        if not m.conditional:
            raise latent.LatentError(CLASS_GRID_OFF)
        z, labels = latent.class_grid(m.num_classes, r.columns, m.z_dim, m.noise, r.seed)
        out = images(z, labels)
        return Rendered(r.id, "class grid", latent.grid(out, r.columns), (), 8, tuple(range(m.num_classes)),
                        f"rows: classes · columns: {r.columns} noises from seed {r.seed}{psi}")
    if isinstance(r, WalkRequest):
        n = r.side * r.side
        start = _noise(model, r.start).unsqueeze(0)
        if n > 1:  # the other walks start from the seed's noise
            more = sample_noise(n - 1, m.z_dim, m.noise, "cpu", torch.Generator().manual_seed(r.seed))
            start = torch.cat([start, more])
        path = latent.random_walk(start, r.frames, r.reach, r.seed)  # frames x n x z_dim
        out = images(path.reshape(-1, m.z_dim))
        frames = [latent.grid(out[i * n:(i + 1) * n], r.side) for i in range(r.frames)] if n > 1 \
            else latent.tiles(out)
        return Rendered(r.id, "walk", frames[0], tuple(frames), WALK_FPS, (),
                        f"walk from {r.start.describe()} · {r.frames} frames · reach {r.reach:g}{psi}")
    if isinstance(r, PerturbRequest):
        out = images(latent.perturb(_noise(model, r.centre), r.n, r.sigma, r.seed))
        return Rendered(r.id, "neighbours", latent.grid(out, latent.square_columns(len(out))),
                        tuple(latent.tiles(out)), 4, (),
                        f"{r.centre.describe()} (top left) and {r.n} neighbours · spread {r.sigma:g}{psi}")
    raise TypeError(f"unknown request {type(r).__name__}")


def _message(e: Exception) -> str:
    return str(e) if isinstance(e, (ValueError, OSError)) else f"{type(e).__name__}: {e}"


class Renderer(QObject):
    """Draws on its own thread. `submit`, `set_snapshot`, `set_file` and `stop` may be called from any
    thread: each fills a slot under the lock (the newest replaces what is still waiting)."""

    rendered = Signal(object)  # Rendered
    failed = Signal(int, str)  # request id (-1: loading a source), message
    source_ready = Signal(object)  # SourceInfo

    def __init__(self):
        super().__init__()
        self._cond = threading.Condition()
        self._request: Request | None = None
        self._source: tuple | None = None  # ("snapshot", snapshot, run name) or ("file", path)
        self._stopping = False
        self._model: _Model | None = None  # the renderer thread's alone

    def submit(self, request: Request) -> None:
        with self._cond:
            self._request = request
            self._cond.notify_all()

    def set_snapshot(self, snapshot: ev.GeneratorSnapshot, run_name: str) -> None:
        with self._cond:
            self._source = ("snapshot", snapshot, run_name)
            self._cond.notify_all()

    def set_file(self, path: str) -> None:
        with self._cond:
            self._source = ("file", path)
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def _superseded(self) -> bool:
        with self._cond:
            return self._stopping or self._request is not None or self._source is not None

    @Slot()
    def run(self) -> None:
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._stopping or self._source or self._request)
                    if self._stopping:
                        return
                    # A new source first: a waiting request is then drawn with it.
                    source, request = self._source, None
                    self._source = None
                    if source is None:
                        request, self._request = self._request, None
                if source is not None:
                    self._load(source)
                else:
                    self._draw(request)
        finally:
            qthreads.end_this_thread()

    def _load(self, source: tuple) -> None:
        try:
            if source[0] == "snapshot":
                current = self._model
                self._model = in_passing_thread(lambda: load_snapshot(source[1], source[2], current))
            else:
                self._model = in_passing_thread(lambda: load_file(source[1]))
        except Exception as e:  # a message, never a dead thread
            self.failed.emit(-1, _message(e))
            return
        self.source_ready.emit(self._model.info)

    def _draw(self, request: Request) -> None:
        from core.sharing.latent import RenderCancelled

        if self._model is None:
            self.failed.emit(request.id, "No generator yet: start a run or open a generator file.")
            return
        try:
            model = self._model
            result = in_passing_thread(lambda: draw(model, request, self._superseded))
        except RenderCancelled:
            return  # a newer request is waiting: it is drawn next
        except Exception as e:
            self.failed.emit(request.id, _message(e))
            return
        self.rendered.emit(result)


def in_passing_thread(work):
    """`work()` on a thread that ends with it; its value returned, its exception raised here.

    A thread that has run torch's OpenMP kernels keeps a pool of OpenMP workers for as long as it
    lives, and on a small CPU that pool takes the trainer's cores: on 2 cores, a live thread that had
    drawn once took the trainer from 26 to under 7 steps/s, while a thread that had ended cost
    nothing (bench/explorer_overhead.py has the figures). So the drawing runs on a thread that
    passes, and the renderer's own long-lived thread only waits for it."""
    box: dict = {}

    def run():
        try:
            box["value"] = work()
        except BaseException as e:  # re-raised on the caller's thread
            box["error"] = e

    thread = threading.Thread(target=run, name="explorer-draw", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


# --- saving (job threads; plain functions) ---


def write_picture(image: np.ndarray, path: str) -> str:
    """The picture as a PNG at `path`, or path-2, -3... when it exists: nothing is overwritten."""
    from core.sharing.export import free_path, write_png

    out = free_path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_png(image, out)
    return str(out)


def write_gif(frames: tuple, path: str, fps: float) -> str:
    """Frames as a looping GIF, enlarged so small images stay visible; never overwrites."""
    from core.sharing.export import free_path
    from core.sharing.latent import enlarge
    from core.sharing.timelapse import write_animation

    out = free_path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    return str(write_animation([enlarge(f) for f in frames], out, fps))


# --- the panel ---
