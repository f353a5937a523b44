"""toy2 IOI: held-out forms and names never reach the train split, the labelled roles are right, and the evaluation
prompts are the grammar's own sentences."""

from __future__ import annotations

import re

import numpy as np
import pytest

from interp.worlds import taxonomy
from interp.worlds.toy.corpus import CorpusConfig, generate_docs, vocabulary
from interp.worlds.toy2 import forms as forms2
from interp.worlds.toy2.forms import FORMS, HELDOUT_FORMS, INTROS, TRANSFERS, is_heldout_name, words_of_text
from interp.worlds.toy2.ioi import ioi_prompts
from interp.worlds.toy2.lexicon import build_lexicon
from interp.worlds.toy2.words import FEMALE_NAMES, MALE_NAMES

TAX = taxonomy("toy2")
WORDS = np.array(vocabulary("toy2"))
HELDOUT_NAMES = {n for n in MALE_NAMES + FEMALE_NAMES if is_heldout_name(n)}
ONLY_IOI = {f: 0.0 for f in TAX.fields["family"]} | {"ioi": 1.0}
LEX = build_lexicon()


def words_re(*categories: str) -> str:
    return "(?:" + "|".join(re.escape(w) for w in LEX.words if LEX.labels[w].get("category") in categories) + ")"


NAME, VERB, MOD, ART = words_re("name"), words_re("verb"), words_re("adjective", "colour", "size"), "(?:a|an|A|An)"
SLOT = {"A": NAME, "B": NAME, "S": NAME, "N": NAME, "Adv": words_re("adverb"), "adv": words_re("adverb"),
        "Adj": MOD, "AdjW": MOD, "AdjP": MOD, "T": words_re("time"), "C": words_re("colour"), "Prep": "(?:at|near|in)",
        "P": f"(?:{MOD} )?{words_re('place')}", "O": f"(?:{MOD} )?{words_re('object')}",
        "X": f"(?:{MOD} )?{words_re('object', 'food')}", "aO": f"{ART} (?:{MOD} )?{words_re('object')}",
        "aX": f"{ART} (?:{MOD} )?{words_re('object', 'food')}", "AAnimal": f"{ART} (?:{MOD} )?{words_re('animal')}"}
"""What each slot may write, by word category (the generator's own word lists are not used)."""


def regex(text: str, tail: str = "") -> re.Pattern:
    """A form text as a regular expression over space-joined words (a slot: the words its categories allow)."""
    parts = [SLOT.get(w[1:-1], VERB) if w.startswith("{") else re.escape(w) for w in words_of_text(text)]
    return re.compile(" ".join(parts) + tail)


INTRO_RE = {k: regex(t) for k, t in INTROS.items()}
TRANSFER_RE = {k: regex(t, f" {NAME} \\.") for k, t in TRANSFERS.items()}


def field(labels, name):
    return labels[..., TAX.field_index[name]]


def ioi_sentences(split: str, n_docs: int, seed: int = 0):
    """(words, labels) of every complete IOI sentence in the first documents of a split."""
    corpus = generate_docs(CorpusConfig(world="toy2", seed=seed, split=split, mix=ONLY_IOI), n_docs)
    for row, lab in zip(corpus.tokens, corpus.labels):
        w = WORDS[row]
        answers = np.flatnonzero(field(lab, "ioi_role") == TAX.value_id("ioi_role", "answer"))
        starts = np.flatnonzero(np.diff((field(lab, "ioi_intro") > 0).astype(int), prepend=0) == 1)
        for a in answers[answers + 1 < len(row)]:  # a sentence cut by the end of its document has no "."
            start = starts[starts < a][-1]
            yield w[start:a + 2], lab[start:a + 2]


def matching_forms(words, lab) -> set[str]:
    """Every form whose intro matches the intro span's words and whose transfer matches the transfer span's."""
    intro = " ".join(words[field(lab, "ioi_intro") > 0])
    transfer = " ".join(words[field(lab, "ioi_transfer") > 0])
    return {f"{i}+{t}" for i, ri in INTRO_RE.items() if ri.fullmatch(intro)
            for t, rt in TRANSFER_RE.items() if rt.fullmatch(transfer)} & set(FORMS)


def labelled_form(lab) -> str:
    intro = TAX.fields["ioi_intro"][field(lab, "ioi_intro").max() - 1]
    return f"{intro}+{TAX.fields['ioi_transfer'][field(lab, 'ioi_transfer').max() - 1]}"


def test_forms_cover_every_part_in_training_and_hold_out_the_issue_shapes():
    assert len(FORMS) >= 150 and len(HELDOUT_FORMS) >= 20 and set(forms2.ISSUE_FORMS) <= set(HELDOUT_FORMS)
    assert {f.split("+")[0] for f in forms2.TRAIN_FORMS} == set(INTROS)
    assert {f.split("+")[1] for f in forms2.TRAIN_FORMS} == set(TRANSFERS)


def test_heldout_forms_and_names_never_appear_in_the_train_split():
    seen = set()
    for words, lab in ioi_sentences("train", 300):
        forms = matching_forms(words, lab)
        assert labelled_form(lab) in forms, " ".join(words)  # the labels say what the text shows
        assert not forms & set(HELDOUT_FORMS), " ".join(words)
        assert not HELDOUT_NAMES & set(words), " ".join(words)
        seen.add(labelled_form(lab))
    assert len(seen) > 0.8 * len(forms2.TRAIN_FORMS)  # many documents: most training forms were checked


def test_heldout_split_has_heldout_forms_and_heldout_names():
    forms, names = 0, 0
    for words, lab in ioi_sentences("heldout", 60):
        forms += labelled_form(lab) in HELDOUT_FORMS
        names += bool(HELDOUT_NAMES & set(words))
        assert labelled_form(lab) in HELDOUT_FORMS or HELDOUT_NAMES & set(words), " ".join(words)
    assert forms > 50 and names > 50


def test_labelled_positions_are_right():
    roles = {r: TAX.value_id("ioi_role", r) for r in TAX.fields["ioi_role"]}
    n = 0
    for words, lab in ioi_sentences("train", 40, seed=3):
        role = field(lab, "ioi_role")
        pos = {r: np.flatnonzero(role == v) for r, v in roles.items()}
        (io,), (s1,), (s2,), (end,), (ans,) = (pos[r] for r in ("io", "s1", "s2", "end", "answer"))
        assert words[ans] == words[io] != words[s1] == words[s2] and words[end] == "to" and ans == end + 1
        assert max(io, s1) < s2 < end and field(lab, "ioi_transfer")[s2] > 0  # S2 is in the transfer clause ...
        after = s2 + 1 + 5 * (words[s2 + 1] == ",")  # ... as its subject: a verb (or an adverb) follows it
        assert TAX.fields["category"][field(lab, "category")[after] - 1] in ("verb", "adverb"), " ".join(words)
        for d in pos["distractor"]:
            assert words[d] not in (words[io], words[s1])
        n += 1
    assert n > 100


@pytest.mark.parametrize("kind", ["heldout_form", "heldout_name", "train"])
def test_eval_prompts_are_sentences_of_their_kind(kind):
    prompts = ioi_prompts(60, seed=1, kind=kind)
    for p in prompts:
        form = FORMS[p.template]
        assert (form in HELDOUT_FORMS) == (kind == "heldout_form")
        assert bool(HELDOUT_NAMES & {p.io, p.s}) == (kind == "heldout_name")
        w = p.words
        assert w[p.positions["io"]] == p.io and w[p.positions["s1"]] == w[p.positions["s2"]] == p.s
        assert p.positions["end"] == len(w) - 1 and w[-1] == "to"
    assert {p.form for p in prompts} == {"ABBA", "BABA"}
    assert ioi_prompts(5, seed=1, kind=kind)[0].text == prompts[0].text  # seeded


def test_no_family_writes_a_heldout_form_in_the_train_split():
    """Stories, dialogue and the rest share the grammar; none of their text has the shape of a held-out form."""
    corpus = generate_docs(CorpusConfig(world="toy2", seed=5, mix={"ioi": 0.0}), 120)
    text = "\n".join(" ".join(WORDS[row[1:]]) for row in corpus.tokens)
    for form in HELDOUT_FORMS:
        intro, transfer = form.split("+")
        shape = re.compile(INTRO_RE[intro].pattern + r"(?: [^.\n]+ \.)? " + regex(TRANSFERS[transfer]).pattern)
        assert not shape.search(text), form
