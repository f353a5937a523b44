"""The IOI contract between a world and the circuits IOI tasks: the prompt every world's IOI sampler returns, and
the pieces a world hands to `circuits.tasks` (its `World.ioi`) so a patching task is built from the model's world
alone, never by importing a world package.

Two kinds of IOI grammar exist, and a world gives the one it has:
- `TemplateIOI` (toy1): fixed sentence templates with IO / S / place / object / food slots and a held-out set of
  (template, IO, S) combinations; circuits.tasks.ioi draws its prompts.
- `GrammarIOI` (toy2): a compositional grammar of named forms, some held out of training, and held-out names;
  circuits.tasks.ioi_toy2 draws its prompts and groups them by shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple

Form = Literal["ABBA", "BABA"]
"""IOI name order: ABBA puts the IO first, BABA the subject first."""
ORDERS: tuple[Form, ...] = ("ABBA", "BABA")


@dataclass(frozen=True)
class IOIPrompt:
    """One IOI sentence: `words` end at the "to" whose next token should be `io`."""

    words: tuple[str, ...]
    io: str
    s: str
    template: int
    form: Form
    positions: dict[str, int]
    """Word positions (without BOS) of io (first IO mention), s1, s2 and end (the final "to")."""

    @property
    def text(self) -> str:
        return " ".join(self.words)


class TemplateIOI(NamedTuple):
    """A world whose IOI sentences come from fixed templates (toy1): what circuits.tasks.ioi draws prompts from."""

    templates: tuple[str, ...]
    """The templates, by index; slots {P}, {O}, {F} (place, object, food) beside the names."""
    fill: Callable[..., IOIPrompt]
    """fill(template, io, s, form, place=, obj=, food=) -> the prompt of that template with those words."""
    in_split: Callable[[int, str, str, str], bool]
    """in_split(template, io, s, split) -> whether the (template, IO, S) combination is in `split`."""
    names: tuple[str, ...]
    """Every name (male then female), in the order prompts are drawn from."""
    places: tuple[str, ...]
    objects: tuple[str, ...]
    foods: tuple[str, ...]


class GrammarIOI(NamedTuple):
    """A world whose IOI sentences come from a grammar of named forms (toy2): what circuits.tasks.ioi_toy2 draws
    prompts from."""

    prompts: Callable[..., list[IOIPrompt]]
    """prompts(n, seed=, kind=, form=, order=) -> `n` prompts; kind "train", "heldout_form" or "heldout_name"."""
    forms: tuple[str, ...]
    """Every form's name, training and held out, by its index (`IOIPrompt.template`)."""
    train_forms: tuple[str, ...]
    """The forms training text has."""
    is_heldout_form: Callable[[str], bool]
    check_forms: Callable[[tuple[str, ...], str], None]
    """check_forms(forms, split) raises on a form unknown to the world (or outside `split`)."""
    names: tuple[str, ...]
    """Every name (the pool of a held-out-name prompt's corruption)."""
    train_names: tuple[str, ...]
    """The names training text has (the pool of the other prompts' corruptions)."""
    word_labels: Mapping[str, Mapping[str, str]]
    """word -> its static labels ("category", "verb_class", ...): the word classes of prompt shapes."""
