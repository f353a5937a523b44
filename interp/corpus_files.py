"""Where a corpus's documents come from (interp.corpus packs and splits them): text files and folders, JSON lines,
Parquet, `datasets` folders and hub datasets. Each reader yields the documents in a fixed order, every time it is
iterated, and describes the source with a fingerprint of its content (xxh3-128 of the files; the dataset's own
fingerprint), so an artifact can say exactly which text it measured.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import xxhash

from . import english_text
from .text_check import TextValidator

Texts = Callable[[], Iterator[str]]


class CorpusError(ValueError):
    """A corpus that cannot be read as asked (a ValueError: the CLI prints it as one line)."""


def _error(msg: str) -> Exception:
    return CorpusError(msg)


def fingerprint_files(paths: list[Path], root: Path | None = None, text: str = "") -> str:
    """xxh3-128 over the files' relative names and bytes, in the given order. With `text` (what the files are, e.g.
    "corpus"), the same read refuses a file that is not UTF-8 text (interp.text_check): garbage never reaches the
    tokenizer as replacement characters or unknown tokens."""
    h = xxhash.xxh3_128()
    for p in paths:
        h.update(str(p.relative_to(root) if root else p.name).encode() + b"\0")
        check = TextValidator(p, text) if text else None
        with open(p, "rb") as f:
            while chunk := f.read(1 << 24):
                h.update(chunk)
                if check:
                    check.feed(chunk)
        if check:
            check.end()
    return h.hexdigest()


def _lines(paths: list[Path]) -> Texts:
    def gen() -> Iterator[str]:
        for p in paths:
            with open(p, encoding="utf-8") as f:  # checked as UTF-8 when the corpus was opened
                for line in f:
                    if line.strip():
                        yield line.rstrip("\n")
    return gen


def _jsonl(path: Path, column: str) -> Texts:
    with open(path, encoding="utf-8") as f:
        first = next((ln for ln in f if ln.strip()), None)
    if first is None:
        raise _error(f"corpus {path} is empty: it holds no JSON lines")
    try:
        keys = list(json.loads(first))
    except (json.JSONDecodeError, TypeError):
        raise _error(f"corpus {path}: the first line is not a JSON object") from None
    if column not in keys:
        raise _error(f"corpus {path} has no {column!r} field (its records have {', '.join(keys)}); name the text "
                     f"field with --text-column")

    def gen() -> Iterator[str]:
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    text = json.loads(line).get(column)
                except (json.JSONDecodeError, AttributeError):
                    raise _error(f"corpus {path}: line {i} is not a JSON object") from None
                if isinstance(text, str):
                    yield text
                elif text is not None:  # a number or a list is not text: say so, not "the corpus is empty" later
                    raise _error(f"corpus {path}: line {i}'s {column!r} field holds {type(text).__name__} "
                                 f"({str(text)[:40]}), not text; name the field that holds the text with --text-column")
    return gen


def _parquet(path: Path, column: str) -> Texts:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises its own error types for damaged files
        raise _error(f"corpus {path} is not a readable Parquet file ({e})") from None
    names = pf.schema_arrow.names
    if column not in names:
        raise _error(f"corpus {path} has no {column!r} column (it has {', '.join(names)}); name the text column "
                     f"with --text-column")
    kind = pf.schema_arrow.field(column).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise _error(f"corpus {path}: column {column!r} holds {kind}, not text; name the text column with "
                     f"--text-column")

    def gen() -> Iterator[str]:
        for batch in pq.ParquetFile(path).iter_batches(columns=[column], batch_size=1024):
            yield from (t for t in batch.column(0).to_pylist() if isinstance(t, str))
    return gen


def _dataset_folder(path: Path, column: str) -> tuple[Texts, dict[str, Any]]:
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as e:  # datasets raises many types for folders it cannot read
        raise _error(f"{path} is not a readable datasets folder ({e})") from None
    if isinstance(ds, datasets.DatasetDict):
        split = "train" if "train" in ds else next(iter(ds))
        ds = ds[split]
    if column not in ds.column_names:
        raise _error(f"dataset {path} has no {column!r} column (it has {', '.join(ds.column_names)}); name the "
                     f"text column with --text-column")
    col = ds.select_columns([column])
    texts = (lambda: (r[column] for r in col if isinstance(r[column], str)))
    return texts, {"kind": "dataset", "fingerprint": ds._fingerprint, "n_documents": len(ds)}


def _hub(spec: str, column: str) -> tuple[Texts, dict[str, Any]]:
    name, _, split = spec.removeprefix("hf:").partition(":")
    split = split or "train"
    if not name:
        raise _error(f"corpus {spec!r}: write it as hf:DATASET or hf:DATASET:SPLIT")
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise _error(f"corpus {spec!r} is neither a file nor a folder here, and a hub dataset needs the Hugging Face "
                     f"hub, which is unreachable (HF_HUB_OFFLINE=1): save the dataset with save_to_disk and give "
                     f"that folder, or give a text / .jsonl / .parquet file")
    try:
        import datasets

        ds = datasets.load_dataset(name, split=split, streaming=True)
    except Exception as e:  # connection, missing dataset, bad split
        raise _error(f"cannot load dataset {name!r} split {split!r} from the hub: {e}") from None
    texts = (lambda: (ex[column] for ex in ds if isinstance(ex.get(column), str)))
    return texts, {"kind": "hf", "dataset": name, "hub_split": split, "fingerprint": f"hf:{name}:{split}"}


def read_texts(spec: str, column: str = "text") -> tuple[Texts, dict[str, Any]]:
    """The documents of corpus `spec` and its description (kind, source, fingerprint)."""
    if spec == english_text.NAME:
        docs = english_text.documents()
        return (lambda: iter(docs)), {"kind": "text", **english_text.describe(),
                                      "fingerprint": xxhash.xxh3_128_hexdigest("\n".join(docs).encode())}
    path = Path(spec).expanduser()
    if path.is_dir():
        if (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file():
            texts, desc = _dataset_folder(path, column)
            return texts, {**desc, "source": str(path.resolve()), "text_column": column}
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise _error(f"corpus folder {path} holds no .txt files (nor is it a datasets folder)")
        fingerprint = fingerprint_files(files, path, "corpus")  # first: it refuses a file that is not text
        return _checked(_lines(files), path), {"kind": "text", "source": str(path.resolve()), "n_files": len(files),
                                               "fingerprint": fingerprint}
    if path.is_file():
        if not os.access(path, os.R_OK):
            raise _error(f"corpus {path} is not readable (permission denied)")
        suffix = path.suffix.lower()
        # fingerprinted first: the same read refuses a text corpus that is not UTF-8 text
        fingerprint = fingerprint_files([path], text="" if suffix == ".parquet" else "corpus")
        if suffix == ".jsonl":
            texts, kind = _jsonl(path, column), "jsonl"
        elif suffix == ".parquet":
            texts, kind = _parquet(path, column), "parquet"
        else:
            texts, kind = _lines([path]), "text"
        desc = {"kind": kind, "source": str(path.resolve()), "fingerprint": fingerprint}
        if kind != "text":
            desc["text_column"] = column
        return _checked(texts, path), desc
    if spec.startswith("hf:") or not _looks_like_path(spec):
        texts, desc = _hub(spec, column)
        return texts, {**desc, "source": spec, "text_column": column}
    raise FileNotFoundError(f"corpus {spec!r} is neither 'toyworld', '{english_text.NAME}', a file or folder that "
                            f"exists, nor a hub dataset (hf:NAME[:SPLIT])")


def _looks_like_path(spec: str) -> bool:
    """A path (missing here) rather than a hub dataset name such as 'wikitext' or 'org/name'."""
    return spec.startswith((".", "/", "~")) or Path(spec).suffix != "" or spec.count("/") > 1


def _checked(texts: Texts, path: Path) -> Texts:
    """`texts`, after checking there is at least one non-empty document (an empty corpus is a clear error)."""
    if next((t for t in texts() if t.strip()), None) is None:
        raise _error(f"corpus {path} is empty: it holds no text")
    return texts
