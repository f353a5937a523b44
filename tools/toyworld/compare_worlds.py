"""What the richer world changes: the headline numbers of two workspaces side by side, as markdown tables.

Build one workspace per world with the same pipeline and settings, then compare them:

    interp workspace build --model toy1-gelu-s0 --out runs/ws-toy1 --threads 1
    interp workspace build --model toy-gelu-s0 --out runs/ws-toy2 --threads 1
    .venv/bin/python tools/toyworld/compare_worlds.py runs/ws-toy1 runs/ws-toy2

Every number is read from the workspaces' artifacts (SAE eval.json, universal.json, neuron stats.json, the steering
bench.json, the patching summaries); nothing is recomputed here. Used by data/models/README.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def saes(ws: Path) -> list[str]:
    rows = []
    for ev in sorted((ws / "saes").glob("*/eval.json")):
        e = _load(ev)
        rows.append(f"| {e['model']} | {ev.parent.name.split('-')[0]} | {e['l0']:.1f} | {e['r2']:.3f} | "
                    f"{e['ce_loss_recovered']:.3f} | {e['dead_fraction']:.1%} |")
    return rows


def universal(ws: Path) -> list[str]:
    u = _load(ws / "universal" / "universal.json")
    rows = []
    for m in u["models"]:
        mc, bl = u["mean_max_corr"][m], u["mean_baseline"][m]
        frac = sum(u["fraction_universal"][m]) / len(u["fraction_universal"][m])
        rows.append(f"| {m} | {u['n_tokens']} | {sum(mc) / len(mc):.3f} | {sum(bl) / len(bl):.3f} | "
                    f"{(sum(mc) - sum(bl)) / len(mc):.3f} | {frac:.2%} |")
    return rows


def neurons(ws: Path) -> list[str]:
    rows = []
    for st in sorted((ws / "neurons").glob("*/stats.json")):
        s = _load(st)
        fam: dict[str, int] = {}
        for layer in s["summary"]["layers"]:
            for k, v in layer["families"].items():
                fam[k] = fam.get(k, 0) + v
        dead = sum(la["dead_frac"] for la in s["summary"]["layers"]) / len(s["summary"]["layers"])
        rows.append(f"| {s['model']} | {dead:.1%} | " + " | ".join(str(fam[k]) for k in s["families"][1:]) + " |")
    return rows


def steering(wss: list[Path]) -> list[str]:
    """One row per steering method, one column per workspace (the methods' names are the bench's)."""
    mass = [_load(ws / "steering" / "bench.json")["summary"]["mean_delta_mass"] for ws in wss]
    methods = list(dict.fromkeys(k for m in mass for k in m))
    return [f"| {k} | " + " | ".join(f"{m[k]:.3f}" if k in m else "-" for m in mass) + " |" for k in methods]


def patching(ws: Path) -> list[str]:
    act = _load(ws / "patching" / "activation" / "summary.json")
    top = act["results"]["resid_pre"]["top"][:3]
    faith = {(f["component"], f["method"]): f["pearson"] for f in _load(ws / "patching" / "faithfulness.json")}
    r = " / ".join(f"{faith.get((c, 'attribution'), float('nan')):.2f}, {faith.get((c, 'relp'), float('nan')):.2f}"
                   for c in ("resid_pre", "attn_out", "mlp_out", "head_out"))
    b = act["baselines"]
    return [f"| {act['model']} | {b['clean']:.2f} / {b['corrupted']:.2f} | "
            + ", ".join(f"{t['layer']} {t['pos']} {t['score']:.2f}" for t in top) + f" | {r} |"]


def main(folders: list[str]) -> None:
    wss = [Path(f) for f in folders]
    sections = [
        ("SAEs (layer 2 MLP, 1024 latents)",
         "| model | arch | L0 | R² | CE recovered | dead |\n|---|---|---|---|---|---|", saes),
        ("Universal neurons (4 GELU seeds)", "| model | tokens | mean max corr | mean rotation baseline | excess | "
         "universal (> 0.5) |\n|---|---|---|---|---|---|", universal),
        ("Neuron families (all layers)", "| model | dead | bigram | token | positional | concept | prediction | "
         "suppression | other |\n|---|---|---|---|---|---|---|---|---|", neurons),
        ("Steering (mean change in the concept's probability mass; columns: the workspaces in order)", None, steering),
        ("IOI patching (activation patching, resid_pre; Pearson r with it: AtP, RelP per component)",
         "| model | clean / corrupted logit diff | top resid_pre patches | r resid_pre / attn_out / mlp_out / heads |"
         "\n|---|---|---|---|", patching),
    ]
    for title, head, fn in sections:
        if head is None:  # a method-by-workspace table
            models = [_load(ws / "workspace.json")["config"].get("model", ws.name) for ws in wss]
            head = "| method | " + " | ".join(map(str, models)) + " |\n|---|" + "---|" * len(wss)
            print(f"\n### {title}\n\n{head}\n" + "\n".join(fn(wss)))
            continue
        print(f"\n### {title}\n\n{head}")
        for ws in wss:
            print("\n".join(fn(ws)))


if __name__ == "__main__":
    main(sys.argv[1:])
