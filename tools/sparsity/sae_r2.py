"""Do SAEs trained on the sparser toy models reach a higher R² at equal L0? (issue 27, item 3)

For each model of MODELS (toy-gelu-s0, toy-relu-s0, toy-relu2-s0: one architecture, corpus and training recipe,
only the MLP activation differs), one `interp train-sae` sweep on the middle MLP layer (blocks.2.mlp.hook_post, the
hook's default): TopK SAEs (Gao et al. 2024) at k = 8, 16, 32, 64, d_sae 1024, 2 seeds, the same toy-world
documents for every model (on the fly, --data-seed 0), the same steps and held-out evaluation. TopK fixes L0 = k, so
"equal L0" is exact; the evaluation's r2 is the float64 explained variance on held-out tokens (saes/eval/metrics.py).

    python tools/sparsity/sae_r2.py --out /tmp/sae27          # trains (about 4 min CPU a model), then tabulates
    python tools/sparsity/sae_r2.py --out /tmp/sae27 --collect # tabulates what --out holds

Writes docs/figures/sparsity_sae_r2.html (R² vs L0, one line per model, the seeds' mean with min / max bars) and
docs/figures/sparsity_sae_r2.json (every SAE's eval.json numbers and the commands), and prints the table that
docs/sparsity.md quotes. The log of the run the docs quote is tools/sparsity/sae_r2.log.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODELS = ("toy-gelu-s0", "toy-relu-s0", "toy-relu2-s0")
KS = (8, 16, 32, 64)
SEEDS = (0, 1)
SETTINGS = ["--arch", "topk", "--d-sae", "1024", "-k", *map(str, KS), "--seed", *map(str, SEEDS),
            "--tokens", "200000", "--batch-size", "512", "--data-seed", "0", "--eval-tokens", "16384",
            "--threads", "1", "--progress", "false"]


def command(model: str, out: Path) -> list[str]:
    return [str(ROOT / ".venv" / "bin" / "interp"), "train-sae", "--model", model, *SETTINGS,
            "--out", str(out / model)]


def train(out: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    for model in MODELS:
        cmd = command(model, out)
        print("$", shlex.join(cmd), flush=True)
        subprocess.run(["nice", "-n", "19", *cmd], check=True, env=env)


def collect(out: Path) -> dict:
    rows = {}
    for model in MODELS:
        for k in KS:
            evals = [json.loads((out / model / f"topk-d1024-k{k}-s{s}" / "eval.json").read_text()) for s in SEEDS]
            rows[f"{model} k={k}"] = {"model": model, "k": k, "l0": [e["l0"] for e in evals],
                                      "r2": [e["r2"] for e in evals],
                                      "ce_loss_recovered": [e["ce_loss_recovered"] for e in evals],
                                      "dead_fraction": [e["dead_fraction"] for e in evals]}
    return rows


def figure(rows: dict, path: Path) -> None:
    import plotly.graph_objects as go

    fig = go.Figure()
    for model in MODELS:
        pts = [r for r in rows.values() if r["model"] == model]
        mean = [statistics.mean(r["r2"]) for r in pts]
        fig.add_trace(go.Scatter(
            x=[statistics.mean(r["l0"]) for r in pts], y=mean, name=model, mode="lines+markers",
            error_y={"type": "data", "symmetric": False, "array": [max(r["r2"]) - m for r, m in zip(pts, mean)],
                     "arrayminus": [m - min(r["r2"]) for r, m in zip(pts, mean)]}))
    fig.update_layout(title="TopK SAEs on blocks.2.mlp.hook_post: R² vs L0 (d_sae 1024, 200k tokens, 2 seeds)",
                      xaxis={"title": "L0 (= k)", "type": "log", "tickvals": list(KS)},
                      yaxis={"title": "R² (held-out explained variance)"})
    fig.write_html(path, include_plotlyjs="plotly.min.js")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/sparsity/sae_r2", help="sweep folders (one per model)")
    ap.add_argument("--collect", action="store_true", help="only tabulate what --out holds")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    if not args.collect:
        train(out)
    rows = collect(out)
    print(f"{'model':<14} " + " ".join(f"{'k=' + str(k):>17}" for k in KS))
    for model in MODELS:
        cells = [rows[f"{model} k={k}"]["r2"] for k in KS]
        print(f"{model:<14} " + " ".join(f"{statistics.mean(c):.3f} ({min(c):.3f}-{max(c):.3f})" for c in cells))
    figures = ROOT / "docs" / "figures"
    figure(rows, figures / "sparsity_sae_r2.html")
    record = {"commands": [shlex.join(command(m, Path("OUT"))[1:]) for m in MODELS], "rows": rows}
    (figures / "sparsity_sae_r2.json").write_text(json.dumps(record, indent=1))
    print(f"wrote {figures / 'sparsity_sae_r2.html'}", file=sys.stderr)


if __name__ == "__main__":
    main()
