"""Streaming the toy-world corpus through one or more models with MLP hooks (resumable through interp.checkpoint),
and the `interp neurons` command."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..activations.stream import HookRunner
from ..checkpoint import Checkpointer, identity
from ..models import load_model
from ..runtime import start_run
from ..toyworld.corpus import CorpusConfig, iter_chunks, vocabulary
from .artifacts import NeuronStats, save_neuron_stats
from .config import MIN_TOKENS, NeuronsConfig
from .stats import NeuronAccumulator
from .summarize import FAMILIES, FamilyRules, classify, summarize, weight_stats


def check_toy_vocab(model, name: str) -> None:
    """The neuron commands read toy-world token ids: the model must use the toy vocabulary."""
    vocab = vocabulary()
    tok = getattr(model, "tokenizer", None)
    ids = tok.get_vocab() if tok is not None else {}
    if model.cfg.d_vocab < len(vocab) or any(ids.get(w) != i for i, w in enumerate(vocab)):
        raise ValueError(f"model {name!r} does not use the toy-world vocabulary ({len(vocab)} words); the neuron "
                         f"commands stream the toy-world corpus and need a toy model (e.g. toy-gelu-s0)")


def corpus_batches(cfg: CorpusConfig, n_docs: int, batch_size: int, start_doc: int = 0
                   ) -> Iterator[tuple[Tensor, np.ndarray]]:
    """(tokens [b, n_ctx] long, labels [b, n_ctx, fields]) for documents start_doc .. n_docs-1 of the corpus, in the
    batches a run from document 0 has (a resumed run sums in the same order, so to the same float64 totals)."""
    done = 0
    for ids, labels in iter_chunks(cfg):
        for lo in range(0, len(ids), batch_size):
            n = min(batch_size, len(ids) - lo, n_docs - done)
            if n <= 0:
                return
            if done >= start_doc:
                yield torch.from_numpy(ids[lo:lo + n]).long(), labels[lo:lo + n]
            done += n


def n_docs_for(tokens: int, n_ctx: int) -> int:
    """Documents needed so that at least `tokens` non-BOS tokens are streamed."""
    if n_ctx < 2:
        raise ValueError(f"n_ctx={n_ctx}: documents need BOS plus at least one token")
    if tokens < MIN_TOKENS:
        raise ValueError(f"tokens={tokens} is too few for neuron statistics; use at least {MIN_TOKENS}")
    return -(-tokens // (n_ctx - 1))


def mlp_runner(model) -> HookRunner:
    """Every layer's mlp.hook_pre and hook_post, in model order."""
    return HookRunner(model, [f"blocks.{layer}.mlp.{h}" for layer in range(model.cfg.n_layers)
                              for h in ("hook_pre", "hook_post")])


def mlp_callback(acc: NeuronAccumulator, sink: Callable[[int, Tensor], None] | None = None
                 ) -> Callable[[str, Tensor], None]:
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


def new_accumulator(model, cfg) -> NeuronAccumulator:
    c = model.cfg
    return NeuronAccumulator(c.n_layers, c.d_mlp, c.d_vocab, c.n_ctx, fire_on_post=c.act_fn == "relu",
                             fire_threshold=cfg.fire_threshold, near_zero=cfg.near_zero, pos_bins=cfg.pos_bins,
                             auroc_tokens=cfg.auroc_tokens, bigram_slots=cfg.bigram_slots)


def layer_summary(a: dict[str, np.ndarray]) -> list[dict]:
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


def finish_stats(model, name: str, acc: NeuronAccumulator, cfg, rules: FamilyRules | None = None) -> NeuronStats:
    rules = rules or FamilyRules()
    arrays, concepts, pairs = summarize(acc, cfg.top_k)
    arrays.update(weight_stats(model, n_vocab=len(vocabulary())))
    arrays.update(classify(arrays, rules))
    arrays["bigram_pairs"] = pairs.astype(np.int32)
    config = {k: v for k, v in asdict(cfg).items() if k not in ("out", "models")}
    return NeuronStats(model=name, n_tokens=acc.n_tokens, act_fn=model.cfg.act_fn, config=config,
                       concepts=concepts, families=list(FAMILIES), rules=asdict(rules),
                       summary={"layers": layer_summary(arrays)}, arrays=arrays, vocab=list(vocabulary()))


NOT_IDENTITY = ("out", "device", "threads", "checkpoint_every")
"""Options that do not change the statistics (a checkpoint resumes under other values of these)."""


def checkpointer(out: Path, cfg) -> Checkpointer:
    return Checkpointer(out, identity(cfg, NOT_IDENTITY))


def resumable(out: Path | None, cfg, parts: dict) -> tuple[int, Callable[[int], None] | None]:
    """Restore `parts` (name -> accumulator with state() / restore()) from the checkpoint in `out`, if any; returns
    the first document still to stream and the function that checkpoints after a given document count. The sums
    are restored exactly and the corpus is a pure function of the seed and document index, so a resumed run ends
    with the statistics of an uninterrupted one."""
    if out is None:
        return 0, None
    ckpt = checkpointer(out, cfg)
    start = 0
    if (loaded := ckpt.load()) is not None:
        start = loaded.step
        for name, part in parts.items():
            part.restore(loaded.tensors[name], loaded.meta[name])

    def save(docs_done: int) -> None:
        states = {name: part.state() for name, part in parts.items()}
        ckpt.save(docs_done, {n: t for n, (t, _) in states.items()}, {n: m for n, (_, m) in states.items()})

    return start, save


def stream(models: list, accs: list[NeuronAccumulator], cfg, n_docs: int,
           on_batch: Callable[[list[list[Tensor]]], None] | None = None, desc: str = "neurons", start_doc: int = 0,
           checkpoint: Callable[[int], None] | None = None) -> None:
    """Run every model on the same batches from document `start_doc`; `on_batch` gets each model's
    post-activations per layer; `checkpoint(docs_done)` is called every cfg.checkpoint_every documents."""
    corpus = CorpusConfig(seed=cfg.seed, n_ctx=models[0].cfg.n_ctx, split=cfg.split)
    per_doc, every, done = corpus.n_ctx - 1, cfg.checkpoint_every, start_doc
    bar = tqdm(total=n_docs * per_doc, initial=start_doc * per_doc, unit="tok", desc=desc, unit_scale=True)
    runners = [mlp_runner(model) for model in models]
    with torch.inference_mode():
        for tokens, labels in corpus_batches(corpus, n_docs, cfg.batch_size, start_doc):
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


def compute_neuron_stats(model, name: str, cfg: NeuronsConfig, checkpoints: Path | None = None) -> NeuronStats:
    """Neuron statistics of one loaded model over cfg.tokens tokens of the toy-world corpus; with `checkpoints`
    (the output folder) resumable (see checkpoint.py)."""
    check_toy_vocab(model, name)
    acc = new_accumulator(model, cfg)
    start, save = resumable(checkpoints, cfg, {"acc": acc})
    stream([model], [acc], cfg, n_docs_for(cfg.tokens, model.cfg.n_ctx), desc=f"neurons {name}", start_doc=start,
           checkpoint=save)
    return finish_stats(model, name, acc, cfg)


def main(cfg: NeuronsConfig) -> NeuronStats:
    """CLI entry (`interp neurons`): compute and write the statistics, print the per-layer summary."""
    t0 = time.time()
    model = load_model(cfg.model, start_run(cfg.device, cfg.threads).device)
    stats = compute_neuron_stats(model, cfg.model, cfg, Path(cfg.out))
    save_neuron_stats(stats, Path(cfg.out))
    checkpointer(Path(cfg.out), cfg).clear()
    print(f"{cfg.model}: {stats.n_tokens:,} tokens in {time.time() - t0:.0f} s -> {cfg.out}")
    for s in stats.summary["layers"]:
        print(f"  layer {s['layer']}: dead {s['dead_frac']:.1%}  firing {s['fire_freq']:.1%}  exact-zero "
              f"{s['zero_frac']:.1%}  near-zero {s['near_zero_frac']:.1%}  families {s['families']}")
    return stats
