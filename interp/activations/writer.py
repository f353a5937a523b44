"""Durable shard writing: checksummed safetensors files, atomic renames, and fsync overlapped with compute.

Each shard file is a standard safetensors file, written straight from the preallocated buffers (no serialising
copy) into a temp file while its checksum (xxh3-128) is computed on the same bytes, then fsync'ed and os.replace'd
into place.
Only when every file of the shard is durable is the shard added to the manifest (itself replaced atomically), so a
run killed at any moment leaves complete shards listed and at most some `*.tmp` files, which the next run deletes.

Why this split of work: on a machine with few cores, a busy writer thread running beside the forward pass's
OpenMP threads slows the forward pass far more than the writer's own cost (threads wait at every op's barrier).
So the CPU-bound part (copy into the page cache + checksum, both parallel across files) runs while the forward pass
waits, and only the I/O-bound part (fsync, rename, manifest) runs in the background. After fsync the pages are
dropped from the page cache (POSIX_FADV_DONTNEED): reusing those pages makes the next writes several times faster
than touching fresh memory, and a multi-GB cache does not push everything else out of memory.

Before each shard the free space is probed (`free_bytes`, the seam tests replace) against the shard's size with a
margin; a full disk (probe or ENOSPC while writing) stops the run with a DiskFullError and keeps what was written.
"""

from __future__ import annotations

import errno
import json
import os
import queue
import shutil
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
import xxhash
from jaxtyping import Int, Int8
from torch import Tensor

from .manifest import SHARD_DIR, TOKENS_KEY, CacheError, FileRecord, Manifest, ShardRecord, fsync_dir, shard_stem

SAFETENSORS_DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int8: "I8",
                     torch.int16: "I16", torch.int32: "I32", torch.int64: "I64", torch.uint8: "U8"}
MARGIN_BYTES = 16 << 20
"""Free space kept beyond a shard's size (plus 5%), for the manifest and the file system's own needs."""
_WRITE_BLOCK = 1 << 23


class DiskFullError(CacheError):
    """Not enough free disk for the next shard; the shards written so far are kept."""


def free_bytes(path: Path) -> int:
    """Free bytes on the file system holding `path` (tests replace this to simulate a full disk)."""
    return shutil.disk_usage(path).free


@dataclass
class ShardBuffers:
    """Preallocated storage for one shard, filled by the forward hooks and read by the writer."""

    acts: dict[str, Tensor]
    """hook -> [max_tokens, d] in the storage dtype."""
    tokens: Int[Tensor, " max_tokens"]
    labels: Int8[Tensor, "max_tokens field"] | None

    @classmethod
    def allocate(cls, d: dict[str, int], max_tokens: int, dtype: torch.dtype, n_label_fields: int | None
                 ) -> ShardBuffers:
        acts = {h: torch.empty((max_tokens, dh), dtype=dtype) for h, dh in d.items()}
        labels = None if n_label_fields is None else torch.empty((max_tokens, n_label_fields), dtype=torch.int8)
        return cls(acts, torch.empty(max_tokens, dtype=torch.int32), labels)

    def nbytes(self, n_tokens: int) -> int:
        per_token = sum(a.shape[1] * a.element_size() for a in self.acts.values()) + 4 + 8 + 4
        return n_tokens * (per_token + (0 if self.labels is None else self.labels.shape[1]))


@dataclass
class ShardJob:
    """A filled shard to write: documents [first_doc, first_doc + n_docs) of n_ctx tokens each."""

    index: int
    first_doc: int
    n_docs: int
    n_ctx: int
    buffers: ShardBuffers

    @property
    def n_tokens(self) -> int:
        return self.n_docs * self.n_ctx


def _header(tensors: dict[str, Tensor], metadata: dict[str, str]) -> bytes:
    """The safetensors header (8-byte length + JSON, padded to 8 bytes) for `tensors` laid out in order."""
    entries, offset = {"__metadata__": metadata}, 0
    for name, t in tensors.items():
        n = t.numel() * t.element_size()
        entries[name] = {"dtype": SAFETENSORS_DTYPE[t.dtype], "shape": list(t.shape), "data_offsets": [offset,
                                                                                                      offset + n]}
        offset += n
    js = json.dumps(entries, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    return struct.pack("<Q", len(js)) + js


@dataclass
class PendingFile:
    """A file written to its temp name but not yet durable."""

    tmp: Path
    final: Path
    record: FileRecord


def write_safetensors_tmp(path: Path, tensors: dict[str, Tensor], metadata: dict[str, str], folder: Path
                          ) -> PendingFile:
    """Write a safetensors file to `path`.tmp, hashing the bytes as they are written (no fsync yet)."""
    tmp = path.with_name(path.name + ".tmp")
    h, size = xxhash.xxh3_128(), 0
    try:
        with open(tmp, "wb") as f:
            head = _header(tensors, metadata)
            for part in [memoryview(head)] + [_bytes_view(t) for t in tensors.values()]:
                for lo in range(0, len(part), _WRITE_BLOCK):
                    block = part[lo:lo + _WRITE_BLOCK]
                    h.update(block)
                    f.write(block)
                    size += len(block)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if e.errno == errno.ENOSPC:
            raise DiskFullError(f"disk full while writing {path.name} in {folder}; the shards listed in the "
                                f"manifest are kept, free space and run again to resume") from None
        raise
    return PendingFile(tmp, path, FileRecord(str(path.relative_to(folder)), h.hexdigest(), size))


def make_durable(pending: PendingFile) -> None:
    """fsync the temp file, drop it from the page cache, and move it to its final name."""
    fd = os.open(pending.tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # reusing page-cache pages makes later writes faster
    finally:
        os.close(fd)
    os.replace(pending.tmp, pending.final)


def _bytes_view(t: Tensor) -> memoryview:
    flat = t.contiguous().reshape(-1)  # [numel], a view of the contiguous buffer
    return memoryview(flat.view(torch.uint8).numpy())


def check_free_space(folder: Path, job: ShardJob) -> None:
    need = int(job.buffers.nbytes(job.n_tokens) * 1.05) + MARGIN_BYTES
    free = free_bytes(folder)
    if free < need:
        raise DiskFullError(f"not enough disk space in {folder} for shard {job.index}: it needs ~{need:,} bytes, "
                            f"{free:,} are free. The shards listed in the manifest are kept; free space and run "
                            f"again to resume")


def shard_tensors(job: ShardJob) -> dict[str, dict[str, Tensor]]:
    """File key (hook name or TOKENS_KEY) -> the tensors of that file, views of the shard's buffers."""
    n, buf = job.n_tokens, job.buffers
    files = {hook: {"activations": acts[:n]} for hook, acts in buf.acts.items()}
    docs = torch.arange(job.first_doc, job.first_doc + job.n_docs, dtype=torch.int64)
    files[TOKENS_KEY] = {"tokens": buf.tokens[:n],
                         "doc_ids": docs.repeat_interleave(job.n_ctx),  # [n_docs * n_ctx]
                         "positions": torch.arange(job.n_ctx, dtype=torch.int32).repeat(job.n_docs)}  # same
    if buf.labels is not None:
        files[TOKENS_KEY]["labels"] = buf.labels[:n]
    return files


class ShardWriter:
    """Writes shards: the CPU part (copy into the page cache + checksum) on a small thread pool while the caller
    waits, so it never competes with the forward passes for cores; the waiting part (fsync, rename, manifest
    update) on one background thread while the next shard is computed. After `write()` returns, the shard's
    buffers may be refilled. The first error is re-raised by the next `write()` or by `close()`.
    """

    def __init__(self, folder: Path, rank: int, manifest: Manifest, manifest_path: Path, n_workers: int = 2):
        self.folder, self.rank, self.manifest, self.manifest_path = folder, rank, manifest, manifest_path
        self.pool = ThreadPoolExecutor(n_workers, thread_name_prefix="shard-write")
        self.pending: queue.Queue[tuple[ShardJob, dict[str, PendingFile]] | None] = queue.Queue()
        self.error: BaseException | None = None
        self.written: list[ShardRecord] = []
        self.thread = threading.Thread(target=self._finalize_loop, name="shard-fsync", daemon=True)
        self.thread.start()

    def write(self, job: ShardJob) -> None:
        self._raise_if_failed()
        check_free_space(self.folder, job)
        stem = shard_stem(self.rank, job.index)
        meta = {"shard": str(job.index), "first_doc": str(job.first_doc), "n_docs": str(job.n_docs)}
        futures = {key: self.pool.submit(write_safetensors_tmp, self.folder / SHARD_DIR / f"{stem}.{key}.safetensors",
                                         tensors, {**meta, "file": key}, self.folder)
                   for key, tensors in shard_tensors(job).items()}
        files, errors = {}, []
        for key, fut in futures.items():
            try:
                files[key] = fut.result()
            except BaseException as e:  # collect, clean up, then raise the first
                errors.append(e)
        if errors:
            for p in files.values():
                p.tmp.unlink(missing_ok=True)
            raise errors[0]
        self.pending.put((job, files))

    def _finalize_loop(self) -> None:
        while (item := self.pending.get()) is not None:
            if self.error is not None:
                continue
            job, files = item
            try:
                for p in files.values():
                    make_durable(p)
                fsync_dir(self.folder / SHARD_DIR)
                record = ShardRecord(job.index, self.rank, job.first_doc, job.n_docs, job.n_tokens,
                                     {k: p.record for k, p in files.items()})
                self.manifest.add(record)
                self.manifest.save(self.manifest_path)
                self.written.append(record)
            except OSError as e:
                self.error = (DiskFullError(f"disk full while making shard {job.index} durable in {self.folder}")
                              if e.errno == errno.ENOSPC else e)
            except BaseException as e:  # re-raised in the caller's thread
                self.error = e

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self) -> list[ShardRecord]:
        """Wait until every written shard is durable and listed; raise the first error if one happened."""
        self.pending.put(None)
        self.thread.join()
        self.pool.shutdown()
        self._raise_if_failed()
        return self.written
