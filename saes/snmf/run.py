"""`interp snmf`: factorise one layer's MLP activations, with progress, checkpoints and resume, then eval.json.

While running, the output folder holds a checkpoint (interp.checkpoint: solver state F, G and the iteration for
the full solver; F, the partial sums and the batch index for the streaming one), written every `checkpoint_every`
iterations / batches; running the same command again continues from it. A checkpoint made with other settings is
refused, naming them (use another --out). At the end: snmf.safetensors + snmf.json (saes.snmf.dictionary.SNMF,
top tokens per feature included) and eval.json (saes.eval.report). The checkpoint stays, so a rerun with a larger
--max-iter continues from it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm

from interp.activations.stream import NonFiniteError
from interp.checkpoint import CKPT_DIR, Checkpointer, dataclass_state, identity, prefixed, unprefixed
from interp.corpus import open_corpus, summary
from interp.provenance import DEFAULT_MODEL, ModelRecord, check_model, heldout_corpus, model_record
from interp.runtime import start_run
from saes.eval.report import REPORT, evaluate_snmf, write_report
from saes.snmf.data import cache_stream, mlp_hook, model_stream
from saes.snmf.dictionary import CONFIG, SNMF, WEIGHTS, top_tokens_from_codes
from saes.snmf.solver import FullState, InitParams, SNMFSolverConfig, fit_full
from saes.snmf.streaming import StreamState, fit_streaming, stream_codes

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer


def solver_config(cfg) -> SNMFSolverConfig:
    return SNMFSolverConfig(k=cfg.k, sparsity=cfg.sparsity, init=cfg.init, max_iter=cfg.max_iter,
                            patience=cfg.patience, tol=cfg.tol, seed=cfg.seed)


def checkpointer(out: Path, cfg) -> Checkpointer:
    """The run's checkpoints, under what the solver computes (max_iter, patience and tol may change on a rerun)."""
    return Checkpointer(out, identity(cfg))


def save_checkpoint(out: Path, cfg, state: FullState | StreamState) -> None:
    tensors, meta = dataclass_state(state)
    if isinstance(state, StreamState):
        meta.pop("params")
        params_t, meta["params"] = dataclass_state(state.params)
        tensors.update(prefixed("params", params_t))
    n_done = state.iteration if isinstance(state, FullState) else state.epoch * 1_000_000 + state.batch
    checkpointer(out, cfg).save(n_done, {"state": tensors}, meta)


def load_checkpoint(out: Path, cfg) -> FullState | StreamState | None:
    loaded = checkpointer(out, cfg).load()
    if loaded is None:
        return None
    t, meta = loaded.tensors["state"], loaded.meta
    if cfg.solver == "full":
        state: FullState | StreamState = FullState(**meta, **{k: v for k, v in t.items() if "." not in k})
        n_done = state.iteration
    else:
        params = InitParams(**meta.pop("params"), **unprefixed("params", t))
        state = StreamState(**meta, params=params, **{k: v for k, v in t.items() if "." not in k})
        n_done = len(state.losses)
    state.done = state.since_best >= cfg.patience or n_done >= cfg.max_iter  # a rerun may allow more iterations
    return state


def with_provenance(cfg):
    """cfg with the model (and weight processing) the --cache records, else the default toy model (a --model that
    disagrees with the cache is an error naming both), --layer resolved for that model (default: its middle layer;
    one it lacks is an error) and the default --out named after both."""
    from interp.models import resolve_layer

    lm = cfg.lm
    if cfg.cache:
        from interp.activations.reader import ActivationCache

        recorded = ModelRecord.read(ActivationCache.open(cfg.cache).manifest, f"the cache {cfg.cache}")
        lm = replace(lm, **check_model(lm.model, lm.weight_processing, recorded)._asdict())
    lm = replace(lm, model=lm.model or DEFAULT_MODEL)
    layer = resolve_layer(cfg.layer, lm.model)
    output = cfg.output if cfg.output.out else replace(cfg.output, out=f"runs/snmf/{Path(lm.model).name}-L{layer}")
    return replace(cfg, lm=lm, layer=layer, output=output)


def make_source(cfg, model: HookedTransformer):
    """Activations from --cache, or the model run over the training split of --corpus."""
    if cfg.cache:
        return cache_stream(cfg.cache, mlp_hook(cfg.layer), cfg.tokens, cfg.batch_size)
    corpus = open_corpus(cfg.data, model, "train", seed=cfg.seed, model_name=cfg.lm.model)
    return model_stream(model, cfg.layer, cfg.tokens, corpus, cfg.batch_size)


def run_full(cfg, source, out: Path, device: str) -> tuple[Float[Tensor, "d k"], Float[Tensor, "n k"], FullState]:
    scfg = solver_config(cfg)
    acts_ND = source.all_acts().to(device)
    state = load_checkpoint(out, cfg)
    bar = tqdm(total=scfg.max_iter, initial=state.iteration if state else 0, desc="snmf full", unit="it")

    def on_step(st: FullState) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{st.losses[-1]:.4f}", best=f"{st.best_loss:.4f}")
        if st.iteration % cfg.checkpoint_every == 0 or st.done:
            save_checkpoint(out, cfg, st)

    st = fit_full(acts_ND, scfg, state, on_step)
    bar.close()
    assert st.best_F_DK is not None and st.best_G_NK is not None
    return st.best_F_DK.cpu(), st.best_G_NK.cpu(), st


def run_streaming(cfg, source, out: Path
                  ) -> tuple[Float[Tensor, "d k"], Iterator[Float[Tensor, "n k"]], StreamState]:
    scfg = solver_config(cfg)
    state = load_checkpoint(out, cfg)
    n_batches = math.ceil(source.n_tokens / cfg.batch_size)
    bar = tqdm(total=scfg.max_iter, initial=max(0, state.epoch - 1) if state else 0, desc="snmf streaming",
               unit="pass")

    def on_batch(st: StreamState) -> None:
        if st.batch % cfg.checkpoint_every == 0 and st.batch < n_batches:
            save_checkpoint(out, cfg, st)

    def on_epoch(st: StreamState) -> None:
        if st.losses:
            bar.update(1)
            bar.set_postfix(loss=f"{st.losses[-1]:.4f}", best=f"{st.best_loss:.4f}")
        save_checkpoint(out, cfg, st)

    st = fit_streaming(source, scfg, state, on_batch=on_batch, on_epoch=on_epoch)
    bar.close()
    assert st.best_F_DK is not None
    return st.best_F_DK, stream_codes(source, st.best_F_DK), st


def main(cfg) -> SNMF:
    """CLI entry: fit (or resume), save the SNMF result with top tokens, evaluate into eval.json."""
    from interp.models import load_model

    cfg = with_provenance(cfg)
    out = Path(cfg.output.out)
    if not checkpointer(out, cfg).exists():  # a finished run (or anything else) there is kept without --overwrite
        cfg.output.claim(*(out / f for f in (WEIGHTS, CONFIG, REPORT, CKPT_DIR)))
    device = start_run(cfg.run.device, cfg.run.threads).device
    model = load_model(cfg.lm.model, device, cfg.lm.weight_processing)
    source = make_source(cfg, model)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        if cfg.solver == "full":
            F_DK, codes, st = run_full(cfg, source, out, device)
            iters = st.iteration
        else:
            F_DK, codes, st = run_streaming(cfg, source, out)
            iters = len(st.losses)
    except NonFiniteError as e:
        kept = "its last checkpoint is kept" if checkpointer(out, cfg).exists() else "nothing was written"
        raise NonFiniteError(f"{e}: the factorisation stopped, {kept}. Check the model and the corpus (or cache) "
                             f"for overflowing activations") from None
    corpus = {**source.corpus_description, "tokens": source.n_tokens}
    info = {**model_record(cfg.lm.model, cfg.lm.weight_processing), "corpus": corpus,
            "layer": cfg.layer, "solver": cfg.solver, "init": cfg.init, "k": cfg.k, "sparsity": cfg.sparsity,
            "tokens": source.n_tokens, "seed": cfg.seed, "loss": st.best_loss, "iterations": iters,
            "losses": st.losses, "fit_seconds_this_run": time.perf_counter() - t0}
    snmf = SNMF(F_DK.float(), mlp_hook(cfg.layer), info)
    snmf.top = top_tokens_from_codes(codes, source, cfg.top_m)
    snmf.save(out)
    if not cfg.output.keep_checkpoint:
        checkpointer(out, cfg).clear()
    msg = (f"wrote {out}: K={cfg.k} loss={st.best_loss:.4f} after {iters} iterations ({cfg.lm.model}, "
           f"{cfg.lm.weight_processing} weight processing, {summary(corpus)})")
    if cfg.eval_tokens > 0:
        held = heldout_corpus(model, cfg.lm.model, source.corpus_description, seed=cfg.seed)
        report = evaluate_snmf(snmf, model, held, cfg.eval_tokens)
        report.update(model_record(cfg.lm.model, cfg.lm.weight_processing))
        write_report(out, report)
        gt = (report["ground_truth"] or {}).get("mean_auroc")
        msg += (f"; eval: l0={report['l0']:.3g} r2={report['r2']:.4f} ce_loss_recovered="
                f"{report['ce_loss_recovered']:.4f}" + (f" mean_auroc={gt:.4f}" if gt is not None else ""))
    print(msg)
    return snmf
