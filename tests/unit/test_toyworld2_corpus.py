"""The toy2 corpus through the shared chunked generator: determinism, chunk independence, mix, labels, round trip."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from interp.worlds import taxonomy
from interp.worlds.toy.corpus import CHUNK_DOCS, CorpusConfig, ToyCorpus, generate_corpus, generate_docs, vocabulary

TAX = taxonomy("toy2")


def fam(corpus, name: str) -> np.ndarray:
    return corpus.labels[..., TAX.field_index["family"]] == TAX.value_id("family", name)


def test_same_seed_same_tokens_and_labels_other_seed_other_text():
    a = generate_docs(CorpusConfig(world="toy2", seed=3), 40)
    b = generate_docs(CorpusConfig(world="toy2", seed=3), 40)
    c = generate_docs(CorpusConfig(world="toy2", seed=4), 40)
    assert np.array_equal(a.tokens, b.tokens) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.tokens, c.tokens)
    assert a.labels.shape == (40, 128, TAX.n_fields) and (a.tokens[:, 0] == 0).all()
    held = generate_docs(CorpusConfig(world="toy2", seed=3, split="heldout"), 40)
    assert not np.array_equal(a.tokens, held.tokens)


def test_any_chunk_and_document_range_regenerates_on_its_own():
    cfg = CorpusConfig(world="toy2", seed=1, n_ctx=64)
    whole = generate_docs(cfg, CHUNK_DOCS + 30)
    part = generate_docs(cfg, 50, first_doc=CHUNK_DOCS - 20)  # spans a chunk boundary
    assert np.array_equal(part.tokens, whole.tokens[CHUNK_DOCS - 20:CHUNK_DOCS + 30])
    assert np.array_equal(part.labels, whole.labels[CHUNK_DOCS - 20:CHUNK_DOCS + 30])
    single = generate_docs(cfg, 1, first_doc=CHUNK_DOCS + 7)
    assert np.array_equal(single.labels[0], whole.labels[CHUNK_DOCS + 7])


def test_every_family_appears_and_mix_sets_the_shares():
    corpus = generate_corpus(CorpusConfig(world="toy2", seed=0), 100_000)
    for name in TAX.fields["family"]:
        assert fam(corpus, name).mean() > 0.02, name
    only = generate_docs(CorpusConfig(world="toy2", mix={name: 0.0 for name in TAX.fields["family"]} | {"agree": 1}),
                         10)
    assert fam(only, "agree")[:, 1:].all()  # BOS aside, every token is in an agreement sentence
    none = generate_corpus(CorpusConfig(world="toy2", mix={"ioi": 0}), 30_000)
    assert not fam(none, "ioi").any() and not none.concept_mask("ioi_role:io").any()


def test_dynamic_labels_stay_inside_their_sentences():
    corpus = generate_docs(CorpusConfig(world="toy2", seed=2), 60)
    w = np.array(vocabulary("toy2"))[corpus.tokens]
    quote = corpus.concept_mask("clause:quote")
    assert quote.any() and not np.isin(w[quote], ['"']).any()  # quotation marks are outside the quote span
    assert (fam(corpus, "dialogue") | fam(corpus, "ioi") | ~quote).all()  # IOI's said_to intro quotes too
    assert (fam(corpus, "ioi") | ~corpus.concept_mask("ioi_role:s2")).all()
    rel = corpus.concept_mask("clause:relative")
    assert rel.any() and set(w[rel]) >= {"who", "was"}


def test_corpus_save_load_roundtrip_keeps_the_world(tmp_path):
    corpus = generate_docs(CorpusConfig(world="toy2", seed=2, mix={"ioi": 0.5}, ioi_forms=("met+plain",)), 12)
    corpus.save(tmp_path / "c")
    back = ToyCorpus.load(tmp_path / "c")
    assert back.config == corpus.config and back.config.world == "toy2"
    assert np.array_equal(back.tokens, corpus.tokens) and np.array_equal(back.labels, corpus.labels)


def test_toy1_configs_are_described_as_before_toy2_existed():
    cfg = CorpusConfig(seed=1)
    assert cfg.describe() == {k: v for k, v in asdict(cfg).items() if k not in ("world", "mix", "ioi_forms")}
    assert CorpusConfig(world="toy2").describe()["world"] == "toy2"
