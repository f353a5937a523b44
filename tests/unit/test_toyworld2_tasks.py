"""The toy2 tasks with known answers, checked on generated sentences against the lexicon: subject-verb agreement,
pronoun agreement over a distance, counting and sums, world facts, long-gap induction, one-class lists."""

from __future__ import annotations

import numpy as np

from interp.worlds.toy2.compose import BY_CLASS
from interp.worlds.toy2.families import Sampler
from interp.worlds.toy2.lexicon import (
    ANIMAL_CLASS,
    ANIMAL_SOUNDS,
    FOOD_CLASS,
    OBJECT_FACTS,
    PLACE_CLASS,
    build_lexicon,
)

LEX = build_lexicon()
WORDS = LEX.words
NUMBER = {w: int(LEX.labels[w]["number"]) for w in LEX.of(category="number")}


def sentences(family: str, n: int = 300, seed: int = 0):
    """(words, {(field, value): [positions]}) of `n` sentences of a family."""
    fn = Sampler(seed).families[family]
    from interp.worlds import taxonomy

    tax = taxonomy("toy2")
    names = {i: f for f, i in tax.field_index.items()}
    for _ in range(n):
        sent = fn()
        marks: dict[tuple[str, str], list[int]] = {}
        sp = sent.spans
        for i in range(0, len(sp), 4):
            field = names[sp[i + 2]]
            key = (field, tax.fields[field][sp[i + 3] - 1])
            marks.setdefault(key, []).extend(range(sp[i], sp[i] + sp[i + 1]))
        yield [WORDS[i] for i in sent.ids], marks


def agrees(subject: list[str], verb: str) -> bool:
    """A plural subject (a plural noun, or names joined by "and") takes the base form, "are", "were" or "Do"; a
    singular one the third person singular, "is", "was" or "Does"."""
    plural = "and" in subject or LEX.labels[subject[-1]].get("plurality") == "plural"
    if verb in ("was", "were", "Do", "Does"):
        return (verb in ("were", "Do")) == plural
    return LEX.labels[verb]["verb_form"] == ("base" if plural else "s")


def test_subject_verb_agreement_follows_the_subject_not_the_attractor():
    attracted = 0
    for w, m in sentences("agree", 400):
        subj, (verb,) = m[("agreement", "subject")], m[("agreement", "verb")]
        assert agrees(w[subj[0]:subj[-1] + 1], w[verb]), " ".join(w)
        for a in m.get(("agreement", "attractor"), []):
            assert subj[-1] < a < verb
            attracted += (LEX.labels[w[a]].get("plurality") == "plural") != ("and" in w[subj[0]:subj[-1] + 1] or
                                                                             LEX.labels[w[subj[-1]]].get("plurality")
                                                                             == "plural")
    assert attracted > 100  # many sentences put a noun of the other number between subject and verb


def test_quoted_speech_agrees_too():
    n = 0
    for w, m in sentences("dialogue", 600):
        subjects, verbs = m.get(("agreement", "subject"), []), m.get(("agreement", "verb"), [])
        assert len(subjects) == len(verbs), " ".join(w)
        for s, v in zip(sorted(subjects), sorted(verbs)):
            assert agrees([w[s]], w[v]), " ".join(w)
            n += 1
    assert n > 100


def test_pronouns_agree_with_their_antecedent_over_a_distance():
    far = 0
    for w, m in sentences("coref", 300):
        (ante,) = m[("coref", "antecedent")]
        gender = LEX.labels[w[ante]]["gender"]
        for p in m[("coref", "pronoun")]:
            assert LEX.labels[w[p]]["gender"] == gender, " ".join(w)
            far += p - ante >= 15
    assert far > 100
    for w, m in [*sentences("story", 300), *sentences("count", 100)]:  # every pronoun has one referent
        genders = {LEX.labels[w[a]].get("gender") for a in m.get(("coref", "antecedent"), [])}
        for p in m.get(("coref", "pronoun"), []):
            assert LEX.labels[w[p]]["gender"] in genders, " ".join(w)


def test_counts_and_sums_are_right():
    kinds = set()
    for w, m in sentences("count", 400):
        if ("count", "item") in m:  # a list, then "... counted N things ."
            (ans,) = m[("count", "answer")]
            items = m[("count", "item")]
            assert NUMBER[w[ans]] == len(items) and len({w[i] for i in items}) == 1, " ".join(w)
            others = [x for x in w[:ans] if x == w[items[0]]]
            assert len(others) == len(items)
            kinds.add("list")
        elif ("count", "step") in m:  # a counting run
            run = [NUMBER[w[p]] for p in [m[("count", "step")][0] - 1, *m[("count", "step")]]]
            assert run == list(range(run[0], run[0] + len(run)))
            kinds.add("run")
        else:  # had A and found B more . Now has A+B
            numbers = [NUMBER[x] for x in w if x in NUMBER]
            assert numbers[0] + numbers[1] == numbers[2] == NUMBER[w[m[("count", "answer")][0]]], " ".join(w)
            kinds.add("sum")
    assert kinds == {"list", "run", "sum"}


def test_world_facts_are_the_lexicon_facts():
    classes = {**ANIMAL_CLASS, **FOOD_CLASS, **PLACE_CLASS}
    tops = {"animal": ANIMAL_CLASS, "food": FOOD_CLASS, "place": PLACE_CLASS, "thing": OBJECT_FACTS}
    for w, m in sentences("fact", 500):
        (s,), (a,) = m[("fact", "subject")], m[("fact", "answer")]
        subject, answer = w[s], w[a]
        if subject in OBJECT_FACTS:
            assert answer in (*OBJECT_FACTS[subject], "thing"), " ".join(w)
        elif "says" in w:
            assert ANIMAL_SOUNDS[subject] == answer
        elif answer in tops:
            assert subject in tops[answer], " ".join(w)
        else:
            assert classes[subject] == answer, " ".join(w)


def test_repeated_spans_are_exact_copies_after_a_gap():
    gaps = []
    for w, m in sentences("repeat", 200):
        first, second = m[("induction", "first")], m[("induction", "repeat")]
        assert [w[i] for i in first] == [w[i] for i in second] and second[0] - first[-1] > 8
        gaps.append(second[0] - first[0])
    assert np.mean(gaps) > 30


def test_lists_hold_members_of_one_class():
    members = {c: {WORDS[i] for i in ids} for c, ids in BY_CLASS.items()}
    for w, _ in sentences("list", 200):
        items = [x for x in w[w.index(",") + 1 if w[0] == "At" else 0:] if any(x in s for s in members.values())]
        assert any(set(items) <= s for s in members.values()) and len(set(items)) == 3, " ".join(w)


def test_every_sentence_has_valid_ids_and_spans_inside_it():
    sampler = Sampler(3, "heldout")
    for name, fn in sampler.families.items():
        for _ in range(200):
            sent = fn()
            assert sent.family == name and len(sent.ids) >= 3 and max(sent.ids) < len(WORDS)
            sp = np.asarray(sent.spans).reshape(-1, 4)
            assert ((sp[:, 0] >= 0) & (sp[:, 1] >= 1) & (sp[:, 0] + sp[:, 1] <= len(sent.ids))).all(), name
