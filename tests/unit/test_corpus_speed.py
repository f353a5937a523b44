"""The optimised toy-world generator: the same bytes as before, chunk-independent ranges, and compiled templates
that agree with the word-level definitions (`ioi.fill_template`, the world facts of `vocab`).

No timings here: speed is measured by hand, not in unit tests.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from interp.worlds.toy.corpus import CHUNK_DOCS, CorpusConfig, generate_docs
from interp.worlds.toy1 import labels as L
from interp.worlds.toy1.grammar import SentenceSampler, _ioi_frame, words_of
from interp.worlds.toy1.ioi import IOI_TEMPLATES, fill_template
from interp.worlds.toy1.vocab import ANIMAL_SOUNDS, OBJECT_COLOURS, PLACE_ACTIVITIES, word_ids

# sha256 of tokens and labels of 4 documents across the first chunk boundary (seed 0, n_ctx 64), taken with the
# generator before it drew token ids instead of words: trained models and activation caches rely on these bytes.
PINNED = {
    "train": ("ba5bbca52822b11e250c1878a949ac3539d7332d21622937cb5aadd40094a8a7",
              "14fba23892d773814958fc430f0a435b25bfbbc533040b8ad078e198e2775240"),
    "heldout": ("ab43490e083e191a08903de8a9e89d48ed0d3aea95ee5a028651c8bc24350e4e",
                "15b4a4706e8ac6de6ab30d892b4f0e43f87b2213b8878551e9e9c6edbf6ff28e"),
}


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_corpus_bytes_are_pinned(split):
    corpus = generate_docs(CorpusConfig(seed=0, split=split, n_ctx=64), 4, first_doc=CHUNK_DOCS - 2)
    assert corpus.tokens.dtype == np.int32 and corpus.labels.dtype == np.int8
    assert corpus.tokens.shape == (4, 64) and corpus.labels.shape == (4, 64, L.N_FIELDS)
    digests = (hashlib.sha256(corpus.tokens.tobytes()).hexdigest(), hashlib.sha256(corpus.labels.tobytes()).hexdigest())
    assert digests == PINNED[split]


def test_a_range_across_chunks_equals_its_single_documents():
    cfg = CorpusConfig(seed=4, n_ctx=32)
    first, n = CHUNK_DOCS - 3, 6
    whole = generate_docs(cfg, n, first_doc=first)
    singles = [generate_docs(cfg, 1, first_doc=d) for d in range(first, first + n)]
    assert np.array_equal(whole.tokens, np.concatenate([s.tokens for s in singles]))
    assert np.array_equal(whole.labels, np.concatenate([s.labels for s in singles]))


def test_compiled_ioi_templates_match_fill_template():
    ids = word_ids()
    io, s, place, obj, food = "Mary", "John", "park", "ball", "cake"
    roles = {L.value_id("ioi_role", r): r for r in L.IOI_ROLES}
    for t in range(len(IOI_TEMPLATES)):
        for form in ("ABBA", "BABA"):
            template, marks = _ioi_frame(t, form)
            p = fill_template(t, io, s, form, place, obj, food)
            words = words_of(template((ids[io], ids[s], ids[place], ids[obj], ids[food])))
            assert words == [*p.words, io, "."]
            expect = {**p.positions, "answer": len(p.words)}
            assert {roles[v]: pos for pos, _, v in marks} == expect
            assert (marks[:, 1] == L.FIELD_INDEX["ioi_role"]).all()


def test_fact_answers_are_the_world_facts():
    sampler = SentenceSampler(7)
    facts = {**OBJECT_COLOURS, **ANIMAL_SOUNDS}
    for _ in range(200):
        sent = sampler.fact()
        words = words_of(sent.ids)
        (pos, field, value), = sent.marks
        assert (field, value) == (L.FIELD_INDEX["fact"], L.value_id("fact", "answer"))
        assert words[-1] == "." and pos == len(words) - 2
        if words[0] == "At":  # At the {place} , people {activity} .
            assert words[pos] == PLACE_ACTIVITIES[words[2]]
        else:  # The {x} is / says {answer} .  or  {name} has a {x} . The {x} is {answer} .
            assert words[pos] == facts[words[pos - 2]]


def test_every_family_gives_valid_ids_and_marks_inside_the_sentence():
    sampler = SentenceSampler(3, ioi_split="heldout")
    n_words = len(word_ids())
    for name, fn in sampler.families.items():
        for _ in range(100):
            sent = fn()
            assert sent.family == name and len(sent.ids) >= 2
            assert all(0 <= i < n_words for i in sent.ids)
            if sent.marks is not None:
                assert ((sent.marks[:, 0] >= 0) & (sent.marks[:, 0] < len(sent.ids))).all()
