"""Content digests of large files (a model's weights), computed once per file version.

A model's fingerprint (interp.models.model_fingerprint) hashes its weight files, 517 MB for SmolLM2, and every
command that writes or checks an artifact asks for it. So each file's xxh3-128 is kept in `digests.json` in the
model cache (interp.gguf_convert.models_home(): ~/.cache/interp/models by default), keyed by the file's absolute
path with its size, mtime and inode: a file saved again, even with the same size, gets a new mtime (or inode) and
is hashed again. A cache that cannot be read or written only costs the hashing.
"""

from __future__ import annotations

import json
from pathlib import Path

import xxhash

from interp.json_files import read_json

from .atomic import atomic_write_text

CACHE_NAME = "digests.json"
_MEMO: dict[str, dict] = {}


def _cache_path() -> Path:
    from .gguf_convert import models_home

    return models_home() / CACHE_NAME


def _read_cache(path: Path) -> dict[str, dict]:
    try:
        cache = read_json(path)
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) else {}


def _hash(path: Path) -> str:
    h = xxhash.xxh3_128()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            h.update(chunk)
    return h.hexdigest()


def file_digest(path: str | Path) -> str:
    """xxh3-128 (hex) of the file's bytes; reused while the file keeps its size, mtime and inode."""
    path = Path(path).resolve()
    st = path.stat()
    key, version = str(path), {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}
    known = _MEMO.get(key)
    if known is None or {k: known.get(k) for k in version} != version:
        cache_path = _cache_path()
        known = _read_cache(cache_path).get(key)
        if not isinstance(known, dict) or {k: known.get(k) for k in version} != version:
            known = {**version, "xxh3_128": _hash(path)}
            cache = _read_cache(cache_path)  # read again: another process may have added files meanwhile
            cache[key] = known
            try:
                cache_path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(cache_path, json.dumps(cache, indent=0))
            except OSError:  # a read-only home: the digest is still right, only not kept
                pass
        _MEMO[key] = known
    return str(known["xxh3_128"])
