"""Unit tests of the activation cache: small in-process runs on the shipped toy1-gelu-s0 (n_ctx 128, the geometry these
tests count in), real files in tmp_path."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from interp.activations import ActivationCache, CacheError, CorruptCacheError, DiskFullError, verify  # noqa: E402
from interp.activations import writer as writer_mod  # noqa: E402
from interp.activations.cache import cache_activations, expand_hooks  # noqa: E402
from interp.activations.config import CacheConfig  # noqa: E402
from interp.activations.stream import stop_layer  # noqa: E402
from interp.corpus import CorpusError, PackedTextSource, in_split  # noqa: E402
from interp.models import load_model  # noqa: E402
from interp.worlds import world_name_of_model  # noqa: E402
from interp.worlds.toy.corpus import CorpusConfig, generate_docs  # noqa: E402
from interp.worlds.toy.corpus_source import toy_texts  # noqa: E402

HOOKS = ["blocks.*.mlp.hook_post"]


@pytest.fixture(scope="module")
def model():
    return load_model("toy1-gelu-s0")


def run(model, out, tokens=4096, hooks=HOOKS, **kw):
    cfg = CacheConfig.of(model="toy1-gelu-s0", hooks=hooks, tokens=tokens, out=str(out),
                         shard_tokens=kw.pop("shard", 1024), batch_size=kw.pop("batch_size", 4), **kw)
    return cache_activations(cfg, model=model, progress=False)


def all_acts(path, hook) -> torch.Tensor:
    c = ActivationCache.open(path)
    return torch.cat([c.shard_activations(hook, i) for i in range(len(c.shards))])


def test_expand_hooks_globs_and_errors(model):
    assert expand_hooks(model, HOOKS) == [f"blocks.{i}.mlp.hook_post" for i in range(4)]
    assert expand_hooks(model, ["blocks.2.hook_resid_post", "blocks.0.*.hook_z"]) == [
        "blocks.0.attn.hook_z", "blocks.2.hook_resid_post"]
    with pytest.raises(ValueError, match="Valid hooks.*blocks.0.hook_resid_pre"):
        expand_hooks(model, ["blocks.9.mlp.hook_post"])
    with pytest.raises(ValueError, match="unknown hook.*nothing.*"):
        expand_hooks(model, ["nothing.*"])
    assert stop_layer(["blocks.1.mlp.hook_post", "blocks.0.hook_resid_pre"], 4) == 2
    assert stop_layer(["hook_embed"], 4) == 0
    assert stop_layer(["ln_final.hook_normalized"], 4) is None


def test_cache_matches_model_and_corpus(model, tmp_path):
    n_ctx = model.cfg.n_ctx  # documents are one context long
    n_docs = -(-4000 // n_ctx)
    res = run(model, tmp_path / "c", tokens=4000)  # rounded up to whole documents
    assert (res.n_tokens, res.n_shards) == (n_docs * n_ctx, 4)
    m = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert m["model"] == "toy1-gelu-s0" and m["d"] == {h: 512 for h in m["hooks"]} and m["n_tokens"] == n_docs * n_ctx
    assert m["label_schema"]["fields"][0] == "category" and len(m["shards"][0]["files"]["tokens"]["checksum"]) == 32
    c = ActivationCache.open(tmp_path / "c")
    docs = generate_docs(CorpusConfig(world=world_name_of_model(model), n_ctx=n_ctx), n_docs)
    assert torch.equal(c.tokens(), torch.from_numpy(docs.tokens.reshape(-1)))  # [doc, pos] -> [doc * pos]
    assert torch.equal(c.labels(), torch.from_numpy(docs.labels.reshape(n_docs * n_ctx, -1)))
    assert torch.equal(c.doc_ids(), torch.arange(n_docs).repeat_interleave(n_ctx))
    assert torch.equal(c.positions().long(), torch.arange(n_ctx).repeat(n_docs))
    _, ref = model.run_with_cache(torch.from_numpy(docs.tokens[[5, 30]]).long())
    for layer in (0, 3):
        hook = f"blocks.{layer}.mlp.hook_post"
        rows = torch.cat([torch.arange(5 * n_ctx, 6 * n_ctx), torch.arange(30 * n_ctx, 31 * n_ctx)])
        got = c.get(hook, rows)
        torch.testing.assert_close(got, ref[hook].reshape(2 * n_ctx, 512), atol=1e-4, rtol=1e-4)  # [2, pos, d]
    assert verify(tmp_path / "c").ok


def test_resume_extends_and_equals_one_run(model, tmp_path):
    run(model, tmp_path / "a", tokens=1500)  # 12 docs: one full shard of 8 docs + a short one of 4
    first = ActivationCache.open(tmp_path / "a").manifest.shards
    assert [s.n_docs for s in first] == [8, 4]
    (tmp_path / "a" / "shards" / "r0-000009.tokens.safetensors.tmp").write_bytes(b"partial")  # a killed write
    (tmp_path / "a" / "shards" / "r0-000007.blocks.0.mlp.hook_post.safetensors").write_bytes(b"unlisted")
    res = run(model, tmp_path / "a", tokens=4096)
    assert res.new_tokens == 4096 - 1024  # shard 0 kept; the short shard 1 redone in full, shards 2, 3 new
    run(model, tmp_path / "b", tokens=4096)
    left = sorted(p.name for p in (tmp_path / "a" / "shards").iterdir())
    assert not [n for n in left if n.endswith(".tmp") or n.startswith("r0-000007")]
    for hook in ActivationCache.open(tmp_path / "a").hooks:
        assert torch.equal(all_acts(tmp_path / "a", hook), all_acts(tmp_path / "b", hook))
    assert run(model, tmp_path / "a", tokens=2048).new_tokens == 0  # a smaller request never shrinks the cache


def test_other_model_or_hooks_is_a_clear_error(model, tmp_path):
    run(model, tmp_path / "c", tokens=1024)
    with pytest.raises(CacheError, match=r"hooks: cache has \['blocks.0.mlp.hook_post'.*asks for \['blocks.1.hook"):
        run(model, tmp_path / "c", tokens=1024, hooks=["blocks.1.hook_resid_post"])
    other = load_model("toy1-relu-s0")
    with pytest.raises(CacheError, match="model: cache has 'toy1-gelu-s0', this run asks for 'toy1-relu-s0'"):
        cache_activations(CacheConfig.of(model="toy1-relu-s0", tokens=1024, out=str(tmp_path / "c"), shard_tokens=1024),
                          model=other, progress=False)


def test_disk_full_stops_cleanly_and_resumes(model, tmp_path, monkeypatch):
    calls = []

    def fake_free(path):
        calls.append(path)
        return 10**12 if len(calls) <= 2 else 1000  # room for two shards, then a full disk

    monkeypatch.setattr(writer_mod, "free_bytes", fake_free)
    with pytest.raises(DiskFullError, match="not enough disk space.*shard 2.*1,000 are free"):
        run(model, tmp_path / "c", tokens=4096)
    c = ActivationCache.open(tmp_path / "c")
    assert [s.index for s in c.shards] == [0, 1] and verify(tmp_path / "c").ok
    assert not list((tmp_path / "c").rglob("*.tmp"))
    monkeypatch.undo()
    assert run(model, tmp_path / "c", tokens=4096).n_tokens == 4096


def test_corrupt_and_truncated_shards_are_named(model, tmp_path):
    run(model, tmp_path / "c", tokens=2048)
    shard = tmp_path / "c" / "shards" / "r0-000001.blocks.2.mlp.hook_post.safetensors"
    data = bytearray(shard.read_bytes())
    data[-5] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(CorruptCacheError, match="r0-000001.blocks.2.mlp.hook_post.safetensors .checksum mismatch"):
        ActivationCache.open(tmp_path / "c").verify()
    assert verify(tmp_path / "c", raise_on_error=False).bad == [f"shards/{shard.name} (checksum mismatch)"]
    shard.write_bytes(bytes(data[:1000]))
    with pytest.raises(CorruptCacheError, match=f"shards/{shard.name} .1000 bytes"):
        ActivationCache.open(tmp_path / "c")


def test_checksums_are_verified_on_read_and_a_rerun_rewrites_damaged_shards(model, tmp_path, capsys):
    """Flipped bytes of the same size: reading the shard (the first time in a process) names it and the command
    that rewrites it; running the cache command again finds it, computes it again, and the cache is whole."""
    run(model, tmp_path / "ref", tokens=2048)
    run(model, tmp_path / "c", tokens=2048)
    shard = tmp_path / "c" / "shards" / "r0-000001.blocks.2.mlp.hook_post.safetensors"
    data = bytearray(shard.read_bytes())
    data[-5] ^= 0xFF
    shard.write_bytes(bytes(data))
    cache = ActivationCache.open(tmp_path / "c")  # sizes agree: opening is cheap and succeeds
    with pytest.raises(CorruptCacheError, match=rf"{shard.name} \(checksum mismatch\).*interp cache"):
        cache.get("blocks.2.mlp.hook_post", torch.arange(cache.n_tokens))
    with pytest.raises(CorruptCacheError, match="checksum mismatch"):
        list(cache.iter_batches("blocks.2.mlp.hook_post", 256))
    res = run(model, tmp_path / "c", tokens=2048)
    assert "shard 1 is damaged" in capsys.readouterr().out and res.new_tokens == 1024
    assert verify(tmp_path / "c").ok
    a, b = ActivationCache.open(tmp_path / "c"), ActivationCache.open(tmp_path / "ref")
    hook = "blocks.2.mlp.hook_post"
    assert torch.equal(a.shard_activations(hook, 1), b.shard_activations(hook, 1))
    with pytest.raises(ValueError, match="batch_size and window must be >= 1"):
        next(a.iter_batches("blocks.2.mlp.hook_post", 0))


def test_hand_edited_manifests_are_refused(model, tmp_path):
    run(model, tmp_path / "c", tokens=2048)
    path = tmp_path / "c" / "manifest.json"
    good = json.loads(path.read_text())
    bad = json.loads(path.read_text())
    bad["shards"][0]["files"]["tokens"]["path"] = "../../etc/passwd"
    path.write_text(json.dumps(bad))
    with pytest.raises(CorruptCacheError, match="outside the cache folder"):
        ActivationCache.open(tmp_path / "c")
    bad = json.loads(json.dumps(good))
    bad["shards"][0]["n_tokens"] += 7
    path.write_text(json.dumps(bad))
    with pytest.raises(CorruptCacheError, match="shard 0 is inconsistent"):
        ActivationCache.open(tmp_path / "c")


def test_manifests_of_another_format_are_a_clear_error(model, tmp_path):
    run(model, tmp_path / "c", tokens=1024)
    path = tmp_path / "c" / "manifest.json"
    good = json.loads(path.read_text())
    old = json.loads(json.dumps(good))
    for f in old["shards"][0]["files"].values():  # an earlier interp's records: sha256 instead of the xxh3 checksum
        f["sha256"] = f.pop("checksum")
    path.write_text(json.dumps(old))
    for open_it in (lambda: ActivationCache.open(tmp_path / "c"), lambda: run(model, tmp_path / "c", tokens=1024)):
        with pytest.raises(CacheError, match="earlier interp, whose manifests hold sha256 .* delete the folder"):
            open_it()
    broken = json.loads(json.dumps(good))
    del broken["shards"][0]["n_docs"]
    path.write_text(json.dumps(broken))
    with pytest.raises(CacheError, match="manifest.json: unreadable shard record"):
        ActivationCache.open(tmp_path / "c")
    del good["dtype"]
    path.write_text(json.dumps(good))
    with pytest.raises(CacheError, match="unreadable manifest header"):
        ActivationCache.open(tmp_path / "c")


def test_reader_batches_are_shuffled_deterministic_and_complete(model, tmp_path):
    run(model, tmp_path / "c", tokens=4096, hooks=["blocks.1.hook_resid_post"])
    c = ActivationCache.open(tmp_path / "c")
    hook = c.hooks[0]
    full = all_acts(tmp_path / "c", hook)
    plain = torch.cat(list(c.iter_batches(hook, 1000, shuffle=False)))
    assert torch.equal(plain, full)
    a = list(c.iter_batches(hook, 1000, seed=3, window=2))
    b = list(c.iter_batches(hook, 1000, seed=3, window=2))
    other = torch.cat(list(c.iter_batches(hook, 1000, seed=4, window=2)))
    assert [len(x) for x in a] == [1000] * 4 + [96]
    assert all(torch.equal(x, y) for x, y in zip(a, b)) and not torch.equal(torch.cat(a), other)
    rows, counts = torch.unique(torch.cat(a), dim=0, return_counts=True)  # the same rows, in any order
    rows_full, counts_full = torch.unique(full, dim=0, return_counts=True)
    assert torch.equal(rows, rows_full) and torch.equal(counts, counts_full) and not torch.equal(torch.cat(a), full)
    idx = torch.tensor([4095, 0, 1500, 1024, 1023, 7])
    assert torch.equal(c.get(hook, idx), full[idx])
    with pytest.raises(IndexError):
        c.get(hook, [4096])
    with pytest.raises(KeyError, match="blocks.1.hook_resid_post"):
        c.get("blocks.0.mlp.hook_post", [0])


def test_multi_dim_hooks_and_non_token_hooks(model, tmp_path):
    run(model, tmp_path / "c", tokens=1024, hooks=["blocks.0.attn.hook_z"], dtype="bfloat16")
    c = ActivationCache.open(tmp_path / "c")
    assert c.manifest.shapes == {"blocks.0.attn.hook_z": [4, 32]} and c.d("blocks.0.attn.hook_z") == 128
    x = c.get("blocks.0.attn.hook_z", [3])
    assert x.dtype == torch.bfloat16 and x.shape == (1, 128)
    with pytest.raises(CacheError, match="only per-token hooks.*blocks.0.attn.hook_pattern"):
        run(model, tmp_path / "d", tokens=1024, hooks=["blocks.0.attn.hook_pattern"])


def test_text_file_corpus_is_packed_with_bos(model, tmp_path):
    docs = generate_docs(CorpusConfig(), 40)
    words = model.tokenizer.convert_ids_to_tokens(list(range(len(model.tokenizer))))
    text = tmp_path / "docs.txt"
    lines = [" ".join(words[i] for i in row[1:]) for row in docs.tokens]
    text.write_text("\n".join(lines) + "\n")
    res = run(model, tmp_path / "c", tokens=100_000, corpus=str(text), n_ctx=64, shard=256)
    c = ActivationCache.open(tmp_path / "c")
    train = [row for row, line in zip(docs.tokens, lines) if in_split(line, "train")]  # the cache holds the train split
    assert 0 < len(train) < len(lines)
    n_stream = len(train) * 128  # 127 words + 1 separator per document
    assert res.n_tokens == (n_stream // 63) * 64 and c.manifest.corpus["kind"] == "text"
    assert c.manifest.corpus["split"] == "train" and len(c.manifest.corpus["fingerprint"]) == 32
    toks = c.tokens().reshape(-1, 64)  # [row, pos]
    assert (toks[:, 0] == model.tokenizer.bos_token_id).all()
    assert torch.equal(toks[0, 1:].long(), torch.from_numpy(train[0][1:64]).long())
    with pytest.raises(CacheError, match="no labels"):
        c.labels()
    # the path a non-toy model takes for the default corpus: toy text re-tokenized by the model's tokenizer
    packed = PackedTextSource(toy_texts(CorpusConfig()), model.tokenizer, 128, {"kind": "toyworld-text"})
    rows = packed.rows(0, 3).tokens
    assert rows.shape == (3, 128) and torch.equal(rows[0, 1:].long(), torch.from_numpy(docs.tokens[0, 1:]).long())
    assert rows[1, 0] == model.tokenizer.bos_token_id and rows[1, 1] == model.tokenizer.eos_token_id


def test_hf_corpus_offline_and_bad_paths_are_clear(model, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CorpusError, match="needs the Hugging Face hub"):
        run(model, tmp_path / "c", corpus="hf:some/dataset:train")
    with pytest.raises(FileNotFoundError, match="neither 'toyworld'"):
        run(model, tmp_path / "c", corpus=str(tmp_path / "missing.txt"))
    with pytest.raises(CorpusError, match="longer than the model.s context"):
        run(model, tmp_path / "c", n_ctx=256)
    assert np.array_equal(generate_docs(CorpusConfig(), 1).tokens, generate_docs(CorpusConfig(), 1).tokens)


@pytest.mark.parametrize("direct", [True, False])
def test_a_real_full_disk_mid_run_keeps_the_written_shards_and_resumes(model, tmp_path, small_disk, monkeypatch,
                                                                       direct):
    """No probe faked: the free-space probe is told the disk is huge, so ENOSPC comes from the file system itself
    while a shard is written (each shard is ~2.1 MB; two fit in 6 MiB beside the manifest)."""
    monkeypatch.setattr(writer_mod, "free_bytes", lambda path: 10**12)
    monkeypatch.setattr(writer_mod, "supports_direct_io", lambda folder: direct)
    hooks = ["blocks.0.mlp.hook_post"]
    with pytest.raises(DiskFullError, match="disk full"):
        run(model, small_disk / "c", tokens=6144, hooks=hooks)
    written = [s.index for s in ActivationCache.open(small_disk / "c").shards]
    assert written and written == list(range(len(written))) and len(written) < 6
    assert verify(small_disk / "c").ok and not list((small_disk / "c").rglob("*.tmp"))
    assert os.system(f"mount -o remount,size=48m {small_disk}") == 0  # free space, run again
    monkeypatch.undo()
    assert run(model, small_disk / "c", tokens=6144, hooks=hooks).n_tokens == 6144
    ref = run(model, tmp_path / "ref", tokens=6144, hooks=hooks)
    assert ref.n_shards == 6 and torch.equal(all_acts(small_disk / "c", hooks[0]), all_acts(tmp_path / "ref", hooks[0]))


def test_shard_mb_caps_the_tokens_of_a_shard(model, tmp_path):
    """4 hooks x 512 float32 = 8 KiB a token: a 1 MiB cap gives shards of 128 tokens (one document of 128)."""
    r = run(model, tmp_path / "c", tokens=1024, shard=4096, shard_mb=1)
    c = ActivationCache.open(tmp_path / "c")
    assert r.n_shards == 8 and {s.n_tokens for s in c.shards} == {128}
    with pytest.raises(ValueError, match="--shard-mb must be >= 1, got 0"):
        CacheConfig.of(shard_mb=0)
