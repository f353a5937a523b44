"""What each workspace step made and what it was built from, as workspace.json records it.

A step's record (workspace.json "steps": {name: record}) says, besides its status and settings:
- `kept`: files that were in its folder before it first built there (the user's), written when it starts building,
  so a build killed half-way still tells its own files from the user's;
- `files`: every file the step made, relative to its folder, with its xxh3-128 checksum, written when it finishes;
- `inputs`: the `digest` of every upstream step (apps.workspace.steps `upstream`) it was built from.

So a build removes only files a step made (never a note or an SAE the user put beside them), reuses a step only
while its files still have the checksums they were built with, and knows a step is stale when a step it read was
rebuilt since (its digest changed). A folder that exists without any record was not made by the workspace: the
build refuses to touch it unless --overwrite is given.
"""

from __future__ import annotations

import json
from pathlib import Path

import xxhash

BUILT = ("built", "up to date")
"""Statuses of a step whose artifact is complete."""


def made_here(record: dict | None) -> bool:
    """Whether a build of this workspace made the step's folder (a step only skipped never made one)."""
    return bool(record) and ("files" in record or "kept" in record or record.get("status") in BUILT)


def files_in(folder: Path) -> list[str]:
    """Every file under `folder`, relative to it (posix), sorted; [] when there is no folder."""
    if not folder.is_dir():
        return []
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def checksums(folder: Path, names: list[str]) -> dict[str, str]:
    from interp.activations.manifest import checksum_file

    return {n: checksum_file(folder / n) for n in names}


def own_files(folder: Path, record: dict | None) -> list[str]:
    """The files in `folder` the step of `record` made (None: no record, so none of them)."""
    if record is None:
        return []
    there = files_in(folder)
    if "files" in record:
        made = set(record["files"])
        return [f for f in there if f in made]
    kept = set(record.get("kept", []))
    return [f for f in there if f not in kept]


def foreign_files(folder: Path, record: dict | None) -> list[str]:
    """Files in `folder` the step of `record` did not make."""
    own = set(own_files(folder, record))
    return [f for f in files_in(folder) if f not in own]


def damaged(folder: Path, record: dict) -> list[str]:
    """The step's files that are missing or no longer have the checksum it recorded ([] for records without
    checksums, written before they were recorded)."""
    want = record.get("files") or {}
    out = []
    for name, digest in want.items():
        path = folder / name
        if not path.is_file():
            out.append(f"{name} (missing)")
        elif checksums(folder, [name])[name] != digest:
            out.append(f"{name} (checksum mismatch)")
    return out


def digest(record: dict | None) -> str | None:
    """One checksum of everything a finished step made (None for a step not built or without recorded files)."""
    if not record or record.get("status") not in BUILT or "files" not in record:
        return None
    return xxhash.xxh3_128_hexdigest(json.dumps(record["files"], sort_keys=True).encode())


def require_only_own(folder: Path, record: dict | None, step: str) -> None:
    """Refuse, naming them, files in `folder` the step of `record` did not make, for a step whose command starts
    only in an empty folder (checked before a build removes anything, and again where the step starts)."""
    foreign = foreign_files(folder, record)
    if foreign:
        raise FileExistsError(f"{folder} holds files this workspace did not make ({', '.join(foreign[:3])}"
                              f"{', ...' if len(foreign) > 3 else ''}): move them out of it, so that the {step} step "
                              f"can be built there; nothing was changed")


def remove_own(folder: Path, record: dict | None) -> None:
    """Delete the files the step made, then the folders they leave empty (the user's files stay)."""
    for name in own_files(folder, record):
        (folder / name).unlink()
    if folder.is_dir():
        for d in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            if not any(d.iterdir()):
                d.rmdir()
        if not any(folder.iterdir()):
            folder.rmdir()


def finished(folder: Path, record: dict) -> dict:
    """`record` with `files`: what the step made (everything in its folder but the files it kept)."""
    kept = set(record.get("kept", []))
    made = [f for f in files_in(folder) if f not in kept]
    return {**record, "files": checksums(folder, made)}
