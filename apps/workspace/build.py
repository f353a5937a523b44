"""`interp workspace build`: everything the explorer shows, for the shipped toy models, in one folder.

Each step calls the project's own API (activation cache, SAE training, SNMF, neuron statistics, universal neurons,
steering benchmark, IOI patching) and then the precomputed feature / neuron pages; layout in
apps.workspace_config. Steps are resumable: a step whose artifact exists and validates is skipped (a second run takes
seconds), an interrupted step resumes through its command's own checkpoint where it has one, and anything else that
does not validate is rebuilt. workspace.json records each step's settings and wall time.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .config import STEPS, WorkspaceBuildConfig
from .layout import Layout, dictionary_folders, sae_folders



@dataclass
class BuildResult:
    """What `build` did: per step "built" or "skipped" and seconds, and the total."""

    root: Path
    status: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0


class Models:
    """Shipped models loaded once per build."""

    def __init__(self):
        self._m: dict[str, object] = {}

    def __call__(self, name: str):
        if name not in self._m:
            from interp.models import load_model

            self._m[name] = load_model(name, "cpu")
        return self._m[name]


# --- validation: True when the step's artifact is complete and readable --------------------------------------------

def _ok(check: Callable[[], object]) -> bool:
    try:
        return check() is not False
    except Exception:  # any unreadable / incomplete artifact means "build it"
        return False


def valid(step: str, layout: Layout, cfg: WorkspaceBuildConfig) -> bool:
    from interp.neurons.pages import load_neuron_pages
    from saes.feature_pages import load_feature_pages

    if step == "cache":
        from interp.activations import ActivationCache

        return _ok(lambda: ActivationCache.open(layout.cache).n_tokens >= cfg.cache_tokens)
    if step == "saes":
        found = sae_folders(layout)
        return all(a in found and (found[a] / "eval.json").is_file() for a in cfg.archs)
    if step == "snmf":
        return (layout.snmf / "snmf.json").is_file() and (layout.snmf / "snmf.safetensors").is_file()
    if step == "features":
        names = dictionary_folders(layout)
        return bool(names) and all(_ok(lambda n=n: load_feature_pages(layout.features / n)) for n in names)
    if step == "neurons":
        from interp.neurons.artifacts import load_neuron_stats

        return all(_ok(lambda m=m: (load_neuron_stats(layout.neurons / m), load_neuron_pages(layout.neurons / m)))
                   for m in (cfg.model, "toy-relu-s0"))
    if step == "universal":
        from interp.neurons.universal import load_universal

        return _ok(lambda: load_universal(layout.universal)) and all(
            _ok(lambda m=m: load_neuron_pages(layout.universal / m)) for m in cfg.universal_models)
    if step == "steering":
        return _ok(lambda: json.loads((layout.steering / "bench.json").read_text())["kind"] == "steering-benchmark")
    if step == "patching":
        from circuits.patching.results import load_results

        return _ok(lambda: [load_results(layout.patching / m) for m in ("activation", "attribution", "relp")]) and \
            (layout.patching / "faithfulness.json").is_file()
    raise ValueError(step)


# --- steps -----------------------------------------------------------------------------------------------------------

def build_cache(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from interp.activations import CacheConfig, cache_activations

    cache_activations(CacheConfig.of(model=cfg.model, hooks=[cfg.hook], tokens=cfg.cache_tokens, out=str(layout.cache),
                                  seed=cfg.seed, shard_tokens=8192, device="cpu"), model=models(cfg.model))


def build_saes(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from saes.training import checkpoint as ck
    from saes.training.config import TrainSAEConfig
    from saes.training.run import train_saes

    if layout.saes.exists() and not ck.Checkpointer(layout.saes, {}).exists():
        shutil.rmtree(layout.saes)  # an incomplete earlier build without a checkpoint: start again
    # JumpReLU: the workspace trains 128 steps, in which thresholds started at the usual 0.001 (ε 0.001) never climb
    # to where the L0 penalty bites: L0 327 at λ 0.1 and 345 at λ 1 (of 1024 latents). Started at 0.5 with ε 0.1 and
    # λ 1 the SAE ends at L0 44, R² 0.955, CE loss recovered 0.989 (measured on this workspace's cache).
    tcfg = TrainSAEConfig.of(model=cfg.model, hook=cfg.hook, arch=list(cfg.archs), d_sae=[cfg.d_sae], k=[cfg.k],
                          l1_coefficient=[2.0], l0_coefficient=[1.0], init_threshold=0.5, bandwidth=0.1,
                          seed=[cfg.seed], tokens=cfg.sae_tokens,
                          out=str(layout.saes), batch_size=cfg.sae_batch_size, lr=2e-3, cache=str(layout.cache),
                          data_seed=cfg.seed, checkpoint_every=50, log_every=10, dead_window=cfg.sae_tokens // 2,
                          device="cpu", eval_tokens=4096)
    train_saes(tcfg, model=models(cfg.model))


def build_snmf(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from saes.snmf.config import SNMFConfig
    from saes.snmf.run import main

    main(SNMFConfig.of(model=cfg.model, layer=cfg.layer, k=cfg.snmf_k, tokens=cfg.snmf_tokens, out=str(layout.snmf),
                    cache=str(layout.cache), max_iter=60, eval_tokens=4096, seed=cfg.seed, device="cpu"))


def build_features(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from interp.activations import ActivationCache

    from interp.dictionary import load
    from saes.feature_pages import compute_feature_pages, load_feature_pages, save_feature_pages

    cache = ActivationCache.open(layout.cache)
    for name, folder in dictionary_folders(layout).items():
        if name not in cfg.force and _ok(lambda n=name: load_feature_pages(layout.features / n)):
            continue
        t0 = time.perf_counter()
        pages = compute_feature_pages(load(folder), cache, models(cfg.model), name,
                                      "snmf" if name == "snmf" else "sae", str(folder), k=cfg.examples_per_bin,
                                      seed=cfg.seed)
        save_feature_pages(pages, layout.features / name)
        print(f"  feature pages {name}: {pages.d_sae} features in {time.perf_counter() - t0:.1f} s")


def _neuron_cfg(cfg: WorkspaceBuildConfig, model: str, out: Path):
    from interp.neurons.config import NeuronsConfig

    return NeuronsConfig.of(model=model, tokens=cfg.neuron_tokens, out=str(out), seed=cfg.seed,
                            auroc_tokens=min(8192, cfg.neuron_tokens), device="cpu", threads=cfg.threads)


def build_neurons(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from interp.neurons.artifacts import save_neuron_stats
    from interp.neurons.pages import build_neuron_pages, save_neuron_pages
    from interp.neurons.run import compute_neuron_stats

    for name in (cfg.model, "toy-relu-s0"):
        out = layout.neurons / name
        save_neuron_stats(compute_neuron_stats(models(name), name, _neuron_cfg(cfg, name, out)), out)
        (arrays, meta), = build_neuron_pages([models(name)], [name], n_docs=64, seed=cfg.seed)
        save_neuron_pages(out, arrays, meta)


def build_universal(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from interp.neurons.config import UniversalConfig
    from interp.neurons.pages import build_neuron_pages, save_neuron_pages
    from interp.neurons.universal import main

    main(UniversalConfig.of(models=list(cfg.universal_models), tokens=cfg.universal_tokens,
                            out=str(layout.universal), seed=cfg.seed, auroc_tokens=min(8192, cfg.universal_tokens),
                            device="cpu", threads=cfg.threads))
    pages = build_neuron_pages([models(m) for m in cfg.universal_models], list(cfg.universal_models), n_docs=48,
                               seed=cfg.seed)
    for name, (arrays, meta) in zip(cfg.universal_models, pages):
        save_neuron_pages(layout.universal / Path(name).name, arrays, meta)


def build_steering(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from interp.steering.bench_command import main
    from interp.steering.config import SteerBenchConfig

    dicts = [str(p) for p in dictionary_folders(layout).values()]
    main(SteerBenchConfig.of(dictionaries=dicts, model=cfg.model, concepts=list(cfg.steer_concepts), n_docs=24,
                          gen_tokens=8, out=str(layout.steering), overwrite=True))


def build_patching(layout: Layout, cfg: WorkspaceBuildConfig, models: Models) -> None:
    from circuits.faithfulness import faithfulness
    from circuits.patching.results import save_results
    from circuits.tasks import ioi_task

    model = models(cfg.model)
    with torch.enable_grad():
        run = faithfulness(model, ioi_task(model, n=cfg.ioi_prompts, seed=cfg.seed), model_name=cfg.model)
    save_results(run.activation, layout.patching / "activation", cfg.model, run.task)
    for method, results in run.estimates.items():
        save_results(results, layout.patching / method, cfg.model, run.task)
    tmp = layout.patching / "faithfulness.json.tmp"
    tmp.write_text(json.dumps(run.table(), indent=1))
    tmp.replace(layout.patching / "faithfulness.json")


BUILDERS = {"cache": build_cache, "saes": build_saes, "snmf": build_snmf, "features": build_features,
            "neurons": build_neurons, "universal": build_universal, "steering": build_steering,
            "patching": build_patching}


def build(cfg: WorkspaceBuildConfig, log=print) -> BuildResult:
    """Run every requested step that is not already valid (see module doc), in dependency order."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    layout = Layout(Path(cfg.out))
    layout.root.mkdir(parents=True, exist_ok=True)
    res, models, t_all = BuildResult(layout.root), Models(), time.perf_counter()
    steps = [s for s in STEPS if s in cfg.steps]
    for i, step in enumerate(steps, 1):
        t0 = time.perf_counter()
        if step not in cfg.force and valid(step, layout, cfg):
            res.status[step] = "skipped"
            log(f"[{i}/{len(steps)}] {step}: up to date, skipped")
        else:
            log(f"[{i}/{len(steps)}] {step}: building ...")
            BUILDERS[step](layout, cfg, models)
            if not valid(step, layout, cfg):
                raise ValueError(f"workspace step {step} finished but its artifact in {layout.root} does not validate")
            res.status[step] = "built"
        res.seconds[step] = time.perf_counter() - t0
        log(f"[{i}/{len(steps)}] {step}: {res.status[step]} in {res.seconds[step]:.1f} s")
    res.total_seconds = time.perf_counter() - t_all
    _write_manifest(layout, cfg, res)
    log(f"workspace {layout.root} ready in {res.total_seconds:.1f} s; open it with: interp explore --workspace "
        f"{layout.root}")
    return res


def _write_manifest(layout: Layout, cfg: WorkspaceBuildConfig, res: BuildResult) -> None:
    old = json.loads(layout.manifest.read_text()) if layout.manifest.is_file() else {}
    steps = old.get("steps", {})
    for s, st in res.status.items():
        if st == "built" or s not in steps:
            steps[s] = {"seconds": round(res.seconds[s], 2), "built_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    data = {"schema_version": 1, "kind": "interp-workspace", "config": asdict(cfg), "steps": steps,
            "last_run": {"status": res.status, "seconds": res.seconds, "total_seconds": res.total_seconds}}
    tmp = layout.manifest.with_name(layout.manifest.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(layout.manifest)


def main(cfg: WorkspaceBuildConfig) -> BuildResult:
    """CLI entry (`interp workspace build`)."""
    return build(cfg)
