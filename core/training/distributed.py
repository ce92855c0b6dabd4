"""One run over several processes with torch.distributed: `torchrun --nproc-per-node N main.py train ...`.

torchrun starts the processes and sets RANK, LOCAL_RANK and WORLD_SIZE; each process trains
with its own slice of every global batch (run.batch_size images per process) and G and D are
each wrapped in their own DistributedDataParallel, which averages their gradients. Rank 0
alone writes the run folder, takes quality readings and listens to the control channel; the
other ranks follow its decisions (pause, step, stop, live changes), which it broadcasts at
each log tick, where the metrics are averaged over the ranks anyway, so the steps between
ticks gain no extra synchronisation. The checkpoints hold the plain modules' state, so a run
started under torchrun resumes in one process, or in the app, and the other way round.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from core.config import ConfigError
from core.control import Control

WAIT_S = 1.0  # while paused, rank 0 tells the others every this many seconds (no collective times out)


@dataclass(frozen=True)
class Ranks:
    rank: int
    world: int
    local_rank: int

    @property
    def main(self) -> bool:
        return self.rank == 0


def from_environment() -> Ranks | None:
    """The process's place in a torchrun job, or None for a plain single process. One process
    started by torchrun (which sets TORCHELASTIC_RUN_ID) is a job of one: it joins a process group
    and trains through DDP, the way to try the distributed path (NCCL) on a machine with one GPU."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world < 1 or (world == 1 and "TORCHELASTIC_RUN_ID" not in os.environ):
        return None
    try:
        return Ranks(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    except (KeyError, ValueError):
        raise ConfigError(f"WORLD_SIZE = {world} but RANK is missing: start several processes with torchrun "
                          "(torchrun --nproc-per-node N main.py train ...)") from None


def start(ranks: Ranks, device: torch.device) -> torch.device:
    """Join the job's process group (NCCL on CUDA, gloo on the CPU); the device this rank trains on."""
    if device.type == "cuda":
        device = torch.device("cuda", ranks.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def describe(ranks: Ranks) -> str:
    """How the job runs, for the Started event: how many processes, over which backend."""
    return f"torchrun: {ranks.world} process{'es' if ranks.world > 1 else ''} over {dist.get_backend()}"


def stop() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap(module: nn.Module, device: torch.device, sync_batchnorm: bool) -> nn.Module:
    """The module's own DDP. Buffers are not broadcast before each forward: D runs twice before its
    backward (real and fake batches), and the in-place broadcast of BatchNorm's running statistics
    between the two breaks autograd (pytorch#175024); SyncBatchNorm, when asked for, keeps them equal."""
    if sync_batchnorm:
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids, broadcast_buffers=False)


def mean(tensor: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """The tensor averaged over the ranks (in place)."""
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.div_(ranks.world)


class Steering:
    """The trainer's Control, kept the same on every rank.

    The loop reads `local`, which changes only at sync(): rank 0 then takes what arrived in its
    `leader` (the app's buttons, the control channel, Ctrl+C) and broadcasts it to all."""

    def __init__(self, leader: Control, ranks: Ranks):
        self.leader, self.ranks = leader, ranks
        self.local = Control()

    def sync(self) -> None:
        plan = [self.leader.take_plan() if self.ranks.main else None]
        dist.broadcast_object_list(plan, src=0)
        received = plan[0]
        assert received is not None  # every rank now holds rank 0's plan
        self.local.apply_plan(received)

    def wait_paused(self) -> None:
        """While paused: rank 0 waits for news (at most WAIT_S), then all ranks sync."""
        if self.ranks.main:
            self.leader.wait(WAIT_S)
        self.sync()
