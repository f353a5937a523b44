"""The world registry: the built-in worlds, the CLI's choices of them, and a model's world read from its tokenizer.
The import rules of interp/worlds/ (the core imports no world package, ...) are in test_layout.py."""

from __future__ import annotations

from typing import get_args

import pytest


def test_the_registry_knows_the_built_in_worlds_and_the_cli_offers_them():
    from interp.worlds import World, get_world, world_names
    from interp.worlds.toy.config import WorldName

    assert set(world_names()) >= {"toy1", "toy2"}
    assert set(get_args(WorldName)) == set(world_names())
    for name in world_names():
        w = get_world(name)
        assert isinstance(w, World) and w.name == name and w.words[0] == "<|bos|>"
    with pytest.raises(ValueError, match="unknown toy world 'toy3'; valid: toy1, toy2"):
        get_world("toy3")


def test_the_world_of_a_model_is_read_from_its_tokenizer(tmp_path):
    from types import SimpleNamespace

    from interp.worlds import world_name_of, world_of_model
    from interp.worlds.toy.tokenizer import build_tokenizer

    tok = build_tokenizer(tmp_path / "tok", "toy2")
    assert world_name_of(tok) == "toy2" and world_of_model(SimpleNamespace(tokenizer=tok)).name == "toy2"
    assert world_of_model(SimpleNamespace(tokenizer=None)) is None and world_of_model(object()) is None
