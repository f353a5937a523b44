"""The weights' identity in every artifact, checked wherever an artifact meets a model (interp.provenance): a model
folder whose weights changed in place, SAEs of two models compared, a --hook other than the SAE's, a cache manifest
edited to name another model, steering with an SAE of another model: each refused in one line naming both sides.
Artifacts written before fingerprints were recorded still load (checked by name). Tiny random models and a corpus
built at test time; real files, through the CLI."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_models import bpe_tokenizer, tiny_model, write_corpus  # noqa: E402

from apps.cli import main  # noqa: E402
from interp.file_digests import CACHE_NAME, file_digest  # noqa: E402
from interp.models import model_fingerprint  # noqa: E402

HOOK = "blocks.1.mlp.hook_post"
SAE = ["--arch", "topk", "--d-sae", 32, "--k", 4, "--tokens", 2048, "--batch-size", 256, "--eval-tokens", 256,
       "--progress", "false"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two gpt2-family models of one shape (seeds 0 and 1), a cache of the first and an SAE trained on it, an SAE
    of the second; the fingerprint cache in a fresh INTERP_HOME."""
    root = tmp_path_factory.mktemp("identity")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INTERP_HOME", str(root / "home"))
        corpus = write_corpus(root / "text", n_lines=600, seed=2)
        tok = bpe_tokenizer(root / "tok", corpus)
        a, b = tiny_model("gpt2", root / "a", tok, seed=0), tiny_model("gpt2", root / "b", tok, seed=1)
        assert main(["cache", "--model", str(a), "--hooks", HOOK, "--tokens", "3072", "--corpus", str(corpus),
                     "--out", str(root / "cache")]) == 0
        assert main([str(x) for x in ["train-sae", "--cache", root / "cache", "--hook", HOOK, *SAE, "--out",
                                      root / "sae-a"]]) == 0
        assert main([str(x) for x in ["train-sae", "--model", b, "--corpus", corpus, "--hook", HOOK, *SAE,
                                      "--out", root / "sae-b"]]) == 0
        yield root, corpus, a, b


def _run(capsys, *args) -> tuple[int, str]:
    """Return code and the CLI's own error line(s)."""
    rc = main([str(a) for a in args])
    err = capsys.readouterr().err
    return rc, "\n".join(ln for ln in err.splitlines() if ln.startswith("interp:"))


def _one_line(err: str, *names) -> None:
    assert len(err.strip().splitlines()) == 1, err
    for n in names:
        assert str(n) in err, (n, err)


def test_every_artifact_records_the_model_and_its_fingerprint(world):
    root, _, a, b = world
    fa = model_fingerprint(str(a))
    assert fa != model_fingerprint(str(b))
    man = json.loads((root / "cache" / "manifest.json").read_text())
    assert (man["model"], man["model_fingerprint"]) == (str(a), fa)
    meta = json.loads((root / "sae-a" / "cfg.json").read_text())["metadata"]
    assert (meta["model_name"], meta["model_fingerprint"], meta["weight_processing"]) == (str(a), fa, "default")
    report = json.loads((root / "sae-a" / "eval.json").read_text())
    assert (report["model"], report["model_fingerprint"]) == (str(a), fa)


def test_a_weight_changed_in_place_is_detected_when_an_earlier_sae_is_evaluated(world, tmp_path, capsys,
                                                                                 monkeypatch):
    root, _, a, _ = world
    monkeypatch.setenv("INTERP_HOME", str(root / "home"))
    model = tmp_path / "model"
    shutil.copytree(a, model)
    sae = tmp_path / "sae"
    rc, err = _run(capsys, "train-sae", "--cache", root / "cache", "--hook", HOOK, *SAE, "--out", sae)
    assert rc == 0, err  # trained on a's cache: records a
    cfg = json.loads((sae / "cfg.json").read_text())
    cfg["metadata"]["model_name"] = str(model)  # as if trained on the copy (same weights, same fingerprint)
    (sae / "cfg.json").write_text(json.dumps(cfg))
    before = model_fingerprint(str(model))
    rc, err = _run(capsys, "eval-sae", "--sae", sae, "--tokens", 256, "--out", tmp_path / "before.json")
    assert rc == 0, err
    weights = model / "model.safetensors"
    size = weights.stat().st_size
    state = load_file(str(weights))
    name = next(k for k in state if k.endswith("mlp.c_fc.weight"))
    state[name][0, 0] += 1.0
    save_file(state, str(weights), metadata={"format": "pt"})  # same path, same size, one weight changed
    assert weights.stat().st_size == size
    after = model_fingerprint(str(model))
    assert after != before
    rc, err = _run(capsys, "eval-sae", "--sae", sae, "--tokens", 256, "--out", tmp_path / "after.json")
    assert rc == 1
    _one_line(err, before, after, model, "--model")
    assert not (tmp_path / "after.json").exists()


def test_eval_sae_compare_across_models_and_another_hook_are_refused(world, capsys):
    root, _, a, b = world
    rc, err = _run(capsys, "eval-sae", "--sae", root / "sae-a", "--compare", root / "sae-b", "--tokens", 256,
                   "--out", root / "compare.json")
    assert rc == 1
    _one_line(err, a, b, root / "sae-b")
    rc, err = _run(capsys, "eval-sae", "--sae", root / "sae-a", "--hook", "blocks.0.mlp.hook_post", "--tokens", 256,
                   "--out", root / "hook.json")
    assert rc == 1  # the same width, so nothing else would have stopped it
    _one_line(err, "blocks.0.mlp.hook_post", HOOK, "--hook")


def test_a_cache_manifest_edited_to_name_another_model_is_refused(world, tmp_path, capsys):
    root, corpus, a, b = world
    edited = tmp_path / "cache"
    shutil.copytree(root / "cache", edited)
    man = json.loads((edited / "manifest.json").read_text())
    man["model"] = str(b)
    (edited / "manifest.json").write_text(json.dumps(man))
    rc, err = _run(capsys, "train-sae", "--cache", edited, "--hook", HOOK, *SAE, "--out", tmp_path / "sae")
    assert rc == 1
    _one_line(err, b, man["model_fingerprint"], model_fingerprint(str(b)))
    rc, err = _run(capsys, "feature-pages", "--dictionary", root / "sae-a", "--cache", edited, "--out",
                   tmp_path / "pages")
    assert rc == 1
    _one_line(err, a, b)


def test_steer_and_steer_bench_refuse_the_same_mismatches(world, capsys):
    root, _, a, b = world
    rc, err = _run(capsys, "steer", "--dictionary", root / "sae-a", "--feature", 1, "--alpha", 2, "--model", b,
                   "--max-new-tokens", 2)
    assert rc == 1
    _one_line(err, a, b)
    rc, err = _run(capsys, "steer", "--dictionary", root / "sae-a", "--feature", 1, "--alpha", 2, "--hook",
                   "blocks.0.mlp.hook_post", "--max-new-tokens", 2)
    assert rc == 1
    _one_line(err, "blocks.0.mlp.hook_post", HOOK)
    rc, err = _run(capsys, "steer-bench", "--dictionaries", root / "sae-a", root / "sae-b", "--out", root / "bench")
    assert rc == 1
    _one_line(err, a, b)


def test_artifacts_without_a_fingerprint_still_load(world, tmp_path, capsys):
    """Caches and SAEs written before fingerprints were recorded are checked by their model's name only."""
    root, corpus, a, b = world
    sae = tmp_path / "sae"
    shutil.copytree(root / "sae-a", sae)
    cfg = json.loads((sae / "cfg.json").read_text())
    del cfg["metadata"]["model_fingerprint"]
    (sae / "cfg.json").write_text(json.dumps(cfg))
    rc, err = _run(capsys, "eval-sae", "--sae", sae, "--tokens", 256)
    assert rc == 0, err
    rc, err = _run(capsys, "eval-sae", "--sae", sae, "--model", b, "--tokens", 256)
    assert rc == 1 and "disagrees" in err  # the name is still checked
    cache = tmp_path / "cache"
    shutil.copytree(root / "cache", cache)
    man = json.loads((cache / "manifest.json").read_text())
    del man["model_fingerprint"]
    (cache / "manifest.json").write_text(json.dumps(man))
    rc, err = _run(capsys, "train-sae", "--cache", cache, "--hook", HOOK, *SAE, "--out", tmp_path / "sae2")
    assert rc == 0, err
    rc, err = _run(capsys, "cache", "--model", a, "--hooks", HOOK, "--tokens", 4096, "--corpus", corpus, "--out", cache)
    assert rc == 0, err  # an old cache is resumed (extended) on its model's name
    meta = json.loads((tmp_path / "sae2" / "cfg.json").read_text())["metadata"]
    assert meta["model_name"] == str(a) and meta["model_fingerprint"] == model_fingerprint(str(a))


def test_weight_digests_are_cached_per_file_version(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_HOME", str(tmp_path / "home"))
    f = tmp_path / "w.bin"
    f.write_bytes(b"a" * 1000)
    first = file_digest(f)
    cached = json.loads((tmp_path / "home" / "models" / CACHE_NAME).read_text())
    assert cached[str(f.resolve())]["xxh3_128"] == first
    f.write_bytes(b"b" * 1000)  # rewritten in place, same size
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # as a save a second later (mtimes tick coarsely)
    assert file_digest(f) != first
