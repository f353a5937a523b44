"""Atomic file writes: write under a temporary name beside the target, then os.replace it into place.

A reader, or a run resumed after a kill, then sees the old file or the new one, never half of one; a failed write
removes its temporary file. `durable=True` also fsyncs the file before the rename and the folder after it, for the
state a resumed run trusts (checkpoints, manifests): after a power cut it is the new file or the old one.
Temporary names end in `.tmp`, so a folder's leftovers can be cleaned with one glob.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)  # read once: mkstemp creates files 0600, the finished file gets the usual 0666 & ~umask


def fsync_path(path: str | Path) -> None:
    """fsync a file or a folder (a folder's fsync makes the renames inside it durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[Path], object], durable: bool = False) -> Path:
    """Call `write(tmp)` to write the content to a temporary file, then move it to `path`."""
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        if durable:
            fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_path(path.parent)
    return path


def atomic_write_bytes(path: str | Path, data: bytes, durable: bool = True) -> Path:
    return atomic_write(path, lambda p: p.write_bytes(data), durable)


def atomic_write_text(path: str | Path, text: str, durable: bool = False) -> Path:
    return atomic_write(path, lambda p: p.write_text(text), durable)
