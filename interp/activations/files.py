"""Durable safetensors files: 4096-aligned buffers, O_DIRECT writes, and files streamed front to back with their
checksum (xxh3-128) computed on the bytes as they are written.

A file is written to `<name>.tmp`, created at its final size (posix_fallocate, so a full disk fails before any
byte is written), fsync'ed, dropped from the page cache and renamed into place by `make_durable`; a run killed at
any moment leaves at most `*.tmp` files, which the next run deletes. Safetensors headers are padded with spaces
(as the format allows) to a multiple of 4096 bytes, so tensor data in aligned buffers qualifies for O_DIRECT; bytes
that do not (a tail, a misaligned tensor) take the ordinary buffered path. `writer` uses these for the cache's
shards.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import xxhash
from jaxtyping import Shaped
from torch import Tensor

from .manifest import CacheError, FileRecord

SAFETENSORS_DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int8: "I8",
                     torch.int16: "I16", torch.int32: "I32", torch.int64: "I64", torch.uint8: "U8"}


ALIGN = 4096
"""O_DIRECT needs file offsets, lengths and memory addresses aligned to the device's block size (<= 4096)."""
_WRITE_BLOCK = 1 << 23


class DiskFullError(CacheError):
    """Not enough free disk for the next shard; the shards written so far are kept."""


def aligned_empty(shape: tuple[int, ...], dtype: torch.dtype) -> Shaped[Tensor, "*shape"]:
    """An uninitialised tensor whose data starts at a multiple of ALIGN bytes (for O_DIRECT writes)."""
    n = torch.Size(shape).numel() * torch.empty((), dtype=dtype).element_size()
    raw = torch.empty(n + ALIGN, dtype=torch.uint8)
    skip = -raw.data_ptr() % ALIGN
    return raw[skip:skip + n].view(dtype).view(shape)  # [n bytes] -> shape


def _header(tensors: dict[str, Tensor], metadata: dict[str, str]) -> bytes:
    """The safetensors header (8-byte length + JSON) for `tensors` laid out in order, padded with spaces (as the
    format allows) to a multiple of ALIGN bytes so the data that follows can be written with O_DIRECT."""
    entries, offset = {"__metadata__": metadata}, 0
    for name, t in tensors.items():
        n = t.numel() * t.element_size()
        entries[name] = {"dtype": SAFETENSORS_DTYPE[t.dtype], "shape": list(t.shape), "data_offsets": [offset,
                                                                                                      offset + n]}
        offset += n
    js = json.dumps(entries, separators=(",", ":")).encode()
    js += b" " * (-(8 + len(js)) % ALIGN)
    return struct.pack("<Q", len(js)) + js


@dataclass
class PendingFile:
    """A file written to its temp name but not yet durable."""

    tmp: Path
    final: Path
    record: FileRecord


def _open_direct(path: Path) -> int | None:
    """A second, O_DIRECT descriptor on `path`, or None where the platform or file system has no direct I/O."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return None
    try:
        return os.open(path, os.O_WRONLY | flag)
    except OSError as e:
        if e.errno in (errno.EINVAL, errno.EOPNOTSUPP):
            return None
        raise


def supports_direct_io(folder: Path) -> bool:
    """Whether files in `folder` take O_DIRECT. The probe file is this process's own (mkstemp): ranks of a torchrun
    group probe one folder at once, and a shared name let one rank delete the file another was opening."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=".direct-io-probe.", suffix=".tmp")
    os.close(fd)
    probe = Path(name)
    try:
        fd = _open_direct(probe)
        if fd is None:
            return False
        os.close(fd)
        return True
    finally:
        probe.unlink(missing_ok=True)


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    """All of `data` at `offset`, in blocks of at most _WRITE_BLOCK bytes (pwrite may write less than asked)."""
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:done + _WRITE_BLOCK], offset + done)


def _preallocate(fd: int, size: int) -> None:
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOSYS):
            raise  # ENOSPC above all: the disk cannot hold this file


class StreamingFile:
    """A safetensors file written to `path`.tmp front to back, in as many steps as the caller likes, hashing the
    bytes as they are written (no fsync yet). The file is created at its final size (so a full disk fails here,
    before anything is written). With `direct`, aligned stretches of tensor data go through O_DIRECT, the rest
    through the page cache. The tensors must not change in the stretches already written."""

    def __init__(self, path: Path, tensors: dict[str, Tensor], metadata: dict[str, str], folder: Path,
                 direct: bool = False):
        self.path, self.folder, self.tmp = path, folder, path.with_name(path.name + ".tmp")
        self.parts = [memoryview(_header(tensors, metadata))] + [_bytes_view(t) for t in tensors.values()]
        self.starts = np.cumsum([0] + [len(p) for p in self.parts]).tolist()  # file offset of each part
        self.size, self.pos, self.h = self.starts[-1], 0, xxhash.xxh3_128()
        self.fd, self.dfd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), None
        with self._on_error():
            _preallocate(self.fd, self.size)
            self.dfd = _open_direct(self.tmp) if direct else None

    @property
    def header_bytes(self) -> int:
        return self.starts[1]

    def advance(self, upto: int, final: bool = False) -> None:
        """Write and hash the file's bytes [pos, upto); unless `final`, only up to a multiple of ALIGN."""
        upto = min(upto, self.size) if final else min(upto, self.size) // ALIGN * ALIGN
        with self._on_error():
            while self.pos < upto:
                i = int(np.searchsorted(self.starts, self.pos, side="right")) - 1  # the part holding pos
                piece = self.parts[i][self.pos - self.starts[i]:min(upto, self.starts[i + 1]) - self.starts[i]]
                n_direct = 0
                if self.dfd is not None and self.pos % ALIGN == 0 and _address(piece) % ALIGN == 0:
                    n_direct = len(piece) - len(piece) % ALIGN
                    _pwrite_all(self.dfd, piece[:n_direct], self.pos)
                _pwrite_all(self.fd, piece[n_direct:], self.pos + n_direct)
                self.h.update(piece)
                self.pos += len(piece)

    def finish(self) -> PendingFile:
        """Write the rest; returns the file to make durable."""
        self.advance(self.size, final=True)
        self._close()
        return PendingFile(self.tmp, self.path, FileRecord(str(self.path.relative_to(self.folder)),
                                                           self.h.hexdigest(), self.size))

    def abort(self) -> None:
        self._close()
        self.tmp.unlink(missing_ok=True)

    def _close(self) -> None:
        for d in (self.fd, self.dfd):
            if d is not None:
                os.close(d)
        self.fd = self.dfd = None

    @contextlib.contextmanager
    def _on_error(self):
        try:
            yield
        except OSError as e:
            self.abort()
            if e.errno == errno.ENOSPC:
                raise DiskFullError(f"disk full while writing {self.path.name} in {self.folder}; the shards listed "
                                    f"in the manifest are kept, free space and run again to resume") from None
            raise


def write_safetensors_tmp(path: Path, tensors: dict[str, Shaped[Tensor, "*shape"]], metadata: dict[str, str],
                          folder: Path, direct: bool = False) -> PendingFile:
    """Write a safetensors file to `path`.tmp in one go (see StreamingFile)."""
    return StreamingFile(path, tensors, metadata, folder, direct).finish()


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


def _address(view: memoryview) -> int:
    return np.frombuffer(view, dtype=np.uint8).ctypes.data if len(view) else 0
