"""Provenance rules: what an artifact records wins over a default, and a disagreement is an error naming both.

Caches record their model, weight processing and corpus (manifest.json); dictionaries record theirs (cfg.json /
snmf.json metadata). A command that reads such an input may leave --model out (it takes the recorded one); a
--model that names another model is refused, naming both. Evaluations default to the held-out split of the corpus
the input was made from (`corpus_spec` turns a recorded corpus back into the --corpus that reopens it); a toy-world
corpus reopens in the model's own world (toy1 or toy2), which must be the world the input records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .worlds import LEGACY_WORLD

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

DEFAULT_MODEL = "toy-gelu-s0"


class ProvenanceError(ValueError):
    """An option that disagrees with what an input records."""


def recorded_model(requested: str, recorded: str | None, what: str) -> str:
    """The model to use: the requested one, else the recorded one, else the default toy model; a requested model
    that disagrees with the recorded one is an error naming both."""
    if requested and recorded and requested != recorded:
        raise ProvenanceError(f"--model {requested} disagrees with {what}, which records the model {recorded}: leave "
                              f"--model out to use {recorded}, or use an input made with {requested}")
    return requested or recorded or DEFAULT_MODEL


def recorded_processing(requested: str, recorded: str | None, what: str) -> str:
    """The weight processing to use: the recorded one; a non-default request that disagrees is an error."""
    if recorded and requested != "default" and requested != recorded:
        raise ProvenanceError(f"--weight-processing {requested} disagrees with {what}, which records "
                              f"{recorded}: leave it out, or use an input made with {requested}")
    return recorded or requested


def corpus_spec(corpus: dict[str, Any] | None) -> str:
    """The --corpus that reopens a recorded corpus ("" when nothing usable is recorded)."""
    if not corpus:
        return ""
    if corpus.get("source"):
        return str(corpus["source"])
    kind = corpus.get("kind")  # caches written before corpora recorded their source
    if kind in ("toyworld", "toyworld-text"):
        return "toyworld"
    if kind == "text" and corpus.get("path"):
        return str(corpus["path"])
    if kind == "hf" and corpus.get("dataset"):
        return f"hf:{corpus['dataset']}:{corpus.get('split', 'train')}"
    return ""


def corpus_seed(corpus: dict[str, Any] | None, default: int = 0) -> int:
    """The toy-world seed a recorded corpus was generated with."""
    return int((corpus or {}).get("seed", default))


def heldout_corpus(model: HookedTransformer, model_name: str, recorded: dict[str, Any] | None, corpus: str = "",
                   n_ctx: int = 0, seed: int = 0, text_column: str = "text"):
    """The held-out split of `corpus`, or by default of the corpus an input records (its source, toy-world seed and
    context size), tokenised for `model`."""
    from .corpus import open_corpus
    from .options import CorpusOptions

    spec = corpus or corpus_spec(recorded)
    n_ctx = n_ctx or int((recorded or {}).get("n_ctx", 0))
    n_ctx = min(n_ctx, model.cfg.n_ctx) if not corpus else n_ctx
    seed = seed if corpus else corpus_seed(recorded, seed)
    column = text_column if corpus else (recorded or {}).get("text_column", text_column)
    source = open_corpus(CorpusOptions(corpus=spec, text_column=column, n_ctx=n_ctx), model, "heldout", seed=seed,
                         model_name=model_name)
    _check_world(source.description, recorded if not corpus else None)
    return source


def _check_world(opened: dict[str, Any], recorded: dict[str, Any] | None) -> None:
    """A recorded toy-world corpus reopened in another world (labels and text of the wrong world) is an error."""
    if not recorded or recorded.get("source") != "toyworld" or opened.get("source") != "toyworld":
        return
    was, now = recorded.get("world", LEGACY_WORLD), opened.get("world", LEGACY_WORLD)
    if was != now:
        raise ProvenanceError(f"the input records a {was} toy-world corpus but {now} text was opened for this model: "
                              f"use a {was} model, or an input made on {now}")
