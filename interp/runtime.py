"""The run context every command runs in: its device, its CPU threads and its place in a torchrun group.

`start_run(device, threads, batch_size)` resolves the device ("auto" takes CUDA when there is one; "cuda" without CUDA
is a clear error), applies the thread count, and, when torchrun started several processes (WORLD_SIZE > 1), joins
the process group (NCCL on GPUs, each process on its LOCAL_RANK's GPU; gloo on CPUs). A plain run is a RunContext
of world 1 on which no collective is ever called, so single-process code needs no special case. Commands that split
a global batch over processes take rows [rank·B/N, (rank+1)·B/N) of it (`rows`), so averaged gradients are the
gradient of the global batch mean (PyTorch DDP semantics).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as td
from jaxtyping import Float, Shaped
from torch import Tensor


def resolve_device(pref: str) -> str:
    """"auto" -> "cuda" when a GPU is visible else "cpu"; "cuda" without one is a one-line error."""
    if pref == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if pref.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {pref} asked for, but no CUDA GPU is visible; use --device cpu")
    return pref


@dataclass(frozen=True)
class RunContext:
    """This process's place in the run and its device."""

    rank: int = 0
    world: int = 1
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def rows(self, batch_size: int) -> tuple[int, int]:
        """[lo, hi) of this process's slice of a global batch."""
        per = batch_size // self.world
        return self.rank * per, (self.rank + 1) * per

    def barrier(self) -> None:
        if self.world > 1:
            td.barrier()

    def all_ok(self, ok: bool) -> bool:
        """True when every process is ok (each process learns whether another one failed)."""
        if self.world == 1:
            return ok
        flag = torch.tensor([int(ok)], device=self._collective_device())
        td.all_reduce(flag, op=td.ReduceOp.MIN)
        return bool(flag.item())

    def sum_(self, t: Shaped[Tensor, "*shape"]) -> Shaped[Tensor, "*shape"]:
        """In-place sum over processes."""
        if self.world > 1:
            td.all_reduce(t, op=td.ReduceOp.SUM)
        return t

    def mean_(self, t: Float[Tensor, "*shape"]) -> Float[Tensor, "*shape"]:
        """In-place mean over processes."""
        return self.sum_(t).div_(self.world) if self.world > 1 else t

    def sum_int(self, value: int) -> int:
        """`value` summed over processes."""
        if self.world == 1:
            return value
        return int(self.sum_(torch.tensor([value], dtype=torch.int64, device=self._collective_device())).item())

    def close(self) -> None:
        if self.world > 1 and td.is_initialized():
            td.destroy_process_group()

    def _collective_device(self) -> str:
        return self.device if self.device.startswith("cuda") else "cpu"


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Rank 0 of a torchrun group, or a plain process (usable after the group is closed)."""
    return int(os.environ.get("RANK", "0")) == 0


def auto_threads() -> int:
    """The CPU threads worth using now: OMP_NUM_THREADS when set; else the cores the machine leaves idle by its
    one-minute load average (at least 1). On 2 busy cores one thread is ~1.5x faster than two (they thrash); on 2
    idle cores two are ~1.8x faster than one (SmolLM2's forward, measured), so neither fixed choice is right."""
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        load = os.getloadavg()[0]
    except OSError:  # no load average on this platform: take the cores
        return cores
    return max(1, min(cores, round(cores - load)))


def start_run(device: str = "auto", threads: int = 0, batch_size: int | None = None) -> RunContext:
    """The run context: device resolved, `threads` applied (0: `auto_threads()`), process group joined under
    torchrun; `batch_size`, when given, must split evenly over the processes."""
    torch.set_num_threads(threads if threads > 0 else auto_threads())
    device = resolve_device(device)
    world = world_size()
    if world <= 1:
        return RunContext(device=device)
    if batch_size is not None and batch_size % world:
        raise ValueError(f"--batch-size {batch_size} does not split evenly over {world} processes; "
                         f"use a multiple of {world}")
    if device.startswith("cuda"):
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not td.is_initialized():
        td.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return RunContext(td.get_rank(), td.get_world_size(), device)
