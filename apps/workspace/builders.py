"""What each workspace step runs to build its folder: the project's own commands and APIs, called with the
workspace's settings (the declarations that tie a builder to its step are apps.workspace.steps).

Every heavy import is inside the builder that needs it, so the step list (read by the CLI's parser) stays free of
torch. The page builders (interp.pages.command.write_feature_pages, interp.neurons.pages.build_neuron_pages) are
called in one place each: `build_features` and `neuron_pages`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from interp.atomic import atomic_write_text

from .family import neuron_models, universal_models
from .layout import dictionary_folders

if TYPE_CHECKING:
    from .config import WorkspaceBuildConfig
    from .layout import Layout

PATCH_FLOPS = 4e13
"""Activation patching's budget in the workspace, in FLOPs (circuits.patching.cost; ~10 min on one CPU thread):
the costliest components are left out until the rest fits."""
PATCH_PROMPTS = (16, 8)
"""IOI prompts when --ioi-prompts is 0: the first, or the second when the first leaves more than one component out
(a model of many layers)."""


class Models:
    """Models loaded once per build (with the build's weight processing)."""

    def __init__(self, weight_processing: str = "default"):
        self.weight_processing = weight_processing
        self._m: dict[str, object] = {}

    def __call__(self, name: str):
        if name not in self._m:
            from interp.models import load_model

            self._m[name] = load_model(name, "cpu", self.weight_processing)
        return self._m[name]


def restart(layout: Layout, step: str) -> None:
    """Remove what an unfinished build of `step` made (never the user's files: apps.workspace.records), for a
    command that starts only in an empty folder; one that still holds the user's files is a one-line error."""
    from . import records as R

    folder = layout.folder(step)
    rec = json.loads(layout.manifest.read_text()).get("steps", {}).get(step) if layout.manifest.is_file() else None
    R.require_only_own(folder, rec, step)
    R.remove_own(folder, rec)


def build_cache(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from interp.activations import CacheConfig, cache_activations

    c = CacheConfig.of(model=cfg.lm.model, weight_processing=cfg.lm.weight_processing, corpus=cfg.data.corpus,
                       text_column=cfg.data.text_column, n_ctx=cfg.data.n_ctx, hooks=[cfg.hook],
                       tokens=cfg.cache_tokens, out=str(layout.cache), seed=cfg.seed, shard_tokens=8192, device="cpu")
    cache_activations(c, model=models(cfg.lm.model))


def build_saes(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from saes.training import checkpoint as ck
    from saes.training.config import TrainSAEConfig
    from saes.training.run import train_saes

    if layout.saes.exists() and not ck.Checkpointer(layout.saes, {}).exists():
        restart(layout, "saes")  # an incomplete earlier build without a checkpoint: start again
    # JumpReLU: the workspace trains 128 steps, in which thresholds started at the usual 0.001 (ε 0.001) never climb
    # to where the L0 penalty bites: L0 327 at λ 0.1 and 345 at λ 1 (of 1024 latents). Started at 0.5 with ε 0.1 and
    # λ 1 the SAE ends at L0 44, R² 0.955, CE loss recovered 0.989 (measured on this workspace's cache).
    tcfg = TrainSAEConfig.of(hook=cfg.hook, arch=list(cfg.archs), d_sae=[cfg.d_sae], k=[cfg.k], l1_coefficient=[2.0],
                             l0_coefficient=[1.0], init_threshold=0.5, bandwidth=0.1, seed=[cfg.seed],
                             tokens=cfg.sae_tokens, out=str(layout.saes), batch_size=cfg.sae_batch_size, lr=2e-3,
                             cache=str(layout.cache), data_seed=cfg.seed, checkpoint_every=50, log_every=10,
                             dead_window=cfg.sae_tokens // 2, device="cpu", eval_tokens=4096)
    train_saes(tcfg, model=models(cfg.lm.model))


def build_snmf(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from saes.snmf.config import SNMFConfig
    from saes.snmf.run import main

    main(SNMFConfig.of(layer=cfg.layer, k=cfg.snmf_k, tokens=cfg.snmf_tokens, out=str(layout.snmf),
                       cache=str(layout.cache), max_iter=60, eval_tokens=4096, seed=cfg.seed, device="cpu",
                       overwrite=True))  # the folder is the workspace's (apps.workspace.records)


def neuron_pages(models: Models, names: list[str], folders: list[Path], n_docs: int, cfg: WorkspaceBuildConfig) -> None:
    """Neuron pages (top examples over the workspace's corpus) of the models `names`, each into its folder, with
    what each neuron's label rests on from the statistics already in that folder."""
    from interp.neurons.artifacts import load_neuron_stats
    from interp.neurons.pages import build_neuron_pages, save_neuron_pages

    stats = [load_neuron_stats(f) if (f / "stats.json").is_file() else None for f in folders]
    pages = build_neuron_pages([models(m) for m in names], names, n_docs=n_docs, seed=cfg.seed, corpus=cfg.data,
                               weight_processing=cfg.lm.weight_processing, stats=stats)
    for folder, (arrays, meta) in zip(folders, pages):
        save_neuron_pages(folder, arrays, meta)


def build_features(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    """Feature pages of every dictionary in the workspace over its cache, into features/<name>."""
    from interp.activations import ActivationCache
    from interp.pages.command import write_feature_pages
    from interp.pages.features import PageSettings

    cache, settings = ActivationCache.open(layout.cache), PageSettings(k=cfg.examples_per_bin, seed=cfg.seed)
    for name, folder in dictionary_folders(layout).items():
        t0 = time.perf_counter()
        shown = folder.relative_to(layout.root) if folder.is_relative_to(layout.root) else folder  # shipped: outside
        pages = write_feature_pages(folder, cache, models(cfg.lm.model), layout.features / name, name, str(shown),
                                    settings)
        print(f"  feature pages {name}: {pages.d_sae} features in {time.perf_counter() - t0:.1f} s")


def link_shipped(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    """shipped/shipped.json: every dictionary shipped for the workspace's model (checked against its card's
    checksums), linked by its folder, marked with what it was trained on and whether it reads the workspace's hook
    (those that do get feature pages and steering scores beside the workspace's own)."""
    from saes.shipped import shipped, verify

    from .layout import SHIPPED_FILE, SHIPPED_PREFIX

    links = []
    for s in shipped(cfg.lm.model):
        verify(s.folder, s.card)
        links.append({"name": f"{SHIPPED_PREFIX}{s.name}", "spec": s.spec, "folder": str(s.folder.resolve()),
                      "kind": s.card["kind"], "hook": s.card["hook"], "d_sae": s.card["d_sae"], "seed": s.card["seed"],
                      "tokens_trained": s.card["tokens_trained"], "label": s.label, "metrics": s.card["metrics"],
                      "at_hook": s.card["hook"] == cfg.hook})
    layout.shipped.mkdir(parents=True, exist_ok=True)
    atomic_write_text(layout.shipped / SHIPPED_FILE,
                      json.dumps({"model": cfg.lm.model, "hook": cfg.hook, "dictionaries": links}, indent=1))
    print(f"  shipped: {len(links)} dictionaries of {cfg.lm.model} ({sum(d['at_hook'] for d in links)} at {cfg.hook})")


def _neuron_cfg(cfg: WorkspaceBuildConfig, model: str, out: Path):
    from interp.neurons.config import NeuronsConfig

    return NeuronsConfig.of(model=model, weight_processing=cfg.lm.weight_processing, corpus=cfg.data.corpus,
                            text_column=cfg.data.text_column, tokens=cfg.neuron_tokens, out=str(out), seed=cfg.seed,
                            auroc_tokens=min(8192, cfg.neuron_tokens), device="cpu", threads=cfg.run.threads)


def build_neurons(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from interp.neurons.artifacts import save_neuron_stats
    from interp.neurons.run import compute_neuron_stats

    for name in neuron_models(cfg):
        out = layout.neurons / Path(name).name
        save_neuron_stats(compute_neuron_stats(models(name), name, _neuron_cfg(cfg, name, out)), out)
        neuron_pages(models, [name], [out], 64, cfg)


def build_sparsity(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    """Activation sparsity (interp sparsity) of every neuron model, into sparsity/<model> (the Sparsity page)."""
    from interp.checkpoint import Checkpointer, identity
    from interp.sparsity.artifacts import save_sparsity
    from interp.sparsity.config import SparsityConfig
    from interp.sparsity.run import compute_sparsity

    for name in neuron_models(cfg):
        out = layout.sparsity / Path(name).name
        scfg = SparsityConfig.of(model=name, weight_processing=cfg.lm.weight_processing, corpus=cfg.data.corpus,
                                 text_column=cfg.data.text_column, tokens=cfg.sparsity_tokens, out=str(out),
                                 seed=cfg.seed, device="cpu", threads=cfg.run.threads, overwrite=True)
        save_sparsity(compute_sparsity(models(name), name, scfg, out), out)
        Checkpointer(out, identity(scfg)).clear()


def build_universal(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from interp.neurons.config import UniversalConfig
    from interp.neurons.universal import main

    names = universal_models(cfg)
    main(UniversalConfig.of(models=names, weight_processing=cfg.lm.weight_processing, corpus=cfg.data.corpus,
                            text_column=cfg.data.text_column, tokens=cfg.universal_tokens, out=str(layout.universal),
                            seed=cfg.seed, auroc_tokens=min(8192, cfg.universal_tokens), device="cpu",
                            threads=cfg.run.threads, overwrite=True))  # the folder is the workspace's
    neuron_pages(models, names, [layout.universal / Path(m).name for m in names], 48, cfg)


def build_steering(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from interp.steering.bench_command import main
    from interp.steering.config import SteerBenchConfig

    dicts = [str(p) for p in dictionary_folders(layout).values()]
    main(SteerBenchConfig.of(dictionaries=dicts, model=cfg.lm.model, concepts=list(cfg.steer_concepts), n_docs=24,
                             gen_tokens=8, out=str(layout.steering), overwrite=True))


def build_patching(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from circuits.cli import build_task
    from circuits.config import PatchCompareConfig
    from circuits.faithfulness import COMPARED, faithfulness
    from circuits.patching.cost import affordable
    from circuits.tasks import as_groups
    from circuits.patching.methods import ground_truth
    from circuits.patching.results import save_results
    from torch import enable_grad

    from circuits.tasks.ioi_classic import TooFewNames

    from .steps import StepSkipped

    model = models(cfg.lm.model)
    n_prompts = cfg.ioi_prompts or PATCH_PROMPTS[0]
    task_cfg = PatchCompareConfig.of(model=cfg.lm.model, task=cfg.task, n_prompts=n_prompts, seed=cfg.seed)
    try:
        built = build_task(task_cfg, model)
    except TooFewNames as e:
        raise StepSkipped(f"{e} (workspace build --task FILE)") from None
    n_pos = max(g.n_pos for g in as_groups(built.task))
    components = affordable(model, COMPARED, built.task.n_prompts, n_pos, PATCH_FLOPS)
    if not cfg.ioi_prompts and len(components) < len(COMPARED) - 1 and built.task.n_prompts > PATCH_PROMPTS[1]:
        built = build_task(dataclasses.replace(task_cfg, n_prompts=PATCH_PROMPTS[1]), model)  # a large model
        components = affordable(model, COMPARED, built.task.n_prompts, n_pos, PATCH_FLOPS)
    dropped = [c for c in COMPARED if c not in components]
    if dropped:
        print(f"patching: {', '.join(dropped)} left out of activation patching on {cfg.lm.model} ({model.cfg.n_layers} "
              f"layers, {built.task.n_prompts} prompts): over the workspace's budget of {PATCH_FLOPS:.0e} FLOPs; "
              f"patch them with `interp patch --model {cfg.lm.model} --task {task_cfg.task} --n-prompts "
              f"{built.task.n_prompts} --components {' '.join(dropped)}`", flush=True)
    with enable_grad():
        run = faithfulness(model, built.task, components, model_name=cfg.lm.model)
    save_results(run.activation, layout.patching / ground_truth().name, cfg.lm.model, run.task)
    for method, results in run.estimates.items():
        save_results(results, layout.patching / method, cfg.lm.model, run.task)
    atomic_write_text(layout.patching / "faithfulness.json", json.dumps(run.table(), indent=1))
