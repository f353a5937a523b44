"""`interp sparsity`: activation sparsity of every MLP layer and neuron, measured as the sparsity papers measure it,
streamed over a corpus (resumable through interp.checkpoint), then the perplexity search and the massive-activation
ablation on held-out rows.

One forward pass per batch of rows feeds every measure through hooks (interp.activations.stream.HookRunner, cut
after the last block): each layer's mlp.hook_post (for a gated MLP the product act(x W_gate) * (x W_up), whose
contribution uses W_down = TransformerLens's W_out) to the zero counts (zeros.py), the |a| sums (dormant.py) and the
activity grid (magnitude.py); each layer's attn.hook_pattern and hook_resid_post to the massive-activation and sink
statistics (massive.py). Rows are read by index, so a resumed run ends with the sums of an uninterrupted one. After
the stream: hot / cold neurons (hotcold.py), the PPL-p% search (ppl.py) and the loss with massive entries set to
their mean and to zero, on the held-out split.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from ..activations.stream import HookRunner
from ..allocator import retain_freed_memory
from ..corpus import CorpusError, TokenSource, describe, open_corpus, rows_available
from ..corpus import summary as corpus_summary
from ..fused import fused_kernels
from ..models import load_model
from ..neurons.run import Plan, batches, resumable
from ..runtime import start_run
from .artifacts import SPARSITY_ARRAYS, SPARSITY_JSON, SparsityRun, build_run, save_sparsity
from .config import MIN_TOKENS, SparsityConfig
from .dormant import AbsSums
from .magnitude import ActivityGrid, threshold_for
from .massive import MassiveStats, ablation_hooks
from .ppl import Evaluation, evaluate, heldout_loss, search
from .zeros import ZeroCounts

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

COUNT_ROWS = 128
"""Tokens per chunk of the per-activation counts on a CPU: a chunk's |a| (0.8 MB on SmolLM2) stays in cache for the
four counts that read it, where passes over a whole batch (12 MB) each go to memory: the counts cost half as much
(~5% of SmolLM2's forward pass instead of ~10%)."""

HOOKS = {"mlp.hook_post": "every measure of MLP activations (zeros, CETT, PPL-p%, hot / cold, dormant)",
         "hook_resid_post": "massive activations", "attn.hook_pattern": "attention sinks"}


class Parts(NamedTuple):
    """The streaming accumulators (each with state() / restore() for checkpoints)."""

    zeros: ZeroCounts
    abs_sums: AbsSums
    grid: ActivityGrid
    massive: MassiveStats

    def as_dict(self) -> dict:
        return self._asdict()


def check_hooks_for_measures(model: HookedTransformer, name: str) -> None:
    """One line naming the hook a measure needs and the model lacks (an attention-only model has no MLP)."""
    if getattr(model.cfg, "attn_only", False) or model.cfg.d_mlp is None:
        raise ValueError(f"{name} has no MLP layers (attention-only), so there are no neurons whose sparsity "
                         f"to measure: give a model with MLPs")
    for hook, measure in HOOKS.items():
        missing = [f"blocks.{layer}.{hook}" for layer in range(model.cfg.n_layers)
                   if f"blocks.{layer}.{hook}" not in model.hook_dict]
        if missing:
            raise ValueError(f"{name} lacks the hook {missing[0]} that {measure} need(s): its MLP or attention is "
                             f"not one TransformerLens exposes this way; give a model with standard or gated MLPs")
    if model.cfg.act_fn is None or getattr(model.cfg, "num_experts", None):
        raise ValueError(f"{name}: only dense MLPs (GELU, ReLU, gated) are measured, not mixtures of experts")


def stream_rows(tokens: int, source: TokenSource, what: str) -> int:
    """Rows of `source` to read for `tokens` non-BOS tokens (a finite corpus that runs out gives what it has)."""
    wanted = -(-tokens // (source.n_ctx - 1))
    have = source.n_rows(wanted)
    if have * (source.n_ctx - 1) < MIN_TOKENS:
        raise CorpusError(f"the corpus {source.description.get('source')} ({source.description.get('split')} split) "
                          f"gives only {have * (source.n_ctx - 1):,} tokens for {what}; at least {MIN_TOKENS} are "
                          f"needed: give more text, a smaller --n-ctx or fewer tokens")
    return rows_available(source, wanted, what)


def heldout_rows(model: HookedTransformer, name: str, cfg: SparsityConfig) -> tuple[Int[Tensor, "row pos"], dict]:
    """The held-out rows for the perplexity search (checked before any streaming)."""
    source = open_corpus(cfg.data, model, "heldout", seed=cfg.seed, model_name=name)
    what = f"the held-out perplexity of --ppl (--ppl-tokens {cfg.ppl_tokens:,}; pass --ppl with no value to skip)"
    n = stream_rows(cfg.ppl_tokens, source, what)
    return source.rows(0, n).tokens, describe(source, n * (source.n_ctx - 1))


def new_parts(model: HookedTransformer, cfg: SparsityConfig, plan: Plan) -> Parts:
    c = model.cfg
    tokens = plan.n_rows * (plan.source.n_ctx - 1)
    return Parts(ZeroCounts(c.n_layers, c.d_mlp, cfg.near_zero), AbsSums(c.n_layers, c.d_mlp),
                 ActivityGrid(c.n_layers, c.d_mlp, cfg.cett_tokens, tokens, cfg.activity_cett),
                 MassiveStats(c.n_layers, c.d_model, c.n_heads, cfg.massive_ratios, cfg.top_massive, cfg.sink_skip))


def stream(model: HookedTransformer, parts: Parts, cfg: SparsityConfig, plan: Plan, start: int, save) -> None:
    """Every batch of rows from `start`: one forward with the measures' hooks (the residual and pattern hooks only
    on the first cfg.massive_tokens tokens' batches); checkpoints every cfg.checkpoint_every rows and once at the
    end (so the searches after it never restream)."""
    L = model.cfg.n_layers
    w_out = torch.stack([model.blocks[layer].mlp.W_out.detach() for layer in range(L)])  # [layer, d_mlp, d_model]
    w_norm = w_out.norm(dim=-1)
    mlp = [f"blocks.{layer}.mlp.hook_post" for layer in range(L)]
    every_hook = HookRunner(model, [f"blocks.{layer}.{h}" for layer in range(L)
                                    for h in ("attn.hook_pattern", "mlp.hook_post", "hook_resid_post")])
    mlp_only = HookRunner(model, mlp)
    per_row, every, done = plan.source.n_ctx - 1, cfg.checkpoint_every, start
    massive_rows = -(-cfg.massive_tokens // plan.source.n_ctx)
    bar = tqdm(total=plan.n_rows * per_row, initial=start * per_row, unit="tok", unit_scale=True,
               desc=f"sparsity {Path(str(cfg.lm.model)).name}")
    # fused kernels: a gated MLP's weights laid out once, not copied per call; with the pattern hooked, attention
    # runs TransformerLens's own code
    with torch.inference_mode(), fused_kernels(model):
        for tokens, _ in batches(plan.source, plan.n_rows, cfg.batch_size, start):
            tokens = tokens.long()
            massive = done < massive_rows
            parts.massive.begin_batch()

            def on_act(name: str, act: Tensor, first=done, tokens=tokens) -> None:
                layer = int(name.split(".")[1])
                if name.endswith("hook_pattern"):
                    parts.massive.add_pattern(layer, act)
                elif name.endswith("hook_resid_post"):
                    parts.massive.add_resid(layer, act, tokens, first)
                else:  # BOS left out of the neuron measures
                    add_mlp(parts, layer, act[:, 1:].reshape(-1, act.shape[-1]), w_norm[layer], w_out[layer])

            (every_hook if massive else mlp_only).run(tokens.to(model.cfg.device), on_act)
            parts.massive.end_batch()
            bar.update(tokens.shape[0] * per_row)
            done += tokens.shape[0]
            if save is not None and ((every and done // every > (done - len(tokens)) // every) or done == plan.n_rows):
                save(done)
    bar.close()


def add_mlp(parts: Parts, layer: int, a: Float[Tensor, "tok d_mlp"], w_norm: Float[Tensor, " d_mlp"],
            w_out: Float[Tensor, "d_mlp d_model"]) -> None:
    """One batch of a layer's activations into every MLP measure: the activity grid's CETT sample, then, chunk by
    chunk, one |a| shared by the zero, near-zero, |a|-sum and firing counts (on a CPU in chunks of COUNT_ROWS
    tokens, which stay in cache while the four counts read them)."""
    parts.grid.sample(layer, a, w_norm, w_out)
    for rows in a.split(COUNT_ROWS) if a.device.type == "cpu" else (a,):
        abs_a = rows.abs()
        parts.zeros.add(layer, rows, abs_a)
        parts.abs_sums.add(layer, rows, abs_a)
        parts.grid.count(layer, abs_a * w_norm)


def ppl_and_ablation(model: HookedTransformer, parts: Parts, cfg: SparsityConfig, rows: Int[Tensor, "row pos"]
                     ) -> dict:
    """The PPL-p% search and the massive-entry ablation on the held-out rows."""
    grid = parts.grid
    cett, eps, top = grid.cett(), grid.eps.numpy(), (2 * grid.m_max).numpy()
    w_norm = torch.stack([b.mlp.W_out.detach().norm(dim=-1) for b in model.blocks])

    def run(c: float) -> Evaluation:
        thresholds = [0.0 if c == 0 else threshold_for(c, cett[layer], eps[layer], float(top[layer]))
                      for layer in range(len(eps))]
        return evaluate(model, rows, cfg.batch_size, c, thresholds, w_norm)

    results, evaluations = search(run, cfg.ppl, cfg.ppl_steps)
    base = evaluations[0].loss
    out = {"ppl": results, "ppl_evaluations": [e._asdict() for e in evaluations], "loss_full": base}
    sites = parts.massive.site_n
    if int(sites.sum()) == 0:
        out["ablation"] = {"note": f"no residual entry exceeded {cfg.massive_ratios[0]:g}x its token's median"}
        return out
    mean, ratio = parts.massive.site_mean(), cfg.massive_ratios[0]
    out["ablation"] = {"loss_full": base, **{
        f"loss_set_to_{how}": heldout_loss(model, rows, cfg.batch_size,
                                           ablation_hooks(mean, sites, ratio, to_zero=how == "zero"))
        for how in ("mean", "zero")}}
    return out


def compute_sparsity(model: HookedTransformer, name: str, cfg: SparsityConfig, out: Path | None) -> SparsityRun:
    """Every measure of one loaded model over cfg.tokens tokens of its corpus; with `out`, resumable."""
    check_hooks_for_measures(model, name)
    rows, heldout = heldout_rows(model, name, cfg) if cfg.ppl else (None, None)
    source = open_corpus(cfg.data, model, None if cfg.split == "all" else cfg.split, seed=cfg.seed, model_name=name)
    plan = Plan(source, stream_rows(cfg.tokens, source, f"--tokens {cfg.tokens:,}"), None, None, None)
    parts = new_parts(model, cfg, plan)
    start, save = resumable(out, cfg, parts.as_dict(), plan)
    if start < plan.n_rows:
        stream(model, parts, cfg, plan, start, save)
    after = ppl_and_ablation(model, parts, cfg, rows) if rows is not None else {
        "ppl": [], "ablation": {"note": "skipped (no --ppl: no held-out rows read)"}}
    n_tokens = int(parts.zeros.n_tokens[0])
    return build_run(model, name, cfg, parts, after, describe(source, n_tokens), heldout)


def main(cfg: SparsityConfig) -> SparsityRun:
    """CLI entry (`interp sparsity`): measure, write the artifact, print the summary (model and corpus first)."""
    t0 = time.time()
    out = Path(cfg.output.out)
    from ..checkpoint import CKPT_DIR, Checkpointer, identity

    if not Checkpointer(out, identity(cfg)).exists():
        cfg.output.claim(out / SPARSITY_JSON, out / SPARSITY_ARRAYS, out / CKPT_DIR)
    retain_freed_memory()  # the batches' tensors reuse freed pages instead of faulting in fresh ones (interp.allocator)
    model = load_model(cfg.lm.model, start_run(cfg.run.device, cfg.run.threads).device, cfg.lm.weight_processing)
    result = compute_sparsity(model, cfg.lm.model, cfg, out)
    save_sparsity(result, out)
    Checkpointer(out, identity(cfg)).clear()
    print(f"{cfg.lm.model} ({result.weight_processing} weight processing, {result.act_fn}"
          f"{' gated' if result.gated else ''} MLP) on {corpus_summary(result.corpus)}, {time.time() - t0:.0f} s "
          f"-> {out}")
    for line in result.summary_lines():
        print("  " + line)
    return result
