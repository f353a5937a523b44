"""`interp steer-bench`: load dictionary folders (interp.dictionary), run `interp.steering.benchmark`, write the
artifacts (bench.json + bench.safetensors) and a plotly figure."""

from __future__ import annotations

import json
from pathlib import Path

from interp.dictionary import info, load
from interp.models import load_model
from interp.provenance import CheckedModel, check_model, dictionary_record, model_record
from interp.runtime import start_run
from interp.steering.benchmark import BenchResult, BenchSettings, NamedDictionary, run_benchmark, save_result
from interp.steering.config import SteerBenchConfig
from interp.worlds import taxonomy, world_name_of_model


def load_dictionary(folder: str) -> NamedDictionary:
    """Any dictionary folder (interp.dictionary's formats) as a benchmark dictionary labelled by its trained
    architecture ("sae:batchtopk", "snmf")."""
    about = info(folder)
    return NamedDictionary(about.label, about.kind, load(folder), str(folder))


def _unique_labels(dicts: list[NamedDictionary]) -> None:
    seen: dict[str, int] = {}
    for d in dicts:
        n = seen.get(d.label, 0)
        seen[d.label] = n + 1
        if n:
            d.label = f"{d.label}#{n + 1}"


def figure(result: BenchResult):
    """Grouped bars: delta_mass per concept (x) and method (colour), at the KL budget."""
    import plotly.graph_objects as go

    rows = result.rows
    methods = list(dict.fromkeys(r.method for r in rows))
    concepts = list(dict.fromkeys(r.concept for r in rows))
    fig = go.Figure()
    for m in methods:
        val = {r.concept: r.outcome.delta_mass for r in rows if r.method == m}
        fig.add_bar(name=m, x=concepts, y=[val.get(c) for c in concepts])
    kl = result.settings["kl_budget"]
    fig.update_layout(barmode="group", title=f"Probability mass moved onto the concept's tokens at KL = {kl}",
                      yaxis_title="Δ P(concept tokens), mean over neutral prompts", xaxis_title="concept",
                      legend_title="direction")
    return fig


def bench_model(cfg: SteerBenchConfig) -> CheckedModel:
    """The model every dictionary records (they must agree; --model may be left out or must match) and its weight
    processing."""
    return check_model(cfg.lm.model, cfg.lm.weight_processing, *(dictionary_record(f) for f in cfg.dictionaries))


def main(cfg: SteerBenchConfig) -> BenchResult:
    figures = [Path(cfg.output.out) / "figure.html"] + ([Path(cfg.figure)] if cfg.figure else [])
    # each figure is written with its .json beside it: neither replaces a file without --overwrite
    cfg.output.claim(*(Path(cfg.output.out) / f for f in ("bench.json", "bench.safetensors")),
                     *(p for f in figures for p in (f, f.with_suffix(".json"))))
    model_name, processing = bench_model(cfg)
    dicts = [load_dictionary(f) for f in cfg.dictionaries]
    _unique_labels(dicts)
    model = load_model(model_name, start_run(cfg.run.device, cfg.run.threads).device, processing)
    world = world_name_of_model(model)
    if world is None:
        raise ValueError(f"{model_name} is not a toy-world model: the steering benchmark scores directions against "
                         f"the toy world's ground-truth concepts, so it needs a toy model (steer your own model with "
                         f"`interp steer`)")
    for c in cfg.concepts:  # concepts of the model's world; an unknown one names the valid fields or values
        taxonomy(world).parse_concept(c)
    settings = BenchSettings(concepts=tuple(cfg.concepts), kl_budget=cfg.kl_budget, n_docs=cfg.n_docs,
                             gen_tokens=cfg.gen_tokens, output_quantile=cfg.output_quantile)
    result = run_benchmark(model, dicts, settings)
    result.settings["config"] = {**cfg.flat(), **model_record(model_name, processing)}
    save_result(result, cfg.output.out)
    fig = figure(result)
    # every copy works offline: plotly.min.js is written beside it (once per folder)
    for t in figures:
        t.parent.mkdir(parents=True, exist_ok=True)
        fig.write_html(str(t), include_plotlyjs="directory")
        t.with_suffix(".json").write_text(fig.to_json())
    summary = result.to_json()["summary"]
    print(json.dumps(summary["mean_delta_mass"], indent=1))
    print(f"wrote {cfg.output.out}/bench.json, bench.safetensors, figure.html ({model_name}, toy-world concepts)")
    return result
