"""A researcher's own model and text, through the CLI: tiny random models of several families (built at test time,
a real byte-level BPE tokenizer) and a corpus written at test time. Every command runs on them, records what it
measured (model, weight processing, corpus source, fingerprint, split, tokens), never falls back to the toy world,
and refuses inputs that disagree with what an artifact records."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_models import bpe_tokenizer, tiny_model, write_corpus  # noqa: E402

from apps.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("own")
    corpus = write_corpus(root / "text", n_lines=900, seed=1)
    tok = bpe_tokenizer(root / "tok", corpus)
    models = {fam: tiny_model(fam, root / fam, tok) for fam in ("gpt2", "llama", "qwen2")}
    return root, corpus, models


def _run(capsys, *args) -> tuple[int, str, str]:
    """Return code, stdout and the CLI's own error line(s) (library progress bars left out)."""
    rc = main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, "\n".join(ln for ln in out.err.splitlines() if ln.startswith("interp:"))


def test_cache_records_model_and_corpus_and_never_defaults_to_the_toy_world(world, capsys, one_torch_thread):
    root, corpus, models = world
    rc, _, err = _run(capsys, "cache", "--model", models["gpt2"], "--hooks", "blocks.1.mlp.hook_post",
                      "--tokens", 2048, "--out", root / "no-corpus")
    assert rc == 1 and "not a toy-world model" in err and "--corpus" in err and len(err.strip().splitlines()) == 1
    assert not (root / "no-corpus").exists()  # nothing written
    rc, out, err = _run(capsys, "cache", "--model", models["gpt2"], "--hooks", "blocks.1.mlp.hook_post",
                        "--tokens", 4096, "--corpus", corpus, "--out", root / "cache")
    assert rc == 0, err
    man = json.loads((root / "cache" / "manifest.json").read_text())
    assert man["model"] == str(models["gpt2"]) and man["weight_processing"] == "default"
    assert man["corpus"]["source"] == str(corpus.resolve()) and man["corpus"]["split"] == "train"
    assert man["corpus"]["kind"] == "text" and len(man["corpus"]["fingerprint"]) == 32
    assert man["n_ctx"] == 128  # the model's own context (128), the default's cap
    assert str(models["gpt2"]) in out and "corpus.txt" in out and "default weight processing" in out


def test_a_model_folder_typed_relative_is_recorded_by_its_absolute_path(world, capsys, monkeypatch,
                                                                         one_torch_thread):
    """`--model gpt2` run inside the folder that holds a gpt2/ model folder: the folder, recorded absolutely, so the
    artifact names the same weights from anywhere (and not the hub's gpt2)."""
    root, corpus, models = world
    monkeypatch.chdir(models["gpt2"].parent)
    rc, _, err = _run(capsys, "cache", "--model", models["gpt2"].name, "--hooks", "blocks.1.mlp.hook_post",
                      "--tokens", 1024, "--corpus", corpus, "--out", root / "cache-relative")
    assert rc == 0, err
    man = json.loads((root / "cache-relative" / "manifest.json").read_text())
    assert man["model"] == str(models["gpt2"].resolve())


def test_train_and_eval_take_the_model_and_corpus_the_cache_records(world, capsys, one_torch_thread):
    root, corpus, models = world
    if not (root / "cache").exists():
        test_cache_records_model_and_corpus_and_never_defaults_to_the_toy_world(world, capsys, one_torch_thread)
    common = ["--hook", "blocks.1.mlp.hook_post", "--arch", "topk", "--d-sae", 64, "--k", 4, "--tokens", 4096,
              "--batch-size", 256, "--eval-tokens", 1024, "--progress", "false"]
    rc, _, err = _run(capsys, "train-sae", "--cache", root / "cache", "--model", "toy-gelu-s0", *common,
                      "--out", root / "sae-wrong")
    assert rc == 1 and "disagrees" in err and str(models["gpt2"]) in err and "toy-gelu-s0" in err
    rc, out, err = _run(capsys, "train-sae", "--cache", root / "cache", *common, "--out", root / "sae")
    assert rc == 0, err
    cfg = json.loads((root / "sae" / "cfg.json").read_text())
    assert cfg["metadata"]["model_name"] == str(models["gpt2"])
    assert cfg["metadata"]["corpus"]["source"] == str(corpus.resolve()) and cfg["metadata"]["corpus"]["tokens"] == 4096
    report = json.loads((root / "sae" / "eval.json").read_text())
    assert report["model"] == str(models["gpt2"]) and report["weight_processing"] == "default"
    assert report["corpus"]["source"] == str(corpus.resolve()) and report["corpus"]["split"] == "heldout"
    assert report["corpus"]["fingerprint"] == cfg["metadata"]["corpus"]["fingerprint"]
    assert report["ground_truth"] is None  # no toy-world labels on the user's text
    rc, out, err = _run(capsys, "eval-sae", "--sae", root / "sae", "--tokens", 1024, "--out", root / "eval.json")
    assert rc == 0, err
    again = json.loads((root / "eval.json").read_text())
    assert again["corpus"]["split"] == "heldout" and again["model"] == str(models["gpt2"])
    assert "corpus.txt" in out and "heldout" in out
    rc, _, err = _run(capsys, "eval-sae", "--sae", root / "sae", "--out", root / "sae" / "sae_weights.safetensors")
    assert rc == 1 and "replace" in err  # the SAE's own weights are never overwritten


@pytest.mark.parametrize("family", ["llama", "qwen2"])
def test_on_the_fly_training_and_snmf_on_another_family(family, world, capsys, one_torch_thread):
    root, corpus, models = world
    rc, _, err = _run(capsys, "train-sae", "--model", models[family], "--hook", "blocks.0.hook_resid_post",
                      "--arch", "relu", "--d-sae", 64, "--tokens", 2048, "--batch-size", 256, "--buffer-docs", 4,
                      "--eval-tokens", 512, "--progress", "false", "--out", root / f"sae-{family}")
    assert rc == 1 and "--corpus" in err  # no silent toy-world default
    rc, _, err = _run(capsys, "train-sae", "--model", models[family], "--corpus", corpus, "--hook",
                      "blocks.0.hook_resid_post", "--arch", "relu", "--d-sae", 64, "--tokens", 2048, "--batch-size",
                      256, "--buffer-docs", 4, "--eval-tokens", 512, "--progress", "false", "--out",
                      root / f"sae-{family}")
    assert rc == 0, err
    assert json.loads((root / f"sae-{family}" / "eval.json").read_text())["corpus"]["split"] == "heldout"
    rc, out, err = _run(capsys, "snmf", "--model", models[family], "--corpus", corpus, "--layer", 0, "--k", 8,
                        "--tokens", 1500, "--max-iter", 3, "--eval-tokens", 500, "--out", root / f"snmf-{family}")
    assert rc == 0, err
    meta = json.loads((root / f"snmf-{family}" / "snmf.json").read_text())
    assert meta["model"] == str(models[family]) and meta["corpus"]["source"] == str(corpus.resolve())
    report = json.loads((root / f"snmf-{family}" / "eval.json").read_text())
    assert report["corpus"]["split"] == "heldout" and report["ground_truth"] is None


def test_steer_takes_the_dictionarys_model(world, capsys, one_torch_thread):
    root, corpus, models = world
    if not (root / "sae").exists():
        test_train_and_eval_take_the_model_and_corpus_the_cache_records(world, capsys, one_torch_thread)
    rc, out, err = _run(capsys, "steer", "--dictionary", root / "sae", "--feature", 1, "--alpha", 4, "--prompt",
                        "Mary walked", "--max-new-tokens", 3)
    assert rc == 0, err
    assert str(models["gpt2"]) in out
    rc, _, err = _run(capsys, "steer", "--dictionary", root / "sae", "--feature", 1, "--alpha", 4, "--model",
                      "toy-gelu-s0")
    assert rc == 1 and "disagrees" in err


def test_corpus_kinds_read_the_same_documents(world, tmp_path):
    """A .txt file, a folder of .txt, .jsonl, .parquet and a datasets folder holding the same documents give the
    same rows; a missing text column, an empty file and a missing path are one-line errors."""
    import datasets
    import pandas as pd
    import torch

    from interp.corpus import CorpusError, open_corpus
    from interp.models import load_model
    from interp.options import CorpusOptions

    root, corpus, models = world
    lines = [ln for ln in corpus.read_text().splitlines() if ln.strip()][:200]
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "a.txt").write_text("\n".join(lines[:100]) + "\n")
    (tmp_path / "folder" / "b.txt").write_text("\n".join(lines[100:]) + "\n")
    (tmp_path / "docs.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps({"body": t, "id": i}) + "\n" for i, t in enumerate(lines)))
    pd.DataFrame({"body": lines}).to_parquet(tmp_path / "docs.parquet")
    datasets.Dataset.from_dict({"body": lines}).save_to_disk(str(tmp_path / "ds"))
    model = load_model(str(models["gpt2"]))
    ref = open_corpus(CorpusOptions(corpus=str(tmp_path / "docs.txt"), n_ctx=64), model, "train").rows(0, 5).tokens
    for spec in ("folder", "docs.jsonl", "docs.parquet", "ds"):
        src = open_corpus(CorpusOptions(corpus=str(tmp_path / spec), n_ctx=64, text_column="body"), model, "train")
        assert torch.equal(src.rows(0, 5).tokens, ref), spec
        assert src.description["fingerprint"]
    with pytest.raises(CorpusError, match=r"no 'text' field.*--text-column"):
        open_corpus(CorpusOptions(corpus=str(tmp_path / "docs.jsonl"), n_ctx=64), model)
    with pytest.raises(CorpusError, match=r"no 'text' column.*--text-column"):
        open_corpus(CorpusOptions(corpus=str(tmp_path / "docs.parquet"), n_ctx=64), model)
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(CorpusError, match="is empty"):
        open_corpus(CorpusOptions(corpus=str(tmp_path / "empty.txt"), n_ctx=64), model)
    with pytest.raises(FileNotFoundError, match="neither 'toyworld'"):
        open_corpus(CorpusOptions(corpus=str(tmp_path / "missing.txt"), n_ctx=64), model)
    held = open_corpus(CorpusOptions(corpus=str(tmp_path / "docs.txt"), n_ctx=64), model, "heldout")
    assert not torch.equal(held.rows(0, 1).tokens, ref[:1])  # another split, other documents


def test_toy_world_concepts_are_refused_on_a_model_that_cannot_read_the_toy_world(world, capsys, one_torch_thread):
    """`steer --concept` and `steer-bench` build their directions from the toy world's labelled documents, whose
    token ids mean nothing to another vocabulary: one line each, never a direction from toy text."""
    root, _, models = world
    if not (root / "sae").exists():
        test_train_and_eval_take_the_model_and_corpus_the_cache_records(world, capsys, one_torch_thread)
    rc, _, err = _run(capsys, "steer", "--model", models["gpt2"], "--hook", "blocks.1.hook_resid_post", "--concept",
                      "gender:female", "--alpha", 2, "--prompt", "The cat")
    assert rc == 1 and len(err.splitlines()) == 1 and "--concept gender:female needs a toy-world model" in err
    assert "--neuron" in err
    rc, _, err = _run(capsys, "steer-bench", "--dictionaries", root / "sae", "--concepts", "gender:female")
    assert rc == 1 and len(err.splitlines()) == 1 and "not a toy-world model" in err
