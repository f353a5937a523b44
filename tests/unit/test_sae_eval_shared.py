"""Several dictionaries evaluated together on one model, hook and tokens (a sweep, the workspace's SAEs) share the
clean and zero-ablation passes, and each gets the numbers it gets evaluated alone (toy-gelu-s0, a real model)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from interp.corpus import open_corpus
from interp.models import load_model
from interp.options import CorpusOptions
from saes import build_sae, sae_config
from saes.eval.report import evaluate, evaluate_many
from saes.eval.splice import keep_mask, splice_eval, splice_evals

HOOK = "blocks.2.mlp.hook_post"  # a middle block: the patched passes start there


@pytest.fixture(scope="module")
def model():
    return load_model("toy-gelu-s0")


@pytest.fixture(scope="module")
def saes(model):
    tokens = open_corpus(CorpusOptions(corpus="toyworld"), model, "train").rows(0, 8).tokens.long()
    _, cache = model.run_with_cache(tokens, names_filter=HOOK)
    acts = cache[HOOK].reshape(-1, model.cfg.d_mlp)
    torch.manual_seed(0)
    out = []
    for arch, extra in (("topk", {"k": 32}), ("relu", {}), ("batchtopk", {"k": 16})):
        sae = build_sae(sae_config(arch, d_in=model.cfg.d_mlp, d_sae=256, hook_name=HOOK, **extra)).eval()
        sae.init_b_dec_(acts)  # reconstruct at least the mean, so CE loss recovered is well inside (0, 1)
        out.append(sae)
    return out


def _close(a, b, path=""):
    """Equal up to float rounding, recursively (reports are nested dicts of floats, lists and strings)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (path, a, b)
    else:
        assert a == b, path


def _full_pass_reference(model, dictionary, batches):
    """CE_sae and KL_sae the plain way: three whole forward passes per batch, nothing shared."""
    ce = kl = 0.0
    n = 0
    for tokens in batches:
        keep = keep_mask(tokens)

        def splice(act, hook):
            return dictionary.decode(dictionary.encode(act))

        clean = model(tokens)[:, :-1].double().log_softmax(-1)
        logp = model.run_with_hooks(tokens, fwd_hooks=[(HOOK, splice)])[:, :-1].double().log_softmax(-1)
        ce += float(-logp.gather(-1, tokens[:, 1:, None]).squeeze(-1)[keep].sum())
        kl += float(F.kl_div(logp, clean, log_target=True, reduction="none").sum(-1)[keep].sum())
        n += int(keep.sum())
    return ce / n, kl / n


@torch.no_grad()
def test_shared_splice_equals_each_alone_and_whole_passes(model, saes):
    rows = open_corpus(CorpusOptions(corpus="toyworld"), model, "heldout").rows(0, 12).tokens.long()
    batches = list(rows.split(5))
    together = splice_evals(model, HOOK, saes, batches)
    for sae, shared in zip(saes, together):
        alone = splice_eval(model, HOOK, sae, batches)
        _close(vars(shared), vars(alone))
        assert 0.0 < shared.ce_loss_recovered < 1.0 and shared.n_tokens == 12 * (rows.shape[1] - 2)
        ce_sae, kl_sae = _full_pass_reference(model, sae, batches)  # the resumed passes equal whole ones
        assert shared.ce_sae == pytest.approx(ce_sae, rel=1e-6) and shared.kl_sae == pytest.approx(kl_sae, rel=1e-6)


def _counting(model):
    """Permanent hooks counting the passes that embed tokens (whole passes) and those reaching HOOK (every pass)."""
    counts = {"hook_embed": 0, HOOK: 0}

    def count(act, hook):
        counts[hook.name] += 1

    for name in counts:
        model.add_hook(name, count, is_permanent=True)
    return counts


def test_evaluate_many_reports_equal_alone_and_share_the_clean_and_ablation_passes(model, saes):
    corpus = open_corpus(CorpusOptions(corpus="toyworld", n_ctx=64), model, "heldout")
    n_tokens, docs = 2000, math.ceil(2000 / 63)
    n_batches = math.ceil(docs / 32)  # saes.eval.report.BATCH_DOCS rows per batch
    alone = [evaluate(sae, model, corpus, n_tokens=n_tokens, ground_truth_tokens=512) for sae in saes]
    counts = _counting(model)
    try:
        together = evaluate_many(saes, model, corpus, n_tokens=n_tokens, ground_truth_tokens=512)
    finally:
        model.reset_hooks(including_permanent=True)
    # one whole (clean) pass per batch, which also gives the reconstruction metrics their activations; then per
    # batch one zero-ablation pass and one spliced pass per SAE, each from the hook's block
    assert counts == {"hook_embed": n_batches, HOOK: n_batches * (2 + len(saes))}
    for a, b in zip(alone, together):
        _close(a, b)
        assert a["ground_truth"] is not None and 0.0 < b["ce_loss_recovered"] < 1.0


def test_evaluate_many_refuses_dictionaries_of_different_hooks(model, saes):
    other = build_sae(sae_config("topk", d_in=model.cfg.d_mlp, d_sae=64, k=4, hook_name="blocks.1.mlp.hook_post"))
    corpus = open_corpus(CorpusOptions(corpus="toyworld"), model, "heldout")
    with pytest.raises(ValueError, match="different hooks"):
        evaluate_many([saes[0], other], model, corpus, n_tokens=256)
