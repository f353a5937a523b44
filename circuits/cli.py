"""The `interp patch` and `interp patch-compare` commands: build the task, run the methods, write artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from interp.models import load_model

from .config import PatchCompareConfig, PatchConfig, TaskOptions
from .faithfulness import faithfulness
from .patching.activation import generic_activation_patch
from .patching.attribution import attribution_patch
from .patching.components import COMPONENTS
from .patching.relevance import Rules, relevance_patch
from .patching.results import save_results
from .tasks import TASKS, ioi_task


def build_task(cfg: TaskOptions, model):
    """The task named in `cfg` for `model`."""
    if cfg.task == "ioi":
        return ioi_task(model, n=cfg.n_prompts, corruption=cfg.corruption, seed=cfg.seed)
    return TASKS[cfg.task](model, n=cfg.n_prompts, seed=cfg.seed)


def run_method(method: str, model, task, components: list[str]) -> dict:
    """component -> PatchResult for one method."""
    if method == "activation":
        return {c: generic_activation_patch(model, task, COMPONENTS[c]) for c in components}
    if method == "attribution":
        return attribution_patch(model, task, components)
    return relevance_patch(model, task, components, Rules(ah=method == "relp_ah"))


def patch_main(cfg: PatchConfig) -> Path:
    model = load_model(cfg.model)
    task = build_task(cfg, model)
    results = run_method(cfg.method, model, task, cfg.components)
    folder = save_results(results, cfg.out, cfg.model, task.name)
    for name, r in results.items():
        best = r.top(1)[0]
        print(f"{name:18s} {tuple(r.scores.shape)}  top: {best}")
    print(f"wrote {folder}/scores.safetensors and summary.json "
          f"(clean {r.baselines.clean:.3f}, corrupted {r.baselines.corrupted:.3f})")
    return folder


def compare_main(cfg: PatchCompareConfig) -> list[dict]:
    torch.set_grad_enabled(True)
    model = load_model(cfg.model)
    run = faithfulness(model, build_task(cfg, model), model_name=cfg.model)
    print(f"{cfg.model} on {run.task}: Pearson r and magnitude (sum est / sum patched) vs activation patching")
    print(run.markdown())
    if cfg.out:
        Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.out).write_text(json.dumps(run.table(), indent=1))
    return run.table()
