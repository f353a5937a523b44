"""Keep freed memory in the process instead of handing it back to the OS between forward passes (glibc only).

glibc's malloc serves blocks above its mmap threshold (128 KiB, raised adaptively up to 32 MiB) with fresh mmaps
and unmaps them on free, and trims the heap's free top above its trim threshold. A CPU forward pass allocates and
frees tensors of megabytes in every op, so each batch touches fresh pages that the kernel must fault in and zero:
~4 µs a 4 KiB page on our 2-core VM, which made up a third of TransformerLens's forward time on the toy model and
a tenth of the fused one's (277k and 23k page faults per 32k tokens). PyTorch's CPU performance guide fixes this
by preloading jemalloc or tcmalloc; raising the two thresholds with mallopt(3) has the same effect in-process:
freed blocks stay in the heap and the next batch reuses them, so the forward pass page-faults only once.

The price is resident memory: the process keeps its peak heap instead of returning it. `retain_freed_memory()` is
called by the long-running workbench commands (the activation cache) and is a no-op off glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLDS = (1 << 30, 32 << 20)
"""Blocks up to this size come from the heap: 1 GiB where glibc takes it (2.36 does), else 32 MiB (the limit older
versions document for 64-bit systems). Above 32 MiB glibc's adaptive threshold never reaches, so without this a
GPT-2-sized batch's MLP activations (50 MB) would be fresh pages every time."""
TRIM_THRESHOLD = (1 << 31) - 1
"""Free heap top kept before trimming (the largest value mallopt's int takes)."""


@functools.cache
def _libc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version") else None


@functools.cache
def retain_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process (once); True where they were set."""
    libc = _libc()
    if libc is None:
        return False
    ok = any(libc.mallopt(_M_MMAP_THRESHOLD, t) == 1 for t in MMAP_THRESHOLDS)
    return libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
