"""The toy2 tokenizer (built as toy1's) and model folders that record their world."""

from __future__ import annotations

import json

import pytest

from interp.worlds import world_name_of
from interp.worlds.toy.corpus import CorpusConfig, generate_docs, vocabulary
from interp.worlds.toy.tokenizer import build_tokenizer, load_tokenizer


@pytest.fixture(scope="module")
def tok2(tmp_path_factory):
    return build_tokenizer(tmp_path_factory.mktemp("tok2"), "toy2")


def test_ids_equal_corpus_ids_and_text_round_trips(tok2):
    words = vocabulary("toy2")
    for row in generate_docs(CorpusConfig(world="toy2", seed=5), 6).tokens:
        text = " ".join(words[i] for i in row[1:])  # without BOS
        assert tok2(text)["input_ids"] == list(row[1:])
        assert tok2.decode(row[1:]) == text
    assert tok2.convert_ids_to_tokens(tok2('Mary said , " I like the robins . "')["input_ids"]) == [
        "Mary", "said", ",", '"', "I", "like", "the", "robins", ".", '"']


def test_world_of_tells_the_worlds_apart(tok2, tmp_path):
    assert world_name_of(tok2) == "toy2" and world_name_of(build_tokenizer(tmp_path / "t1", "toy1")) == "toy1"
    assert world_name_of(None) is None
    with pytest.raises(ValueError, match="toy1 vocabulary.*rebuild"):
        load_tokenizer(tok2.name_or_path, "toy1")


def tiny_model(world: str, folder):
    """A random one-layer model with the world's tokenizer."""
    from transformer_lens import HookedTransformer

    from interp.models import toy_config

    tok = build_tokenizer(folder / "tok", world)
    cfg = toy_config("gelu", 0, len(vocabulary(world)), n_layers=1, d_model=16, n_heads=2, d_mlp=32, n_ctx=64)
    return HookedTransformer(cfg, tokenizer=tok, move_to_device=False)


def test_model_folder_records_its_world_and_loads_with_it(tmp_path):
    from interp.models import load_model, save_toy_model

    save_toy_model(tiny_model("toy2", tmp_path), tmp_path / "m", world="toy2")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    assert meta["world"] == "toy2"
    model = load_model(str(tmp_path / "m"))
    assert world_name_of(model.tokenizer) == "toy2" and model.cfg.d_vocab == len(vocabulary("toy2"))
    meta["world"] = "toy1"  # a folder whose tokenizer is not of the world it records
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="toy1 vocabulary"):
        load_model(str(tmp_path / "m"))
