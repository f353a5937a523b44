"""Which server paths the explorer may read: the workspace, the folders given with `interp explore --allow`
(INTERP_ALLOW) and the shipped dictionaries (saes.shipped.root: data/dictionaries), nothing else. The Open page and
the Features page (?pages=FOLDER) check every path a visitor gives here before looking at it, so they never tell
whether a folder outside these exists; models follow the same rule (`check_model_name`: shipped and fetched names,
the workspace's model, model folders inside these roots).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from apps.explorer.launch import ALLOW_ENV, WORKSPACE_ENV


def allowed_roots() -> list[Path]:
    """The workspace, every --allow folder and the shipped dictionaries' folder, resolved (symbolic links
    followed)."""
    roots = [Path(os.environ.get(WORKSPACE_ENV, "workspace")).expanduser().resolve()]
    roots += [Path(p).resolve() for p in os.environ.get(ALLOW_ENV, "").split(os.pathsep) if p]
    from saes.shipped import root

    roots.append(root().resolve())  # the shipped dictionaries (data/dictionaries), which the workspace links
    return list(dict.fromkeys(roots))


@dataclass(frozen=True)
class PathCheck:
    """A path typed by a visitor, resolved, and what may be said about it."""

    path: Path
    allowed: bool
    exists: bool
    message: str
    """Empty when the path is an allowed, existing folder."""


def _resolved(text: str, roots: list[Path]) -> tuple[Path, bool]:
    """`text` as a resolved path (relative paths: inside the workspace, the first root) and whether it lies inside
    an allowed root."""
    raw = Path(text.strip()).expanduser()
    path = (raw if raw.is_absolute() else roots[0] / raw).resolve()
    return path, any(path == r or path.is_relative_to(r) for r in roots)


def check_folder(text: str, roots: list[Path] | None = None) -> PathCheck:
    """Resolve `text` (relative paths: inside the workspace) and refuse it unless it lies inside an allowed root;
    an allowed path is then told apart as a missing folder, a file, or an existing folder."""
    roots = allowed_roots() if roots is None else roots
    path, inside = _resolved(text, roots)
    if not inside:
        listed = ", ".join(f"`{r}`" for r in roots)
        return PathCheck(path, False, False, f"`{text}` is outside the folders this explorer may read ({listed}). "
                                             f"Start it with `interp explore --allow FOLDER` to open other folders.")
    if not path.exists():
        return PathCheck(path, True, False, f"`{path}`: no such folder.")
    if not path.is_dir():
        return PathCheck(path, True, True, f"`{path}` is a file, not a folder: give the folder that holds it.")
    return PathCheck(path, True, True, "")


class ModelRefused(ValueError):
    """A model the explorer may not load (`check_model_name`'s message)."""


def check_model_name(text: str, workspace_model: str, roots: list[Path] | None = None) -> str:
    """"" when the explorer may load model `text`: a shipped toy name, a fetchable model's name, the workspace's own
    model, or a model folder / .gguf inside an allowed root; else one message, the same for every refusal (a path
    outside the roots, existing or not, a hub name), so the Model field never tells what exists on the server."""
    from interp.model_fetch import FETCHABLE
    from interp.models import shipped_models

    roots = allowed_roots() if roots is None else roots
    name = text.strip()
    if name and (name in shipped_models() or name in FETCHABLE or name == workspace_model):
        return ""
    path, inside = _resolved(name, roots)
    if name and inside and path.exists():
        return ""
    listed = ", ".join(f"`{r}`" for r in roots)
    return (f"`{text}` is not a model this explorer may load: give a shipped model ({', '.join(shipped_models())}), "
            f"a fetched one ({', '.join(FETCHABLE)}), the workspace's model (`{workspace_model}`) or a model folder "
            f"inside the folders it may read ({listed}; more with `interp explore --allow FOLDER`).")
