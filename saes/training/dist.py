"""Multi-process training under torchrun: the process group, this rank's slice of each batch, small collectives.

With WORLD_SIZE > 1 (set by torchrun) a process group starts (nccl on GPU, gloo on CPU); every SAE is wrapped in
DistributedDataParallel, which all-reduces (averages) gradients during backward. Each rank takes the rows
[rank·B/N, (rank+1)·B/N) of every global batch, so the averaged gradient is the gradient of the global batch mean.
A plain run is a Dist of world 1 and no collective is ever called.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as td


@dataclass(frozen=True)
class Dist:
    """This process's place in the run and its device."""

    rank: int = 0
    world: int = 1
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def rows(self, batch_size: int) -> tuple[int, int]:
        """[lo, hi) of this rank's slice of a global batch."""
        per = batch_size // self.world
        return self.rank * per, (self.rank + 1) * per

    def barrier(self) -> None:
        if self.world > 1:
            td.barrier()

    def all_ok(self, ok: bool) -> bool:
        """True when every rank is ok (each rank learns whether another one failed)."""
        if self.world == 1:
            return ok
        flag = torch.tensor([int(ok)], device=self.device)
        td.all_reduce(flag, op=td.ReduceOp.MIN)
        return bool(flag.item())

    def sum_(self, t: torch.Tensor) -> torch.Tensor:
        """In-place sum over ranks."""
        if self.world > 1:
            td.all_reduce(t, op=td.ReduceOp.SUM)
        return t

    def mean_(self, t: torch.Tensor) -> torch.Tensor:
        """In-place mean over ranks."""
        return self.sum_(t).div_(self.world) if self.world > 1 else t

    def close(self) -> None:
        if self.world > 1 and td.is_initialized():
            td.destroy_process_group()


def resolve_device(pref: str) -> str:
    if pref == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if pref == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but no CUDA GPU is visible; use --device cpu")
    return pref


def setup(device_pref: str, batch_size: int) -> Dist:
    """Join the torchrun process group when WORLD_SIZE > 1; check the global batch splits evenly."""
    device = resolve_device(device_pref)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(device=device)
    if batch_size % world:
        raise ValueError(f"--batch-size {batch_size} does not split evenly over {world} processes; "
                         f"use a multiple of {world}")
    if device == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not td.is_initialized():
        td.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return Dist(td.get_rank(), td.get_world_size(), device)
