"""Toy-world labels carried onto a real tokenizer's tokens (`--corpus toyworld` on a model of no world): which token
of a multi-token word carries the word's labels (interp.word_labels), the English rendering of the world's words,
and the concept-AUROC consumers (neurons, the SAE report) running on such a model. The model is a tiny random GPT-2
with a byte-level BPE tokenizer of 512 tokens trained at test time, so most toy-world names split into pieces."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_models import bpe_tokenizer, tiny_model  # noqa: E402

from interp.corpus import CorpusError, PackedTextSource, open_corpus  # noqa: E402
from interp.options import CorpusOptions  # noqa: E402
from interp.word_labels import LabelledText, token_labels  # noqa: E402
from interp.worlds import get_world  # noqa: E402
from interp.worlds.toy.corpus_source import render  # noqa: E402

WORD = re.compile(r"\w+|[^\w\s]")


@pytest.fixture(scope="module")
def bpe_model(tmp_path_factory):
    from interp.models import load_model

    root = tmp_path_factory.mktemp("wl")
    folder = tiny_model("gpt2", root / "gpt2", bpe_tokenizer(root / "tok"))
    return folder, load_model(str(folder))


def test_token_labels_by_rule_and_a_token_that_ends_two_words():
    # "Bob ran." as tokens "B" "ob" " ran" "." ; then a merged token ending two words: ' me."' -> " me" '."'
    doc = LabelledText('Bob ran. me."', np.array([[0, 3], [4, 7], [7, 8], [9, 11], [11, 12], [12, 13]]),
                       np.array([[1, 2], [3, 0], [4, 0], [5, 0], [4, 1], [4, 2]], dtype=np.int8))
    offsets = np.array([[0, 1], [1, 3], [3, 7], [7, 8], [8, 11], [11, 13]])
    last = token_labels(offsets, doc, "last")
    assert last.tolist() == [[0, 0], [1, 2], [3, 0], [4, 0], [5, 0], [4, 2]]  # '."': both words, the later wins
    every = token_labels(offsets, doc, "all")
    assert every.tolist() == [[1, 2], [1, 2], [3, 0], [4, 0], [5, 0], [4, 2]]
    with pytest.raises(ValueError, match="unknown word-label rule 'first'; valid: last, all"):
        token_labels(offsets, doc, "first")


def test_render_spaces_punctuation_and_quotes_like_english():
    words = ["Rosa", "said", ",", '"', "Yes", ",", "he", "went", ".", '"', "Then", "he", "left", "!"]
    doc = render(words, np.zeros((len(words), 1), dtype=np.int8))
    assert doc.text == 'Rosa said, "Yes, he went." Then he left!'
    assert [doc.text[a:b] for a, b in doc.spans] == words


def _pieces(tok, ids):
    """Each token's text and where it ends in the row's decoded text."""
    pieces = [tok.decode([int(i)]) for i in ids]
    return pieces, "".join(pieces), np.cumsum([len(p) for p in pieces])


def test_labels_land_on_the_token_that_completes_each_word(bpe_model):
    folder, model = bpe_model
    tok, world = model.tokenizer, get_world("toy1")
    static = world.static_labels()
    last = open_corpus(CorpusOptions(corpus="toyworld", n_ctx=64), model, "heldout")
    every = open_corpus(CorpusOptions(corpus="toyworld:all", n_ctx=64), model, "heldout")
    assert last.description["source"] == "toyworld" and last.description["word_labels"] == "last"
    assert every.description["source"] == "toyworld:all" and last.taxonomy is world.taxonomy
    a, b = last.rows(0, 6), every.rows(0, 6)
    assert a.labels.shape == (6, 64, world.taxonomy.n_fields) and np.array_equal(a.tokens, b.tokens)
    cat = world.taxonomy.field_index["category"]
    names = world.taxonomy.fields["category"]
    multi = 0
    for ids, lab_last, lab_all in zip(a.tokens[:, 1:], a.labels[:, 1:, cat], b.labels[:, 1:, cat]):
        pieces, text, ends = _pieces(tok, ids)
        done = [int(e) == len(text) or not text[int(e)].isalnum() for e in ends]  # the word ends with this token
        for j, piece in enumerate(pieces):
            if int(ids[j]) == tok.eos_token_id or not piece.strip():
                continue
            if done[j]:  # the token completing a word carries that word's category, under both rules
                word = WORD.findall(text[:ends[j]])[-1]
                assert names[int(lab_last[j]) - 1] == static[word]["category"], (word, piece)
                assert lab_all[j] == lab_last[j]
                multi += piece.strip() != word
            else:  # an earlier piece of a multi-token word: nothing under 'last', the word's labels under 'all'
                nxt = next(k for k in range(j, len(done)) if done[k])
                assert lab_last[j] == 0 and lab_all[j] == lab_last[nxt], (piece, text[:ends[j]])
    assert multi > 20  # the tiny BPE splits many names: the multi-token case is really exercised
    small = PackedTextSource(last.texts, tok, 64, last.description, tokenize_batch=1, word_labels=last.word_labels)
    c = small.rows(0, 6)  # rows packed across many tokenizer batches keep ids and labels in step
    assert np.array_equal(c.tokens, a.tokens) and np.array_equal(c.labels, a.labels)
    assert (a.labels[:, 0] == 0).all()  # BOS: the world's BOS labels (none in toy1)


def test_bad_toyworld_specs_and_a_toy_model_are_one_line(bpe_model):
    _, model = bpe_model
    with pytest.raises(CorpusError, match="'first' is neither a toy world .* nor a word-label rule"):
        open_corpus(CorpusOptions(corpus="toyworld:first", n_ctx=64), model)
    toy2 = open_corpus(CorpusOptions(corpus="toyworld:toy2", n_ctx=64), model)
    assert toy2.taxonomy is get_world("toy2").taxonomy and toy2.description["world"] == "toy2"
    from interp.models import load_model

    toy = load_model("toy1-gelu-s0")
    assert open_corpus(CorpusOptions(corpus="toyworld:all"), toy).description["kind"] == "toyworld"
    with pytest.raises(CorpusError, match="asks for toy2 text, but this is a toy1 model"):
        open_corpus(CorpusOptions(corpus="toyworld:toy2"), toy)


def test_neurons_the_sae_report_pages_and_the_concept_table_on_a_bpe_model(bpe_model, tmp_path, capsys,
                                                                             one_torch_thread):
    from apps.cli import main
    from saes import build_sae, sae_config
    from saes import io as sae_io

    folder, _ = bpe_model
    assert main(["neurons", "--model", str(folder), "--corpus", "toyworld", "--tokens", "4096", "--n-ctx", "64",
                 "--out", str(tmp_path / "n")]) == 0
    stats = json.loads((tmp_path / "n" / "stats.json").read_text())
    assert {"gender:female", "category:place", "ioi_role:io"} <= set(stats["concepts"])
    assert stats["corpus"]["word_labels"] == "last" and stats["corpus"]["kind"] == "toyworld-text"
    sae_io.save(build_sae(sae_config("topk", d_in=64, d_sae=32, k=4, hook_name="blocks.1.hook_resid_post",
                                     model_name=str(folder))), tmp_path / "sae")
    assert main(["eval-sae", "--sae", str(tmp_path / "sae"), "--corpus", "toyworld", "--tokens", "2048",
                 "--n-ctx", "64", "--out", str(tmp_path / "eval.json")]) == 0
    truth = json.loads((tmp_path / "eval.json").read_text())["ground_truth"]
    assert {"gender:male", "colour:red", "ioi_role:s2"} <= set(truth["concepts"])
    assert all(0.5 <= c["auroc"] <= 1 for c in truth["concepts"].values())
    assert main(["feature-pages", "--dictionary", str(tmp_path / "sae"), "--corpus", "toyworld", "--tokens", "2048",
                 "--n-ctx", "64", "--examples-per-bin", "2", "--out", str(tmp_path / "pages")]) == 0
    meta = json.loads((tmp_path / "pages" / "features.json").read_text())
    assert "gender:female" in meta["concepts"] and meta["corpus"]["word_labels"] == "last"
    (tmp_path / "sae" / "eval.json").write_text((tmp_path / "eval.json").read_text())
    assert main(["concept-table", "--neurons", str(tmp_path / "n"), str(tmp_path / "n"), "--evals",
                 str(tmp_path / "sae"), "--concepts", "gender:male", "ioi_role:s2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()[-4:]
    assert lines[0].startswith("| concept | best neuron, seed 0 heldout | that neuron, seed 0 heldout |")
    assert lines[0].endswith("| topk (eval, seed 0 heldout) |") and lines[2].startswith("| gender:male | ")
    picked, same = lines[2].split(" | ")[1:3]
    assert picked.split(" (L")[0] == same  # the same folder twice: the picked neuron's AUROC again
    assert lines[3].split(" | ")[-1] == f"{truth['concepts']['ioi_role:s2']['auroc']:.3f} |"
