"""The word-level tokenizer: one token per word, BOS handling, and TransformerLens compatibility."""

from __future__ import annotations

import pytest

from interp.worlds.toy.corpus import CorpusConfig, generate_docs, vocabulary
from interp.worlds.toy.tokenizer import build_tokenizer, load_tokenizer


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return build_tokenizer(tmp_path_factory.mktemp("tok"), "toy1")


def test_ids_equal_corpus_ids_and_roundtrip(tok):
    corpus = generate_docs(CorpusConfig(seed=5), 4)
    words = vocabulary("toy1")
    for row in corpus.tokens:
        text = " ".join(words[i] for i in row[1:])  # without BOS
        assert tok(text)["input_ids"] == list(row[1:])
        assert tok.decode(row[1:]) == text


def test_punctuation_splits_and_unknown_words_map_to_unk(tok):
    assert tok.convert_ids_to_tokens(tok("the park, John.")["input_ids"]) == ["the", "park", ",", "John", "."]
    assert tok.convert_ids_to_tokens(tok("zebra")["input_ids"]) == ["<|unk|>"]
    assert tok.encode("") == []  # TransformerLens then prepends BOS itself


def test_transformer_lens_prepends_bos(toy_model):
    toks = toy_model.to_tokens("When Mary and John went to the park")
    assert toks[0, 0].item() == toy_model.tokenizer.bos_token_id
    assert toy_model.to_str_tokens("Mary and John")[1:] == ["Mary", "and", "John"]


def test_load_rejects_a_tokenizer_of_another_vocabulary(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    t = Tokenizer(models.WordLevel({"<|unk|>": 0, "a": 1}, unk_token="<|unk|>"))
    t.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=t, unk_token="<|unk|>").save_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match="rebuild"):
        load_tokenizer(tmp_path, "toy1")
