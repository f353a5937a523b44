"""The SAE trainer: every SAE of a sweep takes one Adam step on the same activation batch, then the next batch.

Per step: `step` (forward, backward, decoder-norm handling, gradient-norm clipping, Adam with warmup/decay,
sparsity-coefficient warmup),
`update_dead_stats` (tokens since each latent last fired, summed over processes), `step_hooks` (each kind's optional
per-step hook, e.g. ReLU's resampling with --resample-every, see saes/relu.py), every `log_every` steps `log`
(train_log.jsonl + progress bar: loss, L0, R², dead fraction), every `checkpoint_every` steps `checkpoint`
(weights, Adam state, dead counters; see checkpoint.py). Before the first step the activation scale
s = sqrt(d_in)/E||x|| is estimated on the first batches and b_dec set from the first batch (identically on every
process: each reads the whole global batches for this). The scale is folded into the weights at save (saes.io).
A killed run started again with the same options resumes from its last checkpoint and ends where an uninterrupted run
would: the data plan is a pure function of the step (data.py) and all optimiser state is restored.
"""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor, nn
from tqdm.auto import tqdm

from interp.checkpoint import identity
from interp.provenance import model_record
from interp.runtime import RunContext
from saes import BaseSAE, SAELosses, build_sae
from saes.base import StepContext
from saes.config import sae_config
from saes.registry import kind
from saes.training import checkpoint as ck
from saes.training.config import SAESpec, TrainSAEConfig, expand_grid
from saes.training.data import NonFiniteError, Pair, ShardedSource

LOG_FILE = "train_log.jsonl"
NORM_BATCHES = 8


class LossModule(nn.Module):
    """sae.step_loss as a forward pass (what DistributedDataParallel wraps); returns the SAELosses."""

    def __init__(self, sae: BaseSAE):
        super().__init__()
        self.sae = sae

    def forward(self, x: Float[Tensor, "batch d_in"], dead_mask: Bool[Tensor, " d_sae"], coeff: float,
                target: Float[Tensor, "batch d_out"]) -> SAELosses:
        return self.sae.step_loss(StepContext(x, dead_mask, coeff, target))


@dataclass
class Run:
    """One SAE of the sweep with its optimiser and bookkeeping."""

    spec: SAESpec
    sae: BaseSAE
    opt: torch.optim.Adam
    folder: Path
    tokens_since_fired: Tensor
    module: nn.Module | None = None
    resampled: int = 0
    """Latents its kind's step hook changed so far (ReLU's resampling with --resample-every)."""


def sae_folders(cfg: TrainSAEConfig, specs: list[SAESpec]) -> list[Path]:
    """The run's folder for a single SAE, one sub-folder per SAE for a sweep."""
    out = Path(cfg.output.out)
    return [out] if len(specs) == 1 else [out / s.name for s in specs]


class Trainer:
    """Trains the SAEs of `cfg`'s grid on `source` (see module docstring)."""

    def __init__(self, cfg: TrainSAEConfig, source: ShardedSource, dist: RunContext | None = None):
        self.cfg, self.source, self.dist = cfg, source, dist or RunContext()
        self.out = Path(cfg.output.out)
        self.ckpt = ck.Checkpointer(self.out, identity(cfg))
        self.specs = expand_grid(cfg)
        self.lo, self.hi = self.dist.rows(cfg.optim.batch)
        self.runs = [self._build(s, f) for s, f in zip(self.specs, sae_folders(cfg, self.specs))]
        self.start_step, self.elapsed, self.last_checkpoint = 0, 0.0, -1
        self._global: tuple[int, Tensor] | None = None

    def _build(self, spec: SAESpec, folder: Path) -> Run:
        cfg = self.cfg
        # every hyperparameter the options have is offered; each architecture's config takes its own (an option
        # left unset, None, leaves the config's default)
        offered = dict(k=spec.k, sparsity_coeff=spec.coefficient, aux_coeff=cfg.sae.aux_coefficient,
                       bandwidth=cfg.sae.bandwidth, init_threshold=cfg.sae.init_threshold,
                       pre_act_coeff=cfg.sae.pre_act_coefficient, threshold_lr=cfg.threshold_lr,
                       prefixes=cfg.sae.prefixes, unit_norm_decoder=cfg.sae.unit_norm_decoder)
        sae_cfg = sae_config(spec.arch, strict=False, d_in=self.source.d_in, d_sae=spec.d_sae, hook_name=cfg.hook,
                             device=self.dist.device, model_name=cfg.lm.model, metadata=self._metadata(spec),
                             **{k: v for k, v in offered.items() if v is not None})
        torch.manual_seed(spec.seed)
        sae = build_sae(sae_cfg).train()
        sae.sparse_step = cfg.optim.sparse_step
        # fused: the whole Adam update in one pass per parameter (CPU and CUDA kernels); on CPU torch's default is a
        # Python loop over the parameters, and foreach still makes ~8 passes (fused is ~5x faster than foreach at
        # d_sae 4096: 10 vs 60 ms per step, 2 threads); the same update up to float rounding (~1e-7)
        opt = torch.optim.Adam(sae.parameters(), lr=spec.lr, fused=True)
        dead = torch.zeros(spec.d_sae, dtype=torch.int64, device=self.dist.device)
        return Run(spec, sae, opt, folder, dead)

    def _meta(self, spec: SAESpec) -> dict:
        c = self.cfg
        return {"name": spec.name, "seed": spec.seed, "lr": spec.lr, "coefficient": spec.coefficient,
                "tokens": c.steps * c.optim.batch, "batch_size": c.optim.batch,
                "data": c.source.cache or "on the fly", "data_seed": c.source.data_seed,
                "exclude_bos": c.source.exclude_bos}

    def _metadata(self, spec: SAESpec) -> dict:
        """What cfg.json records beside the SAE: training settings, the model's weight processing and fingerprint
        (its name is SAELens's model_name) and the corpus (with the tokens trained on)."""
        record = model_record(self.cfg.lm.model, self.cfg.lm.weight_processing)
        meta = {"training": self._meta(spec), **{k: v for k, v in record.items() if k != "model"}}
        if self.source.corpus is not None:
            meta["corpus"] = {**self.source.corpus, "tokens": self.cfg.steps * self.cfg.optim.batch}
        return meta

    # set-up
    @torch.no_grad()
    def init_from_data(self) -> None:
        """Activation scale from the first batches, then b_dec from the first batch (whole global batches)."""
        first = self.source.batch(0).to(self.dist.device)
        scale = 1.0
        if self.cfg.source.normalize:
            norms = [first.norm(dim=-1).double().mean()]
            for s in range(1, min(NORM_BATCHES, self.cfg.steps)):
                norms.append(self.source.batch(s).norm(dim=-1).double().mean())
            mean_norm = float(torch.stack(norms).mean())
            if not mean_norm > 0:
                raise ValueError(f"the activations at {self.cfg.hook} are all zero; pick another --hook")
            scale = math.sqrt(self.source.d_in) / mean_norm
        for run in self.runs:
            run.sae.cfg.act_scale = scale
            if self.cfg.sae.b_dec_init != "zero":
                run.sae.init_b_dec_(first, self.cfg.sae.b_dec_init)
            if self.cfg.sae.init_l0 > 0:
                run.sae.init_sparsity_(first, self.cfg.sae.init_l0)

    def resume(self) -> None:
        """Load the current checkpoint of cfg.output.out (which must belong to this config)."""
        loaded = self.ckpt.load()
        if loaded is None:
            raise ck.CheckpointError(f"{self.out} holds no checkpoint to resume")
        meta, states = loaded.meta, ck.load_states(loaded)
        if len(states) != len(self.runs):
            raise ck.CheckpointError(f"corrupt checkpoint in {self.out}: {len(states)} SAEs, the config has "
                                     f"{len(self.runs)}")
        d_ckpt = states[0].tensors["param.W_enc"].shape[0]
        if d_ckpt != self.source.d_in:
            raise ValueError(f"d_in mismatch: the checkpoint in {self.out} has d_in={d_ckpt}, the activations at "
                             f"{self.cfg.hook} have d={self.source.d_in}; use another --out")
        for run, st, n in zip(self.runs, states, meta.get("resampled", [0] * len(states))):
            run.tokens_since_fired = ck.restore_sae_state(st, run.sae, run.opt)
            run.resampled = n
        self.start_step, self.elapsed = loaded.step, meta["elapsed_s"]
        self.last_checkpoint = self.start_step

    def wrap(self) -> None:
        """LossModule per SAE, inside DistributedDataParallel when there are several processes."""
        for run in self.runs:
            module: nn.Module = LossModule(run.sae)
            if self.dist.world > 1:
                from torch.nn.parallel import DistributedDataParallel as DDP

                ids = [torch.device(self.dist.device).index] if self.dist.device.startswith("cuda") else None
                module = DDP(module, device_ids=ids)
            run.module = module

    # schedules
    def lr_factor(self, step: int) -> float:
        n = self.cfg.steps
        warm, decay = round(self.cfg.optim.lr_warmup * n), round(self.cfg.optim.lr_decay * n)
        if step < warm:
            return (step + 1) / warm
        if step >= n - decay:
            return (n - step) / decay
        return 1.0

    def sparsity_factor(self, step: int) -> float:
        warm = round(self.cfg.optim.sparsity_warmup * self.cfg.steps)
        return min(1.0, (step + 1) / warm) if warm > 0 else 1.0

    # the loop
    def step(self, step: int, batch: Pair) -> list[SAELosses]:
        """One Adam step of every SAE on this process's rows of the batch (inputs and the targets they reconstruct);
        returns each SAE's loss terms (detached)."""
        lr_f, sp_f = self.lr_factor(step), self.sparsity_factor(step)
        stats = []
        for run in self.runs:
            for group in run.opt.param_groups:
                group["lr"] = run.spec.lr * lr_f
            dead = run.tokens_since_fired >= self.cfg.dead_window
            assert run.module is not None
            losses = run.module(batch.input, dead, run.spec.coefficient * sp_f, batch.target)
            run.opt.zero_grad(set_to_none=True)
            losses.total.backward()
            run.sae.before_optimizer_step()
            if self.cfg.optim.grad_clip > 0:  # gradients are already averaged over processes (DDP), so all clip alike
                torch.nn.utils.clip_grad_norm_(run.sae.parameters(), self.cfg.optim.grad_clip, foreach=True)
            run.opt.step()
            run.sae.after_optimizer_step()
            stats.append(losses.detached())
        return stats

    def update_dead_stats(self, run: Run, fire_counts: Int[Tensor, " d_sae"]) -> None:
        """Tokens since each latent last fired, from the fire counts of the whole global batch."""
        fired = self.dist.sum_(fire_counts.clone()) > 0
        run.tokens_since_fired += self.cfg.optim.batch
        run.tokens_since_fired[fired] = 0

    def global_batch(self, step: int) -> Float[Tensor, "batch d_in"]:
        """The whole global batch of `step` on this process's device (read once per step, for the step hooks)."""
        if self._global is None or self._global[0] != step:
            self._global = (step, self.source.batch(step).to(self.dist.device))
        return self._global[1]

    def step_hooks(self, step: int) -> None:
        """Each SAE's kind's per-step hook, if it has one (ReLU: resampling; it decides itself when to act)."""
        for run in self.runs:
            hook = kind(run.spec.arch).step_hook
            if hook is not None:
                run.resampled += hook(self, run, step)

    def check_finite(self, step: int, stats: list[SAELosses]) -> None:
        bad = [run.spec.name for run, st in zip(self.runs, stats) if not bool(torch.isfinite(st.total))]
        if not self.dist.all_ok(not bad):
            raise NonFiniteError(f"the loss became NaN/Inf at step {step} for {', '.join(bad) or 'an SAE'}: "
                                 f"lower --lr or check the activations")

    def log(self, step: int, batch: Pair, stats: list[SAELosses], bar) -> None:
        """Append one line per SAE to its train_log.jsonl and update the progress bar (process 0 writes)."""
        xs = batch.target.double() * self.runs[0].sae.cfg.act_scale  # R² of what is reconstructed
        var = xs.pow(2).sum(-1).mean() - xs.mean(0).pow(2).sum()
        rows = []
        for run, st in zip(self.runs, stats):
            terms = (st.total, st.mse, st.sparsity, st.aux, st.l0)
            vals = self.dist.mean_(torch.stack([t.double().to(xs.device) for t in terms] + [var]))
            total, mse, sparsity, aux, l0, v = vals.tolist()
            dead = float((run.tokens_since_fired >= self.cfg.dead_window).double().mean())
            rows.append({"step": step + 1, "tokens": (step + 1) * self.cfg.optim.batch,
                         "lr": run.spec.lr * self.lr_factor(step), "loss": total, "mse": mse, "sparsity": sparsity,
                         "aux": aux, "l0": l0, "r2": 1 - mse / v if v > 0 else float("nan"), "dead_fraction": dead,
                         "sparsity_coeff": run.spec.coefficient * self.sparsity_factor(step),
                         "resampled": run.resampled, "elapsed_s": round(self.elapsed, 2)})
        if not self.dist.is_main:
            return
        for run, row in zip(self.runs, rows):
            with open(run.folder / LOG_FILE, "a") as f:
                f.write(json.dumps(row) + "\n")
        r = rows[0]
        bar.set_postfix(loss=f"{r['loss']:.4g}", L0=f"{r['l0']:.1f}", R2=f"{r['r2']:.3f}",
                        dead=f"{r['dead_fraction']:.2f}", **({"saes": len(rows)} if len(rows) > 1 else {}))

    def checkpoint(self, step: int) -> None:
        """Save the state after `step` steps (process 0 writes; everyone waits)."""
        if self.dist.is_main:
            states = [ck.sae_state(r.sae, r.opt, r.tokens_since_fired) for r in self.runs]
            meta = {"specs": [asdict(r.spec) for r in self.runs], "elapsed_s": self.elapsed,
                    "resampled": [r.resampled for r in self.runs]}
            ck.save_states(self.ckpt, step, meta, states)
        self.last_checkpoint = step
        self.dist.barrier()

    def _read(self, step: int) -> tuple[Pair | None, NonFiniteError | None]:
        """This process's rows of batch `step` as the source serves them, or the NonFiniteError it raised (what `fit`
        reads ahead in its reader thread)."""
        try:
            return self.source.pair(step, self.lo, self.hi), None
        except NonFiniteError as e:
            return None, e

    def _batch(self, step: int, read: tuple[Pair | None, NonFiniteError | None] | None = None) -> Pair:
        """This process's rows of batch `step`: inputs and targets (the same tensor for an SAE), on its device;
        `read` is `_read(step)` done ahead (read now when None)."""
        pair, err = read if read is not None else self._read(step)
        if not self.dist.all_ok(err is None):
            raise err or NonFiniteError(f"another process found NaN/Inf activations at step {step}")
        assert pair is not None
        x = pair.input.to(self.dist.device, non_blocking=True)
        target = x if pair.target is pair.input else pair.target.to(self.dist.device, non_blocking=True)
        return Pair(x, target)

    def fit(self) -> None:
        """Train from start_step to the end, logging and checkpointing on the way."""
        cfg = self.cfg
        bar = tqdm(total=cfg.steps, initial=self.start_step, unit="step", disable=not (cfg.output.progress and
                   self.dist.is_main), desc=f"train-sae {self.specs[0].name}" + (" ..." if len(self.runs) > 1 else ""))
        t0 = time.time() - self.elapsed
        # the next batch is read in a reader thread while this step computes (reading and shuffling a batch from
        # the cache is ~10% of a TopK step at d_sae 4096); the source is touched by one thread at a time: the read
        # ahead is awaited before the step hooks, which may read the source themselves (global_batch); collectives
        # (all_ok in _batch) stay on this thread
        reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="train-sae-reader")
        ahead = reader.submit(self._read, self.start_step) if self.start_step < cfg.steps else None
        try:
            for step in range(self.start_step, cfg.steps):
                assert ahead is not None
                read = ahead.result()
                ahead = reader.submit(self._read, step + 1) if step + 1 < cfg.steps else None
                batch = self._batch(step, read)
                stats = self.step(step, batch)
                self.check_finite(step, stats)
                for run, st in zip(self.runs, stats):
                    self.update_dead_stats(run, st.fire_counts)
                if ahead is not None:
                    wait([ahead])
                self.step_hooks(step)
                self.elapsed = time.time() - t0
                if (step + 1) % cfg.output.log_every == 0 or step + 1 == cfg.steps:
                    self.log(step, batch, stats, bar)
                every = cfg.output.checkpoint_every
                if every and (step + 1) % every == 0 and step + 1 < cfg.steps:
                    self.checkpoint(step + 1)
                bar.update(1)
        except NonFiniteError as e:
            kept = (f"the last good checkpoint (step {self.last_checkpoint}) in {self.out / ck.CKPT_DIR} is kept"
                    if self.last_checkpoint >= 0 else "no checkpoint was written")
            raise NonFiniteError(f"{e}; {kept}") from None
        finally:
            reader.shutdown(wait=True, cancel_futures=True)
            bar.close()
