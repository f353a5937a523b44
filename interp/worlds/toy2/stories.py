"""The narrative families of toy2, composed clause by clause: stories and pronouns over a distance.

- story: two or three sentences about one or two characters (two have different genders, so every pronoun has one
         referent). A sentence is an optional opener ("Yesterday ,", "On Monday ,", "Inside the barn ,"), a clause,
         and optionally a second clause joined by a subordinator (either order), a conjunction or ";". A clause is a
         subject (a character, named, as a pronoun or with a relative clause; an animal; a quantified noun phrase:
         "Every dog", "Some cats", "Nobody") and a verb phrase: motion along a path ("walked through the park",
         "ran away"), an activity with a place, a companion or a time, a transitive verb with a thing (modified,
         quantified, with a relative clause or a destination), a person as object, a reflexive ("saw herself in
         the mirror"), a transfer to a recipient, "was [very | not] happy", "did not ...", a control verb ("decided
         to walk"), or speech with a reported clause ("said that ...").
- coref: a character, then one to four sentences about things, then a pronoun (subject, object or possessive) whose
         gender is the character's: pronoun agreement over a distance, labelled coref antecedent / pronoun.
`filler` writes the sentences about things (locations of objects, animals, the weather, quantities) that stories,
coref passages and repeats use between their people.
"""

from __future__ import annotations

from ..toy.text import Sentence
from .compose import (
    ADJ_ANIMAL,
    ADJ_PERSON,
    ADJ_TIME,
    ALL_ANIMALS,
    ANIMALS,
    ANIMALS_PL,
    CONJ,
    CONTROL,
    DOT,
    F_PRONOUN,
    F_RELATIVE,
    F_SUBORD,
    GIVE,
    IN_CAP,
    KIND_VERBS,
    MANNER,
    MODS,
    MOTION,
    MOTION_BASE,
    NAMES,
    OBJ,
    OBJECTS,
    OBJECTS_PL,
    OPENERS,
    PERSONS,
    PLACES,
    POSS,
    POSS_CAP,
    PRE_ADV,
    PRO,
    REFL,
    SAID,
    SUB,
    SUB_CAP,
    SUBJ,
    THAT,
    THE,
    THINGS_PL,
    TIMES,
    TO,
    WAS,
    WITH,
    Character,
    Composer,
    ids,
    verbs,
)

ACTIVITY_ALL = verbs("activity", 2)
PRESENT = {n: (verbs("motion", n), verbs("activity", n), verbs("transitive", n)) for n in (0, 1)}
"""Present-tense verbs, base (n=0) and third person singular (n=1): motion, activity, transitive."""
(COMMA, SEMI, ON_CAP, DID, NOT, VERY, WHERE, ABOUT, A_WORD, ANOTHER, IT_CAP, THERE_CAP, HIS, HERS, ITS, MIRROR, LETTER,
 WROTE, TOLD, DURING, BETWEEN, AND, AMONG, IN, TOGETHER, OUT, OF, WITHOUT, HAD, NO) = ids(
    ", ; On did not very where about a another It There his hers its mirror letter wrote told during between and "
    "among in together out of without had no".split())
CONJ_CAP = ids(("So", "But", "And"))
STORY_OPENERS = tuple(o for o in OPENERS if o != ids(("Later",))[0])
"""Openers of story sentences. Not "Later": "Later , Mary gave the cup to" is the start of the only IOI transfer
frame a story could otherwise write, so without it no story has the shape of a held-out IOI form (forms)."""
DAYS = ids("Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split())
PLACE_OPENERS = ids("Inside Outside Near By At".split())
MOTION_PREPS = ids("into through across around along up down".split())
LOC_PREPS = ids("at in near behind beside inside outside by".split())
THING_PREPS = ids("on under over behind beside near inside by against".split())
DESTINATIONS = ids("onto off into".split())
POST_ADV = ids("home away back again early late".split())
TIME_ADV = ids("yesterday today tomorrow".split())
QUANT_PL = (ids(("Some", "Many", "All")), ids(("some", "many", "all")))
QUANT_SG = (ids(("Every", "Each")), ids(("every", "each")))
OBJ_QUANT = ids("some several many few".split())
PRONOUN_SUBJECTS = (ids(("Everyone", "Nobody")), ids(("everyone", "nobody")))
V_PERSON = verbs("transitive", 2, "thank greet call help meet follow visit remember forget watch")


def story(c: Composer) -> Sentence:
    c.start()
    chars = c.cast(1 + int(c.r() < 0.5))
    for i in range(2 + int(c.r() * 2)):
        sentence(c, chars, i > 0)
    return c.done("story")


def opener(c: Composer) -> bool:
    """An optional sentence opener; returns whether the clause after it starts the sentence (capitalised)."""
    out, r = c.out, c.r
    x = r()
    if x < 0.1:
        out += (STORY_OPENERS[int(r() * len(STORY_OPENERS))], COMMA)
    elif x < 0.16:
        out += (IN_CAP, THE, TIMES[int(r() * len(TIMES))], COMMA)
    elif x < 0.2:
        out += (ON_CAP, DAYS[int(r() * len(DAYS))], COMMA)
    elif x < 0.24:
        out += (PLACE_OPENERS[int(r() * len(PLACE_OPENERS))], THE, PLACES[int(r() * len(PLACES))], COMMA)
    return x >= 0.24


def sentence(c: Composer, chars: list[Character], later: bool = False) -> None:
    """[opener ,] clause [(subordinator | conjunction | ;) clause] . A later sentence of a story may start with
    "So", "But" or "And"."""
    out, r = c.out, c.r
    if later and r() < 0.08:
        out.append(CONJ_CAP[int(r() * 3)])
        cap = False
    else:
        cap = opener(c)
    y = r()
    if y < 0.18:  # When A walked to the park , B slept .
        p = len(out)
        out.append(SUB_CAP[int(r() * len(SUB_CAP))] if cap else SUB[int(r() * len(SUB))])
        clause(c, chars, False)
        c.mark(p, len(out) - p, F_SUBORD)
        out.append(COMMA)
        clause(c, chars, False)
    else:
        clause(c, chars, cap)
        if y < 0.3:
            p = len(out)
            out.append(SUB[int(r() * len(SUB))])
            clause(c, chars, False)
            c.mark(p, len(out) - p, F_SUBORD)
        elif y < 0.42:
            out += (COMMA, CONJ[int(r() * len(CONJ))])
            clause(c, chars, False)
        elif y < 0.46:
            out.append(SEMI)
            clause(c, chars, False)
    out.append(DOT)


def clause(c: Composer, chars: list[Character], cap: bool, depth: int = 0) -> None:
    """A subject and a verb phrase; animals and quantified subjects only move or act."""
    out, r = c.out, c.r
    x = r()
    if x < 0.14:
        if x < 0.08:  # the [adjective] animal
            c.the_np(ALL_ANIMALS, ADJ_ANIMAL, 0.3, cap)
        elif x < 0.1:  # Every dog / each cat
            out += (QUANT_SG[not cap][int(r() * 2)], ANIMALS[int(r() * len(ANIMALS))])
        elif x < 0.12:  # Some dogs / many cats / all cats
            out += (QUANT_PL[not cap][int(r() * 3)], ANIMALS_PL[int(r() * len(ANIMALS_PL))])
        else:  # Everyone / nobody
            out.append(PRONOUN_SUBJECTS[not cap][int(r() * 2)])
        verbs_ = MOTION if r() < 0.4 else ACTIVITY_ALL
        out.append(verbs_[int(r() * len(verbs_))])
        return
    if x < 0.17 and len(chars) == 2:  # Tom and Mary played [together]
        c.mention(chars[0], SUBJ, cap, pronoun=False)
        out.append(AND)
        c.mention(chars[1], SUBJ, pronoun=False)
        out.append(ACTIVITY_ALL[int(r() * len(ACTIVITY_ALL))])
        if r() < 0.5:
            out.append(TOGETHER)
        return
    ch = chars[int(r() * len(chars))]
    if not c.mention(ch, SUBJ, cap) and r() < 0.1:  # Mary , who was tired , ...
        c.relative(True, ADJ_PERSON)
    verb_phrase(c, chars, ch, depth)


def motion(c: Composer, ch: Character) -> None:
    """walked [quickly] (home | to the park | through the park | out of the park) [, where Tom slept | without
    his cup]."""
    out, r = c.out, c.r
    out.append(MOTION[int(r() * len(MOTION))])
    if r() < 0.2:
        out.append(MANNER[int(r() * len(MANNER))])
    x = r()
    if x < 0.15:
        out.append(POST_ADV[int(r() * len(POST_ADV))])
        return
    out += (TO,) if x < 0.6 else (OUT, OF) if x < 0.65 else (MOTION_PREPS[int(r() * len(MOTION_PREPS))],)
    c.place()
    y = r()
    if y < 0.04:
        out.append(WITHOUT)
        c.mark(len(out), 1, F_PRONOUN)
        out += (PRO[ch.gender][POSS], OBJECTS[int(r() * len(OBJECTS))])
    elif y < 0.12:
        out.append(COMMA)
        p = len(out)
        out += (WHERE, NAMES[int(r() * len(NAMES))], ACTIVITY_ALL[int(r() * len(ACTIVITY_ALL))])
        c.mark(p, 3, F_RELATIVE)


def activity(c: Composer, chars: list[Character], ch: Character) -> None:
    """slept [at the park | with B | during the night | again | yesterday]."""
    out, r = c.out, c.r
    out.append(ACTIVITY_ALL[int(r() * len(ACTIVITY_ALL))])
    y = r()
    if y < 0.35:
        out.append(LOC_PREPS[int(r() * len(LOC_PREPS))])
        c.place()
    elif y < 0.5 and len(chars) > 1:
        out.append(WITH)
        c.mention(chars[chars[0] is ch], OBJ)
    elif y < 0.58:
        out += (DURING, THE, TIMES[int(r() * len(TIMES))])
    elif y < 0.7:
        out.append(POST_ADV[int(r() * len(POST_ADV))])
    elif y < 0.75:
        out.append(TIME_ADV[int(r() * len(TIME_ADV))])


def transitive(c: Composer) -> None:
    """[often] found a red ball [that was heavy | onto the table] / bought some apples / found another cup."""
    out, r = c.out, c.r
    if r() < 0.15:
        out.append(PRE_ADV[int(r() * len(PRE_ADV))])
    x = r()
    if x < 0.75:
        _, adjs = c.thing(False, 0.35, verb=0)
        y = r()
        if y < 0.15:
            c.relative(False, adjs)
        elif y < 0.22:
            out.append(DESTINATIONS[int(r() * len(DESTINATIONS))])
            c.the_np(OBJECTS, MODS, 0.2)
    elif x < 0.85:
        out += (KIND_VERBS[0][0][int(r() * len(KIND_VERBS[0][0]))], OBJ_QUANT[int(r() * len(OBJ_QUANT))],
                THINGS_PL[int(r() * len(THINGS_PL))])
    elif x < 0.9:  # had no cups
        out += (HAD, NO, THINGS_PL[int(r() * len(THINGS_PL))])
    else:
        out += (KIND_VERBS[0][0][int(r() * len(KIND_VERBS[0][0]))], ANOTHER, OBJECTS[int(r() * len(OBJECTS))])


def verb_phrase(c: Composer, chars: list[Character], ch: Character, depth: int) -> None:
    out, r = c.out, c.r
    x = r()
    if x < 0.17:
        motion(c, ch)
    elif x < 0.29:
        activity(c, chars, ch)
    elif x < 0.47:
        transitive(c)
    elif x < 0.52:  # thanked B / greeted the teacher
        out.append(V_PERSON[int(r() * len(V_PERSON))])
        recipient(c, chars, ch)
    elif x < 0.54:  # saw herself in the mirror
        out.append(KIND_VERBS[0][0][0])
        c.mark(len(out), 1, F_PRONOUN)
        out += (PRO[ch.gender][REFL], IN, THE, MIRROR)
    elif x < 0.68:  # gave the cup to B / wrote a letter to B / told B about the cup
        y = r()
        if y < 0.8:
            out.append(GIVE[int(r() * len(GIVE))])
            c.the_np(OBJECTS, MODS, 0.3)
            out.append(TO)
        elif y < 0.9:
            out += (WROTE, A_WORD, LETTER, TO)
        else:
            out.append(TOLD)
            recipient(c, chars, ch)
            out.append(ABOUT)
            c.thing(True, 0.2)
            return
        recipient(c, chars, ch)
    elif x < 0.8:  # was [very | not] happy / did not find the cup
        if r() < 0.85:
            y = r()
            out += (WAS, VERY, ADJ_PERSON[int(r() * len(ADJ_PERSON))]) if y < 0.15 else \
                (WAS, NOT, ADJ_PERSON[int(r() * len(ADJ_PERSON))]) if y < 0.3 else \
                (WAS, ADJ_PERSON[int(r() * len(ADJ_PERSON))])
        else:
            out += (DID, NOT)
            c.thing(True, 0.2, verb=1)
    elif x < 0.92 or depth:  # decided to walk to the park / wanted to find a ball
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


def coref(c: Composer) -> Sentence:
    """A character, one to four sentences about things, then a pronoun that must agree with it."""
    c.start()
    out, r = c.out, c.r
    (ch,) = c.cast(1)
    c.mention(ch, SUBJ, True)
    verb_phrase(c, [ch], ch, 1)
    out.append(DOT)
    for _ in range(1 + int(r() * 4)):
        filler(c)
    x = r()
    if x < 0.4:  # He / She ...
        c.mark(len(out), 1, F_PRONOUN)
        out.append(PRO[ch.gender][0])
        verb_phrase(c, [ch], ch, 1)
    elif x < 0.6:  # The red ball was his / hers .
        c.the_np(OBJECTS, MODS, 0.3, cap=True)
        out.append(WAS)
        c.mark(len(out), 1, F_PRONOUN)
        out.append(HERS if ch.gender else HIS)
    elif x < 0.8:  # His / Her ball was heavy .
        c.mark(len(out), 1, F_PRONOUN)
        out += (PRO[ch.gender][POSS_CAP], OBJECTS[int(r() * len(OBJECTS))], WAS, MODS[int(r() * len(MODS))])
    else:  # The dog followed him / her .
        c.the_np(ANIMALS, ADJ_ANIMAL, 0.2, cap=True)
        out.append(V_PERSON[int(r() * len(V_PERSON))])
        c.mark(len(out), 1, F_PRONOUN)
        out.append(PRO[ch.gender][OBJ])
    out.append(DOT)
    return c.done("coref")


def filler(c: Composer) -> None:
    """A sentence about things, animals or the weather: no person, so no pronoun competes."""
    out, r = c.out, c.r
    x = r()
    if x < 0.25:  # The heavy cup was (very | not)? old .
        _, adjs = c.thing(True, 0.3, cap=True)
        y = r()
        out += (WAS, VERY) if y < 0.1 else (WAS, NOT) if y < 0.2 else (WAS,)
        out += (adjs[int(r() * len(adjs))], DOT)
    elif x < 0.38:  # A lion slept .
        c.a_np(ALL_ANIMALS, ADJ_ANIMAL, 0.3, cap=True)
        out += (ACTIVITY_ALL[int(r() * len(ACTIVITY_ALL))], DOT)
    elif x < 0.5:  # It was a cold night .
        out += (IT_CAP, WAS)
        c.a_np(TIMES, ADJ_TIME, 1.0)
        out.append(DOT)
    elif x < 0.66:  # The cup was under the table / between the box and the bag / among the cups .
        c.the_np(OBJECTS, MODS, 0.2, cap=True)
        out.append(WAS)
        y = r()
        if y < 0.1:
            out += (BETWEEN, THE, OBJECTS[int(r() * len(OBJECTS))], AND, THE, OBJECTS[int(r() * len(OBJECTS))])
        elif y < 0.2:
            out += (AMONG, THE, OBJECTS_PL[int(r() * len(OBJECTS_PL))])
        else:
            out.append(THING_PREPS[int(r() * len(THING_PREPS))])
            c.the_np(OBJECTS, MODS, 0.2)
        out.append(DOT)
    elif x < 0.76:  # There was a cup in the kitchen .
        out += (THERE_CAP, WAS)
        c.thing(False, 0.3)
        out.append(LOC_PREPS[int(r() * 2)])
        c.place()
        out.append(DOT)
    elif x < 0.88:  # Every dog slept . / Some cats ran .
        _quantified(c)
        out.append(DOT)
    else:  # The dog found its ball .
        c.the_np(ANIMALS, ADJ_ANIMAL, 0.2, cap=True)
        out += (KIND_VERBS[0][0][int(r() * len(KIND_VERBS[0][0]))], ITS, OBJECTS[int(r() * len(OBJECTS))], DOT)


def _quantified(c: Composer) -> None:
    out, r = c.out, c.r
    if r() < 0.5:
        out += (QUANT_SG[0][int(r() * 2)], ANIMALS[int(r() * len(ANIMALS))])
    else:
        out += (QUANT_PL[0][int(r() * 3)], ANIMALS_PL[int(r() * len(ANIMALS_PL))])
    out.append(ACTIVITY_ALL[int(r() * len(ACTIVITY_ALL))])
