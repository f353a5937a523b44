"""The toy world's lexicon: every word, its category and its fixed facts.

Every word is one token. Categories are large enough to be learnable (>= 60 gendered names, >= 30 places), and
the world has fixed facts — each object a canonical colour, each animal a sound, each place an activity — so a
model trained on the corpus must store them, which gives factual-recall features something to find.

Nothing here is random: the lexicon and the facts are the same on every machine, so labels, held-out splits and
shipped models agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from ..toy.text import SPECIAL_TOKENS

MALE_NAMES = (
    "John Tom James David Michael Robert William Richard Thomas Daniel Paul Mark George Steven Edward Brian Kevin "
    "Jason Jacob Gary Frank Eric Peter Henry Jack Adam Sam Max Leo Oscar Victor Hugo Simon Carl Ryan Nathan"
).split()
FEMALE_NAMES = (
    "Mary Anna Emma Sarah Lisa Laura Linda Susan Karen Nancy Alice Julia Rose Grace Helen Ruth Diana Clara Emily "
    "Olivia Sophia Chloe Lucy Kate Jane Amy Eva Nora Lily Ella Ivy Maya Zoe Iris Hannah Paula"
).split()
PLACES = (
    "park store school garden beach library market office station church museum hospital kitchen farm river "
    "forest lake castle bakery cinema theatre zoo harbour bridge village city island mountain valley restaurant "
    "gym pool stadium cafe"
).split()
# object -> canonical colour (the "facts" family states these)
OBJECT_COLOURS = {
    "ball": "red", "cup": "white", "hat": "black", "box": "brown", "book": "blue", "pen": "black", "key": "gold",
    "lamp": "yellow", "chair": "brown", "bag": "green", "coin": "gold", "ring": "silver", "kite": "red",
    "bottle": "green", "clock": "white", "drum": "red", "bell": "silver", "map": "yellow", "shoe": "black",
    "scarf": "purple", "boat": "blue", "candle": "white", "basket": "brown", "flag": "red", "mirror": "silver",
    "brush": "pink", "plate": "white", "rope": "grey", "toy": "orange", "letter": "white", "blanket": "blue",
    "ladder": "grey", "necklace": "gold", "umbrella": "black", "pillow": "pink", "vase": "blue",
}
COLOURS = ("red", "blue", "green", "yellow", "white", "black", "brown", "gold", "silver", "purple", "pink", "grey",
           "orange")
# animal -> the sound it makes
ANIMAL_SOUNDS = {
    "dog": "woof", "cat": "meow", "cow": "moo", "duck": "quack", "sheep": "baa", "lion": "roar", "owl": "hoot",
    "frog": "croak", "horse": "neigh", "pig": "oink", "mouse": "squeak", "bee": "buzz", "snake": "hiss",
    "wolf": "howl", "crow": "caw", "goat": "bleat", "donkey": "bray", "chick": "cheep", "bird": "tweet",
    "bear": "growl", "monkey": "chatter", "goose": "honk", "dove": "coo", "hen": "cluck",
}
# place -> what people do there
PLACE_ACTIVITIES = {
    "park": "walk", "store": "shop", "school": "learn", "garden": "plant", "beach": "swim", "library": "read",
    "market": "trade", "office": "work", "station": "wait", "church": "pray", "museum": "look", "hospital": "heal",
    "kitchen": "cook", "farm": "harvest", "river": "fish", "forest": "hike", "lake": "row", "castle": "guard",
    "bakery": "bake", "cinema": "watch", "theatre": "act", "zoo": "visit", "harbour": "sail", "bridge": "cross",
    "village": "rest", "city": "rush", "island": "explore", "mountain": "climb", "valley": "camp",
    "restaurant": "dine", "gym": "train", "pool": "dive", "stadium": "cheer", "cafe": "chat",
}
FOODS = (
    "apple banana bread cake cheese cookie egg grape lemon mango melon orange_fruit pear pie pizza plum rice "
    "salad soup sandwich carrot potato tomato peach cherry honey pasta muffin nut berry"
).split()
# the one object/food clash ("orange" is also a colour) is avoided by spelling the fruit apart
FOODS = tuple(f if f != "orange_fruit" else "tangerine" for f in FOODS)


def plural(word: str) -> str:
    """English plural of a food word (the count family says "three red apples")."""
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("ch", "sh", "o")):
        return word + "es"
    return word + "s"


FOOD_PLURALS = tuple(plural(f) for f in FOODS)
NUMBERS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
VERBS_TRANSFER = ("gave", "handed", "passed", "threw", "sent", "brought", "showed", "offered", "lent", "sold")
VERBS_ACTION = (
    "saw found liked took found washed carried painted dropped lost hid opened closed cleaned fixed bought "
    "held kept moved picked"
).split()
ADJECTIVES = (
    "big small old new happy sad quiet loud bright dark warm cold soft hard tall short fast slow kind brave "
    "clever funny shiny dusty heavy light round tiny huge lovely"
).split()
PRONOUNS_MALE = ("he", "him", "his", "He", "His")
PRONOUNS_FEMALE = ("she", "her", "hers", "She", "Her")
PRONOUNS_NEUTRAL = ("it", "they", "them", "their", "It", "They", "I", "you", "we")
FUNCTION_WORDS = (
    "the a an and to at in on of with for from was were is are had has went came arrived got sat walked met "
    "said says that this there then when after while but so because very too also later people decided give "
    "story long talk lunch day morning friends together home back counted bought every likes like loves has "
    "some many all no not yes up down out into near by around each other tired hungry went met knew told working "
    "ate colours played liked saw there"
).split()
CAPITALISED = ("The", "A", "When", "After", "While", "Then", "There", "One", "Later", "Every", "Friends",
               "Yesterday", "Today", "People", "At", "In")
PUNCTUATION = (".", ",", ":", "!", "?")
BOS, PAD, UNK, EOS = SPECIAL_TOKENS

CATEGORIES = ("special", "name", "place", "object", "animal", "sound", "activity", "food", "colour", "number",
              "verb", "adjective", "pronoun", "function", "punct")
"""Word categories, in label-id order (category id = index + 1; 0 means unlabelled)."""


@dataclass(frozen=True)
class Lexicon:
    """Every word of the toy world with its category, plus the fixed world facts."""

    words: tuple[str, ...]
    category: dict[str, str]
    gender: dict[str, str] = field(default_factory=dict)
    number: dict[str, int] = field(default_factory=dict)
    colour: dict[str, str] = field(default_factory=dict)

    def of(self, cat: str) -> tuple[str, ...]:
        return tuple(w for w in self.words if self.category[w] == cat)


def build_lexicon() -> Lexicon:
    """Assemble the fixed lexicon; a word listed in two categories keeps the first (more specific) one."""
    groups: list[tuple[str, tuple[str, ...]]] = [
        ("special", SPECIAL_TOKENS),
        ("name", tuple(MALE_NAMES) + tuple(FEMALE_NAMES)),
        ("place", tuple(PLACES)),
        ("object", tuple(OBJECT_COLOURS)),
        ("animal", tuple(ANIMAL_SOUNDS)),
        ("sound", tuple(ANIMAL_SOUNDS.values())),
        ("activity", tuple(PLACE_ACTIVITIES.values())),
        ("food", FOODS + FOOD_PLURALS),
        ("colour", COLOURS),
        ("number", NUMBERS),
        ("verb", VERBS_TRANSFER + tuple(VERBS_ACTION)),
        ("adjective", tuple(ADJECTIVES)),
        ("pronoun", PRONOUNS_MALE + PRONOUNS_FEMALE + PRONOUNS_NEUTRAL),
        ("function", tuple(FUNCTION_WORDS) + CAPITALISED),
        ("punct", PUNCTUATION),
    ]
    category: dict[str, str] = {}
    for cat, ws in groups:
        for w in ws:
            category.setdefault(w, cat)
    gender = {w: "male" for w in MALE_NAMES + list(PRONOUNS_MALE)}
    gender.update({w: "female" for w in FEMALE_NAMES + list(PRONOUNS_FEMALE)})
    number = {w: i + 1 for i, w in enumerate(NUMBERS)}
    colour = {c: c for c in COLOURS}
    colour.update(OBJECT_COLOURS)
    return Lexicon(words=tuple(category), category=category, gender=gender, number=number, colour=colour)


@cache
def word_ids() -> dict[str, int]:
    """word -> token id: its index in the lexicon (the tokenizer's and the corpus's ids)."""
    return {w: i for i, w in enumerate(build_lexicon().words)}


_GENDER_OF_NAME = {**{n: "male" for n in MALE_NAMES}, **{n: "female" for n in FEMALE_NAMES}}


def gender_of(name: str) -> str:
    """'male' or 'female' for a given name of the lexicon."""
    return _GENDER_OF_NAME[name]
