"""The dictionary interface shared by SAEs, transcoders and SNMF, and the registry that opens any dictionary folder.

Circuits, steering, neuron tools and the explorer work with any object that satisfies `Dictionary`, so they never
import `saes` (imports flow apps -> saes, circuits -> interp). An SAE satisfies it with its encoder and decoder
rows; an SNMF result with nonnegative least squares on its factor F and F's columns.

`load(folder)` opens a dictionary folder of any registered on-disk format and `info(folder)` describes one without
loading its weights. Formats are registered by the packages that own them (saes registers SAELens and SNMF) through
the Python entry-point group "interp.dictionary_formats" (pyproject.toml), each entry naming a function that calls
`register_format`. So interp reads no dictionary format by hand and never imports saes statically.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np
from jaxtyping import Float
from torch import Tensor

from interp.json_files import read_json

ENTRY_POINT_GROUP = "interp.dictionary_formats"


@runtime_checkable
class Dictionary(Protocol):
    """A sparse dictionary: codes of the activations at one hook (`hook_in`) that reconstruct the activations at
    `hook_out`. For an SAE (or SNMF) both are the same hook; a transcoder reads one hook and writes another."""

    hook_in: str
    """The TransformerLens hook whose activations it encodes (e.g. blocks.2.mlp.hook_post)."""
    hook_out: str
    """The hook whose activations `decode` reconstructs (hook_in for an SAE)."""
    hook_name: str
    """hook_in, under the name dictionaries had before they could read one hook and write another."""
    d_in: int
    """Width of the activations."""
    d_sae: int
    """Number of features (latents)."""

    def encode(self, x: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_sae"]:
        """Feature activations (codes) of activations x."""
        ...

    def decode(self, f: Float[Tensor, "... d_sae"]) -> Float[Tensor, "... d_in"]:
        """Reconstruction of activations from codes."""
        ...

    def feature_directions(self) -> Float[Tensor, "d_sae d_in"]:
        """Each feature's direction in activation space (SAE decoder rows, SNMF columns of F)."""
        ...


@dataclass(frozen=True)
class DictionaryInfo:
    """What a dictionary folder holds, read from its metadata (no weights loaded)."""

    kind: str
    """The format family: "sae" or "snmf"."""
    arch: str
    """The trained architecture (an SAE kind of saes.registry, or "snmf")."""
    hook_name: str
    """The hook it reads (hook_in)."""
    d_in: int
    d_sae: int
    model: str | None
    """The model it was trained on, as recorded (None when the folder does not say)."""
    path: str
    hook_out: str = ""
    """The hook it reconstructs; "" (the default) means hook_name, as for every SAE."""
    recorded: dict = field(default_factory=dict, compare=False, hash=False)
    """What else the folder records about its training (weight_processing, corpus, training settings)."""

    def __post_init__(self) -> None:
        if not self.hook_out:
            object.__setattr__(self, "hook_out", self.hook_name)

    @property
    def hook_in(self) -> str:
        return self.hook_name

    @property
    def label(self) -> str:
        """"sae:ARCH" or "snmf": one name per method in tables and benchmarks."""
        return self.arch if self.kind == self.arch else f"{self.kind}:{self.arch}"


class DictionaryFormat(NamedTuple):
    """One on-disk format: how to recognise a folder of it, describe it and load it."""

    name: str
    detect: Callable[[Path], bool]
    info: Callable[[Path], DictionaryInfo]
    load: Callable[[Path, str], Dictionary]
    """load(folder, device)."""


_FORMATS: dict[str, DictionaryFormat] = {}
_DISCOVERED = False


def register_format(fmt: DictionaryFormat) -> None:
    """Add (or replace) an on-disk dictionary format."""
    _FORMATS[fmt.name] = fmt


_DISCOVERY = threading.RLock()
"""Held while entry points load: a second thread (the explorer's warm-up beside a visitor's page) waits for them
instead of finding the registry marked discovered but still empty."""


def formats() -> list[DictionaryFormat]:
    """Every registered format (entry points are loaded on the first call)."""
    global _DISCOVERED
    with _DISCOVERY:
        if not _DISCOVERED:
            from importlib.metadata import entry_points

            _DISCOVERED = True  # (set first: a format's register() may itself ask for the formats)
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                ep.load()()
    return list(_FORMATS.values())


def format_of(folder: str | Path) -> DictionaryFormat:
    """The registered format of `folder` (a folder, or a spec a format recognises such as
    sae_lens:RELEASE/SAE_ID); a clear error naming the formats when none matches."""
    path = Path(folder).expanduser()
    for fmt in formats():
        if fmt.detect(path):
            return fmt
    if not path.is_dir():
        raise FileNotFoundError(f"dictionary folder not found: {path}")
    names = ", ".join(f.name for f in formats()) or "none registered: is the interp package installed?"
    raise FileNotFoundError(f"{path} is not a dictionary folder of a known format ({names})")


def info(folder: str | Path) -> DictionaryInfo:
    """Describe the dictionary in `folder` from its metadata."""
    return format_of(folder).info(Path(folder).expanduser())


def load(folder: str | Path, device: str = "cpu") -> Dictionary:
    """Load the dictionary in `folder` (any registered format) on `device`."""
    return format_of(folder).load(Path(folder).expanduser(), device)


@dataclass
class DictionarySummary:
    """What the explorer's Open page shows about a dictionary folder."""

    info: DictionaryInfo
    decoder_norms: np.ndarray
    """Norm of every feature direction."""
    eval_report: dict | None
    """eval.json beside the weights, when there is one."""


def summarize(folder: str | Path, dictionary: Dictionary | None = None) -> DictionarySummary:
    """Describe the dictionary in `folder` (loading it unless given): its info, direction norms and eval.json."""
    dictionary = dictionary if dictionary is not None else load(folder)
    path = Path(folder).expanduser() / "eval.json"
    report = read_json(path) if path.is_file() else None
    norms = dictionary.feature_directions().detach().float().norm(dim=-1).cpu().numpy()
    return DictionarySummary(info(folder), norms, report)
