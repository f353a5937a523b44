"""CE loss recovered and KL score on the shipped toy model: identity gives 1, zero gives 0, an SAE lies between."""

from __future__ import annotations

import pytest
import torch

from interp.models import load_model
from interp.worlds.toy1.evaluate import ioi_prompts
from saes import build_sae, sae_config
from saes.eval.splice import ce_loss_recovered, keep_mask, kl_score, splice_eval

HOOK = "blocks.1.hook_resid_post"


class Identity:
    hook_name, d_in, d_sae = HOOK, 128, 128

    def encode(self, x):
        return x

    def decode(self, f):
        return f

    def feature_directions(self):
        return torch.eye(128)


class Zero(Identity):
    def decode(self, f):
        return torch.zeros_like(f)


@pytest.fixture(scope="module")
def model_and_batches():
    model = load_model("toy-gelu-s0")
    tokens = model.to_tokens([p.text + " " + p.io for p in ioi_prompts(16)])
    return model, [tokens[:8], tokens[8:]], model.tokenizer.pad_token_id


def test_keep_mask_drops_bos_and_pad():
    tokens = torch.tensor([[0, 5, 6, 7], [0, 5, 1, 1]])
    assert keep_mask(tokens, [1]).tolist() == [[False, True, True], [False, False, False]]


def test_identity_and_zero_dictionaries(model_and_batches):
    model, batches, pad = model_and_batches
    ident = splice_eval(model, HOOK, Identity(), batches, ignore_token_ids=[pad])
    assert ident.ce_zero > ident.ce_clean + 0.5  # zero ablation hurts, so the ratio is meaningful
    assert ident.ce_loss_recovered == pytest.approx(1.0, abs=1e-9)
    assert ident.kl_score == pytest.approx(1.0, abs=1e-9) and ident.kl_sae == pytest.approx(0.0, abs=1e-9)
    zero = splice_eval(model, HOOK, Zero(), batches, ignore_token_ids=[pad])
    assert zero.ce_loss_recovered == pytest.approx(0.0, abs=1e-9) and zero.kl_score == pytest.approx(0.0, abs=1e-9)
    assert zero.n_tokens == ident.n_tokens > 0
    assert ce_loss_recovered(model, HOOK, Identity(), batches) == pytest.approx(1.0, abs=1e-9)
    assert kl_score(model, HOOK, Zero(), batches) == pytest.approx(0.0, abs=1e-9)


def test_random_sae_scores_between(model_and_batches):
    model, batches, pad = model_and_batches
    torch.manual_seed(0)
    sae = build_sae(sae_config("topk", d_in=128, d_sae=512, k=64, hook_name=HOOK)).eval()
    _, cache = model.run_with_cache(batches[0], names_filter=HOOK)
    sae.init_b_dec_(cache[HOOK].reshape(-1, 128))  # reconstruct at least the mean
    res = splice_eval(model, HOOK, sae, batches, ignore_token_ids=[pad])
    assert res.ce_sae > res.ce_clean and res.kl_sae > 0
    assert res.ce_loss_recovered < 1.0 and res.kl_score < 1.0
