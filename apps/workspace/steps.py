"""The workspace's steps: what each one builds (through the project's own commands and APIs), the settings its
artifact depends on, and why a step cannot run for a given model.

Each step's `settings` include those of the steps it reads (the SAEs read the cache, feature pages read the SAEs),
so changing an upstream option rebuilds everything downstream. Steps that need the toy world's ground truth (the
steering benchmark) or models the user did not give (universal neurons need seeds of one architecture) are skipped
on other models, with the reason recorded in workspace.json and shown by the explorer.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from .config import WorkspaceBuildConfig
from .layout import Layout, dictionary_folders

TOY_SEEDS = ["toy-gelu-s0", "toy-gelu-s1", "toy-gelu-s2", "toy-gelu-s3"]
TOY_RELU = "toy-relu-s0"


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


def is_toy(name: str) -> bool:
    from interp.models import shipped_models

    return name in shipped_models()


def toy_family(name: str) -> list[str]:
    """The shipped seeds of `name`'s family: toy-gelu-s0 -> toy-gelu-s0..s3 and toy-relu-s0, toy1-gelu-s2 -> the
    toy1-* ones (never a mix of worlds); [] for a model that is not a shipped toy model."""
    from interp.models import shipped_models

    if not is_toy(name):
        return []
    prefix = name.split("-")[0]
    names = [f"{prefix}-{m.split('-', 1)[1]}" for m in (*TOY_SEEDS, TOY_RELU)]
    return [m for m in names if m in shipped_models()]


def neuron_models(cfg: WorkspaceBuildConfig) -> list[str]:
    """--model, and with a shipped toy model also the ReLU model of its family (the explorer compares GELU and ReLU
    neurons)."""
    relu = [m for m in toy_family(cfg.lm.model) if "-relu-" in m and m != cfg.lm.model]
    return [cfg.lm.model, *relu]


def universal_models(cfg: WorkspaceBuildConfig) -> list[str]:
    """--universal-models, or with a shipped toy model the GELU seeds of its family."""
    return list(cfg.universal_models) or [m for m in toy_family(cfg.lm.model) if "-gelu-" in m]


def settings(step: str, cfg: WorkspaceBuildConfig) -> dict:
    """The options `step`'s artifact depends on, its upstream steps' included."""
    f = cfg.flat()
    pick = lambda *keys: {k: f[k] for k in keys}  # noqa: E731
    from interp.models import model_fingerprint

    # a name given to other weights is another model: every step records what its models' names load
    models = lambda names: {"models": names, "model_ids": [model_fingerprint(m) for m in names]}  # noqa: E731
    source = {**pick("model", "weight_processing", "corpus", "text_column", "n_ctx", "seed"),
              "model_id": model_fingerprint(cfg.lm.model)}
    own = {
        "cache": lambda: {**source, **pick("layer", "cache_tokens")},
        "saes": lambda: {**settings("cache", cfg), **pick("archs", "d_sae", "k", "sae_tokens", "sae_batch_size")},
        "snmf": lambda: {**settings("cache", cfg), **pick("snmf_k", "snmf_tokens")},
        "features": lambda: {**settings("saes", cfg), **settings("snmf", cfg), **pick("examples_per_bin")},
        "neurons": lambda: {**source, **models(neuron_models(cfg)), **pick("neuron_tokens")},
        "universal": lambda: {**source, **models(universal_models(cfg)), **pick("universal_tokens")},
        "steering": lambda: {**settings("saes", cfg), **settings("snmf", cfg), **pick("steer_concepts")},
        "patching": lambda: {**pick("model", "weight_processing", "task", "ioi_prompts", "seed"),
                             "model_id": source["model_id"], "task_file": _fingerprint(cfg.task)},
    }
    return own[step]()


def _fingerprint(task: str) -> str | None:
    path = Path(task)
    if not path.is_file():
        return None
    from interp.corpus_files import fingerprint_files

    return fingerprint_files([path])


def skip_reason(step: str, cfg: WorkspaceBuildConfig) -> str | None:
    """Why `step` cannot be built for this model, or None."""
    if step == "steering" and not is_toy(cfg.lm.model):
        return ("the steering benchmark scores directions against the toy world's ground-truth concepts; "
                f"{cfg.lm.model} is not a toy model (steer it with `interp steer`)")
    if step == "universal" and not universal_models(cfg):
        return ("universal neurons compare seeds of one architecture: give them with --universal-models "
                "(two or more model folders)")
    return None


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
        shutil.rmtree(layout.saes)  # an incomplete earlier build without a checkpoint: start again
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
                       cache=str(layout.cache), max_iter=60, eval_tokens=4096, seed=cfg.seed, device="cpu"))


def build_features(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    import time

    from interp.activations import ActivationCache
    from interp.pages.command import write_feature_pages
    from interp.pages.features import PageSettings

    cache = ActivationCache.open(layout.cache)
    for name, folder in dictionary_folders(layout).items():
        t0 = time.perf_counter()
        pages = write_feature_pages(folder, cache, models(cfg.lm.model), layout.features / name, name,
                                    str(folder.relative_to(layout.root)),
                                    PageSettings(k=cfg.examples_per_bin, seed=cfg.seed))
        print(f"  feature pages {name}: {pages.d_sae} features in {time.perf_counter() - t0:.1f} s")


def _neuron_cfg(cfg: WorkspaceBuildConfig, model: str, out: Path):
    from interp.neurons.config import NeuronsConfig

    return NeuronsConfig.of(model=model, weight_processing=cfg.lm.weight_processing, corpus=cfg.data.corpus,
                            text_column=cfg.data.text_column, tokens=cfg.neuron_tokens, out=str(out), seed=cfg.seed,
                            auroc_tokens=min(8192, cfg.neuron_tokens), device="cpu", threads=cfg.run.threads)


def build_neurons(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from interp.neurons.artifacts import save_neuron_stats
    from interp.neurons.pages import build_neuron_pages, save_neuron_pages
    from interp.neurons.run import compute_neuron_stats

    for name in neuron_models(cfg):
        out = layout.neurons / Path(name).name
        save_neuron_stats(compute_neuron_stats(models(name), name, _neuron_cfg(cfg, name, out)), out)
        (arrays, meta), = build_neuron_pages([models(name)], [name], n_docs=64, seed=cfg.seed)
        save_neuron_pages(out, arrays, meta)


def build_universal(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from interp.neurons.config import UniversalConfig
    from interp.neurons.pages import build_neuron_pages, save_neuron_pages
    from interp.neurons.universal import main

    names = universal_models(cfg)
    main(UniversalConfig.of(models=names, weight_processing=cfg.lm.weight_processing, corpus=cfg.data.corpus,
                            text_column=cfg.data.text_column, tokens=cfg.universal_tokens, out=str(layout.universal),
                            seed=cfg.seed, auroc_tokens=min(8192, cfg.universal_tokens), device="cpu",
                            threads=cfg.run.threads))
    pages = build_neuron_pages([models(m) for m in names], names, n_docs=48, seed=cfg.seed)
    for name, (arrays, meta) in zip(names, pages):
        save_neuron_pages(layout.universal / Path(name).name, arrays, meta)


def build_steering(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from interp.steering.bench_command import main
    from interp.steering.config import SteerBenchConfig

    dicts = [str(p) for p in dictionary_folders(layout).values()]
    main(SteerBenchConfig.of(dictionaries=dicts, model=cfg.lm.model, concepts=list(cfg.steer_concepts), n_docs=24,
                             gen_tokens=8, out=str(layout.steering), overwrite=True))


def build_patching(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from circuits.cli import build_task
    from circuits.config import PatchCompareConfig
    from circuits.faithfulness import faithfulness
    from circuits.patching.results import save_results

    model = models(cfg.lm.model)
    task_cfg = PatchCompareConfig.of(model=cfg.lm.model, task=cfg.task, n_prompts=cfg.ioi_prompts, seed=cfg.seed)
    built = build_task(task_cfg, model)
    with torch.enable_grad():
        run = faithfulness(model, built.task, model_name=cfg.lm.model)
    save_results(run.activation, layout.patching / "activation", cfg.lm.model, run.task)
    for method, results in run.estimates.items():
        save_results(results, layout.patching / method, cfg.lm.model, run.task)
    tmp = layout.patching / "faithfulness.json.tmp"
    tmp.write_text(json.dumps(run.table(), indent=1))
    tmp.replace(layout.patching / "faithfulness.json")


BUILDERS: dict[str, Callable[[Layout, WorkspaceBuildConfig, Models], None]] = {
    "cache": build_cache, "saes": build_saes, "snmf": build_snmf, "features": build_features,
    "neurons": build_neurons, "universal": build_universal, "steering": build_steering, "patching": build_patching}
