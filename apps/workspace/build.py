"""`interp workspace build`: everything the explorer shows for one model and corpus (the toy world's by default), in
one folder.

Each step (apps.workspace.steps) calls the project's own commands and APIs; layout in apps.workspace.layout. A step
is skipped when its artifact exists, validates, still has the checksums it was built with, was built with the same
settings and from the same upstream artifacts (workspace.json records each step's settings, files, inputs, wall
time, and why a step was skipped: apps.workspace.records). Otherwise it is rebuilt from scratch, and so is every
requested step downstream of it; a downstream step this run does not build is marked stale. `--force STEP` rebuilds
STEP and the requested steps that read it. An interrupted step resumes through its command's own checkpoint. A build
removes only files a step made, checks that every step it builds has what it needs before touching anything, and
refuses a step folder no build of this workspace made unless --overwrite is given. Steps that cannot run for the
model (the steering benchmark needs the toy world, universal neurons need seeds) are recorded as skipped with the
reason.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from interp.json_files import read_json
from interp.runtime import auto_threads

from . import records as R
from .builders import Models
from .config import BUILD_COMMAND, WorkspaceBuildConfig
from .layout import Layout
from .steps import (
    STEP_NAMES,
    STEPS,
    StepSkipped,
    in_workspace_terms,
    settings,
    skip_reason,
    step_named,
    upstream,
    valid,
)

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
    """Run every requested step that is not up to date (see module doc), in dependency order. What the steps need
    and whose their folders are is checked before anything is written or removed; a build that fails before
    writing anything removes the folder it created."""
    # resolved once: the build's own steps raise the load average, so later steps would otherwise take 1 thread
    cfg = replace(cfg, run=replace(cfg.run, threads=cfg.run.threads or auto_threads()))
    torch.set_num_threads(cfg.run.threads)
    layout = Layout(Path(cfg.output.out))
    cfg = cfg.with_recorded(_recorded_config(layout))
    cfg = cfg.with_layer()
    recorded = _recorded(layout)
    _check_folders(cfg, layout, recorded)
    _check_needs(cfg, layout, recorded)
    created = not layout.root.exists()
    layout.root.mkdir(parents=True, exist_ok=True)
    try:
        return _build_steps(cfg, layout, recorded, log)
    except BaseException:
        if created and not any(layout.root.iterdir()):
            layout.root.rmdir()
        raise


def _requested(cfg: WorkspaceBuildConfig) -> list[str]:
    """The steps of --steps this model can run, in build order."""
    return [s.name for s in STEPS if s.name in cfg.steps and not skip_reason(s.name, cfg)]


def _forced(cfg: WorkspaceBuildConfig) -> set[str]:
    """The steps --force rebuilds: those it names and those that read them."""
    return {s for s in STEP_NAMES if s in cfg.force or set(upstream(s)) & set(cfg.force)}


def _check_folders(cfg: WorkspaceBuildConfig, layout: Layout, recorded: dict) -> None:
    """Refuse a step folder that holds files no build of this workspace made (no record of the step in
    workspace.json): the build would write into it or remove it. --overwrite lets the build replace it. A step
    whose command starts only in an empty folder and that this run rebuilds refuses the user's files beside its
    own now, before its own old files are removed."""
    for step in _requested(cfg):
        folder, rec = layout.folder(step), recorded.get(step)
        if R.files_in(folder) and not R.made_here(rec):
            cfg.output.claim(folder, why=f" and no build of this workspace made it ({layout.manifest.name} records "
                                         f"no {step} step)")
    crowded = [s for s in _requested(cfg) if step_named(s).empty and R.made_here(recorded.get(s))
               and R.foreign_files(layout.folder(s), recorded.get(s))]
    for step in set(crowded) & set(_to_build(cfg, layout, recorded)):
        R.require_only_own(layout.folder(step), recorded.get(step), step)


def _to_build(cfg: WorkspaceBuildConfig, layout: Layout, recorded: dict) -> list[str]:
    """The requested steps this run will build: forced, not reusable as they are, or reading one built now."""
    force, out = _forced(cfg), []
    for step in _requested(cfg):
        if (step in force or set(upstream(step)) & set(out)
                or _unusable(cfg, layout, recorded, step, settings(step, cfg))):
            out.append(step)
    return out


def _check_needs(cfg: WorkspaceBuildConfig, layout: Layout, recorded: dict) -> None:
    """Refuse, before anything is touched, a step that would read an upstream artifact this run does not build and
    the workspace does not hold complete, unchanged and current (one it needs, or one the workspace has)."""
    requested = _requested(cfg)
    for step in requested:
        for need in upstream(step):
            if need in requested or (need not in step_named(step).needs and not R.made_here(recorded.get(need))):
                continue
            problem = _unusable(cfg, layout, recorded, need)
            if problem:
                raise ValueError(f"workspace step {step} reads the {need} step's artifact, but {problem}; build it "
                                 f"first: {BUILD_COMMAND} --out {layout.root} --steps {need} {' '.join(requested)}")


def _inputs(recorded: dict, step: str) -> dict[str, str | None]:
    """What `step` would be built from now: the digest of every step upstream of it."""
    return {u: R.digest(recorded.get(u)) for u in upstream(step)}


def _unusable(cfg: WorkspaceBuildConfig, layout: Layout, recorded: dict, step: str, want: dict | None = None
              ) -> str | None:
    """Why the workspace's `step` artifact cannot be reused as it is (None: it can): missing, incomplete, damaged,
    built with other settings (`want`) or from upstream artifacts that were rebuilt since."""
    rec, folder = recorded.get(step), layout.folder(step)
    if rec and rec.get("status") == "stale":
        return f"{folder} is stale ({str(rec.get('reason', '')).split(';')[0]})"
    if not rec or rec.get("status") not in R.BUILT or not valid(step, layout, cfg):
        return f"{folder} holds no finished {step} step"
    if want is not None and rec.get("settings") != want:
        return f"{folder} was built with other settings"
    bad = R.damaged(folder, rec)
    if bad:
        return f"{folder} is damaged ({', '.join(bad[:3])})"
    changed = [u for u, d in _inputs(recorded, step).items() if rec.get("inputs", {}).get(u, d) != d]
    if changed:
        return f"{folder} was built from an earlier {', '.join(changed)}"
    return None


def _build_steps(cfg: WorkspaceBuildConfig, layout: Layout, recorded: dict, log) -> BuildResult:
    res, models, t_all = BuildResult(layout.root), Models(cfg.lm.weight_processing), time.perf_counter()
    steps = [s for s in STEPS if s.name in cfg.steps]
    force = _forced(cfg)
    for i, declared in enumerate(steps, 1):
        step = declared.name
        t0 = time.perf_counter()
        reason, want = skip_reason(step, cfg), settings(step, cfg)
        if reason:
            res.status[step], res.reasons[step] = "skipped", reason
            log(f"[{i}/{len(steps)}] {step}: skipped: {reason}")
        elif step not in force and not _unusable(cfg, layout, recorded, step, want):
            res.status[step] = "up to date"
            log(f"[{i}/{len(steps)}] {step}: up to date, skipped")
        else:
            _build_step(cfg, layout, recorded, models, step, want, step in force, res,
                        log=lambda m, tag=f"[{i}/{len(steps)}] {step}": log(f"{tag}: {m}"))
        res.seconds[step] = time.perf_counter() - t0
        recorded[step] = _step_record(layout, recorded.get(step) or {}, res, step, want, _inputs(recorded, step))
        _mark_stale(layout, recorded, cfg.steps)
        _write_manifest(layout, cfg, recorded, res)
        log(f"[{i}/{len(steps)}] {step}: {res.status[step]} in {res.seconds[step]:.1f} s")
    res.total_seconds = time.perf_counter() - t_all
    _write_manifest(layout, cfg, recorded, res)
    log(f"workspace {layout.root} ready in {res.total_seconds:.1f} s; open it with: interp explore --workspace "
        f"{layout.root}")
    return res


def _build_step(cfg: WorkspaceBuildConfig, layout: Layout, recorded: dict, models: Models, step: str, want: dict,
                forced: bool, res: BuildResult, log) -> None:
    """Build `step`: resume its own unfinished build of the same settings and inputs, else remove the files an
    earlier build of it made (never the user's) and start again. Its record says "building", with the files it
    found there, before the builder writes anything."""
    folder, rec, inputs = layout.folder(step), recorded.get(step) or {}, _inputs(recorded, step)
    resume = (not forced and rec.get("status") == "building" and rec.get("settings") == want
              and rec.get("inputs") == inputs)
    if not resume:
        R.remove_own(folder, rec if R.made_here(rec) else {"kept": []})  # another's folder only with --overwrite
        rec = {"status": "building", "settings": want, "inputs": inputs, "kept": R.files_in(folder)}
        recorded[step] = rec
        _write_manifest(layout, cfg, recorded, res)
    log("building ...")
    try:
        step_named(step).build(layout, cfg, models)
    except StepSkipped as e:  # the builder found, with the model at hand, that the step cannot run
        res.status[step], res.reasons[step] = "skipped", str(e)
        log(f"skipped: {e}")
        return
    except (ValueError, FileExistsError) as e:  # the command's refusal, naming the option the user gave
        if (named := in_workspace_terms(step, str(e))) == str(e):
            raise
        raise (type(e)(named) if type(e) in (ValueError, FileExistsError) else ValueError(named)) from None
    if not valid(step, layout, cfg):
        raise ValueError(f"workspace step {step} finished but its artifact in {layout.root} does not validate")
    res.status[step] = "built"


def _step_record(layout: Layout, old: dict, res: BuildResult, step: str, want: dict, inputs: dict) -> dict:
    status = res.status[step]
    if status == "up to date":
        return {**old, "status": status} if "files" in old else R.finished(layout.folder(step), {**old, "status": status})
    rec = {"status": status, "settings": want, "seconds": round(res.seconds[step], 2),
           "built_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    if status == "skipped":
        return {**rec, "reason": res.reasons[step]}
    return R.finished(layout.folder(step), {**rec, "inputs": inputs, "kept": old.get("kept", [])})


def _mark_stale(layout: Layout, recorded: dict, requested: list[str]) -> None:
    """Mark every finished step that this run does not build and whose upstream artifacts changed as stale (the
    explorer's overview shows it, and no step reuses it), with the command that rebuilds it."""
    for step, rec in recorded.items():
        if step in requested or rec.get("status") not in R.BUILT or "inputs" not in rec:
            continue
        changed = [u for u, d in _inputs(recorded, step).items() if rec["inputs"].get(u) != d]
        if changed:
            rec["status"] = "stale"
            rec["reason"] = (f"built from an earlier {', '.join(changed)}; rebuild it with {BUILD_COMMAND} --out "
                             f"{layout.root} --steps {step}")


def _write_manifest(layout: Layout, cfg: WorkspaceBuildConfig, steps: dict, res: BuildResult) -> None:
    from interp.atomic import atomic_write_text

    data = {"schema_version": SCHEMA_VERSION, "kind": "interp-workspace", "config": cfg.flat(), "steps": steps,
            "last_run": {"status": res.status, "seconds": res.seconds, "total_seconds": res.total_seconds}}
    atomic_write_text(layout.manifest, json.dumps(data, indent=1, default=str))


def main(cfg: WorkspaceBuildConfig) -> BuildResult:
    """CLI entry (`interp workspace build`)."""
    return build(cfg)
