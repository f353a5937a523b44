"""Recipe search for the toy2 models: train one configuration and print held-out IOI every N steps.

Run from the repository root, e.g. the configuration that learned IOI on held-out forms (run D):

    python tools/toyworld/recipe_search.py '{"tokens": 30000000, "threads": 1, "every": 150, "lr": 0.003,
        "n_ctx": 64, "batch_size": 64, "mix": "ioi=0.75,repeat=0.3", "positions": "rotary", "tie_embeddings": true}'

The JSON holds `interp toyworld train` options (ToyTrainConfig fields; world is toy2) plus "every" (steps between
evaluations) and "threads". Each line: tokens seen, wall time, training loss (EMA), random-token induction accuracy
(16 sequences of 24 random words repeated), held-out-form IOI accuracy and mean logit difference, held-out-name IOI
accuracy and logit difference, on 8 prompts per held-out form and order (noisy: a screening measure; the shipped
models are scored by `interp toyworld eval` on 60 per form and order). Learning-rate schedule as the trainer's,
over the full "tokens" budget. The logs of the runs in data/models/README.md are beside this script.
"""

import json
import sys
import time

import torch

from interp.worlds.toy import train as T
from interp.worlds.toy.config import ToyTrainConfig
from interp.worlds.toy.ioi_eval import heldout_ioi


def induction(model) -> float:
    x_BP = torch.randint(100, 2000, (16, 24), generator=torch.Generator().manual_seed(0))
    ids_BP = torch.cat([torch.zeros(16, 1, dtype=torch.long), x_BP, x_BP], 1)  # [BOS, x, x]
    pred_BP = model(ids_BP)[:, :-1].argmax(-1)
    return (pred_BP[:, 25:] == ids_BP[:, 26:]).float().mean().item()  # second copy, after its first word


def main(args: dict) -> None:
    torch.set_num_threads(args.pop("threads", 1))
    every = args.pop("every", 150)
    cfg = ToyTrainConfig.of(world="toy2", out=f"/tmp/recipe-search-{time.time():.0f}", **args)
    model = T.new_model(cfg, "cpu")
    opt = T.make_optimizer(model, cfg)
    t0, ema = time.time(), None
    for i, batch in zip(range(cfg.steps), T.batches(cfg, 0)):
        loss = T.step(model, opt, torch.as_tensor(batch).long(), T.lr_at(cfg, i))
        ema = loss if ema is None else 0.98 * ema + 0.02 * loss
        if (i + 1) % every and i + 1 != cfg.steps:
            continue
        model.eval()
        with torch.no_grad():
            h, ind = heldout_ioi(model, n_prompts=8, seed=1), induction(model)
        model.train()
        tok = (i + 1) * cfg.batch_size * cfg.n_ctx
        print(f"step {i + 1} tok {tok / 1e6:.2f}M t {time.time() - t0:.0f}s loss {ema:.3f} ind {ind:.2f} "
              f"form {h.form_accuracy:.3f} ld {h.form_logit_diff:.2f} name {h.name_accuracy:.3f} "
              f"nld {h.name_logit_diff:.2f}", flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
