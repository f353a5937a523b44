"""`interp concept-table`: the best unit per ground-truth concept, neurons beside dictionaries, as a markdown table.

The ground truth is a labelled corpus's (the toy world's; on a model of no world `--corpus toyworld` carries the
labels onto its tokens, interp.word_labels). Neurons: `interp neurons` stores every neuron's AUROC per concept
(concept_auroc [layer, concept, neuron]); the best over every layer and neuron of the first folder is the pick, and
further folders (other seeds of the text) give the same neuron's AUROC, an estimate free of the pick's selection
(the maximum of tens of thousands of AUROCs on a few hundred positives is biased upwards), and their own best.
Dictionaries: each eval.json's ground_truth holds its best latent per concept (saes.eval.metrics).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from interp import dictionary as dictionaries
from interp.json_files import read_json
from interp.neurons.artifacts import load_neuron_stats
from saes.eval.report import REPORT


class Column(NamedTuple):
    """One column of the table: its header and concept -> cell text."""

    header: str
    cells: dict[str, str]


def neuron_columns(folders: tuple[str, ...]) -> list[Column]:
    """The pick (best neuron per concept on the first folder) and, per further folder, that neuron and its best."""
    stats = [load_neuron_stats(f) for f in folders]
    first = stats[0]
    if not first.concepts:
        raise ValueError(f"{folders[0]} scored no concept: run `interp neurons` on a labelled corpus (--corpus "
                         f"toyworld, on any model)")
    picks: dict[str, tuple[int, int]] = {}
    cells: dict[str, str] = {}
    for c, name in enumerate(first.concepts):
        au = first.concept_auroc[:, c]  # [layer, neuron]
        layer, neuron = np.unravel_index(int(np.argmax(au)), au.shape)
        picks[name] = int(layer), int(neuron)
        cells[name] = f"{au[layer, neuron]:.3f} (L{layer}N{neuron})"
    cols = [Column(f"best neuron, {_seed(first.corpus)}", cells)]
    for other in stats[1:]:
        index = {name: c for c, name in enumerate(other.concepts)}
        same = {n: f"{other.concept_auroc[picks[n][0], index[n], picks[n][1]]:.3f}" for n in picks if n in index}
        best = {n: f"{other.concept_auroc[:, c].max():.3f}" for n, c in index.items()}
        cols += [Column(f"that neuron, {_seed(other.corpus)}", same), Column(f"best neuron, {_seed(other.corpus)}",
                                                                             best)]
    return cols


def eval_column(path: str) -> Column:
    """The best latent per concept of one dictionary report."""
    p = Path(path)
    p = p / REPORT if p.is_dir() else p
    if not p.is_file():
        raise FileNotFoundError(f"{path}: no eval report there; run `interp eval-sae --sae FOLDER` first")
    report = read_json(p)
    truth = report.get("ground_truth") or {}
    if not truth.get("concepts"):
        raise ValueError(f"{p} has no ground-truth concept scores: evaluate on a labelled corpus (--corpus toyworld)")
    try:
        arch = dictionaries.info(str(p.parent)).arch
    except (FileNotFoundError, ValueError):  # a report kept away from its dictionary
        arch = "?"
    seed = _seed(report.get("corpus", {}))
    return Column(f"{arch} ({p.stem}, {seed})", {c: f"{v['auroc']:.3f}" for c, v in truth["concepts"].items()})


def _seed(corpus: dict) -> str:
    return f"seed {corpus.get('seed', '?')} {corpus.get('split', '')}".strip()


def table(columns: list[Column], concepts: tuple[str, ...] = ()) -> str:
    """A markdown table, one row per concept (`concepts`, else every concept of the first column)."""
    rows = list(concepts) or list(columns[0].cells)
    lines = ["| concept | " + " | ".join(c.header for c in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {r} | " + " | ".join(c.cells.get(r, "-") for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def main(cfg) -> str:
    """CLI entry (`interp concept-table`): print the table."""
    columns = (neuron_columns(cfg.neurons) if cfg.neurons else []) + [eval_column(e) for e in cfg.evals]
    out = table(columns, cfg.concepts)
    print(out)
    return out
