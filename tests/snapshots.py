"""A folder's files as the bad-input suites compare them before and after a refused command: relative path -> sha256
of the bytes (so "nothing written was lost or replaced" is one equality)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def snapshot(root: Path) -> dict[str, str]:
    """Every file under root (relative path -> sha256 of its bytes)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}
