"""`interp workspace build`: everything the explorer shows for one model and corpus (the toy world's by default), in
one folder.

Each step (apps.workspace.steps) calls the project's own commands and APIs; layout in apps.workspace.layout. A step
is skipped when its artifact exists, validates and was built with the same settings (workspace.json records each
step's settings, its wall time, and why a step was skipped); a step whose settings changed is rebuilt from scratch,
and so is every step downstream of it (their settings include their inputs'). An interrupted step resumes through
its command's own checkpoint. Steps that cannot run for the model (the steering benchmark needs the toy world,
universal neurons need seeds) are recorded as skipped with the reason.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .config import STEPS, WorkspaceBuildConfig
from .layout import Layout, dictionary_folders, sae_folders
from .steps import BUILDERS, Models, neuron_models, settings, skip_reason, universal_models

SCHEMA_VERSION = 2


@dataclass
class BuildResult:
    """What `build` did: per step "built", "up to date" or "skipped" (with the reason), seconds, and the total."""

    root: Path
    status: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    total_seconds: float = 0.0


# --- validation: True when the step's artifact is complete and readable --------------------------------------------

def _ok(check: Callable[[], object]) -> bool:
    try:
        return check() is not False
    except Exception:  # any unreadable / incomplete artifact means "build it"
        return False


def valid(step: str, layout: Layout, cfg: WorkspaceBuildConfig) -> bool:
    from interp.neurons.pages import load_neuron_pages
    from interp.pages.features import load_feature_pages

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

        return all(_ok(lambda m=Path(m).name: (load_neuron_stats(layout.neurons / m),
                                               load_neuron_pages(layout.neurons / m))) for m in neuron_models(cfg))
    if step == "universal":
        from interp.neurons.universal import load_universal

        return _ok(lambda: load_universal(layout.universal)) and all(
            _ok(lambda m=m: load_neuron_pages(layout.universal / Path(m).name)) for m in universal_models(cfg))
    if step == "steering":
        return _ok(lambda: json.loads((layout.steering / "bench.json").read_text())["kind"] == "steering-benchmark")
    if step == "patching":
        from circuits.patching.results import load_results

        return _ok(lambda: [load_results(layout.patching / m) for m in ("activation", "attribution", "relp")]) and \
            (layout.patching / "faithfulness.json").is_file()
    raise ValueError(step)


def _recorded(layout: Layout) -> dict:
    return json.loads(layout.manifest.read_text()).get("steps", {}) if layout.manifest.is_file() else {}


def build(cfg: WorkspaceBuildConfig, log=print) -> BuildResult:
    """Run every requested step that is not up to date (see module doc), in dependency order."""
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    layout = Layout(Path(cfg.output.out))
    layout.root.mkdir(parents=True, exist_ok=True)
    res, models, t_all = BuildResult(layout.root), Models(cfg.lm.weight_processing), time.perf_counter()
    recorded = _recorded(layout)
    steps = [s for s in STEPS if s in cfg.steps]
    for i, step in enumerate(steps, 1):
        t0 = time.perf_counter()
        reason, want = skip_reason(step, cfg), settings(step, cfg)
        before = recorded.get(step, {}).get("settings")
        if reason:
            res.status[step], res.reasons[step] = "skipped", reason
            log(f"[{i}/{len(steps)}] {step}: skipped: {reason}")
        elif step not in cfg.force and before == want and valid(step, layout, cfg):
            res.status[step] = "up to date"
            log(f"[{i}/{len(steps)}] {step}: up to date, skipped")
        else:
            if step in cfg.force or (before is not None and before != want):
                shutil.rmtree(getattr(layout, step), ignore_errors=True)  # other settings: not resumable, start again
            log(f"[{i}/{len(steps)}] {step}: building ...")
            BUILDERS[step](layout, cfg, models)
            if not valid(step, layout, cfg):
                raise ValueError(f"workspace step {step} finished but its artifact in {layout.root} does not validate")
            res.status[step] = "built"
        res.seconds[step] = time.perf_counter() - t0
        recorded[step] = _step_record(recorded.get(step, {}), res, step, want)
        _write_manifest(layout, cfg, recorded, res)
        log(f"[{i}/{len(steps)}] {step}: {res.status[step]} in {res.seconds[step]:.1f} s")
    res.total_seconds = time.perf_counter() - t_all
    _write_manifest(layout, cfg, recorded, res)
    log(f"workspace {layout.root} ready in {res.total_seconds:.1f} s; open it with: interp explore --workspace "
        f"{layout.root}")
    return res


def _step_record(old: dict, res: BuildResult, step: str, want: dict) -> dict:
    status = res.status[step]
    if status == "up to date":
        return {**old, "status": status}
    rec = {"status": status, "settings": want, "seconds": round(res.seconds[step], 2),
           "built_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    return {**rec, "reason": res.reasons[step]} if status == "skipped" else rec


def _write_manifest(layout: Layout, cfg: WorkspaceBuildConfig, steps: dict, res: BuildResult) -> None:
    from interp.atomic import atomic_write_text

    data = {"schema_version": SCHEMA_VERSION, "kind": "interp-workspace", "config": cfg.flat(), "steps": steps,
            "last_run": {"status": res.status, "seconds": res.seconds, "total_seconds": res.total_seconds}}
    atomic_write_text(layout.manifest, json.dumps(data, indent=1, default=str))


def main(cfg: WorkspaceBuildConfig) -> BuildResult:
    """CLI entry (`interp workspace build`)."""
    return build(cfg)
