"""The `interp patch` and `interp patch-compare` commands: build the task, run the methods, write artifacts.

Everything that can fail on the input (the task file, the model's vocabulary, the memory budget) is checked before
the output folder is created, so a refused run writes nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import torch

from interp.atomic import atomic_write_text
from interp.models import load_model
from interp.runtime import start_run

from .config import PatchCompareConfig, PatchConfig, TaskOptions
from .faithfulness import faithfulness
from .patching.memory import GB, budget_bytes, describe
from .patching.results import GroupResults, save_results
from .patching.run import PatchRun, patch_task
from .tasks import TASKS, Task, TaskGroups, as_groups, classic_ioi_task, file_task, read_task_file, world_tasks
from .tasks.files import TaskFile

PROMPTS_NOTE = 1000
"""Above this many prompts, building the task says so first (drawing 100,000 takes minutes)."""

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer


class BuiltTask(NamedTuple):
    """The task and what summary.json records about it."""

    task: Task | TaskGroups
    info: dict
    """Built-in: name and settings; file: path, xxh3-128 fingerprint and row count."""

    @property
    def summary(self) -> str:
        i = self.info
        return (f"{i['file']} ({i['rows']} pairs)" if "file" in i else
                f"{i['name']} ({i['prompts']}, {i['n_prompts']} prompts, seed {i['seed']})")


def build_task(cfg: TaskOptions, model: HookedTransformer, source: TaskFile | None = None) -> BuiltTask:
    """The task `cfg` names, for `model`: on a toy-world model its own world's tasks (toy1: the fixed templates and
    words; toy2: IOI from toy2's grammar, held-out form, and gender / colour in toy2's sentences), classic IOI on any
    other model (gender and colour refused), or a file (`source`: the file already read)."""
    if cfg.task not in TASKS:
        task, tf = file_task(model, source or cfg.task)
        return BuiltTask(task, {"file": str(tf.path.resolve()), "xxh3_128": tf.fingerprint, "rows": len(tf.pairs)})
    info = {"name": cfg.task, "n_prompts": cfg.n_prompts, "seed": cfg.seed}
    if cfg.task == "ioi":
        info["corruption"] = cfg.corruption
    if cfg.n_prompts > PROMPTS_NOTE:  # drawing many prompts takes a while: say what is happening
        print(f"building {cfg.n_prompts:,} prompt pairs of --task {cfg.task} ...", file=sys.stderr, flush=True)
    tasks = world_tasks(model)
    if tasks is not None:
        builders, task_info = tasks
        task = (builders["ioi"](model, n=cfg.n_prompts, corruption=cfg.corruption, seed=cfg.seed)
                if cfg.task == "ioi" else builders[cfg.task](model, n=cfg.n_prompts, seed=cfg.seed))
        return BuiltTask(task, {**info, **task_info(cfg.task)})
    if cfg.task != "ioi":
        raise ValueError(f"--task {cfg.task} needs a model of the toy world (toy1's or toy2's vocabulary) and "
                         f"{cfg.lm.model} is not one: use --task ioi, or --task FILE (.jsonl / .csv) with your own "
                         f"prompts")
    task = classic_ioi_task(model, n=cfg.n_prompts, corruption=cfg.corruption, seed=cfg.seed)
    return BuiltTask(task, {**info, "prompts": "Wang et al. 2022 templates, the model's single-token names"})


def _model_and_task(cfg: TaskOptions):
    """The model, its device and the task; a task file is read (and its format checked) before the model loads."""
    source = read_task_file(cfg.task) if cfg.task not in TASKS else None
    device = start_run(cfg.run.device, cfg.run.threads).device
    model = load_model(cfg.lm.model, device, cfg.lm.weight_processing)
    return model, device, build_task(cfg, model, source)


def _provenance(cfg: TaskOptions, built: BuiltTask, budget: int, run: PatchRun) -> dict:
    """What summary.json records: model (name, weight processing, fingerprint), task, and the memory budget,
    estimate and chunks."""
    from interp.models import model_fingerprint

    model = {"name": cfg.lm.model, "weight_processing": cfg.lm.weight_processing,
             "fingerprint": model_fingerprint(cfg.lm.model)}  # interp.provenance's model record, nested
    return {"model": model, "task": built.info,
            "memory": {"max_memory_gb": budget / GB, "estimated_peak_gb": max(g.plan.peak for g in run.groups) / GB,
                       "chunks": run.chunks},
            "batching": {"option": cfg.run.batching, "length_groups": len(as_groups(built.task)),
                         "padded": len(as_groups(built.task)) > 1 and len(run.groups) == 1}}


def patch_main(cfg: PatchConfig) -> Path:
    cfg.output.claim(*(Path(cfg.output.out) / f for f in ("scores.safetensors", "summary.json")))
    model, device, built = _model_and_task(cfg)
    budget = budget_bytes(cfg.run.max_memory, device)
    run = patch_task(model, built.task, cfg.method, cfg.components, max_memory=budget, batching=cfg.run.batching,
                     progress=True)
    groups = ([GroupResults(g.name, g.n_prompts, g.n_pos, g.plan.n_chunks, g.results) for g in run.groups]
              if len(run.groups) > 1 else [])
    folder = save_results(run.results, cfg.output.out, cfg.lm.model, built.task.name,
                          provenance=_provenance(cfg, built, budget, run), groups=groups)
    for name, r in run.results.items():
        print(f"{name:18s} {tuple(r.scores.shape)}  top: {r.top(1)[0]}")
    n_lengths = len(as_groups(built.task))
    if n_lengths > 1 and len(run.groups) == 1:
        print(f"{n_lengths} prompt lengths left-padded into one batch (--batching {cfg.run.batching}); "
              f"--batching groups keeps each length group's own result")
    if run.chunks > len(run.groups) or len(run.groups) > 1:
        peak = max(g.plan.peak for g in run.groups)
        print(f"{len(run.groups)} group(s) of one prompt length, {run.chunks} chunk(s) under --max-memory "
              f"{describe(budget)} "
              f"(estimated peak {describe(peak)})")
    base = next(iter(run.results.values())).baselines
    print(f"wrote {folder}/scores.safetensors and summary.json: {cfg.method} patching of {cfg.lm.model} "
          f"({cfg.lm.weight_processing} weight processing) on {built.summary} "
          f"(clean {base.clean:.3f}, corrupted {base.corrupted:.3f})")
    return folder


def compare_main(cfg: PatchCompareConfig) -> list[dict]:
    cfg.output.claim(cfg.output.out or None)
    torch.set_grad_enabled(True)
    model, device, built = _model_and_task(cfg)
    run = faithfulness(model, built.task, model_name=cfg.lm.model,
                       max_memory=budget_bytes(cfg.run.max_memory, device), batching=cfg.run.batching)
    print(f"{cfg.lm.model} on {built.summary}: Pearson r and magnitude (sum est / sum patched) vs activation "
          f"patching")
    print(run.markdown())
    if cfg.output.out:
        Path(cfg.output.out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(cfg.output.out, json.dumps(run.table(), indent=1))
    return run.table()
