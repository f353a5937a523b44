"""The cache folder's manifest: what was cached (model, hooks, dtype, corpus) and which shards are complete.

Layout of a cache folder::

    manifest.json                        header + list of complete shards (the only source of truth)
    manifest.rank{R}.json                shards finished by rank R of a multi-process run, merged by rank 0
    shards/r{R}-{K:06d}.tokens.safetensors       token ids, doc ids, positions (+ toy-world labels) of shard K
    shards/r{R}-{K:06d}.{hook}.safetensors       activations [n_tokens, d] of one hook for shard K

Token ids, document ids, positions and labels are stored once per shard (not once per hook): every hook of a shard
covers the same tokens. Shard K always covers documents [K * docs_per_shard, ...), whichever rank wrote it (R is in
the name only so that concurrent writers never collide), so a resumed or multi-process run writes the same data.
A shard is listed only after all its files are durable (fsync + os.replace), with the xxh3-128 checksum and size of
each file: a file that is missing, truncated or corrupt is named by `verify()`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import xxhash

from interp.json_files import json_error

from ..atomic import atomic_write_bytes

FORMAT = "interp-activation-cache"
VERSION = 1
MANIFEST = "manifest.json"
SHARD_DIR = "shards"
TOKENS_KEY = "tokens"
"""Key of the tokens/doc ids/positions/labels file in `ShardRecord.files` (hook names never equal it)."""


class CacheError(ValueError):
    """A cache folder that cannot be used as asked (a ValueError, so the CLI prints it as one clear line)."""


class CorruptCacheError(CacheError):
    """Shard files that are missing, truncated or fail their checksum."""


@dataclass
class FileRecord:
    """One durable file of a shard."""

    path: str
    """Relative to the cache folder."""
    checksum: str
    """xxh3-128 hex digest of the file (fast enough to hash every shard as it is written)."""
    bytes: int


@dataclass
class ShardRecord:
    """One complete shard: documents [first_doc, first_doc + n_docs), every position of each."""

    index: int
    rank: int
    first_doc: int
    n_docs: int
    n_tokens: int
    files: dict[str, FileRecord]
    """TOKENS_KEY and every hook name -> its file."""

    @classmethod
    def from_json(cls, d: dict) -> ShardRecord:
        if any("sha256" in v for v in d.get("files", {}).values()):
            raise CacheError("this cache was written by an earlier interp, whose manifests hold sha256 checksums "
                             "(this one writes and checks xxh3-128): delete the folder and cache again")
        try:
            return cls(**{**d, "files": {k: FileRecord(**v) for k, v in d["files"].items()}})
        except (TypeError, KeyError, AttributeError) as e:
            raise CacheError(f"unreadable shard record in the manifest ({e}): delete the folder and cache again, "
                             f"or restore its manifest.json") from None


@dataclass
class Manifest:
    """Header (what the cache holds) plus the complete shards, sorted by index."""

    model: str
    hooks: list[str]
    shapes: dict[str, list[int]]
    """hook -> trailing shape per token (e.g. [512] or [n_heads, d_head]); d = product."""
    dtype: str
    corpus: dict[str, Any]
    n_ctx: int
    docs_per_shard: int
    label_schema: dict | None = None
    weight_processing: str = "default"
    """How the model's weights were processed on load (interp.options.ModelOptions)."""
    model_fingerprint: str = ""
    """The weights' identity (interp.provenance.model_record); "" in caches written before it was recorded."""
    shards: list[ShardRecord] = field(default_factory=list)
    format: str = FORMAT
    version: int = VERSION

    @property
    def d(self) -> dict[str, int]:
        """hook -> width of one token's activation vector."""
        return {h: _prod(s) for h, s in self.shapes.items()}

    @property
    def n_tokens(self) -> int:
        return sum(s.n_tokens for s in self.shards)

    def identity(self) -> dict[str, Any]:
        """The fields two runs must agree on to write into the same folder."""
        return {"model": self.model, "weight_processing": self.weight_processing,
                "model_fingerprint": self.model_fingerprint, "hooks": self.hooks, "dtype": self.dtype,
                "corpus": self.corpus, "n_ctx": self.n_ctx, "docs_per_shard": self.docs_per_shard}

    def check_same(self, other: Manifest, folder: Path) -> None:
        """Raise a CacheError naming both sides when `other` (a new run) differs from this cache (a cache written
        before fingerprints were recorded is resumed on its model's name)."""
        mine, theirs = self.identity(), other.identity()
        if not mine["model_fingerprint"]:
            theirs["model_fingerprint"] = ""
        parts = _differences(mine, theirs)
        if parts:
            raise CacheError(f"{folder} holds a different activation cache ({'; '.join(parts)}). Use another --out "
                             f"folder or delete this one")

    def check_records(self, folder: Path) -> None:
        """Every shard lists a tokens file and a file per hook, and covers n_docs whole rows (a hand-edited or
        damaged manifest is a clear error, not an IndexError later)."""
        want = {TOKENS_KEY, *self.hooks}
        for s in self.shards:
            if set(s.files) != want or s.n_tokens != s.n_docs * self.n_ctx or min(s.n_docs, s.first_doc) < 0:
                raise CorruptCacheError(f"{folder / MANIFEST}: shard {s.index} is inconsistent (files "
                                        f"{sorted(s.files)}, {s.n_tokens} tokens for {s.n_docs} rows of {self.n_ctx}); "
                                        f"restore the manifest or delete the folder and cache again")
        if len({s.index for s in self.shards}) != len(self.shards):
            raise CorruptCacheError(f"{folder / MANIFEST} lists a shard twice; restore it or cache again")

    def add(self, shard: ShardRecord) -> None:
        self.shards = sorted([s for s in self.shards if s.index != shard.index] + [shard], key=lambda s: s.index)

    def to_json(self) -> dict:
        d = asdict(self)
        d["d"] = self.d
        d["n_tokens"] = self.n_tokens
        return d

    @classmethod
    def from_json(cls, d: dict) -> Manifest:
        if d.get("format") != FORMAT:
            raise CacheError(f"not an activation cache manifest (format={d.get('format')!r})")
        keys = {f for f in cls.__dataclass_fields__}
        m = cls(**{k: v for k, v in d.items() if k in keys and k != "shards"})
        m.shards = sorted((ShardRecord.from_json(s) for s in d.get("shards", [])), key=lambda s: s.index)
        return m

    def save(self, path: Path) -> None:
        atomic_write_bytes(path, json.dumps(self.to_json(), indent=1).encode())

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            return cls.from_json(json.loads(Path(path).read_text()))
        except json.JSONDecodeError as e:
            raise CorruptCacheError(str(json_error(path, e, "delete the folder and cache again"))) from None
        except TypeError as e:  # header fields missing or of another version
            raise CacheError(f"{path}: unreadable manifest header ({e}); delete the folder and cache again") from None
        except CacheError as e:
            raise type(e)(f"{path}: {e}") from None


def _prod(shape: list[int]) -> int:
    out = 1
    for s in shape:
        out *= s
    return out


def shard_stem(rank: int, index: int) -> str:
    return f"r{rank}-{index:06d}"


def rank_manifest_name(rank: int) -> str:
    return f"manifest.rank{rank}.json"


def checksum_file(path: Path, block: int = 1 << 24) -> str:
    h = xxhash.xxh3_128()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


REWRITE_HINT = ("run the `interp cache` command that made this cache again (same --model, --hooks, --corpus and "
                "--out): it finds the damaged shards and computes them again")


def file_path(folder: Path, rec: FileRecord) -> Path:
    """The file a record names, which must lie inside the cache folder (a hand-edited manifest cannot point out)."""
    p = (folder / rec.path).resolve()
    if not p.is_relative_to(Path(folder).resolve()):
        raise CorruptCacheError(f"{folder / MANIFEST} lists {rec.path}, outside the cache folder: refusing to read it. "
                                f"Restore the manifest or delete the folder and cache again")
    return p


def file_problem(folder: Path, rec: FileRecord, hash_it: bool = True) -> str | None:
    """Why a listed file cannot be trusted (missing, truncated, checksum mismatch), or None."""
    p = file_path(folder, rec)
    if not p.is_file():
        return f"{rec.path} (missing)"
    if p.stat().st_size != rec.bytes:
        return f"{rec.path} (truncated: {p.stat().st_size} bytes, expected {rec.bytes})"
    if hash_it and checksum_file(p) != rec.checksum:
        return f"{rec.path} (checksum mismatch)"
    return None


def check_sizes(folder: Path, manifest: Manifest) -> None:
    """Cheap check (no hashing) that every listed file exists with its recorded size; names the bad ones."""
    bad = []
    for shard in manifest.shards:
        for rec in shard.files.values():
            p = file_path(folder, rec)
            size = p.stat().st_size if p.is_file() else None
            if size != rec.bytes:
                bad.append(f"{rec.path} ({'missing' if size is None else f'{size} bytes, expected {rec.bytes}'})")
    if bad:
        raise CorruptCacheError(f"{len(bad)} shard file(s) of {folder} are missing or truncated: {', '.join(bad)}. "
                                f"Delete them and their entries (or the folder) and run the cache again")


@dataclass
class VerifyReport:
    """Result of `verify`: how much was checked and which files failed."""

    n_shards: int
    n_files: int
    n_bytes: int
    bad: list[str]

    @property
    def ok(self) -> bool:
        return not self.bad


def verify(folder: str | Path, raise_on_error: bool = True) -> VerifyReport:
    """Check every shard file of the cache in `folder` against its size and checksum; name the bad ones."""
    folder = Path(folder)
    manifest = Manifest.load(folder / MANIFEST)
    bad, n_files, n_bytes = [], 0, 0
    for shard in manifest.shards:
        for rec in shard.files.values():
            n_files += 1
            problem = file_problem(folder, rec)
            if problem:
                bad.append(problem)
            else:
                n_bytes += rec.bytes
    report = VerifyReport(len(manifest.shards), n_files, n_bytes, bad)
    if bad and raise_on_error:
        raise CorruptCacheError(f"corrupt shard file(s) in {folder}: {', '.join(bad)}; {REWRITE_HINT}")
    return report


def _differences(mine: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """What differs between two cache identities, one entry per differing value: a recorded corpus (a dict) by its
    differing fields alone ("corpus seed: cache has 0, this run asks for 5"), not as two whole dicts."""
    def same(a: Any, b: Any) -> bool:
        return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)

    out = []
    for k in mine:
        a, b = mine[k], theirs.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += [f"{k} {f}: cache has {a.get(f)!r}, this run asks for {b.get(f)!r}" for f in sorted({*a, *b})
                    if not same(a.get(f), b.get(f)) and not (f in mine and not same(mine[f], theirs.get(f)))]
        elif not same(a, b) and not (k == "docs_per_shard" and not same(mine["n_ctx"], theirs["n_ctx"])):
            out.append(f"{k}: cache has {a!r}, this run asks for {b!r}")  # (rows per shard follow from n_ctx)
    return out
