"""`interp dictionaries ship`: write trained SAEs into the shipped folder (data/dictionaries/<model>/<hook>/<name>/).

Each SAE of a trained folder (or of every sub-folder of a sweep) is checked by loading it (saes.io) and copied with
its weights cast to float16 (half the bytes; cfg.json keeps float32, to which SAELens's loader and ours cast back),
beside the eval.json its card's numbers come from, card.json (saes.shipping.card) and README.md. The numbers
are the trained folder's eval.json where it has them all; a dictionary that lacks one (or every dictionary, with
--evaluate always) is evaluated on held-out tokens of its recorded corpus (or --corpus), on the float16 weights
shipped, the dictionaries of one model and hook together (saes.eval.report.evaluate_many).

Before anything is written: the model each SAE records must be one others can load (a shipped toy model or a
fetchable one) with the weights it was trained on (interp.provenance.check_model), a folder already there must be
one this command shipped (its card) and is replaced only with --overwrite, and the whole shipped folder must stay
within saes.shipped.BUDGET_BYTES. Everything is staged in a hidden folder beside the targets and moved into place
with os.replace, so a shipped folder is never half written (a shipping stopped midway is cleaned up by the next:
`clean_leftovers`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import NamedTuple

from interp.atomic import atomic_write_text
from interp.json_files import read_json
from interp.provenance import ModelRecord, check_model
from saes import shipped as S
from saes.shipping.card import build_card, missing_numbers, readme
from saes.shipping.config import ShipConfig

OWN_FILES = ("cfg.json", "sae_weights.safetensors", "eval.json", S.CARD, S.README)
"""What a shipped folder holds: only these are replaced (with --overwrite)."""
EVALUATED = "evaluated at shipping on the float16 weights"
FROM_TRAINING = "the trained folder's eval.json"


class Plan(NamedTuple):
    """One SAE to ship: where it comes from and goes, its cfg.json and the eval.json its numbers come from."""

    source: Path
    target: Path
    raw: dict
    report: dict | None


def trained_saes(folder: Path, only: tuple[str, ...] = ()) -> list[Path]:
    """The SAE folders of `folder`: itself (cfg.json in it) or its sub-folders holding one (a sweep); `only` keeps
    those named."""
    from saes.io import is_saelens_folder

    if not folder.is_dir():
        raise FileNotFoundError(f"--sae {folder} is not a folder: give a trained SAE folder or a sweep folder")
    found = [folder] if is_saelens_folder(folder) else [p for p in sorted(folder.iterdir()) if is_saelens_folder(p)]
    if not found:
        raise FileNotFoundError(f"{folder} holds no SAE (cfg.json + sae_weights.safetensors, in it or in a "
                                f"sub-folder): give the --out folder of `interp train-sae`")
    unknown = sorted(set(only) - {p.name for p in found})
    if unknown:
        raise ValueError(f"--only {' '.join(unknown)}: no such SAE in {folder} (it holds "
                         f"{', '.join(p.name for p in found)})")
    return [p for p in found if not only or p.name in only]


def plan(source: Path, base: Path, overwrite: bool) -> Plan:
    """Check one SAE (its model, its weights' fingerprint, the folder it goes to) before anything is written."""
    raw = read_json(source / "cfg.json")
    meta = raw.get("metadata") or {}
    model, hook = meta.get("model_name") or "", meta.get("hook_name") or ""
    if not S.model_known(model):
        raise ValueError(f"{source} records the model {model or '(none)'}, which others cannot load: ship only "
                         f"dictionaries of a shipped toy model or a fetchable one (`interp models fetch`)")
    if not meta.get("model_fingerprint") or not (meta.get("interp") or {}).get("arch"):
        raise ValueError(f"{source}/cfg.json does not record the weights' fingerprint and architecture interp records: "
                         f"ship a dictionary trained by `interp train-sae`")
    check_model(model, "default", ModelRecord.read({**meta, "model": model}, f"the SAE {source}"))
    target = base / model / hook / source.name
    _check_replaceable(target, overwrite)
    report = read_json(source / "eval.json") if (source / "eval.json").is_file() else None
    return Plan(source, target, raw, report)


def _check_replaceable(target: Path, overwrite: bool) -> None:
    """A target folder may be replaced only when this command shipped it (a card, nothing else) and --overwrite."""
    if not target.exists():
        return
    foreign = [p.name for p in target.iterdir() if p.name not in OWN_FILES] if target.is_dir() else [target.name]
    if foreign or not (target / S.CARD).is_file():
        raise FileExistsError(f"{target} holds files `interp dictionaries ship` did not write "
                              f"({', '.join(foreign) or 'no card.json'}); nothing was changed: move them away")
    if not overwrite:
        raise FileExistsError(f"{target} is already shipped; nothing was overwritten. Pass --overwrite to replace it, "
                              f"or ship under another name")


def stage(plans: list[Plan], staging: Path) -> list[Path]:
    """Each plan's folder under `staging`: its cfg.json as trained (the SAELens architecture, our recorded kind and
    training settings, dtype float32) and its weights cast to float16 tensor by tensor, nothing else changed (a
    round trip through our classes would turn a kind saved in another kind's form into that kind). The trained
    folder is loaded once first, so only a folder interp reads is shipped."""
    import torch

    from interp.atomic import atomic_write
    from interp.safetensors_io import read_tensors, write_tensors
    from saes import io

    folders = []
    for i, p in enumerate(plans):
        io.load(p.source)  # shapes and architecture checked (saes.io), as every command reads it
        folder = staging / str(i)
        folder.mkdir(parents=True)
        state = read_tensors(p.source / io.WEIGHTS_FILENAME, "SAE weights")
        half = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in state.items()}
        atomic_write(folder / io.WEIGHTS_FILENAME, lambda path, t=half: write_tensors(path, t))
        atomic_write_text(folder / io.CFG_FILENAME, (p.source / io.CFG_FILENAME).read_text())
        folders.append(folder)
    return folders


def evaluate_staged(plans: list[Plan], folders: list[Path], cfg: ShipConfig) -> dict[int, dict]:
    """Reports of the staged dictionaries that need one, evaluated together per (model, hook)."""
    from saes import io
    from saes.eval.report import evaluate_many

    need = [i for i, p in enumerate(plans) if cfg.eval.evaluate == "always" or missing_numbers(p.report)]
    groups: dict[tuple[str, str], list[int]] = {}
    for i in need:
        meta = plans[i].raw["metadata"]
        groups.setdefault((meta["model_name"], meta["hook_name"]), []).append(i)
    reports: dict[int, dict] = {}
    for (_, hook), members in groups.items():
        model, corpus, record = _model_and_corpus(plans[members[0]].raw["metadata"], cfg)
        saes = [io.load(folders[i]) for i in members]
        for i, report in zip(members, evaluate_many(saes, model, corpus, hook, cfg.eval.eval_tokens,
                                                    cfg.eval.ground_truth_tokens)):
            reports[i] = {**report, **record}
    return reports


def _model_and_corpus(meta: dict, cfg: ShipConfig):
    from interp.models import load_model
    from interp.provenance import heldout_corpus, model_record
    from interp.runtime import start_run

    device = start_run(cfg.run.device, cfg.run.threads).device
    name, processing = meta["model_name"], meta.get("weight_processing") or "default"
    model = load_model(name, device, processing)
    corpus = heldout_corpus(model, name, meta.get("corpus"), cfg.data.corpus, cfg.data.n_ctx, 0, cfg.data.text_column)
    return model, corpus, model_record(name, processing)


def finish(p: Plan, folder: Path, report: dict, evaluation: str, trained_with: str) -> dict:
    """eval.json, card.json (with every file's checksum) and README.md into the staged folder; returns the card."""
    from interp.checkpoint import sha256_file
    from saes.eval.report import write_report

    write_report(folder, report)
    files = {n: {"sha256": sha256_file(folder / n), "bytes": (folder / n).stat().st_size}
             for n in ("cfg.json", "sae_weights.safetensors", "eval.json")}
    card = build_card(p.raw, report, evaluation, trained_with, p.source, files)
    atomic_write_text(folder / S.CARD, json.dumps(card, indent=1))
    atomic_write_text(folder / S.README, readme(card))
    return card


def check_budget(base: Path, plans: list[Plan]) -> None:
    """The shipped folder after this shipping (the staged folders, inside it, replacing the targets) must hold at
    most BUDGET_BYTES."""
    after = S.total_bytes(base) - sum(S.total_bytes(p.target) for p in plans)
    if after > S.BUDGET_BYTES:
        raise ValueError(f"shipping these would make {base} hold {after / 2**20:.1f} MiB, over its budget of "
                         f"{S.BUDGET_BYTES / 2**20:.0f} MiB; nothing was shipped: ship fewer or narrower dictionaries "
                         f"(--only NAME, or train a smaller --d-sae)")


def move_into_place(plans: list[Plan], folders: list[Path]) -> None:
    """Each staged folder to its target with os.replace; a replaced shipped folder is removed after the swap."""
    for p, folder in zip(plans, folders):
        p.target.parent.mkdir(parents=True, exist_ok=True)
        old = p.target.parent / f".{p.target.name}.old.tmp"
        if p.target.exists():
            os.replace(p.target, old)
        os.replace(folder, p.target)
        shutil.rmtree(old, ignore_errors=True)


def clean_leftovers(base: Path) -> None:
    """What a shipping stopped midway left under `base` (its own .tmp names only): staging folders are removed; a
    folder moved aside for replacement goes back when its replacement never arrived, else it is removed."""
    for staging in base.glob(".ship-*.tmp"):
        shutil.rmtree(staging, ignore_errors=True)
    for old in base.glob("*/*/.*.old.tmp"):
        target = old.parent / old.name.removeprefix(".").removesuffix(".old.tmp")
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, target)


def main(cfg: ShipConfig) -> list[dict]:
    """CLI entry: check every SAE, stage it, evaluate what lacks numbers, check the budget, move into place, print
    one line per shipped dictionary naming its model."""
    base = Path(cfg.output.out).expanduser() if cfg.output.out else S.root()
    if base.is_dir():
        clean_leftovers(base)  # before the targets are looked at: a folder moved aside is back in place
    plans = [plan(f, base, cfg.output.overwrite) for f in trained_saes(Path(cfg.sae).expanduser(), cfg.only)]
    dup = {p.target for p in plans if sum(q.target == p.target for q in plans) > 1}
    if dup:
        raise ValueError(f"two SAEs would ship to {', '.join(map(str, dup))}: ship them apart")
    base.mkdir(parents=True, exist_ok=True)
    staging = base / f".ship-{os.getpid()}.tmp"
    try:
        folders = stage(plans, staging)
        fresh = evaluate_staged(plans, folders, cfg)
        cards = [finish(p, f, fresh.get(i, p.report), EVALUATED if i in fresh else FROM_TRAINING, cfg.trained_with)
                 for i, (p, f) in enumerate(zip(plans, folders))]
        check_budget(base, plans)
        move_into_place(plans, folders)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for p, card in zip(plans, cards):
        m = card["metrics"]
        numbers = " ".join(f"{k}={m[k]:.4g}" for k in S.METRICS if isinstance(m[k], (int, float)))
        print(f"shipped {p.target} ({card['model']['model']}, {card['hook']}, {card['kind']}, "
              f"{card['tokens_trained']:,} tokens; {card['evaluation']['source']}) {numbers}")
    print(f"{base} holds {S.total_bytes(base) / 2**20:.1f} MiB of its {S.BUDGET_BYTES / 2**20:.0f} MiB budget")
    return cards
