"""The folder layout of a workspace and the dictionaries it holds: the builder (apps.workspace.build) writes
these paths and the explorer's pages read them, so pages never import the builder.

Every build step writes one sub-folder, declared with the step (apps.workspace.steps.STEPS), and is skipped when
its artifact validates:

    cache/                      activation cache of MODEL at HOOK (interp cache)
    saes/<arch>-d.../           one SAE per architecture (interp train-sae sweep, SAELens format + eval.json,
                                sweep.json lists them); any other SAE copied in here is shown beside them
    snmf/                       SNMF of the same layer (interp snmf)
    shipped/shipped.json        links to the converged dictionaries shipped for the model (data/dictionaries), never
                                copies: those at the workspace's hook are shown as "shipped-<name>" beside its own
    features/<dictionary>/      precomputed feature pages (features.json + features.safetensors)
    neurons/<model>/            neuron statistics (interp neurons) + examples.json/safetensors (top examples)
    sparsity/<model>/           activation sparsity of the same models (interp sparsity: zeros, CETT, PPL-p%, hot / cold,
                                dormant neurons, massive activations and sinks)
    universal/                  universal neurons across the GELU seeds (interp universal) + correlates
    steering/                   steering benchmark (interp steer-bench: bench.json)
    patching/                   IOI patching: one folder per method (circuits.patching.methods) + faithfulness.json
    workspace.json              what was built, with which settings, and how long each step took
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from interp.json_files import read_json

SAE_PREFIX = "sae-"
SHIPPED_PREFIX = "shipped-"
SHIPPED_FILE = "shipped.json"


@dataclass(frozen=True)
class Layout:
    """Paths inside a workspace folder: `folder(step)`, also as an attribute (`layout.cache`), and the manifest."""

    root: Path

    def folder(self, step: str) -> Path:
        """The folder step `step` writes (its declaration in apps.workspace.steps)."""
        from .steps import step_named  # the declarations import the builders, which import this module

        return self.root / step_named(step).folder

    def __getattr__(self, name: str) -> Path:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.folder(name)
        except ValueError as e:
            raise AttributeError(str(e)) from None

    @property
    def manifest(self) -> Path:
        return self.root / "workspace.json"


def _sae_folders(saes: Path) -> list[Path]:
    """Every SAE folder (cfg.json) under saes/: saes/ itself (one SAE) or its sub-folders."""
    return [p for p in [saes, *sorted(saes.iterdir())] if (p / "cfg.json").is_file()] if saes.is_dir() else []


def _own(saes: Path, found: list[Path]) -> list[Path]:
    """The SAEs the workspace trained: saes/ itself, or the sweep's folders (sweep.json); without a record the
    first folder of each architecture."""
    if (saes / "cfg.json").is_file():
        return [saes]
    sweep = saes / "sweep.json"
    if sweep.is_file():
        names = {Path(s["folder"]).name for s in read_json(sweep)}
        return [p for p in found if p.name in names]
    return found


def sae_folders(layout: Layout) -> dict[str, Path]:
    """arch -> the workspace's own SAE of that architecture (under saes/; see `dictionary_folders` for the others)."""
    from interp.dictionary import info

    found = _sae_folders(layout.saes)
    out: dict[str, Path] = {}
    for p in _own(layout.saes, found):
        out.setdefault(info(p).arch, p)
    return out


def dictionary_folders(layout: Layout) -> dict[str, Path]:
    """Explorer name -> dictionary folder, for what exists: the workspace's own SAEs as "sae-<arch>", the SNMF as
    "snmf", every other SAE under saes/ (one copied in) as "sae-<folder name>", so it never replaces the
    workspace's own SAE of its architecture, and the shipped dictionaries at its hook as "shipped-<name>"."""
    own = sae_folders(layout)
    out = {f"{SAE_PREFIX}{a}": p for a, p in own.items()}
    for p in _sae_folders(layout.saes):
        if p not in own.values():
            name = f"{SAE_PREFIX}{p.name}"
            out[name if name not in out else f"{name}-{len(out)}"] = p
    if (layout.snmf / "snmf.json").is_file():
        out["snmf"] = layout.snmf
    for d in shipped_links(layout).get("dictionaries", []):
        if d["at_hook"]:
            out[d["name"]] = Path(d["folder"])
    return out


def shipped_links(layout: Layout) -> dict:
    """shipped/shipped.json: the shipped dictionaries of the workspace's model (apps.workspace.builders.link_shipped),
    each with its folder, label and whether it reads the workspace's hook; {} before the step has run."""
    path = layout.shipped / SHIPPED_FILE
    return read_json(path) if path.is_file() else {}


def shipped_labels(layout: Layout) -> dict[str, str]:
    """Explorer name -> "shipped, converged: N tokens" of the shipped dictionaries the workspace links, for the
    pickers to mark them beside the workspace's quick ones."""
    return {d["name"]: d["label"] for d in shipped_links(layout).get("dictionaries", [])}
