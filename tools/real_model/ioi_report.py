"""IOI on SmolLM2-135M: behaviour, the heads that carry it, and AtP / RelP against activation patching.

For each prompt sample (seed): the model's IOI accuracy and logit difference on `--behaviour-prompts` prompts of
Wang et al.'s templates (circuits.tasks.ioi_classic, ABC corruption); then, on `--prompts` of them, activation
patching of resid_pre, attn_out and mlp_out per (layer, position) and of every head's output (head_out) beside AtP,
RelP and RelP+AH on the same components (circuits.faithfulness, prompts of all lengths left-padded into one batch),
and each head's role evidence (circuits.discovery.head_evidence: attention S2->S1, S2->S1+1, END->S2, END->IO and
direct logit attribution), group by group. Each sample is saved to --out as it finishes, so an interrupted run
resumes; the summary (mean and spread over samples) is printed as markdown and written to OUT/summary.json.

Command (docs/real_model.md): python tools/real_model/ioi_report.py --out docs/real_model/ioi
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from circuits.discovery import HeadEvidence, head_evidence  # noqa: E402
from circuits.faithfulness import faithfulness  # noqa: E402
from circuits.tasks import as_groups, classic_ioi_task  # noqa: E402
from circuits.tasks.base import logit_diff  # noqa: E402
from interp.models import load_model  # noqa: E402

COMPONENTS = ["resid_pre", "attn_out", "mlp_out", "head_out"]
EVIDENCE = ("s2_to_s1", "s2_to_s1_next", "end_to_s2", "end_to_io", "dla")


@torch.no_grad()
def behaviour(model, n: int, seed: int) -> dict:
    """Accuracy (logit[IO] > logit[S]) and logit differences of the clean prompts, one per prompt."""
    diffs = []
    for g in as_groups(classic_ioi_task(model, n=n, seed=seed)):
        diffs += logit_diff(model(g.clean), g.answer, g.wrong).tolist()
    return {"n": len(diffs), "accuracy": sum(d > 0 for d in diffs) / len(diffs), "logit_diff": diffs}


def evidence(model, task) -> dict[str, list]:
    """Each head's role evidence, the prompt-weighted mean over the task's length groups."""
    total = {k: torch.zeros(model.cfg.n_layers, model.cfg.n_heads) for k in EVIDENCE}
    for g in as_groups(task):
        ev = head_evidence(model, g, g.roles)
        for k in EVIDENCE:
            total[k] += getattr(ev, k) * g.n_prompts / task.n_prompts
    return {k: v.tolist() for k, v in total.items()}


def one_sample(model, seed: int, n_patch: int, n_behaviour: int) -> dict:
    t0 = time.perf_counter()
    task = classic_ioi_task(model, n=n_patch, seed=seed)
    with torch.enable_grad():
        run = faithfulness(model, task, COMPONENTS, model_name="smollm2-135m")
    return {"seed": seed, "behaviour": behaviour(model, n_behaviour, seed), "faithfulness": run.table(),
            "head_out": run.activation["head_out"].scores.tolist(), "evidence": evidence(model, task),
            "baselines": vars(run.activation["head_out"].baselines), "n_prompts": task.n_prompts,
            "seconds": time.perf_counter() - t0}


def spread(xs: list[float]) -> str:
    return f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs):.2f}" if len(xs) > 1 else f"{xs[0]:.2f}"


def summary(samples: list[dict], model) -> str:
    lines = ["| sample | prompts | accuracy | logit diff (mean ± sd over prompts) |", "|---|---|---|---|"]
    for s in samples:
        b = s["behaviour"]
        lines.append(f"| seed {s['seed']} | {b['n']} | {b['accuracy']:.3f} | {spread(b['logit_diff'])} |")
    lines += ["", "| component | method | Pearson r vs activation patching (mean ± sd over samples) | per sample |",
              "|---|---|---|---|"]
    rows: dict[tuple[str, str], list[float]] = {}
    for s in samples:
        for r in s["faithfulness"]:
            rows.setdefault((r["component"], r["method"]), []).append(r["pearson"])
    for (comp, method), rs in rows.items():
        lines.append(f"| {comp} | {method} | {spread(rs)} | {', '.join(f'{r:.2f}' for r in rs)} |")
    scores = torch.tensor([s["head_out"] for s in samples])  # [sample, layer, head]
    mean = scores.mean(0)
    ev = {k: torch.tensor([s["evidence"][k] for s in samples]).mean(0) for k in EVIDENCE}
    roles = HeadEvidence(**ev)
    lines += ["", "| head | activation patching (mean ± sd) | END->IO | END->S2 | S2->S1 | S2->S1+1 | DLA | role |",
              "|---|---|---|---|---|---|---|---|"]
    for idx in mean.abs().flatten().argsort(descending=True)[:12].tolist():
        la, h = divmod(idx, model.cfg.n_heads)
        per = scores[:, la, h].tolist()
        lines.append(f"| L{la}H{h} | {spread(per)} | {ev['end_to_io'][la, h]:.2f} | {ev['end_to_s2'][la, h]:.2f} | "
                     f"{ev['s2_to_s1'][la, h]:.2f} | {ev['s2_to_s1_next'][la, h]:.2f} | {ev['dla'][la, h]:.2f} | "
                     f"{roles.role(la, h)} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--prompts", type=int, default=8, help="prompt pairs patched per sample")
    ap.add_argument("--behaviour-prompts", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model("smollm2-135m")
    samples = []
    for seed in args.seeds:
        path = out / f"seed{seed}.json"
        if not path.exists():
            result = one_sample(model, seed, args.prompts, args.behaviour_prompts)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(result))
            tmp.replace(path)
            print(f"seed {seed}: {result['seconds']:.0f} s", flush=True)
        samples.append(json.loads(path.read_text()))
    text = summary(samples, model)
    (out / "summary.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
