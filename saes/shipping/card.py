"""A shipped dictionary's card (card.json, schema saes.shipped.SCHEMA) and the README.md generated from it.

The card is what a reader needs to trust a dictionary without running it: the model record (name, weight
processing, the weights' fingerprint: interp.provenance), hook, kind, sizes, seed, tokens trained and the corpus,
eval.json's headline numbers (L0, R², CE loss recovered, dead share) with the evaluation they come from, the
sparse-probing summary (mean held-out F1 of k-sparse probes per k, the raw neurons beside it) and the absorption
summary (Chanin et al. 2024: the mean rate over the hierarchy parents scored, SAEBench's thresholds named), the
command that trained it, and the sha256 of every file (saes.shipped.verify checks them before the folder is read).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from saes.shipped import METRICS, SCHEMA

SUMMARISED = ("sparse_probing", "absorption")
"""The eval.json keys the card summarises (their full reports stay in the shipped eval.json)."""


def missing_numbers(report: dict | None) -> list[str]:
    """The card's numbers an eval.json lacks (a key absent or null; `{"absent": reason}` is an honest answer)."""
    if not report:
        return [*METRICS, *SUMMARISED]
    return [k for k in (*METRICS, *SUMMARISED) if report.get(k) is None]


def probing_summary(report: dict) -> dict:
    """Mean held-out F1 per k for the dictionary's latents and the raw neurons, and how many concepts."""
    sp = report["sparse_probing"]
    if "absent" in sp:
        return {"absent": sp["absent"]}
    return {"ks": sp["ks"], "mean_f1": sp["mean_f1"], "concepts": len(sp["concepts"]), "skipped": len(sp["skipped"])}


def absorption_summary(report: dict) -> dict:
    """The mean absorption rate, the parents it is over (with each one's rate) and SAEBench's thresholds."""
    ab = report["absorption"]
    if "absent" in ab:
        return {"absent": ab["absent"]}
    return {"mean_rate": ab["mean_rate"], "thresholds": ab["thresholds"],
            "parents": {p: v.get("rate") for p, v in ab["parents"].items()}, "skipped": len(ab["skipped"])}


def training_command(raw: dict) -> str:
    """The `interp train-sae` command a cfg.json implies (the options that decide the weights: model, hook,
    architecture, sizes, sparsity, seed, tokens, batch, learning rate, data); other options were the defaults of the
    version that trained it."""
    from saes.registry import architecture

    meta = raw.get("metadata") or {}
    ours, train = meta.get("interp") or {}, meta.get("training") or {}
    arch = ours.get("arch", "")
    words = ["interp", "train-sae", "--model", meta.get("model_name", ""), "--hook", meta.get("hook_name", ""),
             "--arch", arch, "--d-sae", str(raw.get("d_sae"))]
    option = architecture(arch).sparsity_option if arch else ""
    if option == "k":
        words += ["--k", str(ours.get("k"))]
    elif option:
        words += [f"--{option.replace('_', '-')}", f"{train.get('coefficient'):g}"]
    if ours.get("prefixes"):
        words += ["--prefixes", ",".join(str(p) for p in ours["prefixes"][:-1])]
    words += ["--seed", str(train.get("seed")), "--tokens", str(train.get("tokens")),
              "--batch-size", str(train.get("batch_size")), "--lr", f"{train.get('lr'):g}",
              "--data-seed", str(train.get("data_seed"))]
    if train.get("data") and train["data"] != "on the fly":
        words += ["--cache", str(train["data"])]
    if meta.get("weight_processing") not in (None, "default"):
        words += ["--weight-processing", str(meta["weight_processing"])]
    return shlex.join(words)


def saelens_loader(raw: dict) -> str:
    """The sae_lens call that opens a folder of this cfg.json: `SAE.load_from_disk` for the inference
    architectures sae_lens registers, `TrainingSAE.load_from_disk` for a kind saved in a training architecture."""
    import sae_lens  # noqa: F401  (importing it registers its architectures)
    from sae_lens.registry import SAE_CLASS_REGISTRY

    return "SAE.load_from_disk" if raw.get("architecture") in SAE_CLASS_REGISTRY else "TrainingSAE.load_from_disk"


def build_card(raw: dict, report: dict, evaluation: str, trained_with: str, source: Path,
               files: dict[str, dict]) -> dict[str, Any]:
    """The card of a dictionary shipped from `source`: `raw` its cfg.json, `report` the eval.json its numbers come
    from (`evaluation` says which), `files` name -> {"sha256", "bytes"} of the shipped folder's files."""
    meta = raw.get("metadata") or {}
    train, ours = meta.get("training") or {}, meta.get("interp") or {}
    return {
        "schema": SCHEMA,
        "name": source.name,
        "model": {"model": meta.get("model_name"), "weight_processing": meta.get("weight_processing"),
                  "model_fingerprint": meta.get("model_fingerprint")},
        "hook": meta.get("hook_name"),
        "kind": ours.get("arch"),
        "d_in": raw["d_in"],
        "d_sae": raw["d_sae"],
        "seed": train.get("seed"),
        "tokens_trained": train.get("tokens"),
        "corpus": meta.get("corpus"),
        "metrics": {k: report.get(k) for k in METRICS},
        "sparse_probing": probing_summary(report),
        "absorption": absorption_summary(report),
        "evaluation": {"source": evaluation, "n_tokens": report.get("n_tokens"), "corpus": report.get("corpus")},
        "trained_with": trained_with or training_command(raw),
        "trained_with_source": "given (--trained-with)" if trained_with else "implied by cfg.json",
        "storage": {"dtype": "float16", "loads_as": raw.get("dtype", "float32"), "format": "SAELens (cfg.json + "
                    "sae_weights.safetensors)", "saelens_architecture": raw.get("architecture"),
                    "saelens_loader": saelens_loader(raw)},
        "shipped_from": str(source.resolve()),
        "files": files,
    }


def _number(v: Any, fmt: str = ".4g") -> str:
    return format(v, fmt) if isinstance(v, (int, float)) else "n/a"


def _highest(rates: dict[str, float | None], n: int = 3) -> str:
    scored = sorted(((r, p) for p, r in rates.items() if r is not None), reverse=True)[:n]
    return ", ".join(f"{p} {r:.3f}" for r, p in scored) or "none scored"


def readme(card: dict) -> str:
    """README.md of a shipped dictionary, generated from its card."""
    m, sp, ab = card["metrics"], card["sparse_probing"], card["absorption"]
    probing = (f"absent: {sp['absent']}" if "absent" in sp else ", ".join(
        f"k={k}: {_number(sp['mean_f1']['sae'].get(str(k)), '.3f')} (neurons "
        f"{_number(sp['mean_f1']['neurons'].get(str(k)), '.3f')})" for k in sp["ks"]) + f" over {sp['concepts']} "
        f"concepts")
    absorption = (f"absent: {ab['absent']}" if "absent" in ab else
                  f"mean rate {_number(ab['mean_rate'], '.3f')} over {len(ab['parents'])} parent concepts (the "
                  f"highest: {_highest(ab['parents'])})")
    lines = [
        f"# {card['name']}: a {card['kind']} SAE of {card['model']['model']} at {card['hook']}",
        "",
        f"{card['d_sae']:,} latents on d_in {card['d_in']}, seed {card['seed']}, trained on "
        f"{_number(card['tokens_trained'], ',')} tokens; weights stored as float16 in SAELens's folder format "
        f"(cfg.json + sae_weights.safetensors, SAELens architecture {card['storage']['saelens_architecture']}: "
        f"sae_lens's `{card['storage']['saelens_loader']}` reads it, and so does every interp command as "
        f"`shipped:{card['model']['model']}/{card['hook']}/{card['name']}`).",
        "",
        f"- model: {card['model']['model']} (weight processing {card['model']['weight_processing']}, weights' "
        f"fingerprint {card['model']['model_fingerprint']})",
        f"- L0 {_number(m['l0'])}, R² {_number(m['r2'])}, CE loss recovered {_number(m['ce_loss_recovered'])}, dead "
        f"share {_number(m['dead_fraction'])} ({card['evaluation']['source']}, "
        f"{_number(card['evaluation']['n_tokens'], ',')} held-out tokens)",
        f"- sparse probing (mean held-out F1): {probing}",
        f"- absorption: {absorption}",
        "",
        "Trained with:",
        "",
        f"    {card['trained_with']}",
        "",
        "card.json holds these numbers and the sha256 of every file; eval.json the full evaluation.",
        "",
    ]
    return "\n".join(lines)
