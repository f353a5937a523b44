"""`interp train-sae`: check the output folder, set up data and processes, train, save, evaluate.

The output folder must be new, empty, or hold a checkpoint of a run with the same options (then that run resumes);
anything else is refused so nothing is overwritten. A run writes a step-0 checkpoint right after initialisation, so
a run killed at any point can be resumed. At the end each SAE is saved in SAELens format (saes.io: cfg.json +
sae_weights.safetensors, activation scale folded in) beside its train_log.jsonl and, unless --eval false, its
eval.json (saes.eval.report). Under `torchrun --nproc_per_node=N -m apps.cli train-sae ...` the same command trains
with DistributedDataParallel; process 0 writes every file.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from interp.provenance import DEFAULT_MODEL, ModelRecord, check_model, heldout_corpus, model_record
from interp.runtime import RunContext, start_run
from saes import io
from saes.training import checkpoint as ck
from saes.training.config import TrainSAEConfig
from saes.training.data import ShardedSource, make_source
from saes.training.trainer import LOG_FILE, Trainer

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer


def check_out(cfg: TrainSAEConfig) -> bool:
    """True if cfg.output.out holds a checkpoint to resume; raise if it holds anything else."""
    out = Path(cfg.output.out)
    if ck.Checkpointer(out, {}).exists():
        return True
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "a finished SAE" if (out / io.CFG_FILENAME).exists() else "other files"
        raise FileExistsError(f"--out {out} is not empty ({what}) and holds no resumable run; nothing was "
                              f"overwritten. Choose another --out or delete that folder")
    return False


def _truncate_logs(trainer: Trainer) -> None:
    """Drop log lines written after the checkpoint being resumed (they will be written again)."""
    for run in trainer.runs:
        path = run.folder / LOG_FILE
        if path.exists():
            lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
            keep = [ln for ln in lines if json.loads(ln)["step"] <= trainer.start_step]
            path.write_text("".join(ln + "\n" for ln in keep))


def with_provenance(cfg: TrainSAEConfig) -> TrainSAEConfig:
    """cfg with the model (and weight processing) the --cache records, or the default toy model on the fly (a
    --model that disagrees with the cache is an error naming both), and without --hook the MLP output of that
    model's middle layer."""
    from interp.models import MIDDLE_LAYER, resolve_layer

    lm = cfg.lm
    if cfg.source.cache:
        from interp.activations.reader import ActivationCache

        recorded = ModelRecord.read(ActivationCache.open(cfg.source.cache).manifest, f"the cache {cfg.source.cache}")
        lm = replace(lm, **check_model(lm.model, lm.weight_processing, recorded)._asdict())
    else:
        lm = replace(lm, model=lm.model or DEFAULT_MODEL)
    hook = cfg.hook or f"blocks.{resolve_layer(MIDDLE_LAYER, lm.model)}.mlp.hook_post"
    return replace(cfg, lm=lm, hook=hook)


def _load_model(cfg: TrainSAEConfig, device: str):
    if cfg.source.cache and not cfg.output.eval:
        return None
    from interp.models import load_model

    return load_model(cfg.lm.model, device, cfg.lm.weight_processing)


def build_trainer(cfg: TrainSAEConfig, dist: RunContext, model: HookedTransformer | None = None,
                  source: ShardedSource | None = None) -> Trainer:
    """Source + trainer, resumed from cfg.output.out's checkpoint or freshly initialised (with a step-0 checkpoint)."""
    resuming = check_out(cfg)
    dist.barrier()  # every process has looked at the folder before process 0 writes into it
    source = source if source is not None else make_source(cfg, model, cfg.optim.batch)
    trainer = Trainer(cfg, source, dist)
    if resuming:
        trainer.resume()
    else:
        trainer.init_from_data()
    if dist.is_main:
        for run in trainer.runs:
            run.folder.mkdir(parents=True, exist_ok=True)
        if resuming:
            _truncate_logs(trainer)
    if not resuming and cfg.output.checkpoint_every:
        trainer.checkpoint(0)
    dist.barrier()
    trainer.wrap()
    return trainer


def finish(trainer: Trainer, model: HookedTransformer) -> list[dict]:
    """Save every SAE (SAELens format), evaluate them together (one clean and one zero-ablation pass of the model
    for all), drop the checkpoint; process 0 only. Returns summaries."""
    cfg = trainer.cfg
    summaries = []
    for run in trainer.runs:
        run.sae.eval()
        io.save(run.sae, run.folder)
        summaries.append({"name": run.spec.name, "folder": str(run.folder),
                          **model_record(cfg.lm.model, cfg.lm.weight_processing), "corpus": trainer.source.corpus})
    if cfg.output.eval:
        from saes.eval.report import evaluate_many, write_report

        corpus = heldout_corpus(model, cfg.lm.model, trainer.source.corpus, cfg.data.corpus,
                                cfg.data.n_ctx, cfg.source.data_seed, cfg.data.text_column)
        saes = [io.load(run.folder, device=trainer.dist.device) for run in trainer.runs]
        reports = evaluate_many(saes, model, corpus, hook=cfg.hook, n_tokens=cfg.output.eval_tokens)
        for run, report, summary in zip(trainer.runs, reports, summaries):
            report.update(model_record(cfg.lm.model, cfg.lm.weight_processing))
            write_report(run.folder, report)
            summary.update({k: report[k] for k in ("l0", "r2", "ce_loss_recovered", "dead_fraction")})
    if len(trainer.runs) > 1:
        (Path(cfg.output.out) / "sweep.json").write_text(json.dumps(summaries, indent=1))
    if not cfg.output.keep_checkpoint:
        ck.Checkpointer(cfg.output.out, {}).clear()
    return summaries


def train_saes(cfg: TrainSAEConfig, model: HookedTransformer | None = None,
               source: ShardedSource | None = None) -> list[dict]:
    """Train (or resume) every SAE of cfg; returns one summary per SAE (on process 0; [] on the others).

    `model` saves loading the model again; `source` replaces the cache / on-the-fly activations (e.g. a
    TensorSource).
    """
    cfg = with_provenance(cfg)
    dist = start_run(cfg.run.device, cfg.run.threads, cfg.optim.batch)
    trainer = None
    try:
        if model is None and (source is None or cfg.output.eval):
            model = _load_model(cfg, dist.device)
        trainer = build_trainer(cfg, dist, model, source)
        trainer.fit()
        summaries = finish(trainer, model) if dist.is_main else []
        dist.barrier()
        return summaries
    finally:
        # DDP's reducers hold the process group: free them while the group exists. Freed after
        # destroy_process_group, the gloo group's destructor ran from the reducer's and could hang joining its threads.
        del trainer
        dist.close()


def main(cfg: TrainSAEConfig) -> list[dict]:
    """CLI entry: train, then print one line per SAE, naming its model and corpus."""
    from interp.corpus import summary as corpus_summary

    summaries = train_saes(cfg)
    for s in summaries:
        metrics = " ".join(f"{k}={v:.4g}" for k, v in s.items() if isinstance(v, float))
        trained_on = f"({s['model']}, {s['weight_processing']} weight processing, {corpus_summary(s['corpus'] or {})})"
        print(f"saved {s['folder']} {trained_on} {metrics}".rstrip())
    return summaries
