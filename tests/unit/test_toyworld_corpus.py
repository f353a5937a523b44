"""The toy-world corpus: determinism, labels that match the text, family mix, held-out split, speed."""

from __future__ import annotations

import numpy as np
import pytest

from interp.worlds.toy.corpus import CHUNK_DOCS, CorpusConfig, ToyCorpus, generate_corpus, generate_docs, vocabulary
from interp.worlds.toy1 import labels as L
from interp.worlds.toy1.ioi import IOI_TEMPLATES, is_heldout
from interp.worlds.toy1.vocab import FEMALE_NAMES, MALE_NAMES, OBJECT_COLOURS, build_lexicon

WORDS = vocabulary("toy1")


def words_of(row) -> list[str]:
    return [WORDS[i] for i in row]


def test_lexicon_sizes_meet_the_spec():
    lex = build_lexicon()
    assert 300 <= len(lex.words) <= 2000
    assert len(MALE_NAMES) + len(FEMALE_NAMES) >= 60 and len(lex.of("place")) >= 30
    for cat in ("object", "animal", "food", "colour", "number", "verb", "adjective", "pronoun", "function", "punct"):
        assert len(lex.of(cat)) >= 5, cat
    assert len(IOI_TEMPLATES) >= 10
    assert len(set(lex.words)) == len(lex.words)


def test_same_seed_same_text_other_seed_other_text():
    a = generate_docs(CorpusConfig(seed=3), 40)
    b = generate_docs(CorpusConfig(seed=3), 40)
    c = generate_docs(CorpusConfig(seed=4), 40)
    assert np.array_equal(a.tokens, b.tokens) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.tokens, c.tokens)


def test_any_document_range_regenerates_identically():
    cfg = CorpusConfig(seed=1)
    whole = generate_docs(cfg, CHUNK_DOCS + 50)
    part = generate_docs(cfg, 70, first_doc=CHUNK_DOCS - 20)  # spans a chunk boundary
    assert np.array_equal(part.tokens, whole.tokens[CHUNK_DOCS - 20:CHUNK_DOCS + 50])
    assert np.array_equal(part.labels, whole.labels[CHUNK_DOCS - 20:CHUNK_DOCS + 50])


def test_documents_start_with_bos_and_have_n_ctx_tokens():
    corpus = generate_docs(CorpusConfig(n_ctx=64), 10)
    assert corpus.tokens.shape == (10, 64)
    assert (corpus.tokens[:, 0] == WORDS.index("<|bos|>")).all()
    assert corpus.labels.shape == (10, 64, L.N_FIELDS)


def test_static_labels_match_the_words():
    corpus = generate_docs(CorpusConfig(), 30)
    flat_words = words_of(corpus.tokens.ravel())
    female = corpus.concept_mask("gender:female").ravel()
    names = corpus.concept_mask("category:name").ravel()
    for w, f, n in zip(flat_words, female, names):
        assert f == (w in FEMALE_NAMES or w in ("she", "her", "hers", "She", "Her"))
        assert n == (w in MALE_NAMES or w in FEMALE_NAMES)
    red = corpus.concept_mask("colour:red").ravel()
    red_words = {w for w, r in zip(flat_words, red) if r}
    assert red_words <= {"red"} | {o for o, c in OBJECT_COLOURS.items() if c == "red"}
    assert "red" in red_words or any(OBJECT_COLOURS.get(w) == "red" for w in red_words)


def test_ioi_roles_point_at_the_right_names():
    corpus = generate_docs(CorpusConfig(ioi=1.0, narrative=0, fact=0, count=0, listing=0, repeat=0), 20)
    checked = 0
    for row, lab in zip(corpus.tokens, corpus.labels):
        w = words_of(row)
        role = lab[:, L.FIELD_INDEX["ioi_role"]]
        for ans in np.flatnonzero(role == L.value_id("ioi_role", "answer")):
            end = ans - 1
            assert role[end] == L.value_id("ioi_role", "end") and w[end] == "to"
            # the answer is the IO: the name mentioned once before, not the repeated subject
            io_pos = [p for p in np.flatnonzero(role == L.value_id("ioi_role", "io")) if p < ans][-1]
            s2_pos = [p for p in np.flatnonzero(role == L.value_id("ioi_role", "s2")) if p < ans][-1]
            assert w[ans] == w[io_pos] != w[s2_pos]
            checked += 1
    assert checked > 20


def test_induction_labels_mark_exact_repeats():
    corpus = generate_docs(CorpusConfig(repeat=1.0, narrative=0, ioi=0, fact=0, count=0, listing=0), 10)
    for row, lab in zip(corpus.tokens, corpus.labels):
        rep = np.flatnonzero(lab[:, L.FIELD_INDEX["induction"]])
        assert len(rep) > 0
        for p in rep:  # a repeated token equals the token one span earlier (span + "." back)
            fam = lab[:, L.FIELD_INDEX["family"]]
            assert fam[p] == L.value_id("family", "repeat")
        runs = np.split(rep, np.flatnonzero(np.diff(rep) > 1) + 1)
        for run in runs:
            n = len(run)
            if run[-1] + 1 < len(row):  # a span cut by the document end may be partial
                first_copy = row[run[0] - n - 1:run[0] - 1]
                assert np.array_equal(first_copy, row[run])


def test_family_mix_follows_weights():
    corpus = generate_corpus(CorpusConfig(seed=0), 200_000)
    fam = corpus.labels[..., L.FIELD_INDEX["family"]]
    ioi_share = (fam == L.value_id("family", "ioi")).mean()
    fact_share = (fam == L.value_id("family", "fact")).mean()
    assert 0.2 < ioi_share < 0.5 and 0.03 < fact_share < 0.2
    none = generate_corpus(CorpusConfig(seed=0, ioi=0.0), 50_000).labels[..., L.FIELD_INDEX["family"]]
    assert not (none == L.value_id("family", "ioi")).any()


def matching_templates(words: list[str], ans: int) -> list[int]:
    """Templates whose words (slots aside) match the words just before the answer at `ans`."""
    out = []
    for t, tpl in enumerate(IOI_TEMPLATES):
        tw = tpl.split()
        seg = words[ans - len(tw):ans]
        if len(seg) == len(tw) and all(a.startswith("{") or a == b for a, b in zip(tw, seg)):
            out.append(t)
    return out


def test_heldout_ioi_combinations_never_appear_in_training_text():
    base = dict(seed=0, ioi=1.0, narrative=0, fact=0, count=0, listing=0, repeat=0)
    for split, expect in (("train", False), ("heldout", True)):
        corpus = generate_docs(CorpusConfig(**base, split=split), 30)
        seen = 0
        for row, lab in zip(corpus.tokens, corpus.labels):
            w, role = words_of(row), lab[:, L.FIELD_INDEX["ioi_role"]]
            for ans in np.flatnonzero(role == L.value_id("ioi_role", "answer")):
                s2 = [p for p in np.flatnonzero(role == L.value_id("ioi_role", "s2")) if p < ans][-1]
                templates = matching_templates(w, ans)
                assert templates, " ".join(w)
                assert any(is_heldout(t, w[ans], w[s2]) == expect for t in templates)
                seen += 1
        assert seen > 10


def test_concepts_parse_and_unknown_ones_fail_clearly():
    assert "gender:female" in L.all_concepts() and "ioi_role:io" in L.all_concepts()
    with pytest.raises(KeyError, match="valid"):
        L.parse_concept("gender:robot")
    with pytest.raises(KeyError, match="field:value"):
        L.parse_concept("nonsense")


def test_corpus_save_load_roundtrip(tmp_path):
    corpus = generate_docs(CorpusConfig(seed=2), 12)
    corpus.save(tmp_path / "c")
    back = ToyCorpus.load(tmp_path / "c")
    assert np.array_equal(back.tokens, corpus.tokens) and np.array_equal(back.labels, corpus.labels)
    assert back.config == corpus.config


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="weights"):
        CorpusConfig(ioi=-1.0)
    with pytest.raises(ValueError, match="n_ctx"):
        CorpusConfig(n_ctx=4)
