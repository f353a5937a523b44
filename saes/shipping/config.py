"""Configs of `interp dictionaries ship` and `interp dictionaries list` (free of torch: the CLI builds its parser
from them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from interp.options import TOKEN_BYTES, Options, OutputOptions, RuntimeOptions, at_least, fits_memory
from saes.eval.config import EvalCorpusOptions


@dataclass
class ShipOutput(OutputOptions):
    """Where the shipped dictionaries go."""

    out: str = ""
    """Folder of shipped dictionaries; each goes to OUT/<model>/<hook>/<name>/. Default: data/dictionaries (or
    $INTERP_DICTIONARIES)."""
    overwrite: bool = False
    """Replace a dictionary this command shipped before under the same name (never a folder it did not write)."""


@dataclass
class ShipEvalOptions(Options):
    """The evaluation behind the card's numbers."""

    evaluate: Literal["missing", "always"] = "missing"
    """missing: take the numbers from the trained folder's eval.json and evaluate (on the float16 weights shipped)
    only the dictionaries whose eval.json lacks one; always: evaluate every shipped dictionary again."""
    eval_tokens: int = 32_768
    """Held-out tokens of the evaluation (BOS positions left out)."""
    ground_truth_tokens: int = 8192
    """How many of those tokens the concept scores, sparse probing and absorption use (labelled corpora only)."""

    def __post_init__(self):
        at_least(1, eval_tokens=self.eval_tokens)
        at_least(0, ground_truth_tokens=self.ground_truth_tokens)
        fits_memory(TOKEN_BYTES, eval_tokens=self.eval_tokens)


@dataclass
class ShipConfig(Options):
    """Ship trained SAEs: each as float16 SAELens weights with eval.json, card.json and README.md in
    data/dictionaries/<model>/<hook>/<name>/."""

    sae: str = ""
    """A trained SAE folder (`interp train-sae --out`), or a sweep folder holding one SAE per sub-folder."""
    only: tuple[str, ...] = ()
    """Ship only these SAEs of a sweep (their folder names); default: every one."""
    trained_with: str = ""
    """The command that trained them, recorded on each card; default: the train-sae command cfg.json implies."""
    eval: ShipEvalOptions = field(default_factory=ShipEvalOptions)
    data: EvalCorpusOptions = field(default_factory=EvalCorpusOptions)
    run: RuntimeOptions = field(default_factory=RuntimeOptions)
    output: ShipOutput = field(default_factory=ShipOutput)

    def __post_init__(self):
        if not self.sae.strip():
            raise ValueError("give the trained SAE (or sweep) folder to ship with --sae FOLDER")


@dataclass
class ListShippedConfig(Options):
    """List the shipped dictionaries (data/dictionaries) with their headline numbers."""

    model: str = ""
    """Only the dictionaries of this model (default: all)."""
