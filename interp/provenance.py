"""Provenance rules: what an artifact records wins over a default, and a disagreement is an error naming both.

Every artifact records the model it was made with as one record (`model_record`: the name, a folder by its
absolute path; the weights' fingerprint, interp.models.model_fingerprint; the weight processing) beside its
corpus: cache manifests, dictionaries (cfg.json / snmf.json metadata), neuron statistics and pages, feature pages,
patching results, steering outputs. Wherever an artifact meets a model, `check_model` is the one check: the
artifacts must agree among themselves, a command that reads them may leave --model out (it takes the recorded
one), a --model that names another model is refused naming both, and weights whose fingerprint is not the recorded
one (changed in place since, or a record edited to name another model) are refused naming both fingerprints.
Artifacts written before fingerprints were recorded are checked by name only. `check_hook` refuses a --hook other
than the one a dictionary reads.

Evaluations default to the held-out split of the corpus the input was made from (`corpus_spec` turns a recorded
corpus back into the --corpus that reopens it); a toy-world corpus reopens in the model's own world (toy1 or toy2),
which must be the world the input records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from .options import canonical_model
from .worlds import LEGACY_WORLD

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

DEFAULT_MODEL = "toy-gelu-s0"
FINGERPRINT = "model_fingerprint"
"""The key under which artifacts record the weights' fingerprint, beside "model" and "weight_processing"."""
ELSEWHERE = "elsewhere"
"""The key of a dictionary's DictionaryInfo.recorded saying where inputs of other models are (ModelRecord.elsewhere)."""


class ProvenanceError(ValueError):
    """An option that disagrees with what an input records."""


def recorded_model(requested: str, recorded: str | None, what: str, elsewhere: str = "") -> str:
    """The model to use: the requested one, else the recorded one, else the default toy model; a requested model
    that disagrees with the recorded one is an error naming both (`elsewhere`: where inputs made with another model
    are found, "{model}" standing for the requested one)."""
    if requested and recorded and canonical_model(requested) != canonical_model(recorded):
        raise ProvenanceError(f"--model {requested} disagrees with {what}, which records the model {recorded}: leave "
                              f"--model out to use {recorded}, or use an input made with {requested}"
                              f"{elsewhere.replace('{model}', requested)}")
    return requested or recorded or DEFAULT_MODEL


def recorded_processing(requested: str, recorded: str | None, what: str) -> str:
    """The weight processing to use: the recorded one; a non-default request that disagrees is an error."""
    if recorded and requested != "default" and requested != recorded:
        raise ProvenanceError(f"--weight-processing {requested} disagrees with {what}, which records "
                              f"{recorded}: leave it out, or use an input made with {requested}")
    return recorded or requested


class ModelRecord(NamedTuple):
    """The model an artifact records; None where an artifact (an older or a foreign one) does not say."""

    model: str | None
    weight_processing: str | None = None
    fingerprint: str | None = None
    what: str = "the input"
    """The artifact, as error messages name it ("the SAE runs/sae")."""
    elsewhere: str = ""
    """Where inputs made with another model are found, for the error of a --model that disagrees (a shipped
    dictionary: the command listing those shipped for a model, "{model}" standing for it)."""

    @classmethod
    def read(cls, source: Any, what: str) -> ModelRecord:
        """The record of `source`: a dict of an artifact's metadata, a cache manifest, or a dictionary's
        interp.dictionary.DictionaryInfo (model, and the rest in `recorded`)."""
        if isinstance(source, Mapping):
            fields = source
        else:
            fields = {"model": getattr(source, "model", None), **(getattr(source, "recorded", None) or vars(source))}
        model = fields.get("model")
        return cls(model if isinstance(model, str) and model else None, fields.get("weight_processing") or None,
                   fields.get(FINGERPRINT) or None, what, fields.get(ELSEWHERE) or "")

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "weight_processing": self.weight_processing, FINGERPRINT: self.fingerprint}


def dictionary_record(folder: str, label: str = "dictionary") -> ModelRecord:
    """The model a dictionary folder records (interp.dictionary.info), named "the LABEL FOLDER" in errors."""
    from .dictionary import info

    return ModelRecord.read(info(folder), f"the {label} {folder}")


def model_record(name: str, weight_processing: str) -> dict[str, Any]:
    """The model `name` as every artifact records it: {"model", "weight_processing", "model_fingerprint"}."""
    from .models import model_fingerprint

    return ModelRecord(name, weight_processing, model_fingerprint(name)).to_json()


class CheckedModel(NamedTuple):
    """The model to run on artifacts: the recorded one, or the requested one where nothing is recorded."""

    model: str
    weight_processing: str


def check_model(name: str, weight_processing: str, *records: ModelRecord) -> CheckedModel:
    """The one check wherever artifacts meet a model (`name`, `weight_processing`: the --model and
    --weight-processing given, "" / "default" when left out): the records must agree among themselves; the first
    recorded model wins over a default and must equal a requested one; the weights must still have the fingerprint
    each record holds. Every disagreement is a ProvenanceError naming both sides and the fix."""
    known = [r for r in records if r.model]
    for r in known[1:]:
        _same_model(known[0], r)
    first = known[0] if known else ModelRecord(None)
    name = recorded_model(name, first.model, first.what, first.elsewhere)
    processed = next((r for r in known if r.weight_processing), first)
    processing = recorded_processing(weight_processing, processed.weight_processing, processed.what)
    stamped = [r for r in known if r.fingerprint]
    if stamped:
        from .models import model_fingerprint

        now = model_fingerprint(name)
        for r in stamped:
            if r.fingerprint != now:
                raise ProvenanceError(f"{r.what} was made with other weights than {name} has now (fingerprint "
                                      f"{r.fingerprint}, now {now}): the weights changed since, or the record was "
                                      f"edited; make it again (train or cache) with --model {name}, or restore the "
                                      f"weights it was made with")
    return CheckedModel(name, processing)


def _same_model(a: ModelRecord, b: ModelRecord) -> None:
    """Two artifacts used together must record one model, one weight processing and one fingerprint."""
    for field, what in (("model", "the model"), ("weight_processing", "weight processing"),
                        ("fingerprint", "the weights (fingerprint)")):
        x, y = getattr(a, field), getattr(b, field)
        if field == "model" and x and y:  # one model however its folder is spelled (interp.options.canonical_model)
            x, y = canonical_model(x), canonical_model(y)
        if x and y and x != y:
            raise ProvenanceError(f"{a.what} records {what} {x} but {b.what} records {y}: use artifacts made with "
                                  f"one model (retrain one of them on the other's model)")


def check_hook(requested: str, recorded: str, what: str) -> str:
    """The hook to read: the recorded one; a --hook that disagrees is an error naming both."""
    if requested and recorded and requested != recorded:
        raise ProvenanceError(f"--hook {requested} disagrees with {what}, which reads {recorded}: leave --hook out, or "
                              f"use a dictionary trained on {requested}")
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
