"""A training session: everything a run needs between steps (models, optimizers, data, RNG,
counters) and one training step: `d_steps` D updates, then one G update.

core/training/trainer.py runs the loop around it, with the run's quality readers
(core/quality/readers.py) and what the person is told at the start (core/training/notices.py); the
session does not know about threads, events or run folders, beyond returning plain data (metrics,
grids, snapshots).
"""

from __future__ import annotations

import copy
import math
from contextlib import nullcontext
from dataclasses import replace

import numpy as np
import torch

from core import events as ev
from core.config import Config, parse_augment_policy
from core.data.batches import make_batches
from core.data.clusters import cluster_pictures, shares
from core.data.datasets import ImageSet
from core.models import build_discriminator, build_generator, sample_noise
from core.models.layers import MinibatchStd, group_size
from core.models.size import SizeEstimate, check_fits
from core.runs.checkpoint import FORMAT, VERSION
from core.sharing.export import grid_image, to_uint8
from core.training import distributed
from core.training.augment import AdaptiveStrength, diff_augment
from core.training.ema import EMA
from core.training.fast_path import CompiledModels, compile_plan, failure_notice
from core.training.losses import gradient_penalty, make_loss
from core.training.precision import choose as choose_precision


class Session:
    """Everything a run needs between steps: models, optimizers, data, RNG, counters."""

    def __init__(self, config: Config, dataset: ImageSet, device: torch.device,
                 ranks: distributed.Ranks | None = None, size: SizeEstimate | None = None):
        kinds = len(dataset.kind_names) if config.model.clusters_by_folder else 0
        config = config.for_dataset(len(dataset), kinds)  # model.clusters = "auto" made a number
        self.config = config
        self.device = device
        self.ranks = ranks  # None: one process; else this process's place in a torchrun job
        torch.manual_seed(config.run.seed)  # weight init and dropout
        self.rng = torch.Generator(device=device).manual_seed(config.run.seed)  # noise and augmentation
        # Convolutions run faster channels-last (NHWC) on CPUs (oneDNN) and GPUs (tensor cores):
        # 8-11% more steps/s for the default preset on a 2-core CPU (docs/benchmarks.md).
        fmt = torch.channels_last if config.model.arch != "mlp" else torch.contiguous_format
        self.size = size or check_fits(config, device)  # before allocating: widths too big are refused, named
        # (torch's stubs lack .to(device, memory_format=...), which Module.to accepts)
        self.G = build_generator(config).to(device, memory_format=fmt)  # type: ignore[call-overload]
        self.D = build_discriminator(config).to(device, memory_format=fmt)  # type: ignore[call-overload]
        self.cluster_shares = None
        # The folder's sub-folders the clusters were asked to stay inside, and whether they could (one cluster
        # a kind at least): what the start notice says (notices.py).
        self.cluster_kinds: tuple[tuple[str, ...], bool] = ((), False)
        if self.G.self_conditioned:  # the batches carry each picture's cluster as its label
            # Seeded by the data alone, not run.seed: a fork with another seed keeps the clusters its
            # checkpoint's D and G learned.
            clusters = int(config.model.clusters)  # a number here: for_dataset made "auto" one
            k = min(clusters, len(dataset))  # fewer pictures: one cluster each, the rest unused
            within = dataset.kinds if kinds and k >= kinds else None  # each kind needs a cluster of its own
            ids = cluster_pictures(dataset.images, k, seed=0, within=within)
            self.cluster_kinds = (dataset.kind_names if kinds else (), within is not None)
            self.cluster_shares = shares(ids, clusters)
            self.G.set_cluster_shares(self.cluster_shares.to(device))
            dataset = replace(dataset, labels=ids)
        self.loss = make_loss(config.loss.kind)
        # One fused kernel per optimizer step instead of a dozen per parameter list: 0.12 instead of
        # 0.40 ms an Adam step for the default's G and D on a 2-core CPU; on MPS only in later torch.
        fused = {"fused": True} if device.type in ("cuda", "cpu") else {}
        o = config.optim
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=o.lr_g, betas=o.betas_g, **fused)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=o.lr_d, betas=o.betas_d, **fused)
        self.ema = EMA(self.G, config.run.ema, config.run.ema_warmup) if config.run.ema else None
        self.augment = augment_policy(config)
        adaptive = self.augment and augment_is_adaptive(config)
        self.ada = AdaptiveStrength(config.data.augment_target, device) if adaptive else None
        rank, world = (ranks.rank, ranks.world) if ranks else (0, 1)
        self.batches = make_batches(dataset, config.run.batch_size, device, config.model.g_output,
                                    config.run.seed, config.data.stream, rank, world, memory_format=fmt,
                                    multiple_of=config.model.d_pack)
        # What a step runs: the modules themselves, or their DDPs (which average the gradients over
        # the ranks); self.G and self.D stay the plain modules, for state dicts, EMA and sampling.
        self.G_step, self.D_step = self.G, self.D
        self.joint_d = joint_d_pass(self.D, self.batches.batch_size, config.model.d_pack)
        if ranks:
            self.G_step = distributed.wrap(self.G, device, config.run.sync_batchnorm)
            self.D_step = distributed.wrap(self.D, device, config.run.sync_batchnorm)
        self.step = 0
        self.history: list[dict] = []
        self.sums = torch.zeros(4, device=device)  # g_loss, d_loss, D(x), D(G(z)) summed on the device
        self.count = 0
        self.fixed_noise, self.fixed_labels, self.columns = self._fixed_batch()
        self.rng_restarted = False
        self.precision = self._choose_precision(fmt)  # bf16 only where measured faster (precision.py)
        self.autocast = ((lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if self.precision.bf16
                         else nullcontext)
        compiled, note = compile_plan(config.run.compile, device, ranks is not None)
        self.fast = CompiledModels(self.G, self.D) if compiled else None  # run.compile (fast_path.py)
        self.notices: list[str] = [note] if note else []  # for the person, taken by the loop after a step

    def _choose_precision(self, fmt: torch.memory_format):
        """run.precision made a choice, timed (where it needs timing) on a batch of noise-made pictures of the
        run's shape: the data's order and the run's random streams are left as they were."""
        cfg, n = self.config, self.batches.batch_size
        gen = torch.Generator(device=self.device).manual_seed(0)
        real = torch.rand(n, *self.batches.images.shape[1:], device=self.device, generator=gen) * 2 - 1
        real = real.contiguous(memory_format=fmt)
        z = sample_noise(n, cfg.model.z_dim, cfg.model.noise, self.device, gen)
        key = (repr(cfg.model), repr(cfg.data.image_size), cfg.data.channels, n)
        return choose_precision(cfg.run.precision, self.G, self.D, z, real, key, labels=self._labels_like(n),
                                timed=self.ranks is None)

    def _labels_like(self, n: int) -> torch.Tensor | None:
        """Labels for n samples of a conditional model (None otherwise: a self-conditioned G picks its own)."""
        return torch.zeros(n, dtype=torch.int64, device=self.device) if self.config.model.conditional else None

    def _d_input(self, x: torch.Tensor) -> torch.Tensor:
        if not self.augment:
            return x
        return diff_augment(x, self.augment, self.rng, self.ada.p if self.ada is not None else 1.0)

    def augment_strength(self) -> float:
        """Adaptive augmentation's current chance p (NaN when augmentation is not adaptive)."""
        return self.ada.p if self.ada is not None else math.nan

    def _fixed_batch(self):
        m, n = self.config.model, self.config.run.grid_size
        if m.conditional:
            columns = 8
            labels = torch.arange(m.num_classes, device=self.device).repeat_interleave(columns)
            n = len(labels)
        else:
            columns, labels = max(1, math.ceil(math.sqrt(n))), None
        gen = torch.Generator(device=self.device).manual_seed(self.config.run.seed + 1)
        return sample_noise(n, m.z_dim, m.noise, self.device, gen), labels, columns

    # --- one training step ---

    def train_step(self) -> None:
        if self.fast is not None and self.fast.guarded:
            self._guarded_step()
        else:
            self._train_step()

    def _guarded_step(self) -> None:
        """A step that may compile: on failure the state is put back and the step runs eager."""
        assert self.fast is not None
        before = self.snapshot()
        try:
            self._train_step()
        except Exception as e:
            self.restore(before)
            self.fast = None
            self.notices.append(failure_notice(e))
            self._train_step()
        else:
            self.fast.guarded -= 1

    def take_notices(self) -> list[str]:
        notes, self.notices = self.notices, []
        return notes

    def _train_step(self) -> None:
        cfg = self.config
        smoothing = cfg.loss.label_smoothing
        r1 = cfg.loss.r1_gamma and self.step % R1_EVERY == 0  # lazy R1: every R1_EVERY steps, weighted up
        fast = self.fast
        if fast is not None:
            fast.step_begins()
        G = fast.G if fast is not None else self.G_step
        # R1 differentiates D's gradient at the reals: compiled code has no double backward.
        D = fast.D if fast is not None and not r1 else self.D_step
        D_frozen = fast.D if fast is not None else self.D
        for d_step in range(cfg.loss.d_steps):
            real, labels = self.batches.next()
            z = self._noise(real.shape[0])
            last = d_step == cfg.loss.d_steps - 1
            # A conditional G draws the real batch's labels (classes stay balanced); a self-conditioned one
            # the clusters its noise picks.
            fake_labels = self.G.cluster_of(z) if self.G.self_conditioned else labels
            # Only the last fakes teach G. The earlier ones (no graph) come from the plain G: a compiled G
            # would compile a second, gradient-free graph the first time loss.d_steps goes past 1.
            with self.autocast(), torch.set_grad_enabled(last):
                fake = self._d_input((G if last else self.G_step)(z, fake_labels))
            with self.autocast():
                real = self._d_input(real).requires_grad_(bool(r1))
                d_real, d_fake = self._judge(D, real, fake.detach(), labels, fake_labels)
                loss_d = self.loss.d_loss(d_real.float(), d_fake.float(), smoothing)
            if self.ada is not None:
                self.ada.observe(d_real)
            if cfg.loss.kind == "wgan-gp":
                loss_d = loss_d + cfg.loss.gp_weight * gradient_penalty(self.D_step, real, fake, labels, self.rng)
            if r1:
                loss_d = loss_d + cfg.loss.r1_gamma / 2 * R1_EVERY * r1_penalty(d_real, real)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
        # G's update reuses the last D step's fakes: one generator forward per step, not two. D is
        # frozen for it and called without its DDP wrapper: G's backward computes no gradients for
        # D's weights (which the next D step would discard) and, under torchrun, averages none.
        self.D.requires_grad_(False)
        try:
            with self.autocast():
                d_gen = D_frozen(fake, fake_labels)
                if cfg.loss.g_top_k < 1:
                    d_gen = top_k(d_gen, cfg.loss.g_top_k, self.batches.epoch)
                loss_g = self.loss.g_loss(d_gen.float(), d_real.float())
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
        finally:
            self.D.requires_grad_(True)
        self.opt_g.step()
        if self.ema is not None:
            self.ema.update(self.G, self.step)
        with torch.no_grad():
            score = self.loss.score
            self.sums += torch.stack([loss_g.detach(), loss_d.detach(), score(d_real.float()).mean(),
                                      score(d_fake.float()).mean()])
        self.count += 1
        self.step += 1

    def _judge(self, D, real: torch.Tensor, fake: torch.Tensor, labels, fake_labels) -> tuple[torch.Tensor, ...]:
        """D's outputs on the reals and on the fakes: in one call on both when D treats every sample
        on its own (twice the batch per layer runs faster than two calls on a CPU), else one each
        (a BatchNorm D must see the reals and the fakes as separate batches)."""
        if not self.joint_d:
            return D(real, labels), D(fake, fake_labels)
        both = D(torch.cat([real, fake]), torch.cat([labels, fake_labels]) if labels is not None else None)
        return both[:real.shape[0]], both[real.shape[0]:]

    def _noise(self, n: int) -> torch.Tensor:
        """This rank's noise: every rank draws the whole global batch's and keeps its own slice, so N
        processes of batch B draw exactly what one process of batch N x B would."""
        m = self.config.model
        if not self.ranks:
            return sample_noise(n, m.z_dim, m.noise, self.device, self.rng)
        z = sample_noise(n * self.ranks.world, m.z_dim, m.noise, self.device, self.rng)
        return z[self.ranks.rank * n:(self.ranks.rank + 1) * n]

    def read_metrics(self) -> list[float]:
        """Mean of the sums since the last reading (over all ranks); the one host sync per log tick."""
        if self.ranks:
            distributed.mean(self.sums, self.ranks)
        values = (self.sums / max(self.count, 1)).tolist()
        self.sums.zero_()
        self.count = 0
        return values

    # --- live changes ---

    def apply_changes(self, changes: dict) -> None:
        self.config = self.config.with_values(**changes)
        o = self.config.optim
        for opt, lr, betas in ((self.opt_g, o.lr_g, o.betas_g), (self.opt_d, o.lr_d, o.betas_d)):
            for group in opt.param_groups:  # the optimizers (and their moments) are kept
                group["lr"], group["betas"] = lr, betas

    # --- samples ---

    def sampling_generator(self) -> torch.nn.Module:
        return self.ema.module if self.ema is not None else self.G

    @torch.no_grad()
    def generator_snapshot(self) -> ev.GeneratorSnapshot:
        weights = {k: v.detach().cpu().numpy().copy() for k, v in self.sampling_generator().state_dict().items()}
        labels = self.fixed_labels.cpu().numpy() if self.fixed_labels is not None else None
        return ev.GeneratorSnapshot(self.step, self.config.to_dict(), weights, self.fixed_noise.cpu().numpy(),
                                    labels, self.columns)

    @torch.no_grad()
    def render_grid(self) -> np.ndarray:
        G = self.sampling_generator()
        G.eval()
        images = to_uint8(G(self.fixed_noise, self.fixed_labels), self.config.model.g_output)
        G.train()
        return grid_image(images, self.columns).permute(1, 2, 0).numpy().copy()

    # --- state ---

    def state_dict(self) -> dict:
        return {
            "format": FORMAT, "version": VERSION, "config": self.config.to_dict(), "step": self.step,
            "generator": self.G.state_dict(), "discriminator": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "rng": {"torch": torch.get_rng_state(), "trainer": self.rng.get_state().cpu(),
                    "cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else []},
            "batches": self.batches.state_dict(), "fixed_noise": self.fixed_noise.cpu(),
            "fixed_labels": self.fixed_labels.cpu() if self.fixed_labels is not None else None,
            "history": list(self.history), "accum": {"sums": self.sums.cpu(), "count": self.count},
            "augment": self.ada.state_dict() if self.ada is not None else None,
        }

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])
        self.G.load_state_dict(state["generator"])
        self.D.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.load_state_dict(state["ema"])
        self.apply_changes({})  # this run's learning rates and betas, not those stored with the moments
        torch.set_rng_state(state["rng"]["torch"])
        self.rng_restarted = False
        try:
            self.rng.set_state(state["rng"]["trainer"].to(self.rng.get_state().device))
        except RuntimeError:
            # Saved on another kind of device (a CUDA generator's state is not a CPU one's): the
            # noise stream restarts, from the seed and the step so it is still reproducible.
            self.rng.manual_seed(self.config.run.seed + self.step)
            self.rng_restarted = True
        if self.device.type == "cuda" and state["rng"]["cuda"]:
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.batches.load_state_dict(state["batches"])
        if state["fixed_noise"].shape == self.fixed_noise.shape:  # a fork may ask for another grid size
            self.fixed_noise = state["fixed_noise"].to(self.device)
            if state["fixed_labels"] is not None:
                self.fixed_labels = state["fixed_labels"].to(self.device)
        self.history = list(state["history"])
        self.sums = state["accum"]["sums"].to(self.device)
        self.count = int(state["accum"]["count"])
        if self.ada is not None and state.get("augment"):  # checkpoints from before it start at p = 0
            self.ada.load_state_dict(state["augment"])

    def snapshot(self) -> dict:
        """An in-memory copy to fall back to if a loss goes NaN. The history only
        grows, so its length is kept instead of a copy (which would grow with the run)."""
        state = self.state_dict()
        history, state["history"] = state["history"], []
        good = copy.deepcopy(state)
        good["history"] = len(history)
        return good

    def restore(self, good: dict) -> None:
        """Roll back to a snapshot; `good` stays usable for a second rollback."""
        history = self.history[:good["history"]]
        self.load_state_dict({**copy.deepcopy({**good, "history": []}), "history": history})


R1_EVERY = 16  # steps between R1 penalties (StyleGAN2's lazy regularisation)


def r1_penalty(d_real: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean squared norm of D's gradient at the real images (Mescheder et al. 2018)."""
    (grad,) = torch.autograd.grad(d_real.float().sum(), real, create_graph=True)
    return grad.float().square().flatten(1).sum(1).mean()


def top_k(scores: torch.Tensor, fraction: float, epoch: int) -> torch.Tensor:
    """The fakes D rates most real (Sinha et al. 2020): all of them at first, then a share shrinking
    by 1% an epoch down to `fraction`, so G learns from its best samples and not its worst."""
    keep = max(fraction, 0.99 ** epoch)
    return torch.topk(scores, max(1, math.ceil(keep * scores.shape[0]))).values


def joint_d_pass(D: torch.nn.Module, batch_size: int, pack: int) -> bool:
    """Whether D can judge a batch of reals and fakes in one call: only when no layer mixes the two,
    that is no BatchNorm, and minibatch-std groups that fit within each half."""
    if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in D.modules()):
        return False
    judged = batch_size // pack  # D scores one pack of images at a time
    return not any(isinstance(m, MinibatchStd) for m in D.modules()) or judged % group_size(2 * judged) == 0


def augment_is_adaptive(config: Config) -> bool:
    """Whether augmentation, when on, follows AdaptiveStrength ('auto' and 'adaptive') or is always on."""
    return config.data.augment in ("auto", "adaptive")


def augment_policy(config: Config) -> tuple[str, ...]:
    """The DiffAugment operations this run uses: none when off, or for 'auto' unless the data is an
    image folder (where 'auto' is adaptive: AdaptiveStrength keeps p near 0 when the folder is large
    enough, and applying the operations to none of the pictures costs nothing)."""
    mode = config.data.augment
    if mode == "off" or (mode == "auto" and config.data.dataset != "folder"):
        return ()
    return parse_augment_policy(config.data.augment_policy)
