"""Configs of `interp workspace build` and `interp explore` (free of torch, so the CLI builds its parser quickly).
The folder layout of a workspace is apps.workspace.layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from interp.options import (
    PROMPT_BYTES,
    TOKEN_BYTES,
    CorpusOptions,
    ModelOptions,
    Options,
    OutputOptions,
    RuntimeOptions,
    at_least,
    canonical_model,
    fits_memory,
)
from saes.registry import ARCH_NAMES

from .steps import STEP_NAMES

BUILD_COMMAND = "interp workspace build"

OTHER_ARTIFACTS = {"cfg.json": "an SAE", "snmf.json": "an SNMF dictionary", "manifest.json": "an activation cache",
                   "eval.json": "an evaluation report", "summary.json": "patching results",
                   "steering.json": "a steering run"}
"""Files that mark another command's output folder: a workspace is never built into (and over) one of those."""


@dataclass
class WorkspaceOutput(OutputOptions):
    """Where the workspace goes."""

    out: str = "workspace"
    """Workspace folder (created; a second run skips every step whose artifact exists, validates and was built with
    the same settings)."""

    def __post_init__(self):
        super().__post_init__()
        root = Path(self.out).expanduser()
        if root.is_dir() and not (root / "workspace.json").is_file():
            for marker, what in OTHER_ARTIFACTS.items():
                if (root / marker).is_file():
                    raise ValueError(f"--out {self.out} holds {what} ({marker}), not a workspace: give a new or "
                                     f"empty folder (or an existing workspace) for --out")


@dataclass
class WorkspaceRuntime(RuntimeOptions):
    """Where to build."""

    threads: int = 0
    """CPU threads for torch, for every step; 0: the cores the machine leaves idle when the build starts (by its load
    average; OMP_NUM_THREADS when set), at least 1."""


@dataclass
class WorkspaceModel(ModelOptions):
    """The model of the workspace."""

    model: str = ""
    """Shipped toy name, fetched model (smollm2-135m), model folder or .gguf file, or TransformerLens name; default:
    the model the workspace at --out records, else toy-gelu-s0. A model that disagrees with the recorded one is an
    error naming both."""


@dataclass
class WorkspaceBuildConfig(Options):
    """Build everything the explorer shows for a model and corpus (default: a toy model on the toy world) into one
    folder (resumable)."""

    layer: int = -1
    """Layer whose blocks.LAYER.mlp.hook_post the SAEs and the SNMF read; default: the model's middle layer (-1:
    n_layers // 2, layer 2 of the 4-layer toy models, 15 of SmolLM2's 30)."""
    cache_tokens: int = 32_768
    """Tokens in the activation cache (the feature pages' examples and densities come from these)."""
    sae_tokens: int = 131_072
    """SAE training tokens (passes over the cache as often as needed)."""
    sae_batch_size: int = 1024
    """SAE training batch (tokens per step)."""
    d_sae: int = 1024
    """Latents per SAE."""
    k: int = 16
    """Active latents of topk / batchtopk."""
    archs: list[str] = field(default_factory=lambda: list(ARCH_NAMES))
    """SAE architectures (one SAE each)."""
    snmf_k: int = 64
    """SNMF features."""
    snmf_tokens: int = 16_384
    """Tokens the SNMF factorises."""
    neuron_tokens: int = 32_768
    """Tokens streamed for the neuron statistics (of --model; with a shipped toy model also of the ReLU model of its
    family)."""
    sparsity_tokens: int = 8_192
    """Tokens streamed for the activation-sparsity measures (interp sparsity: zero shares, CETT, perplexity-bounded sparsity, hot / cold,
    dormant, massive activations) of the same models as the neuron statistics."""
    universal_models: list[str] = field(default_factory=list)
    """Seeds of one architecture for the universal neurons; default: the GELU seeds of --model's family when it is a
    shipped toy model (for another model the step is skipped unless its seeds are given here)."""
    universal_tokens: int = 16_384
    """Tokens streamed through every seed for the universal-neuron correlations."""
    steer_concepts: list[str] = field(default_factory=lambda: ["colour:red", "gender:female", "category:animal"])
    """Concepts of the steering benchmark."""
    task: str = ""
    """Patching task (default: the one the workspace at --out records, else ioi): ioi (the toy world's on toy models, Wang et al.'s templates with the model's single-token names
    on others) or a .jsonl / .csv task file (clean, corrupted, answer, wrong)."""
    ioi_prompts: int = 0
    """IOI prompt pairs for the patching results; 0: 16, or 8 on a model whose activation patching would not fit the
    workspace's budget otherwise (e.g. SmolLM2's 30 layers). Components whose activation patching does not fit the
    budget (apps.workspace.builders.PATCH_FLOPS) are left out, costliest first, and the build says which."""
    examples_per_bin: int = 5
    """Top-activating examples stored per quantile bin on each feature page."""
    steps: list[str] = field(default_factory=lambda: list(STEP_NAMES))
    """Steps to run (default all, in the order of apps.workspace.steps.STEPS): cache, saes, snmf, shipped, features,
    neurons, universal, steering, patching."""
    force: list[str] = field(default_factory=list)
    """Steps to rebuild even when their artifact validates."""
    seed: int = 0
    """Seed of the corpus and of every fit."""
    lm: WorkspaceModel = field(default_factory=WorkspaceModel)
    data: CorpusOptions = field(default_factory=CorpusOptions)
    run: WorkspaceRuntime = field(default_factory=WorkspaceRuntime)
    output: WorkspaceOutput = field(default_factory=WorkspaceOutput)

    def __post_init__(self):
        bad = [s for s in [*self.steps, *self.force] if s not in STEP_NAMES]
        if bad:
            raise ValueError(f"unknown step(s) {bad}; steps are {', '.join(STEP_NAMES)}")
        bad = [a for a in self.archs if a not in ARCH_NAMES]
        if bad or not self.archs:
            raise ValueError(f"unknown SAE architecture(s) {bad or '(none)'}; valid: {', '.join(ARCH_NAMES)}")
        at_least(1024, cache_tokens=self.cache_tokens, snmf_tokens=self.snmf_tokens)
        at_least(512, neuron_tokens=self.neuron_tokens, universal_tokens=self.universal_tokens,
                 sparsity_tokens=self.sparsity_tokens)
        at_least(1, sae_batch_size=self.sae_batch_size, k=self.k, examples_per_bin=self.examples_per_bin)
        at_least(2, d_sae=self.d_sae, snmf_k=self.snmf_k)
        at_least(0, ioi_prompts=self.ioi_prompts, seed=self.seed)
        fits_memory(PROMPT_BYTES, ioi_prompts=self.ioi_prompts)
        fits_memory(TOKEN_BYTES, snmf_tokens=self.snmf_tokens)  # the SNMF holds every token's activations
        at_least(-1, "-1: the middle layer", layer=self.layer)
        if self.sae_tokens < self.sae_batch_size:
            raise ValueError(f"--sae-tokens {self.sae_tokens} is less than one batch (--sae-batch-size "
                             f"{self.sae_batch_size}): raise --sae-tokens or lower --sae-batch-size")
        if self.k > self.d_sae:
            raise ValueError(f"--k {self.k} is more than --d-sae {self.d_sae}: lower --k or raise --d-sae")
        self.universal_models = [canonical_model(m) for m in self.universal_models]
        if len(self.universal_models) == 1:
            raise ValueError("universal neurons need at least two models (seeds of one architecture)")

    @property
    def hook(self) -> str:
        if self.layer < 0:
            raise ValueError("the workspace's layer is not resolved yet (WorkspaceBuildConfig.with_layer)")
        return f"blocks.{self.layer}.mlp.hook_post"

    def with_recorded(self, recorded: dict) -> WorkspaceBuildConfig:
        """This config with what the workspace at --out records (`recorded`: its workspace.json "config") in place of
        the options left out: its model, weight processing, corpus and task, so that a rebuild of some steps (`--steps S --force S`,
        as the explorer suggests) rebuilds them on the workspace's own model and text."""
        import dataclasses

        from interp.provenance import ModelRecord, check_model

        # the steps record the weights' fingerprint (steps.py: model_id): changed weights make them stale, rebuilt
        model, processing = check_model(self.lm.model, self.lm.weight_processing,
                                        ModelRecord.read(recorded, f"the workspace {self.output.out}"))
        corpus = self.data.corpus or (recorded.get("corpus", "") if canonical_model(recorded.get("model") or "") == model
                                         else "")
        return dataclasses.replace(self, lm=dataclasses.replace(self.lm, model=model, weight_processing=processing),
                                   data=dataclasses.replace(self.data, corpus=corpus),
                                   task=self.task or recorded.get("task") or "ioi")

    def with_layer(self) -> WorkspaceBuildConfig:
        """This config with --layer resolved for its model (-1: the middle layer; interp.models.resolve_layer); a
        layer the model does not have is an error naming --layer."""
        import dataclasses

        from interp.models import resolve_layer

        return dataclasses.replace(self, layer=resolve_layer(self.layer, self.lm.model))


@dataclass
class ExploreConfig:
    """Open the explorer (a Streamlit app) on a workspace folder."""

    workspace: str = "workspace"
    """Workspace folder built by `interp workspace build`."""
    port: int = 8501
    """Port of the web server."""
    address: str = "127.0.0.1"
    """Address to bind (127.0.0.1: this machine only; the app has no authentication, so any other address lets
    everyone who reaches it read the workspace and the --allow folders)."""
    headless: Literal["auto", "yes", "no"] = "auto"
    """Do not open a browser window (auto: headless when no display is available)."""
    allow: list[str] = field(default_factory=list)
    """Folders (besides the workspace) whose dictionaries and feature pages (`interp feature-pages`) the explorer
    may open; any other path is refused."""

    def __post_init__(self):
        if not 0 < self.port < 65536:
            raise ValueError(f"--port must be in 1..65535, got {self.port}")
