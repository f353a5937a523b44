"""`interp neurons` and `interp universal` on models that are not toy models: tiny random Hugging Face models of the
GPT-2 and GPT-NeoX families (built at test time with a real byte-level BPE tokenizer) on a text corpus written at
test time, through the CLI's main."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_models import bpe_tokenizer, tiny_model, write_corpus  # noqa: E402

from apps.cli import main as cli  # noqa: E402
from interp.neurons.artifacts import load_neuron_stats  # noqa: E402
from interp.neurons.universal import load_universal  # noqa: E402

CONCEPTS = {"animals": ["cat", "dog", "bird", "fish", "horse", "cow"],
            "names": ["mary", "john", "alice", "sarah", "lucy", "james", "no-such-token"]}
COMMON = ["--split", "all", "--threads", "1", "--batch-size", "8"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("neurons-any-model")
    corpus = write_corpus(root / "text", n_lines=300, seed=3)
    tok = bpe_tokenizer(root / "tok", corpus)
    models = {f: tiny_model(f, root / f"{f}-s0", tok) for f in ("gpt2", "gpt_neox")}
    models["gpt2-s1"] = tiny_model("gpt2", root / "gpt2-s1", tok, seed=1)
    concepts = root / "concepts.json"
    concepts.write_text(json.dumps(CONCEPTS))
    return SimpleNamespace(root=root, corpus=corpus, models=models, concepts=concepts)


def _neurons(world, model: Path, out: Path, *extra: str) -> int:
    return cli(["neurons", "--model", str(model), "--corpus", str(world.corpus), "--tokens", "2000",
                "--out", str(out), *COMMON, *extra])


@pytest.mark.parametrize("family", ["gpt2", "gpt_neox"])
def test_neurons_of_any_model_on_a_text_corpus_record_model_and_corpus(world, family, tmp_path, capsys):
    model = world.models[family]
    assert _neurons(world, model, tmp_path / "out", "--concepts", str(world.concepts)) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if " -> " in x)
    assert str(model) in line and "default weight processing" in line and "corpus corpus.txt" in line
    s = load_neuron_stats(tmp_path / "out")
    assert s.model == str(model) and s.weight_processing == "default"
    assert s.corpus["source"] == str(world.corpus) and s.corpus["split"] == "all" and s.corpus["fingerprint"]
    assert s.corpus["tokens"] == s.n_tokens >= 2000 and s.n_layers == 2
    # the vocabulary reads as text: byte-level BPE symbols decoded (no "Ġ"), word-initial tokens with their space
    assert len(s.vocab) == 512 and not any("Ġ" in w for w in s.vocab) and " the" in s.vocab
    assert s.concepts == ["animals", "names"] and s.concept_auroc.shape == (2, 2, s.d_mlp)
    assert s.concept_tokens["names"]["missing"] == ["no-such-token"]
    assert {s.vocab[i].strip() for i in s.concept_tokens["animals"]["ids"]} <= set(CONCEPTS["animals"])
    assert "token_sum" not in s.arrays and s.top_tokens.max() < 512 and (s.untracked_token_share == 0).all()
    _check_concept_auroc(world, model, s)


def _check_concept_auroc(world, model_dir: Path, s) -> None:
    """The stored AUROC of layer 0 equals the AUROC computed directly on the same first tokens."""
    from interp.activations.stream import hook_activations
    from interp.auroc import auroc
    from interp.corpus import open_corpus
    from interp.models import load_model
    from interp.options import CorpusOptions

    model = load_model(str(model_dir))
    rows = open_corpus(CorpusOptions(corpus=str(world.corpus)), model, None).rows(0, 20).tokens.long()
    acts = hook_activations(model, "blocks.0.mlp.hook_post", rows, batch_size=8)[:, 1:].reshape(-1, s.d_mlp)
    tokens = rows[:, 1:].reshape(-1)
    n = min(s.config["auroc_tokens"], s.n_tokens)
    masks = torch.stack([torch.isin(tokens[:n], torch.tensor(s.concept_tokens[c]["ids"])) for c in s.concepts])
    np.testing.assert_allclose(s.concept_auroc[0], auroc(acts[:n], masks).float().numpy(), atol=1e-4)


def test_a_model_without_the_toy_vocabulary_needs_a_corpus_and_bad_concepts_say_why(world, tmp_path, capsys):
    out = tmp_path / "x"
    for cmd in (["neurons", "--model", str(world.models["gpt2"])],
                ["universal", "--models", str(world.models["gpt2"]), str(world.models["gpt2-s1"])]):
        assert cli(cmd + ["--out", str(out), "--threads", "1"]) == 1
        err = capsys.readouterr().err
        lines = [x for x in err.splitlines() if x.startswith("interp: error:")]  # (loading prints progress bars)
        assert len(lines) == 1 and "--corpus" in lines[0] and "no default corpus" in lines[0]
        assert "Traceback" not in err
    bad = tmp_path / "bad.json"
    for text, msg in (('["cat"]', "expected a JSON object"), ('{"x": ["zzzzqq"]}', "none of its strings")):
        bad.write_text(text)
        assert _neurons(world, world.models["gpt2"], out, "--concepts", str(bad)) == 1
        assert msg in capsys.readouterr().err
    assert not (out / "stats.json").exists()


def test_a_concept_without_a_single_token_is_skipped_with_a_warning_not_fatal(world, tmp_path, capsys):
    """The README's own example: months are several tokens each in a small BPE vocabulary; the other concepts are
    still measured, and the skipped one is named."""
    concepts = tmp_path / "concepts.json"
    concepts.write_text(json.dumps({"animals": CONCEPTS["animals"], "months": ["Januaryzz", "Februaryzz"]}))
    with pytest.warns(UserWarning, match="skipped 'months'"):
        assert _neurons(world, world.models["gpt2"], tmp_path / "out", "--concepts", str(concepts)) == 0
    assert load_neuron_stats(tmp_path / "out").concepts == ["animals"]


def test_universal_rejects_models_of_different_architectures_of_the_same_sizes(world, tmp_path, capsys):
    """A Llama and a GPT-NeoX of equal layers, widths and vocabulary are still two architectures."""
    from transformers import AutoTokenizer

    llama = tiny_model("llama", tmp_path / "llama", AutoTokenizer.from_pretrained(str(world.models["gpt_neox"])))
    assert cli(["universal", "--models", str(world.models["gpt_neox"]), str(llama), "--corpus", str(world.corpus),
                "--tokens", "1000", "--out", str(tmp_path / "u"), *COMMON]) == 1
    err = [x for x in capsys.readouterr().err.splitlines() if x.startswith("interp: error:")]
    assert len(err) == 1 and "one architecture" in err[0] and "LlamaForCausalLM" in err[0]


def test_universal_across_two_seeds_and_a_model_with_its_copy(world, tmp_path, capsys):
    s0, s1 = world.models["gpt2"], world.models["gpt2-s1"]
    args = ["--corpus", str(world.corpus), "--tokens", "2000", *COMMON]
    assert cli(["universal", "--models", str(s0), str(s1), "--out", str(tmp_path / "u"), *args]) == 0
    assert "default weight processing" in capsys.readouterr().out
    res, meta = load_universal(tmp_path / "u")
    d = load_neuron_stats(tmp_path / "u" / s0.name).d_mlp
    assert res.max_corr.shape == (2, 1, 2, d) and np.isfinite(res.excess).all()
    assert meta["model"] == [str(s0), str(s1)] and meta["weight_processing"] == "default"
    assert meta["corpus"]["source"] == str(world.corpus) and meta["corpus"]["tokens"] == meta["n_tokens"]
    assert load_neuron_stats(tmp_path / "u" / s1.name).corpus == meta["corpus"]
    copy = tmp_path / "copy-of-s0"
    shutil.copytree(s0, copy)
    assert cli(["universal", "--models", str(s0), str(copy), "--out", str(tmp_path / "same"), *args]) == 0
    same, _ = load_universal(tmp_path / "same")
    assert same.max_corr.min() > 0.999 and (same.excess > 0).all()  # a model is universal with itself
    assert same.excess.mean() > res.excess.mean() and same.universal.mean() > res.universal.mean()


def test_an_interrupted_run_on_a_text_corpus_resumes_to_the_same_statistics(world, tmp_path, monkeypatch):
    from interp.neurons.config import NeuronsConfig
    from interp.neurons.run import main
    from interp.neurons.stats import NeuronAccumulator

    opts = dict(model=str(world.models["gpt_neox"]), corpus=str(world.corpus), tokens=2000, split="all",
                batch_size=2, checkpoint_every=4, threads=1, token_slots=64, concepts=str(world.concepts))
    full = main(NeuronsConfig.of(out=str(tmp_path / "full"), **opts))
    assert 0 < full.untracked_token_share.mean() < 1 and len(full.tracked_tokens) == 64
    cfg = NeuronsConfig.of(out=str(tmp_path / "killed"), **opts)
    real, calls = NeuronAccumulator.begin_batch, []

    def begin_batch(self, tokens, labels=None):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(self, tokens, labels)

    with monkeypatch.context() as m:
        m.setattr(NeuronAccumulator, "begin_batch", begin_batch)
        with pytest.raises(KeyboardInterrupt):
            main(cfg)
    main(cfg)
    back = load_neuron_stats(tmp_path / "killed")
    assert back.n_tokens == full.n_tokens and back.concepts == full.concepts
    for k in full.arrays:
        np.testing.assert_array_equal(full.arrays[k], back.arrays[k], err_msg=k)


def test_neuron_pages_of_any_model_say_what_a_concept_given_as_tokens_rests_on(world, tmp_path):
    """Label evidence (interp.pages.evidence) for concepts given as tokens: the positives the AUROC rests on, and the
    share of each neuron's top examples whose token is one of the concept's, recomputed here from the pages' rows."""
    from interp.corpus import open_corpus
    from interp.models import load_model
    from interp.neurons.pages import build_neuron_pages
    from interp.options import CorpusOptions
    from interp.pages.evidence import label_evidence

    model_dir = world.models["gpt2"]
    assert _neurons(world, model_dir, tmp_path / "out", "--concepts", str(world.concepts)) == 0
    s = load_neuron_stats(tmp_path / "out")
    model, corpus = load_model(str(model_dir)), CorpusOptions(corpus=str(world.corpus))
    rows = open_corpus(corpus, model, None).rows(0, 20).tokens.long()[:, 1:].reshape(-1)
    n = min(s.config["auroc_tokens"], s.n_tokens)
    ids = {c: torch.tensor(s.concept_tokens[c]["ids"]) for c in s.concepts}
    assert list(s.concept_positives) == [int(torch.isin(rows[:n], ids[c]).sum()) for c in s.concepts]
    assert s.concept_sample == n
    ((a, meta),) = build_neuron_pages([model], [str(model_dir)], n_docs=3, corpus=corpus, stats=[s])
    assert meta["concepts"] == s.concepts and meta["concept_positives"] == list(s.concept_positives)
    tokens = a["row_tokens"].reshape(-1)
    checked = 0
    for layer, neuron in np.argwhere(a["concept_best"] >= 0)[:20]:
        ev = label_evidence(meta, a, (layer, neuron))
        top = a["ex_index"][layer, neuron, -1]
        top = top[top >= 0]
        if len(top):
            carry = np.isin(tokens[top], ids[ev.concept].numpy())
            assert ev.top_share == pytest.approx(carry.mean()) and ev.positives == meta["concept_positives"][
                s.concepts.index(ev.concept)]
            checked += 1
    assert checked > 0
