"""Multi-process caching under torchrun: merging the per-rank manifests (the process group is interp.runtime's).

Shard K
goes to rank K % world, so ranks cover disjoint documents. Each rank records its finished shards in its own
manifest.rank{R}.json (no two processes ever write the same file); after a barrier rank 0 merges them into
manifest.json. A killed multi-process run leaves rank manifests behind, which the next run (of any world size)
merges first, so no finished shard is lost.
"""

from __future__ import annotations

from pathlib import Path

from .manifest import MANIFEST, Manifest


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
