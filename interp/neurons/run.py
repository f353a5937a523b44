"""Streaming a corpus through one or more models with MLP hooks (resumable through interp.checkpoint), and the
`interp neurons` command: per-neuron statistics of any model TransformerLens loads, on any corpus interp.corpus
reads (Gurnee et al. 2024, Universal Neurons in GPT2 Language Models; Voita et al. 2023, Neurons in Large Language
Models: Dead, N-gram, Positional).

A run is planned once (`plan_run`): the corpus (`--corpus`; the toy world only by default for a toy model, any other
model is asked for one), the rows it streams, the token slots (every token of a small vocabulary, else the most
frequent of those rows) and the concepts given as tokens (`--concepts`). Rows are read by index, so a resumed run
streams the same batches and sums to the same totals as an uninterrupted one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from jaxtyping import Float, Shaped
from torch import Tensor
from tqdm.auto import tqdm

from ..activations.stream import HookRunner
from ..allocator import retain_freed_memory
from ..checkpoint import CKPT_DIR, Checkpointer, identity
from ..corpus import CorpusError, TokenRows, TokenSource, describe, open_corpus, rows_available
from ..corpus import summary as corpus_summary
from ..models import load_model
from ..provenance import model_record
from ..runtime import start_run
from .artifacts import NeuronStats, save_neuron_stats
from .config import MIN_TOKENS, NeuronsConfig, UniversalConfig
from .stats import NeuronAccumulator
from .summarize import FAMILIES, FamilyRules, classify, rules_dict, summarize, weight_stats
from .tokens import Concepts, frequent_tokens, load_concepts, readable_vocab, real_vocab_size

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

StatsConfig = NeuronsConfig | UniversalConfig


class Plan(NamedTuple):
    """What a run streams: the corpus, how many of its rows, the token slots, concepts given as tokens, the
    readable vocabulary."""

    source: TokenSource
    n_rows: int
    token_ids: Tensor | None
    """Token ids with a slot of per-token sums (None: every token)."""
    concepts: Concepts | None
    vocab: list[str] | None


def n_docs_for(tokens: int, n_ctx: int) -> int:
    """Rows needed so that at least `tokens` non-BOS tokens are streamed."""
    if n_ctx < 2:
        raise ValueError(f"n_ctx={n_ctx}: documents need BOS plus at least one token")
    if tokens < MIN_TOKENS:
        raise ValueError(f"tokens={tokens} is too few for neuron statistics; use at least {MIN_TOKENS}")
    return -(-tokens // (n_ctx - 1))


def open_source(model: HookedTransformer, name: str, cfg: StatsConfig) -> TokenSource:
    """The corpus of `cfg` on `model` (split 'all' reads every document)."""
    split = None if cfg.split == "all" else cfg.split
    return open_corpus(cfg.data, model, split, seed=cfg.seed, model_name=name)


def rows_for(source: TokenSource, tokens: int) -> int:
    """Rows to stream for `tokens` tokens; a corpus that runs out earlier gives what it has (said on stderr), one
    too small for statistics is an error."""
    wanted = n_docs_for(tokens, source.n_ctx)
    have = rows_available(source, wanted, f"--tokens {tokens:,}")
    per_row = source.n_ctx - 1
    if have * per_row < MIN_TOKENS:
        raise CorpusError(f"the corpus {source.description.get('source')} ({source.description.get('split', 'all')} "
                          f"split) gives only {have * per_row:,} tokens in rows of {source.n_ctx}; neuron statistics "
                          f"need at least {MIN_TOKENS}: give more text, --split all or a smaller --n-ctx")
    return have


def plan_run(model: HookedTransformer, name: str, cfg: StatsConfig, source: TokenSource | None = None) -> Plan:
    source = source if source is not None else open_source(model, name, cfg)
    n_rows = rows_for(source, cfg.tokens)
    vocab = readable_vocab(model)
    concepts = load_concepts(cfg.concepts, vocab) if cfg.concepts else None
    token_ids = frequent_tokens(source, n_rows, cfg.token_slots, model.cfg.d_vocab)
    return Plan(source, n_rows, token_ids, concepts, vocab)


def mlp_runner(model: HookedTransformer) -> HookRunner:
    """Every layer's mlp.hook_pre and hook_post, in model order."""
    return HookRunner(model, [f"blocks.{layer}.mlp.{h}" for layer in range(model.cfg.n_layers)
                              for h in ("hook_pre", "hook_post")])


def mlp_callback(acc: NeuronAccumulator, sink: Callable[[int, Float[Tensor, "batch pos d_mlp"]], None] | None = None
                 ) -> Callable[[str, Float[Tensor, "batch pos d_mlp"]], None]:
    """hook_pre keeps the pre-activation until hook_post of the same layer hands both to the accumulator (so only
    one layer's activations are alive at a time)."""
    pre: dict[int, Tensor] = {}

    def on_act(name: str, act: Tensor) -> None:
        layer = int(name.split(".")[1])
        if name.endswith("hook_pre"):
            pre[layer] = act
            return
        acc.add_layer(layer, pre.pop(layer), act)
        if sink is not None:
            sink(layer, act)

    return on_act


def new_accumulator(model: HookedTransformer, cfg: StatsConfig, plan: Plan | None = None) -> NeuronAccumulator:
    c = model.cfg
    n_ctx = plan.source.n_ctx if plan is not None else c.n_ctx
    return NeuronAccumulator(c.n_layers, c.d_mlp, c.d_vocab, n_ctx, fire_on_post=c.act_fn == "relu",
                             fire_threshold=cfg.fire_threshold, near_zero=cfg.near_zero, pos_bins=cfg.pos_bins,
                             auroc_tokens=cfg.auroc_tokens, bigram_slots=cfg.bigram_slots,
                             token_ids=plan.token_ids if plan is not None else None,
                             concept_tokens=plan.concepts.ids if plan is not None and plan.concepts else None,
                             taxonomy=plan.source.taxonomy if plan is not None else None)


def layer_summary(a: dict[str, Shaped[np.ndarray, "*shape"]]) -> list[dict]:
    """Per-layer fractions: dead neurons, mean firing frequency, exact- and near-zero activations, families."""
    out = []
    for layer in range(a["fire_freq"].shape[0]):
        fam = np.bincount(a["family"][layer], minlength=len(FAMILIES))
        out.append({"layer": layer, "dead_frac": float(a["dead"][layer].mean()),
                    "fire_freq": float(a["fire_freq"][layer].mean()),
                    "zero_frac": float(a["zero_frac"][layer].mean()),
                    "near_zero_frac": float(a["near_zero_frac"][layer].mean()),
                    "families": {f: int(n) for f, n in zip(FAMILIES, fam)}})
    return out


def model_weight_stats(model: HookedTransformer) -> dict[str, Shaped[np.ndarray, "*shape"]]:
    """Weight and vocabulary-composition statistics (over the real tokens). Runs take them before allocating their
    sums: the temporaries they free are then reused by the stream, instead of adding to its peak memory."""
    return weight_stats(model, n_vocab=real_vocab_size(model))


def finish_stats(model: HookedTransformer, name: str, acc: NeuronAccumulator, cfg: StatsConfig, plan: Plan,
                 weights: dict[str, Shaped[np.ndarray, "*shape"]] | None = None,
                 rules: FamilyRules | None = None) -> NeuronStats:
    """The statistics of one model from its sums and weights (`model_weight_stats`, computed here if not given),
    with what they were computed on."""
    rules = rules or FamilyRules()
    arrays, concepts, pairs = summarize(acc, cfg.top_k)
    arrays.update(weights if weights is not None else model_weight_stats(model))
    arrays.update(classify(arrays, rules))
    arrays["bigram_pairs"] = pairs.astype(np.int32)
    config = {k: v for k, v in cfg.flat().items() if k not in ("out", "models", "model", "weight_processing")}
    given = ({c: {"ids": plan.concepts.ids[c], "missing": plan.concepts.missing[c]} for c in plan.concepts.ids}
             if plan.concepts else {})
    weight_processing = getattr(cfg.lm, "weight_processing", "default")
    return NeuronStats(**model_record(name, weight_processing), n_tokens=acc.n_tokens, act_fn=model.cfg.act_fn,
                       config=config,
                       concepts=concepts, families=list(FAMILIES), rules=rules_dict(rules),
                       summary={"layers": layer_summary(arrays)}, arrays=arrays, vocab=plan.vocab,
                       corpus=describe(plan.source, acc.n_tokens),
                       concept_tokens=given, concept_sample=acc.n_sampled if concepts else 0)


def checkpointer(out: Path, cfg: StatsConfig, plan: Plan | None = None) -> Checkpointer:
    """The run's checkpoints; their identity is the options plus the corpus's fingerprint and the concept tokens
    (a changed file is never mixed into sums of the old one)."""
    ident = identity(cfg)
    if plan is not None:
        ident["corpus_fingerprint"] = plan.source.description.get("fingerprint")
        ident["concept_tokens"] = plan.concepts.ids if plan.concepts else None
    return Checkpointer(out, ident)


def claim_outputs(out: Path, cfg: StatsConfig, folders: list[Path], *files: Path) -> None:
    """Before anything runs: statistics already in `folders`, the command's other `files`, or a checkpoint folder
    that is not a run's, are never replaced without --overwrite (an unfinished run of these options resumes; one of
    other options is refused by its checkpoint)."""
    from .artifacts import STATS_ARRAYS, STATS_JSON

    if not checkpointer(out, cfg).exists():
        cfg.output.claim(*(f / n for f in folders for n in (STATS_JSON, STATS_ARRAYS)), *files, out / CKPT_DIR)


def resumable(out: Path | None, cfg: StatsConfig, parts: dict, plan: Plan | None = None
              ) -> tuple[int, Callable[[int], None] | None]:
    """Restore `parts` (name -> accumulator with state() / restore()) from the checkpoint in `out`, if any; returns
    the first row still to stream and the function that checkpoints after a given row count. The sums are restored
    exactly and the corpus is a pure function of its spec and the row index, so a resumed run ends with the
    statistics of an uninterrupted one."""
    if out is None:
        return 0, None
    ckpt = checkpointer(out, cfg, plan)
    start = 0
    if (loaded := ckpt.load()) is not None:
        start = loaded.step
        for name, part in parts.items():
            part.restore({k: v for g, ts in loaded.tensors.items() if g.rsplit(".", 1)[0] == name
                          for k, v in ts.items()}, loaded.meta[name])

    def save(docs_done: int) -> None:
        states = {name: part.state() for name, part in parts.items()}
        groups = {g: ts for name, (t, _) in states.items() for g, ts in checkpoint_groups(name, t).items()}
        ckpt.save(docs_done, groups, {n: m for n, (_, m) in states.items()})

    return start, save


GROUP_BYTES = 64 << 20
"""Tensors are packed into checkpoint files of about this size: safetensors copies a file's tensors in memory while
writing it, so a state of gigabytes (GPT-2's per-token sums) is written a piece at a time."""


def checkpoint_groups(name: str, tensors: dict[str, Shaped[Tensor, "*shape"]]
                      ) -> dict[str, dict[str, Shaped[Tensor, "*shape"]]]:
    """A part's tensors as groups "<name>.<k>" of at most ~GROUP_BYTES; a view into a larger tensor (one layer's
    sums) gets a group of its own (safetensors refuses two tensors sharing memory in one file)."""
    groups: list[dict[str, Tensor]] = []
    size, closed = 0, True
    for key, t in tensors.items():
        n = t.numel() * t.element_size()
        alone = t.untyped_storage().nbytes() > n
        if closed or alone or size + n > GROUP_BYTES:
            groups.append({})
            size = 0
        groups[-1][key] = t
        size += n
        closed = alone
    return {f"{name}.{i}": g for i, g in enumerate(groups)}


def batches(source: TokenSource, n_rows: int, batch_size: int, start: int = 0) -> Iterator[TokenRows]:
    """Rows start .. n_rows-1 in the batches a run from row 0 has (a resumed run sums in the same order)."""
    for first in range(start, n_rows, batch_size):
        yield source.rows(first, min(batch_size, n_rows - first))


def stream(models: list[HookedTransformer], accs: list[NeuronAccumulator], cfg: StatsConfig, plan: Plan,
           on_batch: Callable[[list[list[Float[Tensor, "batch pos d_mlp"]]]], None] | None = None,
           desc: str = "neurons", start_doc: int = 0,
           checkpoint: Callable[[int], None] | None = None) -> None:
    """Run every model on the same batches from row `start_doc`; `on_batch` gets each model's post-activations per
    layer; `checkpoint(rows_done)` is called every cfg.checkpoint_every rows."""
    per_doc, every, done, n_docs = plan.source.n_ctx - 1, cfg.checkpoint_every, start_doc, plan.n_rows
    bar = tqdm(total=n_docs * per_doc, initial=start_doc * per_doc, unit="tok", desc=desc, unit_scale=True)
    runners = [mlp_runner(model) for model in models]
    with torch.inference_mode():
        for tokens, labels in batches(plan.source, n_docs, cfg.batch_size, start_doc):
            tokens = tokens.long()
            posts: list[list[Tensor]] = []
            for model, runner, acc in zip(models, runners, accs):
                acc.begin_batch(tokens, labels)
                layers: list[Tensor] = []
                sink = (lambda layer, act, layers=layers: layers.append(act)) if on_batch else None
                runner.run(tokens.to(model.cfg.device), mlp_callback(acc, sink))
                posts.append(layers)
            if on_batch is not None:
                on_batch(posts)
            bar.update(tokens.shape[0] * (tokens.shape[1] - 1))
            done += tokens.shape[0]
            if checkpoint is not None and every and done < n_docs and done // every > (done - len(tokens)) // every:
                checkpoint(done)
    bar.close()


def compute_neuron_stats(model: HookedTransformer, name: str, cfg: NeuronsConfig, checkpoints: Path | None = None,
                         source: TokenSource | None = None) -> NeuronStats:
    """Neuron statistics of one loaded model over cfg.tokens tokens of its corpus (`source`, else cfg's corpus);
    with `checkpoints` (the output folder) resumable (see interp.checkpoint)."""
    plan = plan_run(model, name, cfg, source)
    weights = model_weight_stats(model)
    acc = new_accumulator(model, cfg, plan)
    start, save = resumable(checkpoints, cfg, {"acc": acc}, plan)
    stream([model], [acc], cfg, plan, desc=f"neurons {Path(name).name}", start_doc=start, checkpoint=save)
    return finish_stats(model, name, acc, cfg, plan, weights)


def main(cfg: NeuronsConfig) -> NeuronStats:
    """CLI entry (`interp neurons`): compute and write the statistics, print the per-layer summary."""
    t0 = time.time()
    retain_freed_memory()
    out = Path(cfg.output.out)
    claim_outputs(out, cfg, [out])
    model = load_model(cfg.lm.model, start_run(cfg.run.device, cfg.run.threads).device, cfg.lm.weight_processing)
    stats = compute_neuron_stats(model, cfg.lm.model, cfg, out)
    save_neuron_stats(stats, out)
    checkpointer(out, cfg).clear()
    print(f"{cfg.lm.model} ({stats.weight_processing} weight processing) on {corpus_summary(stats.corpus)}, "
          f"{time.time() - t0:.0f} s -> {out}")
    for s in stats.summary["layers"]:
        print(f"  layer {s['layer']}: dead {s['dead_frac']:.1%}  firing {s['fire_freq']:.1%}  exact-zero "
              f"{s['zero_frac']:.1%}  near-zero {s['near_zero_frac']:.1%}  families {s['families']}")
    return stats
