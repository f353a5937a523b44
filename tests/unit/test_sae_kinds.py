"""Dictionary kinds are self-contained (saes.registry): a new architecture is one module's registration, and the
trainer and saes.io need nothing else; activation sources give (input, target) pairs; one identity rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch

from interp.activations.sources import TensorSource
from interp.checkpoint import identity
from saes import io
from saes.registry import ARCHITECTURES, Architecture, Kind, declare, kind, register_architecture
from saes.relu import ReLUConfig, ReLUSAE
from saes.training.config import TrainSAEConfig
from saes.training.run import train_saes


@dataclass
class HalfReLUConfig(ReLUConfig):
    arch: ClassVar[str] = "halfrelu"


class HalfReLUSAE(ReLUSAE):
    """A "new" architecture: ReLU codes halved (enough to tell it apart); it keeps the step contexts it is given."""

    seen: ClassVar[list] = []

    def activation(self, h):
        return torch.relu(h) / 2

    def step_loss(self, ctx):
        HalfReLUSAE.seen.append(ctx)
        return super().step_loss(ctx)


@pytest.fixture
def halfrelu():
    declare(Architecture("halfrelu", __name__, "l1_coefficient"))
    register_architecture(Kind("halfrelu", HalfReLUConfig, HalfReLUSAE, saelens_save="standard",
                               saelens_read=(), sweep_label="l1c{coefficient:g}"))
    try:
        yield
    finally:
        from saes import registry

        ARCHITECTURES.pop("halfrelu")
        registry._KINDS.pop("halfrelu")


def test_a_new_architecture_is_one_registration(halfrelu, tmp_path):
    acts = torch.randn(4096, 16, generator=torch.Generator().manual_seed(0))
    cfg = TrainSAEConfig.of(arch=["halfrelu", "topk"], d_sae=[32], k=[4], tokens=256 * 8, batch_size=256,
                            out=str(tmp_path / "run"), eval=False, progress=False, checkpoint_every=0)
    train_saes(cfg, source=TensorSource(acts, 256))
    sae = io.load(tmp_path / "run" / "halfrelu-d32-l1c1.75-s0")
    assert io.read_info(tmp_path / "run" / "halfrelu-d32-l1c1.75-s0").arch == "halfrelu"
    assert type(sae) is ReLUSAE  # written as a SAELens standard SAE, read back as the kind that reads "standard"
    assert kind("halfrelu").sae is HalfReLUSAE


def test_unknown_architecture_lists_the_declared_ones():
    with pytest.raises(ValueError, match="unknown SAE architecture 'nope'; valid: relu, topk, jumprelu, batchtopk"):
        kind("nope")


def test_sources_give_input_target_pairs_of_the_same_tokens():
    x = torch.randn(1000, 8, generator=torch.Generator().manual_seed(1))
    y = x @ torch.randn(8, 5, generator=torch.Generator().manual_seed(2))
    src = TensorSource(x, 64, shard_tokens=300, target=y)
    inp, target = src.pair(3)
    ids = src.batch_ids(3)
    assert torch.equal(inp, x[ids]) and torch.equal(target, y[ids])
    same = TensorSource(x, 64, shard_tokens=300).pair(3)
    assert same.input is same.target and torch.equal(same.input, inp)


def test_one_identity_rule_leaves_out_where_and_how_a_run_writes():
    from saes.snmf.config import SNMFConfig

    a = SNMFConfig.of(out="/a", device="cpu", threads=1, max_iter=5, checkpoint_every=1, overwrite=True)
    b = SNMFConfig.of(out="/b", device="auto", threads=0, max_iter=50, checkpoint_every=7)
    assert identity(a) == identity(b)
    # the options SNMF checkpoints were keyed by before the rule existed, so their checkpoints still resume
    assert set(identity(a)) == {"model", "weight_processing", "corpus", "text_column", "n_ctx", "layer", "k",
                                "sparsity", "tokens", "solver", "init", "seed", "cache", "batch_size"}
    assert identity(a) != identity(SNMFConfig.of(k=7))
    sae = identity(TrainSAEConfig.of(out="/x", progress=False, sparse_step=False))
    assert "out" not in sae and "overwrite" not in sae and "sparse_step" not in sae and "hook" in sae


def test_the_trainer_hands_each_kind_its_targets(halfrelu, tmp_path):
    """A kind that reconstructs another hook (a transcoder) gets the source's targets of the same tokens."""
    from saes.training.trainer import Trainer

    x = torch.randn(2048, 16, generator=torch.Generator().manual_seed(3))
    cfg = TrainSAEConfig.of(arch=["halfrelu"], d_sae=[32], tokens=256 * 4, batch_size=256, out=str(tmp_path / "t"),
                            eval=False, progress=False, checkpoint_every=0)
    src = TensorSource(x, 256, target=2 * x)
    tr = Trainer(cfg, src)
    tr.wrap()
    HalfReLUSAE.seen.clear()
    tr.step(0, tr._batch(0))
    ctx = HalfReLUSAE.seen[-1]
    assert torch.equal(ctx.target, 2 * ctx.x) and torch.equal(ctx.x, x[src.batch_ids(0)])


def test_cache_and_model_sources_pair_two_hooks_of_the_same_tokens(toy_model, tmp_path):
    """A cache of two hooks and the model on the fly give the same (input, target) pairs as each hook alone."""
    from interp.activations.cache import cache_activations
    from interp.activations.config import CacheConfig
    from interp.activations.sources import CacheSource, ModelSource, RowsSource

    a, b = "blocks.0.hook_resid_post", "blocks.1.mlp.hook_post"
    cache_activations(CacheConfig.of(model="toy-gelu-s0", hooks=[a, b], tokens=2048, out=str(tmp_path / "c"),
                                     shard_tokens=512, batch_size=4), model=toy_model, progress=False)
    src = CacheSource(str(tmp_path / "c"), a, 128, target_hook=b)
    inp, target = src.pair(2)
    ids = src.batch_ids(2)
    assert torch.equal(inp, CacheSource(str(tmp_path / "c"), a, 128).gather(ids))
    assert torch.equal(target, CacheSource(str(tmp_path / "c"), b, 128).gather(ids))
    corpus = RowsSource(torch.randint(0, toy_model.cfg.d_vocab, (32, 16), generator=torch.Generator().manual_seed(0)))
    on_fly = ModelSource(toy_model, a, 128, 0, True, corpus, 8, target_hook=b)
    inp, target = on_fly.pair(1)
    alone = ModelSource(toy_model, b, 128, 0, True, corpus, 8)
    torch.testing.assert_close(target, alone.gather(on_fly.batch_ids(1)))
    assert inp.shape[1] == toy_model.cfg.d_model and target.shape[1] == toy_model.cfg.d_mlp
