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
from dataclasses import dataclass, field
from pathlib import Path

import torch

from interp.json_files import read_json

from .builders import Models
from .config import WorkspaceBuildConfig
from .layout import Layout
from .steps import STEPS, StepSkipped, settings, skip_reason, valid

SCHEMA_VERSION = 2


@dataclass
class BuildResult:
    """What `build` did: per step "built", "up to date" or "skipped" (with the reason), seconds, and the total."""

    root: Path
    status: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    total_seconds: float = 0.0


def _recorded_config(layout: Layout) -> dict:
    """The options the workspace at `layout` was last built with ({} for a new folder)."""
    return read_json(layout.manifest).get("config", {}) if layout.manifest.is_file() else {}


def _recorded(layout: Layout) -> dict:
    return read_json(layout.manifest).get("steps", {}) if layout.manifest.is_file() else {}


def build(cfg: WorkspaceBuildConfig, log=print) -> BuildResult:
    """Run every requested step that is not up to date (see module doc), in dependency order. A build that fails
    before writing anything removes the folder it created."""
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    layout = Layout(Path(cfg.output.out))
    cfg = cfg.with_recorded(_recorded_config(layout))
    cfg = cfg.with_layer()
    created = not layout.root.exists()
    layout.root.mkdir(parents=True, exist_ok=True)
    try:
        return _build_steps(cfg, layout, log)
    except BaseException:
        if created and not any(layout.root.iterdir()):
            layout.root.rmdir()
        raise


def _build_steps(cfg: WorkspaceBuildConfig, layout: Layout, log) -> BuildResult:
    res, models, t_all = BuildResult(layout.root), Models(cfg.lm.weight_processing), time.perf_counter()
    recorded = _recorded(layout)
    steps = [s for s in STEPS if s.name in cfg.steps]
    for i, declared in enumerate(steps, 1):
        step = declared.name
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
                shutil.rmtree(layout.folder(step), ignore_errors=True)  # other settings: not resumable, start again
            log(f"[{i}/{len(steps)}] {step}: building ...")
            try:
                declared.build(layout, cfg, models)
            except StepSkipped as e:  # the builder found, with the model at hand, that the step cannot run
                res.status[step], res.reasons[step] = "skipped", str(e)
                log(f"[{i}/{len(steps)}] {step}: skipped: {e}")
            else:
                if not valid(step, layout, cfg):
                    raise ValueError(f"workspace step {step} finished but its artifact in {layout.root} does not "
                                     f"validate")
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
