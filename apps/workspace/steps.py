"""The workspace's steps, in one list: each step is one declaration of its name, its folder, the steps it reads,
the settings its artifact depends on, how it is built (apps.workspace.builders), how its artifact is validated,
and why it cannot run for a given model. The `shipped` step links the converged dictionaries shipped for the model
(saes.shipped, data/dictionaries) into the workspace without copying or retraining them: the feature pages and the
steering benchmark then treat them like the workspace's own SAEs.

The build order, the Layout's folders, settings propagation, validation and the CLI's --steps choices all read
STEPS, so adding a step is one `Step` entry (and its builder). A step's settings include those of the steps it
reads (`inputs`: the SAEs read the cache, feature pages read the SAEs), so changing an upstream option rebuilds
everything downstream. Steps that need the toy world's ground truth (the steering benchmark) or models the user did
not give (universal neurons need seeds of one architecture) are skipped on other models, with the reason recorded
in workspace.json and shown by the explorer. The module is free of torch: the CLI builds its parser from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from interp.json_files import read_json

from . import builders as B
from .family import is_toy, neuron_models, universal_models
from .layout import dictionary_folders, sae_folders, shipped_links

if TYPE_CHECKING:
    from .config import WorkspaceBuildConfig
    from .layout import Layout

Build = Callable[["Layout", "WorkspaceBuildConfig", B.Models], None]


@dataclass(frozen=True)
class Step:
    """One workspace step."""

    name: str
    """--steps / --force value and its key in workspace.json."""
    folder: str
    """Sub-folder of the workspace the step writes (removed when it is rebuilt from scratch)."""
    inputs: tuple[str, ...]
    """Upstream steps whose artifacts it reads; their settings are part of its settings."""
    settings: Callable[[WorkspaceBuildConfig], dict]
    """The step's own settings (the options its artifact depends on, besides its inputs')."""
    build: Build
    """Builds the step's folder (apps.workspace.builders)."""
    validate: Callable[[Layout, WorkspaceBuildConfig], object]
    """Reads the artifact back: False or an exception means "build it"."""
    skip: Callable[[WorkspaceBuildConfig], str | None] = lambda cfg: None
    """Why the step cannot run for this configuration's model, or None."""
    needs: tuple[str, ...] = ()
    """Upstream steps whose artifact must exist before it builds (the other inputs are read when they exist): a
    build that lacks one fails before it touches anything."""
    empty: bool = False
    """Its command starts only in an empty folder (train-sae): a build refuses the user's files in it before it
    removes anything."""
    renamed: tuple[tuple[str, str], ...] = ()
    """(its command's option, the workspace's): options the workspace spells otherwise (the cache's --tokens is
    --cache-tokens), so an error of the command names the option the user gave."""


# --- settings ---------------------------------------------------------------------------------------------------

def _pick(cfg: WorkspaceBuildConfig, *keys: str) -> dict:
    flat = cfg.flat()
    return {k: flat[k] for k in keys}


def _source(cfg: WorkspaceBuildConfig) -> dict:
    """The text and model every step that runs the model on the corpus depends on."""
    from interp.models import model_fingerprint

    return {**_pick(cfg, "model", "weight_processing", "corpus", "text_column", "n_ctx", "seed"),
            "model_id": model_fingerprint(cfg.lm.model)}


def _models(names: list[str]) -> dict:
    """A name given to other weights is another model: a step records what its models' names load."""
    from interp.models import model_fingerprint

    return {"models": names, "model_ids": [model_fingerprint(m) for m in names]}


def _shipped_settings(cfg: WorkspaceBuildConfig) -> dict:
    """The model, its layer and what is shipped for it (each dictionary's weights by their card's checksum), so a
    dictionary shipped or shipped again relinks the workspace and rebuilds the pages that read it. With nothing
    shipped the steps that read this one keep the settings they had before it existed (no needless rebuild)."""
    from saes.shipped import shipped

    found = {s.spec: s.card["files"]["sae_weights.safetensors"]["sha256"] for s in shipped(cfg.lm.model)}
    return {**_pick(cfg, "model", "weight_processing", "layer"), **({"shipped": found} if found else {})}


def _patching_settings(cfg: WorkspaceBuildConfig) -> dict:
    from interp.models import model_fingerprint

    return {**_pick(cfg, "model", "weight_processing", "task", "ioi_prompts", "seed"),
            "model_id": model_fingerprint(cfg.lm.model), "task_file": _fingerprint(cfg.task)}


def _fingerprint(task: str) -> str | None:
    path = Path(task)
    if not path.is_file():
        return None
    from interp.corpus_files import fingerprint_files

    return fingerprint_files([path])


# --- validation: the artifact is complete and readable ----------------------------------------------------------

def _cache_ok(layout: Layout, cfg: WorkspaceBuildConfig) -> bool:
    from interp.activations import ActivationCache

    return ActivationCache.open(layout.cache).n_tokens >= cfg.cache_tokens


def _saes_ok(layout: Layout, cfg: WorkspaceBuildConfig) -> bool:
    found = sae_folders(layout)
    return all(a in found and (found[a] / "eval.json").is_file() for a in cfg.archs)


def _snmf_ok(layout: Layout, cfg: WorkspaceBuildConfig) -> bool:
    return (layout.snmf / "snmf.json").is_file() and (layout.snmf / "snmf.safetensors").is_file()


def _shipped_ok(layout: Layout, cfg: WorkspaceBuildConfig) -> bool:
    return isinstance(shipped_links(layout).get("dictionaries"), list)


def _features_ok(layout: Layout, cfg: WorkspaceBuildConfig) -> bool:
    from interp.pages.features import load_feature_pages

    names = dictionary_folders(layout)
    return bool(names) and all(_ok(lambda n=n: load_feature_pages(layout.features / n)) for n in names)


def _neurons_ok(layout: Layout, cfg: WorkspaceBuildConfig) -> bool:
    from interp.neurons.artifacts import load_neuron_stats
    from interp.neurons.pages import load_neuron_pages

    return all(_ok(lambda m=Path(m).name: (load_neuron_stats(layout.neurons / m), load_neuron_pages(layout.neurons / m)))
               for m in neuron_models(cfg))


def _sparsity_ok(layout: Layout, cfg: WorkspaceBuildConfig) -> bool:
    from interp.sparsity.artifacts import load_sparsity

    return all(_ok(lambda m=Path(m).name: load_sparsity(layout.sparsity / m)) for m in neuron_models(cfg))


def _universal_ok(layout: Layout, cfg: WorkspaceBuildConfig) -> bool:
    from interp.neurons.pages import load_neuron_pages
    from interp.neurons.universal import load_universal

    return _ok(lambda: load_universal(layout.universal)) and all(
        _ok(lambda m=m: load_neuron_pages(layout.universal / Path(m).name)) for m in universal_models(cfg))


def _steering_ok(layout: Layout, cfg: WorkspaceBuildConfig) -> bool:
    return read_json((layout.steering / "bench.json"))["kind"] == "steering-benchmark"


def _patching_ok(layout: Layout, cfg: WorkspaceBuildConfig) -> bool:
    from circuits.patching.methods import METHODS
    from circuits.patching.results import load_results

    return _ok(lambda: [load_results(layout.patching / m) for m in METHODS]) and \
        (layout.patching / "faithfulness.json").is_file()


def _ok(check: Callable[[], object]) -> bool:
    try:
        return check() is not False
    except Exception:  # any unreadable / incomplete artifact means "build it"
        return False


class StepSkipped(Exception):
    """Raised by a builder that finds, once it has the model, that its step cannot run for it (the message says
    why); the build records the step as skipped with that reason and goes on."""


# --- skip reasons -----------------------------------------------------------------------------------------------

def _steering_skip(cfg: WorkspaceBuildConfig) -> str | None:
    if is_toy(cfg.lm.model):
        return None
    return ("the steering benchmark scores directions against the toy world's ground-truth concepts; "
            f"{cfg.lm.model} is not a toy model (steer it with `interp steer`)")


def _universal_skip(cfg: WorkspaceBuildConfig) -> str | None:
    if universal_models(cfg):
        return None
    return ("universal neurons compare seeds of one architecture: give them with --universal-models "
            "(two or more model folders)")


# --- the steps, in build order ----------------------------------------------------------------------------------

STEPS: list[Step] = [
    Step("cache", folder="cache", inputs=(),
         settings=lambda c: {**_source(c), **_pick(c, "layer", "cache_tokens")},
         build=B.build_cache, validate=_cache_ok, renamed=(("--tokens", "--cache-tokens"),)),
    Step("saes", folder="saes", inputs=("cache",),
         settings=lambda c: _pick(c, "archs", "d_sae", "k", "sae_tokens", "sae_batch_size"),
         build=B.build_saes, validate=_saes_ok, needs=("cache",), empty=True,
         renamed=(("--tokens", "--sae-tokens"), ("--batch-size", "--sae-batch-size"), ("--arch", "--archs"))),
    Step("snmf", folder="snmf", inputs=("cache",),
         settings=lambda c: _pick(c, "snmf_k", "snmf_tokens"),
         build=B.build_snmf, validate=_snmf_ok, needs=("cache",),
         renamed=(("--tokens", "--snmf-tokens"), ("--k", "--snmf-k"))),
    Step("shipped", folder="shipped", inputs=(), settings=_shipped_settings, build=B.link_shipped,
         validate=_shipped_ok),
    Step("features", folder="features", inputs=("saes", "snmf", "shipped"),
         settings=lambda c: _pick(c, "examples_per_bin"),
         build=B.build_features, validate=_features_ok, needs=("cache",)),
    Step("neurons", folder="neurons", inputs=(),
         settings=lambda c: {**_source(c), **_models(neuron_models(c)), **_pick(c, "neuron_tokens")},
         build=B.build_neurons, validate=_neurons_ok, renamed=(("--tokens", "--neuron-tokens"),)),
    Step("sparsity", folder="sparsity", inputs=(),
         settings=lambda c: {**_source(c), **_models(neuron_models(c)), **_pick(c, "sparsity_tokens")},
         build=B.build_sparsity, validate=_sparsity_ok, renamed=(("--tokens", "--sparsity-tokens"),)),
    Step("universal", folder="universal", inputs=(),
         settings=lambda c: {**_source(c), **_models(universal_models(c)), **_pick(c, "universal_tokens")},
         build=B.build_universal, validate=_universal_ok, skip=_universal_skip,
         renamed=(("--tokens", "--universal-tokens"), ("--models", "--universal-models"))),
    Step("steering", folder="steering", inputs=("saes", "snmf", "shipped"),
         settings=lambda c: _pick(c, "steer_concepts"),
         build=B.build_steering, validate=_steering_ok, skip=_steering_skip,
         renamed=(("--concepts", "--steer-concepts"),)),
    Step("patching", folder="patching", inputs=(),
         settings=_patching_settings,
         build=B.build_patching, validate=_patching_ok, renamed=(("--n-prompts", "--ioi-prompts"),)),
]
STEP_NAMES = [s.name for s in STEPS]
"""The --steps choices, in build order."""


def step_named(name: str) -> Step:
    """The declared step `name`; a one-line error naming the steps otherwise."""
    for s in STEPS:
        if s.name == name:
            return s
    raise ValueError(f"unknown workspace step {name!r}; steps are {', '.join(STEP_NAMES)}")


def in_workspace_terms(step: str, message: str) -> str:
    """`message` of the step's command with its options spelled as the workspace's (`Step.renamed`)."""
    import re

    for theirs, ours in step_named(step).renamed:
        message = re.sub(rf"(?<![\w-]){re.escape(theirs)}(?![\w-])", ours, message)
    return message


def settings(step: str, cfg: WorkspaceBuildConfig) -> dict:
    """The options `step`'s artifact depends on, its upstream steps' included."""
    s = step_named(step)
    upstream: dict = {}
    for name in s.inputs:
        upstream.update(settings(name, cfg))
    return {**upstream, **s.settings(cfg)}


def upstream(step: str) -> list[str]:
    """Every step `step` reads, directly or through its inputs, in build order."""
    found: set[str] = set()
    todo = list(step_named(step).inputs)
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo += step_named(name).inputs
    return [s for s in STEP_NAMES if s in found]


def skip_reason(step: str, cfg: WorkspaceBuildConfig) -> str | None:
    """Why `step` cannot be built for this model, or None."""
    return step_named(step).skip(cfg)


def valid(step: str, layout: Layout, cfg: WorkspaceBuildConfig) -> bool:
    """True when `step`'s artifact is complete and readable."""
    return _ok(lambda: step_named(step).validate(layout, cfg))
