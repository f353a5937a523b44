"""Regenerates the numbers and figures of docs/circuits.md.

Run: .venv/bin/python tools/circuits/make_report.py [MODEL ...] (default toy-gelu-s0 toy-relu-s0).
Each model gets the IOI task of its own toy world (circuits.tasks.toy_tasks): toy2's held-out form "opener+plain"
on the toy-* models, toy1's template 0 on the toy1-* ones."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from circuits.discovery import discover_circuit, head_roles  # noqa: E402
from circuits.faithfulness import faithfulness  # noqa: E402
from circuits.figures import heatmap, scatter  # noqa: E402
from circuits.tasks import toy_tasks  # noqa: E402
from interp.models import load_model  # noqa: E402
from interp.worlds import world_name_of_model  # noqa: E402

DOCS = Path(__file__).resolve().parents[2] / "docs"
HERE = DOCS / "circuits"
"""Where the raw numbers go (results.json)."""
FIGURES = DOCS / "figures"
"""Figures of all docs pages share one folder, so one plotly.min.js beside them serves all offline."""


def main(names: list[str]) -> None:
    torch.set_num_threads(1)
    out = HERE / "results.json"
    summary = json.loads(out.read_text()) if out.exists() else {}  # models not re-run keep their entries
    for name in names:
        model = load_model(name)
        task = toy_tasks(model)["ioi"](model, n=32)
        run = faithfulness(model, task, model_name=name)
        print(name, "\n" + run.markdown())
        for comp in ("resid_pre", "attn_out", "mlp_out", "head_out"):
            heatmap(run.activation[comp]).write_html(FIGURES / f"circuits_{name}_{comp}.html",
                                                     include_plotlyjs="directory")
        scatter(run).write_html(FIGURES / f"circuits_{name}_scatter.html", include_plotlyjs="directory")
        circuits = {str(m): discover_circuit(model, task, 0.8, mlps=m) for m in ([], [1, 2, 3])}
        ev = head_roles(model, task)
        roles = {f"L{la}H{h}": {"role": ev.role(la, h), "s2_to_s1": float(ev.s2_to_s1[la, h]),
                                "s2_to_s1_next": float(ev.s2_to_s1_next[la, h]),
                                "end_to_s2": float(ev.end_to_s2[la, h]), "end_to_io": float(ev.end_to_io[la, h]),
                                "dla": float(ev.dla[la, h])} for la in range(4) for h in range(4)}
        summary[name] = {"world": world_name_of_model(model), "task": task.name,
                         "baselines": vars(run.activation["resid_pre"].baselines), "faithfulness": run.table(),
                         "circuits": {k: {"nodes": [n.name for n in c.nodes], "recovered": c.recovered,
                                          "curve": c.curve} for k, c in circuits.items()},
                         "heads": roles}
        print(json.dumps(summary[name]["circuits"]))
    out.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:] or ["toy-gelu-s0", "toy-relu-s0"])
