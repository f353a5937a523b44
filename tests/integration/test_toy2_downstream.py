"""A toy2 model works end to end as a toy1 model does: the world comes from the model (its folder's config.json and
its tokenizer), so `--corpus toyworld` reads toy2 text with toy2 labels, artifacts record the world, and concepts
(SAE ground truth, feature pages, neuron AUROCs, steering) are toy2's. The model is a tiny random toy2-vocabulary
HookedTransformer built at test time and saved as a model folder with "world": "toy2" (tests/conftest.py's
toy2_model)."""

from __future__ import annotations

import json

import pytest

from apps.cli import main
from interp.worlds import taxonomy, world_name_of_model

TOY2 = taxonomy("toy2")
TOY2_ONLY = set(TOY2.all_concepts()) - set(taxonomy("toy1").all_concepts())
HOOK = "blocks.1.hook_resid_post"


def _run(capsys, *args) -> tuple[int, str]:
    rc = main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out + "\n".join(ln for ln in out.err.splitlines() if ln.startswith("interp:"))


def test_the_toyworld_corpus_of_a_toy2_model_is_toy2s(toy2_model, toy1_model):
    from interp.corpus import open_corpus
    from interp.models import load_model
    from interp.options import CorpusOptions

    model = load_model(str(toy2_model))
    src = open_corpus(CorpusOptions(corpus="toyworld"), model, "heldout")
    assert world_name_of_model(model) == "toy2" and src.taxonomy is TOY2 and src.n_label_fields == TOY2.n_fields
    assert src.description["world"] == "toy2" and src.description["source"] == "toyworld"
    assert src.rows(0, 2).labels.shape[-1] == TOY2.n_fields
    toy1 = open_corpus(CorpusOptions(corpus="toyworld"), toy1_model)
    assert "world" not in toy1.description and toy1.taxonomy.world == "toy1"  # toy1 described as before


def test_a_recorded_toy2_corpus_is_not_reopened_as_toy1(toy1_model, toy_model):
    from interp.provenance import ProvenanceError, heldout_corpus

    with pytest.raises(ProvenanceError, match="records a toy2 toy-world corpus but toy1"):
        heldout_corpus(toy1_model, "toy1-gelu-s0", {"kind": "toyworld", "source": "toyworld", "world": "toy2"})
    assert "world" not in heldout_corpus(toy1_model, "toy1-gelu-s0", {"source": "toyworld", "seed": 0}).description
    with pytest.raises(ProvenanceError, match="records a toy1 toy-world corpus but toy2"):  # and the other way
        heldout_corpus(toy_model, "toy-gelu-s0", {"kind": "toyworld", "source": "toyworld", "seed": 0})


def test_cache_train_and_eval_sae_on_toy2(toy2_model, tmp_path, capsys, one_torch_thread):
    from interp.activations import ActivationCache

    rc, out = _run(capsys, "cache", "--model", toy2_model, "--corpus", "toyworld", "--hooks", HOOK, "--tokens", 4096,
                   "--out", tmp_path / "cache")
    assert rc == 0, out
    cache = ActivationCache.open(tmp_path / "cache")
    assert cache.manifest.corpus["world"] == "toy2" and cache.manifest.label_schema["world"] == "toy2"
    assert cache.taxonomy is TOY2 and cache.labels().shape == (cache.n_tokens, TOY2.n_fields)
    rc, out = _run(capsys, "train-sae", "--cache", tmp_path / "cache", "--hook", HOOK, "--arch", "topk", "--d-sae", 64,
                   "--k", 4, "--tokens", 4096, "--batch-size", 256, "--eval-tokens", 1024, "--progress", "false",
                   "--out", tmp_path / "sae")
    assert rc == 0, out
    meta = json.loads((tmp_path / "sae" / "cfg.json").read_text())["metadata"]
    assert meta["model_name"] == str(toy2_model) and meta["corpus"]["world"] == "toy2"
    rc, out = _run(capsys, "eval-sae", "--sae", tmp_path / "sae", "--tokens", 1024, "--ground-truth-tokens", 1024,
                   "--out", tmp_path / "eval.json")
    assert rc == 0, out
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["corpus"]["world"] == "toy2" and report["corpus"]["split"] == "heldout"
    gt = report["ground_truth"]
    scored = set(gt["concepts"]) | set(gt["absent"])
    assert scored == set(TOY2.all_concepts()) and set(gt["concepts"]) & TOY2_ONLY
    bench = ["steer-bench", "--dictionaries", tmp_path / "sae", "--n-docs", 8, "--gen-tokens", 2, "--out",
             tmp_path / "bench"]
    rc, out = _run(capsys, *bench, "--concepts", "subclass:robot")
    assert rc == 1 and "valid: mammal, bird, fish" in out  # concepts are checked against the model's world
    rc, out = _run(capsys, *bench, "--concepts", "subclass:bird", "plurality:plural")
    assert rc == 0, out
    rows = json.loads((tmp_path / "bench" / "bench.json").read_text())["rows"]
    assert {r["concept"] for r in rows} == {"subclass:bird", "plurality:plural"}


def test_neurons_score_toy2_concepts(toy2_model, tmp_path, capsys, one_torch_thread):
    rc, out = _run(capsys, "neurons", "--model", toy2_model, "--tokens", 4096, "--auroc-tokens", 2048,
                   "--out", tmp_path / "n")
    assert rc == 0, out
    stats = json.loads((tmp_path / "n" / "stats.json").read_text())
    assert stats["corpus"]["world"] == "toy2"
    assert set(stats["concepts"]) <= set(TOY2.all_concepts()) and set(stats["concepts"]) & TOY2_ONLY


def test_steering_concepts_are_the_models_worlds(toy2_model):
    from interp.models import load_model
    from interp.steering.benchmark import concept_token_ids
    from interp.steering.vectors import diff_in_means_concept
    from interp.worlds.toy.corpus import vocabulary

    words = vocabulary("toy2")
    assert {"robin", "sparrow", "bird"} <= {words[i] for i in concept_token_ids("subclass:bird", "toy2").tolist()}
    with pytest.raises(KeyError, match="valid: mammal, bird, fish"):
        concept_token_ids("subclass:robot", "toy2")
    model = load_model(str(toy2_model))
    vec = diff_in_means_concept(model, HOOK, "subclass:bird", n_docs=8)
    assert vec.source["concept"] == "subclass:bird" and vec.source["n_concept"] > 0
    with pytest.raises(KeyError, match="plurality"):
        diff_in_means_concept(model, HOOK, "tense:past", n_docs=8)


def test_workspace_of_a_toy2_model_finishes_with_toy2_labels(toy2_model, tmp_path, one_torch_thread):
    tiny = ["--layer", "1", "--cache-tokens", "4096", "--sae-tokens", "4096", "--sae-batch-size", "512", "--d-sae",
            "64", "--k", "4", "--snmf-k", "6", "--snmf-tokens", "1024", "--neuron-tokens", "2048", "--ioi-prompts", "2",
            "--examples-per-bin", "2", "--archs", "topk"]
    root = tmp_path / "ws"
    assert main(["workspace", "build", "--model", str(toy2_model), "--out", str(root), *tiny]) == 0
    steps = json.loads((root / "workspace.json").read_text())["steps"]
    for step in ("cache", "saes", "snmf", "features", "neurons", "patching"):
        assert steps[step]["status"] == "built", (step, steps[step])
    manifest = json.loads((root / "cache" / "manifest.json").read_text())
    assert manifest["corpus"]["world"] == "toy2" and manifest["label_schema"]["world"] == "toy2"
    pages = json.loads((root / "features" / "sae-topk" / "features.json").read_text())
    assert set(pages["concepts"]) <= set(TOY2.all_concepts()) and set(pages["concepts"]) & TOY2_ONLY
    neurons = json.loads((root / "neurons" / "m" / "stats.json").read_text())
    assert neurons["corpus"]["world"] == "toy2" and set(neurons["concepts"]) & TOY2_ONLY
