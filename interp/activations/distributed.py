"""Multi-process caching under torchrun: who this process is, barriers, and merging per-rank manifests.

Only when WORLD_SIZE > 1 (set by torchrun) is a gloo process group started; a plain run needs nothing. Shard K
goes to rank K % world, so ranks cover disjoint documents. Each rank records its finished shards in its own
manifest.rank{R}.json (no two processes ever write the same file); after a barrier rank 0 merges them into
manifest.json. A killed multi-process run leaves rank manifests behind, which the next run (of any world size)
merges first, so no finished shard is lost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .manifest import MANIFEST, Manifest


class GroupStatus(NamedTuple):
    """Outcome of a run across all ranks."""

    all_ok: bool
    new_tokens: int


@dataclass(frozen=True)
class Dist:
    """This process's place in the run."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as td

            td.barrier()

    def gather_status(self, ok: bool, new_tokens: int) -> GroupStatus:
        """Whether every rank is ok, and the tokens all ranks computed (also a barrier)."""
        if self.world == 1:
            return GroupStatus(ok, new_tokens)
        import torch
        import torch.distributed as td

        failed = torch.tensor([int(not ok), new_tokens], dtype=torch.int64)
        td.all_reduce(failed, op=td.ReduceOp.SUM)
        return GroupStatus(failed[0].item() == 0, int(failed[1].item()))

    def close(self) -> None:
        if self.world > 1:
            import torch.distributed as td

            if td.is_initialized():
                td.destroy_process_group()


def setup() -> Dist:
    """Join the torchrun process group (gloo, CPU) when WORLD_SIZE > 1; otherwise a single-process Dist."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as td

    if not td.is_initialized():
        td.init_process_group("gloo")
    return Dist(td.get_rank(), td.get_world_size())


def is_main_process() -> bool:
    """Rank 0 of a torchrun group, or a plain process (usable after the group is closed)."""
    return int(os.environ.get("RANK", "0")) == 0


def merge_rank_manifests(folder: Path, manifest: Manifest) -> int:
    """Fold every manifest.rank*.json of `folder` into `manifest`, save it, delete them; return shards merged."""
    merged = 0
    parts = sorted(folder.glob("manifest.rank*.json"))
    for part in parts:
        other = Manifest.load(part)
        manifest.check_same(other, folder)
        for shard in other.shards:
            manifest.add(shard)
            merged += 1
    if parts:
        manifest.save(folder / MANIFEST)
        for part in parts:
            part.unlink()
    return merged
