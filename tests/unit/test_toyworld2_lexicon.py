"""The toy2 lexicon and taxonomy: size, one token per word, the concept hierarchies, facts and the label schema."""

from __future__ import annotations

import json

import numpy as np

from interp.worlds import label_table, taxonomy
from interp.worlds.toy.corpus import CorpusConfig, generate_docs, vocabulary
from interp.worlds.toy1.labels import TOY1
from interp.worlds.toy2 import words as W
from interp.worlds.toy2.lexicon import OBJECT_FACTS, PLURAL_OF, build_lexicon

LEX = build_lexicon()


def test_vocabulary_is_large_unique_and_one_token_per_word():
    words = vocabulary("toy2")
    assert len(words) >= 1500 and len(set(words)) == len(words) == len(LEX.words)
    assert words[:4] == vocabulary("toy1")[:4]  # special tokens first: BOS is token 0 in both worlds
    assert all(w.isalnum() or w in W.PUNCTUATION for w in words[4:])
    assert len(W.MALE_NAMES) >= 200 and len(W.FEMALE_NAMES) >= 200
    assert len(vocabulary("toy1")) == 494  # toy1 is untouched


def test_hierarchy_levels_and_members():
    assert "robin" in LEX.of(category="animal", subclass="bird") and "salmon" in LEX.of(subclass="fish")
    assert "dog" in LEX.of(subclass="mammal") and "dogs" in LEX.of(subclass="mammal", plurality="plural")
    assert "apple" in LEX.of(category="food", subclass="fruit") and "carrot" in LEX.of(subclass="vegetable")
    assert "soup" in LEX.of(subclass="dish") and "kitchen" in LEX.of(category="place", subclass="indoor")
    assert "beach" in LEX.of(subclass="outdoor")
    for sub in ("mammal", "bird", "fish", "fruit", "vegetable", "dish", "indoor", "outdoor"):
        members = [w for w in LEX.of(subclass=sub) if LEX.labels[w].get("category") != "class"]
        assert len(members) >= 20, sub
        assert LEX.labels[sub]["category"] == "class"  # the class word names its level
    assert LEX.labels["Mary"]["gender"] == "female" and LEX.labels["John"]["gender"] == "male"
    assert LEX.labels["queen"]["gender"] == "female" and "gender" not in LEX.labels["teacher"]


def test_objects_carry_colour_material_and_size_and_verbs_their_forms():
    for obj, (colour, material, size) in OBJECT_FACTS.items():
        for w in (obj, PLURAL_OF[obj]):
            lab = LEX.labels[w]
            assert (lab["colour"], lab["material"], lab["size"]) == (colour, material, size)
    assert len(OBJECT_FACTS) >= 100
    assert {LEX.labels[w]["verb_form"] for w in ("walk", "walks", "walked")} == {"base", "s", "past"}
    assert LEX.labels["gave"]["verb_class"] == "transfer" and LEX.labels["were"]["verb_form"] == "past"
    assert LEX.labels["seven"]["number"] == "7" and LEX.labels["tiny"]["size"] == "small"


def test_static_label_table_matches_the_lexicon():
    tax = taxonomy("toy2")
    table = label_table("toy2")
    ids = {w: i for i, w in enumerate(LEX.words)}
    for w in ("robin", "balls", "kitchen", "Mary", "walks", "wood", "seven"):
        for field, value in LEX.labels[w].items():
            assert table[ids[w], tax.field_index[field]] == tax.value_id(field, value), (w, field)
    assert not table[0].any()  # BOS carries no label


def test_concept_masks_of_new_concepts_follow_the_words():
    corpus = generate_docs(CorpusConfig(world="toy2", seed=1), 40)
    words = np.array(LEX.words)[corpus.tokens]
    for concept, expect in (("subclass:bird", set(LEX.of(subclass="bird"))),
                            ("material:wood", set(LEX.of(material="wood"))),
                            ("size:large", set(LEX.of(size="large"))),
                            ("plurality:plural", set(LEX.of(plurality="plural"))),
                            ("category:animal", set(LEX.of(category="animal")))):
        mask = corpus.concept_mask(concept)
        assert mask.any(), concept
        assert set(words[mask]) <= expect and not (set(words[~mask]) & expect), concept
    assert corpus.concept_mask("subclass:bird").sum() < corpus.concept_mask("category:animal").sum()


def test_schemas_are_versioned_per_world_and_toy1s_is_unchanged():
    toy1 = TOY1.schema()
    assert "world" not in toy1 and toy1["version"] == 1  # what every saved toy1 corpus and cache carries
    assert toy1["fields"] == ["category", "gender", "number", "colour", "family", "ioi_role", "induction", "fact"]
    toy2 = taxonomy("toy2").schema()
    assert toy2["world"] == "toy2" and {"subclass", "material", "size", "agreement", "coref"} <= set(toy2["fields"])
    taxonomy("toy2").check_schema(json.loads(json.dumps(toy2)))
    for a, b in ((TOY1, toy2), (taxonomy("toy2"), toy1)):
        try:
            a.check_schema(b)
        except ValueError as e:
            assert "regenerate" in str(e)
        else:
            raise AssertionError("a schema of another world was accepted")


def test_the_grammar_uses_the_vocabulary():
    """No dead tokens: nearly every word occurs in half a million tokens (the rest are rare verb forms)."""
    corpus = generate_docs(CorpusConfig(world="toy2", seed=1), 4000)
    counts = np.bincount(corpus.tokens.ravel(), minlength=len(LEX.words))
    assert (counts[4:] == 0).sum() < 0.02 * len(LEX.words)
