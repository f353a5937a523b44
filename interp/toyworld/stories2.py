"""The narrative families of toy2, composed clause by clause: stories, dialogue, and pronouns over a distance.

- story:    two or three sentences about one or two characters (two have different genders, so every pronoun has
            one referent). A sentence is an optional opener, then a clause, optionally joined to a second by a
            subordinator (either order) or a conjunction; a clause is a subject (a character, named or as a
            pronoun, or an animal) and a verb phrase of motion, activity, a transitive or transfer verb, "was" +
            adjective, a control verb ("decided to walk"), or speech with a reported clause ("said that ...").
            Objects may carry adjectives and relative clauses.
- dialogue: speech in quotation marks in four arrangements (say-first, quote-first, question and answer), the
            quoted clause in the present tense with a subject in any person and a verb that agrees with it.
- coref:    a character, then one to four sentences about things, then a pronoun (or possessive) whose gender is
            the character's: the pronoun-agreement task over a distance, labelled coref antecedent / pronoun.
"""

from __future__ import annotations

from .compose import (
    ADJ_ANIMAL,
    ADJ_PERSON,
    ADJ_TIME,
    ALL_ANIMALS,
    AT,
    COMMA,
    CONJ,
    CONTROL,
    DOT,
    F_PRONOUN,
    F_QUOTE,
    F_SUBORD,
    GIVE,
    IN,
    IN_CAP,
    MANNER,
    MODS,
    MOTION,
    MOTION_BASE,
    NAMES,
    OBJ,
    OBJECTS,
    OPENERS,
    PERSONS,
    POSS,
    PRE_ADV,
    PRO,
    QM,
    SAID,
    SUB,
    SUB_CAP,
    SUBJ,
    THAT,
    THE,
    TIMES,
    TO,
    WAS,
    WITH,
    Character,
    Composer,
    Q,
    ids,
    verbs,
)
from .grammar import Sentence

ACTIVITY_ALL = verbs("activity", 2)
PRESENT = {n: (verbs("motion", n), verbs("activity", n), verbs("transitive", n)) for n in (0, 1)}
"""Present-tense verbs, base (n=0) and third person singular (n=1): motion, activity, transitive."""
(PRON_I, WE, YOU, THEY, IT_CAP, DO_CAP, YOU_LC, LIKE, YES, NO, IS, ARE, WHERE, ASKED, HAVE, HAS, HIS, HERS) = ids(
    "I We You They It Do you like Yes No is are Where asked have has his hers".split())
PRESENT_SUBJECTS = ((PRON_I, 0), (WE, 0), (YOU, 0), (THEY, 0))
"""First-, second- and plural-person subjects of quoted clauses, with their verb form (base)."""


def story(c: Composer) -> Sentence:
    c.start()
    chars = c.cast(1 + int(c.r() < 0.5))
    for _ in range(2 + int(c.r() * 2)):
        sentence(c, chars)
    return c.done("story")


def sentence(c: Composer, chars: list[Character]) -> None:
    """[opener ,] clause [(subordinator | conjunction) clause] ."""
    out, r = c.out, c.r
    x = r()
    if x < 0.15:
        out += (OPENERS[int(r() * len(OPENERS))], COMMA)
    elif x < 0.25:
        out += (IN_CAP, THE, TIMES[int(r() * len(TIMES))], COMMA)
    cap = x >= 0.25
    y = r()
    if y < 0.2:  # When A walked to the park , B slept .
        p = len(out)
        out.append(SUB_CAP[int(r() * len(SUB_CAP))] if cap else SUB[int(r() * len(SUB))])
        clause(c, chars, False)
        c.mark(p, len(out) - p, F_SUBORD)
        out.append(COMMA)
        clause(c, chars, False)
    else:
        clause(c, chars, cap)
        if y < 0.35:
            p = len(out)
            out.append(SUB[int(r() * len(SUB))])
            clause(c, chars, False)
            c.mark(p, len(out) - p, F_SUBORD)
        elif y < 0.5:
            out += (COMMA, CONJ[int(r() * len(CONJ))])
            clause(c, chars, False)
    out.append(DOT)


def clause(c: Composer, chars: list[Character], cap: bool, depth: int = 0) -> None:
    """A subject and a verb phrase; an animal subject only moves or acts."""
    r = c.r
    if r() < 0.12:
        c.the_np(ALL_ANIMALS, ADJ_ANIMAL, 0.3, cap)
        verbs_ = MOTION if r() < 0.5 else ACTIVITY_ALL
        c.out.append(verbs_[int(r() * len(verbs_))])
        return
    ch = chars[int(r() * len(chars))]
    if not c.mention(ch, SUBJ, cap) and r() < 0.1:  # Mary , who was tired , ...
        c.relative(True, ADJ_PERSON)
    verb_phrase(c, chars, ch, depth)


def verb_phrase(c: Composer, chars: list[Character], ch: Character, depth: int) -> None:
    out, r = c.out, c.r
    x = r()
    if x < 0.2:  # walked [quickly] to the park
        out.append(MOTION[int(r() * len(MOTION))])
        if r() < 0.3:
            out.append(MANNER[int(r() * len(MANNER))])
        out.append(TO)
        c.place()
    elif x < 0.35:  # slept [at the park | with B]
        out.append(ACTIVITY_ALL[int(r() * len(ACTIVITY_ALL))])
        y = r()
        if y < 0.4:
            out.append(AT if y < 0.2 else IN)
            c.place()
        elif y < 0.6 and len(chars) > 1:
            out.append(WITH)
            c.mention(chars[chars[0] is ch], OBJ)
    elif x < 0.58:  # [often] found a red ball [that was heavy]
        if r() < 0.15:
            out.append(PRE_ADV[int(r() * len(PRE_ADV))])
        _, adjs = c.thing(False, 0.35, verb=0)
        if r() < 0.2:
            c.relative(False, adjs)
    elif x < 0.75:  # gave the cup to B / to the teacher / to his friend
        out.append(GIVE[int(r() * len(GIVE))])
        c.the_np(OBJECTS, MODS, 0.3)
        out.append(TO)
        recipient(c, chars, ch)
    elif x < 0.85:
        out += (WAS, ADJ_PERSON[int(r() * len(ADJ_PERSON))])
    elif x < 0.93 or depth:  # decided to walk to the park / wanted to find a ball
        out += (CONTROL[int(r() * len(CONTROL))], TO)
        if r() < 0.5:
            out += (MOTION_BASE[int(r() * len(MOTION_BASE))], TO)
            c.place()
        else:
            c.thing(False, 0.3, verb=1)
    else:  # said that B was happy
        out += (SAID[int(r() * len(SAID))], THAT)
        p = len(out)
        clause(c, chars, False, depth + 1)
        c.mark(p - 1, len(out) - p + 1, F_SUBORD)


def recipient(c: Composer, chars: list[Character], ch: Character) -> None:
    """The other character, "the" + a person, or the subject's "friend" with a possessive that agrees with it."""
    out, r = c.out, c.r
    x = r()
    if x < 0.5 and len(chars) > 1:
        c.mention(chars[chars[0] is ch], OBJ)
    elif x < 0.75:
        out += (THE, PERSONS[int(r() * len(PERSONS))])
    else:
        c.mark(len(out), 1, F_PRONOUN)
        out += (PRO[ch.gender][POSS], PERSONS[int(r() * len(PERSONS))])


def quote(c: Composer) -> None:
    """A present-tense clause inside quotation marks (the marks written by the caller), labelled quote."""
    out, r = c.out, c.r
    p = len(out)
    x = r()
    if x < 0.25:  # The cup is heavy
        _, adjs = c.thing(True, 0.2, cap=True)
        out += (IS, adjs[int(r() * len(adjs))])
        c.mark(p, len(out) - p, F_QUOTE)
        return
    if x < 0.65:
        subj, n = PRESENT_SUBJECTS[int(r() * 4)]
        out.append(subj)
    else:
        out.append(NAMES[int(r() * len(NAMES))])
        n = 1
    kind = int(r() * 4)
    if kind == 0:
        verbs_ = PRESENT[n][0]
        out += (verbs_[int(r() * len(verbs_))], TO)
        c.place()
    elif kind == 1:
        out += ((ARE, IS)[n], ADJ_PERSON[int(r() * len(ADJ_PERSON))])
    elif kind == 2:
        verbs_ = PRESENT[n][2]
        out.append(verbs_[int(r() * len(verbs_))])
        c.thing(True, 0.3)
    else:
        out.append((HAVE, HAS)[n])
        c.thing(False, 0.3)
    c.mark(p, len(out) - p, F_QUOTE)


def dialogue(c: Composer) -> Sentence:
    c.start()
    out, r = c.out, c.r
    a, b = c.cast(2)
    kind = int(r() * 4)
    if kind == 0:  # A said , " ... . "
        c.mention(a, SUBJ, True)
        out += (SAID[int(r() * len(SAID))], COMMA, Q)
        quote(c)
        out += (DOT, Q)
    elif kind == 1:  # " ... , " said A .
        out.append(Q)
        quote(c)
        out += (COMMA, Q, SAID[int(r() * len(SAID))])
        c.mention(a, SUBJ)
        out.append(DOT)
    elif kind == 2:  # A asked B , " Do you like the ball ? " " Yes , " said B .
        c.mention(a, SUBJ, True)
        out.append(ASKED)
        c.mention(b, OBJ)
        out += (COMMA, Q)
        p = len(out)
        out += (DO_CAP, YOU_LC, LIKE)
        c.thing(True, 0.3)
        c.mark(p, len(out) - p, F_QUOTE)
        out += (QM, Q, Q)
        c.mark(len(out), 1, F_QUOTE)
        out += (YES if r() < 0.5 else NO, COMMA, Q, SAID[0])
        c.mention(b, SUBJ)
        out.append(DOT)
    else:  # " Where is the ball ? " asked A . " It is in the park , " said B .
        out += (Q, WHERE, IS)
        c.the_np(OBJECTS, MODS, 0.2)
        out += (QM, Q, ASKED)
        c.mark(1, len(out) - 4, F_QUOTE)
        c.mention(a, SUBJ)
        out += (DOT, Q)
        p = len(out)
        out += (IT_CAP, IS, IN)
        c.place()
        c.mark(p, len(out) - p, F_QUOTE)
        out += (COMMA, Q, SAID[0])
        c.mention(b, SUBJ)
        out.append(DOT)
    return c.done("dialogue")


def coref(c: Composer) -> Sentence:
    """A character, one to four sentences about things, then a pronoun or possessive that must agree with it."""
    c.start()
    out, r = c.out, c.r
    (ch,) = c.cast(1)
    c.mention(ch, SUBJ, True)
    verb_phrase(c, [ch], ch, 1)
    out.append(DOT)
    for _ in range(1 + int(r() * 4)):
        filler(c)
    if r() < 0.5:  # He / She ...
        c.mark(len(out), 1, F_PRONOUN)
        out.append(PRO[ch.gender][0])
        verb_phrase(c, [ch], ch, 1)
    else:  # The red ball was his / hers .
        c.the_np(OBJECTS, MODS, 0.3, cap=True)
        out.append(WAS)
        c.mark(len(out), 1, F_PRONOUN)
        out.append(HERS if ch.gender else HIS)
    out.append(DOT)
    return c.done("coref")


def filler(c: Composer) -> None:
    """A sentence about a thing, an animal or the weather: no person, so no pronoun competes."""
    out, r = c.out, c.r
    x = r()
    if x < 0.4:
        _, adjs = c.thing(True, 0.3, cap=True)
        out += (WAS, adjs[int(r() * len(adjs))], DOT)
    elif x < 0.7:
        c.a_np(ALL_ANIMALS, ADJ_ANIMAL, 0.3, cap=True)
        out += (ACTIVITY_ALL[int(r() * len(ACTIVITY_ALL))], DOT)
    else:
        out += (IT_CAP, WAS)
        c.a_np(TIMES, ADJ_TIME, 1.0)
        out.append(DOT)
