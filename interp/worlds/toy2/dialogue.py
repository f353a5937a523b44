"""Dialogue of toy2: speech in quotation marks, the quoted clauses in the present tense.

A quoted clause has a subject in any person ("I", "We", "You", "They", a name, "Everyone", "The cup", "This cup",
"These cups") and a verb that agrees with it: base form after I / we / you / they and plurals, third person singular
after a name or a singular noun ("Mary walks", "I walk", "These cups are old"); "am" / "are" / "is"; modals with the
base form ("We will sail to the island"); "do" / "does" + not; a possessive that agrees with the subject ("I like my
cup", "Tom likes his cup"); transfers to "me" / "us" / "them" / "you". Around the quotes: say-first, quote-first,
yes/no questions ("Do you like the cup or the bowl ?", "Does Mary like the cup ?", whose "Do" / "Does" agrees with
the subject), wh-questions ("Where is the cup ?", "Why is the cup broken ?", "Who has the key ?") and answers.
Labels: clause quote on the quoted words (marks excluded), agreement subject / verb on third-person subjects and
their verbs, coref on a name and the possessive that refers to it.
"""

from __future__ import annotations

from ..toy.text import Sentence
from .compose import (
    ADJ_ANIMAL,
    ADJ_PERSON,
    ALL_ANIMALS,
    F_ANTECEDENT,
    F_PRONOUN,
    F_QUOTE,
    GENDER,
    MODS,
    MOTION_BASE,
    NAMES,
    OBJ,
    OBJECTS,
    OBJECTS_PL,
    POSS,
    PRO,
    SAID,
    SUBJ,
    THE,
    THINGS_PL,
    V_GIVE,
    Composer,
    ids,
    label,
    verbs,
)
from .stories import PRESENT

(Q, QM, EXCL, COMMA, DOT, AM, ARE, IS, HAVE, HAS, DO, DOES, DO_CAP, DOES_CAP, DID_CAP, NOT, VERY, YOU, LIKE, LIKES,
 YES_CAP, NO_CAP, IT_CAP, IN, TO, A, AN, ANY, ASKED, EVERYONE, THE_CAP, THIS_CAP, THESE_CAP, HERE, HERE_CAP, THERE,
 WHERE_CAP, WHY_CAP, WHAT_CAP, HOW_CAP, WHO_CAP, OR, THAT, ABOUT, LETTER) = ids(
    '" ? ! , . am are is have has do does Do Does Did not very you like likes Yes No It in to a an any asked Everyone '
    'The This These here Here there Where Why What How Who or that about letter'.split())
PERSONS_Q = tuple(zip(ids("I We You They".split()), ids("I we you they".split()), ids("my our your their".split()),
                      (ids("you them".split()), ids("you them".split()), ids("me us them".split()),
                       ids("me us you".split()))))
"""Pronoun subjects of quotes: (subject, written lower case, its possessive, whom it may give to)."""
POSS_CAP = ids("My Our Your Their".split())
DEMONSTRATIVES = (ids(("this",)), ids(("these", "those")))
MODALS = ids("will can should must would could".split())
SAYS = ids("says whispers shouts replies answers".split())
CONTROL_NOW = (verbs("control", 0), verbs("control", 1))
GIVE_NOW = (verbs("transfer", 0, V_GIVE), verbs("transfer", 1, V_GIVE))
WRITE_NOW, ASK_NOW = (verbs("transfer", 0, "write"), verbs("transfer", 1, "write")), (ids(("ask",)), ids(("asks",)))
TELL_NOW = (ids(("tell",)), ids(("tells",)))
SPEECH_NOW = tuple(verbs("speech", n, "say whisper shout reply answer") for n in (0, 1))
PERSON_NOW = tuple(verbs("transitive", n, "thank greet call help meet follow visit remember forget") for n in (0, 1))
F_AGREE_SUBJ, F_AGREE_VERB = label("agreement", "subject"), label("agreement", "verb")


def quote(c: Composer) -> None:
    """A present-tense clause inside quotation marks (the marks are the caller's), labelled quote."""
    out, r = c.out, c.r
    p = len(out)
    x = r()
    if x < 0.15:
        _thing_clause(c)
    else:
        if x < 0.55:
            subj, lower, poss, others = PERSONS_Q[int(r() * 4)]
            if r() < 0.1:  # Yes , we ...
                out += (YES_CAP if r() < 0.5 else NO_CAP, COMMA)
                subj = lower
            out.append(subj)
            n, be = 0, (AM if subj == PERSONS_Q[0][0] else ARE)
        else:
            subj = NAMES[int(r() * len(NAMES))] if x < 0.85 else EVERYONE
            out.append(subj)
            n, be, poss, others = 1, IS, PRO[GENDER[subj]][POSS] if subj != EVERYONE else 0, ids(("me", "us", "you"))
        _predicate(c, n, be, poss, others, p)
    c.mark(p, len(out) - p, F_QUOTE)


def _thing_clause(c: Composer) -> None:
    """The cup is heavy / This cup is old / My cup is here / These cups are there / Here is a cup."""
    out, r = c.out, c.r
    y = r()
    if y < 0.1:
        out.append(HERE_CAP)
        c.mark(len(out), 1, F_AGREE_VERB)
        out.append(IS)
        c.a_np(OBJECTS, MODS, 0.3)
        c.mark(len(out) - 1, 1, F_AGREE_SUBJ)
        return
    if y < 0.6:
        out.append(THE_CAP if y < 0.3 else THIS_CAP if y < 0.45 else POSS_CAP[int(r() * 4)])
        c.mark(len(out), 1, F_AGREE_SUBJ)
        out.append(OBJECTS[int(r() * len(OBJECTS))])
        verb = IS
    else:
        out.append(THESE_CAP)
        c.mark(len(out), 1, F_AGREE_SUBJ)
        out.append(OBJECTS_PL[int(r() * len(OBJECTS_PL))])
        verb = ARE
    c.mark(len(out), 1, F_AGREE_VERB)
    out += (verb, (HERE, THERE, MODS[int(r() * len(MODS))])[int(r() * 3)])


def _predicate(c: Composer, n: int, be: int, poss: int, others: tuple[int, ...], p: int) -> None:
    """The verb phrase of a quoted clause whose subject is at `p`: the verb agrees with number `n` (1: third person
    singular, labelled agreement verb)."""
    out, r = c.out, c.r
    third = n == 1
    k = int(r() * 13)
    if k == 5 and not poss:
        k = 2
    if third and k != 4:  # a modal carries no agreement
        c.mark(p, 1, F_AGREE_SUBJ)
        c.mark(len(out), 1, F_AGREE_VERB)
    if k == 0:  # walk(s) to the park
        vs = PRESENT[n][0]
        out += (vs[int(r() * len(vs))], TO)
        c.place()
    elif k == 1:  # am / are / is [very | not] happy
        y = r()
        out += (be, VERY) if y < 0.2 else (be, NOT) if y < 0.4 else (be,)
        out.append(ADJ_PERSON[int(r() * len(ADJ_PERSON))])
    elif k == 2:  # like(s) the cat
        c.thing(True, 0.3, verb=1 + n)
    elif k == 3:  # have / has a ball
        out.append(HAS if third else HAVE)
        c.thing(False, 0.3)
    elif k == 4:  # will sail to the island
        out += (MODALS[int(r() * len(MODALS))], MOTION_BASE[int(r() * len(MOTION_BASE))], TO)
        c.place()
    elif k == 5:  # like(s) my / his ball
        out.append(LIKES if third else LIKE)
        if third:
            c.mark(p, 1, F_ANTECEDENT)
            c.mark(len(out), 1, F_PRONOUN)
        out += (poss, OBJECTS[int(r() * len(OBJECTS))])
    elif k == 6:  # give(s) the cup to me / write(s) a letter to us
        vs = GIVE_NOW[n]
        out += (vs[int(r() * len(vs))], THE, OBJECTS[int(r() * len(OBJECTS))], TO, others[int(r() * len(others))]) \
            if r() < 0.8 else (WRITE_NOW[n][0], A, LETTER, TO, others[int(r() * len(others))])
    elif k == 7:  # decide(s) to sail to the island
        vs = CONTROL_NOW[n]
        out += (vs[int(r() * len(vs))], TO, MOTION_BASE[int(r() * len(MOTION_BASE))], TO)
        c.place()
    elif k == 9:  # thank(s) you / ask(s) us about the cup / tell(s) me about the cup
        if r() < 0.7:
            out += (PERSON_NOW[n][int(r() * len(PERSON_NOW[n]))], others[int(r() * len(others))])
        else:
            out += ((ASK_NOW, TELL_NOW)[r() < 0.5][n][0], others[int(r() * len(others))], ABOUT)
            c.thing(True, 0.2)
    elif k == 10:  # say(s) that the cup is old
        out += (SPEECH_NOW[n][int(r() * len(SPEECH_NOW[n]))], THAT, THE, OBJECTS[int(r() * len(OBJECTS))], IS,
                MODS[int(r() * len(MODS))])
    elif k == 11:  # like(s) this cup / these cups / those cups
        out.append(LIKES if third else LIKE)
        if r() < 0.5:
            out += (DEMONSTRATIVES[0][0], OBJECTS[int(r() * len(OBJECTS))])
        else:
            out += (DEMONSTRATIVES[1][int(r() * 2)], OBJECTS_PL[int(r() * len(OBJECTS_PL))])
    else:  # do / does not like the cat
        out += (DOES if third else DO, NOT)
        c.thing(True, 0.3, verb=1)
    if k == 3 and out[-2] in (A, AN) and r() < 0.1:  # have a cup or a bowl
        out.append(OR)
        c.thing(False, 0.2)


def dialogue(c: Composer) -> Sentence:
    c.start()
    out, r = c.out, c.r
    a, b = c.cast(2)
    k = (0, 0, 1, 1, 2, 3, 4, 5)[int(r() * 8)]
    if k == 0:  # A said , " ... . "
        c.mention(a, SUBJ, True)
        out += (SAID[int(r() * len(SAID))], COMMA, Q)
        quote(c)
        out += (EXCL if r() < 0.2 else DOT, Q)
    elif k == 1:  # " ... , " said A .  /  says A .
        out.append(Q)
        quote(c)
        out += (COMMA, Q, SAID[int(r() * len(SAID))] if r() < 0.7 else SAYS[int(r() * len(SAYS))])
        c.mention(a, SUBJ, pronoun=False)
        out.append(DOT)
    elif k == 2:  # A asked B , " Do you like the ball [or the cup] ? " " Yes , " said B .
        c.mention(a, SUBJ, True)
        out.append(ASKED)
        c.mention(b, OBJ)
        out += (COMMA, Q)
        p = len(out)
        out += (DO_CAP, YOU, LIKE)
        c.thing(True, 0.3)
        if r() < 0.3:
            out.append(OR)
            c.thing(True, 0.3)
        _answer(c, b, p)
    elif k == 3:  # " Does Mary like the cup ? " / " Do the dogs like the cup ? " asked A .
        out.append(Q)
        _agreeing_question(c)
        out += (QM, Q, ASKED)
        c.mention(a, SUBJ, pronoun=False)
        out.append(DOT)
    elif k == 4:  # " Where is the cup ? " asked A . " It is in the park , " said B .  /  " Who has a key ? " ...
        out.append(Q)
        where = _wh_question(c)
        out += (QM, Q, ASKED)
        c.mention(a, SUBJ, pronoun=False)
        out.append(DOT)
        if not where:
            return c.done("dialogue")
        out.append(Q)
        p = len(out)
        out += (IT_CAP, IS, IN)
        c.place()
        c.mark(p, len(out) - p, F_QUOTE)
        out += (COMMA, Q, SAID[0])
        c.mention(b, SUBJ, pronoun=False)
        out.append(DOT)
    else:  # " Do you have any cups ? " asked A . " No , " said B .
        c.mention(a, SUBJ, True)
        out += (ASKED, COMMA, Q)
        p = len(out)
        out += (DO_CAP, YOU, HAVE, ANY, THINGS_PL[int(r() * len(THINGS_PL))])
        _answer(c, b, p)
    return c.done("dialogue")


def _answer(c: Composer, b, p: int) -> None:
    """Close the question opened at `p`, then B answers yes or no."""
    out = c.out
    c.mark(p, len(out) - p, F_QUOTE)
    out += (QM, Q, Q)
    c.mark(len(out), 1, F_QUOTE)
    out += (YES_CAP if c.r() < 0.5 else NO_CAP, COMMA, Q, SAID[0])
    c.mention(b, SUBJ, pronoun=False)
    out.append(DOT)


def _agreeing_question(c: Composer) -> None:
    """Does + a singular subject / Do + a plural one, then the base form: labelled agreement and quote; or Did +
    any subject (no agreement)."""
    out, r = c.out, c.r
    p = len(out)
    if r() < 0.2:  # Did Mary find the cup
        out += (DID_CAP, NAMES[int(r() * len(NAMES))])
        c.thing(True, 0.3, verb=1)
        c.mark(p, len(out) - p, F_QUOTE)
        return
    plural = r() < 0.5
    c.mark(p, 1, F_AGREE_VERB)
    out.append(DO_CAP if plural else DOES_CAP)
    if plural:
        out.append(THE)
        c.mark(len(out), 1, F_AGREE_SUBJ)
        out.append(THINGS_PL[int(r() * len(THINGS_PL))])
    else:
        c.mark(len(out), 1, F_AGREE_SUBJ)
        out.append(NAMES[int(r() * len(NAMES))])
    c.thing(True, 0.3, verb=1)
    c.mark(p, len(out) - p, F_QUOTE)


def _wh_question(c: Composer) -> bool:
    """Where / Why / What / How / Who questions about things and animals; returns whether it asked where."""
    out, r = c.out, c.r
    p = len(out)
    k = int(r() * 5)
    if k < 2:  # Where is the cup / Why is the cup broken
        out += ((WHERE_CAP, WHY_CAP)[k], IS, THE, OBJECTS[int(r() * len(OBJECTS))])
        if k:
            out.append(MODS[int(r() * len(MODS))])
    elif k == 2:  # What is in the box
        out += (WHAT_CAP, IS, IN, THE, OBJECTS[int(r() * len(OBJECTS))])
    elif k == 3:  # How is the dog
        out += (HOW_CAP, IS)
        c.the_np(ALL_ANIMALS, ADJ_ANIMAL, 0.2)
    else:  # Who has the key
        out += (WHO_CAP, HAS, A, OBJECTS[int(r() * len(OBJECTS))])
    c.mark(p, len(out) - p, F_QUOTE)
    return k == 0
