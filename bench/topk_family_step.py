"""Per-step time of the k-sparse kinds' training step (TopK, BatchTopK, Matryoshka), this checkout against another
revision of saes/, side by side.

One step is what the trainer does per SAE: loss (with AuxK over 10% dead latents, or none), backward, decoder-gradient
projection, Adam, decoder renormalisation. Each revision runs in its own process (two versions of `saes` cannot share
one), alternating `--rounds` times so that a shared, noisy CPU slows both alike; each process times `--steps` steps
after one untimed step and prints the median. The other revision's saes/ is taken with `git archive` into a temporary
folder placed before this checkout on PYTHONPATH (so interp/ is this checkout's).

    OMP_NUM_THREADS=1 .venv/bin/python bench/topk_family_step.py --before HEAD~1      # d_in 512, d_sae 2048, batch 4096
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("topk", "batchtopk", "matryoshka")


def child(args: argparse.Namespace) -> None:
    """Time the steps of one revision (the saes package first on sys.path); prints JSON {kind: median seconds}."""
    import torch

    from saes import build_sae, sae_config

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.d_in)
    dead = torch.zeros(args.d_sae, dtype=torch.bool)
    dead[: args.d_sae // 10] = args.dead
    out = {}
    for arch in args.kinds:
        extra = {"prefixes": [args.d_sae // 16, args.d_sae // 4]} if arch == "matryoshka" else {}
        sae = build_sae(sae_config(arch, d_in=args.d_in, d_sae=args.d_sae, k=args.k, hook_name="h", **extra)).train()
        opt = torch.optim.Adam(sae.parameters(), lr=1e-4, foreach=True)
        times = []
        for i in range(args.steps + 1):
            t = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            sae.loss(x, dead if args.dead else None).total.backward()
            sae.before_optimizer_step()
            opt.step()
            sae.after_optimizer_step()
            if i:
                times.append(time.perf_counter() - t)
        out[arch] = statistics.median(times)
    print(json.dumps({"saes": sys.modules["saes"].__file__, **out}))


def old_saes(rev: str) -> str:
    """A temporary folder holding revision `rev`'s saes/ package."""
    tmp = tempfile.mkdtemp(prefix="saes_rev_")
    data = subprocess.run(["git", "archive", rev, "saes"], cwd=ROOT, check=True, capture_output=True).stdout
    tarfile.open(fileobj=BytesIO(data)).extractall(tmp)
    return tmp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", default="HEAD", help="the git revision to compare with")
    ap.add_argument("--d-in", type=int, default=512)
    ap.add_argument("--d-sae", type=int, default=2048)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5, help="timed steps per kind and process")
    ap.add_argument("--rounds", type=int, default=2, help="alternations of the two revisions")
    ap.add_argument("--dead", action="store_true", help="10%% of the latents dead (AuxK on)")
    ap.add_argument("--kinds", nargs="+", default=list(KINDS))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    before = old_saes(args.before)
    argv = [sys.executable, __file__, "--child", *sys.argv[1:]]
    res: dict[str, list[dict]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        for who, path in (("before", f"{before}{os.pathsep}{ROOT}"), ("after", str(ROOT))):
            env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": str(args.threads)}
            line = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout.splitlines()[-1]
            res[who].append(json.loads(line))
    print(f"d_in {args.d_in}, d_sae {args.d_sae}, k {args.k}, batch {args.batch}, threads {args.threads}, "
          f"{'10% dead (AuxK on)' if args.dead else 'no dead latents'}; before = {args.before}, "
          f"median of {args.steps} steps per process, best of {args.rounds} alternating processes")
    for arch in args.kinds:
        b, a = (min(r[arch] for r in res[w]) for w in ("before", "after"))
        print(f"{arch:11s} before {b * 1e3:8.1f} ms/step  after {a * 1e3:8.1f} ms/step  speedup {b / a:5.2f}x")


if __name__ == "__main__":
    main()
