"""Configs of the circuits commands (kept free of torch so the CLI builds its parser quickly).

They nest the shared option groups of interp.options (`lm`: model and weight processing, `run`: device, threads
and the memory budget, `output`: where results go), so the flat CLI names stay --model, --device, --out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal, get_args

from interp.options import PROMPT_BYTES, ModelOptions, Options, OutputOptions, RuntimeOptions, at_least, fits_memory

from .patching.methods import METHOD_NAMES

COMPONENT_NAMES = ("resid_pre", "resid_mid", "attn_out", "mlp_out", "mlp", "head_out", "head_q", "head_k", "head_v",
                   "head_pattern", "head_out_by_pos", "head_q_by_pos", "head_k_by_pos", "head_v_by_pos",
                   "head_pattern_by_pos", "neuron")
"""Must equal circuits.patching.components.COMPONENTS (a test checks)."""

BUILTIN_TASKS = ("ioi", "gender", "colour")
"""Built-in task names; any other --task is a task file."""
TASK_FILE_SUFFIXES = (".jsonl", ".csv")

Batching = Literal["auto", "padded", "groups"]
BATCHING: tuple[str, ...] = get_args(Batching)
"""How prompts of several token lengths are batched (circuits.patching.run.patch_task)."""
MAX_SEPARATE_GROUPS = 4
"""--batching auto pads when a task has more length groups than this."""


@dataclass
class PatchRuntimeOptions(RuntimeOptions):
    """Where to run, and how much memory a patching run may use."""

    max_memory: float = 0.0
    """GB (10^9 bytes) a patching run may use: the model's weights plus the activations, gradients and logits its
    method keeps, estimated from the model's shape (circuits.patching.memory). Prompts are patched in chunks that
    stay under it (results equal one run over all prompts); a budget too small for one prompt is refused with the
    estimate. 0: half the machine's physical memory, at most 16 GB (on CUDA: half the GPU's memory)."""
    batching: Batching = "auto"
    """Prompts of several token lengths: "groups" patches each length group alone and keeps each group's result
    beside the combined one; "padded" left-pads all prompts into one batch with an attention mask (the same
    combined numbers in far fewer, larger passes; no per-group results); "auto" pads when there are more than 4
    groups (natural-English templates, e.g. --task ioi on a model of your own)."""

    def __post_init__(self):
        super().__post_init__()
        at_least(0, "in GB; 0: the default", max_memory=self.max_memory)


@dataclass
class TaskOptions(Options):
    """Which task to build and how many prompts."""

    task: str = "ioi"
    """ioi, gender, colour, or a task file (.jsonl: one {"clean", "corrupted", "answer", "wrong"} object a line;
    .csv: those four columns). IOI works on any model with a tokenizer: on a toy1 model toy1's IOI templates, on a
    toy2 model toy2's own IOI grammar (a held-out form, circuits.tasks.ioi_toy2), on others the classic templates of
    Wang et al. 2022 with the model's single-token names. gender and colour need a toy-world model and write its
    world's sentences (toy1 or toy2). Answers must be single tokens; prompts of different token lengths are patched
    in groups of one length (see circuits.patching.run)."""
    corruption: Literal["abc", "swap"] = "abc"
    """IOI corruption: three new names (abc) or IO and S exchanged (swap); ignored by other tasks."""
    n_prompts: int = 32
    """Number of clean / corrupted prompt pairs of a built-in task (a task file uses all its rows)."""
    seed: int = 0
    """Prompt sampling seed of the built-in tasks (held-out name and template combinations on toy1 models, held-out
    IOI forms on toy2 models)."""
    lm: ModelOptions = field(default_factory=ModelOptions)
    run: PatchRuntimeOptions = field(default_factory=PatchRuntimeOptions)

    def __post_init__(self):
        at_least(1, n_prompts=self.n_prompts)
        fits_memory(PROMPT_BYTES, n_prompts=self.n_prompts)
        at_least(0, seed=self.seed)
        if self.task not in BUILTIN_TASKS and not self.task.lower().endswith(TASK_FILE_SUFFIXES):
            raise ValueError(f"--task {self.task!r} is neither a built-in task ({', '.join(BUILTIN_TASKS)}) nor a "
                             f"task file ending in {' or '.join(TASK_FILE_SUFFIXES)}")


@dataclass
class PatchOutput(OutputOptions):
    """Where the scores go."""

    out: str = "runs/patch"
    """Output folder (scores.safetensors + summary.json)."""


@dataclass
class PatchConfig(TaskOptions):
    """Patch a model on a task with one method and write the scores (safetensors) and a JSON summary."""

    method: Literal[METHOD_NAMES] = "activation"
    """Activation patching, attribution patching (AtP), RelP, or RelP with the AH-rule (the registry
    circuits.patching.methods)."""
    components: list[str] = field(default_factory=lambda: ["resid_pre", "attn_out", "mlp_out", "head_out"])
    """Components to score (see circuits.patching.components)."""
    output: PatchOutput = field(default_factory=PatchOutput)

    def __post_init__(self):
        super().__post_init__()
        bad = [c for c in self.components if c not in COMPONENT_NAMES]
        if bad or not self.components:
            raise ValueError(f"unknown component(s) {bad or '(none given)'}; choose from {', '.join(COMPONENT_NAMES)}")


@dataclass
class CompareOutput(OutputOptions):
    """Where the table goes."""

    out: str = ""
    """Optional JSON file for the table (printed either way)."""

    is_folder: ClassVar[bool] = False


@dataclass
class PatchCompareConfig(TaskOptions):
    """Pearson correlation and magnitude recovery of AtP, RelP and RelP+AH against activation patching."""

    output: CompareOutput = field(default_factory=CompareOutput)
