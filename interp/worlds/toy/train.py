"""Train a toy language model on the toy-world corpus: `interp toyworld train --seed N --act gelu`.

A small HookedTransformer (4 layers, d_model 128, 4 heads, d_mlp 512) trained with AdamW, linear warmup and cosine
decay on freshly generated documents (the corpus seed is the model seed, so the seeds differ in initialisation and
data, as in the universal-neurons setting). The defaults are the toy2 recipe: the compositional world, rotary
positions, the unembedding tied to the embedding during training (`TiedUnembed`; saved untied), an IOI- and
repeat-heavy mix, n_ctx 64; with learned positions no toy2 run learned to copy names, hence IOI, within 8M tokens
(data/models/README.md). `config.TOY1_RECIPE` gives the toy1 models' options (GPT-2 style, learned positions, n_ctx
128), on which IOI appears abruptly after ~4-5M tokens. Training checkpoints into `out/checkpoint`
(interp.checkpoint: weights and AdamW moments, identity = what it computes: every option but the device, threads,
compilation, checkpoint frequency and the output folder) and resumes from there; at the end it evaluates on held-out
text and IOI prompts and writes the model card (card.json). The model folder records its world and tokenizer.

The activation options (`--act relu2`, `--act drelu`: interp.mlp_variants) train the sparser models of the
activation-sparsity papers from scratch; `--init-from MODEL` starts from a trained model's weights (its activation
swapped for --act's), and `--prosparse` adds ProSparse's staged L1 penalty and threshold shift (prosparse.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from interp.checkpoint import CKPT_DIR, Checkpointer, identity, optimizer_state, restore_optimizer
from interp.mlp_variants import ACTIVATIONS, apply_variant, variant_of
from interp.models import load_model, save_toy_model, toy_config
from interp.runtime import start_run
from interp.worlds import LEGACY_WORLD

from .. import get_world
from .config import ToyTrainConfig
from .corpus import CHUNK_DOCS, iter_chunks
from .evaluate import heldout_sparsity
from .ioi_eval import heldout_ioi
from .prosparse import L1Penalty, describe, l1_factor, stage_record, stages
from .tokenizer import build_tokenizer

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer


def batches(cfg: ToyTrainConfig, start_step: int) -> Iterator[Int[np.ndarray, "batch pos"]]:
    """Training batches [batch, n_ctx] from step `start_step` on; resuming regenerates the same documents."""
    first_doc = start_step * cfg.batch_size
    stream = iter_chunks(cfg.corpus(), first_doc // CHUNK_DOCS)
    buf = next(stream)[0][first_doc % CHUNK_DOCS:]
    while True:
        while len(buf) < cfg.batch_size:
            buf = np.concatenate([buf, next(stream)[0]])  # [docs, n_ctx]
        yield buf[:cfg.batch_size]
        buf = buf[cfg.batch_size:]


def lr_at(cfg: ToyTrainConfig, step: int) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    frac = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def make_optimizer(model: HookedTransformer, cfg: ToyTrainConfig) -> torch.optim.AdamW:
    params = [p for p in model.parameters() if p.requires_grad]  # a gated MLP's b_in is held at 0 (new_model)
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95))


def step(model: HookedTransformer, opt, tokens: Int[Tensor, "batch pos"], lr: float,
         penalty: L1Penalty | None = None) -> float:
    """One optimisation step (the loss plus ProSparse's penalty, when given); returns the batch's language-model
    loss."""
    for g in opt.param_groups:
        g["lr"] = lr
    loss = model(tokens, return_type="loss")
    opt.zero_grad(set_to_none=True)
    (loss if penalty is None else loss + penalty.take()).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.item()


def checkpointer(cfg: ToyTrainConfig) -> Checkpointer:
    # toy1 runs keep the identity they had before worlds existed, and runs without a mix the one they had before
    # --mix existed (tests/unit/test_toy_train.py holds both); likewise --init-from and ProSparse's options
    old = ((("world",) if cfg.world == LEGACY_WORLD else ()) + (("mix",) if not cfg.mix else ())
           + (("init_from",) if not cfg.init_from else ())
           + (() if cfg.sparse.prosparse else ("prosparse", "l1_peaks", "act_threshold")))
    return Checkpointer(cfg.out_dir, identity(cfg, old))


def checkpoint(model: HookedTransformer, opt, cfg: ToyTrainConfig, step_done: int, elapsed: float,
               records: list[dict] | None = None) -> None:
    """Save the raw weights and AdamW state (and ProSparse's stage records) so an interrupted run resumes at
    `step_done`."""
    weights = {k: v for k, v in model.state_dict().items() if not k.endswith(".IGNORE") and "mask" not in k}
    adam, steps = optimizer_state(model.named_parameters(), opt)
    checkpointer(cfg).save(step_done, {"model": weights, "adam": adam},
                           {"elapsed_s": elapsed, "adam_steps": steps, "stages": records or []})


def new_model(cfg: ToyTrainConfig, device: str):
    """The untrained model of `cfg` (seeded), its tokenizer written into out_dir."""
    from transformer_lens import HookedTransformer

    torch.manual_seed(cfg.seed)
    tok = build_tokenizer(cfg.out_dir / "tokenizer", cfg.world)
    act = ACTIVATIONS[cfg.act]
    mcfg = toy_config(act.act_fn, cfg.seed, len(get_world(cfg.world).words), cfg.n_layers, cfg.d_model, cfg.n_heads,
                      cfg.d_mlp, cfg.n_ctx, "rotary" if cfg.positions == "rotary" else "standard", act.gated,
                      act.normalization)
    model = HookedTransformer(mcfg, tokenizer=tok, move_to_device=False).to(device).train()
    if act.gated:  # TransformerLens adds b_in after the gate product: held at 0, an exact zero stays exactly 0
        for block in model.blocks:
            block.mlp.b_in.requires_grad_(False)
    apply_variant(model, up_relu=act.up_relu)
    if cfg.init_from:
        start_from(model, cfg)
    if cfg.tie_embeddings:
        model.unembed = TiedUnembed(model.unembed, model.embed)
    return model


_SAME = ("n_layers", "d_model", "n_heads", "d_mlp", "n_ctx", "d_vocab", "positional_embedding_type", "gated_mlp")


def start_from(model: HookedTransformer, cfg: ToyTrainConfig) -> None:
    """Load --init-from's unprocessed weights into the fresh `model` (whose activation may differ: the swap of
    ProSparse's first step); a source of another shape, world or embedding tying is a one-line error."""
    from interp.worlds import world_name_of

    source = load_model(cfg.init_from, weight_processing="none")
    differ = [f"{k} {getattr(source.cfg, k)} (this run {getattr(model.cfg, k)})" for k in _SAME
              if getattr(source.cfg, k) != getattr(model.cfg, k)]
    if world_name_of(source.tokenizer) != cfg.world:
        differ.append(f"world {world_name_of(source.tokenizer)} (this run {cfg.world})")
    if differ:
        raise ValueError(f"--init-from {cfg.init_from} has {', '.join(differ)}: give its sizes, world and positions")
    if cfg.tie_embeddings and not torch.allclose(source.W_U, source.W_E.T):
        raise ValueError(f"--init-from {cfg.init_from} was trained with an untied unembedding: add "
                         f"--notie-embeddings")
    state = {k: v for k, v in source.state_dict().items() if not k.endswith(".IGNORE") and "mask" not in k}
    model.load_state_dict(state, strict=False)


class TiedUnembed(torch.nn.Module):
    """The unembedding of a tied run: logits = resid @ W_E^T + b_U, so the gradients of both uses land on W_E. The
    embedding is held outside the module tree (no second copy of W_E in state dicts or the optimizer)."""

    def __init__(self, unembed, embed):
        super().__init__()
        self.b_U = unembed.b_U
        self._embed = [embed]

    @property
    def W_U(self) -> Float[Tensor, "d_model d_vocab"]:
        return self._embed[0].W_E.T  # [d_model, d_vocab]

    def forward(self, resid_BPD: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_vocab"]:
        return resid_BPD @ self.W_U + self.b_U  # [batch, pos, d_vocab]


def untie(model: HookedTransformer) -> None:
    """Give a tied model an ordinary Unembed holding a copy of W_E^T, so it saves and loads like any toy model."""
    from transformer_lens.components import Unembed

    if isinstance(model.unembed, TiedUnembed):
        plain = Unembed(model.cfg).to(model.embed.W_E.device)
        plain.W_U.data.copy_(model.unembed.W_U.detach())
        plain.b_U.data.copy_(model.unembed.b_U.detach())
        model.unembed = plain


def resume(cfg: ToyTrainConfig, device: str):
    """(model, optimizer, step, elapsed, ProSparse stage records) from the checkpoint in out_dir, or a fresh
    start."""
    model = new_model(cfg, device)
    opt = make_optimizer(model, cfg)
    loaded = checkpointer(cfg).load()
    if loaded is None:
        return model, opt, 0, 0.0, []
    model.load_state_dict(loaded.tensors["model"], strict=False)
    restore_optimizer(model.named_parameters(), opt, loaded.tensors["adam"], loaded.meta["adam_steps"])
    return model, opt, loaded.step, loaded.meta["elapsed_s"], loaded.meta.get("stages", [])


def log(bar, loss_ema: float, tokens_per_s: float) -> None:
    bar.set_postfix(loss=f"{loss_ema:.3f}", tok_s=f"{tokens_per_s:,.0f}")


def train_toy_model(cfg: ToyTrainConfig) -> dict:
    """Train (or resume) one toy model, save it with its card into cfg.out_dir, and return the card. A finished model
    there is never replaced without --overwrite."""
    if not checkpointer(cfg).exists():
        # every file save_toy_model writes, and a checkpoint folder that is not this run's
        cfg.output.claim(*(cfg.out_dir / f for f in ("model.safetensors", "config.json", "card.json", CKPT_DIR)))
    device = start_run(cfg.run.device, cfg.run.threads).device
    model, opt, start, elapsed, records = resume(cfg, device)
    bar = tqdm(total=cfg.steps, initial=start, desc=f"train {cfg.name}", unit="step")
    t0, loss_ema = time.time(), None
    t_last = t0
    plan = stages(cfg.steps, cfg.sparse.peaks()) if cfg.sparse.prosparse else []
    penalty = L1Penalty(model) if plan else None
    forward = torch.compile(model) if cfg.compile else model  # shares the parameters: checkpoints save `model`
    for i, batch in zip(range(start, cfg.steps), batches(cfg, start)):
        if penalty is not None:
            penalty.factor = l1_factor(i, plan)
        loss = step(forward, opt, torch.as_tensor(batch, device=device).long(), lr_at(cfg, i),
                    *([penalty] if penalty else []))
        loss_ema = loss if loss_ema is None else 0.98 * loss_ema + 0.02 * loss
        if (i + 1) % 20 == 0:
            now = time.time()
            log(bar, loss_ema, 20 * cfg.batch_size * cfg.n_ctx / max(1e-9, now - t_last))
            t_last = now
        bar.update(1)
        ended = [s for s in plan if s.end == i + 1]
        if ended:  # ProSparse: held-out loss and sparsity at the end of each stage
            records.append(stage_record(model, cfg, f"stage {ended[0].index}", ended[0].l1_to,
                                        (i + 1) * cfg.batch_size * cfg.n_ctx))
            bar.write(describe(records[-1]))
        if (i + 1) % cfg.checkpoint_every == 0 and i + 1 < cfg.steps:
            checkpoint(model, opt, cfg, i + 1, elapsed + time.time() - t0, records)
    bar.close()
    if penalty is not None:
        model.reset_hooks()  # the penalty's hooks (permanent ones, dReLU's, stay)
    return finish(model, cfg, device, elapsed + time.time() - t0, records)


def finish(model: HookedTransformer, cfg: ToyTrainConfig, device: str, wall_s: float,
           records: list[dict] | None = None) -> dict:
    """Evaluate on held-out data (after ProSparse's threshold shift), write the model and its card, and drop the
    checkpoint."""
    untie(model)
    model.eval()
    if cfg.sparse.prosparse and cfg.sparse.act_threshold:
        apply_variant(model, threshold=cfg.sparse.act_threshold)
        records = [*records, stage_record(model, cfg, "threshold shift", cfg.sparse.peaks()[-1],
                                          cfg.steps * cfg.batch_size * cfg.n_ctx)]
        print(describe(records[-1]))
    held = heldout_sparsity(model, cfg.world, seed=cfg.seed)
    card = {
        "name": cfg.name, "world": cfg.world, "act_fn": cfg.act, "seed": cfg.seed,
        "training_tokens": cfg.steps * cfg.batch_size * cfg.n_ctx,
        "wall_time_s": round(wall_s, 1), "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "heldout_loss": round(held.loss, 4),
        "heldout_zero_frac_by_layer": [round(z, 4) for z in held.zero_frac],
        **({"mlp_variant": variant_of(model)} if variant_of(model) else {}),
        **({"init_from": cfg.init_from} if cfg.init_from else {}),
        **({"prosparse_stages": records} if cfg.sparse.prosparse else {}),
        **get_world(cfg.world).ioi_card(model, heldout_ioi(model, n_prompts=40, seed=cfg.seed), cfg.seed),
        "train_config": cfg.flat(),
    }
    save_toy_model(model, cfg.out_dir, card, cfg.world)
    checkpointer(cfg).clear()
    return card


def main(cfg: ToyTrainConfig) -> dict:
    """CLI entry: train, then print where the model went and whether it meets the shipped-model bar."""
    card = train_toy_model(cfg)
    acc = ", ".join(f"{k} {v:.1%}" for k, v in card["ioi_accuracy"].items())
    print(f"saved {cfg.out_dir}: held-out loss {card['heldout_loss']:.3f}, IOI accuracy {acc}, "
          f"meets the shipped-model bar: {card['meets_bar']}")
    return card
