"""Batched activation patching equals transformer_lens.patching, for the same model, prompts and metric."""

from __future__ import annotations

import pytest
import torch
from transformer_lens import patching as tlp

from circuits.patching import activation as A
from circuits.tasks import Task, ioi_task

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def small(toy_model):
    task = ioi_task(toy_model, n=4, seed=1)
    _, cache = toy_model.run_with_cache(task.clean)
    return task, cache


@pytest.mark.parametrize("ours,theirs", [
    (A.resid_pre, tlp.get_act_patch_resid_pre),
    (A.attn_out, tlp.get_act_patch_attn_out),
    (A.mlp_out, tlp.get_act_patch_mlp_out),
    (A.head_out, tlp.get_act_patch_attn_head_out_all_pos),
    (A.head_v, tlp.get_act_patch_attn_head_v_all_pos),
    (A.head_pattern, tlp.get_act_patch_attn_head_pattern_all_pos),
    (A.head_out_by_pos, tlp.get_act_patch_attn_head_out_by_pos),
    (A.head_q_by_pos, tlp.get_act_patch_attn_head_q_by_pos),
    (A.head_k_by_pos, tlp.get_act_patch_attn_head_k_by_pos),
    (A.head_v_by_pos, tlp.get_act_patch_attn_head_v_by_pos),
    (A.head_pattern_by_pos, tlp.get_act_patch_attn_head_pattern_by_pos),
])
def test_equals_transformer_lens(toy_model, small, ours, theirs):
    task, cache = small
    got = ours(toy_model, task, normalise=False, max_batch=12)  # 3 patches per pass: several chunks per layer
    want = theirs(toy_model, task.corrupted, cache, task.metric)
    assert got.scores.shape == want.shape
    torch.testing.assert_close(got.scores, want.cpu(), atol=1e-4, rtol=1e-4)


def test_normalised_scores_and_labels(toy_model, small):
    task, _ = small
    r = A.resid_pre(toy_model, task)
    same = (task.clean == task.corrupted).all(0)  # positions where every clean and corrupted token agree
    assert r.scores[0, same].abs().max() < 1e-5
    assert r.scores[0, ~same].abs().max() > 0.05
    assert r.labels["pos"][-1] == "END" and r.labels["layer"] == ["L0", "L1", "L2", "L3"]


class CoordinateDictionary:
    """A real (not mocked) Dictionary: each latent is one coordinate of the residual stream, scaled by 2."""

    def __init__(self, hook_name: str, d: int):
        self.hook_name, self.d_in, self.d_sae = hook_name, d, d

    def encode(self, x):
        return x / 2

    def decode(self, f):
        return f * 2

    def feature_directions(self):
        return torch.eye(self.d_in) * 2


def test_dictionary_latent_equals_patching_its_coordinate(toy_model, small):
    task, cache = small
    hook = "blocks.1.hook_resid_pre"
    r = A.dictionary_latents(toy_model, task, CoordinateDictionary(hook, 128), latents=[3, 70], normalise=False)
    for score, i in zip(r.scores, [3, 70]):
        def patch(act, hook, i=i):
            act[..., i] = cache[hook.name][..., i]
            return act
        want = task.metric(toy_model.run_with_hooks(task.corrupted, fwd_hooks=[(hook, patch)]))
        assert float(score) == pytest.approx(float(want.detach()), abs=1e-4)


def test_bad_input_is_a_clear_error(toy_model):
    with pytest.raises(ValueError, match=r"15 tokens but corrupted prompts have 14"):
        Task.from_text(toy_model, "t", ["When Mary and John went to the park , John gave a ball to"],
                       ["When Mary and John went to park , John gave a ball to"], ["Mary"], ["John"])
    with pytest.raises(ValueError, match="not a single token"):
        Task.from_text(toy_model, "t", ["Mary went home"], ["John went home"], ["Mary Anna"], ["John"])
    with pytest.raises(ValueError, match="not a single token"):
        Task.from_text(toy_model, "t", ["Mary went home"], ["John went home"], ["Zyzzyva"], ["John"])


def test_pass_plan_covers_every_patch_once_and_shares_small_passes():
    from circuits.patching.activation import plan_passes

    firsts = [p for p in range(20) for _ in range(3)]  # 3 patches (e.g. heads) at each of 20 positions
    plan = plan_passes(firsts, n_prompts=1, k_max=1000, n_pos=20, overhead=384)
    members = sorted(m for ms in plan.values() for m in ms)
    assert members == list(range(len(firsts)))
    assert all(firsts[m] >= start for start, ms in plan.items() for m in ms)  # a pass starts at or before its patches
    assert len(plan) < 20  # tiny passes are merged ...
    many = plan_passes(firsts, n_prompts=384, k_max=1000, n_pos=20, overhead=384)
    assert len(many) == 20  # ... but not when recomputing positions costs more than a pass
