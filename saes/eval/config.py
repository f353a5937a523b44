"""Config of `interp eval-sae` (free of torch so the CLI builds its parser quickly)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from interp.options import (
    TOKEN_BYTES,
    CorpusOptions,
    Options,
    OutputOptions,
    RecordedModelOptions,
    RuntimeOptions,
    at_least,
    fits_memory,
)


@dataclass
class EvalCorpusOptions(CorpusOptions):
    """The text to evaluate on; by default the held-out split of the corpus the dictionary was trained on."""

    corpus: str = ""
    """Default: the held-out split of the corpus the SAE records (cfg.json). Otherwise as for every command:
    'toyworld', a .txt file or folder, .jsonl / .parquet, a datasets folder or hf:NAME; its held-out split is used.
    On a model of no toy world 'toyworld' is toy1's sentences as English text with each word's labels on the token
    that completes it, so ground_truth (concept AUROCs) is reported on any model."""
    n_ctx: int = 0
    """Tokens per row, BOS included; 0: the context the SAE was trained with (else min(128, the model's))."""


@dataclass
class EvalOutput(OutputOptions):
    """Where the report goes."""

    out: str = ""
    """Where to write the report; default: eval.json in the SAE folder (never over the SAE's own files)."""

    is_folder: ClassVar[bool] = False


@dataclass
class EvalSAEConfig(Options):
    """Evaluate a saved SAE (any dictionary folder interp.dictionary opens: SAELens format, sae_lens:RELEASE/ID) on
    the held-out split of its corpus and write eval.json beside its weights."""

    sae: str = ""
    """SAE folder (SAELens format: cfg.json + sae_weights.safetensors), or any dictionary spec interp.dictionary
    opens."""
    hook: str = ""
    """Hook the SAE reads; default: the hook recorded in the SAE's cfg.json."""
    compare: str = ""
    """Another dictionary folder (e.g. another seed): adds seed stability (share of latents with a decoder-cosine
    match)."""
    tokens: int = 32_768
    """Held-out tokens to evaluate on (BOS positions left out)."""
    ground_truth_tokens: int = 8192
    """How many of those tokens score latents against the toy world's concept labels (AUROC, F1; labelled toy-world
    corpora only)."""
    seed: int = 0
    """Seed of the toy-world text when --corpus toyworld is given (otherwise the seed the SAE's corpus records)."""
    lm: RecordedModelOptions = field(default_factory=RecordedModelOptions)
    data: EvalCorpusOptions = field(default_factory=EvalCorpusOptions)
    run: RuntimeOptions = field(default_factory=RuntimeOptions)
    output: EvalOutput = field(default_factory=EvalOutput)

    def __post_init__(self):
        if not self.sae:
            raise ValueError("give the SAE folder to evaluate with --sae FOLDER")
        at_least(1, tokens=self.tokens)
        fits_memory(TOKEN_BYTES, tokens=self.tokens)
        at_least(0, ground_truth_tokens=self.ground_truth_tokens, seed=self.seed)
        if self.data.n_ctx in (1, 2):
            raise ValueError(f"--n-ctx must be >= 3 (or 0: the SAE's context), got {self.data.n_ctx}")


@dataclass
class ConceptTableConfig(Options):
    """The best unit per ground-truth concept: neurons (`interp neurons` folders) beside dictionaries (eval.json
    reports of `eval-sae` / `train-sae`), on a labelled corpus (the toy world, on any model: `--corpus toyworld`)."""

    neurons: tuple[str, ...] = ()
    """Neuron-statistics folders of one model, e.g. one per toy-world seed: the first picks each concept's best
    neuron (over every layer), the others give that same neuron's AUROC on their text (a held-out check of the
    pick) and their own best."""
    evals: tuple[str, ...] = ()
    """Dictionary reports (eval.json, or a dictionary folder holding one), each a column named by the dictionary's
    trained architecture and the report's file name: the best latent's AUROC per concept."""
    concepts: tuple[str, ...] = ()
    """Concepts (field:value) to list, in this order; default: every concept the first input scored."""

    def __post_init__(self):
        if not self.neurons and not self.evals:
            raise ValueError("give --neurons FOLDER... and/or --evals FILE... to tabulate")
