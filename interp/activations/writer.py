"""Durable shard writing: checksummed safetensors files (see `files`), atomic renames, and disk writes overlapped
with compute.

Each shard file is a standard safetensors file, written straight from the preallocated buffers (no serialising
copy) into a temp file while its checksum (xxh3-128) is computed on the same bytes, then fsync'ed and os.replace'd
into place. Only when every file of the shard is durable is the shard added to the manifest (itself replaced
atomically), so a run killed at any moment leaves complete shards listed and at most some `*.tmp` files, which the
next run deletes.

Why direct I/O: the cache writes ~8 KB per token (4 hooks x 512 floats), and on a 2-core machine copying that into
the page cache costs about a fifth of the forward pass's time, while a busy writer thread beside the forward pass's
OpenMP threads slows the forward pass more than its own cost (threads wait at every op's barrier). With O_DIRECT
the disk reads the bytes straight from our 4096-aligned buffers (DMA), so the whole write (and the fsync) runs on a
background thread that mostly waits. It writes each batch's rows as soon as the forward pass has filled them (the
checksum is fed in file order as it goes), and the next shard is computed into the other of two buffers, so
little is left to write when the last batch is done. Where O_DIRECT is missing (tmpfs, macOS) the old split is
used: the CPU part (copy into the page cache + checksum) runs while the forward pass waits, only fsync, rename and
the manifest update in the background, and the pages are dropped after fsync (POSIX_FADV_DONTNEED).

Before each shard the free space is probed (`free_bytes`, the seam tests replace) against the shard's size with a
margin, and every file is preallocated to its final size (posix_fallocate), so a full disk stops the run with a
DiskFullError before any of the shard is written, and keeps every shard written before.
"""

from __future__ import annotations

import errno
import queue
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch
from jaxtyping import Int, Int8, Shaped
from torch import Tensor

from ..atomic import fsync_path
from .files import (  # noqa: F401  (DiskFullError is part of this module's interface)
    DiskFullError,
    PendingFile,
    StreamingFile,
    aligned_empty,
    make_durable,
    supports_direct_io,
    write_safetensors_tmp,
)
from .manifest import SHARD_DIR, TOKENS_KEY, Manifest, ShardRecord, shard_stem

MARGIN_BYTES = 16 << 20
"""Free space kept beyond a shard's size (plus 5%), for the manifest and the file system's own needs."""


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
    free: threading.Event = field(default_factory=threading.Event)
    """Set while nothing is being written from these buffers (they may be refilled)."""

    def __post_init__(self):
        self.free.set()

    @classmethod
    def allocate(cls, d: dict[str, int], max_tokens: int, dtype: torch.dtype, n_label_fields: int | None
                 ) -> ShardBuffers:
        acts = {h: aligned_empty((max_tokens, dh), dtype) for h, dh in d.items()}
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


def check_free_space(folder: Path, job: ShardJob) -> None:
    need = int(job.buffers.nbytes(job.n_tokens) * 1.05) + MARGIN_BYTES
    free = free_bytes(folder)
    if free < need:
        raise DiskFullError(f"not enough disk space in {folder} for shard {job.index}: it needs ~{need:,} bytes, "
                            f"{free:,} are free. The shards listed in the manifest are kept; free space and run "
                            f"again to resume")


def shard_tensors(job: ShardJob) -> dict[str, dict[str, Shaped[Tensor, "*shape"]]]:
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
    """Writes shards in the background while the caller computes the next one into other buffers.

    The caller announces a shard with `begin(job)` (free space is checked and, with direct I/O, its files are created at
    their final size in the background), reports filled rows with `progress(job, n_rows, hook)`, and hands it over with
    `write(job)`. With direct I/O (see the module docstring) one background thread writes each reported row range as
    soon as it is filled, so when the last shard's compute ends only its last batch, the small tokens file and the
    fsyncs are left; it then syncs, renames and lists the shard and marks its buffers free. Without direct I/O,
    `write()` copies the files into the page cache on a small thread pool (the caller waits, so this never competes
    with the forward passes for cores), and only the syncing part is left to the background. Either way the buffers
    of a job may be refilled once `buffers.free` is set. The first error is re-raised by the next call or by
    `close()`.
    """

    def __init__(self, folder: Path, rank: int, manifest: Manifest, manifest_path: Path, n_workers: int = 2,
                 direct: bool | None = None):
        self.folder, self.rank, self.manifest, self.manifest_path = folder, rank, manifest, manifest_path
        self.direct = supports_direct_io(folder / SHARD_DIR) if direct is None else direct
        self.pool = ThreadPoolExecutor(n_workers, thread_name_prefix="shard-write")
        self.pending: queue.Queue[tuple[str, ShardJob, object] | None] = queue.Queue()
        self.streams: dict[int, dict[str, StreamingFile]] = {}
        self.error: BaseException | None = None
        self.written: list[ShardRecord] = []
        self.thread = threading.Thread(target=self._loop, name="shard-write", daemon=True)
        self.thread.start()

    def begin(self, job: ShardJob) -> None:
        """Before `job`'s activations are computed (its tokens and labels already in its buffers)."""
        self._raise_if_failed()
        check_free_space(self.folder, job)
        if self.direct:  # written from the buffers in the background; they are busy until then
            job.buffers.free.clear()
            self.pending.put(("open", job, None))  # creating files waits on the file system while it syncs

    def progress(self, job: ShardJob, n_rows: int, hook: str) -> None:
        """Rows [0, n_rows) of `job`'s activations at `hook` are final."""
        self._raise_if_failed()
        if self.direct:
            self.pending.put(("rows", job, (hook, n_rows)))

    def write(self, job: ShardJob) -> None:
        """Every row of `job` is final: make the shard durable and list it (in the background)."""
        self._raise_if_failed()
        self.pending.put(("finish", job, None if self.direct else self._write_files(job, self.pool.map)))

    def _files(self, job: ShardJob) -> dict[str, tuple[Path, dict[str, Tensor], dict[str, str]]]:
        """File key -> (final path, tensors, safetensors metadata) of every file of `job`."""
        stem = shard_stem(self.rank, job.index)
        meta = {"shard": str(job.index), "first_doc": str(job.first_doc), "n_docs": str(job.n_docs)}
        return {key: (self.folder / SHARD_DIR / f"{stem}.{key}.safetensors", tensors, {**meta, "file": key})
                for key, tensors in shard_tensors(job).items()}

    def _write_files(self, job: ShardJob, map_fn=map) -> dict[str, PendingFile]:
        """Write every file of `job` to its temp name; on error remove those written and raise the first."""
        files = self._files(job)

        def one(key: str) -> PendingFile | BaseException:
            try:
                return write_safetensors_tmp(*files[key], self.folder, self.direct)
            except BaseException as e:  # collected, so the others finish and are cleaned up
                return e

        done = dict(zip(files, map_fn(one, list(files))))
        errors = [r for r in done.values() if isinstance(r, BaseException)]
        if errors:
            for p in done.values():
                if isinstance(p, PendingFile):
                    p.tmp.unlink(missing_ok=True)
            raise errors[0]
        return done

    def _loop(self) -> None:
        while (item := self.pending.get()) is not None:
            kind, job, arg = item
            try:
                if self.error is None:
                    {"open": self._open, "rows": self._write_rows, "finish": self._finalize}[kind](job, arg)
            except OSError as e:
                self.error = (DiskFullError(f"disk full while writing shard {job.index} in {self.folder}; the "
                                            f"shards listed in the manifest are kept, free space and run again")
                              if e.errno == errno.ENOSPC else e)
            except BaseException as e:  # re-raised in the caller's thread
                self.error = e
            finally:
                if self.error is not None:
                    self._abort(job)
                if kind == "finish":
                    job.buffers.free.set()

    def _open(self, job: ShardJob, _=None) -> None:
        self.streams[job.index] = streams = {}
        for key, args in self._files(job).items():
            streams[key] = StreamingFile(*args, self.folder, direct=True)

    def _write_rows(self, job: ShardJob, rows: tuple[str, int]) -> None:
        hook, n_rows = rows
        f, acts = self.streams[job.index][hook], job.buffers.acts[hook]
        f.advance(f.header_bytes + n_rows * acts.shape[1] * acts.element_size())

    def _finalize(self, job: ShardJob, files: dict[str, PendingFile] | None) -> None:
        if files is None:
            files = {k: f.finish() for k, f in self.streams[job.index].items()}
            del self.streams[job.index]
        for p in files.values():
            make_durable(p)
        fsync_path(self.folder / SHARD_DIR)
        record = ShardRecord(job.index, self.rank, job.first_doc, job.n_docs, job.n_tokens,
                             {k: p.record for k, p in files.items()})
        self.manifest.add(record)
        self.manifest.save(self.manifest_path)
        self.written.append(record)

    def _abort(self, job: ShardJob) -> None:
        for f in self.streams.pop(job.index, {}).values():
            f.abort()

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self) -> list[ShardRecord]:
        """Wait until every written shard is durable and listed; raise the first error if one happened. Shards
        begun but never handed to write() (an interrupted run) are dropped."""
        self.pending.put(None)
        self.thread.join()
        self.pool.shutdown()
        for index in list(self.streams):
            for f in self.streams.pop(index).values():
                f.abort()
        self._raise_if_failed()
        return self.written
