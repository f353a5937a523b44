"""The registry of worlds: every synthetic text world with ground-truth labels, each one `World` object.

A world is everything about one generated language: its vocabulary (the tokenizer's, token for token), its label
taxonomy (the concepts stored beside every token), its text sampler, its IOI prompts and its split rules. The core
(corpus reader, models loader, neurons, steering) asks this registry for a world, by name or by a model's
vocabulary, and never imports a world package; a world package registers itself with `register_world`. So do the
circuits tasks: a model's IOI task is built from its `World.ioi` (the contract in interp.worlds.ioi).

Where worlds come from: the built-in ones are listed once, in `BUILT_IN` ("module:function" strings, imported only
when a world is first asked for); a package outside interp adds its own through the entry-point group
`interp.worlds` (pyproject.toml), each entry naming a function that calls `register_world`. The built-ins are not
entry points so that a source checkout works without reinstalling.

Worlds: "toy1" (494 words, fixed sentence templates; the toy1-* models) and "toy2" (the compositional world of the
toy-* models). Neither is a default: the world of a toy model is read from the model (`world_of_model`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from jaxtyping import Int

from .ioi import GrammarIOI, IOIPrompt, TemplateIOI
from .taxonomy import LEGACY_WORLD, Taxonomy

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

ENTRY_POINT_GROUP = "interp.worlds"
BUILT_IN = ("interp.worlds.toy1:register", "interp.worlds.toy2:register")
"""The built-in worlds' register functions, imported on the first look-up."""

__all__ = ["BUILT_IN", "ENTRY_POINT_GROUP", "LEGACY_WORLD", "GrammarIOI", "IOIPrompt", "TaskWords", "Taxonomy",
           "TemplateIOI", "World", "get_world", "label_table", "register_world", "taxonomy", "taxonomy_of_schema",
           "world_name_of", "world_name_of_model", "world_names", "world_of_model"]


class TaskWords(NamedTuple):
    """The words a world's gender and colour patching tasks draw from (circuits.tasks.toyworld)."""

    male: tuple[str, ...]
    female: tuple[str, ...]
    places: tuple[str, ...]
    verbs: tuple[str, ...]
    """Motion verbs (past) before "to the PLACE"; toy1's sentence has only "went"."""
    colours: dict[str, str]
    """Object -> its canonical colour."""


@dataclass(frozen=True)
class World:
    """Everything about one world: vocabulary, taxonomy, text sampler, IOI prompts and split rules."""

    name: str
    words: tuple[str, ...]
    """Every word in token-id order (the tokenizer's vocabulary; BOS is id 0)."""
    taxonomy: Taxonomy
    """The label fields stored beside every token (concepts are ``field:value``)."""
    families: tuple[str, ...]
    """Family names, in the order their weights are listed (part of the random stream)."""
    default_weights: dict[str, float]
    """Family -> weight of the corpus when no mix is given."""
    sampler: Callable[..., object]
    """sampler(seed, split, ioi_forms) -> an object with `rng` (random.Random) and `families` (name -> function
    returning a Sentence)."""
    static_labels: Callable[[], dict[str, dict[str, str]]]
    """word -> {field: value} of the fields that depend on the word alone."""
    form_prompts: Callable[[int, int], dict]
    """form_prompts(n, seed) -> {(form, order): n IOI prompts of that held-out form}."""
    name_prompts: Callable[[int, int], list]
    """name_prompts(n, seed) -> n IOI prompts of the held-out names (or combinations), orders alternating."""
    heldout_names: str
    """What `name_prompts` holds out, in words (printed by `interp toyworld eval`)."""
    ioi_card: Callable[..., dict]
    """ioi_card(model, heldout_ioi, seed) -> the model card's IOI entries and whether the model meets the bar."""
    corpus_source: Callable[[int, int, str], object]
    """corpus_source(seed, n_ctx, split) -> the `interp.corpus.TokenSource` of `--corpus toyworld` (ids and labels)."""
    corpus_texts: Callable[[int, int, str], tuple]
    """corpus_texts(seed, n_ctx, split) -> (documents as `interp.word_labels.LabelledText`: English text with each
    word's span and labels, and a description): the text of `--corpus toyworld` for a model of no world."""
    task_words: Callable[[], TaskWords]
    """The words of the world's gender and colour tasks."""
    load_tokenizer: Callable[[object], object]
    """load_tokenizer(folder) -> the world's tokenizer saved in `folder`, checked against `words`."""
    docs: Callable[[int, int, str, int], object]
    """docs(n_docs, seed, split, n_ctx) -> the first documents with `tokens` [doc, pos] and `labels` [doc, pos,
    field] (numpy)."""
    weight_fields: Mapping[str, str] = field(default_factory=dict)
    """CorpusConfig field -> the family it weights (toy1 only: its weights predate `mix`)."""
    check_ioi_forms: Callable[[tuple[str, ...], str], None] | None = None
    """check_ioi_forms(forms, split) raises on unknown forms; None: the world's IOI forms are fixed."""
    ioi: TemplateIOI | GrammarIOI | None = None
    """The world's IOI grammar, as circuits.tasks builds its IOI patching task from it (interp.worlds.ioi); None: the
    world has no IOI task of its own (its models get classic IOI, as any model)."""


_FACTORIES: dict[str, Callable[[], World]] = {}
_DISCOVERED = False


def register_world(name: str, factory: Callable[[], World]) -> None:
    """Add (or replace) a world; `factory` builds its `World` on the first look-up (worlds are cheap to list)."""
    _FACTORIES[name] = factory
    get_world.cache_clear()


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    for spec in BUILT_IN:
        module, _, fn = spec.partition(":")
        getattr(import_module(module), fn)()
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()()


def world_names() -> tuple[str, ...]:
    """Every registered world's name."""
    _discover()
    return tuple(_FACTORIES)


@cache
def get_world(name: str) -> World:
    """The world called `name`; an unknown name is a one-line error listing the valid ones."""
    _discover()
    if name not in _FACTORIES:
        raise ValueError(f"unknown toy world {name!r}; valid: {', '.join(_FACTORIES)}")
    return _FACTORIES[name]()


def world_name_of(tokenizer) -> str | None:
    """The name of the world whose vocabulary `tokenizer` has, token for token; None for any other tokenizer."""
    n = len(tokenizer) if tokenizer is not None else -1
    for name in world_names():
        words = get_world(name).words
        if n == len(words) and tokenizer.convert_ids_to_tokens(list(range(n))) == list(words):
            return name
    return None


def world_name_of_model(model: HookedTransformer) -> str | None:
    """The name of `model`'s world, read from its tokenizer's vocabulary (a toy model folder loads only with the
    tokenizer of the world its config.json records); None for a model of no world (a user's model)."""
    return world_name_of(getattr(model, "tokenizer", None))


def world_of_model(model: HookedTransformer) -> World | None:
    """The world of `model` (`world_name_of_model`); None for a model of no world."""
    name = world_name_of_model(model)
    return None if name is None else get_world(name)


def require_world(model: HookedTransformer, what: str, instead: str) -> World:
    """The world of `model`, for a method that needs its labelled text (`what`); a model of no world is a one-line
    error naming `instead`: its token ids are not the world's, so the world's documents cannot be fed to it."""
    world = world_of_model(model)
    if world is None:
        raise ValueError(f"{what} needs a toy-world model (its labelled text, in the toy vocabulary), and this model's "
                         f"vocabulary is not a toy world's: {instead}")
    return world


def taxonomy(world: str) -> Taxonomy:
    """The label taxonomy of `world`."""
    return get_world(world).taxonomy


def taxonomy_of_schema(saved: Mapping) -> Taxonomy:
    """The taxonomy a saved label schema was written with (its "world"; `LEGACY_WORLD` when it names none, as the
    first schemas did), checked against this code's, so saved labels are always read with their own world's fields."""
    tax = taxonomy(str(saved.get("world", LEGACY_WORLD)))
    tax.check_schema(saved)
    return tax


@cache
def label_table(name: str) -> Int[np.ndarray, "d_vocab field"]:
    """Static labels per token id, [vocab, field] int8: every field that depends on the word alone."""
    w = get_world(name)
    tax = w.taxonomy
    static = w.static_labels()
    table = np.zeros((len(w.words), tax.n_fields), dtype=np.int8)
    for i, word in enumerate(w.words):
        for fld, value in static.get(word, {}).items():
            table[i, tax.field_index[fld]] = tax.value_id(fld, value)
    return table
