"""Train the small SAEs the steering benchmark (docs/steering.md) compares, one per architecture, with the saes
Python API on a fixed matrix of toy-gelu-s0 activations (a short run: `interp train-sae` is the full trainer).

    .venv/bin/python bench/steering_saes.py runs/steerbench/sae   # -> one SAELens folder per architecture
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from interp.activations.stream import hook_activations
from interp.models import load_model
from interp.worlds import world_name_of_model
from interp.worlds.toy.corpus import CorpusConfig, generate_docs
from saes import build_sae, sae_config
from saes.io import save
from saes.registry import uses_k

HOOK, D_SAE, K, STEPS, BATCH = "blocks.2.mlp.hook_post", 512, 16, 400, 1024
COEFF = {"relu": 1.0, "jumprelu": 0.05}


def main(out: str) -> None:
    torch.manual_seed(0)
    model = load_model("toy-gelu-s0")
    world = world_name_of_model(model)
    docs = generate_docs(CorpusConfig(seed=1, split="train", n_ctx=model.cfg.n_ctx, world=world), 256)
    x = hook_activations(model, HOOK, torch.as_tensor(docs.tokens, dtype=torch.long))[:, 1:].reshape(-1, 512)
    scale = (512 ** 0.5) / float(x.norm(dim=-1).mean())
    print(f"{len(x)} activations, act_scale {scale:.3f}")
    for arch in ("relu", "topk", "jumprelu", "batchtopk"):
        t = time.time()
        k = K if uses_k(arch) else None
        sae = build_sae(sae_config(arch, strict=False, d_in=512, d_sae=D_SAE, hook_name=HOOK, k=k, act_scale=scale,
                                  sparsity_coeff=COEFF.get(arch, 1.0), model_name="toy-gelu-s0"))
        sae.init_b_dec_(x[:4096], "mean")
        opt = torch.optim.Adam(sae.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(0)
        for _ in range(STEPS):
            loss = sae.loss(x[torch.randint(len(x), (BATCH,), generator=g)])
            opt.zero_grad()
            loss.total.backward()
            sae.before_optimizer_step()
            opt.step()
            sae.after_optimizer_step()
        print(f"{arch}: mse {float(loss.mse):.4f} l0 {float(loss.l0):.1f} ({time.time() - t:.0f}s)")
        save(sae, Path(out) / arch)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/steerbench/sae")
